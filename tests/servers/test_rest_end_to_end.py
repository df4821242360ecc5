"""pyampam's PAM REST client against the PAM REST test server, over real NTLM on 127.0.0.1.

The two were written apart from each other, from MIM's documentation: each test here is a place
where the client's reading and the server's reading must agree.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyampam import RequestStatus
from pyampam.activation import PamService
from pyampam.providers import CallResult
from pyampam.rest import (
    And,
    Comparison,
    F,
    FilterExpression,
    Or,
    PamRestClient,
    RequestEndedError,
    RestAuthenticationError,
    RestBadRequestError,
    RestForbiddenError,
    RestNotFoundError,
    RestProtocolError,
    RestServerError,
    RestTimeoutError,
    RestUnavailableError,
    windows_auth,
)
from pyampam.testing import FakeProvider, ODataFilter, PamRestTestServer
from pyampam.testing._rest_entities import ROLE_SCHEMA, UNSET_TIME

USERS = {"CORP\\jen": "jen:Pa55-word", "CORP\\bob": "bob-Pa55-word"}
UTC = dt.timezone.utc


class World(NamedTuple):
    server: PamRestTestServer
    provider: FakeProvider
    jen: Any
    bob: Any
    client: Callable[..., PamRestClient]


@pytest.fixture
def world() -> Iterator[World]:
    provider = FakeProvider(latency=0.1)
    clients: list[PamRestClient] = []
    with (
        PamService(provider=provider) as service,
        PamRestTestServer(service, users=USERS) as server,
    ):
        jen = service.new_user("CORP", "jen", phone="+1 425 555 0100")
        bob = service.new_user("CORP", "bob")
        service.new_role(
            "SQL O'Admins", candidates=[jen, bob], approvers=[bob], approval_enabled=True
        )
        service.new_role("Instant", candidates=[jen], ttl=dt.timedelta(minutes=30))
        service.new_role("Phone", candidates=[jen], mfa_enabled=True)

        def client(
            user: str = "CORP\\jen",
            password: str | None = None,
            *,
            protocol: Any = "negotiate",
            timeout: float | tuple[float, float] = 10.0,
        ) -> PamRestClient:
            made = PamRestClient(
                server.url,
                auth=windows_auth(user, password or USERS[user], protocol=protocol),
                timeout=timeout,
            )
            clients.append(made)
            return made

        yield World(server, provider, jen, bob, client)
        for made in clients:
            made.close()
        assert server.errors == ()


def test_request_approve_activate_close_over_ntlm(world: World) -> None:
    """List roles, request one, approve it as another user, see it Active, close it."""
    jen = world.client()
    bob = world.client("CORP\\bob", protocol="ntlm")
    (role,) = jen.roles(filter=F.DisplayName == "SQL O'Admins")
    assert role.approval_enabled
    assert role.ttl == dt.timedelta(hours=1)
    request = jen.create_request(
        role, justification="ticket 4711", requested_ttl=dt.timedelta(minutes=20)
    )
    assert request.status is RequestStatus.PENDING_APPROVAL
    assert request.role_id == role.role_id
    assert request.requested_ttl == dt.timedelta(minutes=20)
    assert request.expiration_time is None
    (pending,) = bob.requests_to_approve()
    assert pending.fim_request_id == request.request_id
    assert pending.role_name == "SQL O'Admins"
    assert pending.requestor == "priv.jen"
    assert pending.requestor_id == str(world.jen.object_id)
    bob.approve(pending)
    active = jen.wait_until_active(request, timeout=5, poll=0.05)
    assert active.status is RequestStatus.ACTIVE
    assert active.expiration_time is not None
    assert world.server.service.privileges_of(world.jen) == frozenset()
    jen.close_request(active)
    assert jen.get_request(request.request_id).status is RequestStatus.CLOSED
    assert bob.requests_to_approve() == []
    assert world.server.stats.handshakes_completed == 2


def test_an_mfa_role_goes_through_the_fake_provider(world: World) -> None:
    """PendingMFA when created; Active once the FakeProvider's call succeeds."""
    jen = world.client()
    (role,) = jen.roles(filter=F.MFAEnabled == True)  # noqa: E712 - builds a filter
    request = jen.create_request(role)
    assert request.status is RequestStatus.PENDING_MFA
    assert jen.wait_until_active(request, timeout=5, poll=0.05).status is RequestStatus.ACTIVE
    (call,) = world.provider.calls
    assert call.username == str(world.jen.object_id)


def test_a_failed_mfa_call_ends_the_wait_with_request_ended(world: World) -> None:
    """A hang-up rejects the request; wait_until_active says it ended."""
    world.provider.script(str(world.jen.object_id), CallResult.FAILED_USER_HUNGUP_ON_US)
    jen = world.client()
    (role,) = jen.roles(filter=F.DisplayName == "Phone")
    request = jen.create_request(role)
    with pytest.raises(RequestEndedError) as caught:
        jen.wait_until_active(request, timeout=5, poll=0.05)
    assert caught.value.request.status is RequestStatus.REJECTED


def test_a_role_without_gates_is_active_at_once_and_the_ttl_defaults_to_the_roles(
    world: World,
) -> None:
    """No approval, no MFA: Active in the create answer; no TTL sent means the role's."""
    jen = world.client(protocol="ntlm")
    (role,) = jen.roles(filter=F.DisplayName == "Instant")
    request = jen.create_request(role.role_id)
    assert request.status is RequestStatus.ACTIVE
    assert request.requested_ttl == dt.timedelta(minutes=30)
    (listed,) = jen.requests(filter=F.RequestStatus == RequestStatus.ACTIVE)
    assert listed.request_id == request.request_id


def test_a_later_start_is_scheduled(world: World) -> None:
    """requested_time in the future: the request is Scheduled, with that start."""
    jen = world.client()
    (role,) = jen.roles(filter=F.DisplayName == "Instant")
    start = (dt.datetime.now(UTC) + dt.timedelta(hours=2)).replace(microsecond=0)
    request = jen.create_request(role, requested_time=start)
    assert request.status is RequestStatus.SCHEDULED
    assert request.requested_time == start


def test_session_info_names_the_logged_on_account(world: World) -> None:
    """sessioninfo: the DOMAIN\\user the server authenticated."""
    assert world.client("CORP\\bob").session_info() == "CORP\\bob"


# -- errors ---------------------------------------------------------------------------------------


def test_a_wrong_password_is_the_clients_authentication_error(world: World) -> None:
    """The type-3 message is refused: RestAuthenticationError with the 401."""
    client = world.client("CORP\\jen", "wrong-password")
    with pytest.raises(RestAuthenticationError) as caught:
        client.roles()
    assert caught.value.status_code == 401
    assert "wrong-password" not in str(caught.value)
    assert world.server.stats.handshakes_failed == 1


def test_a_401_that_survives_a_new_logon_is_an_authentication_error(world: World) -> None:
    """A 401 once is answered with a new handshake; a 401 every time is an error."""
    client = world.client()
    client.roles()
    world.server.inject(status=401)
    assert len(client.roles()) == 3  # re-authenticated on the same connection
    world.server.inject(status=401, times=None)
    with pytest.raises(RestAuthenticationError) as caught:
        client.roles()
    assert caught.value.mim_message == "Authorization has been denied for this request."


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (403, RestForbiddenError),
        (404, RestNotFoundError),
        (408, RestTimeoutError),
        (500, RestServerError),
        (503, RestUnavailableError),
    ],
)
def test_each_error_status_is_its_typed_error(
    world: World, status: int, error: type[Exception]
) -> None:
    """Injected statuses reach the caller as the client's own errors, with MIM's message."""
    client = world.client()
    world.server.inject(status=status, message=f"injected {status}")
    with pytest.raises(error) as caught:
        client.requests()
    assert getattr(caught.value, "status_code", None) == status
    assert getattr(caught.value, "mim_message", None) == f"injected {status}"


def test_an_answer_slower_than_the_clients_timeout_is_a_timeout_error(world: World) -> None:
    """The server waits longer than the client's read timeout: RestTimeoutError."""
    client = world.client(timeout=(5.0, 0.3))
    client.roles()
    world.server.inject(delay=3)
    with pytest.raises(RestTimeoutError):
        client.roles()


def test_malformed_json_is_a_protocol_error(world: World) -> None:
    """A 200 whose JSON does not parse is RestProtocolError, not a crash."""
    client = world.client()
    world.server.inject(malformed=True, path="pamroles")
    with pytest.raises(RestProtocolError):
        client.roles()


def test_refusals_of_the_engine_are_typed_errors(world: World) -> None:
    """Not an approver, not a candidate: 403; an unreadable filter: 400; no such request: 404."""
    jen = world.client()
    bob = world.client("CORP\\bob")
    (admins,) = jen.roles(filter=F.DisplayName == "SQL O'Admins")
    bob_request = bob.create_request(admins)
    assert bob.requests_to_approve() == []  # Bob may not approve his own request
    with pytest.raises(RestForbiddenError, match="not a candidate"):
        bob.create_request(jen.roles(filter=F.DisplayName == "Instant")[0])
    with pytest.raises(RestBadRequestError, match="no property"):
        jen.roles(filter=F.Colour == "red")
    with pytest.raises(RestNotFoundError):
        jen.close_request(uuid.uuid4())
    with pytest.raises(RestForbiddenError, match="own requests"):
        jen.close_request(bob_request)
    with pytest.raises(RestNotFoundError):
        bob.approve(uuid.uuid4())


def test_approving_as_a_non_approver_is_forbidden(world: World) -> None:
    """Jen sees no approvals, and approving by a known approval id is 403."""
    jen = world.client()
    bob = world.client("CORP\\bob")
    (admins,) = jen.roles(filter=F.DisplayName == "SQL O'Admins")
    jen.create_request(admins)
    (pending,) = bob.requests_to_approve()
    assert jen.requests_to_approve() == []
    with pytest.raises(RestForbiddenError, match="not an approver"):
        jen.approve(pending.approval_id)
    bob.reject(pending)
    (request,) = jen.requests()
    assert request.status is RequestStatus.REJECTED


# -- the filter builder against the server's reader ---------------------------------------------


def test_the_builders_filters_select_the_same_roles_through_the_server(world: World) -> None:
    """A few F expressions sent to the server select what Python selects from all roles."""
    jen = world.client()
    every = jen.roles()
    assert len(every) == 3
    cases: list[tuple[FilterExpression, Callable[[Any], bool]]] = [
        (F.DisplayName == "SQL O'Admins", lambda role: role.display_name == "SQL O'Admins"),
        (F.TTL > 1800, lambda role: role.ttl > dt.timedelta(seconds=1800)),
        (
            (F.MFAEnabled == False) & (F.ApprovalEnabled == False),  # noqa: E712
            lambda role: not role.mfa_enabled and not role.approval_enabled,
        ),
        (
            (F.DisplayName == "Phone") | (F.TTL <= 1800),
            lambda role: role.display_name == "Phone" or role.ttl <= dt.timedelta(seconds=1800),
        ),
        (F.DisplayName >= "P", lambda role: role.display_name >= "P"),
        (F.AvailableFrom == dt.datetime(1, 1, 1), lambda role: True),
    ]
    for condition, predicate in cases:
        chosen = sorted(role.display_name for role in jen.roles(filter=condition))
        assert chosen == sorted(role.display_name for role in every if predicate(role)), condition


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_MOMENTS = st.one_of(
    st.just(UNSET_TIME),
    st.datetimes(
        min_value=dt.datetime(1990, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.just(UTC),
    ),
)
_ORDERING = ("eq", "ne", "gt", "lt", "ge", "le")


@st.composite
def _role_records(draw: st.DrawFn) -> dict[str, object]:
    return {
        "RoleId": draw(st.uuids()),
        "DisplayName": draw(_TEXT),
        "Description": draw(st.none() | _TEXT),
        "TTL": draw(st.integers(1, 10**6)),
        "AvailableFrom": draw(_MOMENTS),
        "AvailableTo": draw(_MOMENTS),
        "MFAEnabled": draw(st.booleans()),
        "ApprovalEnabled": draw(st.booleans()),
        "AvailabilityWindowEnabled": draw(st.booleans()),
    }


def _literal_for(field: str, record_strategy: Any) -> st.SearchStrategy[Any]:
    if field in ("DisplayName",):
        return _TEXT
    if field == "Description":
        return st.none() | _TEXT
    if field == "TTL":
        return st.integers(-5, 10**6)
    if field in ("AvailableFrom", "AvailableTo"):
        naive_or_aware = st.datetimes(
            min_value=dt.datetime(1990, 1, 1),
            max_value=dt.datetime(2100, 1, 1),
            timezones=st.none() | st.just(UTC) | st.just(dt.timezone(dt.timedelta(hours=-7))),
        )
        return st.just(dt.datetime(1, 1, 1)) | naive_or_aware
    if field == "RoleId":
        return st.uuids()
    return st.booleans()


@st.composite
def _comparisons(draw: st.DrawFn) -> Comparison:
    field = draw(st.sampled_from(sorted(ROLE_SCHEMA)))
    value = draw(_literal_for(field, None))
    operators = ("eq", "ne") if value is None or isinstance(value, bool) else _ORDERING
    operator = draw(st.sampled_from(operators))
    made = {
        "eq": lambda f: f == value,
        "ne": lambda f: f != value,
        "gt": lambda f: f > value,
        "lt": lambda f: f < value,
        "ge": lambda f: f >= value,
        "le": lambda f: f <= value,
    }[operator](F[field])
    assert isinstance(made, Comparison)
    return made


_EXPRESSIONS = st.recursive(
    _comparisons(),
    lambda children: st.one_of(
        st.tuples(children, children).map(lambda pair: pair[0] & pair[1]),
        st.tuples(children, children).map(lambda pair: pair[0] | pair[1]),
    ),
    max_leaves=6,
)


def _python_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _python_matches(expression: FilterExpression, record: dict[str, object]) -> bool:
    """What the expression means, evaluated in Python: the oracle for the server's reader."""
    if isinstance(expression, And):
        return all(_python_matches(operand, record) for operand in expression.operands)
    if isinstance(expression, Or):
        return any(_python_matches(operand, record) for operand in expression.operands)
    assert isinstance(expression, Comparison)
    left, right = record[expression.field], _python_value(expression.value)
    if expression.op == "eq":
        return left == right
    if expression.op == "ne":
        return left != right
    if left is None or right is None:
        return False
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b,
        "lt": lambda a, b: a < b,
        "ge": lambda a, b: a >= b,
        "le": lambda a, b: a <= b,
    }
    return compare[expression.op](left, right)


@settings(max_examples=150, deadline=None)
@given(expression=_EXPRESSIONS, records=st.lists(_role_records(), min_size=1, max_size=6))
def test_every_filter_the_builder_makes_reads_back_with_the_same_meaning(
    expression: FilterExpression, records: list[dict[str, object]]
) -> None:
    """The builder's text parses in the server's reader and selects what Python selects."""
    text = str(expression)
    condition = ODataFilter.parse(text).check(ROLE_SCHEMA, entity="PamRole")
    for record in records:
        assert condition.matches(record) == _python_matches(expression, record), (text, record)
