"""A throw-away certificate authority for tests: certificates, PKCS#12 files and SSL contexts."""

# cryptography is imported inside make_test_pki so that importing pyampam.testing stays light.

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import ssl
import string
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import attrs

from pyampam._secrets import mask

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from pyampam.settings import SdkCredentials

__all__ = ["PkiFiles", "TestPki", "make_test_pki"]

#: Which of the two authorities a certificate comes from.
Authority = Literal["main", "foreign"]

_PASSWORD_ALPHABET = string.ascii_uppercase + string.digits
_PASSWORD_LENGTH = 16  # like the CERT_PASSWORD of a real SDK download
_VALIDITY = dt.timedelta(days=365)
_SERVER_NAMES = ("localhost",)
_SERVER_ADDRESSES = ("127.0.0.1", "::1")

DEFAULT_LICENSE_KEY = "TESTLICENSE1"
DEFAULT_GROUP_KEY = "0123456789abcdef0123456789abcdef"


def _password() -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(_PASSWORD_LENGTH))


@attrs.frozen(repr=False)
class PkiFiles:
    """Where :meth:`TestPki.write_files` put each file; key and PKCS#12 files are owner-only."""

    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_p12: Path
    foreign_ca: Path
    foreign_server_cert: Path
    foreign_server_key: Path
    foreign_client_cert: Path
    foreign_client_key: Path
    foreign_client_p12: Path

    def __repr__(self) -> str:
        return f"PkiFiles(directory={str(self.directory)!r})"


@attrs.frozen(repr=False)
class TestPki:
    """Two certificate authorities and their certificates, all as PEM or PKCS#12 bytes.

    The *main* CA signs the server certificate (``localhost``, ``127.0.0.1``, ``::1``) and the
    client certificate, which is also packed as ``client_p12`` under ``client_password`` like the
    SDK's ``cert_key.p12``. The *foreign* CA signs a second client certificate and a second
    server certificate, for the handshakes that must fail. Build one with :func:`make_test_pki`.

    Private keys and the password are secrets here as everywhere: ``repr()`` never shows them.
    """

    # pytest would otherwise try to collect this class wherever a test module imports it.
    __test__ = False

    client_password: str
    ca_pem: bytes
    server_cert_pem: bytes
    server_key_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes
    client_p12: bytes
    foreign_ca_pem: bytes
    foreign_server_cert_pem: bytes
    foreign_server_key_pem: bytes
    foreign_client_cert_pem: bytes
    foreign_client_key_pem: bytes
    foreign_client_p12: bytes

    def __repr__(self) -> str:
        return f"TestPki(client_password={mask(self.client_password)!r})"

    __str__ = __repr__

    def credentials(
        self, *, license_key: str = DEFAULT_LICENSE_KEY, group_key: str = DEFAULT_GROUP_KEY
    ) -> SdkCredentials:
        """SDK credentials for tests: the given (made-up) keys and this PKI's client password."""
        from pyampam.settings import SdkCredentials

        return SdkCredentials(
            license_key=license_key, group_key=group_key, cert_password=self.client_password
        )

    def write_files(self, directory: str | os.PathLike[str]) -> PkiFiles:
        """Write every certificate, key and PKCS#12 file into ``directory`` (created if needed).

        Private keys and PKCS#12 files are written owner-only (0600).
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)

        def public(name: str, data: bytes) -> Path:
            path = folder / name
            path.write_bytes(data)
            return path

        def private(name: str, data: bytes) -> Path:
            path = folder / name
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            return path

        return PkiFiles(
            directory=folder,
            ca=public("ca.pem", self.ca_pem),
            server_cert=public("server.pem", self.server_cert_pem),
            server_key=private("server.key", self.server_key_pem),
            client_cert=public("client.pem", self.client_cert_pem),
            client_key=private("client.key", self.client_key_pem),
            client_p12=private("cert_key.p12", self.client_p12),
            foreign_ca=public("foreign-ca.pem", self.foreign_ca_pem),
            foreign_server_cert=public("foreign-server.pem", self.foreign_server_cert_pem),
            foreign_server_key=private("foreign-server.key", self.foreign_server_key_pem),
            foreign_client_cert=public("foreign-client.pem", self.foreign_client_cert_pem),
            foreign_client_key=private("foreign-client.key", self.foreign_client_key_pem),
            foreign_client_p12=private("foreign-cert_key.p12", self.foreign_client_p12),
        )

    def server_ssl_context(
        self,
        *,
        server_cert: Authority = "main",
        trusted_client_cas: Authority | Literal["both"] = "main",
        require_client_cert: bool = True,
    ) -> ssl.SSLContext:
        """An SSL context for a test server: TLS 1.2 or later, client certificates checked.

        ``server_cert`` picks the certificate the server presents (``"foreign"``: one the
        clients do not trust). ``trusted_client_cas`` picks which CA's client certificates are
        accepted. With ``require_client_cert=False`` a client without a certificate gets in too
        (a callback receiver, for one).
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if server_cert == "main":
            _load_chain(context, self.server_cert_pem, self.server_key_pem)
        else:
            _load_chain(context, self.foreign_server_cert_pem, self.foreign_server_key_pem)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        if trusted_client_cas in ("main", "both"):
            context.load_verify_locations(cadata=self.ca_pem.decode("ascii"))
        if trusted_client_cas in ("foreign", "both"):
            context.load_verify_locations(cadata=self.foreign_ca_pem.decode("ascii"))
        return context

    def client_ssl_context(
        self, *, client_cert: Authority | None = "main", trust: Authority = "main"
    ) -> ssl.SSLContext:
        """An SSL context for a test client: trusts ``trust``'s CA, presents ``client_cert``.

        ``client_cert=None`` presents no certificate at all. Host names are checked, so connect
        to ``localhost`` or ``127.0.0.1``.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        ca = self.ca_pem if trust == "main" else self.foreign_ca_pem
        context.load_verify_locations(cadata=ca.decode("ascii"))
        if client_cert == "main":
            _load_chain(context, self.client_cert_pem, self.client_key_pem)
        elif client_cert == "foreign":
            _load_chain(context, self.foreign_client_cert_pem, self.foreign_client_key_pem)
        return context


def _load_chain(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    # The ssl module reads certificate chains only from files; they live just long enough.
    with tempfile.TemporaryDirectory(prefix="pyampam-pki-") as folder:
        cert_path = Path(folder, "cert.pem")
        key_path = Path(folder, "key.pem")
        cert_path.write_bytes(cert_pem)
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(key_pem)
        context.load_cert_chain(cert_path, key_path)


@attrs.frozen
class _Issued:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _new_key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    # P-256: RSA key generation would make every test run noticeably slower.
    return ec.generate_private_key(ec.SECP256R1())


def _make_ca(common_name: str, now: dt.datetime) -> _Issued:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pyampam tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Issued(key, certificate)


def _issue(issuer: _Issued, common_name: str, now: dt.datetime, *, server: bool) -> _Issued:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = _new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    if server:
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in _SERVER_NAMES]
        names += [x509.IPAddress(ipaddress.ip_address(address)) for address in _SERVER_ADDRESSES]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return _Issued(key, builder.sign(issuer.key, hashes.SHA256()))


def _cert_pem(issued: _Issued) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return issued.certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(issued: _Issued) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return issued.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _p12(issued: _Issued, password: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    # Key and certificate only, like the SDK's cert_key.p12.
    return pkcs12.serialize_key_and_certificates(
        b"cert_key",
        issued.key,
        issued.certificate,
        None,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )


def make_test_pki(*, client_password: str | None = None) -> TestPki:
    """Make a fresh :class:`TestPki`: two CAs, their server and client certificates, PKCS#12.

    ``client_password`` protects both PKCS#12 files; by default it is 16 random upper-case
    letters and digits, like a real SDK's ``CERT_PASSWORD``.
    """
    password = _password() if client_password is None else client_password
    now = dt.datetime.now(dt.timezone.utc)
    ca = _make_ca("pyampam test CA", now)
    server = _issue(ca, "localhost", now, server=True)
    client = _issue(ca, "pyampam test client", now, server=False)
    foreign_ca = _make_ca("pyampam foreign test CA", now)
    foreign_server = _issue(foreign_ca, "localhost", now, server=True)
    foreign_client = _issue(foreign_ca, "pyampam foreign test client", now, server=False)
    return TestPki(
        client_password=password,
        ca_pem=_cert_pem(ca),
        server_cert_pem=_cert_pem(server),
        server_key_pem=_key_pem(server),
        client_cert_pem=_cert_pem(client),
        client_key_pem=_key_pem(client),
        client_p12=_p12(client, password),
        foreign_ca_pem=_cert_pem(foreign_ca),
        foreign_server_cert_pem=_cert_pem(foreign_server),
        foreign_server_key_pem=_key_pem(foreign_server),
        foreign_client_cert_pem=_cert_pem(foreign_client),
        foreign_client_key_pem=_key_pem(foreign_client),
        foreign_client_p12=_p12(foreign_client, password),
    )
