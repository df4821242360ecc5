"""The Azure MFA SDK (PhoneFactor) client: mutual TLS, failover that never rings twice."""

# requests is imported here and only here, so `import pyampam.providers` stays light.

from __future__ import annotations

import concurrent.futures
import copy
import functools
import logging
import math
import os
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.utils
import urllib3
import urllib3.connection
import urllib3.exceptions
import urllib3.response

from pyampam.exceptions import (
    CallPendingError,
    ClientCertificateError,
    ClientCertificateRejectedError,
    ConnectionFailedError,
    DeliveryUncertainError,
    InvalidValueError,
    MfaTimeoutError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
    ServerCertificateError,
    TlsError,
    UnknownCallError,
)
from pyampam.providers._protocol import DEFAULT_AUTHENTICATE_TIMEOUT
from pyampam.providers._protocol import authenticate as _authenticate
from pyampam.providers._sockets import close_orphaned_tls_socket
from pyampam.providers._tls import build_ssl_context
from pyampam.providers._types import CallHandle, CallStatus, MfaChallenge, MfaResult
from pyampam.providers._wire import (
    DEFAULT_HOSTNAME,
    DEFAULT_IP,
    MAX_RESPONSE_BYTES,
    RequestSource,
    build_authentication_request,
    new_request_id,
    parse_async_acknowledgement,
    parse_authentication_response,
)

if TYPE_CHECKING:
    from types import TracebackType

    from requests.adapters import _HostParams, _PoolKwargs
    from typing_extensions import Self

    from pyampam.providers._callback import CallbackReceiver
    from pyampam.providers._types import AuthMode
    from pyampam.settings import MfaSettings, SdkCredentials

__all__ = [
    "DEFAULT_ASYNC_RESULT_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_ENDPOINTS",
    "DEFAULT_MAX_CONCURRENT_CALLS",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "FINISHED_CALL_RETENTION",
    "MAX_FINISHED_CALLS",
    "PhoneFactorClient",
]

#: The backend's two front doors, tried in this order (the SDK's own list).
DEFAULT_ENDPOINTS: tuple[str, ...] = (
    "https://pfd.phonefactor.net/pfd/pfd.pl",
    "https://pfd2.phonefactor.net/pfd/pfd.pl",
)
#: Seconds to open the TCP connection and finish the TLS handshake with one endpoint.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Seconds to wait for each read of the answer: the synchronous answer comes only once the user
#: has taken (or missed) the call, which takes tens of seconds.
DEFAULT_READ_TIMEOUT = 90.0
DEFAULT_TIMEOUT: tuple[float, float] = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
#: Calls exchanged with the backend at the same time; more wait in a queue.
DEFAULT_MAX_CONCURRENT_CALLS = 32
#: Seconds an asynchronous call waits for the backend's POST before it fails.
DEFAULT_ASYNC_RESULT_TIMEOUT = 300.0
#: A finished call's outcome is kept this many seconds (MIM asks for it right after it ends)...
FINISHED_CALL_RETENTION = 3600.0
#: ... and at most this many finished calls are kept; the oldest are forgotten first.
MAX_FINISHED_CALLS = 10_000

_log = logging.getLogger("pyampam.providers.phonefactor")
_ACK_POLL = 0.05
_SWEEP_INTERVAL = 1.0

_CONTENT_TYPE = "text/xml; charset=utf-8"
_READ_CHUNK = 64 * 1024

# TLS alerts by which a server says it does not accept our certificate (or got none). In TLS 1.3
# they can arrive after the client has sent the request: the server checks the client's
# certificate after the client considers the handshake done. The server's application never
# saw the request, so it counts as not delivered.
_CLIENT_CERTIFICATE_ALERTS = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
    }
)


# -- transport ---------------------------------------------------------------------------------


class _Progress(threading.local):
    """How far the current thread's request got; read to decide whether it may be re-sent."""

    request_sent = False
    connections_opened = 0


_progress = _Progress()
# The alert, if there is one, arrived before the close that made the write fail.
_ALERT_PROBE_SECONDS = 0.05


class _TrackedHTTPSConnection(urllib3.connection.HTTPSConnection):
    """An HTTPS connection that notes when the request starts out, and hears TLS rejections.

    With TLS 1.3 the server checks our certificate after the client has finished its side of
    the handshake, so a rejection can surface as a failed write or read of the first request.
    The server's alert then usually waits unread in the socket; reading it tells a rejection
    (the application never saw the request) from a connection the application dropped.
    """

    _answered = False

    def connect(self) -> None:
        self._answered = False
        try:
            super().connect()
        except BaseException as error:
            # A connection reset just before the handshake can leave the new TLS socket open;
            # the call's error would keep it (and its descriptor) for as long as the call.
            close_orphaned_tls_socket(error)
            raise
        _progress.connections_opened += 1

    def request(
        self, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any
    ) -> None:
        if self.sock is None:
            # Connect first, so a failure here is known to have sent nothing.
            self.connect()
        _progress.request_sent = True
        try:
            super().request(method, url, body=body, headers=headers, **kwargs)
        except OSError as error:
            self._raise_certificate_alert(error)
            raise

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        try:
            response = super().getresponse()
        except OSError as error:
            self._raise_certificate_alert(error)
            raise
        self._answered = True
        return response

    def _raise_certificate_alert(self, error: OSError) -> None:
        sock = self.sock
        if self._answered or _is_certificate_alert(error) or not isinstance(sock, ssl.SSLSocket):
            return
        try:
            sock.settimeout(_ALERT_PROBE_SECONDS)
            sock.recv(1)
        except ssl.SSLError as alert:
            if _is_certificate_alert(alert):
                raise alert from error
        except OSError:
            return


def _is_certificate_alert(error: BaseException) -> bool:
    return isinstance(error, ssl.SSLError) and error.reason in _CLIENT_CERTIFICATE_ALERTS


class _TrackedHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_POOL_CLASSES = {"http": urllib3.HTTPConnectionPool, "https": _TrackedHTTPSConnectionPool}


class _ContextAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections all use one prepared SSL context, as built.

    requests would otherwise point each pool at its CA bundle (or a ``cert=`` pair), and urllib3
    would then load those files into the context again for every new connection.
    """

    def __init__(self, ssl_context: ssl.SSLContext, *, pool_maxsize: int) -> None:
        self._ssl_context = ssl_context
        # max_retries=0: urllib3 must never re-send on its own; failover is decided above it.
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"ssl_context": self._ssl_context, "cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The context already holds the trust store and our certificate; leave the pool with
        # no file names to load (and REQUESTS_CA_BUNDLE cannot loosen the check).
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None
        conn.cert_file = None
        conn.key_file = None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps: requests and urllib3 nest the real cause."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _first(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((cause for cause in _causes(error) if isinstance(cause, kind)), None)


def _ssl_reason(error: BaseException) -> ssl.SSLError | None:
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLError) and not isinstance(
            cause, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError
        ):
            return cause
    return None


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class _Attempt:
    """What one POST to one endpoint produced: the answer, or a classified failure."""

    def __init__(
        self,
        *,
        status_code: int | None = None,
        body: bytes = b"",
        error: ProviderError | None = None,
        delivered: bool = True,
        new_connection: bool = False,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.error = error
        self.delivered = delivered
        self.new_connection = new_connection


class _Transport:
    """One keep-alive session per endpoint, all on one SSL context; sends and classifies.

    The proxy of each endpoint is read from the environment (``HTTPS_PROXY``, ``ALL_PROXY``,
    ``NO_PROXY``, as requests reads them) once, here: requests would otherwise read the whole
    environment again on every request. The sessions read nothing else from it: the SSL
    context alone decides what is trusted, and a ``~/.netrc`` adds no credentials.
    """

    def __init__(
        self, endpoints: Sequence[str], ssl_context: ssl.SSLContext, *, pool_size: int
    ) -> None:
        self.endpoints = tuple(endpoints)
        self._closed = False
        self._sessions: list[requests.Session] = []
        self._proxies: list[dict[str, str]] = []
        for endpoint in self.endpoints:
            session = requests.Session()
            session.trust_env = False
            # Compressed answers would let a hostile endpoint send a small bomb past the cap.
            session.headers["Accept-Encoding"] = "identity"
            session.headers["User-Agent"] = "pyampam-pfsdk"
            session.mount(endpoint, _ContextAdapter(ssl_context, pool_maxsize=pool_size))
            self._sessions.append(session)
            # Empty when NO_PROXY names the endpoint's host.
            self._proxies.append(dict(requests.utils.get_environ_proxies(endpoint)))

    def close(self) -> None:
        self._closed = True
        for session in self._sessions:
            session.close()

    def post(self, index: int, body: bytes, timeout: tuple[float, float], call_id: str) -> _Attempt:
        """POST ``body`` to endpoint ``index``; never raises, never re-sends."""
        endpoint = self.endpoints[index]
        _progress.request_sent = False
        _progress.connections_opened = 0
        try:
            response = self._sessions[index].post(
                endpoint,
                data=body,
                headers={"Content-Type": _CONTENT_TYPE},
                timeout=timeout,
                allow_redirects=False,
                proxies=self._proxies[index],
                stream=True,
            )
            with response:
                content = _read_capped(response, call_id=call_id, endpoint=endpoint)
            return _Attempt(
                status_code=response.status_code,
                body=content,
                new_connection=_progress.connections_opened > 0,
            )
        except ProviderResponseError as error:
            return _Attempt(error=error, new_connection=_progress.connections_opened > 0)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            mapped, delivered = _classify(
                error, sent=_progress.request_sent, call_id=call_id, endpoint=endpoint
            )
            # What `raise mapped from error` would record; the error is returned, not raised,
            # because the caller decides between failing over and failing the call.
            mapped.__cause__ = error
            mapped.__suppress_context__ = True
            return _Attempt(
                error=mapped, delivered=delivered, new_connection=_progress.connections_opened > 0
            )
        finally:
            if self._closed:
                # close() ran while this call was under way. A call that looked up its pool
                # after that made a new one, which nothing else would close, with its
                # connection kept alive inside: close them now.
                self._sessions[index].close()


def _read_capped(response: requests.Response, *, call_id: str, endpoint: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_READ_CHUNK):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ProviderResponseError(
                f"the answer from {endpoint} is longer than {MAX_RESPONSE_BYTES} bytes, which "
                "no protocol answer is; the call's outcome is unknown",
                call_id=call_id,
                endpoint=endpoint,
                status_code=response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _classify(
    error: BaseException, *, sent: bool, call_id: str, endpoint: str
) -> tuple[ProviderError, bool]:
    """Map a transport failure to a ProviderError, and say whether the request may have arrived.

    Before the request left (no connection, no handshake) it was delivered nowhere and another
    endpoint may be tried. Once it started out it may have reached the backend and placed a
    call, so it is never sent again; the one exception is a TLS alert rejecting our
    certificate, which the server's TLS layer sends before its application sees anything.
    """
    where = {"call_id": call_id, "endpoint": endpoint}
    verification = _first(error, ssl.SSLCertVerificationError) or _first(
        error, ssl.CertificateError
    )
    if verification is not None:
        return (
            ServerCertificateError(
                f"the server certificate of {endpoint} is not trusted ({_short(verification)}); "
                "if a proxy inspects TLS, pass its CA bundle as verify=; nothing was sent",
                **where,
            ),
            False,
        )
    tls = _ssl_reason(error)
    if tls is not None and tls.reason in _CLIENT_CERTIFICATE_ALERTS:
        return (
            ClientCertificateRejectedError(
                f"{endpoint} refused our client certificate (TLS alert {tls.reason}); check that "
                "certificate= is the cert_key.p12 of this SDK download and has not expired",
                **where,
            ),
            False,
        )
    if not sent:
        if tls is not None:
            hint = ""
            if tls.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE":
                # TLS 1.2 servers answer a missing or unacceptable client certificate this way,
                # but also a lack of common ciphers, so it is not filed as a rejection.
                hint = " (the server may not accept our client certificate)"
            return (
                TlsError(
                    f"the TLS handshake with {endpoint} failed ({tls.reason or _short(tls)})"
                    f"{hint}; nothing was sent",
                    **where,
                ),
                False,
            )
        what = "timed out connecting to" if _timed_out(error) else "could not connect to"
        return (
            ConnectionFailedError(
                f"{what} {endpoint} ({_short(_root_cause(error))}); nothing was sent", **where
            ),
            False,
        )
    if _timed_out(error):
        return (
            ProviderTimeoutError(
                f"{endpoint} gave no answer within the read timeout; the request may have "
                "placed a call, so it was not sent again; raise the read timeout if calls take "
                "longer",
                **where,
            ),
            True,
        )
    return (
        DeliveryUncertainError(
            f"the connection to {endpoint} broke after the request was sent "
            f"({_short(_root_cause(error))}); the request may have placed a call, so it was "
            "not sent again",
            **where,
        ),
        True,
    )


def _timed_out(error: BaseException) -> bool:
    # urllib3 files a refused connection under ConnectTimeoutError too; it is not a timeout.
    return any(
        isinstance(cause, requests.Timeout | urllib3.exceptions.ReadTimeoutError | TimeoutError)
        or (
            isinstance(cause, urllib3.exceptions.ConnectTimeoutError)
            and not isinstance(cause, urllib3.exceptions.NewConnectionError)
        )
        for cause in _causes(error)
    )


def _root_cause(error: BaseException) -> BaseException:
    causes = list(_causes(error))
    # The innermost standard-library error says it best ("Connection refused").
    for cause in reversed(causes):
        if type(cause).__module__ in ("builtins", "socket", "ssl", "http.client"):
            return cause
    return causes[-1]


# -- calls -------------------------------------------------------------------------------------


class _Call:
    """One call's state; changed only under the client's lock."""

    __slots__ = (
        "async_deadline",
        "call_id",
        "done",
        "endpoint",
        "error",
        "finished_at",
        "is_async",
        "mode",
        "result",
        "started_at",
    )

    def __init__(self, call_id: str, mode: AuthMode, *, is_async: bool, started_at: float) -> None:
        self.call_id = call_id
        self.mode = mode
        self.is_async = is_async
        self.started_at = started_at
        self.done = threading.Event()
        self.result: MfaResult | None = None
        self.error: ProviderError | None = None
        self.endpoint: str | None = None
        self.finished_at: float | None = None
        self.async_deadline: float | None = None


def _check_url(url: object, field: str, *, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise InvalidValueError(f"{field} {url!r} is not an {wanted} URL", field=field)
    return str(url)


def _check_endpoints(endpoints: Sequence[str]) -> tuple[str, ...]:
    if isinstance(endpoints, str):
        endpoints = (endpoints,)
    checked = tuple(endpoints)
    if not checked:
        raise InvalidValueError("endpoints must name at least one URL", field="endpoints")
    for endpoint in checked:
        # https only: the request carries the license key and PINs, and mutual TLS is the
        # backend's way of knowing us.
        _check_url(endpoint, "endpoints", schemes=("https",))
    return checked


def _check_label(value: object, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255 or not value.isprintable():
        raise InvalidValueError(
            f"{field} must be printable text of 1 to 255 characters, not {value!r}", field=field
        )
    return value


def _check_timeout(value: object, field: str = "timeout") -> tuple[float, float]:
    if isinstance(value, tuple) and len(value) == 2:
        connect, read = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        connect = read = value
    else:
        raise InvalidValueError(
            f"{field} must be seconds, or a (connect, read) pair of seconds, not {value!r}",
            field=field,
        )
    for part in (connect, read):
        if (
            isinstance(part, bool)
            or not isinstance(part, int | float)
            or not math.isfinite(part)
            or part <= 0
        ):
            raise InvalidValueError(
                f"{field} must be positive, finite seconds (timeouts are always on), not {value!r}",
                field=field,
            )
    return float(connect), float(read)


def _check_positive(value: object, field: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidValueError(f"{field} must be a positive number, not {value!r}", field=field)
    return float(value)


def _check_count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{field} must be a whole number >= 1, not {value!r}", field=field)
    return value


class PhoneFactorClient:
    """An :class:`~pyampam.providers.MfaProvider` talking to the Azure MFA SDK backend.

    ``credentials`` holds the license key, group key and the password of ``certificate``, the
    SDK's ``cert_key.p12`` (a path or its bytes). One TLS context is built from it at once (a
    wrong password raises :class:`~pyampam.exceptions.ClientCertificateError`); the key
    touches the disk only encrypted with a one-time password, in a private temporary folder
    deleted before the constructor returns.

    ``verify`` is True for the system's trusted CAs or the path of a CA bundle; the server's
    certificate is always checked. ``timeout`` (default ``(10, 90)``: connect, read) is a
    number or a ``(connect, read)`` pair of seconds; the read timeout must outlast a phone
    call. ``hostname`` and ``ip`` are what the request names as its source.

    ``endpoints`` are tried in order from the one that last worked. The client moves to the
    next endpoint only when the request cannot have been delivered (connection refused, name
    not found, TLS handshake failed, connect timeout) and remembers the move for later calls.
    Once a request may have reached the backend it is never sent again, because that could
    ring the user twice: the call fails with
    :class:`~pyampam.exceptions.DeliveryUncertainError` (or its subclass
    :class:`~pyampam.exceptions.ProviderTimeoutError`).

    :meth:`initiate` returns at once; up to ``max_concurrent_calls`` (default 32) calls talk
    to the backend at a time, on worker threads or (:meth:`authenticate`, when nothing can
    cut its wait short) on their caller's thread; more wait their turn. Every method is
    thread safe. A finished call's outcome is kept for ``FINISHED_CALL_RETENTION`` seconds
    (one hour), at most ``MAX_FINISHED_CALLS`` (10,000) of them; then its id is unknown.

    Proxies come from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, as
    requests reads them), read once when the client is created: later changes to those
    variables do not affect it. Nothing else in the environment is read (not
    ``REQUESTS_CA_BUNDLE``: ``verify`` alone says what is trusted; nor ``~/.netrc``).

    With ``callback_receiver`` (a started or startable
    :class:`~pyampam.providers._callback.CallbackReceiver`) every call uses the protocol's
    asynchronous variant: the backend answers at once and POSTs the outcome to the receiver
    later. Such a call fails with :class:`~pyampam.exceptions.ProviderTimeoutError` if no
    outcome arrives within ``async_result_timeout`` seconds (default 300).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        credentials: SdkCredentials,
        *,
        certificate: str | os.PathLike[str] | bytes,
        endpoints: Sequence[str] = DEFAULT_ENDPOINTS,
        verify: bool | str | os.PathLike[str] = True,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        hostname: str = DEFAULT_HOSTNAME,
        ip: str = DEFAULT_IP,
        max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
        callback_receiver: CallbackReceiver | None = None,
        async_result_timeout: float = DEFAULT_ASYNC_RESULT_TIMEOUT,
    ) -> None:
        self._endpoints = _check_endpoints(endpoints)
        self._timeout = _check_timeout(timeout)
        self._max_concurrent_calls = _check_count(max_concurrent_calls, "max_concurrent_calls")
        self._async_result_timeout = _check_positive(async_result_timeout, "async_result_timeout")
        self._source = RequestSource(
            hostname=_check_label(hostname, "hostname"), ip=_check_label(ip, "ip")
        )
        self._license_key = credentials.license_key
        self._group_key = credentials.group_key
        self._lock = threading.Lock()
        self._current = 0
        self._calls: dict[str, _Call] = {}
        self._finished: OrderedDict[str, float] = OrderedDict()
        self._futures: dict[str, concurrent.futures.Future[None]] = {}
        self._connections_opened = 0
        self._last_sweep = time.monotonic()
        self._closed = False
        context = build_ssl_context(certificate, credentials.cert_password, verify=verify)
        self._transport = _Transport(self._endpoints, context, pool_size=self._max_concurrent_calls)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._max_concurrent_calls, thread_name_prefix="pyampam-pfsdk"
        )
        # Places for calls talking to the backend: the workers and authenticate() on its
        # caller's thread take them alike, so max_concurrent_calls holds for both.
        self._slots = threading.BoundedSemaphore(self._max_concurrent_calls)
        self._receiver = callback_receiver
        if callback_receiver is not None:
            callback_receiver.start()
            callback_receiver.attach(self)

    @classmethod
    def from_settings(cls, settings: MfaSettings, **overrides: Any) -> PhoneFactorClient:
        """A client for MIM's ``MfaSettings.xml``: its credentials and ``CertFilePath``.

        ``overrides`` are passed on to the constructor (``certificate=`` replaces the file
        named in the settings, for instance when they hold a Windows path).
        """
        certificate = overrides.pop("certificate", None) or settings.cert_file_path
        if not certificate:
            raise ClientCertificateError(
                "these MFA settings name no CertFilePath: set it, or pass certificate= with the "
                "path of the SDK's cert_key.p12"
            )
        return cls(settings.credentials, certificate=certificate, **overrides)

    # -- information ---------------------------------------------------------------------------

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoint URLs, in failover order."""
        return self._endpoints

    @property
    def current_endpoint(self) -> str:
        """The endpoint the next call tries first (the last one that could be reached)."""
        with self._lock:
            return self._endpoints[self._current]

    @property
    def connections_opened(self) -> int:
        """How many TLS connections the client has opened; kept-alive ones are reused."""
        with self._lock:
            return self._connections_opened

    def __repr__(self) -> str:
        with self._lock:
            pending = sum(1 for call in self._calls.values() if not call.done.is_set())
            finished = len(self._calls) - pending
            current = self._endpoints[self._current]
            opened = self._connections_opened
            closed = self._closed
        return (
            f"PhoneFactorClient(endpoints={list(self._endpoints)!r}, current={current!r}, "
            f"pending_calls={pending}, finished_calls={finished}, connections_opened={opened}"
            f"{', closed' if closed else ''})"
        )

    # -- the provider --------------------------------------------------------------------------

    def initiate(
        self,
        challenge: MfaChallenge,
        *,
        timeout: float | tuple[float, float] | None = None,
        async_response_url: str | None = None,
    ) -> CallHandle:
        """Start a call for ``challenge`` and return at once with its id (status PENDING).

        ``timeout`` replaces the client's timeouts for this call. ``async_response_url`` asks
        the backend to POST the outcome to that URL (default: the callback receiver's, if the
        client has one); feed what arrives there to :meth:`complete_from_callback`.
        """
        call, body, call_timeout = self._prepare(challenge, timeout, async_response_url, "initiate")
        self._register(call, body, call_timeout, queue=True)
        return CallHandle(call.call_id, CallStatus.PENDING)

    def status(self, call_id: str) -> CallStatus:
        """PENDING while the call runs, then SUCCESS (authenticated) or FAILED."""
        call = self._find(call_id)
        return self._status_of(call)

    def wait(self, call_id: str, timeout: float | None) -> CallStatus:
        """Block up to ``timeout`` seconds (None: no limit) for the call to finish; its status."""
        if timeout is not None and (not isinstance(timeout, int | float) or timeout < 0):
            raise InvalidValueError("timeout must be seconds >= 0 or None", field="timeout")
        return self._wait_for(self._find(call_id), timeout)

    def failure_message(self, call_id: str) -> str:
        """Why the call failed, for people; empty for a call that authenticated.

        Raises :class:`~pyampam.exceptions.CallPendingError` while the call is pending.
        """
        call = self._finished_call(call_id)
        if call.error is not None:
            return str(call.error)
        if call.result is None or call.result.authenticated:
            return ""
        return call.result.message

    def result(self, call_id: str) -> MfaResult:
        """The finished call's outcome; raises the provider error that ended a failed call.

        Raises :class:`~pyampam.exceptions.CallPendingError` while the call is pending.
        """
        return self._outcome(self._finished_call(call_id))

    def authenticate(
        self,
        challenge: MfaChallenge,
        *,
        timeout: float | None = DEFAULT_AUTHENTICATE_TIMEOUT,
        cancel: threading.Event | None = None,
    ) -> MfaResult:
        """Start a call and block until its outcome, ``timeout`` seconds or ``cancel`` is set.

        See :func:`pyampam.providers.authenticate`. The call is registered like one from
        :meth:`initiate`, so :meth:`status`, :meth:`result` and :meth:`failure_message` know
        its id (the result's ``request_id``) while it runs and afterwards.

        When nothing can end the wait before the exchange ends on its own (no ``cancel``, and
        ``timeout`` is None or at least the client's connect timeout per endpoint plus its
        read timeout), the calling thread talks to the backend itself, which saves handing
        the call to a worker thread and back. It takes one of the ``max_concurrent_calls``
        places shared with :meth:`initiate`'s workers; when they are all taken, or when
        ``cancel`` or a shorter ``timeout`` is given, the call is queued for a worker as
        :meth:`initiate` does, and the wait (not the call) ends at the deadline or on cancel.

        On the calling thread a blocking read cannot be interrupted; the deadline is kept by
        shortening the connect and read timeouts to the time left. An answer that does not
        come before then fails the call with
        :class:`~pyampam.exceptions.ProviderTimeoutError` (the request is not sent again).
        """
        if cancel is not None or not self._ends_before(timeout):
            return _authenticate(self, challenge, timeout=timeout, cancel=cancel)
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._slots.acquire(blocking=False):
            # Every place is taken: wait in the workers' queue like any initiated call.
            return _authenticate(self, challenge, timeout=timeout, cancel=None)
        try:
            call, body, call_timeout = self._prepare(challenge, None, None, "authenticate")
            self._register(call, body, call_timeout, queue=False)
            try:
                self._run(call, body, call_timeout, deadline=deadline)
            except BaseException as interruption:
                # KeyboardInterrupt and the like: nothing will finish the call but this.
                self._finish_interrupted(call, interruption)
                raise
        finally:
            self._slots.release()
        if not call.done.is_set():
            # An asynchronous call: the backend took it and POSTs the outcome later.
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            status = self._wait_for(call, left)
            if status is CallStatus.PENDING and timeout is not None:
                raise MfaTimeoutError(
                    f"call {call.call_id} had not finished after {timeout:g} s; it may still "
                    "complete, so ask for its status later or raise the timeout",
                    call_id=call.call_id,
                )
        return self._outcome(call)

    def complete_from_callback(self, body: bytes) -> MfaResult:
        """Finish a pending asynchronous call with the backend's POSTed ``body``.

        Returns the result. Raises :class:`~pyampam.exceptions.ProviderResponseError` for a
        body that is not an answer, and :class:`~pyampam.exceptions.UnknownCallError` when no
        asynchronous call of this client waits for that request id.
        """
        result = parse_authentication_response(bytes(body), expected_request_id=None)
        with self._lock:
            call = self._calls.get(result.request_id)
        if call is None or not call.is_async or not self._finish(call, result=result):
            raise UnknownCallError(
                f"no asynchronous call of this client waits for request {result.request_id!r} "
                "(never started here, already finished, or forgotten)",
                call_id=result.request_id,
            )
        return result

    # -- life cycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop taking calls, fail the queued ones and close the connections.

        Calls already talking to the backend run to their end (at most the read timeout);
        queued calls, which sent nothing, fail with
        :class:`~pyampam.exceptions.ConnectionFailedError`; asynchronous calls still waiting
        for their outcome fail with :class:`~pyampam.exceptions.DeliveryUncertainError`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiting = [
                call
                for call in self._calls.values()
                if call.is_async and not call.done.is_set() and call.async_deadline is not None
            ]
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._receiver is not None:
            self._receiver.detach(self)
        for call in waiting:
            self._finish(
                call,
                error=DeliveryUncertainError(
                    f"the client was closed before the outcome of call {call.call_id} arrived",
                    call_id=call.call_id,
                    endpoint=call.endpoint,
                ),
            )
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _prepare(
        self,
        challenge: MfaChallenge,
        timeout: float | tuple[float, float] | None,
        async_response_url: str | None,
        method: str,
    ) -> tuple[_Call, bytes, tuple[float, float]]:
        """Check the arguments; a new call, the request that places it, and its timeouts."""
        if not isinstance(challenge, MfaChallenge):
            raise InvalidValueError(
                f"{method}() takes an MfaChallenge, not {type(challenge).__name__}",
                field="challenge",
            )
        call_timeout = self._timeout if timeout is None else _check_timeout(timeout)
        if async_response_url is not None:
            _check_url(async_response_url, "async_response_url", schemes=("http", "https"))
        response_url = async_response_url
        if response_url is None and self._receiver is not None:
            response_url = self._receiver.url
        call_id = new_request_id()
        body = build_authentication_request(
            challenge,
            license_key=self._license_key,
            group_key=self._group_key,
            request_id=call_id,
            source=self._source,
            async_response_url=response_url,
        )
        call = _Call(
            call_id, challenge.mode, is_async=response_url is not None, started_at=time.monotonic()
        )
        return call, body, call_timeout

    def _register(
        self, call: _Call, body: bytes, timeout: tuple[float, float], *, queue: bool
    ) -> None:
        """Make the call known by its id; with ``queue``, hand it to the workers."""
        self._sweep_expired()
        with self._lock:
            if self._closed:
                raise ConnectionFailedError(
                    "this PhoneFactorClient is closed; create a new one", call_id=call.call_id
                )
            self._prune_locked(time.monotonic())
            self._calls[call.call_id] = call
            if queue:
                future = self._executor.submit(self._run_queued, call, body, timeout)
                self._futures[call.call_id] = future
        if queue:
            future.add_done_callback(functools.partial(self._after_run, call))
        _log.debug(
            "MFA call %s started (%s)",
            call.call_id,
            call.mode.value,
            extra={"call_id": call.call_id, "mode": call.mode.value, "is_async": call.is_async},
        )

    def _ends_before(self, timeout: object) -> bool:
        """Whether an exchange ends on its own timeouts before ``timeout`` seconds pass."""
        if timeout is None:
            return True
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            return False
        connect, read = self._timeout
        return timeout >= len(self._endpoints) * connect + read

    def _wait_for(self, call: _Call, timeout: float | None) -> CallStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            now = time.monotonic()
            limit = None if deadline is None else max(0.0, deadline - now)
            if call.async_deadline is not None:
                until_expiry = max(0.0, call.async_deadline - now)
                limit = until_expiry if limit is None else min(limit, until_expiry)
            elif call.is_async:
                # The acknowledgement, which starts the expiry clock, has not been read yet.
                limit = _ACK_POLL if limit is None else min(limit, _ACK_POLL)
            finished = call.done.wait(limit)
            self._expire_if_due(call)
            if finished or call.done.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self._status_of(call)

    @staticmethod
    def _outcome(call: _Call) -> MfaResult:
        if call.error is not None:
            # A copy, so threads asking at once do not share (and extend) one traceback.
            raise copy.copy(call.error) from call.error
        if call.result is None:  # pragma: no cover - a finished call has one or the other
            raise CallPendingError(f"call {call.call_id} has no result", call_id=call.call_id)
        return call.result

    def _find(self, call_id: str) -> _Call:
        with self._lock:
            call = self._calls.get(call_id) if isinstance(call_id, str) else None
        if call is None:
            raise UnknownCallError(
                f"no call {call_id!r} on this client (never started here, or finished more than "
                f"{FINISHED_CALL_RETENTION:g} s ago and forgotten)",
                call_id=call_id if isinstance(call_id, str) else None,
            )
        self._expire_if_due(call)
        return call

    def _finished_call(self, call_id: str) -> _Call:
        call = self._find(call_id)
        if not call.done.is_set():
            raise CallPendingError(
                f"call {call_id} has not finished yet; wait for it or ask for its status later",
                call_id=call_id,
            )
        return call

    @staticmethod
    def _status_of(call: _Call) -> CallStatus:
        if not call.done.is_set():
            return CallStatus.PENDING
        if call.result is None:
            return CallStatus.FAILED
        return call.result.status

    def _expire_if_due(self, call: _Call) -> None:
        deadline = call.async_deadline
        if deadline is None or call.done.is_set() or time.monotonic() < deadline:
            return
        self._finish(
            call,
            error=ProviderTimeoutError(
                f"the backend accepted call {call.call_id} but POSTed no outcome within "
                f"{self._async_result_timeout:g} s; check that it can reach the callback URL",
                call_id=call.call_id,
                endpoint=call.endpoint,
            ),
        )

    def _finish(
        self,
        call: _Call,
        *,
        result: MfaResult | None = None,
        error: ProviderError | None = None,
    ) -> bool:
        """Record the call's outcome unless it has one already; True if this one counted."""
        with self._lock:
            if call.finished_at is not None:
                return False
            call.result = result
            call.error = error
            now = time.monotonic()
            call.finished_at = now
            self._futures.pop(call.call_id, None)
            if call.call_id in self._calls:
                self._finished[call.call_id] = now
            self._prune_locked(now)
        level = logging.WARNING if error is not None else logging.INFO
        if _log.isEnabledFor(level):
            if error is not None:
                outcome = type(error).__name__
            elif result is not None and result.authenticated:
                outcome = "authenticated"
            elif result is not None and result.error_id is not None and result.call_status is None:
                outcome = "refused"
            else:
                outcome = "not_authenticated"
            elapsed = round(now - call.started_at, 3)
            _log.log(
                level,
                "MFA call %s finished: %s after %.3f s",
                call.call_id,
                outcome,
                elapsed,
                extra={
                    "call_id": call.call_id,
                    "endpoint": call.endpoint,
                    "mode": call.mode.value,
                    "outcome": outcome,
                    "elapsed": elapsed,
                    "call_status": None if result is None else result.call_status,
                    "error_id": None if result is None else result.error_id,
                },
            )
        # Set after logging, so whoever waited for the call finds its record already written.
        call.done.set()
        return True

    def _sweep_expired(self) -> None:
        """Fail the asynchronous calls whose outcome is overdue, even if nobody asks for them."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_sweep < _SWEEP_INTERVAL:
                return
            self._last_sweep = now
            overdue = [
                call
                for call in self._calls.values()
                if call.async_deadline is not None and call.finished_at is None
            ]
        for call in overdue:
            self._expire_if_due(call)

    def _prune_locked(self, now: float) -> None:
        while self._finished:
            call_id, finished_at = next(iter(self._finished.items()))
            if (
                len(self._finished) <= MAX_FINISHED_CALLS
                and now - finished_at < FINISHED_CALL_RETENTION
            ):
                break
            del self._finished[call_id]
            self._calls.pop(call_id, None)

    def _after_run(self, call: _Call, future: concurrent.futures.Future[None]) -> None:
        if future.cancelled():
            self._finish_unsent(call)

    def _finish_unsent(self, call: _Call) -> None:
        self._finish(
            call,
            error=ConnectionFailedError(
                f"the client was closed before call {call.call_id} was sent; nothing was "
                "delivered, so it is safe to try again",
                call_id=call.call_id,
            ),
        )

    def _finish_interrupted(self, call: _Call, interruption: BaseException) -> None:
        error = DeliveryUncertainError(
            f"call {call.call_id} was interrupted ({type(interruption).__name__}) while it "
            "talked to the backend; the request may have placed a call, so it was not sent again",
            call_id=call.call_id,
            endpoint=call.endpoint,
        )
        error.__cause__ = interruption
        error.__suppress_context__ = True
        self._finish(call, error=error)

    def _run_queued(self, call: _Call, body: bytes, timeout: tuple[float, float]) -> None:
        """A worker's turn: take a place (calls on their callers' threads share them), run."""
        with self._slots:
            if self._closed:
                # Closed while this call waited for a place: it is still only queued.
                self._finish_unsent(call)
                return
            self._run(call, body, timeout)

    def _run(
        self,
        call: _Call,
        body: bytes,
        timeout: tuple[float, float],
        *,
        deadline: float | None = None,
    ) -> None:
        try:
            self._exchange(call, body, timeout, deadline=deadline)
        except ProviderError as error:
            self._finish(call, error=error)
        except Exception as error:  # noqa: BLE001 -- a bug must not leave the call pending forever
            _log.exception("MFA call %s failed unexpectedly", call.call_id)
            failure = ProviderError(
                f"call {call.call_id} failed with an unexpected error "
                f"({type(error).__name__}); please report this",
                call_id=call.call_id,
                endpoint=call.endpoint,
            )
            failure.__cause__ = error
            failure.__suppress_context__ = True
            self._finish(call, error=failure)

    def _exchange(
        self,
        call: _Call,
        body: bytes,
        timeout: tuple[float, float],
        *,
        deadline: float | None = None,
    ) -> None:
        """Send the call to the endpoints in turn until one takes it; record its outcome.

        ``deadline`` (a ``time.monotonic()`` value) shortens the timeouts to the time left.
        """
        count = len(self._endpoints)
        with self._lock:
            start = self._current
        failures: list[ProviderError] = []
        for offset in range(count):
            index = (start + offset) % count
            endpoint = self._endpoints[index]
            call.endpoint = endpoint
            attempt_timeout = timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    failures.append(
                        ConnectionFailedError(
                            f"the caller's deadline passed before call {call.call_id} could be "
                            f"sent to {endpoint}; nothing was sent",
                            call_id=call.call_id,
                            endpoint=endpoint,
                        )
                    )
                    break
                attempt_timeout = (min(timeout[0], left), min(timeout[1], left))
            attempt = self._transport.post(index, body, attempt_timeout, call.call_id)
            if attempt.new_connection:
                with self._lock:
                    self._connections_opened += 1
            if attempt.error is not None and not attempt.delivered:
                failures.append(attempt.error)
                self._move_past(index)
                _log.warning(
                    "endpoint %s could not be reached for call %s: %s",
                    endpoint,
                    call.call_id,
                    attempt.error,
                    extra={
                        "call_id": call.call_id,
                        "endpoint": endpoint,
                        "mode": call.mode.value,
                        "outcome": type(attempt.error).__name__,
                    },
                )
                continue
            if attempt.error is not None:
                if attempt_timeout[1] < timeout[1] and type(attempt.error) is ProviderTimeoutError:
                    raise ProviderTimeoutError(
                        f"{endpoint} gave no answer before the caller's deadline; the request "
                        "may have placed a call, so it was not sent again; raise the timeout "
                        "of authenticate() if calls take longer",
                        call_id=call.call_id,
                        endpoint=endpoint,
                    ) from attempt.error.__cause__
                raise attempt.error
            self._accept(call, attempt, endpoint)
            return
        raise _all_failed(failures, call.call_id) from (failures[-1] if failures else None)

    def _move_past(self, index: int) -> None:
        with self._lock:
            # Another call may have moved on already; only the first to fail moves it.
            if self._current == index:
                self._current = (index + 1) % len(self._endpoints)

    def _accept(self, call: _Call, attempt: _Attempt, endpoint: str) -> None:
        if attempt.status_code != 200:
            raise ProviderResponseError(
                f"{endpoint} answered HTTP {attempt.status_code} instead of 200; the call's "
                "outcome is unknown",
                call_id=call.call_id,
                endpoint=endpoint,
                status_code=attempt.status_code,
            )
        if not call.is_async:
            result = parse_authentication_response(
                attempt.body, expected_request_id=call.call_id, endpoint=endpoint
            )
            self._finish(call, result=result)
            return
        acknowledgement = parse_async_acknowledgement(
            attempt.body, expected_request_id=call.call_id, endpoint=endpoint
        )
        if acknowledgement.refusal is not None:
            self._finish(call, result=acknowledgement.refusal)
            return
        with self._lock:
            if call.finished_at is None:
                call.async_deadline = time.monotonic() + self._async_result_timeout


def _all_failed(failures: list[ProviderError], call_id: str) -> ProviderError:
    """The error for a call no endpoint could take: a TLS kind if every failure was that kind."""
    details = "; ".join(failure.message for failure in failures)
    endpoint = failures[-1].endpoint if failures else None
    kinds = {type(failure) for failure in failures}
    kind: type[ProviderError] = ConnectionFailedError
    if len(kinds) == 1 and issubclass(next(iter(kinds)), TlsError):
        kind = next(iter(kinds))
    elif kinds and all(issubclass(each, TlsError) for each in kinds):
        kind = TlsError
    return kind(
        f"no endpoint took call {call_id}, so nothing was delivered and it is safe to try "
        f"again: {details}",
        call_id=call_id,
        endpoint=endpoint,
    )
