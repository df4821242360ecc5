"""Opening the SDK's ``cert_key.p12``: real PKCS#12 files made with cryptography."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from pki import ec_key, make_certificate, make_pkcs12
from pyampam.exceptions import SettingsError
from pyampam.settings import ClientCertificate, load_pkcs12

PASSWORD = "K7Q2M4X9P1R8T3V6"
KEY = ec_key()
CERT = make_certificate(KEY, common_name="pyampam unit test")
P12 = make_pkcs12(PASSWORD, key=KEY, certificate=CERT)


def _public_der(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_opens_with_the_right_password() -> None:
    """A PKCS#12 opens with its password and exposes certificate, key and names."""
    loaded = load_pkcs12(P12, PASSWORD, source="cert_key.p12")
    assert loaded.certificate == CERT
    assert loaded.subject == "CN=pyampam unit test"
    assert loaded.issuer == "CN=pyampam unit test"
    assert loaded.key_matches_certificate
    assert loaded.additional_certificates == ()
    assert _public_der(loaded.private_key.public_key()) == _public_der(KEY.public_key())


def test_validity_dates_are_aware_utc() -> None:
    """not_valid_before/after are timezone-aware UTC datetimes equal to the certificate's."""
    loaded = load_pkcs12(P12, PASSWORD)
    assert loaded.not_valid_before == CERT.not_valid_before_utc
    assert loaded.not_valid_after == CERT.not_valid_after_utc
    assert loaded.not_valid_after.utcoffset() == dt.timedelta(0)


def test_fingerprints() -> None:
    """sha256_fingerprint is lower-case hex; thumbprint is Windows' upper-case SHA-1."""
    loaded = load_pkcs12(P12, PASSWORD)
    assert loaded.sha256_fingerprint == CERT.fingerprint(hashes.SHA256()).hex()
    assert len(loaded.sha256_fingerprint) == 64
    assert loaded.thumbprint == CERT.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303


def test_legacy_triple_des_file_opens() -> None:
    """A PKCS#12 in the older 3DES/SHA-1 format, as older SDK files are, opens too."""
    legacy = make_pkcs12(PASSWORD, key=KEY, certificate=CERT, legacy=True)
    assert load_pkcs12(legacy, PASSWORD).certificate == CERT


def test_private_key_pem_is_unencrypted_pkcs8() -> None:
    """private_key_pem() gives unencrypted PKCS#8 PEM that loads back to the same key."""
    pem = load_pkcs12(P12, PASSWORD).private_key_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    reloaded = serialization.load_pem_private_key(pem, password=None)
    assert _public_der(reloaded.public_key()) == _public_der(KEY.public_key())


def test_certificate_pem_round_trips() -> None:
    """certificate_pem() gives PEM that loads back to the same certificate."""
    pem = load_pkcs12(P12, PASSWORD).certificate_pem()
    assert x509.load_pem_x509_certificate(pem) == CERT


def test_wrong_password_is_a_settings_error_naming_cert_password() -> None:
    """A wrong password raises SettingsError with key CERT_PASSWORD, the source and a fix."""
    with pytest.raises(SettingsError) as raised:
        load_pkcs12(P12, "WRONGPASSWORD123", source="/srv/MfaCerts/cert_key.p12")
    error = raised.value
    assert error.key == "CERT_PASSWORD"
    assert error.path == "/srv/MfaCerts/cert_key.p12"
    assert "check CERT_PASSWORD in pf_auth.cs matches this cert_key.p12" in error.message
    assert str(error).startswith("/srv/MfaCerts/cert_key.p12: ")
    assert "WRONGPASSWORD123" not in str(error)
    assert PASSWORD not in str(error)


def test_not_pkcs12_is_a_settings_error() -> None:
    """Data that is not PKCS#12 at all is reported as such, not as a wrong password."""
    with pytest.raises(SettingsError, match="not a PKCS#12") as raised:
        load_pkcs12(b"-----BEGIN CERTIFICATE-----\n", PASSWORD, source="x.p12")
    assert raised.value.key is None
    assert raised.value.path == "x.p12"


def test_file_without_private_key_is_refused() -> None:
    """A PKCS#12 holding only a certificate is refused: it cannot authenticate."""
    only_certificate = make_pkcs12(PASSWORD, key=None, certificate=CERT)
    with pytest.raises(SettingsError, match="no private key"):
        load_pkcs12(only_certificate, PASSWORD)


def test_file_without_certificate_is_refused() -> None:
    """A PKCS#12 holding only a private key is refused."""
    only_key = make_pkcs12(PASSWORD, key=KEY, certificate=None)
    with pytest.raises(SettingsError, match="no client certificate"):
        load_pkcs12(only_key, PASSWORD)


def test_key_not_matching_the_certificate_is_detected() -> None:
    """A file whose key belongs to no certificate in it loads with key_matches_certificate False."""
    stranger = make_certificate(ec_key(), common_name="someone else")
    mismatched = make_pkcs12(PASSWORD, key=KEY, certificate=None, additional=(stranger,))
    loaded = load_pkcs12(mismatched, PASSWORD)
    assert loaded.certificate == stranger
    assert not loaded.key_matches_certificate


def test_chain_certificates_are_kept() -> None:
    """Certificates besides the client certificate end up in additional_certificates."""
    issuer_key = ec_key()
    issuer = make_certificate(issuer_key, common_name="test issuer")
    client = make_certificate(KEY, issuer_key=issuer_key, issuer_name="test issuer")
    loaded = load_pkcs12(
        make_pkcs12(PASSWORD, key=KEY, certificate=client, additional=(issuer,)), PASSWORD
    )
    assert loaded.certificate == client
    assert loaded.issuer == "CN=test issuer"
    assert loaded.additional_certificates == (issuer,)


def test_repr_shows_no_key_material() -> None:
    """repr() names the certificate but shows neither the private key nor the password."""
    loaded = load_pkcs12(P12, PASSWORD)
    text = repr(loaded) + str(loaded)
    assert "CN=pyampam unit test" in text
    assert loaded.sha256_fingerprint in text
    private_value = format(KEY.private_numbers().private_value, "x")
    assert private_value not in text
    assert str(KEY.private_numbers().private_value) not in text
    assert PASSWORD not in text
    assert "PRIVATE KEY" not in text


def test_equal_when_holding_the_same_certificates() -> None:
    """Two loads of one file are equal and hash alike; another certificate is not equal."""
    first, second = load_pkcs12(P12, PASSWORD), load_pkcs12(P12, PASSWORD)
    assert first == second
    assert hash(first) == hash(second)
    other = make_pkcs12(PASSWORD, key=KEY, certificate=make_certificate(KEY))
    assert load_pkcs12(other, PASSWORD) != first


def test_certificate_field_is_validated() -> None:
    """A ClientCertificate cannot be built around something that is not a certificate."""
    with pytest.raises(TypeError, match=r"x509\.Certificate"):
        ClientCertificate(certificate=b"not a certificate", private_key=KEY)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="additional_certificates"):
        ClientCertificate(certificate=CERT, private_key=KEY, additional_certificates=[b"x"])  # type: ignore[list-item]


def test_importing_the_module_does_not_load_cryptography() -> None:
    """Importing the certificate module leaves cryptography unloaded until it is used."""
    code = (
        "import sys, json, pyampam.settings._certificate; "
        "print(json.dumps([m for m in sys.modules if m.startswith('cryptography')]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) == []


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2048))
def test_random_bytes_raise_settings_error_only(data: bytes) -> None:
    """Arbitrary bytes given as a PKCS#12 raise SettingsError and nothing else."""
    with pytest.raises(SettingsError):
        load_pkcs12(data, PASSWORD)


@settings(max_examples=100, deadline=None)
@given(tail=st.binary(max_size=512), long_form=st.booleans())
def test_random_bytes_behind_a_pfx_header_raise_settings_error_only(
    tail: bytes, long_form: bool
) -> None:
    """Garbage that starts like a PFX still ends in a SettingsError, never another exception."""
    header = b"\x30\x82\x01\x00" if long_form else b"\x30\x80"
    with pytest.raises(SettingsError) as raised:
        load_pkcs12(header + b"\x02\x01\x03" + tail, PASSWORD)
    assert PASSWORD not in str(raised.value)


@settings(max_examples=10, deadline=None)
@given(password=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=16, max_size=16))
def test_password_never_appears_in_the_error(password: str) -> None:
    """Whatever the (wrong) password, the error message does not contain it."""
    with pytest.raises(SettingsError) as raised:
        load_pkcs12(P12, password if password != PASSWORD else password[::-1], source="c.p12")
    assert password not in str(raised.value)
    assert password not in repr(raised.value)


def test_password_that_cannot_be_encoded_is_just_wrong() -> None:
    """A password with a lone surrogate is a wrong password, not a crash."""
    with pytest.raises(SettingsError, match="CERT_PASSWORD"):
        load_pkcs12(P12, "\ud800" + PASSWORD)
