"""Open the SDK's ``cert_key.p12``: the provider's client certificate and its private key."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs

from pyampam.exceptions import SettingsError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

__all__ = ["ClientCertificate", "load_pkcs12"]

_FIX_MISMATCH = "check CERT_PASSWORD in pf_auth.cs matches this cert_key.p12"
_FIX_FILE = (
    "copy pf/certs/cert_key.p12 from the Azure MFA SDK ZIP again, or download a new SDK ZIP "
    "from the MFA provider's portal"
)


def _is_certificate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    from cryptography import x509

    if not isinstance(value, x509.Certificate):
        raise TypeError(f"{attribute.name} must be an x509.Certificate, not {type(value).__name__}")


def _certificates(values: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    from cryptography import x509

    certificates = tuple(values)
    for value in certificates:
        if not isinstance(value, x509.Certificate):
            raise TypeError(
                f"additional_certificates must hold x509.Certificate, not {type(value).__name__}"
            )
    return certificates


@attrs.frozen(repr=False)
class ClientCertificate:
    """The client certificate, its private key and any chain certificates of a PKCS#12 file.

    The private key is key material: it is left out of ``repr()`` and equality, and only
    :meth:`private_key_pem` hands it out. Two values are equal when they hold the same
    certificates.
    """

    certificate: x509.Certificate = attrs.field(validator=_is_certificate)
    private_key: PrivateKeyTypes = attrs.field(repr=False, eq=False)
    additional_certificates: tuple[x509.Certificate, ...] = attrs.field(
        default=(), converter=_certificates
    )

    @property
    def subject(self) -> str:
        """The certificate's subject as an RFC 4514 string, e.g. ``CN=example``."""
        return self.certificate.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        """The certificate's issuer as an RFC 4514 string."""
        return self.certificate.issuer.rfc4514_string()

    @property
    def not_valid_before(self) -> dt.datetime:
        """The start of the validity period, an aware UTC datetime."""
        return self.certificate.not_valid_before_utc

    @property
    def not_valid_after(self) -> dt.datetime:
        """The end of the validity period, an aware UTC datetime."""
        return self.certificate.not_valid_after_utc

    @property
    def sha256_fingerprint(self) -> str:
        """The SHA-256 fingerprint of the DER certificate, lower-case hex without separators."""
        from cryptography.hazmat.primitives import hashes

        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint, upper-case hex, as Windows certificate tools show it."""
        from cryptography.hazmat.primitives import hashes

        # SHA-1 only names the certificate here, the way Windows does; it protects nothing.
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303

    @property
    def key_matches_certificate(self) -> bool:
        """Whether the private key belongs to the certificate (their public keys are equal)."""
        from cryptography.hazmat.primitives import serialization

        def spki(key: PublicKeyTypes) -> bytes:
            return key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )

        return spki(self.private_key.public_key()) == spki(self.certificate.public_key())

    def private_key_pem(self) -> bytes:
        """Return the private key as unencrypted PKCS#8 PEM, e.g. for a mutual TLS client.

        The result is a secret: write it only to owner-only files and never log it.
        """
        from cryptography.hazmat.primitives import serialization

        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def certificate_pem(self) -> bytes:
        """Return the client certificate as PEM."""
        from cryptography.hazmat.primitives import serialization

        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def __repr__(self) -> str:
        return (
            f"ClientCertificate(subject={self.subject!r}, issuer={self.issuer!r}, "
            f"not_valid_after={self.not_valid_after.isoformat()!r}, "
            f"sha256_fingerprint={self.sha256_fingerprint!r})"
        )


def _looks_like_pfx(data: bytes) -> bool:
    # A PFX is a SEQUENCE whose first element is INTEGER 3. Checking that much tells "not a
    # PKCS#12 file at all" apart from "wrong password", which cryptography reports alike.
    if len(data) < 5 or data[0] != 0x30:
        return False
    length_byte = data[1]
    if length_byte <= 0x80:  # short form, or BER indefinite length as Windows exports use
        offset = 2
    else:
        count = length_byte & 0x7F
        if count > 4:
            return False
        offset = 2 + count
    return data[offset : offset + 3] == b"\x02\x01\x03"


def load_pkcs12(data: bytes, password: str, *, source: str | None = None) -> ClientCertificate:
    """Open a PKCS#12 file (such as the SDK's ``cert_key.p12``) with its password.

    ``source`` names where ``data`` came from, for error messages. Raises
    :class:`~pyampam.exceptions.SettingsError` when the data is not PKCS#12, the password does
    not open it, or it lacks the private key or the certificate. The password never appears in
    a message.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = bytes(data)
    if not _looks_like_pfx(data):
        raise SettingsError(f"not a PKCS#12 certificate file: {_FIX_FILE}", path=source)
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode("utf-8", "surrogatepass"))
    except UnsupportedAlgorithm as error:
        raise SettingsError(
            "the certificate file is protected with an algorithm this installation of "
            f"cryptography cannot read; {_FIX_FILE}",
            path=source,
        ) from error
    except (ValueError, TypeError) as error:
        raise SettingsError(
            "the certificate file could not be opened with CERT_PASSWORD (the password is wrong "
            f"or the file is damaged): {_FIX_MISMATCH}",
            path=source,
            key="CERT_PASSWORD",
        ) from error
    if loaded.key is None:
        raise SettingsError(
            f"the certificate file holds no private key, so it cannot authenticate: {_FIX_FILE}",
            path=source,
        )
    others = [extra.certificate for extra in loaded.additional_certs]
    if loaded.cert is not None:
        certificate = loaded.cert.certificate
    elif others:
        # OpenSSL pairs the key with the certificate that holds its public key. Failing that,
        # the end-entity certificate is still the client certificate; returning it lets callers
        # report "key does not match" instead of a misleading "no certificate".
        certificate = next((cert for cert in others if not _is_ca(cert)), others[0])
        others.remove(certificate)
    else:
        raise SettingsError(
            f"the certificate file holds a private key but no client certificate: {_FIX_FILE}",
            path=source,
        )
    return ClientCertificate(
        certificate=certificate, private_key=loaded.key, additional_certificates=others
    )


def _is_ca(certificate: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):  # absent or unparsable: not a CA for us
        return False
