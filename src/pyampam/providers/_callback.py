"""A small HTTP server that takes the backend's asynchronous answers and finishes pending calls."""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import threading
from typing import TYPE_CHECKING, Protocol

from pyampam.exceptions import InvalidValueError, ProviderResponseError, UnknownCallError
from pyampam.providers._sockets import close_orphaned_tls_socket
from pyampam.providers._wire import MAX_RESPONSE_BYTES, parse_authentication_response

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from pyampam.providers._types import MfaResult

__all__ = ["DEFAULT_CALLBACK_PATH", "CallbackReceiver", "CallbackTarget"]

#: The path the receiver listens on, unless told otherwise.
DEFAULT_CALLBACK_PATH = "/pyampam/pfsdk-callback"

_log = logging.getLogger("pyampam.providers.callback")

# A backend POST takes milliseconds; a connection idling longer is holding a thread for nothing.
_SOCKET_TIMEOUT = 10.0


class CallbackTarget(Protocol):
    """What the receiver hands the answers to: a client with pending asynchronous calls."""

    def complete_from_callback(self, body: bytes) -> MfaResult:
        """Finish the pending call the body answers; raise UnknownCallError if there is none."""
        ...


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = _SOCKET_TIMEOUT
    # Each answer is written in one piece anyway; this avoids Nagle's delay on keep-alive.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        receiver = self.server.receiver
        if self.path.split("?", 1)[0] != receiver.path:
            self._answer(404, "no such callback path")
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.strip().isdigit():
            self._answer(411, "a Content-Length is required")
            return
        length = int(length_text)
        if length > MAX_RESPONSE_BYTES:
            self._answer(413, "the body is too large to be a protocol answer")
            return
        body = self.rfile.read(length)
        status, text = receiver._deliver(body, self.client_address[0])
        self._answer(status, text)

    def do_GET(self) -> None:
        self._answer(405, "only POST is accepted here")

    do_PUT = do_DELETE = do_HEAD = do_GET

    def _answer(self, status: int, text: str) -> None:
        # One POST per connection is all a backend sends; closing also discards any body an
        # early refusal left unread, which would otherwise be read as the next request.
        self.close_connection = True
        payload = (text + "\n").encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\n"
            "Connection: close\r\n"
            "\r\n"
        ).encode("latin-1")
        self.log_request(status)
        self.wfile.write(head + payload)

    def log_message(self, format: str, *args: object) -> None:
        _log.debug("callback receiver: " + format, *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], receiver: CallbackReceiver, family: socket.AddressFamily
    ) -> None:
        self.address_family = family
        self.receiver = receiver
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        try:
            return super().get_request()
        except OSError as error:
            # With HTTPS, accept() wraps the new connection at once; one reset while it
            # waited in the queue can leave that TLS socket open (see close_orphaned_tls_socket).
            close_orphaned_tls_socket(error)
            raise

    def handle_error(self, request: object, client_address: object) -> None:
        # The default prints to stderr; a broken callback must be logged and forgotten.
        _log.exception("callback receiver: error while handling a request from %s", client_address)


class CallbackReceiver:
    """A real HTTP server for the protocol's asynchronous variant.

    The backend POSTs each call's outcome to :attr:`url`; the receiver parses it with the same
    reader as synchronous answers and finishes the pending call with that request id on the
    attached clients (a :class:`~pyampam.providers.PhoneFactorClient` attaches itself when
    given ``callback_receiver=``). Unknown request ids and bodies that are not answers get
    ``400`` and a log line; nothing a sender does stops the server.

    It listens on ``host`` (default 127.0.0.1) and ``port`` (0: any free port) at ``path``.
    ``public_url`` is the URL the backend must use when that differs (behind a reverse proxy,
    say), and ``ssl_context`` (a server context) makes it serve HTTPS. The socket is bound at
    construction; :meth:`start` (or ``with``) starts the background thread, :meth:`close`
    stops it. Request ids are 128-bit random values, but keep the URL private anyway.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        path: str = DEFAULT_CALLBACK_PATH,
        public_url: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise InvalidValueError(f"path must start with '/', not {path!r}", field="path")
        self.path = path
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._server = _Server((host, port), self, family)
        if ssl_context is not None:
            try:
                # The handshake then happens on the handler's thread, not in the accept loop.
                self._server.socket = ssl_context.wrap_socket(
                    self._server.socket, server_side=True, do_handshake_on_connect=False
                )
            except BaseException:  # a client context, say: release the port before failing
                self._server.server_close()
                raise
        bound_host, bound_port = self._server.server_address[:2]
        self._address = (str(bound_host), int(bound_port))
        scheme = "https" if ssl_context is not None else "http"
        shown = self._address[0]
        shown_host = f"[{shown}]" if family == socket.AF_INET6 else shown
        self._url = public_url or f"{scheme}://{shown_host}:{self._address[1]}{path}"
        self._lock = threading.Lock()
        self._targets: list[CallbackTarget] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._accepted = 0
        self._rejected = 0

    @property
    def url(self) -> str:
        """The URL the backend is told to POST answers to."""
        return self._url

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        return self._address

    @property
    def accepted(self) -> int:
        """How many POSTs finished a call."""
        with self._lock:
            return self._accepted

    @property
    def rejected(self) -> int:
        """How many POSTs were refused (not an answer, or for no pending call)."""
        with self._lock:
            return self._rejected

    def attach(self, target: CallbackTarget) -> None:
        """Send answers to ``target`` too (a client with asynchronous calls)."""
        with self._lock:
            if not any(existing is target for existing in self._targets):
                self._targets.append(target)

    def detach(self, target: CallbackTarget) -> None:
        """Stop sending answers to ``target``."""
        with self._lock:
            self._targets = [existing for existing in self._targets if existing is not target]

    def start(self) -> Self:
        """Start serving on a background thread (again, it does nothing)."""
        with self._lock:
            if self._closed:
                raise InvalidValueError("this CallbackReceiver is closed; create a new one")
            if self._thread is not None:
                return self
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="pyampam-callback",
                daemon=True,
            )
            self._thread.start()
        _log.info("callback receiver listening on %s", self._url, extra={"url": self._url})
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._server.shutdown()
            thread.join()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._lock:
            state = "closed" if self._closed else "running" if self._thread else "not started"
            return (
                f"CallbackReceiver(url={self._url!r}, {state}, accepted={self._accepted}, "
                f"rejected={self._rejected})"
            )

    def _deliver(self, body: bytes, sender: str) -> tuple[int, str]:
        """Hand ``body`` to the attached clients; the HTTP status and text to answer with."""
        try:
            request_id = parse_authentication_response(body, expected_request_id=None).request_id
        except ProviderResponseError as error:
            self._count(accepted=False)
            _log.warning(
                "callback receiver: refused a POST from %s that is not a protocol answer: %s",
                sender,
                error.message,
                extra={"sender": sender, "outcome": "malformed"},
            )
            return 400, "not a protocol 1.5 authentication answer"
        with self._lock:
            targets = list(self._targets)
        for target in targets:
            try:
                target.complete_from_callback(body)
            except UnknownCallError:
                continue
            self._count(accepted=True)
            _log.debug(
                "callback receiver: answer for call %r delivered",
                request_id,
                extra={"call_id": request_id, "sender": sender, "outcome": "delivered"},
            )
            return 200, "OK"
        self._count(accepted=False)
        _log.warning(
            "callback receiver: refused an answer from %s for call %r, which no client is "
            "waiting for",
            sender,
            request_id[:64],
            extra={"call_id": request_id[:64], "sender": sender, "outcome": "unknown_call"},
        )
        return 400, "no pending call has this request id"

    def _count(self, *, accepted: bool) -> None:
        with self._lock:
            if accepted:
                self._accepted += 1
            else:
                self._rejected += 1
