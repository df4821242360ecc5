"""The PAM REST client's values: reading MIM's JSON (quirks included), writing it, and errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import pickle
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest
import requests
import requests.adapters
from hypothesis import given, settings
from hypothesis import strategies as st

from pyampam import RequestStatus
from pyampam.exceptions import InvalidValueError, PyampamError
from pyampam.rest import (
    PamRestClient,
    PendingApproval,
    RemoteRequest,
    RemoteRole,
    RequestEndedError,
    RestError,
    RestForbiddenError,
    RestNotFoundError,
    RestProtocolError,
    WaitTimeoutError,
)
from pyampam.rest._models import (
    collection_items,
    format_datetime,
    normalize_id,
    parse_datetime,
    parse_time_of_day,
    parse_ttl,
    single_entity,
)

DATA = Path(__file__).parent / "data" / "rest"
UTC = dt.timezone.utc
SQL_ROLE = "8f5cec1a-ecba-42ec-b76d-e6e0e4bf4c62"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


# -- single values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-06-01T09:00:00", dt.datetime(2016, 6, 1, 9, tzinfo=UTC)),
        ("2016-06-01T09:00:00Z", dt.datetime(2016, 6, 1, 9, tzinfo=UTC)),
        ("2016-06-01T09:00:00.1234567Z", dt.datetime(2016, 6, 1, 9, 0, 0, 123456, tzinfo=UTC)),
        ("2016-06-01T09:00:00.5", dt.datetime(2016, 6, 1, 9, 0, 0, 500000, tzinfo=UTC)),
        ("2016-06-01T11:00:00+02:00", dt.datetime(2016, 6, 1, 9, tzinfo=UTC)),
        ("2016-06-01T04:30:00-0430", dt.datetime(2016, 6, 1, 9, tzinfo=UTC)),
        ("2016-06-01T09:00", dt.datetime(2016, 6, 1, 9, tzinfo=UTC)),
        ("/Date(1464771600000)/", dt.datetime(2016, 6, 1, 9, tzinfo=UTC)),
        ("/Date(1464771600000+0200)/", dt.datetime(2016, 6, 1, 9, tzinfo=UTC)),
    ],
)
def test_dates_are_read_as_utc(text: str, expected: dt.datetime) -> None:
    """Naive dates are UTC, offsets are honoured, .NET's seven digits and /Date(ms)/ are read."""
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00.0000000",
        "0001-01-01T00:00:00+05:00",
        "/Date(-62135596800000)/",
    ],
)
def test_unset_dates_are_none(text: str | None) -> None:
    """.NET's DateTime.MinValue (MIM's "never set"), null and "" read as None."""
    assert parse_datetime(text) is None


@pytest.mark.parametrize(
    "value", ["yesterday", "2016-13-01T00:00:00", "2016-06-01T25:00:00", 1464771600, [], True]
)
def test_bad_dates_are_protocol_errors(value: object) -> None:
    """A date that is no date raises RestProtocolError naming the field."""
    with pytest.raises(RestProtocolError, match="CreationTime"):
        parse_datetime(value, field="CreationTime")


def test_times_of_day_are_read_in_utc() -> None:
    """AvailableFrom/To keep their time of day, in UTC; DateTime.MinValue is unset."""
    assert parse_time_of_day("0001-01-01T09:30:00Z") == dt.time(9, 30, tzinfo=UTC)
    assert parse_time_of_day("2016-06-01T09:30:00+02:00") == dt.time(7, 30, tzinfo=UTC)
    assert parse_time_of_day("0001-01-01T02:00:00+05:00") == dt.time(21, 0, tzinfo=UTC)
    assert parse_time_of_day("0001-01-01T00:00:00") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3600", dt.timedelta(hours=1)),
        (" 60 ", dt.timedelta(minutes=1)),
        ("0", dt.timedelta(0)),
        (7200, dt.timedelta(hours=2)),
        (90.0, dt.timedelta(seconds=90)),
        ("3600.0", dt.timedelta(hours=1)),
        ("01:30:00", dt.timedelta(minutes=90)),
        ("1.00:00:00", dt.timedelta(days=1)),
        (None, None),
        ("", None),
    ],
)
def test_ttls_are_read_as_timedeltas(value: object, expected: dt.timedelta | None) -> None:
    """TTLs come as strings of seconds (and, tolerated, numbers or .NET TimeSpan text)."""
    assert parse_ttl(value) == expected


@pytest.mark.parametrize("value", ["-5", "an hour", True, 1.5, "1e400", {"a": 1}, 10**30])
def test_bad_ttls_are_protocol_errors(value: object) -> None:
    """A TTL that is not a whole, non-negative number of seconds raises RestProtocolError."""
    with pytest.raises(RestProtocolError, match="RequestedTTL"):
        parse_ttl(value, field="RequestedTTL")


@pytest.mark.parametrize(
    "value",
    [
        "8F5CEC1A-ECBA-42EC-B76D-E6E0E4BF4C62",
        "urn:uuid:8f5cec1a-ecba-42ec-b76d-e6e0e4bf4c62",
        {"Value": "URN:UUID:8f5cec1a-ecba-42ec-b76d-e6e0e4bf4c62"},
        {"value": "{8f5cec1a-ecba-42ec-b76d-e6e0e4bf4c62}"},
        uuid.UUID(SQL_ROLE),
    ],
)
def test_ids_are_normalised(value: object) -> None:
    """Ids are unwrapped from {"Value": ...}, lose urn:uuid:, and GUIDs become lower case."""
    assert normalize_id(value) == SQL_ROLE


def test_ids_that_are_not_guids_are_kept() -> None:
    """An id that is not a GUID is carried as it came (MIM decides what its ids are)."""
    assert normalize_id("some-object") == "some-object"


# -- entities --------------------------------------------------------------------------------


def test_roles_fixture_is_read() -> None:
    """GET pamroles: RoleId and RoleID, TTL strings, null text, and availability windows."""
    items, next_link = collection_items(load("roles.json"))
    assert next_link is None
    first, second = (RemoteRole.from_json(item) for item in items)
    assert first == RemoteRole(
        role_id=SQL_ROLE,
        display_name="SQL File Access",
        description="Read and write the SQL backup share",
        ttl=dt.timedelta(hours=1),
        mfa_enabled=True,
    )
    assert second.role_id == "2c1e5c3b-9a77-4f0b-8e4a-5d6b7c8d9e0f"
    assert second.display_name == "O'Brien's Domain Admins"
    assert second.description == ""
    assert second.ttl == dt.timedelta(hours=2)
    assert (second.available_from, second.available_to) == (
        dt.time(9, tzinfo=UTC),
        dt.time(17, 30, tzinfo=UTC),
    )
    assert second.approval_enabled
    assert second.availability_window_enabled
    assert not second.mfa_enabled


def test_an_enabled_window_reads_min_value_as_midnight() -> None:
    """With the window enabled, 0001-01-01T00:00:00 is midnight, not unset."""
    role = RemoteRole.from_json(
        {
            "RoleId": SQL_ROLE,
            "AvailableFrom": "0001-01-01T00:00:00",
            "AvailableTo": "0001-01-01T06:00:00",
            "AvailabilityWindowEnabled": "True",
        }
    )
    assert role.available_from == dt.time(0, 0, tzinfo=UTC)
    assert role.available_to == dt.time(6, 0, tzinfo=UTC)


def test_requests_fixture_is_read() -> None:
    """GET pamrequests: RequestId and RequestID, urn:uuid:, offsets, /Date()/, unknown status."""
    items, _ = collection_items(load("requests.json"))
    pending, active, odd = (RemoteRequest.from_json(item) for item in items)
    assert pending == RemoteRequest(
        request_id="5e0c6f1d-8a3b-4c2d-9e1f-0a1b2c3d4e5f",
        role_id=SQL_ROLE,
        creator_id="b1d2f3a4-5b6c-4d7e-8f90-a1b2c3d4e5f6",
        justification="Ticket 4711: restore last night's backup",
        requested_ttl=dt.timedelta(minutes=30),
        requested_time=dt.datetime(2016, 6, 1, 9, tzinfo=UTC),
        creation_time=dt.datetime(2016, 6, 1, 8, 59, 12, 437000, tzinfo=UTC),
        creation_method="REST",
        expiration_time=None,
        status=RequestStatus.PENDING_MFA,
    )
    assert active.request_id == "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
    assert active.creator_id == "b1d2f3a4-5b6c-4d7e-8f90-a1b2c3d4e5f6"
    assert active.justification == ""
    assert active.creation_time == dt.datetime(2016, 6, 1, 8, tzinfo=UTC)
    assert active.expiration_time == dt.datetime(2016, 6, 1, 10, tzinfo=UTC)
    assert active.status is RequestStatus.ACTIVE
    assert odd.status == "AwaitingSomethingNew"
    assert odd.requested_time is None


def test_approvals_fixture_is_read() -> None:
    """GET pamrequeststoapprove: {"Value": ...} ids are unwrapped."""
    items, _ = collection_items(load("requests_to_approve.json"))
    (pending,) = (PendingApproval.from_json(item) for item in items)
    assert pending == PendingApproval(
        approval_id="99999999-8888-4777-8666-555555555555",
        fim_request_id="11111111-2222-4333-8444-555555555555",
        requestor="PRIV\\priv.jen",
        requestor_id="b1d2f3a4-5b6c-4d7e-8f90-a1b2c3d4e5f6",
        role_name="O'Brien's Domain Admins",
        justification="Patch the domain controllers",
        requested_ttl=dt.timedelta(hours=2),
        requested_time=dt.datetime(2016, 6, 1, 9, tzinfo=UTC),
        creation_time=dt.datetime(2016, 6, 1, 8, 58, 0, 123456, tzinfo=UTC),
    )


def test_status_spellings_are_matched_without_case() -> None:
    """'active' is RequestStatus.ACTIVE; a numeric status is kept as its text."""
    base = {"RequestId": SQL_ROLE, "RoleId": SQL_ROLE}
    assert RemoteRequest.from_json({**base, "Status": "active"}).status is RequestStatus.ACTIVE
    assert RemoteRequest.from_json({**base, "RequestStatus": 4}).status == "4"


@pytest.mark.parametrize(
    ("data", "reader", "message"),
    [
        ({"DisplayName": "x"}, RemoteRole.from_json, "no RoleID"),
        ({"RoleId": ""}, RemoteRole.from_json, "no RoleID"),
        ({"RoleId": SQL_ROLE, "MFAEnabled": "maybe"}, RemoteRole.from_json, "MFAEnabled"),
        ({"RoleId": SQL_ROLE, "DisplayName": 5}, RemoteRole.from_json, "DisplayName"),
        ({"RequestId": SQL_ROLE}, RemoteRequest.from_json, "no RequestStatus"),
        ({"RequestStatus": "Active"}, RemoteRequest.from_json, "no RequestID"),
        ({"RequestId": [1], "RequestStatus": "Active"}, RemoteRequest.from_json, "RequestID"),
        ({"RoleName": "x"}, PendingApproval.from_json, "no ApprovalObjectID"),
        ([SQL_ROLE], RemoteRole.from_json, "JSON object"),
    ],
)
def test_malformed_entities_are_protocol_errors(data: object, reader: Any, message: str) -> None:
    """A missing id, a wrong type or a non-object raises RestProtocolError saying which."""
    with pytest.raises(RestProtocolError, match=message):
        reader(data)


def test_envelopes() -> None:
    """OData v3 light and verbose collections, bare lists, and single entities are unpacked."""
    assert collection_items({"value": [1], "odata.nextLink": "pamroles?$skiptoken=2"}) == (
        [1],
        "pamroles?$skiptoken=2",
    )
    assert collection_items({"d": {"results": [1], "__next": "n"}}) == ([1], "n")
    assert collection_items({"d": [1]}) == ([1], None)
    assert collection_items([1, 2]) == ([1, 2], None)
    assert single_entity({"d": {"a": 1}}) == {"a": 1}
    assert single_entity({"value": [{"a": 1}]}) == {"a": 1}
    with pytest.raises(RestProtocolError, match="OData collection"):
        collection_items({"values": []})
    with pytest.raises(RestProtocolError, match="nextLink"):
        collection_items({"value": [], "odata.nextLink": 5})


def test_values_refuse_naive_datetimes_and_wrong_types() -> None:
    """Built by hand, the values check their fields (aware datetimes, timedeltas, statuses)."""
    with pytest.raises(InvalidValueError, match="creation_time"):
        RemoteRequest(request_id=SQL_ROLE, creation_time=dt.datetime(2016, 6, 1))
    with pytest.raises(InvalidValueError, match="requested_ttl"):
        RemoteRequest(request_id=SQL_ROLE, requested_ttl="1h")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="status"):
        RemoteRequest(request_id=SQL_ROLE, status=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="available_from"):
        RemoteRole(role_id=SQL_ROLE, available_from="9:00")  # type: ignore[arg-type]
    assert RemoteRole(role_id=SQL_ROLE, ttl=60).ttl == dt.timedelta(minutes=1)
    assert RemoteRole(role_id=SQL_ROLE, available_from=dt.time(9)).available_from == dt.time(
        9, tzinfo=UTC
    )


def test_format_datetime_writes_utc_with_z() -> None:
    """Dates are written in UTC with Z; None as DateTime.MinValue."""
    paris = dt.timezone(dt.timedelta(hours=2))
    assert format_datetime(dt.datetime(2016, 6, 1, 11, tzinfo=paris)) == "2016-06-01T09:00:00Z"
    assert format_datetime(None) == "0001-01-01T00:00:00"


# -- round trips -----------------------------------------------------------------------------

_guids = st.uuids().map(str)
_texts = st.text(max_size=30)
_moments = st.none() | st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    max_value=dt.datetime(9000, 1, 1),
    timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
)
_ttls = st.none() | st.integers(min_value=0, max_value=10**9).map(
    lambda seconds: dt.timedelta(seconds=seconds)
)
_times = st.none() | st.times(timezones=st.just(UTC)).filter(
    lambda value: value.replace(tzinfo=None) != dt.time(0)
)
_statuses = st.sampled_from(list(RequestStatus)) | st.sampled_from(["Deferred", "Unknown42"])

roles = st.builds(
    RemoteRole,
    role_id=_guids,
    display_name=_texts,
    description=_texts,
    ttl=_ttls,
    available_from=_times,
    available_to=_times,
    mfa_enabled=st.booleans(),
    approval_enabled=st.booleans(),
    availability_window_enabled=st.booleans(),
).map(
    # On the wire an enabled window's unset end and midnight are one value; MIM reads midnight.
    lambda role: (
        attrs.evolve(
            role,
            available_from=role.available_from or dt.time(0, tzinfo=UTC),
            available_to=role.available_to or dt.time(0, tzinfo=UTC),
        )
        if role.availability_window_enabled
        else role
    )
)
remote_requests = st.builds(
    RemoteRequest,
    request_id=_guids,
    role_id=_guids,
    creator_id=_guids,
    justification=_texts,
    requested_ttl=_ttls,
    requested_time=_moments,
    creation_time=_moments,
    creation_method=_texts,
    expiration_time=_moments,
    status=_statuses,
)
approvals = st.builds(
    PendingApproval,
    approval_id=_guids,
    fim_request_id=_guids,
    requestor=_texts,
    requestor_id=_guids,
    role_name=_texts,
    justification=_texts,
    requested_ttl=_ttls,
    requested_time=_moments,
    creation_time=_moments,
)


@settings(max_examples=60)
@given(st.one_of(roles, remote_requests, approvals))
def test_to_json_then_from_json_is_identity(
    value: RemoteRole | RemoteRequest | PendingApproval,
) -> None:
    """Any value written as MIM's JSON (through a real JSON text) reads back equal."""
    text = json.dumps(value.to_json())
    assert type(value).from_json(json.loads(text)) == value


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "RoleId",
        "RequestID",
        "RequestStatus",
        "ApprovalObjectID",
        "TTL",
        "RequestedTTL",
        "CreationTime",
        "AvailableFrom",
        "MFAEnabled",
        "FIMRequestID",
        "DisplayName",
    ]
)
# Objects that look like MIM's, with random values, reach deeper than random objects do.
_entity_like = st.dictionaries(_keys, _json, max_size=8)


@settings(max_examples=150)
@given(
    st.one_of(_json, _entity_like), st.sampled_from([RemoteRole, RemoteRequest, PendingApproval])
)
def test_random_json_raises_only_protocol_errors(data: object, kind: Any) -> None:
    """Whatever JSON arrives, reading it gives a value or a RestProtocolError, nothing else."""
    with contextlib.suppress(RestProtocolError):
        kind.from_json(data)


# -- the client over an in-memory transport --------------------------------------------------


class CannedAdapter(requests.adapters.BaseAdapter):
    """A requests transport answering every call with one fixed status and body."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        super().__init__()
        self.status, self.body, self.content_type = status, body, content_type

    def send(
        self, request: requests.PreparedRequest, *args: object, **kwargs: object
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = self.status
        response._content = self.body
        response.headers["Content-Type"] = self.content_type
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def canned_client(
    status: int, body: bytes, content_type: str = "application/json"
) -> PamRestClient:
    session = requests.Session()
    session.mount("http://", CannedAdapter(status, body, content_type))
    return PamRestClient("http://mim.test:8086/api/pamresources", session=session)


def _operations(client: PamRestClient) -> list[Any]:
    return [
        client.roles,
        client.requests,
        client.requests_to_approve,
        client.session_info,
        lambda: client.create_request(SQL_ROLE, justification="x"),
        lambda: client.close_request(SQL_ROLE),
        lambda: client.approve(SQL_ROLE),
        lambda: client.get_request(SQL_ROLE),
        lambda: client.wait_until_active(SQL_ROLE, timeout=0),
    ]


_bodies = st.one_of(
    _json.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(["value", "odata.nextLink", "d", "odata.error"]), _json).map(
        lambda value: json.dumps(value).encode()
    ),
    st.lists(_entity_like, max_size=3).map(lambda items: json.dumps({"value": items}).encode()),
    st.binary(max_size=40),
)


@settings(max_examples=120, deadline=None)
@given(st.sampled_from([200, 201, 204, 302, 400, 401, 403, 404, 408, 409, 500, 503]), _bodies)
def test_random_answers_raise_only_pyampam_errors(status: int, body: bytes) -> None:
    """Any status with any body makes every operation succeed or raise a PyampamError."""
    with canned_client(status, body) as client:
        for operation in _operations(client):
            with contextlib.suppress(PyampamError):
                operation()


def test_deeply_nested_json_is_a_protocol_error() -> None:
    """A body nested deeper than Python's JSON reader goes raises RestProtocolError."""
    with (
        canned_client(200, b"[" * 100_000 + b"]" * 100_000) as client,
        pytest.raises(RestProtocolError, match="not JSON"),
    ):
        client.roles()


# -- errors ----------------------------------------------------------------------------------


def test_errors_survive_pickling() -> None:
    """REST errors keep their status, MIM's message and the request across pickling."""
    error = RestForbiddenError(
        "no", status_code=403, mim_message="not a candidate", method="POST", path="pamrequests"
    )
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (type(copy), str(copy), copy.status_code, copy.mim_message, copy.method, copy.path) == (
        RestForbiddenError,
        "no",
        403,
        "not a candidate",
        "POST",
        "pamrequests",
    )
    request = RemoteRequest(request_id=SQL_ROLE, status=RequestStatus.REJECTED)
    ended = pickle.loads(pickle.dumps(RequestEndedError("ended", request=request)))  # noqa: S301
    assert ended.request == request
    assert str(ended) == "ended"
    late = pickle.loads(pickle.dumps(WaitTimeoutError("late", request=None)))  # noqa: S301
    assert late.request is None
    assert isinstance(late, TimeoutError)


def test_error_tree() -> None:
    """Every REST error is a RestError and a PyampamError; not-found is also a LookupError."""
    assert issubclass(RestError, PyampamError)
    assert issubclass(RestNotFoundError, LookupError)
    assert str(RestNotFoundError("gone")) == "gone"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": (1.0, 2.0, 3.0)}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"api_version": 0}, "api_version"),
        ({"api_version": True}, "api_version"),
        ({"api_version": "1"}, "api_version"),
    ],
)
def test_client_options_are_checked(arguments: dict[str, Any], field: str) -> None:
    """A zero, NaN or malformed timeout and a non-positive api_version are refused by name."""
    with pytest.raises(InvalidValueError) as caught:
        PamRestClient("http://mim.test/api/pamresources/", **arguments)
    assert caught.value.field == field


def test_unsendable_arguments_are_refused_before_sending() -> None:
    """A raw filter with a lone surrogate, or a zero poll interval, raises InvalidValueError."""
    with canned_client(200, b'{"value": []}') as client:
        with pytest.raises(InvalidValueError, match="surrogate"):
            client.roles(filter="DisplayName eq '\ud800'")
        with pytest.raises(InvalidValueError, match="poll"):
            client.wait_until_active(SQL_ROLE, timeout=1, poll=0)
        with pytest.raises(InvalidValueError, match="timeout"):
            client.wait_until_active(SQL_ROLE, timeout=-1)


def test_import_rest_loads_neither_requests_nor_spnego() -> None:
    """`import pyampam.rest` stays light; its public names resolve and are sorted."""
    import subprocess
    import sys

    code = "import sys, pyampam.rest; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert "'requests'" not in loaded
    assert "'spnego'" not in loaded
    import pyampam.rest

    for name in pyampam.rest.__all__:
        assert getattr(pyampam.rest, name) is not None

    def isort_style(name: str) -> tuple[int, str]:
        # As ruff's RUF022: SCREAMING_CASE first (a single capital, like F, counts as a class).
        if name.isupper() and len(name) > 1:
            return (0, name)
        return (1, name) if name[:1].isupper() else (2, name)

    assert list(pyampam.rest.__all__) == sorted(pyampam.rest.__all__, key=isort_style)
