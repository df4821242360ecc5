"""The client's one TLS context: the SDK's client certificate, and a server check never skipped."""

from __future__ import annotations

import contextlib
import os
import secrets
import ssl
import tempfile
from typing import TYPE_CHECKING

from pyampam.exceptions import ClientCertificateError, InvalidValueError, SettingsError

if TYPE_CHECKING:
    from pyampam.settings import ClientCertificate

__all__ = ["build_ssl_context"]

_FIX_CERTIFICATE = (
    "check that certificate= points at the SDK's cert_key.p12 and that CERT_PASSWORD matches it"
)


def _read_certificate(certificate: str | os.PathLike[str] | bytes) -> tuple[bytes, str | None]:
    if isinstance(certificate, bytes | bytearray | memoryview):
        return bytes(certificate), None
    path = os.fspath(certificate)
    try:
        with open(path, "rb") as file:
            return file.read(), path
    except OSError as error:
        raise ClientCertificateError(
            f"the client certificate {path!r} cannot be read ({error.strerror or error}); "
            f"{_FIX_CERTIFICATE}"
        ) from error


def _open_certificate(
    certificate: str | os.PathLike[str] | bytes, password: str
) -> ClientCertificate:
    from pyampam.settings import load_pkcs12

    data, source = _read_certificate(certificate)
    try:
        return load_pkcs12(data, password, source=source)
    except SettingsError as error:
        raise ClientCertificateError(str(error)) from error


def _write_private(path: str, data: bytes) -> None:
    # O_EXCL and the mode at creation: the file never exists with wider permissions, and a file
    # someone planted at that name is refused instead of written through.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _load_client_certificate(context: ssl.SSLContext, client: ClientCertificate) -> None:
    """Give ``context`` the certificate chain and key; ssl reads them only from a file.

    The key goes to disk encrypted with a random one-time password that never leaves this
    process, in a private folder that is deleted as soon as OpenSSL has read it.
    """
    from cryptography.hazmat.primitives import serialization

    one_time_password = secrets.token_bytes(32)
    key_pem = client.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time_password),
    )
    chain = [client.certificate, *client.additional_certificates]
    chain_pem = b"".join(
        certificate.public_bytes(serialization.Encoding.PEM) for certificate in chain
    )
    folder = tempfile.mkdtemp(prefix="pyampam-tls-")  # created 0700
    path = os.path.join(folder, "client.pem")
    try:
        _write_private(path, key_pem + chain_pem)
        try:
            context.load_cert_chain(path, password=one_time_password)
        except ssl.SSLError as error:
            raise ClientCertificateError(
                f"the client certificate cannot be used for TLS ({error.reason or error}): the "
                f"key may not belong to the certificate; {_FIX_CERTIFICATE}"
            ) from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.rmdir(folder)


def _load_trust(context: ssl.SSLContext, verify: bool | str | os.PathLike[str]) -> None:
    if verify is True:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        return
    if verify is False or not isinstance(verify, str | os.PathLike):
        raise InvalidValueError(
            "verify must be True (the system's trusted CAs) or the path of a CA bundle file or "
            "folder; the provider's server certificate is always checked, because the request "
            "carries the license key and the user's PIN",
            field="verify",
        )
    location = os.fspath(verify)
    try:
        if os.path.isdir(location):
            context.load_verify_locations(capath=location)
        else:
            context.load_verify_locations(cafile=location)
    except (OSError, ssl.SSLError) as error:
        raise InvalidValueError(
            f"verify={location!r} cannot be read as a CA bundle ({error}); give the path of a "
            "PEM file holding the CA certificates that issued the provider's server certificate",
            field="verify",
        ) from error


def build_ssl_context(
    certificate: str | os.PathLike[str] | bytes,
    password: str,
    *,
    verify: bool | str | os.PathLike[str] = True,
) -> ssl.SSLContext:
    """Build the TLS context for mutual TLS with the provider.

    ``certificate`` is the PKCS#12 file (a path, or its bytes) opened with ``password``;
    a file that cannot be opened raises :class:`~pyampam.exceptions.ClientCertificateError`.
    ``verify`` is True for the system's trusted CAs or a CA bundle path; server certificates
    and host names are always checked, and ``verify=False`` raises
    :class:`~pyampam.exceptions.InvalidValueError`.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_trust(context, verify)
    _load_client_certificate(context, _open_certificate(certificate, password))
    return context
