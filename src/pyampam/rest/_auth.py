"""Integrated Windows Authentication for ``requests``: Negotiate (Kerberos or NTLM) via pyspnego.

IIS answers an unauthenticated call with ``401`` and ``WWW-Authenticate: Negotiate`` (or
``NTLM``). The client then sends a token, the server answers ``401`` with a challenge, the
client answers that, and the server finally sends the real answer. NTLM authenticates the TCP
connection, not the request, so every round trip must go on the same keep-alive connection:
each 401 is read to the end and its connection put back in the pool, from which the next send
takes it again.
"""

# requests is imported here (and in _client), never by `import pyampam.rest` itself; pyspnego
# is imported only when windows_auth() is called, so it stays an optional extra.

from __future__ import annotations

import base64
import getpass
import hashlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import requests
import requests.auth
import requests.cookies

from pyampam._secrets import MASK
from pyampam.exceptions import InvalidValueError
from pyampam.rest._errors import RestAuthenticationError

if TYPE_CHECKING:
    import spnego

__all__ = [
    "PASSWORD_ENVIRONMENT_VARIABLE",
    "NegotiateAuth",
    "tls_server_end_point",
    "windows_auth",
]

#: Where windows_auth() looks for the password when it is not given.
PASSWORD_ENVIRONMENT_VARIABLE = "PYAMPAM_PASSWORD"  # noqa: S105 - a variable name, no secret
#: How the extra that brings pyspnego is named.
EXTRA = "pyampam[windows-auth]"

Protocol = Literal["negotiate", "ntlm", "kerberos"]

_log = logging.getLogger("pyampam.rest")
# Negotiate needs two legs for NTLM and one for Kerberos; more means something is wrong.
_MAX_ROUNDS = 4


class _Secret:
    """A string that shows as a mask wherever it is printed, logged or inspected."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK


def windows_auth(
    username: str,
    password: str | None = None,
    *,
    domain: str | None = None,
    protocol: Protocol = "negotiate",
) -> NegotiateAuth:
    """An auth object for :class:`PamRestClient` that logs on with Windows authentication.

    ``username`` is ``DOMAIN\\user``, ``user@domain.example`` or a bare ``user`` (then
    ``domain`` names its domain). The password is taken from ``password``, else from the
    ``PYAMPAM_PASSWORD`` environment variable, else asked for on the terminal when there is
    one; otherwise :class:`RestAuthenticationError` says how to give it. ``protocol`` is
    ``"negotiate"`` (Kerberos where the machine has it, else NTLM), ``"ntlm"`` or
    ``"kerberos"``. Needs the ``pyampam[windows-auth]`` extra (pyspnego).
    """
    spnego_module = _import_spnego()
    account = _account(username, domain)
    if protocol not in ("negotiate", "ntlm", "kerberos"):
        raise InvalidValueError(
            f"protocol must be 'negotiate', 'ntlm' or 'kerberos', not {protocol!r}",
            field="protocol",
        )
    secret = password if password else _password_for(account)
    return NegotiateAuth(account, _Secret(secret), protocol=protocol, spnego_module=spnego_module)


def _import_spnego() -> Any:
    try:
        import spnego
        import spnego.channel_bindings
        import spnego.exceptions
    except ImportError as error:
        raise RestAuthenticationError(
            f"Windows authentication needs pyspnego, which is not installed: pip install '{EXTRA}'"
        ) from error
    return spnego


def _account(username: str, domain: str | None) -> str:
    if not isinstance(username, str) or not username.strip():
        raise InvalidValueError(
            "username must name an account, e.g. CONTOSO\\alice", field="username"
        )
    username = username.strip()
    if domain is not None and not domain.strip():
        domain = None
    if "\\" in username:
        given, _, user = username.partition("\\")
        if not given or not user:
            raise InvalidValueError(
                f"{username!r} is not DOMAIN\\user: a part is empty", field="username"
            )
        if domain is not None and domain.strip().lower() != given.lower():
            raise InvalidValueError(
                f"username {username!r} names domain {given!r} but domain= is {domain!r}; "
                "give the domain once",
                field="domain",
            )
        return username
    if "@" in username:
        if domain is not None:
            raise InvalidValueError(
                f"username {username!r} already names its domain; leave out domain=",
                field="domain",
            )
        return username
    return f"{domain.strip()}\\{username}" if domain is not None else username


def _password_for(account: str) -> str:
    from_environment = os.environ.get(PASSWORD_ENVIRONMENT_VARIABLE)
    if from_environment:
        return from_environment
    if _stdin_is_terminal():
        answer = getpass.getpass(f"Password for {account}: ")
        if answer:
            return answer
        raise RestAuthenticationError(f"no password was typed for {account}")
    raise RestAuthenticationError(
        f"no password for {account}: pass password=, or set the {PASSWORD_ENVIRONMENT_VARIABLE} "
        "environment variable, or run in a terminal to be asked for it"
    )


def _stdin_is_terminal() -> bool:
    stdin = sys.stdin
    return stdin is not None and stdin.isatty()


def _offers(header: str) -> dict[str, str | None]:
    """The Negotiate/NTLM offers of a ``WWW-Authenticate`` header: scheme -> token (or None)."""
    found: dict[str, str | None] = {}
    # requests joins repeated headers with ", "; base64 tokens hold no commas.
    for part in header.split(","):
        scheme, _, token = part.strip().partition(" ")
        for known in ("Negotiate", "NTLM"):
            if scheme.lower() == known.lower() and known not in found:
                found[known] = token.strip() or None
    return found


def tls_server_end_point(certificate: bytes) -> bytes:
    """The ``tls-server-end-point`` channel binding data of a DER certificate (RFC 5929).

    IIS with Extended Protection checks that the token was made for this TLS connection.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    name = "sha256"
    try:
        algorithm = x509.load_der_x509_certificate(certificate).signature_hash_algorithm
    except (ValueError, TypeError):  # not a certificate cryptography reads: fall back to SHA-256
        algorithm = None
    # RFC 5929 §4.1: the certificate's own hash, except MD5 and SHA-1 become SHA-256.
    if isinstance(algorithm, (hashes.SHA384, hashes.SHA512)):
        name = algorithm.name
    return b"tls-server-end-point:" + hashlib.new(name, certificate).digest()


class NegotiateAuth(requests.auth.AuthBase):
    """``requests`` auth doing the Negotiate/NTLM handshake with pyspnego; see windows_auth().

    The password is held out of sight: not in ``repr()``, logs or error messages.
    """

    def __init__(
        self,
        username: str,
        password: _Secret,
        *,
        protocol: Protocol = "negotiate",
        spnego_module: Any,
    ) -> None:
        self.username = username
        self.protocol = protocol
        self._password = password
        self._spnego = spnego_module

    def __repr__(self) -> str:
        return f"NegotiateAuth(username={self.username!r}, protocol={self.protocol!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Arrange to answer the server's 401 with the handshake."""
        # requests' own hook registration is untyped; the hook receives send()'s options.
        request.register_hook("response", self._on_response)  # type: ignore[no-untyped-call]
        return request

    def _scheme(self, offers: dict[str, str | None]) -> tuple[str, str] | None:
        """Which offered scheme to answer, and the pyspnego protocol for it."""
        order: tuple[tuple[str, str], ...]
        if self.protocol == "ntlm":
            order = (("NTLM", "ntlm"), ("Negotiate", "ntlm"))
        elif self.protocol == "kerberos":
            order = (("Negotiate", "kerberos"),)
        else:
            order = (("Negotiate", "negotiate"), ("NTLM", "ntlm"))
        for scheme, protocol in order:
            if scheme in offers:
                return scheme, protocol
        return None

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or "Authorization" in response.request.headers:
            return response
        offers = _offers(response.headers.get("WWW-Authenticate", ""))
        chosen = self._scheme(offers)
        if chosen is None:
            return response
        scheme, protocol = chosen
        request = response.request
        url = urlsplit(request.url or "")
        host = url.hostname or "unspecified"
        context = self._context(response, host, protocol)
        in_token = offers[scheme]
        for round_trip in range(1, _MAX_ROUNDS + 1):
            out_token = self._step(context, in_token)
            if out_token is None:
                break
            # Read the 401 to its end so its connection goes back to the pool, to be reused.
            _ = response.content
            response.close()
            # From the last request sent, so cookies set along the way (load balancer
            # affinity) accumulate.
            sent = response.request
            retry = sent.copy()
            requests.cookies.extract_cookies_to_jar(  # type: ignore[no-untyped-call]
                retry._cookies,  # type: ignore[attr-defined]  # requests' own auth does this
                sent,
                response.raw,
            )
            retry.prepare_cookies(retry._cookies)  # type: ignore[attr-defined]
            retry.headers["Authorization"] = f"{scheme} {base64.b64encode(out_token).decode()}"
            _log.debug(
                "%s %s: Windows authentication (%s), round %d",
                request.method,
                url.path,
                scheme,
                round_trip,
            )
            answer = response.connection.send(retry, **kwargs)
            answer.history.append(response)
            answer.request = retry
            response = answer
            in_token = _offers(response.headers.get("WWW-Authenticate", "")).get(scheme)
            if response.status_code != 401:
                if in_token is not None and not context.complete:
                    # The server's last leg (Kerberos mutual authentication) is checked too.
                    self._step(context, in_token)
                break
            if in_token is None or context.complete:
                break  # the server refused the credentials; the caller sees the 401
        return response

    def _context(
        self, response: requests.Response, host: str, protocol: str
    ) -> spnego.ContextProxy:
        bindings = None
        certificate = _peer_certificate(response)
        if certificate is not None:
            bindings = self._spnego.channel_bindings.GssChannelBindings(
                application_data=tls_server_end_point(certificate)
            )
        try:
            return self._spnego.client(  # type: ignore[no-any-return]
                self.username,
                self._password.reveal(),
                hostname=host,
                service="HTTP",
                protocol=protocol,
                channel_bindings=bindings,
            )
        except self._errors() as error:
            raise self._failure("could not start", error) from None

    def _step(self, context: spnego.ContextProxy, in_token: str | None) -> bytes | None:
        try:
            token = base64.b64decode(in_token, validate=True) if in_token is not None else None
            return context.step(token)
        except self._errors() as error:
            raise self._failure("failed", error) from None

    def _errors(self) -> tuple[type[Exception], ...]:
        exceptions = self._spnego.exceptions
        return (exceptions.SpnegoError, exceptions.FeatureMissingError, ValueError)

    def _failure(self, what: str, error: Exception) -> RestAuthenticationError:
        # pyspnego's messages do not carry the password, but make sure of it; `from None` keeps
        # the original (with its locals) out of tracebacks that get logged.
        detail = (
            str(error).replace(self._password.reveal(), MASK)
            if self._password.reveal()
            else str(error)
        )
        return RestAuthenticationError(
            f"Windows authentication of {self.username} {what}: {type(error).__name__}: {detail}",
            status_code=401,
        )


def _peer_certificate(response: requests.Response) -> bytes | None:
    """The server's DER certificate on an HTTPS connection, for channel binding; else None."""
    if not (response.url or "").lower().startswith("https:"):
        return None
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return None
    try:
        certificate = getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    return certificate if isinstance(certificate, bytes) else None
