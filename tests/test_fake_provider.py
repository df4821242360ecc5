"""The FakeProvider test double: scripting, outcome rules, latency, clocks, records, threads."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time

import pytest

from pyampam._phone import PhoneNumber
from pyampam.exceptions import (
    CallPendingError,
    ConnectionFailedError,
    DeliveryUncertainError,
    InvalidValueError,
    MfaCancelledError,
    MfaTimeoutError,
    ProviderResponseError,
    ProviderTimeoutError,
    UnknownCallError,
)
from pyampam.providers._protocol import MfaProvider, SupportsWait
from pyampam.providers._types import (
    AuthMode,
    CallHandle,
    CallResult,
    CallStatus,
    MfaChallenge,
    MfaResult,
    Pin,
)
from pyampam.testing._fake import FakeCall, FakeProvider, ManualClock

PHONE = PhoneNumber.parse("+1 4255550100")
OTHER_PHONE = PhoneNumber.parse("+44 20 7946 0958")
SECRET_PIN = "93817264"
SECRET_TOKEN = "device-token-SECRET-5150"


def challenge(
    username: str = "alice",
    *,
    mode: AuthMode = AuthMode.STANDARD,
    phone: PhoneNumber = PHONE,
) -> MfaChallenge:
    """A challenge for `username` with whatever extras `mode` needs."""
    pin = Pin.plain(SECRET_PIN) if mode.needs_pin else None
    token = SECRET_TOKEN if mode.is_phone_app else None
    return MfaChallenge(username, phone, mode=mode, pin=pin, device_token=token)


def finished(fake: FakeProvider, item: MfaChallenge) -> tuple[CallHandle, MfaResult]:
    """Initiate a call that finishes at once and return its handle and result."""
    handle = fake.initiate(item)
    assert handle.status is not CallStatus.PENDING
    return handle, fake.result(handle.call_id)


# -- the protocol ----------------------------------------------------------------------------


def test_is_a_provider_that_supports_wait() -> None:
    """FakeProvider satisfies MfaProvider and SupportsWait."""
    fake = FakeProvider()
    assert isinstance(fake, MfaProvider)
    assert isinstance(fake, SupportsWait)


def test_default_authenticates_a_standard_call_at_once() -> None:
    """With no latency, a default call is finished when initiate returns, and authenticated."""
    fake = FakeProvider()
    handle, result = finished(fake, challenge())
    assert handle == CallHandle("fake-1", CallStatus.SUCCESS)
    assert fake.status("fake-1") is CallStatus.SUCCESS
    assert result.authenticated
    assert result.request_id == "fake-1"
    assert result.call_result is CallResult.SUCCESS_NO_PIN
    assert result.otp is None
    assert fake.failure_message("fake-1") == ""


def test_call_ids_count_up_deterministically() -> None:
    """Call ids are fake-1, fake-2, ... in order of initiation, the same in every fake."""
    for _ in range(2):
        fake = FakeProvider()
        ids = [fake.initiate(challenge()).call_id for _ in range(3)]
        assert ids == ["fake-1", "fake-2", "fake-3"]


def test_initiate_rejects_what_is_not_a_challenge() -> None:
    """initiate() takes only an MfaChallenge."""
    with pytest.raises(InvalidValueError, match="MfaChallenge"):
        FakeProvider().initiate("alice")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["status", "result", "failure_message"])
def test_unknown_call_id(method: str) -> None:
    """Every per-call method raises UnknownCallError for an id never issued."""
    fake = FakeProvider()
    fake.initiate(challenge())
    with pytest.raises(UnknownCallError, match="fake-99") as caught:
        getattr(fake, method)("fake-99")
    assert caught.value.call_id == "fake-99"


def test_wait_on_unknown_call_id() -> None:
    """wait() raises UnknownCallError for an id never issued."""
    with pytest.raises(UnknownCallError):
        FakeProvider().wait("fake-1", 0)


def test_result_and_failure_message_while_pending() -> None:
    """result() and failure_message() raise CallPendingError until the call finishes."""
    clock = ManualClock()
    fake = FakeProvider(CallResult.FAILED_USER_HUNGUP_ON_US, latency=5, clock=clock)
    handle = fake.initiate(challenge())
    assert handle == CallHandle("fake-1", CallStatus.PENDING)
    with pytest.raises(CallPendingError, match="fake-1"):
        fake.result("fake-1")
    with pytest.raises(CallPendingError):
        fake.failure_message("fake-1")
    clock.advance(5)
    assert fake.status("fake-1") is CallStatus.FAILED
    assert "hung up" in fake.failure_message("fake-1")


# -- outcome rules ----------------------------------------------------------------------------

ONE_WAY_SMS = (AuthMode.SMS_ONE_WAY_OTP, AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN)
TWO_WAY_SMS = (AuthMode.SMS_TWO_WAY_OTP, AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN)
PHONE_APP = (AuthMode.PHONE_APP_STANDARD, AuthMode.PHONE_APP_PIN)
PIN_MODES = tuple(mode for mode in AuthMode if mode.needs_pin)

EXPECTED_MODES: dict[CallResult, tuple[AuthMode, ...]] = {
    CallResult.SUCCESS_WITH_PIN: PIN_MODES,
    CallResult.SUCCESS_NO_PIN: (
        AuthMode.STANDARD,
        AuthMode.VOICEPRINT,
        AuthMode.SMS_TWO_WAY_OTP,
        AuthMode.PHONE_APP_STANDARD,
    ),
    CallResult.SUCCESS_SMS_SENT: ONE_WAY_SMS,
    CallResult.SUCCESS_SMS_AUTHENTICATED: TWO_WAY_SMS,
    CallResult.SUCCESS_PHONE_APP_AUTHENTICATED: PHONE_APP,
}


def expected_authenticated(outcome: CallResult, mode: AuthMode) -> bool:
    """The rule written out independently of the fake's code."""
    if not outcome.can_authenticate:
        return False
    return mode in EXPECTED_MODES.get(outcome, tuple(AuthMode))


@pytest.mark.parametrize("mode", list(AuthMode), ids=lambda mode: mode.value)
@pytest.mark.parametrize("outcome", list(CallResult), ids=lambda outcome: outcome.value)
def test_call_result_rules(outcome: CallResult, mode: AuthMode) -> None:
    """Each CallResult authenticates exactly in the modes the domain rules allow."""
    fake = FakeProvider(outcome)
    handle, result = finished(fake, challenge(mode=mode))
    wanted = expected_authenticated(outcome, mode)
    assert result.authenticated is wanted
    assert result.call_result is outcome
    assert handle.status is (CallStatus.SUCCESS if wanted else CallStatus.FAILED)
    if wanted:
        assert fake.failure_message(handle.call_id) == ""
    else:
        message = fake.failure_message(handle.call_id)
        assert outcome.description in message
        assert outcome.value in message


def test_no_pin_is_denied_in_pin_mode_and_says_why() -> None:
    """SUCCESS_NO_PIN in PIN mode is a denial whose message names the mode."""
    fake = FakeProvider()
    handle, result = finished(fake, challenge(mode=AuthMode.PIN))
    assert not result.authenticated
    assert "'pin' mode" in fake.failure_message(handle.call_id)
    assert result.message == fake.failure_message(handle.call_id)


def test_sms_sent_gives_a_deterministic_otp_in_one_way_sms() -> None:
    """SUCCESS_SMS_SENT carries a six-digit passcode, the same for the same call id."""
    results = [
        finished(
            FakeProvider(CallResult.SUCCESS_SMS_SENT), challenge(mode=AuthMode.SMS_ONE_WAY_OTP)
        )[1]
        for _ in range(2)
    ]
    otp = results[0].otp
    assert otp is not None
    assert len(otp) == 6
    assert otp.isdigit()
    assert results[1].otp == otp
    fake = FakeProvider(CallResult.SUCCESS_SMS_SENT)
    otps = {
        fake.result(fake.initiate(challenge(mode=AuthMode.SMS_ONE_WAY_OTP)).call_id).otp
        for _ in range(20)
    }
    assert len(otps) > 1


def test_only_sms_sent_carries_an_otp() -> None:
    """Other outcomes leave otp unset."""
    _, result = finished(
        FakeProvider(CallResult.SUCCESS_BYPASSED_AUTH), challenge(mode=AuthMode.SMS_ONE_WAY_OTP)
    )
    assert result.authenticated
    assert result.otp is None


def test_mfa_result_is_used_as_given_with_the_call_id() -> None:
    """A scripted MfaResult comes back unchanged but for request_id."""
    given = MfaResult(False, "ignored", call_status=7, error_id=3, message="blocked by policy")
    fake = FakeProvider(given)
    handle, result = finished(fake, challenge())
    assert result == MfaResult(
        False, "fake-1", call_status=7, error_id=3, message="blocked by policy"
    )
    assert handle.status is CallStatus.FAILED
    assert fake.failure_message("fake-1") == "blocked by policy"


def test_mfa_result_denial_without_message_still_explains() -> None:
    """A denial scripted with no message gets a non-empty failure message."""
    fake = FakeProvider(MfaResult(False, ""))
    handle, _ = finished(fake, challenge())
    assert "did not authenticate" in fake.failure_message(handle.call_id)


def test_provider_error_ends_the_call_and_is_re_raised() -> None:
    """A scripted ProviderError makes the call FAILED and result() raise it with the call id."""
    error = ConnectionFailedError("no endpoint answered", endpoint="https://pfd.example")
    fake = FakeProvider(error)
    handle = fake.initiate(challenge())
    assert handle == CallHandle("fake-1", CallStatus.FAILED)
    assert fake.failure_message("fake-1") == "no endpoint answered"
    with pytest.raises(ConnectionFailedError, match="no endpoint answered") as first:
        fake.result("fake-1")
    with pytest.raises(ConnectionFailedError) as second:
        fake.result("fake-1")
    assert first.value.call_id == "fake-1"
    assert first.value.endpoint == "https://pfd.example"
    assert first.value is not second.value
    assert error.call_id is None, "the scripted instance must not be changed"


def test_provider_error_subclass_fields_survive() -> None:
    """A ProviderResponseError keeps its status code when re-raised."""
    fake = FakeProvider(ProviderResponseError("HTML instead of XML", status_code=502))
    handle = fake.initiate(challenge())
    with pytest.raises(ProviderResponseError) as caught:
        fake.result(handle.call_id)
    assert caught.value.status_code == 502


def test_callable_outcome_sees_the_challenge() -> None:
    """A function outcome is called with the challenge and its answer used."""
    seen: list[MfaChallenge] = []

    def decide(item: MfaChallenge) -> CallResult:
        seen.append(item)
        return (
            CallResult.SUCCESS_NO_PIN
            if item.username == "alice"
            else CallResult.FAILED_FRAUD_REPORTED
        )

    fake = FakeProvider(decide)
    assert finished(fake, challenge("alice"))[1].authenticated
    assert not finished(fake, challenge("bob"))[1].authenticated
    assert [item.username for item in seen] == ["alice", "bob"]
    assert fake.calls[1].outcome is CallResult.FAILED_FRAUD_REPORTED


def test_callable_outcome_may_raise_a_provider_error() -> None:
    """A function that raises a ProviderError ends the call with that error."""

    def explode(item: MfaChallenge) -> CallResult:
        raise ProviderTimeoutError("no answer in 90 s")

    fake = FakeProvider(explode)
    handle = fake.initiate(challenge())
    assert handle.status is CallStatus.FAILED
    with pytest.raises(ProviderTimeoutError):
        fake.result(handle.call_id)
    with pytest.raises(DeliveryUncertainError):
        fake.authenticate(challenge())


def test_callable_outcome_returning_nonsense_is_reported() -> None:
    """A function returning something that is not an outcome fails initiate() clearly."""
    fake = FakeProvider(lambda item: "yes")  # type: ignore[arg-type,return-value]
    with pytest.raises(InvalidValueError, match="must return a CallResult"):
        fake.initiate(challenge())


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("SUCCESS_NO_PIN", "must be a CallResult"),
        (RuntimeError("boom"), "only ProviderError subclasses"),
        (ConnectionFailedError, "pass an instance"),
        (None, "must be a CallResult"),
    ],
)
def test_invalid_outcomes_are_refused(bad: object, hint: str) -> None:
    """Outcomes that are not CallResult, MfaResult, ProviderError or a function are refused."""
    with pytest.raises(InvalidValueError, match=hint):
        FakeProvider(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=hint):
        FakeProvider().script("alice", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("latency", [-1, float("nan"), "1", True])
def test_invalid_latency_is_refused(latency: object) -> None:
    """latency must be a number of seconds, 0 or more."""
    with pytest.raises(InvalidValueError, match="latency"):
        FakeProvider(latency=latency)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="latency"):
        FakeProvider().script("alice", CallResult.SUCCESS_NO_PIN, latency=latency)  # type: ignore[arg-type]


# -- scripting --------------------------------------------------------------------------------


def test_script_queues_outcomes_for_a_user_then_falls_back_to_default() -> None:
    """Scripted outcomes are used in order for that user only, then the default applies."""
    fake = FakeProvider()
    fake.script("alice", CallResult.FAILED_PHONE_APP_DENIED, CallResult.CONFIG_ISSUE)
    fake.script("alice", CallResult.FAILED_USER_HUNGUP_ON_US)
    assert finished(fake, challenge("bob"))[1].call_result is CallResult.SUCCESS_NO_PIN
    got = [finished(fake, challenge("alice"))[1].call_result for _ in range(4)]
    assert got == [
        CallResult.FAILED_PHONE_APP_DENIED,
        CallResult.CONFIG_ISSUE,
        CallResult.FAILED_USER_HUNGUP_ON_US,
        CallResult.SUCCESS_NO_PIN,
    ]


def test_script_by_phone_number() -> None:
    """Outcomes scripted for a PhoneNumber apply to calls to that phone, whoever the user."""
    fake = FakeProvider()
    fake.script(OTHER_PHONE, CallResult.FAILED_INVALID_PHONENUMBER)
    assert finished(fake, challenge("alice"))[1].authenticated
    denied = finished(fake, challenge("bob", phone=OTHER_PHONE))[1]
    assert denied.call_result is CallResult.FAILED_INVALID_PHONENUMBER


def test_user_script_comes_before_phone_script() -> None:
    """When both the user and the phone are scripted, the user's queue is used first."""
    fake = FakeProvider()
    fake.script(PHONE, CallResult.CONFIG_ISSUE)
    fake.script("alice", CallResult.FAILED_FRAUD_REPORTED)
    assert finished(fake, challenge())[1].call_result is CallResult.FAILED_FRAUD_REPORTED
    assert finished(fake, challenge())[1].call_result is CallResult.CONFIG_ISSUE


def test_script_needs_a_key_and_outcomes() -> None:
    """script() refuses a key of the wrong type and an empty outcome list."""
    fake = FakeProvider()
    with pytest.raises(InvalidValueError, match="PhoneNumber"):
        fake.script(42, CallResult.SUCCESS_NO_PIN)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="at least one"):
        fake.script("alice")


def test_script_latency_overrides_for_those_calls_only() -> None:
    """A latency given to script() applies to the scripted calls, not the default ones."""
    clock = ManualClock()
    fake = FakeProvider(latency=1, clock=clock)
    fake.script("alice", CallResult.SUCCESS_NO_PIN, latency=10)
    slow = fake.initiate(challenge()).call_id
    normal = fake.initiate(challenge()).call_id
    clock.advance(1)
    assert fake.status(normal) is CallStatus.SUCCESS
    assert fake.status(slow) is CallStatus.PENDING
    clock.advance(9)
    assert fake.status(slow) is CallStatus.SUCCESS


# -- clocks and latency -----------------------------------------------------------------------


def test_manual_clock_finishes_calls_when_advanced_past_their_time() -> None:
    """With a ManualClock a call stays pending until the clock reaches initiation + latency."""
    clock = ManualClock(100)
    fake = FakeProvider(latency=30, clock=clock)
    handle = fake.initiate(challenge())
    assert handle.status is CallStatus.PENDING
    assert fake.calls[0].started_at == 100
    assert fake.calls[0].finishes_at == 130
    clock.advance(29.5)
    assert fake.status(handle.call_id) is CallStatus.PENDING
    assert fake.wait(handle.call_id, 0) is CallStatus.PENDING
    clock.advance(0.5)
    assert fake.status(handle.call_id) is CallStatus.SUCCESS
    assert fake.result(handle.call_id).authenticated


def test_manual_clock_basics() -> None:
    """ManualClock reads its time, moves only forward and shows its time in repr."""
    clock = ManualClock()
    assert clock() == 0
    clock.advance(2.5)
    assert clock() == 2.5
    assert repr(clock) == "ManualClock(2.5)"
    with pytest.raises(InvalidValueError, match="forward"):
        clock.advance(-1)


class WatchedClock(ManualClock):
    """A ManualClock that tells when a thread other than the test's has read it."""

    def __init__(self) -> None:
        super().__init__()
        self._test_thread = threading.get_ident()
        self.read_elsewhere = threading.Event()

    def __call__(self) -> float:
        now = super().__call__()
        # Set after the read, so whoever waits for this knows that read saw the old time.
        if threading.get_ident() != self._test_thread:
            self.read_elsewhere.set()
        return now


def test_advance_wakes_a_waiting_thread() -> None:
    """A thread blocked in wait() returns as soon as the clock is advanced past the call."""
    clock = WatchedClock()
    fake = FakeProvider(latency=60, clock=clock)
    call_id = fake.initiate(challenge()).call_id
    statuses: list[CallStatus] = []
    # No timeout: only advance() can end this wait, so it ending at all shows it was woken.
    waiter = threading.Thread(target=lambda: statuses.append(fake.wait(call_id, None)), daemon=True)
    waiter.start()
    # The waiter read the clock (0 s) inside wait(), holding the fake's lock; advance() needs
    # that lock to wake waiters, so it gets it only once the waiter is asleep in wait().
    assert clock.read_elsewhere.wait(30)
    assert statuses == []
    clock.advance(60)
    waiter.join(30)  # a guard against hanging: the waiter returns as soon as it is woken
    assert statuses == [CallStatus.SUCCESS]


def test_wait_with_manual_clock_times_out_in_real_seconds() -> None:
    """wait() returns PENDING once its real-time timeout passes if the clock did not move."""
    fake = FakeProvider(latency=1, clock=ManualClock())
    call_id = fake.initiate(challenge()).call_id
    statuses: list[CallStatus] = []
    started = time.monotonic()
    # In a thread, so a timeout read on the ManualClock (which never moves) fails the test
    # instead of hanging it.
    waiter = threading.Thread(target=lambda: statuses.append(fake.wait(call_id, 0.1)), daemon=True)
    waiter.start()
    waiter.join(30)
    assert statuses == [CallStatus.PENDING]
    assert time.monotonic() - started >= 0.09  # it does not give up before its timeout


def test_a_shared_manual_clock_drives_several_fakes() -> None:
    """One ManualClock finishes the calls of every fake that uses it."""
    clock = ManualClock()
    fakes = [FakeProvider(latency=1, clock=clock) for _ in range(3)]
    ids = [fake.initiate(challenge()).call_id for fake in fakes]
    clock.advance(1)
    assert [fake.status(call_id) for fake, call_id in zip(fakes, ids, strict=True)] == [
        CallStatus.SUCCESS
    ] * 3


def test_a_foreign_clock_is_polled() -> None:
    """With a plain callable as clock, wait() notices the clock moving without being told."""
    now = [0.0]
    # An hour on the foreign clock, which the test moves after 0.1 s of real time.
    fake = FakeProvider(latency=3600, clock=lambda: now[0])
    call_id = fake.initiate(challenge()).call_id
    timer = threading.Timer(0.1, lambda: now.__setitem__(0, 3600.0))
    timer.start()
    started = time.monotonic()
    assert fake.wait(call_id, 60) is CallStatus.SUCCESS
    # A wait that did not re-read the clock would sleep out its 60 s timeout (or the call's
    # hour, read as real seconds) and only then see the clock had moved; polled, it ends
    # within moments of the move. Half the timeout separates the two.
    assert time.monotonic() - started < 30
    timer.join()


def test_real_clock_latency_many_calls_finish_together() -> None:
    """200 calls with 1 s latency, waited on from 200 threads, all finish when their time comes.

    Each waiter must wake when its call's second is up, not when its own 60 s timeout ends.
    """
    fake = FakeProvider(latency=1.0)
    started = time.monotonic()
    ids = [fake.initiate(challenge(f"user{n}")).call_id for n in range(200)]
    statuses: dict[str, CallStatus] = {}
    lock = threading.Lock()

    def wait_for(call_id: str) -> None:
        status = fake.wait(call_id, 60)
        with lock:
            statuses[call_id] = status

    threads = [threading.Thread(target=wait_for, args=(call_id,)) for call_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    elapsed = time.monotonic() - started
    assert statuses == dict.fromkeys(ids, CallStatus.SUCCESS)
    assert elapsed >= 0.99  # no call finishes before its latency
    # Waiters sleeping out their 60 s timeout would take 60 s; woken at the call's end, about
    # 1 s. Half the timeout separates the two with room for a slow machine.
    assert elapsed < 30


def test_wait_blocks_without_spinning() -> None:
    """Waiting 0.5 s on a pending call uses almost no CPU."""
    fake = FakeProvider(latency=30)
    call_id = fake.initiate(challenge()).call_id
    cpu = time.thread_time()
    wall = time.monotonic()
    assert fake.wait(call_id, 0.5) is CallStatus.PENDING
    assert time.monotonic() - wall >= 0.45
    assert time.thread_time() - cpu < 0.05


def test_infinite_latency_never_finishes() -> None:
    """A call with latency math.inf stays pending; wait() returns PENDING after its timeout."""
    fake = FakeProvider()
    fake.script("alice", CallResult.SUCCESS_NO_PIN, latency=math.inf)
    call_id = fake.initiate(challenge()).call_id
    assert fake.wait(call_id, 0.05) is CallStatus.PENDING
    assert fake.status(call_id) is CallStatus.PENDING
    clock = ManualClock()
    never = FakeProvider(latency=math.inf, clock=clock)
    with pytest.raises(MfaTimeoutError):
        never.authenticate(challenge(), timeout=0.05)
    clock.advance(1e12)
    assert never.status("fake-1") is CallStatus.PENDING


def test_wait_none_returns_when_the_call_finishes() -> None:
    """wait(call_id, None) blocks until the call finishes on the real clock."""
    fake = FakeProvider(CallResult.FAILED_PHONE_APP_DENIED, latency=0.1)
    call_id = fake.initiate(challenge()).call_id
    assert fake.wait(call_id, None) is CallStatus.FAILED
    with pytest.raises(InvalidValueError):
        fake.wait(call_id, -1)


# -- authenticate -----------------------------------------------------------------------------


def test_authenticate_returns_the_result() -> None:
    """authenticate() starts a call and returns its result after the latency."""
    fake = FakeProvider(latency=0.05)
    result = fake.authenticate(challenge(), timeout=5)
    assert result.authenticated
    assert result.request_id == "fake-1"
    denied = FakeProvider(CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT).authenticate(challenge())
    assert not denied.authenticated


def test_authenticate_times_out_on_a_slow_call() -> None:
    """authenticate() raises MfaTimeoutError when the call outlasts the timeout."""
    fake = FakeProvider(latency=30)
    with pytest.raises(MfaTimeoutError, match="fake-1"):
        fake.authenticate(challenge(), timeout=0.1)
    assert fake.status("fake-1") is CallStatus.PENDING


def test_authenticate_can_be_cancelled() -> None:
    """Setting the cancel event stops authenticate() with MfaCancelledError."""
    fake = FakeProvider(latency=30)
    cancel = threading.Event()
    timer = threading.Timer(0.1, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(MfaCancelledError):
        fake.authenticate(challenge(), timeout=60, cancel=cancel)
    # A cancel ignored ends in MfaTimeoutError; one noticed only when the wait runs out takes
    # the 60 s timeout. Half of that separates it from stopping at once.
    assert time.monotonic() - started < 30
    timer.join()


def test_authenticate_raises_the_provider_error() -> None:
    """authenticate() raises the scripted ProviderError."""
    fake = FakeProvider(ConnectionFailedError("down"))
    with pytest.raises(ConnectionFailedError, match="down"):
        fake.authenticate(challenge())


# -- threads ----------------------------------------------------------------------------------


def test_concurrent_initiation_gives_unique_ids_and_consumes_each_script_once() -> None:
    """Many threads initiating at once get unique ids; each scripted outcome is used once."""
    fake = FakeProvider()
    fake.script("alice", *([CallResult.FAILED_FRAUD_REPORTED] * 300))
    handles: list[CallHandle] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def work() -> None:
        barrier.wait()
        for _ in range(25):
            handle = fake.initiate(challenge())
            fake.status(handle.call_id)
            with lock:
                handles.append(handle)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    ids = {handle.call_id for handle in handles}
    assert ids == {f"fake-{n}" for n in range(1, 501)}
    assert [call.call_id for call in fake.calls] == [f"fake-{n}" for n in range(1, 501)]
    denied = [handle for handle in handles if handle.status is CallStatus.FAILED]
    assert len(denied) == 300


def test_calls_are_listed_in_order_of_initiation() -> None:
    """A call whose scripted function is slow is still listed before later calls."""
    release = threading.Event()
    entered = threading.Event()

    def slow(item: MfaChallenge) -> CallResult:
        entered.set()
        release.wait(5)
        return CallResult.SUCCESS_NO_PIN

    fake = FakeProvider()
    fake.script("slow", slow)
    first = threading.Thread(target=fake.initiate, args=(challenge("slow"),))
    first.start()
    assert entered.wait(5)
    fake.initiate(challenge("quick"))
    release.set()
    first.join(5)
    assert [(call.call_id, call.username) for call in fake.calls] == [
        ("fake-1", "slow"),
        ("fake-2", "quick"),
    ]


def test_status_from_another_thread() -> None:
    """A call initiated on one thread can be followed from another."""
    fake = FakeProvider(latency=0.05)
    call_id = fake.initiate(challenge()).call_id
    seen: list[MfaResult] = []

    def follow() -> None:
        fake.wait(call_id, 5)
        seen.append(fake.result(call_id))

    thread = threading.Thread(target=follow)
    thread.start()
    thread.join(5)
    assert [result.request_id for result in seen] == [call_id]


# -- records and assertions --------------------------------------------------------------------


def test_records_every_challenge_and_call() -> None:
    """challenges and calls list what was asked, in order, with the resolved outcome."""
    clock = ManualClock(7)
    fake = FakeProvider(clock=clock)
    error = ConnectionFailedError("down")
    fake.script("bob", error)
    first, second = challenge("alice"), challenge("bob", phone=OTHER_PHONE)
    fake.initiate(first)
    fake.initiate(second)
    assert fake.challenges == (first, second)
    assert fake.calls[0] == FakeCall("fake-1", first, CallResult.SUCCESS_NO_PIN, 7, 7)
    assert fake.calls[1].outcome is error
    assert (fake.calls[1].username, fake.calls[1].phone) == ("bob", OTHER_PHONE)


def test_reset_forgets_calls_and_scripts_but_ids_keep_counting() -> None:
    """reset() clears the records and scripts; old ids become unknown; ids are not reused."""
    fake = FakeProvider()
    fake.initiate(challenge())
    fake.script("alice", CallResult.CONFIG_ISSUE)
    fake.reset()
    fake.assert_not_called()
    with pytest.raises(UnknownCallError):
        fake.status("fake-1")
    handle, result = finished(fake, challenge())
    assert handle.call_id == "fake-2"
    assert result.call_result is CallResult.SUCCESS_NO_PIN


def test_reset_while_waiting_does_not_break_the_waiter() -> None:
    """A thread waiting on a call still gets its status if the fake is reset meanwhile."""
    clock = ManualClock()
    fake = FakeProvider(latency=1, clock=clock)
    call_id = fake.initiate(challenge()).call_id
    statuses: list[CallStatus] = []
    waiter = threading.Thread(target=lambda: statuses.append(fake.wait(call_id, 10)))
    waiter.start()
    time.sleep(0.05)
    fake.reset()
    clock.advance(1)
    waiter.join(5)
    assert statuses == [CallStatus.SUCCESS]


def test_assertion_helpers_pass_when_true() -> None:
    """The assertion helpers say nothing when the calls match."""
    fake = FakeProvider()
    fake.assert_not_called()
    fake.initiate(challenge("alice"))
    fake.assert_called_once_with_user("alice")
    fake.assert_called_with_phone(PHONE)
    fake.assert_called_with_phone("+1 (425) 555-0100")


def test_assert_not_called_lists_the_calls() -> None:
    """assert_not_called() fails with the calls made, secrets masked."""
    fake = FakeProvider()
    fake.initiate(challenge("alice", mode=AuthMode.PIN))
    with pytest.raises(AssertionError) as caught:
        fake.assert_not_called()
    message = str(caught.value)
    assert "expected no MFA calls, but 1 call was made:" in message
    assert "fake-1: MfaChallenge(username='alice', phone='+1 4255550100', mode='pin'" in message
    assert SECRET_PIN not in message


def test_assert_called_once_with_user_failures() -> None:
    """assert_called_once_with_user() fails for no call, another user, or several calls."""
    fake = FakeProvider()
    with pytest.raises(AssertionError, match="for user 'alice', but no calls were made"):
        fake.assert_called_once_with_user("alice")
    fake.initiate(challenge("bob"))
    with pytest.raises(AssertionError, match="username='bob'"):
        fake.assert_called_once_with_user("alice")
    fake.initiate(challenge("alice"))
    with pytest.raises(AssertionError, match="2 calls were made") as caught:
        fake.assert_called_once_with_user("alice")
    assert "fake-1" in str(caught.value)
    assert "fake-2" in str(caught.value)


def test_assert_called_with_phone_failure() -> None:
    """assert_called_with_phone() fails naming the wanted number and the calls made."""
    fake = FakeProvider()
    fake.initiate(challenge(phone=OTHER_PHONE, mode=AuthMode.PHONE_APP_PIN))
    with pytest.raises(AssertionError) as caught:
        fake.assert_called_with_phone(PHONE)
    message = str(caught.value)
    assert message.startswith("expected an MFA call to +1 4255550100, but 1 call was made:")
    assert "+44 2079460958" in message
    assert SECRET_PIN not in message
    assert SECRET_TOKEN not in message


def test_secrets_never_show_in_reprs() -> None:
    """PINs, device tokens and OTPs are masked in the reprs of calls, results and the fake."""
    fake = FakeProvider(CallResult.SUCCESS_SMS_SENT)
    handle = fake.initiate(challenge(mode=AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN))
    result = fake.result(handle.call_id)
    assert result.otp is not None
    fake.script("bob", MfaResult(True, "", otp="246813"))
    fake.initiate(challenge("bob", mode=AuthMode.PHONE_APP_PIN))
    shown = " ".join(
        [repr(fake), repr(fake.calls), repr(fake.challenges), repr(result), str(result)]
    )
    for secret in (SECRET_PIN, SECRET_TOKEN, result.otp, "246813"):
        assert secret not in shown
    assert "FakeProvider default=SUCCESS_SMS_SENT latency=0 calls=2" in repr(fake)


def test_importing_the_fake_does_not_import_requests() -> None:
    """The fake stays light: importing it loads neither requests nor urllib3."""
    code = (
        "import sys, pyampam.testing._fake\n"
        "print(sorted(m for m in ('requests', 'urllib3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
