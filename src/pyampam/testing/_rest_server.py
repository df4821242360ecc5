"""A MIM-compatible PAM REST API on 127.0.0.1 for tests: real HTTP, real NTLM, faults on demand.

One thread accepts connections; each connection gets its own thread, which serves HTTP/1.1
requests on it, keep-alive included: NTLM authenticates a *connection*, so the 401 challenge,
the type-1/type-2/type-3 exchange and the authenticated requests that follow all travel on it.
Every answer is written in one piece, so Nagle's algorithm never meets a delayed ACK.
"""

from __future__ import annotations

import base64
import http
import http.server
import json
import socket
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import attrs

from pyampam.exceptions import InvalidValueError, PyampamError
from pyampam.testing._rest_api import (
    API_VERSION,
    BASE_PATH,
    SESSION_PATH,
    Answer,
    ApiError,
    ApiRequest,
    PamRestApi,
    odata_error,
    status_of,
)
from pyampam.testing._rest_ntlm import (
    AuthenticationError,
    Handshake,
    NtlmUserFile,
    check_users,
    parse_authorization,
    split_identity,
)
from pyampam.testing._threaded_server import HOST, ConnectionHandler, ThreadedServer

if TYPE_CHECKING:
    from typing_extensions import Self

    from pyampam.activation import PamService

__all__ = [
    "API_VERSION",
    "BASE_PATH",
    "CALLER_HEADER",
    "SESSION_PATH",
    "PamRestTestServer",
    "RestCall",
    "RestServerStats",
]

#: With ``authentication="none"``: the ``DOMAIN\user`` a request acts as.
CALLER_HEADER = "X-Pyampam-User"

_JSON = "application/json; odata=minimalmetadata; streaming=true; charset=utf-8"
_MALFORMED = b'{"odata.metadata":"%24metadata#pamroles","value":[{"RoleId":"8f5cec1a-ecba-'
_DEFAULT_MESSAGES = {
    401: "Authorization has been denied for this request.",
    403: "Access is denied.",
    404: "No HTTP resource was found that matches the request URI.",
    408: "The request timed out before the service could answer.",
    500: "An error has occurred.",
    503: "The service is unavailable.",
}
_CHALLENGES = (("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM"))


@attrs.frozen
class RestCall:
    """One HTTP request the server answered: what was asked, by whom, and the status sent.

    ``caller`` is the ``DOMAIN\\user`` the request ran as, or None before authentication
    (the 401 legs of a handshake). ``target`` is the path and query as sent.
    """

    method: str
    target: str
    caller: str | None
    status: int
    connection_id: int


@attrs.frozen
class RestServerStats:
    """A snapshot of the server's counters.

    ``handshakes_completed`` counts successful NTLM/Negotiate logons (one per connection when
    a client keeps its connection), ``handshakes_failed`` refused ones (a wrong password, an
    unknown user, a malformed token).
    """

    connections_accepted: int = 0
    handshakes_completed: int = 0
    handshakes_failed: int = 0
    requests_received: int = 0
    responses_sent: int = 0
    active_connections: int = 0


@attrs.define
class _Fault:
    status: int | None
    delay: float
    malformed: bool
    message: str | None
    path: str | None
    method: str | None
    remaining: int | None

    def applies_to(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path in path


def _one_line(text: str) -> str:
    """A message listing its problems one per line, as one line (an OData message has one)."""
    parts = [part.strip().removeprefix("- ") for part in text.splitlines() if part.strip()]
    return " ".join(parts)


class PamRestTestServer(ThreadedServer[socket.socket]):
    r"""MIM's PAM REST API (``/api/pamresources/``) on ``127.0.0.1``, backed by a PamService.

    Serves ``GET pamroles``, ``GET``/``POST pamrequests``, ``POST pamrequests(guid'ID')/Close``,
    ``GET pamrequeststoapprove``, ``POST pamrequeststoapprove(guid'ID')/Approve`` and
    ``/Reject``, and ``GET sessioninfo``, with MIM's JSON shapes (OData v3: collections as
    ``{"odata.metadata": ..., "value": [...]}``, TTLs as strings of seconds, unset dates as
    ``0001-01-01T00:00:00``, errors as ``{"odata.error": ...}``) and ``$filter``. Requests go
    through ``service``'s gates (default: a fresh in-memory service with a
    :class:`~pyampam.testing.FakeProvider`, stopped with the server): an MFA role's request is
    ``PendingMFA`` when created and completes through the service's provider.

    **Who is calling.** With ``authentication="ntlm"`` (the default) a client logs on with
    NTLM or Negotiate (SPNEGO-wrapped NTLM) as one of ``users`` (``{"CORP\\jen":
    "password"}``); pyspnego checks the password. The logon holds for the connection. With
    ``authentication="none"`` a request acts as its ``X-Pyampam-User: CORP\jen`` header, else
    as ``caller``. The caller's ``DOMAIN\user`` is matched to the PAM user with that source
    identity (without regard to case); a caller who is no PAM user gets 403.

    **Quirks kept.** ``?v=1`` is required on every request unless ``require_version=False``
    (MIM's reference says a missing version means the latest). MIM's pages spell the role's id
    ``RoleID`` in their tables and ``RoleId`` in their examples, so roles carry ``RoleId`` and
    requests ``RoleID``: a client must read both. Approve and Reject take
    the ``ApprovalObjectID``, not the request's id. Statuses are brought up to date before each
    request (``start_due()`` then ``expire_due()``), as MIM's own jobs would.

    **Faults.** :meth:`inject` makes the next requests slow, fail with a status, or carry
    malformed JSON. :attr:`calls` records every answer, :attr:`errors` unexpected exceptions.
    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    _thread_prefix = "pam-rest-test"

    def __init__(
        self,
        service: PamService | None = None,
        *,
        users: Mapping[str, str] | None = None,
        authentication: Literal["ntlm", "none"] = "ntlm",
        caller: str | None = None,
        port: int = 0,
        require_version: bool = True,
        request_queue_size: int = 1024,
        max_body_size: int = 1 << 20,
    ) -> None:
        if authentication not in ("ntlm", "none"):
            raise InvalidValueError(
                f"authentication must be 'ntlm' or 'none', not {authentication!r}",
                field="authentication",
            )
        if authentication == "ntlm":
            if caller is not None:
                raise InvalidValueError(
                    "caller= is for authentication='none'; with NTLM the logon says who calls",
                    field="caller",
                )
            self._users: dict[str, str] = check_users(users or {})
        else:
            if users is not None:
                raise InvalidValueError(
                    "users= is for authentication='ntlm'; with 'none' give caller='CORP\\\\jen' "
                    f"or send the {CALLER_HEADER} header",
                    field="users",
                )
            if caller is not None:
                split_identity(caller)
            self._users = {}
        self._authentication = authentication
        self._caller = caller
        self._owns_service = service is None
        if service is None:
            from pyampam.activation import PamService
            from pyampam.testing._fake import FakeProvider

            service = PamService(provider=FakeProvider())
        self._service = service
        self._api = PamRestApi(service, require_version=require_version)
        super().__init__(port=port, request_queue_size=request_queue_size)
        self.max_body_size = max_body_size

        self._user_file: NtlmUserFile | None = None
        self._faults: list[_Fault] = []
        self._calls: list[RestCall] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on ``127.0.0.1`` and serve in background threads; returns self."""
        self._claim_start()
        try:
            if self._authentication == "ntlm":
                self._user_file = NtlmUserFile(self._users)
            self._open_wakeup()
            self._listen()
            self._resume_accepting()
        except BaseException:
            self.stop()  # a port already taken must not leave the user file behind
            raise
        return self

    def stop(self) -> None:
        """Stop serving; delayed answers are cut off and open connections closed.

        Deletes the NTLM user file and, when the server made its own service, shuts that
        service down. Calling it twice, or before :meth:`start`, does nothing.
        """
        if not self._stop_serving():
            return
        if self._user_file is not None:
            self._user_file.close()
        if self._owns_service:
            self._service.shutdown()

    def __repr__(self) -> str:
        state = "stopped" if self._stopping.is_set() else "running" if self._started else "new"
        where = f"url={self.url!r}, " if self._port else ""
        return (
            f"PamRestTestServer({where}authentication={self._authentication!r}, "
            f"users={len(self._users)}, {state})"
        )

    # -- where it is, what it serves --------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (chosen at random unless ``port=`` was given)."""
        if not self._port:
            raise RuntimeError(
                "the server has no port before start(); start it first, or give it one with port="
            )
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/api/pamresources/``: the base URL to give a client."""
        return f"http://{HOST}:{self.port}{BASE_PATH}"

    @property
    def service(self) -> PamService:
        """The PamService behind the API: set up users and roles through it."""
        return self._service

    @property
    def authentication(self) -> str:
        """``"ntlm"`` or ``"none"``."""
        return self._authentication

    @property
    def users_file(self) -> str | None:
        """The private pyspnego user file while the server runs with NTLM, else None."""
        return None if self._user_file is None else self._user_file.path

    # -- faults ------------------------------------------------------------------------------

    def inject(
        self,
        *,
        status: int | None = None,
        delay: float = 0.0,
        malformed: bool = False,
        message: str | None = None,
        times: int | None = 1,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Make the next ``times`` authenticated requests misbehave (None: until cleared).

        ``delay`` seconds pass before the answer (then the request is served normally unless
        ``status`` or ``malformed`` says otherwise). ``status`` (401, 403, 404, 408, 500, 503,
        ...) answers with that status and an OData error carrying ``message`` (default: the
        status's usual text); a 401 also forgets the connection's logon and challenges again.
        ``malformed`` answers with broken JSON (status 200 unless ``status`` is given). Only
        requests whose path contains ``path`` (e.g. ``"pamroles"`` or ``"/Approve"``) and
        whose method is ``method`` count. Faults queue in order; each request takes the
        first that applies.
        """
        if status is not None and (
            isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
        ):
            raise InvalidValueError(
                f"status must be an HTTP status code such as 503, not {status!r}", field="status"
            )
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise InvalidValueError(
                f"delay must be a number of seconds, not {delay!r}", field="delay"
            )
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 1
        ):
            raise InvalidValueError(
                f"times must be a positive whole number or None, not {times!r}", field="times"
            )
        if status is None and not delay and not malformed:
            raise InvalidValueError(
                "inject() needs status=, delay= or malformed=True: nothing to do otherwise",
                field="status",
            )
        fault = _Fault(
            status=status,
            delay=float(delay),
            malformed=bool(malformed),
            message=message,
            path=path,
            method=None if method is None else method.upper(),
            remaining=times,
        )
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Forget every injected fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many injected faults are still waiting (a fault without a count counts once)."""
        with self._lock:
            return len(self._faults)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.applies_to(method, path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- what happened ---------------------------------------------------------------------

    @property
    def calls(self) -> tuple[RestCall, ...]:
        """Every request answered so far, in order (the 401 legs of handshakes included)."""
        with self._lock:
            return tuple(self._calls)

    @property
    def errors(self) -> tuple[BaseException, ...]:
        """Unexpected exceptions in the server's threads; a healthy run leaves this empty."""
        with self._lock:
            return tuple(self._errors)

    @property
    def stats(self) -> RestServerStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return RestServerStats(
                connections_accepted=self._counts["connections_accepted"],
                handshakes_completed=self._counts["handshakes_completed"],
                handshakes_failed=self._counts["handshakes_failed"],
                requests_received=self._counts["requests_received"],
                responses_sent=self._counts["responses_sent"],
                active_connections=len(self._connections),
            )

    def _record(self, call: RestCall) -> None:
        with self._lock:
            self._calls.append(call)
            self._lock.notify_all()

    # -- connections -------------------------------------------------------------------------

    def _prepare_connection(self, raw: socket.socket) -> socket.socket:
        raw.setblocking(True)
        return raw

    def _handle_connection(self, connection: socket.socket, connection_id: int) -> None:
        _RestHandler(connection, self, connection_id)

    # -- the API -----------------------------------------------------------------------------


class _RestHandler(ConnectionHandler[PamRestTestServer]):
    """Serves the HTTP requests of one connection until it closes; holds its logon."""

    server_version = "pyampam-pam-rest-test-server"

    def __init__(
        self, connection: socket.socket, owner: PamRestTestServer, connection_id: int
    ) -> None:
        self.principal: str | None = None
        self.handshake = None if owner._user_file is None else Handshake(owner._user_file)
        super().__init__(connection, owner, connection_id)

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve("GET")

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve("POST")

    def do_PUT(self) -> None:
        """Refuse: the API has no PUT."""
        self._serve("PUT")

    def do_PATCH(self) -> None:
        """Refuse: the API has no PATCH."""
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        """Refuse: the API has no DELETE."""
        self._serve("DELETE")

    # -- one request ---------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        owner = self.owner
        owner._count("requests_received")
        body = self._read_body()
        if body is None:
            return
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        caller, final_token = self._authenticate()
        if caller is None:
            return
        fault = owner._take_fault(method, path)
        if fault is not None:
            if fault.delay and owner._stopping.wait(fault.delay):
                self.close_connection = True
                return
            if fault.status is not None or fault.malformed:
                self._send_fault(fault, caller)
                return
        request = ApiRequest(
            method=method,
            path=path,
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            body=body,
            content_type=self.headers.get("Content-Type", ""),
            caller=caller,
            origin=self._origin(),
        )
        try:
            answer = owner._api.answer(request)
        except ApiError as refusal:
            answer = Answer(refusal.status, odata_error(refusal.message), refusal.headers)
        except PyampamError as error:
            answer = Answer(status_of(error), odata_error(_one_line(str(error))))
        except Exception as error:  # noqa: BLE001 -- a server bug: 500, kept for the test
            owner._record_error(error)
            answer = Answer(500, odata_error(_DEFAULT_MESSAGES[500]))
        if final_token is not None:
            answer = attrs.evolve(answer, headers=(*answer.headers, final_token))
        self._send(answer, caller)

    def _origin(self) -> str:
        host = self.headers.get("Host", "")
        if not host or not host.isprintable() or any(char in host for char in " /\\?#@"):
            host = f"{HOST}:{self.owner.port}"
        return f"http://{host}"

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(Answer(411, odata_error("send Content-Length, not chunks")), None)
            return None
        declared = self.headers.get("Content-Length")
        if declared is None:
            return b""
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if not 0 <= length <= self.owner.max_body_size:
            self.close_connection = True
            self._send(Answer(413, odata_error("the request body is too large")), None)
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _authenticate(self) -> tuple[str | None, tuple[str, str] | None]:
        """The caller, and a final token to send; (None, None) once a 401 has been sent."""
        if self.handshake is None:
            return self._named_caller(), None
        header = self.headers.get("Authorization")
        if header is None:
            if self.principal is None:
                self._challenge(_DEFAULT_MESSAGES[401])
            return self.principal, None
        return self._logon(self.handshake, header)

    def _named_caller(self) -> str | None:
        """With authentication="none": the header's caller, else the server's; None after a 401."""
        named = self.headers.get(CALLER_HEADER) or self.owner._caller
        problem = (
            f"no caller: send the {CALLER_HEADER}: DOMAIN\\user header, or start the server "
            "with caller='DOMAIN\\\\user'"
        )
        if named:
            try:
                split_identity(named)
            except InvalidValueError as error:
                problem = str(error)
            else:
                return named
        self._send(Answer(401, odata_error(problem)), None)
        return None

    def _logon(
        self, handshake: Handshake, header: str
    ) -> tuple[str | None, tuple[str, str] | None]:
        """One leg of an NTLM/Negotiate handshake: a 401 with the challenge, or the caller."""
        self.principal = None  # a new Authorization header starts a new logon
        try:
            scheme, token = parse_authorization(header)
            step = handshake.step(token)
        except AuthenticationError as failure:
            self.owner._count("handshakes_failed")
            self._challenge(f"{_DEFAULT_MESSAGES[401]} {failure}")
            return None, None
        encoded = None if step.token is None else base64.b64encode(step.token).decode("ascii")
        if step.principal is None:
            challenge = (("WWW-Authenticate", f"{scheme} {encoded}"),)
            message = f"{scheme} handshake in progress: answer the challenge"
            self._send(Answer(401, odata_error(message), headers=challenge), None)
            return None, None
        self.owner._count("handshakes_completed")
        self.principal = step.principal
        final = None if encoded is None else ("WWW-Authenticate", f"{scheme} {encoded}")
        return step.principal, final

    def _challenge(self, message: str) -> None:
        self.principal = None
        self._send(Answer(401, odata_error(message), headers=_CHALLENGES), None)

    def _send_fault(self, fault: _Fault, caller: str) -> None:
        status = 200 if fault.status is None else fault.status
        headers: tuple[tuple[str, str], ...] = ()
        if status == 401:
            self.principal = None
            headers = _CHALLENGES
        if fault.malformed:
            answer = Answer(status, raw=_MALFORMED, headers=headers)
        else:
            text = fault.message or _DEFAULT_MESSAGES.get(status) or http.HTTPStatus(status).phrase
            answer = Answer(status, odata_error(text), headers=headers)
        self._send(answer, caller)

    def _send(self, answer: Answer, caller: str | None) -> None:
        if answer.raw is not None:
            body = answer.raw
        elif answer.document is not None:
            body = json.dumps(answer.document, ensure_ascii=False, separators=(",", ":")).encode()
        else:
            body = b""
        try:
            phrase = http.HTTPStatus(answer.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [
            f"HTTP/1.1 {answer.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Length: {len(body)}",
            f"Connection: {'close' if self.close_connection else 'keep-alive'}",
            "DataServiceVersion: 3.0;",
        ]
        if body:
            lines.append(f"Content-Type: {_JSON}")
        lines.extend(f"{name}: {value}" for name, value in answer.headers)
        self.owner._count("responses_sent")
        self.owner._record(
            RestCall(self.command or "", self.path, caller, answer.status, self.connection_id)
        )
        # Headers and body in one write: two writes meet delayed ACK and cost ~40 ms each.
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
