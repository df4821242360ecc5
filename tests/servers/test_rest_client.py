"""The PAM REST client against local HTTP servers: a stub answering MIM's JSON, real NTLM too.

The stub is a plain ``http.server`` on 127.0.0.1 that answers each call from a table of
(status, JSON) written from the domain doc's facts, and records what it was sent.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.server
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import pytest
import requests
import spnego

from pyampam import RequestStatus
from pyampam.activation import PamService
from pyampam.rest import (
    F,
    PamRestClient,
    PendingApproval,
    RemoteRequest,
    RemoteRole,
    RequestEndedError,
    RestAuthenticationError,
    RestBadRequestError,
    RestConnectionError,
    RestError,
    RestForbiddenError,
    RestNotFoundError,
    RestProtocolError,
    RestServerError,
    RestTimeoutError,
    RestUnavailableError,
    WaitTimeoutError,
    windows_auth,
)
from pyampam.testing import FakeProvider, PamRestTestServer
from pyampam.testing._rest_server import CALLER_HEADER

DATA = Path(__file__).parent.parent / "data" / "rest"
UTC = dt.timezone.utc
SQL_ROLE = "8f5cec1a-ecba-42ec-b76d-e6e0e4bf4c62"
REQUEST = "c0ffee00-1234-4abc-8def-0123456789ab"
APPROVAL = "99999999-8888-4777-8666-555555555555"
PASSWORD = "Wh1te-Rabbit;42"


def fixture(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@attrs.frozen
class Call:
    """One call as the stub saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes
    client_port: int


@attrs.frozen
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = attrs.Factory(dict)
    raw: bytes | None = None
    delay: float = 0.0


Route = Callable[[Call], Reply]


class StubServer:
    """A threaded HTTP/1.1 stub: routes (method, path) to replies and records every call."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.calls: list[Call] = []
        self.gate: Callable[[Call, http.server.BaseHTTPRequestHandler], Reply | None] | None = None
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                call = Call(
                    method=self.command,
                    path=unquote(parts.path),
                    query=parse_qs(parts.query, keep_blank_values=True),
                    raw_query=parts.query,
                    headers=dict(self.headers.items()),
                    body=self.rfile.read(length),
                    client_port=self.client_address[1],
                )
                stub.calls.append(call)
                reply = stub.gate(call, self) if stub.gate is not None else None
                if reply is None:
                    route = stub.routes.get((call.method, call.path))
                    reply = route(call) if route else Reply(404, _odata_error("No such resource"))
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.raw if reply.raw is not None else b""
                if reply.raw is None and reply.body is not None:
                    payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                headers = {
                    "Content-Type": "application/json; odata=minimalmetadata",
                    **reply.headers,
                }
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    # The client may have given up (the timeout test); that is its business.
                    self.wfile.write(payload)

            do_GET = do_POST = _serve

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api/pamresources"

    def route(self, method: str, path: str, reply: Reply | Route) -> None:
        self.routes[(method, "/api/pamresources/" + path)] = (
            reply if callable(reply) else (lambda call: reply)
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _odata_error(message: str) -> dict[str, Any]:
    return {"odata.error": {"code": "", "message": {"lang": "en-US", "value": message}}}


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def client(stub: StubServer) -> Iterator[PamRestClient]:
    with PamRestClient(stub.base_url, timeout=5) as rest:
        yield rest


# -- the operations --------------------------------------------------------------------------


def test_roles_are_listed_with_the_version_parameter(
    stub: StubServer, client: PamRestClient
) -> None:
    """GET pamroles?v=1 returns typed roles."""
    stub.route("GET", "pamroles", Reply(200, fixture("roles.json")))
    roles = client.roles()
    assert [role.display_name for role in roles] == ["SQL File Access", "O'Brien's Domain Admins"]
    assert isinstance(roles[0], RemoteRole)
    (call,) = stub.calls
    assert call.query == {"v": ["1"]}
    assert call.headers["Accept"] == "application/json"


def test_filters_reach_the_server_intact(stub: StubServer, client: PamRestClient) -> None:
    """A built filter arrives as $filter, quotes doubled, spaces and all, decoded by the server."""
    stub.route("GET", "pamroles", Reply(200, {"value": []}))
    condition = (F.DisplayName == "O'Brien's & Co + 100%") & (
        F.CreationTime > dt.datetime(2016, 6, 1, 9, tzinfo=UTC)
    )
    assert client.roles(filter=condition) == []
    client.roles(filter="TTL gt 3600")
    first, second = stub.calls
    assert first.query["$filter"] == [
        "DisplayName eq 'O''Brien''s & Co + 100%' and CreationTime gt datetime'2016-06-01T09:00:00'"
    ]
    assert "+" not in first.raw_query.replace("%2B", "")  # spaces travel as %20, never as +
    assert second.query["$filter"] == ["TTL gt 3600"]


def test_requests_and_approvals_are_listed(stub: StubServer, client: PamRestClient) -> None:
    """GET pamrequests and pamrequeststoapprove return typed requests and approvals."""
    stub.route("GET", "pamrequests", Reply(200, fixture("requests.json")))
    stub.route("GET", "pamrequeststoapprove", Reply(200, fixture("requests_to_approve.json")))
    statuses = [request.status for request in client.requests()]
    assert statuses == [RequestStatus.PENDING_MFA, RequestStatus.ACTIVE, "AwaitingSomethingNew"]
    (pending,) = client.requests_to_approve()
    assert isinstance(pending, PendingApproval)
    assert pending.approval_id == APPROVAL


def test_create_request_posts_mim_fields(stub: StubServer, client: PamRestClient) -> None:
    """POST pamrequests sends RoleId, RequestedTTL (seconds), Justification and RequestedTime."""
    stub.route("POST", "pamrequests", Reply(201, fixture("created_request.json")))
    role = RemoteRole(role_id=SQL_ROLE, display_name="SQL File Access")
    start = dt.datetime(2016, 6, 1, 11, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    created = client.create_request(
        role,
        justification="Ticket 4711",
        requested_ttl=dt.timedelta(minutes=30),
        requested_time=start,
    )
    assert created.request_id == REQUEST
    assert created.status is RequestStatus.PROCESSING
    (call,) = stub.calls
    assert call.query == {"v": ["1"]}
    assert call.headers["Content-Type"].startswith("application/json")
    assert json.loads(call.body) == {
        "RoleId": SQL_ROLE,
        "Justification": "Ticket 4711",
        "RequestedTTL": "1800",
        "RequestedTime": "2016-06-01T09:00:00Z",
    }


def test_create_request_takes_a_role_id_and_leaves_defaults_to_mim(
    stub: StubServer, client: PamRestClient
) -> None:
    """With a bare role id and no TTL or time, only RoleId and Justification are sent."""
    stub.route("POST", "pamrequests", Reply(201, fixture("created_request.json")))
    client.create_request(uuid.UUID(SQL_ROLE))
    assert json.loads(stub.calls[0].body) == {"RoleId": SQL_ROLE, "Justification": ""}


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"requested_ttl": 0}, "requested_ttl"),
        ({"requested_ttl": dt.timedelta(seconds=1.5)}, "requested_ttl"),
        ({"requested_time": dt.datetime(2016, 6, 1)}, "requested_time"),  # naive: ambiguous
        ({"justification": 5}, "justification"),
    ],
)
def test_create_request_checks_arguments_before_sending(
    stub: StubServer, client: PamRestClient, arguments: dict[str, Any], field: str
) -> None:
    """Bad arguments raise InvalidValueError naming the field, and nothing is sent."""
    with pytest.raises(ValueError, match=field) as caught:
        client.create_request(SQL_ROLE, **arguments)
    assert getattr(caught.value, "field", None) == field
    assert stub.calls == []


def test_close_approve_reject_post_to_their_actions(
    stub: StubServer, client: PamRestClient
) -> None:
    """Close, Approve and Reject POST to pamrequests(guid'ID')/Close and friends."""
    for path in (
        f"pamrequests(guid'{REQUEST}')/Close",
        f"pamrequeststoapprove(guid'{APPROVAL}')/Approve",
        f"pamrequeststoapprove(guid'{APPROVAL}')/Reject",
    ):
        stub.route("POST", path, Reply(204))
    client.close_request(RemoteRequest(request_id=REQUEST))
    client.approve(PendingApproval(approval_id=APPROVAL))
    client.reject(APPROVAL.upper())
    assert [(call.method, call.path.rsplit("/", 2)[-2:]) for call in stub.calls] == [
        ("POST", [f"pamrequests(guid'{REQUEST}')", "Close"]),
        ("POST", [f"pamrequeststoapprove(guid'{APPROVAL}')", "Approve"]),
        ("POST", [f"pamrequeststoapprove(guid'{APPROVAL}')", "Reject"]),
    ]
    assert all(call.headers.get("Content-Length") == "0" for call in stub.calls)


def test_actions_refuse_ids_that_are_not_guids(client: PamRestClient) -> None:
    """An id that is not a GUID cannot be put in guid'...' and is refused before sending."""
    with pytest.raises(ValueError, match="GUID"):
        client.close_request("request-1")


@pytest.mark.parametrize(
    "body",
    [
        fixture("sessioninfo.json"),
        "CONTOSO\\alice",
        {"value": "CONTOSO\\alice"},
        {"Domain": "CONTOSO", "UserName": "alice"},
        {"value": {"Name": "CONTOSO\\alice"}},
    ],
)
def test_session_info_names_the_caller(stub: StubServer, client: PamRestClient, body: Any) -> None:
    """GET sessioninfo gives DOMAIN\\user, whichever shape the answer takes."""
    stub.route("GET", "sessioninfo", Reply(200, body))
    assert client.session_info() == "CONTOSO\\alice"


def test_session_info_without_a_name_is_a_protocol_error(
    stub: StubServer, client: PamRestClient
) -> None:
    """An answer without a user name raises RestProtocolError."""
    stub.route("GET", "sessioninfo", Reply(200, {"value": 5}))
    with pytest.raises(RestProtocolError, match="sessioninfo"):
        client.session_info()


def test_next_links_are_followed(stub: StubServer, client: PamRestClient) -> None:
    """A collection split in pages by odata.nextLink is read to its end, v=1 on every page."""
    roles = fixture("roles.json")["value"]

    def pages(call: Call) -> Reply:
        if "$skiptoken" not in call.query:
            return Reply(200, {"value": roles[:1], "odata.nextLink": "pamroles?$skiptoken=1"})
        return Reply(200, {"value": roles[1:]})

    stub.route("GET", "pamroles", pages)
    assert len(client.roles()) == 2
    assert [call.query.get("v") for call in stub.calls] == [["1"], ["1"]]


def test_next_links_to_another_server_are_not_followed(
    stub: StubServer, client: PamRestClient
) -> None:
    """A next link to another host would receive our credentials: it is refused."""
    stub.route(
        "GET", "pamroles", Reply(200, {"value": [], "odata.nextLink": "http://evil.test/pamroles"})
    )
    with pytest.raises(RestProtocolError, match=r"another server \(evil.test\)"):
        client.roles()


def test_no_version_parameter_when_api_version_is_none(stub: StubServer) -> None:
    """api_version=None sends no v= at all."""
    stub.route("GET", "pamroles", Reply(200, {"value": []}))
    with PamRestClient(stub.base_url + "/", api_version=None) as rest:
        rest.roles()
    assert stub.calls[0].query == {}


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RestBadRequestError),
        (401, RestAuthenticationError),
        (403, RestForbiddenError),
        (404, RestNotFoundError),
        (408, RestTimeoutError),
        (409, RestError),
        (500, RestServerError),
        (502, RestUnavailableError),
        (503, RestUnavailableError),
        (504, RestTimeoutError),
    ],
)
def test_status_codes_map_to_typed_errors_with_mims_message(
    stub: StubServer, client: PamRestClient, status: int, error: type[RestError]
) -> None:
    """Each documented status raises its own RestError subclass carrying MIM's own message."""
    stub.route("POST", "pamrequests", Reply(status, fixture("error_forbidden.json")))
    with pytest.raises(error) as caught:
        client.create_request(SQL_ROLE)
    assert type(caught.value) is error
    assert caught.value.status_code == status
    assert (
        caught.value.mim_message == "The requestor is not a candidate of the role SQL File Access."
    )
    assert caught.value.method == "POST"
    assert caught.value.path == "pamrequests"
    assert "MIM says: The requestor is not a candidate" in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(500, raw=b"<html>IIS 500</html>", headers={"Content-Type": "text/html"}), None),
        (
            Reply(503, raw=b"Service Unavailable", headers={"Content-Type": "text/plain"}),
            "Service Unavailable",
        ),
        (Reply(500, {"Message": "An error has occurred.", "ExceptionMessage": "Boom"}), "Boom"),
        (Reply(400, {"error": {"message": "bad filter"}}), "bad filter"),
    ],
)
def test_other_error_bodies(
    stub: StubServer, client: PamRestClient, reply: Reply, message: str | None
) -> None:
    """IIS pages, plain text and Web API errors give the status and any message there is."""
    stub.route("GET", "pamroles", reply)
    with pytest.raises(RestError) as caught:
        client.roles()
    assert caught.value.status_code == reply.status
    assert caught.value.mim_message == message


def test_html_with_200_is_a_protocol_error(stub: StubServer, client: PamRestClient) -> None:
    """A login page (or any non-JSON) answered with 200 raises RestProtocolError."""
    stub.route(
        "GET",
        "pamroles",
        Reply(200, raw=b"<html>sign in</html>", headers={"Content-Type": "text/html"}),
    )
    with pytest.raises(RestProtocolError, match="not JSON"):
        client.roles()


def test_redirects_are_not_followed(stub: StubServer, client: PamRestClient) -> None:
    """A redirect (say to https or a login page) is reported, not followed with our credentials."""
    stub.route(
        "GET", "pamroles", Reply(302, headers={"Location": "https://login.test/sso?x=secret"})
    )
    with pytest.raises(RestProtocolError, match="redirected") as caught:
        client.roles()
    assert "secret" not in str(caught.value)
    assert len(stub.calls) == 1


def test_a_refused_connection_is_a_connection_error() -> None:
    """Nobody listening raises RestConnectionError naming the host."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        PamRestClient(f"http://127.0.0.1:{port}/api/pamresources/", timeout=2) as rest,
        pytest.raises(RestConnectionError, match=f"127.0.0.1:{port}"),
    ):
        rest.roles()


def test_a_slow_answer_is_a_timeout(stub: StubServer) -> None:
    """No answer within the read timeout raises RestTimeoutError (saying a POST may have run)."""
    stub.route("POST", "pamrequests", Reply(201, fixture("created_request.json"), delay=1.0))
    with (
        PamRestClient(stub.base_url, timeout=(2, 0.2)) as rest,
        pytest.raises(RestTimeoutError, match="may still have carried it out"),
    ):
        rest.create_request(SQL_ROLE)


def test_a_closed_client_refuses_calls(stub: StubServer) -> None:
    """After close() (or the with block), calls raise RestError instead of reopening."""
    rest = PamRestClient(stub.base_url)
    rest.close()
    with pytest.raises(RestError, match="closed"):
        rest.roles()
    assert stub.calls == []


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("mim:8086/api/pamresources/", "http"),
        ("ftp://mim/api/", "http"),
        ("http://alice:hunter2@mim/api/pamresources/", "auth="),
        ("http://mim/api/pamresources/?v=1", "query"),
    ],
)
def test_bad_base_urls_are_refused(base_url: str, message: str) -> None:
    """The base URL must be http(s), without credentials or query; a secret in it is not echoed."""
    with pytest.raises(ValueError, match=message) as caught:
        PamRestClient(base_url)
    assert "hunter2" not in str(caught.value)


def test_base_url_gets_its_trailing_slash() -> None:
    """http://host:8086/api/pamresources and .../ are the same base."""
    assert (
        PamRestClient("http://MIM:8086/api/pamresources").base_url
        == "http://MIM:8086/api/pamresources/"
    )
    assert repr(PamRestClient("https://mim/api/pamresources/")) == (
        "PamRestClient('https://mim/api/pamresources/', api_version=1)"
    )


# -- waiting for Active ----------------------------------------------------------------------


def _request_with(status: str) -> dict[str, Any]:
    body = dict(fixture("created_request.json"))
    body["RequestStatus"] = status
    return {"value": [body]}


def _sequence(*replies: Reply) -> Route:
    queue = list(replies)

    def next_reply(call: Call) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return next_reply


def test_wait_until_active_polls_until_active(stub: StubServer, client: PamRestClient) -> None:
    """Processing, PendingMFA, Scheduled, then Active: the Active request is returned."""
    stub.route(
        "GET",
        "pamrequests",
        _sequence(
            Reply(200, _request_with("Processing")),
            Reply(503, _odata_error("starting")),
            Reply(200, _request_with("PendingMFA")),
            Reply(200, _request_with("Scheduled")),
            Reply(200, _request_with("Active")),
        ),
    )
    active = client.wait_until_active(REQUEST, timeout=10, poll=0.01)
    assert active.status is RequestStatus.ACTIVE
    assert len(stub.calls) == 5
    assert stub.calls[0].query["$filter"] == [f"RequestId eq guid'{REQUEST}'"]


@pytest.mark.parametrize("status", ["Rejected", "Expired", "Closed", "Closing"])
def test_wait_until_active_stops_when_the_request_ends(
    stub: StubServer, client: PamRestClient, status: str
) -> None:
    """A request that ends without being Active raises RequestEndedError carrying it."""
    stub.route("GET", "pamrequests", Reply(200, _request_with(status)))
    with pytest.raises(RequestEndedError, match=status) as caught:
        client.wait_until_active(RemoteRequest(request_id=REQUEST), timeout=10, poll=0.01)
    assert str(caught.value.request.status) == status


def test_wait_until_active_gives_up_at_the_deadline(
    stub: StubServer, client: PamRestClient
) -> None:
    """A request still pending at the deadline raises WaitTimeoutError with its last state."""
    stub.route("GET", "pamrequests", Reply(200, _request_with("PendingApproval")))
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError, match="PendingApproval") as caught:
        client.wait_until_active(REQUEST, timeout=0.3, poll=0.05)
    assert 0.25 < time.monotonic() - started < 3
    assert caught.value.request is not None
    assert caught.value.request.status is RequestStatus.PENDING_APPROVAL


def test_wait_until_active_reports_a_missing_request(
    stub: StubServer, client: PamRestClient
) -> None:
    """A request that is not listed raises RestNotFoundError."""
    stub.route("GET", "pamrequests", Reply(200, {"value": []}))
    with pytest.raises(RestNotFoundError, match=REQUEST):
        client.wait_until_active(REQUEST, timeout=1, poll=0.01)


def test_get_request_falls_back_when_the_filter_is_refused(
    stub: StubServer, client: PamRestClient
) -> None:
    """If MIM refuses the id filter (400), all requests are listed and the one is picked."""

    def answer(call: Call) -> Reply:
        if "$filter" in call.query:
            return Reply(400, _odata_error("Could not find a property named 'RequestId'"))
        return Reply(
            200, {"value": fixture("requests.json")["value"] + _request_with("Active")["value"]}
        )

    stub.route("GET", "pamrequests", answer)
    assert client.get_request(REQUEST).status is RequestStatus.ACTIVE


# -- Windows authentication on a real keep-alive connection ----------------------------------


class NtlmGate:
    """Plays IIS: 401 Negotiate until pyspnego's acceptor is satisfied, per TCP connection."""

    def __init__(self) -> None:
        self.contexts: dict[int, Any] = {}
        self.authenticated: dict[int, str] = {}

    def __call__(self, call: Call, handler: http.server.BaseHTTPRequestHandler) -> Reply | None:
        if call.client_port in self.authenticated:
            return None
        authorization = call.headers.get("Authorization")
        if authorization is None:
            # Like a load balancer pinning the client to one server for the handshake.
            headers = {"WWW-Authenticate": "Negotiate", "Set-Cookie": "ARRAffinity=node7; Path=/"}
            return Reply(401, raw=b"", headers=headers)
        token = authorization.partition(" ")[2]
        context = self.contexts.setdefault(call.client_port, spnego.server(protocol="negotiate"))
        try:
            out = context.step(base64.b64decode(token))
        except spnego.exceptions.SpnegoError:
            self.contexts.pop(call.client_port)
            return Reply(401, raw=b"", headers={"WWW-Authenticate": "Negotiate"})
        header = {"WWW-Authenticate": f"Negotiate {base64.b64encode(out).decode()}"} if out else {}
        if not context.complete:
            return Reply(401, raw=b"", headers=header)
        self.authenticated[call.client_port] = context.client_principal
        return None


@pytest.fixture
def ntlm_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "users"
    path.write_text(f"CONTOSO:alice:{PASSWORD}\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(path))


def test_windows_authentication_runs_on_one_keep_alive_connection(
    stub: StubServer, ntlm_users: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The three legs of the handshake and the retried request share one TCP connection."""
    gate = NtlmGate()
    stub.gate = gate
    stub.route("GET", "sessioninfo", Reply(200, fixture("sessioninfo.json")))
    stub.route("GET", "pamroles", Reply(200, fixture("roles.json")))
    caplog.set_level(logging.DEBUG, logger="pyampam")
    with PamRestClient(stub.base_url, auth=windows_auth("CONTOSO\\alice", PASSWORD)) as rest:
        assert rest.session_info() == "CONTOSO\\alice"
        assert len(rest.roles()) == 2
    ports = {call.client_port for call in stub.calls}
    assert len(ports) == 1, "NTLM needs every leg on the same connection"
    assert list(gate.authenticated.values()) == ["CONTOSO\\alice"]
    legs = [call.headers.get("Authorization", "").split(" ")[0] for call in stub.calls]
    assert legs == ["", "Negotiate", "Negotiate", ""]  # the second call rides the logon
    assert [call.headers.get("Cookie") for call in stub.calls[1:3]] == ["ARRAffinity=node7"] * 2
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pyampam"))
    assert PASSWORD not in ours
    assert "GET pamroles -> 200" in ours


def test_windows_authentication_with_a_wrong_password_fails_cleanly(
    stub: StubServer, ntlm_users: None
) -> None:
    """A wrong password ends in RestAuthenticationError; the route is never reached."""
    stub.gate = NtlmGate()
    stub.route("GET", "pamroles", Reply(200, fixture("roles.json")))
    with (
        PamRestClient(
            stub.base_url, auth=windows_auth("CONTOSO\\alice", "not-" + PASSWORD)
        ) as rest,
        pytest.raises(RestAuthenticationError) as caught,
    ):
        rest.roles()
    assert "not-" + PASSWORD not in str(caught.value)


# -- against pyampam.testing.PamRestTestServer -----------------------------------------------
# The test server was written apart from this client, from the same documentation; these tests
# check the client's side of what they must agree on (tests/servers/test_rest_end_to_end.py
# walks the whole activation flow).

MIM_USERS = {"CORP\\jen": "jen;Pa55-word", "CORP\\bob": "bob;Pa55-word"}


@attrs.frozen
class Mim:
    server: PamRestTestServer
    service: PamService

    def client(self, user: str = "CORP\\jen") -> PamRestClient:
        return PamRestClient(self.server.url, auth=windows_auth(user, MIM_USERS[user]), timeout=10)


@pytest.fixture
def mim() -> Iterator[Mim]:
    with (
        PamService(provider=FakeProvider()) as service,
        PamRestTestServer(service, users=MIM_USERS) as server,
    ):
        jen = service.new_user("CORP", "jen")
        bob = service.new_user("CORP", "bob")
        service.new_role(
            "Night shift",
            candidates=[jen],
            ttl=dt.timedelta(hours=2),
            available_from=dt.time(0, 0),
            available_to=dt.time(6, 30),
        )
        service.new_role("Instant", candidates=[jen], ttl=dt.timedelta(minutes=30))
        service.new_role("Approved", candidates=[jen], approvers=[bob], approval_enabled=True)
        yield Mim(server, service)
        assert server.errors == ()


def test_real_server_roles_are_read_with_their_quirks(mim: Mim) -> None:
    """TTL strings, RoleId, and a window starting at midnight (sent as MinValue) read right."""
    with mim.client() as client:
        roles = {role.display_name: role for role in client.roles()}
    night = roles["Night shift"]
    assert night.role_id == str(mim.service.get_role("Night shift").role_id)
    assert night.ttl == dt.timedelta(hours=2)
    assert night.availability_window_enabled
    assert (night.available_from, night.available_to) == (
        dt.time(0, 0, tzinfo=UTC),
        dt.time(6, 30, tzinfo=UTC),
    )
    assert (roles["Instant"].available_from, roles["Instant"].available_to) == (None, None)


def test_real_server_one_logon_serves_many_calls(mim: Mim) -> None:
    """One client, one keep-alive connection, one NTLM handshake for all its calls."""
    with mim.client() as client:
        assert client.session_info() == "CORP\\jen"
        client.roles()
        client.requests()
        client.requests_to_approve()
    assert mim.server.stats.handshakes_completed == 1
    assert mim.server.stats.connections_accepted == 1


def test_real_server_instant_role_activates_and_closes(mim: Mim) -> None:
    """Create, wait until Active, find it by a status filter, close it, and see it Closed."""
    with mim.client() as client:
        (role,) = client.roles(filter=F.DisplayName == "Instant")
        created = client.create_request(role, requested_ttl=600, justification="change 42")
        active = client.wait_until_active(created, timeout=5, poll=0.05)
        assert active.requested_ttl == dt.timedelta(minutes=10)
        assert active.expiration_time is not None
        listed = client.requests(filter=F.RequestStatus == RequestStatus.ACTIVE)
        assert [request.request_id for request in listed] == [created.request_id]
        client.close_request(active)
        assert client.get_request(created.request_id).status is RequestStatus.CLOSED
        with pytest.raises(RequestEndedError, match="Closed"):
            client.wait_until_active(created, timeout=1, poll=0.05)


def test_real_server_rejection_ends_the_wait(mim: Mim) -> None:
    """An approver's Reject makes the requestor's wait raise RequestEndedError (Rejected)."""
    with mim.client() as jen, mim.client("CORP\\bob") as bob:
        (role,) = jen.roles(filter=F.ApprovalEnabled == True)  # noqa: E712 - builds a filter
        created = jen.create_request(role.role_id)
        assert created.status is RequestStatus.PENDING_APPROVAL
        (pending,) = bob.requests_to_approve(filter=F.RoleName == "Approved")
        bob.reject(pending)
        with pytest.raises(RequestEndedError) as caught:
            jen.wait_until_active(created, timeout=5, poll=0.05)
    assert caught.value.request.status is RequestStatus.REJECTED


def test_real_server_errors_carry_mims_message(mim: Mim) -> None:
    """Closing a request that does not exist is a RestNotFoundError with the server's words."""
    with mim.client() as client, pytest.raises(RestNotFoundError) as caught:
        client.close_request(uuid.uuid4())
    assert caught.value.status_code == 404
    assert caught.value.mim_message


def test_real_server_through_an_injected_session() -> None:
    """A caller's own requests.Session is used (its headers sent) and left open by close()."""
    with (
        PamService(provider=FakeProvider()) as service,
        PamRestTestServer(service, authentication="none") as server,
    ):
        service.new_user("CORP", "jen")
        session = requests.Session()
        session.headers[CALLER_HEADER] = "CORP\\jen"
        with PamRestClient(server.url, session=session) as client:
            assert client.session_info() == "CORP\\jen"
        assert session.get(server.url + "pamroles?v=1", timeout=5).status_code == 200
        session.close()
