"""A real HTTPS PhoneFactor (Azure MFA SDK) backend on 127.0.0.1 for tests: scripted and faulty.

One thread accepts connections; each connection gets its own thread, which does the TLS
handshake (so a crowd of clients never queues behind one slow handshake) and then serves HTTP/1.1
requests on it, keep-alive included. Every answer is written in one piece, so Nagle's algorithm
never meets a delayed ACK.
"""

from __future__ import annotations

import collections
import hmac
import http
import http.client
import http.server
import secrets
import socket
import ssl
import struct
import threading
import urllib.parse
from typing import TYPE_CHECKING

import attrs

from pyampam.exceptions import InvalidValueError
from pyampam.providers._sockets import close_orphaned_tls_socket
from pyampam.testing._phonefactor_messages import (
    RecordedRequest,
    RejectedRequest,
    RequestRejectedError,
    ServerErrorId,
    build_acknowledgement,
    build_error,
    build_response,
    generate_otp,
    parse_request,
)
from pyampam.testing._phonefactor_outcomes import Fault, ServerOutcome
from pyampam.testing._threaded_server import HOST, ConnectionHandler, ThreadedServer

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Self

    from pyampam.settings import SdkCredentials
    from pyampam.testing._pki import TestPki

__all__ = ["CallbackDelivery", "PhoneFactorTestServer", "ServerStats", "unused_url"]

PATH = "/pfd/pfd.pl"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
_XML_CONTENT_TYPE = "text/xml; charset=utf-8"
_CALLBACK_TIMEOUT = 5.0
_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>"
    b"<body><h1>Service Unavailable</h1><p>The server is down for maintenance.</p>"
    b"</body></html>\n"
)


def unused_url() -> str:
    """A ``https://127.0.0.1:PORT/pfd/pfd.pl`` URL where nothing listens: connecting is refused.

    The port was free a moment ago; another process could take it, but on a test machine that
    is rare enough not to matter.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    return f"https://{HOST}:{port}{PATH}"


@attrs.frozen
class ServerStats:
    """A snapshot of the test server's counters.

    ``connections_accepted`` counts TCP connections, ``handshakes_completed`` and
    ``handshakes_failed`` the TLS handshakes (a client that reuses its connection makes one
    handshake for many requests), ``requests_received`` every HTTP request read,
    ``responses_sent`` every complete HTTP answer written, ``callbacks_sent`` the asynchronous
    results POSTed (whatever the receiver answered), and ``active_connections`` the connections
    open right now.
    """

    connections_accepted: int = 0
    handshakes_completed: int = 0
    handshakes_failed: int = 0
    requests_received: int = 0
    responses_sent: int = 0
    callbacks_sent: int = 0
    active_connections: int = 0


@attrs.frozen(repr=False)
class CallbackDelivery:
    """One POST of an asynchronous request's final response to its response URL.

    ``status`` is the receiver's HTTP status, or None when the POST failed (``error`` says
    why). ``body`` is the response that was (or would have been) sent.
    """

    request_id: str
    url: str
    body: bytes
    status: int | None = None
    error: str | None = None

    def __repr__(self) -> str:
        return (
            f"CallbackDelivery(request_id={self.request_id!r}, url={self.url!r}, "
            f"status={self.status!r}, error={self.error!r})"
        )


@attrs.frozen
class _Plan:
    """What a connection thread does with one request: wait, then answer or misbehave."""

    payload: bytes
    delay: float = 0.0
    fault: Fault | None = None
    seconds: float | None = None
    callback: tuple[str, str, bytes, float] | None = None  # url, request id, body, delay


class PhoneFactorTestServer(ThreadedServer[ssl.SSLSocket]):
    """A PhoneFactor backend speaking protocol 1.5 over mutual TLS on ``127.0.0.1``.

    Requires a client certificate issued by ``pki``'s main CA, checks ``license_key`` and
    ``group_key`` (a mismatch answers ``disposition="fail"`` with
    :attr:`ServerErrorId.WRONG_LICENSE_KEY` or :attr:`ServerErrorId.WRONG_GROUP_KEY`), and
    answers each request with the next scripted :class:`ServerOutcome` (see :meth:`script`),
    else ``default_outcome``. Every well-formed request is recorded in :attr:`requests`,
    every refused one in :attr:`rejected_requests`.

    Asynchronous requests (``async="1"`` with a ``response-url``) are acknowledged at once
    (see :func:`build_acknowledgement`); the final response is POSTed to the response URL
    (loopback only) after the outcome's ``delay``. An outcome with ``disposition="fail"`` is
    instead the answer to the request itself, sent after the outcome's ``delay`` as for a
    synchronous request, and no POST follows; a wrong key is answered that way at once. A
    :class:`Fault` likewise replaces the acknowledgement, after the ``delay``, and no POST
    follows.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. ``ssl_context``
    replaces the server's TLS settings (default: ``pki.server_ssl_context()``);
    ``callback_ssl_context`` is what the POSTs to ``https://`` response URLs use (default: trust
    ``pki``'s CA, present no certificate). Request bodies over ``max_body_size`` bytes are
    answered ``413``. ``repr()`` never shows the keys.
    """

    _thread_prefix = "phonefactor-test"

    def __init__(
        self,
        pki: TestPki,
        *,
        license_key: str,
        group_key: str,
        default_outcome: ServerOutcome | None = None,
        ssl_context: ssl.SSLContext | None = None,
        callback_ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
        request_queue_size: int = 1024,
        max_body_size: int = 1 << 20,
    ) -> None:
        self._pki = pki
        self._license_key = license_key
        self._group_key = group_key
        self._initial_outcome = default_outcome or ServerOutcome()
        self._default_outcome = self._initial_outcome
        # Built once: making a context per connection is the expensive path.
        self._context = ssl_context or pki.server_ssl_context()
        self._callback_context = callback_ssl_context or pki.client_ssl_context(client_cert=None)
        super().__init__(port=port, request_queue_size=request_queue_size)
        self.max_body_size = max_body_size

        self._queues: dict[str, collections.deque[ServerOutcome]] = {}
        self._requests: list[RecordedRequest] = []
        self._rejected: list[RejectedRequest] = []
        self._callbacks: list[CallbackDelivery] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start listening on ``127.0.0.1`` and serving in background threads; returns self."""
        self._claim_start()
        self._open_wakeup()
        try:
            self._listen()
            self._resume_accepting()
        except BaseException:
            self.stop()  # a port already taken must not leave the wake-up sockets open
            raise
        return self

    def stop(self) -> None:
        """Stop serving: stalled and delayed requests are cut off; returns within seconds.

        Open connections are closed without an answer; undelivered callbacks are dropped.
        Calling it twice, or before :meth:`start`, does nothing.
        """
        self._stop_serving()

    def __repr__(self) -> str:
        state = "stopped" if self._stopping.is_set() else "running" if self._started else "new"
        where = f"url={self.url!r}, " if self._port else ""
        return f"PhoneFactorTestServer({where}{state})"

    # -- where it is -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (chosen at random unless ``port=`` was given)."""
        if not self._port:
            raise RuntimeError(
                "the server has no port before start(); start it first, or give it one with port="
            )
        return self._port

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT/pfd/pfd.pl``, the endpoint to give a client."""
        return f"https://{HOST}:{self.port}{PATH}"

    @property
    def pki(self) -> TestPki:
        """The PKI the server's certificate and the client certificates it accepts come from."""
        return self._pki

    @property
    def credentials(self) -> SdkCredentials:
        """SDK credentials this server accepts: its keys and the PKI's PKCS#12 password."""
        return self._pki.credentials(license_key=self._license_key, group_key=self._group_key)

    # -- connections: refuse, pause, accept ------------------------------------------------

    def refuse_connections(self) -> None:
        """Close the listening socket, so new connections are refused (``ECONNREFUSED``).

        Connections already open keep being served. :meth:`accept_connections` listens again
        on the same port.
        """
        self._halt_accepting()
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def pause_accepting(self) -> None:
        """Keep listening but stop accepting: connects succeed, TLS handshakes hang.

        The kernel queues the connections; :meth:`accept_connections` serves them.
        """
        self._halt_accepting()

    def accept_connections(self) -> None:
        """Undo :meth:`refuse_connections` or :meth:`pause_accepting`."""
        if self._stopping.is_set() or not self._started:
            raise RuntimeError(
                "the server is not running: accept_connections() works between start() and stop()"
            )
        if self._listener is None:
            self._listen()
        if self._accept_thread is None:
            self._resume_accepting()

    # -- one connection: TLS, then HTTP ------------------------------------------------------

    def _prepare_connection(self, raw: socket.socket) -> ssl.SSLSocket | None:
        try:
            raw.setblocking(True)
            # No I/O yet: the handshake happens in the connection's own thread.
            return self._context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        except OSError as error:
            # Reset before it was accepted. The descriptor may have moved into a TLS socket
            # that wrap_socket then dropped (see close_orphaned_tls_socket): close both.
            close_orphaned_tls_socket(error)
            raw.close()
            return None

    def _handle_connection(self, connection: ssl.SSLSocket, connection_id: int) -> None:
        try:
            connection.do_handshake()
        except OSError:
            self._count("handshakes_failed")
            return
        self._count("handshakes_completed")
        _RequestHandler(connection, self, connection_id)

    # -- scripting ---------------------------------------------------------------------------

    @property
    def default_outcome(self) -> ServerOutcome:
        """The outcome used when no scripted outcome matches a request."""
        with self._lock:
            return self._default_outcome

    @default_outcome.setter
    def default_outcome(self, outcome: ServerOutcome) -> None:
        with self._lock:
            self._default_outcome = outcome

    def script(
        self, *outcomes: ServerOutcome, username: str | None = None, phone: str | None = None
    ) -> None:
        """Queue ``outcomes`` for the next requests, in order, each used once.

        With ``username`` they apply only to that user's requests; with ``phone`` (the national
        number, or the country code and national number as digits, e.g. ``"12135551212"``)
        only to that phone's. A request takes the first of: its user's queue, its phone's
        queue, the general queue, :attr:`default_outcome`.
        """
        if username is not None and phone is not None:
            raise InvalidValueError(
                "script outcomes for a username or for a phone, not both", field="phone"
            )
        key = _queue_key(username=username, phone=phone)
        with self._lock:
            self._queues.setdefault(key, collections.deque()).extend(outcomes)

    @property
    def unused_outcomes(self) -> int:
        """How many scripted outcomes are still queued."""
        with self._lock:
            return sum(len(queue) for queue in self._queues.values())

    def reset(self) -> None:
        """Forget scripts, records, callbacks, errors and counters; restore the default outcome."""
        with self._lock:
            self._queues.clear()
            self._requests.clear()
            self._rejected.clear()
            self._callbacks.clear()
            self._errors.clear()
            self._counts.clear()
            self._default_outcome = self._initial_outcome

    def _next_outcome(self, request: RecordedRequest) -> ServerOutcome:
        keys = [_queue_key(username=request.username)]
        if request.national_number is not None:
            full = f"{request.country_code or ''}{request.national_number}"
            keys += [_queue_key(phone=full), _queue_key(phone=request.national_number)]
        keys.append(_queue_key())
        for key in keys:
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
        return self._default_outcome

    # -- what happened -------------------------------------------------------------------

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every well-formed request received so far, in arrival order (wrong keys included)."""
        with self._lock:
            return tuple(self._requests)

    @property
    def rejected_requests(self) -> tuple[RejectedRequest, ...]:
        """Every request refused as malformed, hostile or unsupported, in arrival order."""
        with self._lock:
            return tuple(self._rejected)

    @property
    def callbacks(self) -> tuple[CallbackDelivery, ...]:
        """Every POST of an asynchronous result attempted so far."""
        with self._lock:
            return tuple(self._callbacks)

    @property
    def errors(self) -> tuple[BaseException, ...]:
        """Unexpected exceptions in the server's threads; a healthy run leaves this empty."""
        with self._lock:
            return tuple(self._errors)

    @property
    def stats(self) -> ServerStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return ServerStats(
                connections_accepted=self._counts["connections_accepted"],
                handshakes_completed=self._counts["handshakes_completed"],
                handshakes_failed=self._counts["handshakes_failed"],
                requests_received=self._counts["requests_received"],
                responses_sent=self._counts["responses_sent"],
                callbacks_sent=self._counts["callbacks_sent"],
                active_connections=len(self._connections),
            )

    def wait_for_requests(self, count: int, *, timeout: float = 5.0) -> tuple[RecordedRequest, ...]:
        """Wait until at least ``count`` requests were recorded; raises TimeoutError if not."""
        self._wait(lambda: len(self._requests) >= count, timeout, f"{count} request(s)")
        return self.requests

    def wait_for_callbacks(
        self, count: int, *, timeout: float = 5.0
    ) -> tuple[CallbackDelivery, ...]:
        """Wait until ``count`` callback POSTs were attempted; raises TimeoutError if not."""
        self._wait(lambda: len(self._callbacks) >= count, timeout, f"{count} callback(s)")
        return self.callbacks

    def _wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        with self._lock:
            if not self._lock.wait_for(condition, timeout):
                raise TimeoutError(f"the test server did not see {what} within {timeout} s")

    # -- answering ---------------------------------------------------------------------------

    def _plan(self, body: bytes, connection_id: int) -> _Plan:
        try:
            request = attrs.evolve(parse_request(body), connection_id=connection_id)
        except RequestRejectedError as rejection:
            rejected = RejectedRequest(
                error_id=rejection.error_id,
                reason=rejection.reason,
                body=body,
                request_id=rejection.request_id,
                connection_id=connection_id,
            )
            with self._lock:
                self._rejected.append(rejected)
                self._lock.notify_all()
            return _Plan(build_error(rejection.request_id, rejection.error_id))

        key_error = self._check_keys(request)
        with self._lock:
            if key_error is not None:
                outcome = ServerOutcome.fail(int(key_error))
            else:
                outcome = self._with_otp(request, self._next_outcome(request))
            self._requests.append(attrs.evolve(request, outcome=outcome))
            self._lock.notify_all()
        if key_error is not None:
            return _Plan(build_error(request.request_id, key_error))

        answer = build_response(request.request_id, request.kind, outcome)
        if outcome.fault is Fault.MISMATCHED_REQUEST_ID:
            other = f"mismatched-{request.request_id}"
            return _Plan(build_response(other, request.kind, outcome), delay=outcome.delay)
        if outcome.fault is not None:
            return _Plan(answer, delay=outcome.delay, fault=outcome.fault, seconds=outcome.seconds)
        # A refusal places no call, so there is nothing to POST later: it is the answer itself.
        if request.is_async and request.response_url and outcome.disposition == "success":
            return _Plan(
                build_acknowledgement(request.request_id),
                callback=(request.response_url, request.request_id, answer, outcome.delay),
            )
        return _Plan(answer, delay=outcome.delay)

    def _check_keys(self, request: RecordedRequest) -> ServerErrorId | None:
        # Constant-time comparison: a habit worth keeping even in a test double.
        if not hmac.compare_digest(request.license_key.encode(), self._license_key.encode()):
            return ServerErrorId.WRONG_LICENSE_KEY
        if not hmac.compare_digest(request.group_key.encode(), self._group_key.encode()):
            return ServerErrorId.WRONG_GROUP_KEY
        return None

    @staticmethod
    def _with_otp(request: RecordedRequest, outcome: ServerOutcome) -> ServerOutcome:
        mode = request.mode
        if (
            outcome.otp is None
            and outcome.disposition == "success"
            and mode is not None
            and mode.returns_otp
        ):
            return attrs.evolve(outcome, otp=generate_otp())
        return outcome

    def _start_callback(self, callback: tuple[str, str, bytes, float]) -> None:
        thread = threading.Thread(
            target=self._deliver_callback,
            args=callback,
            name=f"phonefactor-test-callback-{callback[1]}",
            daemon=True,
        )
        with self._lock:
            if self._stopping.is_set():
                return
            self._threads.add(thread)
        thread.start()

    def _deliver_callback(self, url: str, request_id: str, body: bytes, delay: float) -> None:
        try:
            status: int | None = None
            error: str | None = None
            if self._stopping.wait(delay):
                error = "the server stopped before the callback was due"
            else:
                try:
                    status = self._post(url, body)
                except (OSError, http.client.HTTPException, ValueError) as problem:
                    error = f"{type(problem).__name__}: {problem}"
            delivery = CallbackDelivery(request_id, url, body, status=status, error=error)
            with self._lock:
                self._callbacks.append(delivery)
                if status is not None:
                    self._counts["callbacks_sent"] += 1
                self._lock.notify_all()
        except Exception as unexpected:  # noqa: BLE001 -- kept for the test to see in .errors
            self._record_error(unexpected)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _post(self, url: str, body: bytes) -> int:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or host not in _LOOPBACK_NAMES:
            # A test server must never reach beyond the machine it runs on.
            raise ValueError(f"response URL {url!r} is not an http(s) URL on the loopback host")
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                host, parts.port, timeout=_CALLBACK_TIMEOUT, context=self._callback_context
            )
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=_CALLBACK_TIMEOUT)
        try:
            connection.request(
                "POST", target, body=body, headers={"Content-Type": _XML_CONTENT_TYPE}
            )
            response = connection.getresponse()
            response.read()
            return response.status
        except OSError as error:
            # A receiver that resets the connection before TLS starts can leave the TLS
            # socket open, out of the connection's reach (see close_orphaned_tls_socket).
            close_orphaned_tls_socket(error)
            raise
        finally:
            connection.close()


def _queue_key(*, username: str | None = None, phone: str | None = None) -> str:
    if username is not None:
        return f"user:{username}"
    if phone is not None:
        digits = "".join(character for character in phone if character.isdigit())
        return f"phone:{digits}"
    return "any"


class _RequestHandler(ConnectionHandler[PhoneFactorTestServer]):
    """Serves the HTTP requests of one TLS connection until it closes."""

    server_version = "pyampam-phonefactor-test-server"

    def do_GET(self) -> None:
        """Only POST is served."""
        self.owner._count("requests_received")
        self._send(http.HTTPStatus.METHOD_NOT_ALLOWED, b"use POST\n", extra=("Allow", "POST"))

    def do_POST(self) -> None:
        """Answer one protocol request, as scripted."""
        self.owner._count("requests_received")
        if urllib.parse.urlsplit(self.path).path != PATH:
            self._send(http.HTTPStatus.NOT_FOUND, f"no such path; POST to {PATH}\n".encode())
            return
        body = self._read_body()
        if body is None:
            return
        plan = self.owner._plan(body, self.connection_id)
        if plan.delay and self.owner._stopping.wait(plan.delay):
            self.close_connection = True
            return
        self._execute(plan)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(http.HTTPStatus.LENGTH_REQUIRED, b"send Content-Length, not chunks\n")
            return None
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._send(http.HTTPStatus.LENGTH_REQUIRED, b"Content-Length is required\n")
            return None
        if not 0 <= length <= self.owner.max_body_size:
            self.close_connection = True
            self._send(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"request body too large\n")
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _execute(self, plan: _Plan) -> None:
        fault = plan.fault
        if fault is None:
            self._send(http.HTTPStatus.OK, plan.payload, content_type=_XML_CONTENT_TYPE)
            if plan.callback is not None:
                self.owner._start_callback(plan.callback)
        elif fault is Fault.DROP:
            self.close_connection = True
        elif fault is Fault.RESET:
            self.close_connection = True
            # Linger 0: close() then sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif fault is Fault.STALL:
            self.owner._stopping.wait(plan.seconds)
            self.close_connection = True
        elif fault is Fault.HTTP_500:
            self._send(http.HTTPStatus.INTERNAL_SERVER_ERROR, b"Internal Server Error\n")
        elif fault is Fault.GARBAGE:
            garbage = b"\xff\xfe\x00\x9c" + secrets.token_bytes(60)
            self._send(http.HTTPStatus.OK, garbage, content_type=_XML_CONTENT_TYPE)
        elif fault is Fault.HTML_ERROR:
            self._send(http.HTTPStatus.OK, _HTML_PAGE, content_type="text/html; charset=utf-8")
        elif fault is Fault.EMPTY_BODY:
            self._send(http.HTTPStatus.OK, b"", content_type=_XML_CONTENT_TYPE)
        elif fault is Fault.TRUNCATED:
            self.close_connection = True
            half = plan.payload[: len(plan.payload) // 2]
            self._send(
                http.HTTPStatus.OK,
                half,
                content_type=_XML_CONTENT_TYPE,
                length=len(plan.payload),
                complete=False,
            )
        else:  # MISMATCHED_REQUEST_ID is answered like a normal plan
            self._send(http.HTTPStatus.OK, plan.payload, content_type=_XML_CONTENT_TYPE)

    def _send(
        self,
        status: http.HTTPStatus,
        body: bytes,
        *,
        content_type: str = "text/plain; charset=utf-8",
        length: int | None = None,
        extra: tuple[str, str] | None = None,
        complete: bool = True,
    ) -> None:
        headers = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body) if length is None else length}",
            f"Connection: {'close' if self.close_connection else 'keep-alive'}",
        ]
        if extra is not None:
            headers.append(f"{extra[0]}: {extra[1]}")
        if complete:
            # Counted before writing, so a client that has read the answer sees it counted.
            self.owner._count("responses_sent")
        # Headers and body in one write: two writes meet delayed ACK and cost ~40 ms each.
        self.wfile.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body)
