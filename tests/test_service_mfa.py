"""PamService's MFA gate: the call, its outcome, events 101 and 103, waiting in the background."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pyampam import PhoneNumber, RequestStatus, User
from pyampam.activation import PamService
from pyampam.events import EventId, EventLevel, PamEvent
from pyampam.exceptions import (
    ConnectionFailedError,
    InvalidTransitionError,
    InvalidValueError,
    MfaTimeoutError,
    NoMfaProviderError,
    PamError,
    ProviderResponseError,
)
from pyampam.providers import (
    AuthMode,
    CallHandle,
    CallResult,
    CallStatus,
    MfaChallenge,
    MfaResult,
    Pin,
)
from pyampam.store import MemoryStore, SqliteStore, Store
from pyampam.testing import FakeProvider, ManualClock

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
SECRET_PIN = "73914682"


class Clock:
    """A settable clock for the service: it moves only when a test says so."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Store]:
    opened: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "pam.db")
    yield opened
    opened.close()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def service(store: Store, provider: FakeProvider) -> Iterator[PamService]:
    with PamService(store=store, provider=provider, clock=Clock()) as pam:
        yield pam


@pytest.fixture
def jen(service: PamService) -> User:
    return service.new_user("CONTOSO", "jen", phone="+1 4255550100", pin=SECRET_PIN)


@pytest.fixture
def bob(service: PamService) -> User:
    return service.new_user("CONTOSO", "bob", phone="+1 4255550101")


def mfa_role(service: PamService, *candidates: User, approvers: tuple[User, ...] = ()) -> None:
    """Create role 'SQL admins' needing MFA (and approval when approvers are given)."""
    service.new_role(
        "SQL admins",
        candidates=candidates,
        approvers=approvers,
        privileges=["SQL"],
        mfa_enabled=True,
        approval_enabled=bool(approvers),
    )


def ids(events: list[PamEvent]) -> list[int]:
    return [int(event.event_id) for event in events]


# -- without a provider ---------------------------------------------------------------------


def test_an_mfa_role_without_provider_raises_no_mfa_provider(store: Store) -> None:
    """Without a provider, activating an MFA role raises NoMfaProviderError; nothing is stored."""
    service = PamService(store=store)
    jen = service.new_user("CONTOSO", "jen", phone="+1 4255550100")
    mfa_role(service, jen)
    with pytest.raises(NoMfaProviderError, match=r"'SQL admins'.*provider="):
        service.request_activation(jen, "SQL admins")
    assert service.get_requests() == []
    assert len(service.events) == 0
    service.new_role("Plain", candidates=[jen])
    assert service.request_activation(jen, "Plain").status is RequestStatus.ACTIVE


# -- the call -------------------------------------------------------------------------------


def test_a_completed_call_activates_and_records_103(
    service: PamService, provider: FakeProvider, jen: User
) -> None:
    """A successful call makes the request Active and records event 103 once, then activation."""
    mfa_role(service, jen)
    request = service.request_activation(jen, "SQL admins")
    assert request.status is RequestStatus.ACTIVE
    assert request.status_reason == "MFA completed"
    [call] = provider.calls
    assert request.mfa_call_id == call.call_id
    assert service.privileges_of(jen) == {"SQL"}
    events = service.events.query(request=request)
    assert ids(events) == [60100, 103, 60104]
    completed = events[1]
    assert completed.level is EventLevel.INFORMATION
    assert completed.source == "MIM Service"
    assert completed.message.startswith("User completed Azure MFA during activation")
    assert completed.call_result == "SUCCESS_NO_PIN"
    assert completed.extra["call_id"] == call.call_id
    assert completed.user_id == jen.object_id


def test_the_call_goes_to_the_object_guid_and_stored_phone(
    service: PamService, provider: FakeProvider, jen: User
) -> None:
    """The wire user name is the user's object GUID; the phone is the stored number; no PIN."""
    mfa_role(service, jen)
    service.request_activation(jen, "SQL admins")
    provider.assert_called_once_with_user(str(jen.object_id))
    provider.assert_called_with_phone(PhoneNumber.parse("+1 4255550100"))
    [challenge] = provider.challenges
    assert challenge.mode is AuthMode.STANDARD
    assert challenge.pin is None


def test_pin_mode_sends_the_users_pin(store: Store) -> None:
    """In PIN mode the user's stored PIN travels with the challenge."""
    provider = FakeProvider(CallResult.SUCCESS_WITH_PIN)
    with PamService(store=store, provider=provider, clock=Clock(), mfa_mode=AuthMode.PIN) as pam:
        jen = pam.new_user("CONTOSO", "jen", phone="+1 4255550100", pin=SECRET_PIN)
        mfa_role(pam, jen)
        assert pam.request_activation(jen, "SQL admins").status is RequestStatus.ACTIVE
        [challenge] = provider.challenges
        assert challenge.mode is AuthMode.PIN
        assert challenge.pin == Pin.plain(SECRET_PIN)


def test_pin_mode_without_a_stored_pin_fails_before_calling(store: Store) -> None:
    """A PIN-mode service refuses a user without PIN before any call or request."""
    provider = FakeProvider(CallResult.SUCCESS_WITH_PIN)
    with PamService(store=store, provider=provider, clock=Clock(), mfa_mode=AuthMode.PIN) as pam:
        jen = pam.new_user("CONTOSO", "jen", phone="+1 4255550100")
        mfa_role(pam, jen)
        with pytest.raises(PamError, match=r"CONTOSO\\jen has no PIN stored.*set_user"):
            pam.request_activation(jen, "SQL admins")
        provider.assert_not_called()
        assert pam.get_requests() == []


def test_modes_the_service_cannot_complete_are_refused() -> None:
    """One-way OTP and phone app modes need input the service does not have."""
    for mode in (AuthMode.SMS_ONE_WAY_OTP, AuthMode.PHONE_APP_STANDARD):
        with pytest.raises(InvalidValueError, match=mode.value) as caught:
            PamService(provider=FakeProvider(), mfa_mode=mode)
        assert caught.value.field == "mfa_mode"


def test_a_denied_call_rejects_and_records_101(
    service: PamService, provider: FakeProvider, jen: User
) -> None:
    """A call the user did not complete rejects the request with the failure message, event 101."""
    mfa_role(service, jen)
    provider.script(str(jen.object_id), CallResult.FAILED_USER_HUNGUP_ON_US)
    request = service.request_activation(jen, "SQL admins")
    assert request.status is RequestStatus.REJECTED
    assert request.status_reason == provider.failure_message(request.mfa_call_id or "")
    assert "FAILED_USER_HUNGUP_ON_US" in request.status_reason
    assert request.activation_time is None
    assert service.privileges_of(jen) == frozenset()
    events = service.events.query(request=request)
    assert ids(events) == [60100, 101, 60103]
    failed = events[1]
    assert failed.level is EventLevel.ERROR
    assert failed.source == "MIM Service"
    assert failed.call_result == "FAILED_USER_HUNGUP_ON_US"
    assert failed.message.startswith("User did not complete Azure MFA")
    assert request.status_reason in failed.message
    assert failed.extra["call_id"] == request.mfa_call_id


def test_a_provider_error_rejects_and_records_101(
    service: PamService, provider: FakeProvider, jen: User
) -> None:
    """A call the provider could not complete rejects the request with the error's message."""
    mfa_role(service, jen)
    provider.script(str(jen.object_id), ConnectionFailedError("no endpoint answered"))
    request = service.request_activation(jen, "SQL admins")
    assert request.status is RequestStatus.REJECTED
    assert request.status_reason == "no endpoint answered"
    [failed] = service.events.query(event_id=EventId.MFA_NOT_COMPLETED)
    assert "no endpoint answered" in failed.message
    assert failed.call_result is None


class RefusingProvider(FakeProvider):
    """A provider whose initiate fails, as a client whose servers are all down."""

    def initiate(self, challenge: MfaChallenge) -> CallHandle:
        raise ConnectionFailedError("every endpoint refused the connection", call_id="c-9")


class BrokenProvider(FakeProvider):
    """A provider with a bug: result() raises something that is not a ProviderError."""

    def result(self, call_id: str) -> MfaResult:
        raise RuntimeError(f"boom {SECRET_PIN}")


def test_a_call_that_cannot_start_rejects_the_request(store: Store) -> None:
    """initiate failing with a ProviderError still stores the request, Rejected, with 101."""
    with PamService(store=store, provider=RefusingProvider(), clock=Clock()) as pam:
        jen = pam.new_user("CONTOSO", "jen", phone="+1 4255550100")
        mfa_role(pam, jen)
        request = pam.request_activation(jen, "SQL admins", wait=False)
        assert request.status is RequestStatus.REJECTED
        assert request.mfa_call_id == "c-9"
        assert request.status_reason == "every endpoint refused the connection"
        assert ids(pam.events.query(request=request)) == [60100, 101, 60103]


def test_a_provider_bug_fails_the_gate_without_leaking_its_text(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A foreign exception from the provider rejects the request, naming only its type."""
    with PamService(store=store, provider=BrokenProvider(), clock=Clock()) as pam:
        jen = pam.new_user("CONTOSO", "jen", phone="+1 4255550100")
        mfa_role(pam, jen)
        with caplog.at_level(logging.DEBUG):
            request = pam.wait_for(pam.request_activation(jen, "SQL admins", wait=False))
        assert request.status is RequestStatus.REJECTED
        assert "RuntimeError" in request.status_reason
        assert SECRET_PIN not in request.status_reason
        assert SECRET_PIN not in caplog.text
        assert ids(pam.events.query(request=request)) == [60100, 101, 60103]


def test_mfa_comes_before_approval(
    service: PamService, provider: FakeProvider, jen: User, bob: User
) -> None:
    """With both checks: PendingMFA, then 103 and PendingApproval, then approval activates."""
    mfa_role(service, jen, approvers=(bob,))
    request = service.request_activation(jen, "SQL admins")
    assert request.status is RequestStatus.PENDING_APPROVAL
    assert ids(service.events.query(request=request)) == [60100, 103]
    assert service.requests_to_approve(bob) == [request]
    approved = service.approve(request, bob)
    assert approved.status is RequestStatus.ACTIVE
    assert ids(service.events.query(request=request)) == [60100, 103, 60102, 60104]

    provider.script(str(jen.object_id), CallResult.FAILED_PHONE_APP_DENIED)
    denied = service.request_activation(jen, "SQL admins")
    assert denied.status is RequestStatus.REJECTED
    assert service.requests_to_approve(bob) == []
    with pytest.raises(InvalidTransitionError, match="it is Rejected"):
        service.approve(denied, bob)


def test_a_later_start_is_scheduled_after_mfa(service: PamService, jen: User) -> None:
    """Passing MFA for a request with a future start makes it Scheduled."""
    mfa_role(service, jen)
    request = service.request_activation(jen, "SQL admins", requested_time=T0 + HOUR)
    assert request.status is RequestStatus.SCHEDULED
    assert ids(service.events.query(request=request)) == [60100, 103, 60101]


# -- waiting ----------------------------------------------------------------------------------


@pytest.fixture
def call_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def slow_service(store: Store, call_clock: ManualClock) -> Iterator[PamService]:
    """A service whose calls finish only when call_clock is advanced by a second."""
    provider = FakeProvider(latency=1.0, clock=call_clock)
    with PamService(store=store, provider=provider, clock=Clock()) as pam:
        yield pam


def test_wait_false_returns_pending_and_wait_for_gets_the_outcome(
    slow_service: PamService, call_clock: ManualClock
) -> None:
    """wait=False returns PendingMFA at once; the service stays usable; wait_for blocks."""
    service = slow_service
    jen = service.new_user("CONTOSO", "jen", phone="+1 4255550100")
    mfa_role(service, jen)
    request = service.request_activation(jen, "SQL admins", wait=False)
    assert request.status is RequestStatus.PENDING_MFA
    assert request.mfa_call_id is not None
    assert request.expiration_time is None
    # The call is running: everything else keeps working meanwhile.
    bob = service.new_user("CONTOSO", "bob", phone="+1 4255550101")
    service.new_role("Plain", candidates=[bob])
    assert service.request_activation(bob, "Plain").status is RequestStatus.ACTIVE
    assert service.get_request(request).status is RequestStatus.PENDING_MFA
    assert service.privileges_of(jen) == frozenset()
    with pytest.raises(MfaTimeoutError, match="still PendingMFA") as caught:
        service.wait_for(request, timeout=0.05)
    assert caught.value.call_id == request.mfa_call_id
    call_clock.advance(1.0)
    done = service.wait_for(request, timeout=10)
    assert done.status is RequestStatus.ACTIVE
    assert service.wait_for(request) == done
    assert ids(service.events.query(request=request)) == [60100, 103, 60104]


def test_a_call_slower_than_the_timeout_fails_the_gate(
    service: PamService, provider: FakeProvider, jen: User
) -> None:
    """A call not finished within timeout seconds rejects the request with 101."""
    mfa_role(service, jen)
    provider.script(str(jen.object_id), CallResult.SUCCESS_NO_PIN, latency=math.inf)
    request = service.request_activation(jen, "SQL admins", timeout=0.1)
    assert request.status is RequestStatus.REJECTED
    assert "had not finished after 0.1 s" in request.status_reason
    assert ids(service.events.query(request=request)) == [60100, 101, 60103]


def test_closing_a_pending_mfa_request_abandons_the_call(
    slow_service: PamService, call_clock: ManualClock
) -> None:
    """Closing while the call runs: Closed, no MFA event, never activated even if answered."""
    service = slow_service
    jen = service.new_user("CONTOSO", "jen", phone="+1 4255550100")
    mfa_role(service, jen)
    request = service.request_activation(jen, "SQL admins", wait=False)
    closed = service.close(request)
    assert closed.status is RequestStatus.CLOSED
    assert service.wait_for(request, timeout=10).status is RequestStatus.CLOSED
    call_clock.advance(1.0)
    assert service.get_request(request).status is RequestStatus.CLOSED
    assert ids(service.events.query(request=request)) == [60100, 60105]
    assert service.privileges_of(jen) == frozenset()


def test_shutdown_fails_the_gates_still_waiting(store: Store) -> None:
    """shutdown rejects requests whose call is still running (101), then refuses new calls."""
    provider = FakeProvider(latency=math.inf)
    service = PamService(store=store, provider=provider, clock=Clock())
    jen = service.new_user("CONTOSO", "jen", phone="+1 4255550100")
    mfa_role(service, jen)
    request = service.request_activation(jen, "SQL admins", wait=False)
    service.shutdown()
    ended = service.get_request(request)
    assert ended.status is RequestStatus.REJECTED
    assert "shut down" in ended.status_reason
    assert ids(service.events.query(request=request)) == [60100, 101, 60103]
    with pytest.raises(PamError, match="shut down"):
        service.request_activation(jen, "SQL admins")
    service.shutdown()
    service.new_role("Plain", candidates=[jen])
    assert service.request_activation(jen, "Plain").status is RequestStatus.ACTIVE


class WaitWatchingProvider(FakeProvider):
    """A FakeProvider that notes which calls someone is waiting on."""

    def __init__(self, expected: int, **options: Any) -> None:
        super().__init__(**options)
        self._expected = expected
        self._waited_on: set[str] = set()
        self._watch_lock = threading.Lock()
        self.all_waited_on = threading.Event()

    @property
    def waited_on(self) -> int:
        with self._watch_lock:
            return len(self._waited_on)

    def wait(self, call_id: str, timeout: float | None) -> CallStatus:
        with self._watch_lock:
            self._waited_on.add(call_id)
            if len(self._waited_on) >= self._expected:
                self.all_waited_on.set()
        return super().wait(call_id, timeout)


def test_many_activations_wait_on_their_calls_at_once(store: Store) -> None:
    """200 wait=False activations are all waited on at once, then all finish."""
    clock = ManualClock()
    provider = WaitWatchingProvider(200, latency=1.0, clock=clock)
    with PamService(store=store, provider=provider, clock=Clock()) as service:
        users = [
            service.new_user("CONTOSO", f"user{n}", phone=f"+1 42555{n:05d}") for n in range(200)
        ]
        mfa_role(service, *users)
        requests = [
            service.request_activation(user, "SQL admins", wait=False, timeout=600)
            for user in users
        ]
        assert {request.status for request in requests} == {RequestStatus.PENDING_MFA}
        # No call can finish before the clock moves, so waits taken one after another would
        # never get past the first call (until its 600 s timeout): all 200 being waited on
        # while none has finished shows the waits overlap. The 60 s only guards a failure.
        assert provider.all_waited_on.wait(60), f"{provider.waited_on} of 200 calls waited on"
        clock.advance(1.0)
        done = [service.wait_for(request, timeout=30) for request in requests]
    assert {request.status for request in done} == {RequestStatus.ACTIVE}
    assert len(service.events.query(event_id=EventId.MFA_COMPLETED)) == 200
    assert len(service.events.query(event_id=EventId.REQUEST_ACTIVATED)) == 200
    assert len({request.mfa_call_id for request in done}) == 200


def test_wait_for_a_request_without_a_call_returns_it(service: PamService, jen: User) -> None:
    """wait_for on a request with no running call returns the stored request at once."""
    service.new_role("Plain", candidates=[jen])
    request = service.request_activation(jen, "Plain")
    assert service.wait_for(request.request_id, timeout=0.01) == request
    with pytest.raises(InvalidValueError, match="timeout"):
        service.wait_for(request, timeout=-1)


# -- secrets ----------------------------------------------------------------------------------


def test_the_pin_never_leaves_the_challenge(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """Through success, denial and errors, the PIN appears in no event, log, reason or error."""
    provider = FakeProvider(CallResult.SUCCESS_WITH_PIN)
    texts: list[str] = []
    with (
        caplog.at_level(logging.DEBUG),
        PamService(store=store, provider=provider, clock=Clock(), mfa_mode=AuthMode.PIN) as pam,
    ):
        jen = pam.new_user("CONTOSO", "jen", phone="+1 4255550100", pin=SECRET_PIN)
        nopin = pam.new_user("CONTOSO", "nopin", phone="+1 4255550101")
        mfa_role(pam, jen, nopin)
        username = str(jen.object_id)
        provider.script(username, CallResult.FAILED_SMS_OTP_PIN_INCORRECT)
        provider.script(username, ProviderResponseError("the answer was HTML", status_code=500))
        provider.script(username, CallResult.SUCCESS_NO_PIN)
        for _ in range(4):
            request = pam.request_activation(jen, "SQL admins", wait=False)
            texts.append(repr(pam.wait_for(request, timeout=10)))
        try:
            pam.request_activation(nopin, "SQL admins")
        except PamError as error:
            texts.append(str(error))
        texts.extend(json.dumps(event.to_dict()) for event in pam.events)
        texts.append(repr(pam.get_user(jen)))
        texts.append(repr(provider.challenges))
    texts.append(caplog.text)
    statuses = [request.status for request in pam.get_requests(jen)]
    assert statuses.count(RequestStatus.ACTIVE) == 1
    assert statuses.count(RequestStatus.REJECTED) == 3
    assert provider.challenges[0].pin == Pin.plain(SECRET_PIN)
    for text in texts:
        assert SECRET_PIN not in text


def test_a_status_pending_call_handle_is_waited_on(store: Store) -> None:
    """The gate polls a provider without wait() until the call leaves Pending."""

    class PollingProvider:
        """A provider without wait(): Pending for three status() calls, then Success."""

        def __init__(self) -> None:
            self.polls = 0
            self.lock = threading.Lock()

        def initiate(self, challenge: MfaChallenge) -> CallHandle:
            return CallHandle("poll-1", CallStatus.PENDING)

        def status(self, call_id: str) -> CallStatus:
            with self.lock:
                self.polls += 1
                return CallStatus.PENDING if self.polls < 3 else CallStatus.SUCCESS

        def failure_message(self, call_id: str) -> str:
            return ""

        def result(self, call_id: str) -> MfaResult:
            return MfaResult(True, call_id, call_result=CallResult.SUCCESS_NO_PIN)

    polling = PollingProvider()
    with PamService(store=store, provider=polling, clock=Clock()) as pam:
        jen = pam.new_user("CONTOSO", "jen", phone="+1 4255550100")
        mfa_role(pam, jen)
        request = pam.request_activation(jen, "SQL admins")
    assert request.status is RequestStatus.ACTIVE
    assert request.mfa_call_id == "poll-1"
    assert polling.polls == 3


def test_the_gate_reads_the_role_as_it_is_when_passed(
    slow_service: PamService, call_clock: ManualClock
) -> None:
    """Approval turned off while the call runs: the request is Active right after MFA."""
    service = slow_service
    jen = service.new_user("CONTOSO", "jen", phone="+1 4255550100")
    bob = service.new_user("CONTOSO", "bob", phone="+1 4255550101")
    mfa_role(service, jen, approvers=(bob,))
    request = service.request_activation(jen, "SQL admins", wait=False)
    service.set_role("SQL admins", approval_enabled=False)
    call_clock.advance(1.0)
    assert service.wait_for(request, timeout=10).status is RequestStatus.ACTIVE
    assert ids(service.events.query(request=request)) == [60100, 103, 60104]


def test_a_role_removed_behind_the_services_back_fails_the_gate(
    slow_service: PamService, call_clock: ManualClock
) -> None:
    """If the role vanished from the store during the call, the request is Rejected."""
    service = slow_service
    jen = service.new_user("CONTOSO", "jen", phone="+1 4255550100")
    mfa_role(service, jen)
    request = service.request_activation(jen, "SQL admins", wait=False)
    service.store.remove_role(request.role_id)
    call_clock.advance(1.0)
    done = service.wait_for(request, timeout=10)
    assert done.status is RequestStatus.REJECTED
    assert done.status_reason == "MFA completed, but the role no longer exists"


def test_wait_and_timeout_arguments_are_checked(service: PamService, jen: User) -> None:
    """wait must be a bool and timeout a positive number of seconds."""
    mfa_role(service, jen)
    with pytest.raises(InvalidValueError, match="timeout") as caught:
        service.request_activation(jen, "SQL admins", timeout=0)
    assert caught.value.field == "timeout"
    with pytest.raises(InvalidValueError, match="wait"):
        service.request_activation(jen, "SQL admins", wait="no")  # type: ignore[arg-type]
    assert service.get_requests() == []
    assert service.mfa_mode is AuthMode.STANDARD
