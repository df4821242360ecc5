"""The threaded plumbing the test servers share: listen, accept, a thread per connection, stop.

One thread accepts connections on ``127.0.0.1`` (a wake-up socket pair interrupts it, so pausing
and stopping never wait for a client); each accepted connection gets its own thread, which a
subclass fills with the protocol, usually through a :class:`ConnectionHandler`. Everything the
threads share is guarded by one condition, ``_lock``, which subclasses use for their own records
too, so a snapshot of counters and records is always consistent.
"""

from __future__ import annotations

import abc
import collections
import contextlib
import http.server
import selectors
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    import socketserver
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["HOST", "ConnectionHandler", "ThreadedServer"]

HOST = "127.0.0.1"
_STOP_JOIN_SECONDS = 5.0

_Connection = TypeVar("_Connection", bound=socket.socket)


def _shutdown(connection: socket.socket) -> None:
    # The plain socket's shutdown, not SSLSocket's: it wakes a thread blocked reading this
    # connection (close() would not) and leaves the TLS state to that thread to clean up.
    with contextlib.suppress(OSError):  # already closed or never connected: nothing to wake
        socket.socket.shutdown(connection, socket.SHUT_RDWR)


class ThreadedServer(abc.ABC, Generic[_Connection]):
    """A loopback server serving each connection in its own thread; a base for the test servers.

    A subclass names its threads (``_thread_prefix``), turns an accepted socket into the
    connection it serves (:meth:`_prepare_connection`) and serves it
    (:meth:`_handle_connection`). Its ``start`` calls :meth:`_claim_start`, then
    :meth:`_open_wakeup`, :meth:`_listen` and :meth:`_resume_accepting`; its ``stop`` calls
    :meth:`_stop_serving`. A thread it starts itself goes into ``_threads``, so that stopping
    waits for it too.
    """

    #: Names the threads: ``{prefix}-accept-{port}`` and ``{prefix}-connection-{id}``.
    _thread_prefix: str

    def __init__(self, *, port: int, request_queue_size: int) -> None:
        self._port = port
        self._request_queue_size = request_queue_size

        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._started = False
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._accept_halt = threading.Event()
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._connections: dict[int, _Connection] = {}
        self._threads: set[threading.Thread] = set()
        self._errors: list[BaseException] = []
        self._counts: collections.Counter[str] = collections.Counter()
        self._connection_ids = 0

    # -- what a subclass provides ------------------------------------------------------------

    @abc.abstractmethod
    def start(self) -> Self:
        """Start serving in background threads; returns self."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop serving; calling it twice, or before :meth:`start`, does nothing."""

    @abc.abstractmethod
    def _prepare_connection(self, raw: socket.socket) -> _Connection | None:
        """The connection to serve on the accepted ``raw`` socket, or None (closed) to drop it.

        Called in the accept thread, so it must not wait on the client.
        """

    @abc.abstractmethod
    def _handle_connection(self, connection: _Connection, connection_id: int) -> None:
        """Serve ``connection`` until it closes; runs in the connection's own thread.

        An OSError ends the connection quietly; any other exception is kept in ``_errors``.
        """

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------

    def _claim_start(self) -> None:
        with self._lock:
            if self._started:
                raise RuntimeError(
                    f"this {type(self).__name__} was already started; a server starts once, so "
                    "create a new one to serve again"
                )
            self._started = True

    def _open_wakeup(self) -> None:
        self._wakeup = socket.socketpair()
        self._wakeup[0].setblocking(False)

    def _stop_serving(self) -> bool:
        """Stop accepting, cut open connections off and join every thread, within seconds.

        False, having done nothing, when the server never started or is stopped already.
        """
        if not self._started or self._stopping.is_set():
            return False
        self._stopping.set()
        self._halt_accepting()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            connections = list(self._connections.values())
            threads = list(self._threads)
        for connection in connections:
            _shutdown(connection)
        deadline = time.monotonic() + _STOP_JOIN_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._wakeup is not None:
            for end in self._wakeup:
                end.close()
            self._wakeup = None
        return True

    # -- records -----------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _record_error(self, error: BaseException) -> None:
        with self._lock:
            self._errors.append(error)

    # -- accepting ---------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.create_server(
            (HOST, self._port), backlog=self._request_queue_size, reuse_port=False
        )
        listener.setblocking(False)
        self._port = listener.getsockname()[1]
        self._listener = listener

    def _resume_accepting(self) -> None:
        assert self._listener is not None  # noqa: S101 -- callers listen first
        self._accept_halt = threading.Event()
        self._accept_thread = threading.Thread(
            target=self._accept_loop,
            args=(self._listener, self._accept_halt),
            name=f"{self._thread_prefix}-accept-{self._port}",
            daemon=True,
        )
        self._accept_thread.start()

    def _halt_accepting(self) -> None:
        thread, self._accept_thread = self._accept_thread, None
        if thread is None:
            return
        self._accept_halt.set()
        if self._wakeup is not None:
            with contextlib.suppress(OSError):  # the loop is ending anyway
                self._wakeup[1].send(b"\0")
        thread.join()

    def _accept_loop(self, listener: socket.socket, halt: threading.Event) -> None:
        assert self._wakeup is not None  # noqa: S101 -- set by start() before any loop runs
        wakeup = self._wakeup[0]
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(listener, selectors.EVENT_READ)
                selector.register(wakeup, selectors.EVENT_READ)
                while not halt.is_set():
                    for key, _ in selector.select():
                        if key.fileobj is wakeup:
                            self._drain(wakeup)
                            continue
                        try:
                            raw, _address = listener.accept()
                        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                            continue
                        except OSError as error:  # out of file descriptors, say
                            # Recorded for the test to see, and the loop lives on: a server
                            # that stops accepting for good would look like a client bug.
                            self._record_error(error)
                            halt.wait(0.05)
                            continue
                        self._begin_connection(raw)
        except Exception as error:  # noqa: BLE001 -- kept for the test to see in .errors
            self._record_error(error)

    @staticmethod
    def _drain(wakeup: socket.socket) -> None:
        try:
            while wakeup.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    # -- connections -------------------------------------------------------------------------

    def _begin_connection(self, raw: socket.socket) -> None:
        with self._lock:
            if self._stopping.is_set():
                raw.close()
                return
            self._connection_ids += 1
            connection_id = self._connection_ids
            self._counts["connections_accepted"] += 1
        connection = self._prepare_connection(raw)
        if connection is None:
            return
        thread = threading.Thread(
            target=self._serve_connection,
            args=(connection, connection_id),
            name=f"{self._thread_prefix}-connection-{connection_id}",
            daemon=True,
        )
        with self._lock:
            self._connections[connection_id] = connection
            self._threads.add(thread)
        try:
            thread.start()
        except BaseException:  # the connection's thread closes it; with none, close it here
            with self._lock:
                self._connections.pop(connection_id, None)
                self._threads.discard(thread)
            connection.close()
            raise

    def _serve_connection(self, connection: _Connection, connection_id: int) -> None:
        try:
            self._handle_connection(connection, connection_id)
        except OSError:
            pass  # the client went away, or stop() shut the connection: both are normal
        except Exception as error:  # noqa: BLE001 -- kept for the test to see in .errors
            self._record_error(error)
        finally:
            connection.close()
            with self._lock:
                self._connections.pop(connection_id, None)
                self._threads.discard(threading.current_thread())


_Owner = TypeVar("_Owner", bound="ThreadedServer[Any]")


class ConnectionHandler(http.server.BaseHTTPRequestHandler, Generic[_Owner]):
    """Serves the HTTP/1.1 requests of one connection of ``owner`` until it closes, quietly.

    Making one serves the connection, so a subclass sets its own attributes before calling
    ``__init__``; it names itself with ``server_version``.
    """

    protocol_version = "HTTP/1.1"
    sys_version = ""
    # Each answer is one write anyway; this guards the few the base class writes in pieces.
    disable_nagle_algorithm = True

    def __init__(self, connection: socket.socket, owner: _Owner, connection_id: int) -> None:
        self.owner = owner
        self.connection_id = connection_id
        # The base class only keeps the server object; these handlers never use it.
        address = cast("tuple[str, int]", connection.getpeername())
        super().__init__(connection, address, cast("socketserver.BaseServer", owner))

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: test output is for the tests."""
