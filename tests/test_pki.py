"""The throw-away PKI of pyampam.testing: what it issues, how it packs it, what it hides."""

from __future__ import annotations

import ipaddress
import re
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from pyampam.settings import load_pkcs12
from pyampam.testing import TestPki, make_test_pki

PKI = make_test_pki()


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _usages(certificate: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_server_and_client_certificates_chain_to_the_main_ca() -> None:
    """The server and client certificates are signed by the main CA, which is a CA."""
    ca = _cert(PKI.ca_pem)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for pem in (PKI.server_cert_pem, PKI.client_cert_pem):
        certificate = _cert(pem)
        certificate.verify_directly_issued_by(ca)
        assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_server_certificate_names_localhost_and_loopback_addresses() -> None:
    """The server certificate is for localhost, 127.0.0.1 and ::1, and for server use."""
    server = _cert(PKI.server_cert_pem)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert _usages(server) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert _usages(_cert(PKI.client_cert_pem)) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_foreign_ca_is_another_authority() -> None:
    """The foreign CA differs from the main one and issued the foreign certificates only."""
    ca = _cert(PKI.ca_pem)
    foreign = _cert(PKI.foreign_ca_pem)
    assert foreign != ca
    assert foreign.public_key() != ca.public_key()
    for pem in (PKI.foreign_client_cert_pem, PKI.foreign_server_cert_pem):
        _cert(pem).verify_directly_issued_by(foreign)
        with pytest.raises((ValueError, InvalidSignature)):
            _cert(pem).verify_directly_issued_by(ca)


def test_client_p12_opens_with_the_password() -> None:
    """client_p12 opens with client_password through pyampam's own loader, key matching."""
    loaded = load_pkcs12(PKI.client_p12, PKI.client_password, source="cert_key.p12")
    assert loaded.certificate == _cert(PKI.client_cert_pem)
    assert loaded.key_matches_certificate
    assert loaded.issuer == _cert(PKI.ca_pem).subject.rfc4514_string()


def test_foreign_client_p12_shares_the_password_but_not_the_issuer() -> None:
    """The foreign PKCS#12 opens with the same password and holds the foreign client certificate."""
    loaded = load_pkcs12(PKI.foreign_client_p12, PKI.client_password)
    assert loaded.certificate == _cert(PKI.foreign_client_cert_pem)
    assert loaded.issuer == _cert(PKI.foreign_ca_pem).subject.rfc4514_string()


def test_default_password_looks_like_an_sdk_cert_password() -> None:
    """The default password is 16 random upper-case letters and digits, new for each PKI."""
    assert re.fullmatch(r"[A-Z0-9]{16}", PKI.client_password)
    assert make_test_pki().client_password != PKI.client_password


def test_password_can_be_chosen() -> None:
    """client_password= sets the password of both PKCS#12 files."""
    pki = make_test_pki(client_password="CHOSEN1234567890")
    assert pki.client_password == "CHOSEN1234567890"
    load_pkcs12(pki.client_p12, "CHOSEN1234567890")
    load_pkcs12(pki.foreign_client_p12, "CHOSEN1234567890")


def test_repr_hides_the_password_and_keys() -> None:
    """repr() and str() show neither the password nor any key material."""
    for text in (repr(PKI), str(PKI)):
        assert PKI.client_password not in text
        assert "PRIVATE KEY" not in text
        assert "********" in text


def test_credentials_carry_the_password_and_made_up_keys() -> None:
    """credentials() gives SdkCredentials with this PKI's password and the keys asked for."""
    credentials = PKI.credentials(license_key="ABCDEF123456", group_key="f" * 32)
    assert credentials.cert_password == PKI.client_password
    assert credentials.license_key == "ABCDEF123456"
    assert credentials.group_key == "f" * 32
    default = PKI.credentials()
    assert default.license_key
    assert default.group_key


def test_write_files_writes_every_file_and_keeps_secrets_owner_only(tmp_path: Path) -> None:
    """write_files() writes the PEM and PKCS#12 files; keys and PKCS#12 are mode 0600."""
    files = PKI.write_files(tmp_path / "pki")
    assert files.directory == tmp_path / "pki"
    assert files.ca.read_bytes() == PKI.ca_pem
    assert files.client_p12.read_bytes() == PKI.client_p12
    assert files.foreign_client_p12.read_bytes() == PKI.foreign_client_p12
    assert files.server_cert.read_bytes() == PKI.server_cert_pem
    for secret in (
        files.server_key,
        files.client_key,
        files.client_p12,
        files.foreign_server_key,
        files.foreign_client_key,
        files.foreign_client_p12,
    ):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret.name
    assert str(tmp_path) in repr(files)


def test_ssl_contexts_load() -> None:
    """Server contexts require a client certificate unless told not to; clients check hosts."""
    server = PKI.server_ssl_context()
    assert server.verify_mode == ssl.CERT_REQUIRED
    assert PKI.server_ssl_context(require_client_cert=False).verify_mode == ssl.CERT_OPTIONAL
    assert len(PKI.server_ssl_context(trusted_client_cas="both").get_ca_certs()) == 2
    assert len(PKI.server_ssl_context(server_cert="foreign").get_ca_certs()) == 1
    client = PKI.client_ssl_context(client_cert=None, trust="foreign")
    assert client.check_hostname
    assert client.verify_mode == ssl.CERT_REQUIRED


def test_pytest_does_not_collect_the_pki_class() -> None:
    """TestPki is marked so that pytest never mistakes it for a test class."""
    assert TestPki.__test__ is False
