"""The PAM REST test server, driven with raw http.client and pyspnego over real NTLM on 127.0.0.1.

These tests use neither pyampam's REST client nor its auth: the server is one of two readings of
MIM's API, and must be right on its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import spnego

from pyampam import RequestStatus
from pyampam.exceptions import InvalidValueError
from pyampam.providers import CallResult
from pyampam.testing import (
    FakeProvider,
    ODataFilter,
    ODataFilterError,
    PamRestTestServer,
)

USERS = {"CORP\\jen": "Jen:pa55 w0rd", "CORP\\bob": "b0b-secret", "CORP\\ghost": "boo-4u"}
BASE = "/api/pamresources/"
UNSET = "0001-01-01T00:00:00"


# -- helpers -------------------------------------------------------------------------------


class Reply(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        error = self.json()["odata.error"]
        assert error["code"] == ""
        assert error["message"]["lang"] == "en-US"
        value = error["message"]["value"]
        assert isinstance(value, str)
        return value

    def challenges(self) -> list[str]:
        return self.headers.get_all("WWW-Authenticate") or []


class Raw:
    """One keep-alive HTTP connection to the server, with an optional NTLM logon."""

    def __init__(self, server: PamRestTestServer, *, timeout: float = 10.0) -> None:
        self.server = server
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)

    def call(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        self.connection.request(method, target, body=body, headers=headers or {})
        response = self.connection.getresponse()
        return Reply(response.status, response.headers, response.read())

    def get(self, resource: str, **headers: str) -> Reply:
        return self.call("GET", BASE + resource, headers=headers)

    def post(self, resource: str, document: object = None, **headers: str) -> Reply:
        body = None
        if document is not None:
            body = json.dumps(document).encode()
            headers = {"Content-Type": "application/json", **headers}
        return self.call("POST", BASE + resource, body=body, headers=headers)

    def logon(
        self,
        user: str,
        password: str,
        *,
        scheme: str = "NTLM",
        protocol: str = "ntlm",
        target: str = BASE + "sessioninfo?v=1",
    ) -> Reply:
        """Run the handshake on this connection; the answer to the authenticated request."""
        context = spnego.client(user, password, hostname="127.0.0.1", protocol=protocol)
        token = context.step()
        assert token is not None
        first = self.call("GET", target, headers={"Authorization": _header(scheme, token)})
        assert first.status == 401
        (offer,) = first.challenges()
        given_scheme, _, challenge = offer.partition(" ")
        assert given_scheme == scheme
        answer = context.step(base64.b64decode(challenge))
        assert answer is not None
        final = self.call("GET", target, headers={"Authorization": _header(scheme, answer)})
        self.context = context
        return final

    def close(self) -> None:
        self.connection.close()


def _header(scheme: str, token: bytes) -> str:
    return f"{scheme} {base64.b64encode(token).decode()}"


class World(NamedTuple):
    server: PamRestTestServer
    jen: Any
    bob: Any
    approval_role: Any
    instant_role: Any
    mfa_role: Any


def _populate(server: PamRestTestServer) -> World:
    service = server.service
    jen = service.new_user("CORP", "jen", phone="+1 425 555 0100", display_name="Jen Smith")
    bob = service.new_user("CORP", "bob")
    approval_role = service.new_role(
        "SQL O'Admins",
        description="SQL servers",
        candidates=[jen, bob],
        approvers=[bob],
        approval_enabled=True,
        ttl=dt.timedelta(hours=2),
    )
    instant_role = service.new_role("Instant", candidates=[jen], ttl=dt.timedelta(minutes=30))
    mfa_role = service.new_role("Phone", candidates=[jen], mfa_enabled=True)
    return World(server, jen, bob, approval_role, instant_role, mfa_role)


@pytest.fixture
def world() -> Iterator[World]:
    with PamRestTestServer(users=USERS) as server:
        yield _populate(server)
        assert server.errors == ()


@pytest.fixture
def open_world() -> Iterator[World]:
    with PamRestTestServer(authentication="none", caller="CORP\\jen") as server:
        yield _populate(server)
        assert server.errors == ()


@pytest.fixture
def jen(world: World) -> Iterator[Raw]:
    raw = Raw(world.server)
    assert raw.logon("CORP\\jen", USERS["CORP\\jen"]).status == 200
    yield raw
    raw.close()


@pytest.fixture
def bob(world: World) -> Iterator[Raw]:
    raw = Raw(world.server)
    assert raw.logon("CORP\\bob", USERS["CORP\\bob"]).status == 200
    yield raw
    raw.close()


@pytest.fixture
def anyone(open_world: World) -> Iterator[Raw]:
    raw = Raw(open_world.server)
    yield raw
    raw.close()


def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# -- authentication ----------------------------------------------------------------------------


def test_a_request_without_credentials_is_challenged_with_negotiate_and_ntlm(
    world: World,
) -> None:
    """No Authorization header: 401, an OData error, and both IIS challenges."""
    raw = Raw(world.server)
    reply = raw.get("pamroles?v=1")
    raw.close()
    assert reply.status == 401
    assert reply.challenges() == ["Negotiate", "NTLM"]
    assert "denied" in reply.message
    assert reply.headers["Content-Type"].startswith("application/json")


def test_ntlm_handshake_with_the_right_password_authenticates_the_connection(
    world: World,
) -> None:
    """Type-1, type-2, type-3 on one connection; later requests need no new handshake."""
    raw = Raw(world.server)
    reply = raw.logon("CORP\\jen", USERS["CORP\\jen"])
    assert reply.status == 200
    assert reply.json()["value"] == [{"Username": "CORP\\jen"}]
    assert raw.get("pamroles?v=1").status == 200
    assert raw.get("pamrequests?v=1").status == 200
    raw.close()
    stats = world.server.stats
    assert stats.handshakes_completed == 1
    assert stats.connections_accepted == 1
    # A new connection starts unauthenticated: NTLM belongs to the connection.
    other = Raw(world.server)
    assert other.get("pamroles?v=1").status == 401
    other.close()


def test_ntlm_handshake_with_a_wrong_password_is_refused(world: World) -> None:
    """A type-3 made with the wrong password: 401 with fresh challenges, nothing served."""
    raw = Raw(world.server)
    reply = raw.logon("CORP\\jen", "not-the-password")
    assert reply.status == 401
    assert reply.challenges() == ["Negotiate", "NTLM"]
    assert "logon was refused" in reply.message
    assert raw.get("pamroles?v=1").status == 401
    raw.close()
    assert world.server.stats.handshakes_failed == 1
    assert world.server.stats.handshakes_completed == 0


def test_an_account_missing_from_the_users_table_cannot_log_on(world: World) -> None:
    """Only the accounts given in users= can log on, whatever password they try."""
    raw = Raw(world.server)
    assert raw.logon("CORP\\mallory", "whatever").status == 401
    assert raw.logon("OTHER\\jen", USERS["CORP\\jen"]).status == 401
    raw.close()


def test_logon_names_are_matched_without_regard_to_case(world: World) -> None:
    """corp\\JEN logs on as CORP\\jen, and sessioninfo shows the name as typed."""
    raw = Raw(world.server)
    reply = raw.logon("corp\\JEN", USERS["CORP\\jen"])
    assert reply.status == 200
    assert reply.json()["value"] == [{"Username": "corp\\JEN"}]
    assert len(raw.get("pamroles?v=1").json()["value"]) == 3
    raw.close()


def test_negotiate_wrapping_ntlm_authenticates_and_sends_the_final_token(world: World) -> None:
    """SPNEGO (Negotiate) carrying NTLM works; the 200 carries the server's last token."""
    raw = Raw(world.server)
    reply = raw.logon("CORP\\bob", USERS["CORP\\bob"], scheme="Negotiate", protocol="negotiate")
    assert reply.status == 200
    (final,) = reply.challenges()
    scheme, _, token = final.partition(" ")
    assert scheme == "Negotiate"
    raw.context.step(base64.b64decode(token))
    assert raw.context.complete
    raw.close()


def test_raw_ntlm_in_the_negotiate_scheme_is_accepted(world: World) -> None:
    """Windows clients may send a bare NTLM token under Negotiate; the answer keeps the scheme."""
    raw = Raw(world.server)
    assert raw.logon("CORP\\bob", USERS["CORP\\bob"], scheme="Negotiate").status == 200
    raw.close()


def test_basic_auth_and_garbage_tokens_are_refused(world: World) -> None:
    """Only Negotiate and NTLM are accepted; a token that is no NTLM message is a 401."""
    raw = Raw(world.server)
    basic = raw.get("pamroles?v=1", Authorization="Basic Q09SUFxqZW46cGFzcw==")
    assert basic.status == 401
    assert "Basic" in basic.message
    assert raw.get("pamroles?v=1", Authorization="NTLM !!!").status == 401
    garbage = raw.get("pamroles?v=1", Authorization=_header("NTLM", b"NTLMSSP\x00\x03junk"))
    assert garbage.status == 401
    raw.close()
    assert world.server.errors == ()


def test_a_logged_on_account_that_is_no_pam_user_is_forbidden(world: World) -> None:
    """CORP\\ghost can log on (users table) but is no PAM user: 403 with a clear message."""
    raw = Raw(world.server)
    assert raw.logon("CORP\\ghost", USERS["CORP\\ghost"]).status == 200
    reply = raw.get("pamroles?v=1")
    raw.close()
    assert reply.status == 403
    assert "CORP\\ghost" in reply.message
    assert "not a PAM user" in reply.message


def test_the_user_file_is_private_hashed_scoped_and_removed(world: World) -> None:
    """0600, NT hashes only, NTLM_USER_FILE unset outside handshakes, deleted at stop."""
    path = world.server.users_file
    assert path is not None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    content = Path(path).read_text(encoding="utf-8")
    for password in USERS.values():
        assert password not in content
    assert "CORP\\jen:0:" in content
    raw = Raw(world.server)
    assert raw.logon("CORP\\jen", USERS["CORP\\jen"]).status == 200
    raw.close()
    assert "NTLM_USER_FILE" not in os.environ
    world.server.stop()
    assert not os.path.exists(path)


def test_a_users_file_the_process_already_named_is_put_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An NTLM_USER_FILE set before the server started is the same after a handshake."""
    monkeypatch.setenv("NTLM_USER_FILE", "/nonexistent/own-users")
    with PamRestTestServer(users={"CORP\\jen": "pw-1"}) as server:
        server.service.new_user("CORP", "jen")
        raw = Raw(server)
        assert raw.logon("CORP\\jen", "pw-1").status == 200
        raw.close()
    assert os.environ["NTLM_USER_FILE"] == "/nonexistent/own-users"


def test_two_servers_with_different_users_authenticate_concurrently() -> None:
    """The environment is shared by all servers, so handshakes of two servers must not mix."""
    errors: list[BaseException] = []
    with (
        PamRestTestServer(users={"CORP\\jen": "first-pw"}) as first,
        PamRestTestServer(users={"CORP\\jen": "second-pw"}) as second,
    ):

        def log_on(server: PamRestTestServer, password: str, wrong: str) -> None:
            try:
                for _ in range(5):
                    raw = Raw(server)
                    assert raw.logon("CORP\\jen", password).status == 200
                    raw.close()
                    raw = Raw(server)
                    assert raw.logon("CORP\\jen", wrong).status == 401
                    raw.close()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [
            threading.Thread(target=log_on, args=(first, "first-pw", "second-pw")),
            threading.Thread(target=log_on, args=(second, "second-pw", "first-pw")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


def test_without_authentication_the_header_or_the_default_caller_acts(anyone: Raw) -> None:
    """authentication='none': X-Pyampam-User wins, else caller=; both are DOMAIN\\user."""
    assert anyone.get("sessioninfo?v=1").json()["value"] == [{"Username": "CORP\\jen"}]
    reply = anyone.get("sessioninfo?v=1", **{"X-Pyampam-User": "CORP\\bob"})
    assert reply.json()["value"] == [{"Username": "CORP\\bob"}]
    bad = anyone.get("sessioninfo?v=1", **{"X-Pyampam-User": "bob"})
    assert bad.status == 401
    assert "DOMAIN\\user" in bad.message


def test_without_authentication_and_without_a_caller_requests_are_unauthenticated() -> None:
    """No caller= and no header: 401 saying how to name one."""
    with PamRestTestServer(authentication="none") as server:
        raw = Raw(server)
        reply = raw.get("pamroles?v=1")
        raw.close()
    assert reply.status == 401
    assert "X-Pyampam-User" in reply.message


# -- versions, paths, methods ------------------------------------------------------------------


def test_the_api_version_is_required_and_must_be_1(jen: Raw) -> None:
    """Missing v, or v=2: 400 with an OData error naming v=1."""
    missing = jen.get("pamroles")
    assert missing.status == 400
    assert "v=1" in missing.message
    other = jen.get("pamroles?v=2")
    assert other.status == 400
    assert "'2'" in other.message


def test_require_version_false_serves_requests_without_v() -> None:
    """As MIM's reference describes: no v means the latest version."""
    with PamRestTestServer(
        authentication="none", caller="CORP\\jen", require_version=False
    ) as server:
        server.service.new_user("CORP", "jen")
        raw = Raw(server)
        assert raw.get("pamroles").status == 200
        assert raw.get("pamroles?v=3").status == 400
        raw.close()


def test_unknown_resources_are_404_and_wrong_methods_405(anyone: Raw) -> None:
    """OData errors for a wrong path, a wrong action, and a method the resource lacks."""
    assert anyone.get("pamgroups?v=1").status == 404
    assert anyone.call("GET", "/api/other?v=1").status == 404
    assert anyone.post(f"pamrequests(guid'{uuid.uuid4()}')/Explode?v=1").status == 404
    wrong = anyone.post("pamroles?v=1")
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "GET"
    assert anyone.call("DELETE", BASE + "pamrequests?v=1").headers["Allow"] == "GET, POST"


def test_keys_must_be_written_as_guid_literals(anyone: Raw) -> None:
    """pamrequests(ID)/Close without guid'...' is a 400, not a 404."""
    reply = anyone.post(f"pamrequests({uuid.uuid4()})/Close?v=1")
    assert reply.status == 400
    assert "guid'" in reply.message
    assert anyone.post("pamrequests(guid'nope')/Close?v=1").status == 400


def test_unsupported_query_options_are_refused(anyone: Raw) -> None:
    """$top, $orderby and friends are not served: 400, not silently ignored."""
    reply = anyone.get("pamroles?v=1&$top=1")
    assert reply.status == 400
    assert "$top" in reply.message


def test_a_chunked_body_is_refused_and_a_huge_one_too(anyone: Raw, open_world: World) -> None:
    """Content-Length is required for bodies; one over max_body_size gets 413."""
    reply = anyone.call(
        "POST",
        BASE + "pamrequests?v=1",
        body=b"0\r\n\r\n",
        headers={"Transfer-Encoding": "chunked"},
    )
    assert reply.status == 411
    raw = Raw(open_world.server)
    open_world.server.max_body_size = 10
    assert raw.post("pamrequests?v=1", {"Justification": "x" * 20}).status == 413
    raw.close()


# -- shapes ------------------------------------------------------------------------------------


def test_roles_are_an_odata_collection_with_mims_shapes(world: World, jen: Raw) -> None:
    """pamroles: metadata URL, RoleId, TTL as a string, unset window as 0001-01-01."""
    reply = jen.get("pamroles?v=1")
    assert reply.status == 200
    assert reply.headers["DataServiceVersion"] == "3.0;"
    document = reply.json()
    assert document["odata.metadata"] == (
        f"http://127.0.0.1:{world.server.port}/api/pamresources/%24metadata#pamroles"
    )
    by_name = {role["DisplayName"]: role for role in document["value"]}
    assert set(by_name) == {"SQL O'Admins", "Instant", "Phone"}
    role = by_name["SQL O'Admins"]
    assert list(role) == [
        "RoleId",
        "DisplayName",
        "Description",
        "TTL",
        "AvailableFrom",
        "AvailableTo",
        "MFAEnabled",
        "ApprovalEnabled",
        "AvailabilityWindowEnabled",
    ]
    assert role["RoleId"] == str(world.approval_role.role_id)
    assert role["TTL"] == "7200"
    assert role["AvailableFrom"] == role["AvailableTo"] == UNSET
    assert role["ApprovalEnabled"] is True
    assert role["MFAEnabled"] is False
    assert by_name["Instant"]["Description"] is None


def test_roles_list_only_those_the_caller_is_a_candidate_of(bob: Raw) -> None:
    """Bob is a candidate of one role only."""
    names = [role["DisplayName"] for role in bob.get("pamroles?v=1").json()["value"]]
    assert names == ["SQL O'Admins"]


def test_an_availability_window_is_served_as_times_on_0001_01_01() -> None:
    """AvailableFrom/To carry the time of day in UTC on .NET's first day."""
    with PamRestTestServer(authentication="none", caller="CORP\\jen") as server:
        jen = server.service.new_user("CORP", "jen")
        server.service.new_role(
            "Office hours",
            candidates=[jen],
            available_from=dt.time(8, 30),
            available_to=dt.time(17, 0),
        )
        raw = Raw(server)
        (role,) = raw.get("pamroles?v=1").json()["value"]
        raw.close()
    assert role["AvailableFrom"] == "0001-01-01T08:30:00Z"
    assert role["AvailableTo"] == "0001-01-01T17:00:00Z"
    assert role["AvailabilityWindowEnabled"] is True


def test_creating_a_request_answers_201_with_the_element(world: World, jen: Raw) -> None:
    """POST pamrequests: 201, Location, @Element metadata, RoleID, TTL text, unset expiry."""
    reply = jen.post(
        "pamrequests?v=1",
        {
            "RoleId": str(world.approval_role.role_id),
            "RequestedTTL": "3600",
            "Justification": "ticket 4711",
        },
    )
    assert reply.status == 201
    body = reply.json()
    assert body["odata.metadata"].endswith("/api/pamresources/%24metadata#pamrequests/@Element")
    assert list(body)[1:] == [
        "RequestId",
        "CreatorID",
        "Justification",
        "CreationTime",
        "CreationMethod",
        "ExpirationTime",
        "RoleID",
        "RequestedTTL",
        "RequestedTime",
        "RequestStatus",
    ]
    assert body["RoleID"] == str(world.approval_role.role_id)
    assert body["CreatorID"] == str(world.jen.object_id)
    assert body["RequestedTTL"] == "3600"
    assert body["ExpirationTime"] == UNSET
    assert body["RequestStatus"] == "PendingApproval"
    assert body["Justification"] == "ticket 4711"
    assert body["CreationTime"].endswith("Z")
    assert body["RequestedTime"] == body["CreationTime"]
    assert reply.headers["Location"].endswith(f"pamrequests(guid'{body['RequestId']}')")
    stored = world.server.service.get_request(uuid.UUID(body["RequestId"]))
    assert stored.requested_ttl == dt.timedelta(hours=1)


def test_requests_are_listed_with_mims_shapes(world: World, jen: Raw) -> None:
    """GET pamrequests: the caller's own requests; an active one carries its expiry."""
    jen.post("pamrequests?v=1", {"RoleId": str(world.instant_role.role_id), "RequestedTTL": 600})
    other = world.server.service.request_activation(world.bob, world.approval_role)
    (request,) = jen.get("pamrequests?v=1").json()["value"]
    assert request["RequestStatus"] == "Active"
    assert request["RequestId"] != str(other.request_id)
    assert request["ExpirationTime"] != UNSET
    expires = dt.datetime.fromisoformat(request["ExpirationTime"].replace("Z", "+00:00"))
    created = dt.datetime.fromisoformat(request["CreationTime"].replace("Z", "+00:00"))
    assert dt.timedelta(seconds=599) < expires - created < dt.timedelta(seconds=601)
    one = jen.get(f"pamrequests(guid'{request['RequestId']}')?v=1")
    assert one.status == 200
    assert one.json()["RequestId"] == request["RequestId"]
    assert jen.get(f"pamrequests(guid'{other.request_id}')?v=1").status == 403


def test_create_reads_query_parameters_and_form_bodies(world: World, jen: Raw) -> None:
    """As MIM: parameters may be in the query string or the body, names in any case."""
    role = world.instant_role.role_id
    by_query = jen.post(f"pamrequests?v=1&RoleId={role}&RequestedTTL=60&Justification=q")
    assert by_query.status == 201
    assert by_query.json()["Justification"] == "q"
    by_form = jen.call(
        "POST",
        BASE + "pamrequests?v=1",
        body=f"roleid={role}&requestedttl=120&justification=f+1".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert by_form.status == 201
    assert by_form.json()["Justification"] == "f 1"
    assert by_form.json()["RequestedTTL"] == "120"


def test_a_missing_ttl_gives_the_roles_and_a_later_start_schedules(world: World, jen: Raw) -> None:
    """No RequestedTTL: the role's TTL; RequestedTime in the future: Scheduled."""
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=3)
    reply = jen.post(
        "pamrequests?v=1",
        {
            "RoleId": str(world.instant_role.role_id),
            "RequestedTime": later.strftime("%Y/%m/%d %H:%M"),
        },
    )
    assert reply.status == 201
    body = reply.json()
    assert body["RequestedTTL"] == "1800"
    assert body["RequestStatus"] == "Scheduled"
    assert body["RequestedTime"] == later.strftime("%Y-%m-%dT%H:%M:00Z")
    past = jen.post(
        "pamrequests?v=1",
        {"RoleId": str(world.instant_role.role_id), "RequestedTime": "2015-07-12T06:40:00Z"},
    )
    assert past.json()["RequestStatus"] == "Active"


@pytest.mark.parametrize(
    ("document", "status", "words"),
    [
        ({}, 400, "RoleId is required"),
        ({"RoleId": "not-a-guid"}, 400, "not a GUID"),
        ({"RoleId": str(uuid.UUID(int=7))}, 400, "no PAM role"),
        ({"RoleId": "ROLE", "RequestedTTL": "soon"}, 400, "whole number"),
        ({"RoleId": "ROLE", "RequestedTTL": "0"}, 400, "positive"),
        ({"RoleId": "ROLE", "RequestedTTL": "86400"}, 400, "longer than the role's TTL"),
        ({"RoleId": "ROLE", "RequestedTime": "next week"}, 400, "not a date"),
        ({"RoleId": "ROLE", "Justification": 5}, 400, "Justification"),
    ],
)
def test_bad_create_requests_are_400_with_a_clear_message(
    world: World, jen: Raw, document: dict[str, object], status: int, words: str
) -> None:
    """Each wrong parameter is named in the OData error."""
    if document.get("RoleId") == "ROLE":
        document = {**document, "RoleId": str(world.instant_role.role_id)}
    reply = jen.post("pamrequests?v=1", document)
    assert reply.status == status
    assert words in reply.message


def test_create_refuses_a_non_candidate_and_unreadable_bodies(world: World, bob: Raw) -> None:
    """Not a candidate: 403; invalid JSON: 400; a body of another type: 415."""
    reply = bob.post("pamrequests?v=1", {"RoleId": str(world.instant_role.role_id)})
    assert reply.status == 403
    assert "candidate" in reply.message
    broken = bob.call(
        "POST",
        BASE + "pamrequests?v=1",
        body=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert broken.status == 400
    xml = bob.call(
        "POST", BASE + "pamrequests?v=1", body=b"<x/>", headers={"Content-Type": "text/xml"}
    )
    assert xml.status == 415
    listed = bob.call(
        "POST", BASE + "pamrequests?v=1", body=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert listed.status == 400


def test_closing_a_request_answers_200_without_a_body(world: World, jen: Raw) -> None:
    """POST pamrequests(guid'ID')/Close: 200, no body; the request is Closed."""
    created = jen.post("pamrequests?v=1", {"RoleId": str(world.instant_role.role_id)}).json()
    reply = jen.post(f"pamrequests(guid'{created['RequestId']}')/Close?v=1")
    assert reply.status == 200
    assert reply.body == b""
    stored = world.server.service.get_request(uuid.UUID(created["RequestId"]))
    assert stored.status is RequestStatus.CLOSED
    again = jen.post(f"pamrequests(guid'{created['RequestId']}')/Close?v=1")
    assert again.status == 400
    assert "Closed" in again.message


def test_only_the_requestor_closes_and_unknown_requests_are_404(
    world: World, jen: Raw, bob: Raw
) -> None:
    """Someone else's request: 403; no such request: 404."""
    created = jen.post("pamrequests?v=1", {"RoleId": str(world.instant_role.role_id)}).json()
    reply = bob.post(f"pamrequests(guid'{created['RequestId']}')/Close?v=1")
    assert reply.status == 403
    assert "own requests" in reply.message
    assert bob.post(f"pamrequests(guid'{uuid.uuid4()}')/Close?v=1").status == 404


def test_pending_approvals_have_mims_shapes(world: World, jen: Raw, bob: Raw) -> None:
    """pamrequeststoapprove: RoleName, Requestor (the PRIV account), {"Value": ...} ids."""
    created = jen.post(
        "pamrequests?v=1",
        {"RoleId": str(world.approval_role.role_id), "RequestedTTL": "3600", "Justification": "j"},
    ).json()
    document = bob.get("pamrequeststoapprove?v=1").json()
    assert document["odata.metadata"].endswith("%24metadata#pamrequeststoapprove")
    (pending,) = document["value"]
    assert list(pending) == [
        "RoleName",
        "Requestor",
        "Justification",
        "RequestedTTL",
        "RequestedTime",
        "CreationTime",
        "FIMRequestID",
        "RequestorID",
        "ApprovalObjectID",
    ]
    assert pending["RoleName"] == "SQL O'Admins"
    assert pending["Requestor"] == "priv.jen"
    assert pending["RequestedTTL"] == "3600"
    assert pending["FIMRequestID"] == {"Value": created["RequestId"]}
    assert pending["RequestorID"] == {"Value": str(world.jen.object_id)}
    approval = pending["ApprovalObjectID"]["Value"]
    assert approval != created["RequestId"]
    uuid.UUID(approval)
    assert jen.get("pamrequeststoapprove?v=1").json()["value"] == []


def test_approving_by_the_approval_id_activates_the_request(
    world: World, jen: Raw, bob: Raw
) -> None:
    """POST pamrequeststoapprove(guid'APPROVAL')/Approve: 200, no body, the request is Active."""
    created = jen.post("pamrequests?v=1", {"RoleId": str(world.approval_role.role_id)}).json()
    (pending,) = bob.get("pamrequeststoapprove?v=1").json()["value"]
    by_request_id = bob.post(f"pamrequeststoapprove(guid'{created['RequestId']}')/Approve?v=1")
    assert by_request_id.status == 404
    assert "ApprovalObjectID" in by_request_id.message
    approval = pending["ApprovalObjectID"]["Value"]
    reply = bob.post(f"pamrequeststoapprove(guid'{approval}')/Approve?v=1")
    assert (reply.status, reply.body) == (200, b"")
    (mine,) = jen.get("pamrequests?v=1").json()["value"]
    assert mine["RequestStatus"] == "Active"
    assert bob.get("pamrequeststoapprove?v=1").json()["value"] == []
    twice = bob.post(f"pamrequeststoapprove(guid'{approval}')/Approve?v=1")
    assert twice.status == 400


def test_approving_as_a_non_approver_or_ones_own_request_is_forbidden(
    world: World, jen: Raw, bob: Raw
) -> None:
    """Jen is no approver: 403; Bob may not approve his own request: 403."""
    jen.post("pamrequests?v=1", {"RoleId": str(world.approval_role.role_id)})
    (pending,) = bob.get("pamrequeststoapprove?v=1").json()["value"]
    approval = pending["ApprovalObjectID"]["Value"]
    reply = jen.post(f"pamrequeststoapprove(guid'{approval}')/Approve?v=1")
    assert reply.status == 403
    assert "not an approver" in reply.message
    own = bob.post("pamrequests?v=1", {"RoleId": str(world.approval_role.role_id)}).json()
    own_approval = world.server.service.get_request(uuid.UUID(own["RequestId"]))
    from pyampam.testing._rest_entities import approval_id

    selfish = bob.post(
        f"pamrequeststoapprove(guid'{approval_id(own_approval.request_id)}')/Approve?v=1"
    )
    assert selfish.status == 403
    assert "own request" in selfish.message


def test_rejecting_ends_the_request(world: World, jen: Raw, bob: Raw) -> None:
    """Reject: 200; the request is Rejected and no longer pending."""
    jen.post("pamrequests?v=1", {"RoleId": str(world.approval_role.role_id)})
    (pending,) = bob.get("pamrequeststoapprove?v=1").json()["value"]
    approval = pending["ApprovalObjectID"]["Value"]
    assert bob.post(f"pamrequeststoapprove(guid'{approval}')/Reject?v=1").status == 200
    (mine,) = jen.get("pamrequests?v=1").json()["value"]
    assert mine["RequestStatus"] == "Rejected"


def test_an_mfa_role_is_pending_mfa_and_completes_through_the_provider() -> None:
    """The call is placed by the service's provider; the request moves on by itself."""
    provider = FakeProvider(latency=0.2)
    from pyampam.activation import PamService

    with (
        PamService(provider=provider) as service,
        PamRestTestServer(service, authentication="none", caller="CORP\\jen") as server,
    ):
        jen = service.new_user("CORP", "jen", phone="+1 425 555 0100")
        role = service.new_role("Phone", candidates=[jen], mfa_enabled=True)
        raw = Raw(server)
        created = raw.post("pamrequests?v=1", {"RoleId": str(role.role_id)}).json()
        assert created["RequestStatus"] == "PendingMFA"

        def status() -> str:
            (request,) = raw.get("pamrequests?v=1").json()["value"]
            return str(request["RequestStatus"])

        eventually(lambda: status() == "Active")
        raw.close()
    assert [call.username for call in provider.calls] == [str(jen.object_id)]


def test_a_failed_mfa_call_rejects_the_request(open_world: World, anyone: Raw) -> None:
    """The FakeProvider scripted to a hang-up: the request ends Rejected."""
    provider = open_world.server.service.provider
    assert isinstance(provider, FakeProvider)
    provider.script(str(open_world.jen.object_id), CallResult.FAILED_USER_HUNGUP_ON_US)
    anyone.post("pamrequests?v=1", {"RoleId": str(open_world.mfa_role.role_id)})

    def status() -> str:
        (request,) = anyone.get("pamrequests?v=1").json()["value"]
        return str(request["RequestStatus"])

    eventually(lambda: status() == "Rejected")


def test_expired_requests_are_shown_expired(open_world: World, anyone: Raw) -> None:
    """Statuses are brought up to date before each answer, as MIM's jobs would."""
    service = open_world.server.service
    request = service.request_activation(open_world.jen, open_world.instant_role)
    hour_ago = request.creation_time - dt.timedelta(hours=1)
    late = attrs_evolve(
        request,
        creation_time=hour_ago,
        activation_time=hour_ago,
        expiration_time=hour_ago + dt.timedelta(minutes=30),
    )
    service.store.update_request(late, expected_status=RequestStatus.ACTIVE)
    (shown,) = anyone.get("pamrequests?v=1").json()["value"]
    assert shown["RequestStatus"] == "Expired"


def attrs_evolve(instance: Any, **changes: Any) -> Any:
    import attrs

    return attrs.evolve(instance, **changes)


def test_session_info_is_served_where_the_docs_and_the_sample_portal_look(anyone: Raw) -> None:
    """/api/session/sessioninfo (reference page) and /api/pamresources/sessioninfo (portal)."""
    documented = anyone.call("GET", "/api/session/sessioninfo/?v=1")
    portal = anyone.get("sessioninfo?v=1")
    for reply in (documented, portal):
        assert reply.status == 200
        document = reply.json()
        assert document["odata.metadata"].endswith("%24metadata#sessioninfo")
        assert document["value"] == [{"Username": "CORP\\jen"}]
    assert anyone.get("sessioninfo?v=1&$filter=Username%20eq%20'x'").status == 400


# -- $filter through the server -------------------------------------------------------------


def _names(raw: Raw, condition: str) -> list[str]:
    reply = raw.get("pamroles?v=1&$filter=" + urlquote(condition))
    assert reply.status == 200, reply.body
    return sorted(role["DisplayName"] for role in reply.json()["value"])


def urlquote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_filters_select_roles(open_world: World, anyone: Raw) -> None:
    """eq with an escaped quote, booleans, numbers, text TTLs, or, not and parentheses."""
    assert _names(anyone, "DisplayName eq 'SQL O''Admins'") == ["SQL O'Admins"]
    assert _names(anyone, "MFAEnabled") == ["Phone"]
    assert _names(anyone, "MFAEnabled eq false") == ["Instant", "SQL O'Admins"]
    assert _names(anyone, "TTL lt 3600") == ["Instant"]
    assert _names(anyone, "TTL le '3600'") == ["Instant", "Phone"]
    assert _names(anyone, "TTL eq 7200L") == ["SQL O'Admins"]
    assert _names(anyone, "DisplayName eq 'Phone' or (TTL gt 1800 and not MFAEnabled)") == [
        "Phone",
        "SQL O'Admins",
    ]
    assert _names(anyone, "Description eq null") == ["Instant", "Phone"]
    assert _names(anyone, "Description ne null") == ["SQL O'Admins"]
    role_id = open_world.instant_role.role_id
    assert _names(anyone, f"RoleId eq guid'{role_id}'") == ["Instant"]
    assert _names(anyone, "DisplayName gt 'P'") == ["Phone", "SQL O'Admins"]


def test_filters_on_dates_and_complex_members(open_world: World, anyone: Raw) -> None:
    """CreationTime between two datetime literals; FIMRequestID/Value on approvals."""
    service = open_world.server.service
    first = service.request_activation(open_world.jen, open_world.instant_role)
    middle = first.creation_time + dt.timedelta(microseconds=1)
    second = service.request_activation(open_world.jen, open_world.approval_role)
    stamp = middle.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    later = anyone.get(
        "pamrequests?v=1&$filter=" + urlquote(f"CreationTime gt datetime'{stamp}'")
    ).json()["value"]
    assert [one["RequestId"] for one in later] == [str(second.request_id)]
    unexpired = anyone.get(
        "pamrequests?v=1&$filter=" + urlquote("ExpirationTime eq datetime'0001-01-01T00:00:00'")
    ).json()["value"]
    assert [one["RequestId"] for one in unexpired] == [str(second.request_id)]
    pending = anyone.get(
        "pamrequeststoapprove?v=1&$filter="
        + urlquote(f"FIMRequestID/Value eq guid'{second.request_id}'"),
        **{"X-Pyampam-User": "CORP\\bob"},
    ).json()["value"]
    assert len(pending) == 1


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ("Colour eq 'red'", "no property 'Colour'"),
        ("DisplayName eq 5", "incompatible"),
        ("TTL eq 'an hour'", "incompatible"),
        ("startswith(DisplayName, 'S')", "functions are not supported"),
        ("TTL add 5 eq 10", "'add' is not supported"),
        ("DisplayName eq 'open", "closing quote"),
        ("(DisplayName eq 'x'", "not closed"),
        ("DisplayName eq", "ends where"),
        ("DisplayName", "not a condition"),
        ("RoleId eq guid'zzz'", "not a GUID"),
        ("RoleId/Value eq 1", "has no member"),
        ("TTL gt null", "cannot compare with null"),
        ("", "empty"),
        ("(" * 60 + "MFAEnabled" + ")" * 60, "nests deeper"),
        (" and ".join(["MFAEnabled"] * 600), "too long"),
    ],
)
def test_unreadable_filters_are_400_with_a_clear_odata_error(
    anyone: Raw, condition: str, words: str
) -> None:
    """Whatever the reader cannot take is refused, saying what and where."""
    reply = anyone.get("pamroles?v=1&$filter=" + urlquote(condition))
    assert reply.status == 400
    assert words in reply.message


# -- the $filter reader on its own ------------------------------------------------------------


def test_the_filter_reader_unescapes_and_types_its_literals() -> None:
    """'' in a text, datetime with seven fractional digits, guid, decimals, negative numbers."""
    record = {
        "Name": "O'Brien",
        "When": dt.datetime(2015, 6, 12, 4, 49, 32, 431000, tzinfo=dt.timezone.utc),
        "Id": uuid.UUID(int=5),
        "Size": 3,
    }
    schema: Any = {
        "Name": _edm("STRING"),
        "When": _edm("DATETIME"),
        "Id": _edm("GUID"),
        "Size": _edm("INT64"),
    }

    def matches(text: str) -> bool:
        return ODataFilter.parse(text).check(schema).matches(record)

    assert matches("Name eq 'O''Brien'")
    assert matches("When eq datetime'2015-06-12T04:49:32.4310000Z'")
    assert matches("When eq datetimeoffset'2015-06-12T06:49:32.431+02:00'")
    assert matches("When gt datetime'2015-06-12T04:49'")
    assert matches(f"Id eq guid'{uuid.UUID(int=5)}'")
    assert matches("Size gt 2.5M and Size lt 3.5 and Size gt -1")
    assert matches("'O''Brien' eq Name")
    assert not matches("not (Size eq 3)")
    assert ODataFilter.parse("A eq 1 or B/C eq 2").properties() == {"A", "B/C"}


def _edm(name: str) -> Any:
    from pyampam.testing._rest_odata import EdmType

    return EdmType[name]


def test_filter_errors_carry_the_position() -> None:
    """The position of the problem is part of the error, for the caller to point at."""
    with pytest.raises(ODataFilterError) as caught:
        ODataFilter.parse("A eq 1 and B eq ?")
    assert caught.value.position == 16
    assert "position 16" in str(caught.value)


# -- fault injection ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 408, 500, 503])
def test_an_injected_status_answers_the_next_request_with_an_odata_error(
    anyone: Raw, status: int
) -> None:
    """inject(status=...) answers once, then the server is back to normal."""
    assert anyone.get("pamroles?v=1").status == 200
    anyone.server.inject(status=status, message="injected trouble")
    reply = anyone.get("pamroles?v=1")
    assert reply.status == status
    assert reply.message == "injected trouble"
    assert anyone.get("pamroles?v=1").status == 200


def test_faults_count_down_and_match_paths_and_methods(open_world: World, anyone: Raw) -> None:
    """times=2 on a path fails two matching requests only; others pass untouched."""
    server = open_world.server
    server.inject(status=503, times=2, path="pamrequests", method="GET")
    assert server.pending_faults == 1
    assert anyone.get("pamroles?v=1").status == 200
    assert (
        anyone.post("pamrequests?v=1", {"RoleId": str(open_world.instant_role.role_id)}).status
        == 201
    )
    assert anyone.get("pamrequests?v=1").status == 503
    assert anyone.get("pamrequests?v=1").status == 503
    assert anyone.get("pamrequests?v=1").status == 200
    assert server.pending_faults == 0


def test_a_fault_without_a_count_lasts_until_cleared(open_world: World, anyone: Raw) -> None:
    """times=None keeps failing; clear_faults() ends it."""
    server = open_world.server
    server.inject(status=500, times=None)
    for _ in range(3):
        reply = anyone.get("pamroles?v=1")
        assert reply.status == 500
        assert reply.message == "An error has occurred."
    server.clear_faults()
    assert anyone.get("pamroles?v=1").status == 200


def test_malformed_json_is_sent_with_a_json_content_type(open_world: World, anyone: Raw) -> None:
    """malformed=True: 200 and application/json, but the body does not parse."""
    open_world.server.inject(malformed=True)
    reply = anyone.get("pamroles?v=1")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
        reply.json()


def test_a_delay_slows_the_answer_down(open_world: World, anyone: Raw) -> None:
    """delay=0.3: the answer comes, normally, after at least that long."""
    open_world.server.inject(delay=0.3)
    started = time.monotonic()
    assert anyone.get("pamroles?v=1").status == 200
    assert time.monotonic() - started >= 0.3


def test_stop_cuts_a_delayed_answer_short(open_world: World) -> None:
    """A request stalled by a long delay does not keep stop() waiting."""
    server = open_world.server
    server.inject(delay=60)
    raw = Raw(server, timeout=30)
    outcome: list[BaseException | Reply] = []

    def call() -> None:
        try:
            outcome.append(raw.get("pamroles?v=1"))
        except (OSError, http.client.HTTPException) as error:
            outcome.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    eventually(lambda: server.stats.requests_received == 1)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    thread.join(5)
    raw.close()
    assert isinstance(outcome[0], (OSError, http.client.HTTPException))


def test_an_injected_401_forgets_the_logon_and_challenges_again(world: World, jen: Raw) -> None:
    """After a 401 fault the connection must authenticate anew, as after an expired session."""
    world.server.inject(status=401)
    reply = jen.get("pamroles?v=1")
    assert reply.status == 401
    assert reply.challenges() == ["Negotiate", "NTLM"]
    assert jen.get("pamroles?v=1").status == 401
    assert jen.logon("CORP\\jen", USERS["CORP\\jen"]).status == 200


def test_faults_do_not_hit_the_handshake_legs(world: World) -> None:
    """A fault waits for an authenticated request: the 401 legs do not use it up."""
    world.server.inject(status=503)
    raw = Raw(world.server)
    assert raw.logon("CORP\\jen", USERS["CORP\\jen"]).status == 503
    assert raw.get("pamroles?v=1").status == 200
    raw.close()


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"status": 42},
        {"status": True},
        {"delay": -1},
        {"status": 500, "times": 0},
    ],
)
def test_inject_refuses_nonsense(arguments: dict[str, Any]) -> None:
    """Nothing to do, a status that is no HTTP status, a negative delay, a zero count."""
    server = PamRestTestServer(authentication="none")
    with pytest.raises(InvalidValueError):
        server.inject(**arguments)


# -- lifecycle and construction ----------------------------------------------------------------


def test_calls_record_every_answer_with_its_caller(open_world: World, anyone: Raw) -> None:
    """Each answer is recorded: method, target as sent, caller, status, connection."""
    anyone.get("pamroles?v=1")
    anyone.get("nothing?v=1")
    calls = open_world.server.calls
    assert [(call.method, call.target, call.caller, call.status) for call in calls] == [
        ("GET", BASE + "pamroles?v=1", "CORP\\jen", 200),
        ("GET", BASE + "nothing?v=1", "CORP\\jen", 404),
    ]
    assert calls[0].connection_id == calls[1].connection_id


def test_the_server_starts_once_stops_twice_and_shows_its_state() -> None:
    """repr names the URL and mode, never a password; start twice raises; stop is idempotent."""
    server = PamRestTestServer(users={"CORP\\jen": "hunter2-secret"})
    assert "new" in repr(server)
    with pytest.raises(RuntimeError, match="no port"):
        _ = server.url
    with server:
        assert server.url == f"http://127.0.0.1:{server.port}/api/pamresources/"
        assert "running" in repr(server)
        assert "hunter2" not in repr(server)
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
    server.stop()
    assert "stopped" in repr(server)


def test_the_default_service_is_in_memory_with_a_fake_provider_and_stopped_after() -> None:
    """No service given: a fresh one with FakeProvider, shut down with the server."""
    with PamRestTestServer(authentication="none") as server:
        assert isinstance(server.service.provider, FakeProvider)
        assert server.service.get_users() == []
        assert server.authentication == "none"
        assert server.users_file is None


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({}, "needs users="),
        ({"users": {"jen": "pw"}}, "DOMAIN\\user"),
        ({"users": {"CORP\\jen": ""}}, "non-empty"),
        ({"users": {"CORP\\j:en": "pw"}}, "may not hold"),
        ({"users": {"CORP\\jen": "pw"}, "caller": "CORP\\jen"}, "caller= is for"),
        ({"authentication": "none", "users": {"CORP\\jen": "pw"}}, "users= is for"),
        ({"authentication": "none", "caller": "jen"}, "DOMAIN\\user"),
        ({"authentication": "basic"}, "'ntlm' or 'none'"),
    ],
)
def test_contradictory_or_wrong_options_are_refused(arguments: dict[str, Any], words: str) -> None:
    """Each wrong option is named, without echoing a password."""
    with pytest.raises(InvalidValueError) as caught:
        PamRestTestServer(**arguments)
    assert words in str(caught.value)
