"""Real certificates and PKCS#12 files for tests, made with cryptography.

EC keys by default: RSA key generation takes long enough to slow a test run down.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ec_key", "make_certificate", "make_client_pkcs12", "make_pkcs12"]

PrivateKey = ec.EllipticCurvePrivateKey


def ec_key() -> PrivateKey:
    """A fresh P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def make_certificate(
    key: PrivateKey,
    *,
    common_name: str = "pyampam test client",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    issuer_key: PrivateKey | None = None,
    issuer_name: str | None = None,
) -> x509.Certificate:
    """A client certificate for ``key``: self-signed unless ``issuer_key`` is given."""
    now = dt.datetime.now(dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name or common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuer_key or key, hashes.SHA256())
    )


def make_pkcs12(
    password: str,
    *,
    key: PrivateKey | None,
    certificate: x509.Certificate | None,
    additional: tuple[x509.Certificate, ...] = (),
    legacy: bool = False,
) -> bytes:
    """Serialize a PKCS#12 file; ``legacy`` uses 3DES and a SHA-1 MAC like older SDK files."""
    if legacy:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())  # noqa: S303 -- the legacy format under test
            .build(password.encode())
        )
    else:
        encryption = serialization.BestAvailableEncryption(password.encode())
    return pkcs12.serialize_key_and_certificates(
        b"cert_key", key, certificate, list(additional) or None, encryption
    )


def make_client_pkcs12(
    password: str,
    *,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> bytes:
    """A PKCS#12 with a key and its self-signed client certificate, like ``cert_key.p12``."""
    key = key or ec_key()
    certificate = make_certificate(key, not_before=not_before, not_after=not_after)
    return make_pkcs12(password, key=key, certificate=certificate)
