"""PamService without MFA: users, roles, requests, approvals, closing, expiry and privileges."""

from __future__ import annotations

import datetime as dt
import pathlib
import threading
import uuid
from collections.abc import Iterator

import attrs
import pytest

from pyampam import (
    ActivationRequest,
    PamConfiguration,
    PhoneNumber,
    RequestStatus,
    Role,
    User,
    Violation,
)
from pyampam.activation import UNSET, PamService
from pyampam.directory import DirectoryEntry, MemoryDirectory
from pyampam.events import EventId, EventLevel, EventLog
from pyampam.exceptions import (
    ActivationDeniedError,
    AlreadyExistsError,
    CandidatesWithoutPhoneError,
    ConcurrentUpdateError,
    InvalidTransitionError,
    InvalidValueError,
    MfaPhoneMissingError,
    NotACandidateError,
    NotAnApproverError,
    NotFoundError,
    OutsideAvailabilityWindowError,
    PamError,
    PhoneNumberError,
    RequestedTimeInPastError,
    SelfApprovalError,
    TtlTooLongError,
    UserIsCandidateError,
)
from pyampam.store import MemoryStore, SqliteStore, Store

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 6, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
JEN_PHONE = "+1 4255550100"
BOB_PHONE = "+1 4255550101"


class Clock:
    """A settable clock for the service: it moves only when a test says so."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Store]:
    opened: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "pam.db")
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: Store, clock: Clock) -> Iterator[PamService]:
    with PamService(store=store, clock=clock) as pam:
        yield pam


@pytest.fixture
def jen(service: PamService) -> User:
    return service.new_user("CONTOSO", "jen", display_name="Jen Smith", phone=JEN_PHONE)


@pytest.fixture
def bob(service: PamService) -> User:
    return service.new_user("CONTOSO", "bob", phone=BOB_PHONE)


def lifecycle(service: PamService, request: ActivationRequest | uuid.UUID) -> list[EventId]:
    """The ids of the events recorded for one request, in order."""
    return [EventId(event.event_id) for event in service.events.query(request=request)]


# -- users ------------------------------------------------------------------------------------


def test_new_user_gets_a_guid_and_the_configured_privileged_name(service: PamService) -> None:
    """new_user assigns a GUID object id and names the PRIV account with the config prefix."""
    service.set_config(privileged_user_prefix="adm-")
    user = service.new_user("CONTOSO", "jen")
    assert isinstance(user.object_id, uuid.UUID)
    assert user.object_id.version == 4
    assert user.privileged_account_name == "adm-jen"
    assert service.get_user(user.object_id) == user


def test_new_user_reads_phone_text_with_the_default_country_code(store: Store) -> None:
    """A phone given as text is parsed with the service's default country code."""
    service = PamService(store=store, default_country_code=44)
    user = service.new_user("CONTOSO", "jen", phone="020 7946 0958")
    assert user.phone == PhoneNumber(44, "2079460958")
    other = service.new_user("CONTOSO", "bob", phone=PhoneNumber.parse(BOB_PHONE))
    assert other.phone == PhoneNumber.parse(BOB_PHONE)


def test_new_user_copies_the_phone_from_the_directory_once(service: PamService) -> None:
    """new_user copies the directory's phone (and details); later directory changes are not."""
    directory = MemoryDirectory(
        [
            DirectoryEntry(
                source_domain="CONTOSO",
                source_account_name="jen",
                display_name="Jen Smith",
                email="jen@contoso.com",
                phone="(425) 555-0100",
            )
        ]
    )
    user = service.new_user("contoso", "JEN", directory=directory)
    assert user.phone == PhoneNumber.parse(JEN_PHONE)
    assert user.display_name == "Jen Smith"
    assert user.email == "jen@contoso.com"
    directory.set_phone("CONTOSO", "jen", "+1 2065550199")
    assert service.get_user(user).phone == PhoneNumber.parse(JEN_PHONE)


def test_new_user_explicit_phone_overrides_the_directory(service: PamService) -> None:
    """phone= wins over the directory; phone=None stores no number at all."""
    directory = MemoryDirectory(
        [
            DirectoryEntry(source_domain="CONTOSO", source_account_name="jen", phone=JEN_PHONE),
            DirectoryEntry(source_domain="CONTOSO", source_account_name="bob", phone=BOB_PHONE),
        ]
    )
    jen = service.new_user("CONTOSO", "jen", directory=directory, phone="+1 2065550199")
    bob = service.new_user("CONTOSO", "bob", directory=directory, phone=None)
    assert jen.phone == PhoneNumber.parse("+1 2065550199")
    assert bob.phone is None


def test_new_user_missing_from_the_directory_is_refused(service: PamService) -> None:
    """An account the directory does not hold cannot be copied from it."""
    with pytest.raises(NotFoundError, match=r"no account CONTOSO\\jen"):
        service.new_user("CONTOSO", "jen", directory=MemoryDirectory())
    assert service.get_users() == []


def test_new_user_with_an_unusable_directory_phone_says_what_to_do(service: PamService) -> None:
    """A directory phone that is not a number raises PhoneNumberError naming the account."""
    directory = MemoryDirectory(
        [DirectoryEntry(source_domain="CONTOSO", source_account_name="jen", phone="call me")]
    )
    with pytest.raises(PhoneNumberError, match=r"CONTOSO\\jen.*phone=None") as caught:
        service.new_user("CONTOSO", "jen", directory=directory)
    assert caught.value.field == "phone"


def test_new_user_twice_is_refused(service: PamService, jen: User) -> None:
    """A second user for the same CORP account is refused."""
    with pytest.raises(AlreadyExistsError):
        service.new_user("contoso", "JEN")


def test_users_are_found_by_object_id_identity_or_fields(
    service: PamService, jen: User, bob: User
) -> None:
    """get_user takes a User, a UUID, its text or DOMAIN\\account; get_users filters."""
    assert service.get_user(jen) == jen
    assert service.get_user(jen.object_id) == jen
    assert service.get_user(str(jen.object_id)) == jen
    assert service.get_user("contoso\\JEN") == jen
    assert service.get_users(display_name="jen smith") == [jen]
    assert service.get_users(source_domain="CONTOSO") == [bob, jen]
    with pytest.raises(NotFoundError, match="new_user"):
        service.get_user("CONTOSO\\nobody")
    with pytest.raises(InvalidValueError, match="DOMAIN"):
        service.get_user("jen")


def test_set_user_tells_not_given_from_none(service: PamService, jen: User) -> None:
    """Arguments left out keep their value, None clears, text phones are parsed."""
    changed = service.set_user(jen, description="DBA", pin="482916")
    assert changed.phone == jen.phone
    assert changed.display_name == "Jen Smith"
    assert changed.description == "DBA"
    assert changed.pin == "482916"
    assert "482916" not in repr(changed)
    changed = service.set_user(jen, display_name=None, phone="4255550177")
    assert changed.display_name is None
    assert changed.description == "DBA"
    assert changed.phone == PhoneNumber.parse("+1 4255550177")
    cleared = service.set_user(jen, phone=None, pin=None, description=UNSET)
    assert cleared.phone is None
    assert cleared.pin is None
    assert cleared.description == "DBA"


def test_set_user_does_not_clear_the_phone_of_an_mfa_candidate(
    service: PamService, jen: User
) -> None:
    """Clearing the phone of a candidate of an MFA role is refused, naming the role."""
    service.new_role("SQL admins", candidates=[jen], mfa_enabled=True)
    with pytest.raises(CandidatesWithoutPhoneError, match="'SQL admins'"):
        service.set_user(jen, phone=None)
    assert service.get_user(jen).phone == jen.phone


def test_remove_user_who_is_a_candidate_is_refused(
    service: PamService, jen: User, bob: User
) -> None:
    """A candidate cannot be removed until taken out of every role's candidates."""
    role = service.new_role("SQL admins", candidates=[jen, bob])
    with pytest.raises(UserIsCandidateError, match=r"'SQL admins'.*candidates first"):
        service.remove_user(jen)
    service.set_role(role, candidates=[bob])
    service.remove_user(jen)
    with pytest.raises(NotFoundError):
        service.get_user(jen.object_id)


# -- roles ------------------------------------------------------------------------------------


def test_new_role_ttl_defaults_to_the_configuration_and_is_bounded(
    service: PamService, jen: User
) -> None:
    """A role without TTL gets role_default_duration; one outside the bounds is refused."""
    service.set_config(role_default_duration=2 * HOUR)
    assert service.new_role("A", candidates=[jen]).ttl == 2 * HOUR
    assert service.new_role("B", ttl=5 * MINUTE).ttl == 5 * MINUTE
    with pytest.raises(InvalidValueError, match="outside the configured bounds") as caught:
        service.new_role("C", ttl=MINUTE)
    assert caught.value.field == "ttl"
    with pytest.raises(InvalidValueError, match="outside the configured bounds"):
        service.new_role("C", ttl=9 * HOUR)
    assert [role.display_name for role in service.get_roles()] == ["A", "B"]


def test_mfa_cannot_be_enabled_while_a_candidate_has_no_phone(
    service: PamService, jen: User
) -> None:
    """new_role and set_role refuse MFA while candidates lack a phone, naming DOMAIN\\account."""
    nophone = service.new_user("CONTOSO", "nophone")
    other = service.new_user("FABRIKAM", "amy")
    with pytest.raises(CandidatesWithoutPhoneError) as caught:
        service.new_role("SQL admins", candidates=[jen, nophone, other], mfa_enabled=True)
    assert "CONTOSO\\nophone" in str(caught.value)
    assert "FABRIKAM\\amy" in str(caught.value)
    assert "CONTOSO\\jen" not in str(caught.value)
    assert service.get_roles() == []

    role = service.new_role("SQL admins", candidates=[jen, nophone])
    with pytest.raises(CandidatesWithoutPhoneError, match=r"CONTOSO\\nophone"):
        service.set_role(role, mfa_enabled=True)
    assert not service.get_role(role).mfa_enabled
    service.set_user(nophone, phone="4255550123")
    assert service.set_role(role, mfa_enabled=True).mfa_enabled


def test_a_candidate_without_phone_cannot_join_an_mfa_role(service: PamService, jen: User) -> None:
    """Adding a phoneless candidate to a role that needs MFA is refused."""
    role = service.new_role("SQL admins", candidates=[jen], mfa_enabled=True)
    nophone = service.new_user("CONTOSO", "nophone")
    with pytest.raises(CandidatesWithoutPhoneError):
        service.set_role(role, candidates=[jen, nophone])
    assert service.get_role(role).candidates == {jen.object_id}


def test_set_role_candidates_replace_the_whole_list(
    service: PamService, jen: User, bob: User
) -> None:
    """Setting candidates replaces them; other fields left out keep their value."""
    role = service.new_role("SQL admins", candidates=[jen], privileges=["SQL"], ttl=2 * HOUR)
    changed = service.set_role(role, candidates=[bob])
    assert changed.candidates == {bob.object_id}
    assert changed.privileges == ("SQL",)
    assert changed.ttl == 2 * HOUR
    assert service.get_roles(candidate=jen) == []
    assert service.get_roles(candidate=bob) == [changed]


def test_set_role_checks_ttl_and_window(service: PamService) -> None:
    """A new TTL is bounded; window times enable the window, None disables it."""
    role = service.new_role("SQL admins")
    with pytest.raises(InvalidValueError, match="outside the configured bounds"):
        service.set_role(role, ttl=dt.timedelta(seconds=30))
    with pytest.raises(InvalidValueError, match="required"):
        service.set_role(role, ttl=None)  # type: ignore[arg-type]
    windowed = service.set_role(role, available_from=dt.time(8), available_to=dt.time(18))
    assert windowed.availability_window_enabled
    assert not service.set_role(
        role, available_from=None, available_to=None
    ).availability_window_enabled
    with pytest.raises(InvalidValueError, match="after available_from"):
        service.set_role(role, available_from=dt.time(18), available_to=dt.time(8))


def test_roles_are_found_by_name_or_id(service: PamService, jen: User) -> None:
    """A role is given as a Role, its UUID or its display name (any case)."""
    role = service.new_role("SQL admins", candidates=[jen])
    assert service.get_role("sql ADMINS") == role
    assert service.get_role(role.role_id) == role
    assert service.get_roles(display_name="SQL ADMINS") == [role]
    with pytest.raises(NotFoundError, match="new_role"):
        service.get_role("nope")


def test_new_role_refuses_unknown_users_and_approval_without_approvers(
    service: PamService, jen: User
) -> None:
    """Candidates must be PAM users; a role needing approval must have an approver."""
    with pytest.raises(NotFoundError, match="candidates"):
        service.new_role("SQL admins", candidates=[uuid.uuid4()])
    with pytest.raises(InvalidValueError, match="no approvers") as caught:
        service.new_role("SQL admins", candidates=[jen], approval_enabled=True)
    assert caught.value.field == "approvers"
    with pytest.raises(InvalidValueError, match="wrap one in a list"):
        service.new_role("SQL admins", candidates=jen)  # type: ignore[arg-type]


def test_remove_role_with_open_requests_needs_close_requests(
    service: PamService, jen: User, bob: User
) -> None:
    """A role with open requests is kept unless close_requests=True closes them first."""
    role = service.new_role("SQL admins", candidates=[jen], privileges=["SQL"])
    request = service.request_activation(jen, role)
    with pytest.raises(PamError, match="close_requests=True"):
        service.remove_role(role)
    service.remove_role(role, close_requests=True)
    closed = service.get_request(request)
    assert closed.status is RequestStatus.CLOSED
    assert lifecycle(service, request).count(EventId.REQUEST_CLOSED) == 1
    assert service.privileges_of(jen) == frozenset()
    with pytest.raises(NotFoundError):
        service.get_role(role.role_id)
    empty = service.new_role("Empty")
    service.remove_role(empty)
    assert service.get_roles() == []


# -- requests without checks ------------------------------------------------------------------


def test_a_role_without_checks_is_active_at_once(
    service: PamService, clock: Clock, jen: User
) -> None:
    """With no approval and no MFA the request is Active, expiring after the TTL."""
    role = service.new_role("SQL admins", candidates=[jen], privileges=["SQL"], ttl=2 * HOUR)
    request = service.request_activation(jen, "SQL admins", justification="ticket 42")
    assert request.status is RequestStatus.ACTIVE
    assert request.activation_time == clock.now
    assert request.expiration_time == clock.now + 2 * HOUR
    assert request.requested_ttl == 2 * HOUR
    assert request.justification == "ticket 42"
    assert request.role_id == role.role_id
    assert lifecycle(service, request) == [EventId.REQUEST_CREATED, EventId.REQUEST_ACTIVATED]
    assert service.privileges_of(jen) == {"SQL"}
    assert service.active_roles(jen) == [role]


def test_requested_ttl_may_be_shorter_but_not_longer(service: PamService, jen: User) -> None:
    """A shorter TTL is honoured; a longer one raises TtlTooLongError with both TTLs."""
    service.new_role("SQL admins", candidates=[jen], ttl=HOUR)
    short = service.request_activation(jen, "SQL admins", requested_ttl=10 * MINUTE)
    assert short.expiration_time == T0 + 10 * MINUTE
    with pytest.raises(TtlTooLongError, match=r"asked for 2:00:00, the role allows 1:00:00") as e:
        service.request_activation(jen, "SQL admins", requested_ttl=2 * HOUR)
    assert e.value.violations == (Violation.TTL_ABOVE_ROLE,)
    with pytest.raises(TtlTooLongError):
        service.request_activation(jen, "SQL admins", requested_ttl=dt.timedelta(0))


def test_denial_raises_the_first_violation_carrying_them_all(
    service: PamService, jen: User, bob: User
) -> None:
    """A non-candidate asking too long gets NotACandidateError listing both problems."""
    service.new_role("SQL admins", candidates=[jen], ttl=HOUR)
    with pytest.raises(NotACandidateError) as caught:
        service.request_activation(bob, "SQL admins", requested_ttl=2 * HOUR)
    assert caught.value.violations == (Violation.NOT_A_CANDIDATE, Violation.TTL_ABOVE_ROLE)
    assert isinstance(caught.value, ActivationDeniedError)
    assert "2 problems" in str(caught.value)
    assert "not a candidate" in str(caught.value)
    assert "longer than the role's TTL" in str(caught.value)
    assert service.get_requests() == []
    assert len(service.events) == 0


def test_availability_window_is_honoured(service: PamService, clock: Clock, jen: User) -> None:
    """Outside the window is refused; a start inside it is Scheduled; a past start refused."""
    service.new_role(
        "SQL admins",
        candidates=[jen],
        privileges=["SQL"],
        available_from=dt.time(12),
        available_to=dt.time(14),
    )
    with pytest.raises(OutsideAvailabilityWindowError, match="12:00:00 to 14:00:00"):
        service.request_activation(jen, "SQL admins")
    start = T0.replace(hour=12, minute=30)
    scheduled = service.request_activation(jen, "SQL admins", requested_time=start)
    assert scheduled.status is RequestStatus.SCHEDULED
    assert scheduled.requested_time == start
    assert scheduled.expiration_time is None
    assert lifecycle(service, scheduled) == [EventId.REQUEST_CREATED, EventId.REQUEST_SCHEDULED]
    assert service.privileges_of(jen) == frozenset()
    with pytest.raises(RequestedTimeInPastError):
        service.request_activation(jen, "SQL admins", requested_time=T0 - MINUTE)


def test_mfa_phone_missing_is_its_own_denial(service: PamService, jen: User) -> None:
    """A candidate of an MFA role whose phone vanished from the store gets MfaPhoneMissingError."""
    service.new_role("SQL admins", candidates=[jen], mfa_enabled=True)
    # Only a store edited behind the service's back can hold this; the service itself refuses.
    service.store.replace_user(attrs.evolve(service.get_user(jen), phone=None))
    with pytest.raises(MfaPhoneMissingError, match="Set-PAMUser"):
        service.request_activation(jen, "SQL admins")


def test_start_due_activates_scheduled_requests_when_their_time_comes(
    service: PamService, clock: Clock, jen: User
) -> None:
    """Scheduled requests start only once due, then run for their TTL from the start."""
    service.new_role("SQL admins", candidates=[jen], privileges=["SQL"])
    request = service.request_activation(jen, "SQL admins", requested_time=T0 + HOUR)
    clock.advance(59 * MINUTE)
    assert service.start_due() == []
    clock.advance(2 * MINUTE)
    [started] = service.start_due()
    assert started.request_id == request.request_id
    assert started.status is RequestStatus.ACTIVE
    assert started.activation_time == clock.now
    assert started.expiration_time == clock.now + HOUR
    assert service.start_due() == []
    assert service.privileges_of(jen) == {"SQL"}
    assert lifecycle(service, request) == [
        EventId.REQUEST_CREATED,
        EventId.REQUEST_SCHEDULED,
        EventId.REQUEST_ACTIVATED,
    ]


def test_expire_due_expires_each_request_once(service: PamService, clock: Clock, jen: User) -> None:
    """Due Active requests become Expired exactly once; others are left alone."""
    service.new_role("SQL admins", candidates=[jen], privileges=["SQL"], ttl=HOUR)
    first = service.request_activation(jen, "SQL admins", requested_ttl=10 * MINUTE)
    second = service.request_activation(jen, "SQL admins")
    clock.advance(10 * MINUTE)
    assert service.privileges_of(jen) == {"SQL"}  # the second one still holds
    [expired] = service.expire_due()
    assert expired.request_id == first.request_id
    assert expired.status is RequestStatus.EXPIRED
    assert expired.expiration_time == T0 + 10 * MINUTE
    assert service.expire_due() == []
    assert service.get_request(second).status is RequestStatus.ACTIVE
    assert lifecycle(service, first).count(EventId.REQUEST_EXPIRED) == 1
    assert lifecycle(service, second).count(EventId.REQUEST_EXPIRED) == 0


def test_expired_requests_grant_nothing_before_expire_due(
    service: PamService, clock: Clock, jen: User
) -> None:
    """privileges_of reads the clock: past the expiration time nothing is held."""
    role_a = service.new_role("A", candidates=[jen], privileges=["G1", "G2"], ttl=HOUR)
    service.new_role("B", candidates=[jen], privileges=["G2", "G3"], ttl=2 * HOUR)
    service.request_activation(jen, "A")
    service.request_activation(jen, "B")
    assert service.privileges_of(jen) == {"G1", "G2", "G3"}
    clock.advance(HOUR)
    assert service.privileges_of(jen) == {"G2", "G3"}
    assert [role.display_name for role in service.active_roles(jen)] == ["B"]
    assert service.get_requests(jen, role=role_a)[0].status is RequestStatus.ACTIVE
    clock.advance(HOUR)
    assert service.privileges_of(jen) == frozenset()
    assert service.privileges_of(jen, at=T0 + 30 * MINUTE) == {"G1", "G2", "G3"}
    assert service.privileges_of(jen, at=T0 - MINUTE) == frozenset()


def test_close_ends_the_membership_at_once(service: PamService, clock: Clock, jen: User) -> None:
    """Closing an Active request makes it Closed at the close time; it grants nothing after."""
    service.new_role("SQL admins", candidates=[jen], privileges=["SQL"])
    request = service.request_activation(jen, "SQL admins")
    clock.advance(5 * MINUTE)
    closed = service.close(request, reason="done")
    assert closed.status is RequestStatus.CLOSED
    assert closed.expiration_time == clock.now
    assert closed.status_reason == "closed: done"
    assert service.privileges_of(jen) == frozenset()
    assert service.privileges_of(jen, at=T0 + MINUTE) == {"SQL"}
    assert lifecycle(service, request).count(EventId.REQUEST_CLOSED) == 1
    with pytest.raises(InvalidTransitionError, match="it is Closed"):
        service.close(request)
    assert lifecycle(service, request).count(EventId.REQUEST_CLOSED) == 1


def test_close_works_on_pending_and_scheduled_requests(
    service: PamService, jen: User, bob: User
) -> None:
    """Scheduled and PendingApproval requests can be closed; they never become Active."""
    service.new_role("Later", candidates=[jen])
    service.new_role("Approved", candidates=[jen], approvers=[bob], approval_enabled=True)
    scheduled = service.request_activation(jen, "Later", requested_time=T0 + HOUR)
    pending = service.request_activation(jen, "Approved")
    assert service.close(scheduled).status is RequestStatus.CLOSED
    assert service.close(pending).status is RequestStatus.CLOSED
    assert service.requests_to_approve(bob) == []
    with pytest.raises(InvalidTransitionError):
        service.approve(pending, bob)


def test_closing_an_expired_active_request_is_refused(
    service: PamService, clock: Clock, jen: User
) -> None:
    """An Active request past its expiration is expired, not closable."""
    service.new_role("SQL admins", candidates=[jen])
    request = service.request_activation(jen, "SQL admins")
    clock.advance(2 * HOUR)
    with pytest.raises(InvalidTransitionError, match="expired at"):
        service.close(request)
    assert service.get_request(request).status is RequestStatus.ACTIVE
    assert [r.status for r in service.expire_due()] == [RequestStatus.EXPIRED]


# -- approvals --------------------------------------------------------------------------------


@pytest.fixture
def approval_role(service: PamService, jen: User, bob: User) -> Role:
    return service.new_role(
        "SQL admins",
        candidates=[jen, bob],
        approvers=[bob],
        privileges=["SQL"],
        approval_enabled=True,
    )


def test_approval_waits_for_an_approver(
    service: PamService, clock: Clock, jen: User, bob: User, approval_role: Role
) -> None:
    """A request waits PendingApproval until an approver approves; then it is Active."""
    request = service.request_activation(jen, approval_role)
    assert request.status is RequestStatus.PENDING_APPROVAL
    assert request.expiration_time is None
    assert service.privileges_of(jen) == frozenset()
    assert service.requests_to_approve(bob) == [request]
    assert service.requests_to_approve(jen) == []
    clock.advance(MINUTE)
    approved = service.approve(request.request_id, bob)
    assert approved.status is RequestStatus.ACTIVE
    assert approved.decided_by == bob.object_id
    assert approved.activation_time == clock.now
    assert approved.expiration_time == clock.now + HOUR
    assert service.privileges_of(jen) == {"SQL"}
    assert service.requests_to_approve(bob) == []
    assert lifecycle(service, request) == [
        EventId.REQUEST_CREATED,
        EventId.REQUEST_APPROVED,
        EventId.REQUEST_ACTIVATED,
    ]
    [event] = service.events.query(event_id=EventId.REQUEST_APPROVED)
    assert event.extra["decided_by"] == str(bob.object_id)
    with pytest.raises(InvalidTransitionError, match="it is Active"):
        service.approve(request, bob)


def test_only_approvers_may_decide(
    service: PamService, jen: User, bob: User, approval_role: Role
) -> None:
    """A user who is not an approver gets NotAnApproverError naming the approvers."""
    amy = service.new_user("CONTOSO", "amy")
    request = service.request_activation(jen, approval_role)
    with pytest.raises(NotAnApproverError, match=r"CONTOSO\\amy.*CONTOSO\\bob"):
        service.approve(request, amy)
    with pytest.raises(NotAnApproverError):
        service.reject(request, amy)
    assert service.get_request(request).status is RequestStatus.PENDING_APPROVAL


def test_self_approval_is_refused_by_default(
    service: PamService, store: Store, clock: Clock, bob: User, approval_role: Role
) -> None:
    """An approver cannot approve their own request unless the service allows it."""
    own = service.request_activation(bob, approval_role)
    assert service.requests_to_approve(bob) == []
    with pytest.raises(SelfApprovalError, match="allow_self_approval=True"):
        service.approve(own, bob)
    lenient = PamService(store=store, clock=clock, allow_self_approval=True)
    assert lenient.requests_to_approve(bob) == [service.get_request(own)]
    assert lenient.approve(own, bob).status is RequestStatus.ACTIVE


def test_rejection_is_final_and_grants_nothing(
    service: PamService, jen: User, bob: User, approval_role: Role
) -> None:
    """A rejected request is Rejected with the approver and reason; nothing is granted."""
    request = service.request_activation(jen, approval_role)
    rejected = service.reject(request, bob, reason="not during the freeze")
    assert rejected.status is RequestStatus.REJECTED
    assert rejected.decided_by == bob.object_id
    assert rejected.status_reason == "rejected by CONTOSO\\bob: not during the freeze"
    assert rejected.activation_time is None
    assert service.privileges_of(jen) == frozenset()
    assert lifecycle(service, request) == [EventId.REQUEST_CREATED, EventId.REQUEST_REJECTED]
    with pytest.raises(InvalidTransitionError, match="it is Rejected"):
        service.approve(request, bob)
    with pytest.raises(InvalidTransitionError):
        service.close(request)


def test_an_approved_later_start_is_scheduled(
    service: PamService, jen: User, bob: User, approval_role: Role
) -> None:
    """Approving a request with a future start makes it Scheduled."""
    request = service.request_activation(jen, approval_role, requested_time=T0 + HOUR)
    approved = service.approve(request, bob)
    assert approved.status is RequestStatus.SCHEDULED
    assert lifecycle(service, request)[-2:] == [
        EventId.REQUEST_APPROVED,
        EventId.REQUEST_SCHEDULED,
    ]


def race(
    service: PamService, request_id: uuid.UUID, approvers: list[User]
) -> tuple[list[RequestStatus], list[InvalidTransitionError]]:
    """Approve with each approver and close, all at once; the approvals won and lost."""
    barrier = threading.Barrier(len(approvers) + 1)
    approvals: list[RequestStatus] = []
    losses: list[InvalidTransitionError] = []

    def approve(approver: User) -> None:
        barrier.wait()
        try:
            approvals.append(service.approve(request_id, approver).status)
        except InvalidTransitionError as error:
            losses.append(error)

    def close() -> None:
        barrier.wait()
        service.close(request_id)  # pending or active: closing works either way

    threads = [threading.Thread(target=approve, args=(who,)) for who in approvers]
    threads.append(threading.Thread(target=close))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return approvals, losses


def test_concurrent_decisions_move_the_request_once(
    service: PamService, jen: User, bob: User
) -> None:
    """Two approvers and a close racing: at most one approval wins; each change is one event."""
    amy = service.new_user("CONTOSO", "amy")
    role = service.new_role(
        "SQL admins", candidates=[jen], approvers=[bob, amy], approval_enabled=True
    )
    for _ in range(10):
        request = service.request_activation(jen, role)
        approvals, losses = race(service, request.request_id, [bob, amy])
        ids = lifecycle(service, request)
        assert len(approvals) <= 1
        assert len(approvals) + len(losses) == 2
        assert ids.count(EventId.REQUEST_APPROVED) == len(approvals)
        assert ids.count(EventId.REQUEST_ACTIVATED) == len(approvals)
        assert ids.count(EventId.REQUEST_CLOSED) == 1
        assert ids.count(EventId.REQUEST_CREATED) == 1
        assert service.get_request(request).status is RequestStatus.CLOSED


# -- listing, configuration, the store contract ---------------------------------------------


def test_get_requests_filters_by_user_role_and_status(
    service: PamService, clock: Clock, jen: User, bob: User, approval_role: Role
) -> None:
    """get_requests filters by requestor, role and one or several statuses, oldest first."""
    other = service.new_role("Other", candidates=[jen])
    pending = service.request_activation(jen, approval_role)
    clock.advance(MINUTE)
    active = service.request_activation(jen, other)
    clock.advance(MINUTE)
    bobs = service.request_activation(bob, approval_role)
    assert service.get_requests() == [pending, active, bobs]
    assert service.get_requests(jen) == [pending, active]
    assert service.get_requests(role="SQL admins") == [pending, bobs]
    assert service.get_requests(status=RequestStatus.ACTIVE) == [active]
    pending_statuses = {status for status in RequestStatus if status.is_pending}
    assert service.get_requests(jen, status=pending_statuses) == [pending]
    with pytest.raises(InvalidValueError):
        service.get_requests(status=["Active"])  # type: ignore[list-item]


def test_set_config_changes_the_configuration(service: PamService) -> None:
    """set_config validates changes and refuses unknown names; config can be replaced whole."""
    changed = service.set_config(role_maximal_duration=12 * HOUR, request_expiration_in_days=7)
    assert service.config == changed
    assert changed.role_maximal_duration == 12 * HOUR
    assert service.new_role("Long", ttl=12 * HOUR).ttl == 12 * HOUR
    with pytest.raises(InvalidValueError, match="no field colour"):
        service.set_config(colour="blue")
    with pytest.raises(InvalidValueError):
        service.set_config(role_default_duration=dt.timedelta(minutes=1))
    assert service.config == changed
    service.config = PamConfiguration()
    assert service.config.role_maximal_duration == 8 * HOUR


def test_purge_requests_keeps_the_configured_days(
    service: PamService, clock: Clock, jen: User
) -> None:
    """Finished requests older than request_expiration_in_days are deleted."""
    service.set_config(request_expiration_in_days=1)
    service.new_role("SQL admins", candidates=[jen])
    old = service.request_activation(jen, "SQL admins")
    service.close(old)
    clock.advance(dt.timedelta(days=2))
    recent = service.request_activation(jen, "SQL admins")
    assert service.purge_requests() == 1
    assert service.get_requests() == [recent]


def test_a_naive_clock_is_refused(store: Store) -> None:
    """A clock that returns naive datetimes is reported, not silently read as UTC."""
    service = PamService(store=store, clock=lambda: dt.datetime(2024, 5, 6, 9, 0))
    with pytest.raises(InvalidValueError, match="aware datetime"):
        service.now()


def test_constructor_options_are_checked() -> None:
    """Bad constructor options raise InvalidValueError naming the option."""
    for options, field in [
        ({"default_country_code": 0}, "default_country_code"),
        ({"mfa_timeout": 0}, "mfa_timeout"),
        ({"allow_self_approval": 1}, "allow_self_approval"),
        ({"config": {}}, "config"),
        ({"clock": "now"}, "clock"),
    ]:
        with pytest.raises(InvalidValueError) as caught:
            PamService(**options)  # type: ignore[arg-type]
        assert caught.value.field == field


class RecordingStore:
    """A store that checks every update is a compare-and-set from the stored status."""

    def __init__(self, inner: Store, fail_next: int = 0) -> None:
        self.inner = inner
        self.updates: list[tuple[RequestStatus, RequestStatus]] = []
        self.fail_next = fail_next

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def update_request(self, request: ActivationRequest, *, expected_status: RequestStatus) -> None:
        stored = self.inner.get_request(request.request_id)
        assert stored.status is expected_status
        if self.fail_next:
            # Another writer "got there first" without changing anything: retrying must work.
            self.fail_next -= 1
            raise ConcurrentUpdateError("simulated conflict")
        self.inner.update_request(request, expected_status=expected_status)
        self.updates.append((expected_status, request.status))


def test_every_change_is_a_compare_and_set_from_the_old_status(store: Store, clock: Clock) -> None:
    """Each status change calls update_request with the status it read, and retries conflicts."""
    recording = RecordingStore(store, fail_next=1)
    service = PamService(store=recording, clock=clock)  # type: ignore[arg-type]
    jen = service.new_user("CONTOSO", "jen")
    bob = service.new_user("CONTOSO", "bob")
    service.new_role("A", candidates=[jen], approvers=[bob], approval_enabled=True)
    service.new_role("B", candidates=[jen])
    request = service.request_activation(jen, "A", requested_time=T0 + HOUR)
    service.approve(request, bob)
    clock.advance(HOUR)
    service.start_due()
    clock.advance(HOUR)
    service.expire_due()
    other = service.request_activation(jen, "B")
    service.close(other)
    assert recording.updates == [
        (RequestStatus.PENDING_APPROVAL, RequestStatus.SCHEDULED),
        (RequestStatus.SCHEDULED, RequestStatus.ACTIVE),
        (RequestStatus.ACTIVE, RequestStatus.EXPIRED),
        (RequestStatus.ACTIVE, RequestStatus.CLOSED),
    ]
    assert len(service.events.query(event_id=EventId.REQUEST_APPROVED)) == 1


def test_events_carry_ids_level_and_source(service: PamService, jen: User) -> None:
    """Lifecycle events use pyampam's own ids, level Information, and name user and role."""
    role = service.new_role("SQL admins", candidates=[jen])
    request = service.request_activation(jen, role)
    events = service.events.query(request=request)
    assert [event.event_id for event in events] == [60100, 60104]
    for event in events:
        assert event.level is EventLevel.INFORMATION
        assert event.source == "pyampam"
        assert event.user_id == jen.object_id
        assert event.role_id == role.role_id
        assert event.role_name == "SQL admins"
        assert event.time == T0
    assert events[1].extra["expiration_time"] == (T0 + HOUR).isoformat()


def test_a_given_event_log_is_used(store: Store, clock: Clock) -> None:
    """Events go to the EventLog passed in."""
    log = EventLog()
    service = PamService(store=store, clock=clock, event_log=log)
    jen = service.new_user("CONTOSO", "jen")
    service.new_role("SQL admins", candidates=[jen])
    service.request_activation(jen, "SQL admins")
    assert service.events is log
    assert len(log) == 2


def test_unset_is_a_falsy_marker() -> None:
    """UNSET reads as UNSET and is false, so it never passes for a value."""
    assert repr(UNSET) == "UNSET"
    assert not UNSET


def test_wait_is_ignored_for_roles_without_mfa(service: PamService, jen: User) -> None:
    """A role without MFA has no call to wait for: wait=False changes nothing."""
    service.new_role("SQL admins", candidates=[jen])
    assert service.request_activation(jen, "SQL admins", wait=False).status is (
        RequestStatus.ACTIVE
    )
    assert service.get_roles(candidate=jen, display_name="sql admins")[0].display_name == (
        "SQL admins"
    )
    assert service.get_roles(candidate=jen, display_name="other") == []
