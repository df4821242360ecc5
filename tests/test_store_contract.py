"""The Store contract, run against every store: MemoryStore and SqliteStore must agree."""

from __future__ import annotations

import contextlib
import datetime as dt
import pathlib
import tempfile
import uuid
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import activation_requests, aware_datetimes, names, roles, users

from pyampam import ActivationRequest, PhoneNumber, RequestStatus, Role, User
from pyampam.exceptions import (
    AlreadyExistsError,
    ConcurrentUpdateError,
    InvalidValueError,
    NotFoundError,
    StoreError,
)
from pyampam.store import MemoryStore, SqliteStore, Store

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
KINDS = ["memory", "sqlite"]

# Opening an SQLite file per example costs a few fsyncs: keep the examples few and unhurried.
ROUND_TRIP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def open_store(kind: str, directory: pathlib.Path) -> Store:
    """A new, empty store of that kind."""
    if kind == "memory":
        return MemoryStore()
    return SqliteStore(directory / "pyampam.db")


@contextlib.contextmanager
def fresh_store(kind: str) -> Iterator[Store]:
    """A new store for one Hypothesis example, closed (and its file removed) afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(kind, pathlib.Path(directory))
        try:
            yield store
        finally:
            store.close()


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Store]:
    opened = open_store(request.param, tmp_path)
    yield opened
    opened.close()


def make_user(domain: str = "CONTOSO", account: str = "jen", **fields: object) -> User:
    return User(source_domain=domain, source_account_name=account, **fields)  # type: ignore[arg-type]


def make_role(name: str = "SQL admins", **fields: object) -> Role:
    fields.setdefault("ttl", HOUR)
    return Role(display_name=name, **fields)  # type: ignore[arg-type]


def make_request(
    *,
    created: dt.datetime = T0,
    status: RequestStatus = RequestStatus.PROCESSING,
    **fields: object,
) -> ActivationRequest:
    fields.setdefault("requestor_id", uuid.uuid4())
    fields.setdefault("role_id", uuid.uuid4())
    fields.setdefault("requested_ttl", HOUR)
    return ActivationRequest(creation_time=created, status=status, **fields)  # type: ignore[arg-type]


def active(expires: dt.datetime, **fields: object) -> ActivationRequest:
    fields.update(status=RequestStatus.ACTIVE, expiration_time=expires)
    return make_request(**fields)  # type: ignore[arg-type]


# --- the protocol itself -------------------------------------------------------------------------


def test_is_a_store(store: Store) -> None:
    """Both stores satisfy the runtime-checkable Store protocol."""
    assert isinstance(store, Store)


# --- users ---------------------------------------------------------------------------------------


def test_add_and_get_user(store: Store) -> None:
    """A stored user comes back equal, phone, PIN and all."""
    user = make_user(
        display_name="Jen Smith",
        phone=PhoneNumber(1, "2135551212", "123"),
        pin="4321",
        sid="S-1-5-21-1-2-3-1001",
        email="jen@contoso.com",
        privileged_display_name="Jen (admin)",
        privileged_account_active=False,
    )
    store.add_user(user)
    assert store.get_user(user.object_id) == user


def test_get_missing_user(store: Store) -> None:
    """Asking for an unknown user raises NotFoundError naming the id."""
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(missing)):
        store.get_user(missing)


def test_add_user_twice(store: Store) -> None:
    """A second user with the same object id is refused."""
    user = make_user()
    store.add_user(user)
    with pytest.raises(AlreadyExistsError, match="object id"):
        store.add_user(attrs.evolve(user, source_account_name="other"))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("CONTOSO", "jen"), ("contoso", "JEN")),
        (("STRASSE", "jürgen"), ("straße", "JÜRGEN")),
        (("ÉCOLE", "σίσυφος"), ("école", "ΣΊΣΥΦΟΣ")),
    ],
)
def test_duplicate_source_identity(
    store: Store, first: tuple[str, str], second: tuple[str, str]
) -> None:
    r"""DOMAIN\account is unique case-insensitively, with full Unicode case folding."""
    store.add_user(make_user(*first))
    with pytest.raises(AlreadyExistsError, match="already exists"):
        store.add_user(make_user(*second))
    assert len(store.find_users()) == 1


def test_same_account_in_other_domain(store: Store) -> None:
    """The same account name in two domains is two users."""
    store.add_user(make_user("CONTOSO", "jen"))
    store.add_user(make_user("FABRIKAM", "jen"))
    assert len(store.find_users(source_account_name="JEN")) == 2


def test_find_users_by_each_field(store: Store) -> None:
    """find_users matches each field exactly and case-insensitively, every given field at once."""
    jen = make_user("CONTOSO", "jen", display_name="Jen Smith")
    sigma = make_user("CONTOSO", "sisyphus", display_name="σίσυφος")
    other = make_user("FABRIKAM", "jen", display_name="Jen Jones")
    for user in (jen, sigma, other):
        store.add_user(user)
    assert store.find_users(source_domain="contoso") == [jen, sigma]
    assert store.find_users(source_account_name="JEN") == [jen, other]
    assert store.find_users(display_name="ΣΊΣΥΦΟΣ") == [sigma]
    assert store.find_users(display_name="jen smith") == [jen]
    assert store.find_users(source_domain="fabrikam", source_account_name="jen") == [other]
    assert store.find_users(source_domain="fabrikam", display_name="Jen Smith") == []
    assert store.find_users(display_name="Jen") == []


def test_find_users_order(store: Store) -> None:
    """All users come in a stable order: by folded domain, then account name."""
    accounts = [("b", "z"), ("A", "y"), ("a2", "x"), ("B", "a"), ("Ä", "q")]
    for domain, account in accounts:
        store.add_user(make_user(domain, account))
    found = [(u.source_domain, u.source_account_name) for u in store.find_users()]
    assert found == [("A", "y"), ("a2", "x"), ("B", "a"), ("b", "z"), ("Ä", "q")]
    assert [u.source_identity for u in store.find_users()] == [
        u.source_identity for u in store.find_users()
    ]


def test_iter_users(store: Store) -> None:
    """iter_users yields every user exactly once."""
    added = [make_user("CONTOSO", f"user{n}") for n in range(25)]
    for user in added:
        store.add_user(user)
    seen = list(store.iter_users())
    assert len(seen) == 25
    assert {u.object_id: u for u in seen} == {u.object_id: u for u in added}


def test_replace_user(store: Store) -> None:
    """replace_user stores the new fields, including a change of case of its own account."""
    user = make_user(pin="1234")
    store.add_user(user)
    changed = attrs.evolve(
        user, source_account_name="JEN", pin=None, phone=PhoneNumber(44, "2079460958")
    )
    store.replace_user(changed)
    assert store.get_user(user.object_id) == changed
    assert store.find_users(source_account_name="jen") == [changed]


def test_replace_missing_user(store: Store) -> None:
    """Replacing a user that was never added raises NotFoundError."""
    with pytest.raises(NotFoundError):
        store.replace_user(make_user())


def test_replace_user_onto_another_account(store: Store) -> None:
    r"""A user cannot take the DOMAIN\account of another user."""
    jen = make_user("CONTOSO", "jen")
    bob = make_user("CONTOSO", "bob")
    store.add_user(jen)
    store.add_user(bob)
    with pytest.raises(AlreadyExistsError, match="another user"):
        store.replace_user(attrs.evolve(bob, source_account_name="Jen"))
    assert store.get_user(bob.object_id) == bob


def test_remove_user(store: Store) -> None:
    """A removed user is gone, and its account may be used again."""
    user = make_user()
    store.add_user(user)
    store.remove_user(user.object_id)
    with pytest.raises(NotFoundError):
        store.get_user(user.object_id)
    assert store.find_users() == []
    store.add_user(make_user())


def test_remove_missing_user(store: Store) -> None:
    """Removing an unknown user raises NotFoundError."""
    with pytest.raises(NotFoundError):
        store.remove_user(uuid.uuid4())


# --- roles ---------------------------------------------------------------------------------------


def test_add_and_get_role(store: Store) -> None:
    """A stored role comes back equal: members, privileges in order, window and flags."""
    role = make_role(
        description="Full control of SQL",
        candidates=[uuid.uuid4(), uuid.uuid4()],
        approvers=[uuid.uuid4()],
        privileges=["SQL Admins", "Backup Operators", "Ω group"],
        ttl=dt.timedelta(minutes=90, microseconds=5),
        availability_window_enabled=True,
        available_from=dt.time(9, 30),
        available_to=dt.time(17, 0, 0, 1),
        mfa_enabled=True,
        approval_enabled=True,
    )
    store.add_role(role)
    assert store.get_role(role.role_id) == role


def test_get_missing_role(store: Store) -> None:
    """Asking for an unknown role raises NotFoundError naming the id."""
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(missing)):
        store.get_role(missing)


def test_add_role_twice(store: Store) -> None:
    """A second role with the same id is refused."""
    role = make_role()
    store.add_role(role)
    with pytest.raises(AlreadyExistsError, match="id"):
        store.add_role(attrs.evolve(role, display_name="Another"))


@pytest.mark.parametrize(
    ("first", "second"), [("SQL admins", "sql ADMINS"), ("Straße", "STRASSE"), ("Ǆ", "ǆ")]
)
def test_duplicate_role_name(store: Store, first: str, second: str) -> None:
    """Role display names are unique case-insensitively, with full Unicode case folding."""
    store.add_role(make_role(first))
    with pytest.raises(AlreadyExistsError, match="already exists"):
        store.add_role(make_role(second))
    assert len(store.find_roles()) == 1


def test_find_roles(store: Store) -> None:
    """find_roles finds by folded name, or lists every role by folded name."""
    names_in_order = ["alpha", "Beta", "gamma", "Ärger"]
    added = {name: make_role(name) for name in ["gamma", "Ärger", "Beta", "alpha"]}
    for role in added.values():
        store.add_role(role)
    assert store.find_roles(display_name="BETA") == [added["Beta"]]
    assert store.find_roles(display_name="ärger") == [added["Ärger"]]
    assert store.find_roles(display_name="delta") == []
    assert store.find_roles() == [added[name] for name in names_in_order]


def test_roles_with_candidate(store: Store) -> None:
    """roles_with_candidate lists the roles a user may request, by name; approving is not enough."""
    user = uuid.uuid4()
    zulu = make_role("zulu", candidates=[user, uuid.uuid4()])
    alpha = make_role("Alpha", candidates=[user])
    owned = make_role("owned", approvers=[user])
    other = make_role("other", candidates=[uuid.uuid4()])
    for role in (zulu, alpha, owned, other):
        store.add_role(role)
    assert store.roles_with_candidate(user) == [alpha, zulu]
    assert store.roles_with_candidate(uuid.uuid4()) == []


def test_replace_role(store: Store) -> None:
    """replace_role replaces every field, and candidates fully: a dropped candidate loses it."""
    kept, dropped, added = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    role = make_role(candidates=[kept, dropped], approvers=[dropped], privileges=["a", "b"])
    store.add_role(role)
    changed = attrs.evolve(
        role,
        display_name="SQL ADMINS",
        candidates=frozenset({kept, added}),
        approvers=frozenset(),
        privileges=("b", "a"),
        mfa_enabled=True,
    )
    store.replace_role(changed)
    assert store.get_role(role.role_id) == changed
    assert store.roles_with_candidate(dropped) == []
    assert store.roles_with_candidate(added) == [changed]
    assert store.roles_with_candidate(kept) == [changed]


def test_replace_missing_role(store: Store) -> None:
    """Replacing a role that was never added raises NotFoundError."""
    with pytest.raises(NotFoundError):
        store.replace_role(make_role())


def test_replace_role_onto_another_name(store: Store) -> None:
    """A role cannot take the display name of another role."""
    store.add_role(make_role("SQL admins"))
    web = make_role("Web admins")
    store.add_role(web)
    with pytest.raises(AlreadyExistsError, match="another role"):
        store.replace_role(attrs.evolve(web, display_name="sql admins"))
    assert store.get_role(web.role_id) == web


def test_remove_role(store: Store) -> None:
    """A removed role is gone, also from its candidates' roles, and its name is free again."""
    user = uuid.uuid4()
    role = make_role(candidates=[user])
    store.add_role(role)
    store.remove_role(role.role_id)
    with pytest.raises(NotFoundError):
        store.get_role(role.role_id)
    assert store.roles_with_candidate(user) == []
    assert store.find_roles() == []
    store.add_role(make_role())


def test_remove_missing_role(store: Store) -> None:
    """Removing an unknown role raises NotFoundError."""
    with pytest.raises(NotFoundError):
        store.remove_role(uuid.uuid4())


# --- requests ------------------------------------------------------------------------------------


def test_add_and_get_request(store: Store) -> None:
    """A stored request comes back equal, bookkeeping fields included."""
    request = make_request(
        justification="Patch Tuesday\nticket 42",
        requested_time=T0 + HOUR,
        status=RequestStatus.SCHEDULED,
        expiration_time=T0 + 2 * HOUR,
        activation_time=T0 + dt.timedelta(minutes=1),
        decided_by=uuid.uuid4(),
        mfa_call_id="call-1",
        status_reason="approved by jen",
        creation_method="cli",
    )
    store.add_request(request)
    assert store.get_request(request.request_id) == request


def test_get_missing_request(store: Store) -> None:
    """Asking for an unknown request raises NotFoundError naming the id."""
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(missing)):
        store.get_request(missing)


def test_add_request_twice(store: Store) -> None:
    """A second request with the same id is refused."""
    request = make_request()
    store.add_request(request)
    with pytest.raises(AlreadyExistsError):
        store.add_request(request)


def test_update_request(store: Store) -> None:
    """update_request replaces the request when the stored status is the expected one."""
    request = make_request(status=RequestStatus.PENDING_MFA)
    store.add_request(request)
    done = attrs.evolve(
        request, status=RequestStatus.ACTIVE, expiration_time=T0 + HOUR, mfa_call_id="c1"
    )
    store.update_request(done, expected_status=RequestStatus.PENDING_MFA)
    assert store.get_request(request.request_id) == done


def test_update_request_compare_and_set(store: Store) -> None:
    """Of two writers that read the same status, the second gets ConcurrentUpdateError."""
    request = make_request(status=RequestStatus.PENDING_APPROVAL)
    store.add_request(request)
    approved = attrs.evolve(request, status=RequestStatus.ACTIVE, expiration_time=T0 + HOUR)
    rejected = attrs.evolve(request, status=RequestStatus.REJECTED, status_reason="no")
    store.update_request(approved, expected_status=RequestStatus.PENDING_APPROVAL)
    with pytest.raises(ConcurrentUpdateError, match="Active"):
        store.update_request(rejected, expected_status=RequestStatus.PENDING_APPROVAL)
    assert store.get_request(request.request_id) == approved


def test_update_missing_request(store: Store) -> None:
    """Updating an unknown request raises NotFoundError, not ConcurrentUpdateError."""
    with pytest.raises(NotFoundError):
        store.update_request(make_request(), expected_status=RequestStatus.PROCESSING)


def test_find_requests_filters(store: Store) -> None:
    """find_requests applies every given filter; an empty status list matches nothing."""
    jen, bob = uuid.uuid4(), uuid.uuid4()
    sql, web = uuid.uuid4(), uuid.uuid4()
    jen_sql = make_request(requestor_id=jen, role_id=sql, created=T0)
    jen_web = active(T0 + 2 * HOUR, requestor_id=jen, role_id=web, created=T0 + HOUR)
    bob_sql = make_request(
        requestor_id=bob, role_id=sql, created=T0 + 2 * HOUR, status=RequestStatus.PENDING_MFA
    )
    for request in (bob_sql, jen_web, jen_sql):
        store.add_request(request)
    assert store.find_requests() == [jen_sql, jen_web, bob_sql]
    assert store.find_requests(requestor_id=jen) == [jen_sql, jen_web]
    assert store.find_requests(role_id=sql) == [jen_sql, bob_sql]
    assert store.find_requests(requestor_id=jen, role_id=sql) == [jen_sql]
    assert store.find_requests(statuses={RequestStatus.ACTIVE, RequestStatus.PENDING_MFA}) == [
        jen_web,
        bob_sql,
    ]
    assert store.find_requests(requestor_id=bob, statuses=[RequestStatus.ACTIVE]) == []
    assert store.find_requests(statuses=[]) == []
    assert store.find_requests(requestor_id=uuid.uuid4()) == []


def test_find_requests_oldest_first(store: Store) -> None:
    """find_requests orders by creation instant (whatever the zone), then by request id."""
    paris = ZoneInfo("Europe/Paris")
    same_instant = [make_request(created=T0 + HOUR) for _ in range(5)]
    earlier_in_paris = make_request(created=(T0 + dt.timedelta(minutes=30)).astimezone(paris))
    later = make_request(created=T0 + 2 * HOUR)
    for request in [later, *same_instant, earlier_in_paris]:
        store.add_request(request)
    expected = [
        earlier_in_paris,
        *sorted(same_instant, key=lambda r: str(r.request_id)),
        later,
    ]
    assert [r.request_id for r in store.find_requests()] == [r.request_id for r in expected]


def test_requests_due(store: Store) -> None:
    """Active requests fall due at expiry, Scheduled ones at their start; earliest first."""
    late = active(T0 + HOUR)
    early = active(T0 + dt.timedelta(minutes=30))
    scheduled = make_request(
        status=RequestStatus.SCHEDULED, requested_time=T0 + dt.timedelta(minutes=10)
    )
    unscheduled = make_request(status=RequestStatus.SCHEDULED)
    closed = make_request(status=RequestStatus.CLOSED, expiration_time=T0)
    pending = make_request(status=RequestStatus.PENDING_MFA, requested_time=T0)
    for request in (late, early, scheduled, unscheduled, closed, pending):
        store.add_request(request)
    assert store.requests_due(RequestStatus.ACTIVE, before=T0 + HOUR) == [early, late]
    assert store.requests_due(RequestStatus.ACTIVE, before=T0 + dt.timedelta(minutes=59)) == [early]
    assert store.requests_due(RequestStatus.ACTIVE, before=T0) == []
    assert store.requests_due(RequestStatus.SCHEDULED, before=T0 + HOUR) == [scheduled]
    assert store.requests_due(RequestStatus.PENDING_MFA, before=T0 + HOUR) == []
    assert store.requests_due(RequestStatus.CLOSED, before=T0 + HOUR) == []


def test_requests_due_limit_and_ties(store: Store) -> None:
    """limit keeps the earliest; requests due at the same instant come in request id order."""
    tied = [active(T0 + HOUR) for _ in range(4)]
    first = active(T0 + dt.timedelta(minutes=5))
    for request in [*tied, first]:
        store.add_request(request)
    ordered = [first, *sorted(tied, key=lambda r: str(r.request_id))]
    before = T0 + 2 * HOUR
    assert store.requests_due(RequestStatus.ACTIVE, before=before) == ordered
    assert store.requests_due(RequestStatus.ACTIVE, before=before, limit=3) == ordered[:3]
    assert store.requests_due(RequestStatus.ACTIVE, before=before, limit=0) == []
    assert store.requests_due(RequestStatus.ACTIVE, before=before, limit=99) == ordered


def test_requests_due_in_another_zone(store: Store) -> None:
    """The due instant compares as an instant: 'before' may carry any time zone."""
    request = active(T0 + HOUR)
    store.add_request(request)
    tokyo = ZoneInfo("Asia/Tokyo")
    assert store.requests_due(RequestStatus.ACTIVE, before=(T0 + HOUR).astimezone(tokyo)) == [
        request
    ]
    just_before = (T0 + HOUR - dt.timedelta(microseconds=1)).astimezone(tokyo)
    assert store.requests_due(RequestStatus.ACTIVE, before=just_before) == []


def test_update_moves_request_between_due_lists(store: Store) -> None:
    """After an update the request is due, or purgeable, by its new status and times."""
    request = make_request(status=RequestStatus.SCHEDULED, requested_time=T0)
    store.add_request(request)
    assert store.requests_due(RequestStatus.SCHEDULED, before=T0) == [request]
    running = attrs.evolve(request, status=RequestStatus.ACTIVE, expiration_time=T0 + HOUR)
    store.update_request(running, expected_status=RequestStatus.SCHEDULED)
    assert store.requests_due(RequestStatus.SCHEDULED, before=T0 + 2 * HOUR) == []
    assert store.requests_due(RequestStatus.ACTIVE, before=T0 + 2 * HOUR) == [running]
    assert store.purge_requests(finished_before=T0 + 2 * HOUR) == 0
    expired = attrs.evolve(running, status=RequestStatus.EXPIRED)
    store.update_request(expired, expected_status=RequestStatus.ACTIVE)
    assert store.requests_due(RequestStatus.ACTIVE, before=T0 + 2 * HOUR) == []
    assert store.purge_requests(finished_before=T0 + 2 * HOUR) == 1


def test_purge_requests(store: Store) -> None:
    """purge deletes finished requests that ended strictly before the time, and counts them."""
    closed = make_request(status=RequestStatus.CLOSED, expiration_time=T0 + HOUR)
    expired = make_request(status=RequestStatus.EXPIRED, expiration_time=T0 + 2 * HOUR)
    rejected = make_request(status=RequestStatus.REJECTED)  # ended when created
    running = active(T0 + HOUR)
    pending = make_request(status=RequestStatus.PENDING_APPROVAL)
    for request in (closed, expired, rejected, running, pending):
        store.add_request(request)
    assert store.purge_requests(finished_before=T0 + HOUR) == 1
    assert {r.request_id for r in store.find_requests()} == {
        closed.request_id,
        expired.request_id,
        running.request_id,
        pending.request_id,
    }
    assert store.purge_requests(finished_before=T0 + 3 * HOUR) == 2
    assert {r.request_id for r in store.find_requests()} == {
        running.request_id,
        pending.request_id,
    }
    assert store.purge_requests(finished_before=T0 + 3 * HOUR) == 0


# --- closing -------------------------------------------------------------------------------------

CALLS: dict[str, Callable[[Store], object]] = {
    "add_user": lambda s: s.add_user(make_user()),
    "get_user": lambda s: s.get_user(uuid.uuid4()),
    "find_users": lambda s: s.find_users(),
    "iter_users": lambda s: list(s.iter_users()),
    "replace_user": lambda s: s.replace_user(make_user()),
    "remove_user": lambda s: s.remove_user(uuid.uuid4()),
    "add_role": lambda s: s.add_role(make_role()),
    "get_role": lambda s: s.get_role(uuid.uuid4()),
    "find_roles": lambda s: s.find_roles(),
    "roles_with_candidate": lambda s: s.roles_with_candidate(uuid.uuid4()),
    "replace_role": lambda s: s.replace_role(make_role()),
    "remove_role": lambda s: s.remove_role(uuid.uuid4()),
    "add_request": lambda s: s.add_request(make_request()),
    "get_request": lambda s: s.get_request(uuid.uuid4()),
    "update_request": lambda s: s.update_request(
        make_request(), expected_status=RequestStatus.PROCESSING
    ),
    "find_requests": lambda s: s.find_requests(),
    "requests_due": lambda s: s.requests_due(RequestStatus.ACTIVE, before=T0),
    "purge_requests": lambda s: s.purge_requests(finished_before=T0),
}


@pytest.mark.parametrize("method", sorted(CALLS))
def test_closed_store_refuses(store: Store, method: str) -> None:
    """After close() every method raises StoreError saying the store is closed."""
    store.close()
    with pytest.raises(StoreError, match="closed"):
        CALLS[method](store)


def test_close_twice(store: Store) -> None:
    """Closing a closed store is harmless."""
    store.close()
    store.close()


# --- round trips ---------------------------------------------------------------------------------

ZONES = [
    None,
    UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(-dt.timedelta(hours=3), "BRT"),
    dt.timezone(dt.timedelta(hours=1, seconds=1, microseconds=1)),
    ZoneInfo("Europe/Paris"),
    ZoneInfo("America/New_York"),
]


@st.composite
def varied_users(draw: st.DrawFn) -> User:
    """Users with every optional field sometimes set, names in any script."""
    user = draw(users())
    return attrs.evolve(
        user,
        source_domain=draw(st.just(user.source_domain) | names()),
        source_account_name=draw(st.just(user.source_account_name) | names()),
        sid=draw(st.none() | st.from_regex(r"S-1(-[0-9]{1,10}){1,8}", fullmatch=True)),
        privileged_account_name=draw(names()),
        privileged_display_name=draw(st.none() | names()),
    )


@st.composite
def zoned_roles(draw: st.DrawFn) -> Role:
    """Roles whose window times are naive, in a fixed offset, or in an IANA zone."""
    role = draw(roles())
    zone = draw(st.sampled_from(ZONES))
    start, end = role.available_from, role.available_to
    if start is None and draw(st.booleans()):
        start = draw(st.times())  # a disabled window may keep one end
    return attrs.evolve(
        role,
        available_from=None if start is None else start.replace(tzinfo=zone),
        available_to=None if end is None else end.replace(tzinfo=zone),
        ttl=role.ttl + dt.timedelta(microseconds=draw(st.integers(0, 999_999))),
    )


@st.composite
def full_requests(draw: st.DrawFn) -> ActivationRequest:
    """Requests with pyampam's bookkeeping fields set as well."""
    request = draw(activation_requests())
    return attrs.evolve(
        request,
        creation_method=draw(names()),
        activation_time=draw(st.none() | aware_datetimes()),
        decided_by=draw(st.none() | st.uuids()),
        mfa_call_id=draw(st.none() | st.text(max_size=40)),
        status_reason=draw(st.text(max_size=100)),
    )


def zone_identity(value: dt.time | None) -> object:
    """What must survive of a time's zone: its class, its IANA key or its offset and name."""
    if value is None or value.tzinfo is None:
        return None
    zone = value.tzinfo
    return (type(zone), getattr(zone, "key", None), zone.utcoffset(None), zone.tzname(None))


@pytest.mark.parametrize("kind", KINDS)
@ROUND_TRIP
@given(user=varied_users())
def test_user_round_trip(kind: str, user: User) -> None:
    """Any user comes back equal from any store."""
    with fresh_store(kind) as store:
        store.add_user(user)
        assert store.get_user(user.object_id) == user
        assert store.find_users(
            source_domain=user.source_domain, source_account_name=user.source_account_name
        ) == [user]


@pytest.mark.parametrize("kind", KINDS)
@ROUND_TRIP
@given(role=zoned_roles())
def test_role_round_trip(kind: str, role: Role) -> None:
    """Any role comes back equal from any store, its window times in their own zone."""
    with fresh_store(kind) as store:
        store.add_role(role)
        back = store.get_role(role.role_id)
        assert back == role
        assert zone_identity(back.available_from) == zone_identity(role.available_from)
        assert zone_identity(back.available_to) == zone_identity(role.available_to)


@pytest.mark.parametrize("kind", KINDS)
@ROUND_TRIP
@given(request=full_requests())
def test_request_round_trip(kind: str, request: ActivationRequest) -> None:
    """Any request comes back equal from any store, every instant the same instant."""
    with fresh_store(kind) as store:
        store.add_request(request)
        assert store.get_request(request.request_id) == request
        assert store.find_requests(requestor_id=request.requestor_id) == [request]


def test_status_strings_are_refused_not_silently_unmatched(store: Store) -> None:
    """`find_requests(statuses=["Active"])` is a mistake: it raises instead of finding nothing."""
    with pytest.raises(InvalidValueError, match="RequestStatus"):
        store.find_requests(statuses=["Active"])  # type: ignore[list-item]


def test_due_and_purge_need_aware_times_and_sane_limits(store: Store) -> None:
    """Both stores refuse a naive `before`, a negative limit and a naive purge cut-off alike."""
    naive = dt.datetime(2030, 1, 1)
    with pytest.raises(InvalidValueError, match="aware"):
        store.requests_due(RequestStatus.ACTIVE, before=naive)
    with pytest.raises(InvalidValueError, match="limit"):
        store.requests_due(RequestStatus.ACTIVE, before=dt.datetime.now(dt.timezone.utc), limit=-1)
    with pytest.raises(InvalidValueError, match="aware"):
        store.purge_requests(finished_before=naive)
