"""A scriptable in-memory MFA provider for tests, with simulated latency and a manual clock."""

from __future__ import annotations

import copy
import hashlib
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import NamedTuple, TypeAlias

import attrs

from pyampam._phone import PhoneNumber
from pyampam.exceptions import (
    CallPendingError,
    InvalidValueError,
    ProviderError,
    UnknownCallError,
)
from pyampam.providers._protocol import DEFAULT_AUTHENTICATE_TIMEOUT, authenticate
from pyampam.providers._types import (
    AuthMode,
    CallHandle,
    CallResult,
    CallStatus,
    MfaChallenge,
    MfaResult,
)

__all__ = ["FakeCall", "FakeProvider", "ManualClock", "Outcome", "ResolvedOutcome"]

#: What a finished fake call turns out to be: a usage-report outcome, a full result, or the
#: provider error that ended it.
ResolvedOutcome: TypeAlias = CallResult | MfaResult | ProviderError

#: What may be scripted: a resolved outcome, or a function of the challenge giving one.
Outcome: TypeAlias = ResolvedOutcome | Callable[[MfaChallenge], ResolvedOutcome]

_DENIED_WITHOUT_REASON = "the user did not authenticate (the scripted result gave no reason)"
# A clock we did not write cannot wake waiters when it moves; re-read it at least this often.
_FOREIGN_CLOCK_POLL = 0.05


class ManualClock:
    """A clock that moves only when told to, so tests decide when fake calls finish.

    Pass one to :class:`FakeProvider` as ``clock=``; :meth:`advance` wakes every thread
    waiting on a fake call, so calls finish as soon as the clock passes their time.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        # Weak, so a clock shared across tests does not keep every fake provider alive.
        self._listeners: list[weakref.WeakMethod[Callable[[], None]]] = []

    def __call__(self) -> float:
        """The current time, in seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (not negative) and wake the waiting calls."""
        if seconds < 0:
            raise InvalidValueError(
                f"a clock only moves forward: advance() got {seconds!r} seconds", field="seconds"
            )
        with self._lock:
            self._now += seconds
            listeners = [ref() for ref in self._listeners]
            self._listeners = [ref for ref in self._listeners if ref() is not None]
        # Called outside our lock: each listener takes its provider's lock, which may be held
        # by a thread that is reading this clock.
        for listener in listeners:
            if listener is not None:
                listener()

    def _subscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(weakref.WeakMethod(listener))

    def __repr__(self) -> str:
        return f"ManualClock({self():g})"


@attrs.frozen
class FakeCall:
    """One call the fake received: its id, the challenge, and how the call turns out.

    ``started_at`` and ``finishes_at`` are read on the provider's clock. The challenge's and
    the result's secrets (PIN, device token, OTP) are masked in ``repr``.
    """

    call_id: str
    challenge: MfaChallenge
    outcome: ResolvedOutcome
    started_at: float
    finishes_at: float

    @property
    def username(self) -> str:
        """The challenge's user name."""
        return self.challenge.username

    @property
    def phone(self) -> PhoneNumber:
        """The phone number the call went to."""
        return self.challenge.phone


class _Record(NamedTuple):
    number: int  # the order of initiation: ids are handed out before calls are stored
    call: FakeCall
    result: MfaResult | ProviderError


class FakeProvider:
    """An in-memory :class:`~pyampam.providers.MfaProvider` that answers as it is scripted.

    Each call's outcome is the next one queued with :meth:`script` for its user name (first)
    or phone number, else ``default``. An outcome is a :class:`~pyampam.providers.CallResult`
    (whether it authenticates follows the challenge's mode, as the real provider does), an
    :class:`~pyampam.providers.MfaResult` (used as given, with ``request_id`` set to the call
    id), a :class:`~pyampam.exceptions.ProviderError` instance (the call fails and
    :meth:`result` raises a copy of it), or a function of the challenge returning one of these.

    Every call finishes ``latency`` seconds after it starts, read on ``clock`` (default
    :func:`time.monotonic`; pass a :class:`ManualClock` to move time by hand). Call ids are
    ``fake-1``, ``fake-2``, ... in the order of :meth:`initiate`. A latency of ``math.inf``
    makes calls that never finish. Thread safe.

    Outcome rules for a ``CallResult`` (those whose ``can_authenticate`` is False never
    authenticate):

    - ``SUCCESS_WITH_PIN`` authenticates only in the modes that need a PIN;
    - ``SUCCESS_NO_PIN`` only in the modes without a PIN, except one-way SMS;
    - ``SUCCESS_SMS_SENT`` only in the one-way SMS modes, and carries a one-time passcode the
      application must compare with what the user types;
    - ``SUCCESS_SMS_AUTHENTICATED`` only in the two-way SMS modes;
    - ``SUCCESS_PHONE_APP_AUTHENTICATED`` only in the phone app modes;
    - the other successes (caches, bypass, OATH, fallbacks) in every mode.
    """

    def __init__(
        self,
        default: Outcome = CallResult.SUCCESS_NO_PIN,
        *,
        latency: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        _check_outcome(default, "default")
        _check_latency(latency)
        self._default = default
        self._latency = float(latency)
        self._clock: Callable[[], float] = time.monotonic if clock is None else clock
        self._condition = threading.Condition(threading.Lock())
        self._scripts: dict[str | PhoneNumber, deque[tuple[Outcome, float | None]]] = {}
        self._calls: dict[str, _Record] = {}
        self._count = 0
        if isinstance(clock, ManualClock):
            clock._subscribe(self._clock_moved)

    # -- scripting -----------------------------------------------------------------------------

    def script(
        self, key: str | PhoneNumber, *outcomes: Outcome, latency: float | None = None
    ) -> None:
        """Queue ``outcomes`` for the next calls for user name or phone number ``key``.

        Each call takes the next outcome in order; once they are used up, ``default`` applies
        again. ``latency`` overrides the provider's latency for these calls only (``math.inf``:
        they never finish).
        """
        if not isinstance(key, (str, PhoneNumber)):
            raise InvalidValueError(
                f"script() takes a user name (str) or a PhoneNumber, not {type(key).__name__}",
                field="key",
            )
        if not outcomes:
            raise InvalidValueError("script() needs at least one outcome", field="outcomes")
        for index, outcome in enumerate(outcomes):
            _check_outcome(outcome, f"outcome {index + 1}")
        if latency is not None:
            _check_latency(latency)
        with self._condition:
            queue = self._scripts.setdefault(key, deque())
            queue.extend((outcome, latency) for outcome in outcomes)

    def reset(self) -> None:
        """Forget every call and every scripted outcome; keep ``default`` and ``latency``.

        Call ids keep counting, so an id from before the reset never names a new call.
        """
        with self._condition:
            self._scripts.clear()
            self._calls.clear()

    # -- records -------------------------------------------------------------------------------

    @property
    def calls(self) -> tuple[FakeCall, ...]:
        """Every call received since the last :meth:`reset`, oldest first."""
        with self._condition:
            records = sorted(self._calls.values())
        return tuple(record.call for record in records)

    @property
    def challenges(self) -> tuple[MfaChallenge, ...]:
        """The challenge of every call received since the last :meth:`reset`, oldest first."""
        return tuple(call.challenge for call in self.calls)

    def assert_not_called(self) -> None:
        """Fail with :class:`AssertionError` if any call was made."""
        calls = self.calls
        if calls:
            raise AssertionError(f"expected no MFA calls, but {_describe(calls)}")

    def assert_called_once_with_user(self, username: str) -> None:
        """Fail unless exactly one call was made, and it was for ``username``."""
        calls = self.calls
        if len(calls) != 1 or calls[0].username != username:
            raise AssertionError(
                f"expected exactly one MFA call, for user {username!r}, but {_describe(calls)}"
            )

    def assert_called_with_phone(self, phone: PhoneNumber | str) -> None:
        """Fail unless at least one call went to ``phone`` (a PhoneNumber, or text to parse)."""
        wanted = phone if isinstance(phone, PhoneNumber) else PhoneNumber.parse(phone)
        calls = self.calls
        if not any(call.phone == wanted for call in calls):
            raise AssertionError(f"expected an MFA call to {wanted}, but {_describe(calls)}")

    # -- the provider --------------------------------------------------------------------------

    def initiate(self, challenge: MfaChallenge) -> CallHandle:
        """Start a call for ``challenge``; it finishes ``latency`` seconds from now."""
        if not isinstance(challenge, MfaChallenge):
            raise InvalidValueError(
                f"initiate() takes an MfaChallenge, not {type(challenge).__name__}",
                field="challenge",
            )
        with self._condition:
            scripted, latency = self._next_outcome(challenge)
            self._count += 1
            number = self._count
            call_id = f"fake-{number}"
            now = self._clock()
        # The user's function runs outside the lock: it may well call back into the fake.
        outcome = _resolve(scripted, challenge)
        result = _result_for(outcome, challenge, call_id)
        call = FakeCall(
            call_id=call_id,
            challenge=challenge,
            outcome=outcome,
            started_at=now,
            finishes_at=now + (self._latency if latency is None else latency),
        )
        with self._condition:
            self._calls[call_id] = _Record(number, call, result)
            status = self._status_locked(call_id)
        return CallHandle(call_id, status)

    def status(self, call_id: str) -> CallStatus:
        """PENDING until the call's time has come, then SUCCESS or FAILED."""
        with self._condition:
            return self._status_locked(call_id)

    def wait(self, call_id: str, timeout: float | None) -> CallStatus:
        """Block up to ``timeout`` seconds (None: no limit) for the call to finish; its status.

        ``timeout`` is real time, whatever the clock: with a :class:`ManualClock` the wait ends
        early only when another thread advances the clock past the call's time.
        """
        if timeout is not None and timeout < 0:
            raise InvalidValueError("timeout must be positive or None", field="timeout")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            # Held on to, so a reset() while we wait does not pull the call from under us.
            _, call, result = self._find(call_id)
            while True:
                remaining_call = call.finishes_at - self._clock()
                if remaining_call <= 0:
                    return _status_of(result)
                remaining_wait = None if deadline is None else deadline - time.monotonic()
                if remaining_wait is not None and remaining_wait <= 0:
                    return CallStatus.PENDING
                self._condition.wait(self._sleep_for(remaining_call, remaining_wait))

    def failure_message(self, call_id: str) -> str:
        """Why the call failed, for people; empty for a call that succeeded.

        Raises :class:`~pyampam.exceptions.CallPendingError` while the call is pending.
        """
        with self._condition:
            result = self._finished_result(call_id)
        if isinstance(result, ProviderError):
            return str(result)
        if result.authenticated:
            return ""
        return result.message or _DENIED_WITHOUT_REASON

    def result(self, call_id: str) -> MfaResult:
        """The finished call's result; raises the provider error that ended a failed call.

        Raises :class:`~pyampam.exceptions.CallPendingError` while the call is pending.
        """
        with self._condition:
            result = self._finished_result(call_id)
        if isinstance(result, ProviderError):
            # A fresh copy each time: one exception object raised in several threads would
            # have its traceback rewritten under the other threads' feet.
            raise _copy_error(result, call_id)
        return result

    def authenticate(
        self,
        challenge: MfaChallenge,
        *,
        timeout: float | None = DEFAULT_AUTHENTICATE_TIMEOUT,
        cancel: threading.Event | None = None,
    ) -> MfaResult:
        """Start a call and block until its result: :func:`pyampam.providers.authenticate`."""
        return authenticate(self, challenge, timeout=timeout, cancel=cancel)

    def __repr__(self) -> str:
        with self._condition:
            count = len(self._calls)
        return (
            f"<FakeProvider default={_outcome_name(self._default)} latency={self._latency:g} "
            f"calls={count}>"
        )

    # -- internals -----------------------------------------------------------------------------

    def _next_outcome(self, challenge: MfaChallenge) -> tuple[Outcome, float | None]:
        for key in (challenge.username, challenge.phone):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return self._default, None

    def _find(self, call_id: str) -> _Record:
        record = self._calls.get(call_id)
        if record is None:
            raise UnknownCallError(
                f"the fake provider has no call {call_id!r}: it was never initiated here, "
                "or reset() forgot it",
                call_id=call_id,
            )
        return record

    def _status_locked(self, call_id: str) -> CallStatus:
        _, call, result = self._find(call_id)
        if self._clock() < call.finishes_at:
            return CallStatus.PENDING
        return _status_of(result)

    def _finished_result(self, call_id: str) -> MfaResult | ProviderError:
        _, call, result = self._find(call_id)
        if self._clock() < call.finishes_at:
            raise CallPendingError(
                f"call {call_id} has not finished yet: wait for it, or ask status() first",
                call_id=call_id,
            )
        return result

    def _sleep_for(self, remaining_call: float, remaining_wait: float | None) -> float | None:
        if math.isinf(remaining_call) or isinstance(self._clock, ManualClock):
            # Nothing but the wait's own end can change the answer: the call never finishes,
            # or only advance() moves the clock, and it wakes us.
            return remaining_wait
        if self._clock is time.monotonic:
            return remaining_call if remaining_wait is None else min(remaining_call, remaining_wait)
        bounded = min(remaining_call, _FOREIGN_CLOCK_POLL)
        return bounded if remaining_wait is None else min(bounded, remaining_wait)

    def _clock_moved(self) -> None:
        with self._condition:
            self._condition.notify_all()


def _status_of(result: MfaResult | ProviderError) -> CallStatus:
    return CallStatus.FAILED if isinstance(result, ProviderError) else result.status


def _check_latency(latency: float) -> None:
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not latency >= 0:
        raise InvalidValueError(
            f"latency must be a number of seconds, 0 or more, not {latency!r}", field="latency"
        )


def _check_outcome(outcome: object, what: str) -> None:
    hint = ""
    if isinstance(outcome, type) and issubclass(outcome, BaseException):
        # An exception class is callable, but calling it with the challenge makes nonsense.
        hint = f": pass an instance, such as {outcome.__name__}('what went wrong')"
    elif isinstance(outcome, BaseException) and not isinstance(outcome, ProviderError):
        hint = ": only ProviderError subclasses, the errors the real client raises, can end a call"
    elif isinstance(outcome, (CallResult, MfaResult, ProviderError)) or callable(outcome):
        return
    raise InvalidValueError(
        f"{what} must be a CallResult, an MfaResult, a ProviderError or a function of the "
        f"challenge returning one, not {outcome!r}{hint}",
        field="outcome",
    )


def _resolve(outcome: Outcome, challenge: MfaChallenge) -> ResolvedOutcome:
    if isinstance(outcome, (CallResult, MfaResult, ProviderError)):
        return outcome
    try:
        resolved: object = outcome(challenge)
    except ProviderError as error:
        # Raising the provider's error is as natural in a function as returning it.
        return error
    if not isinstance(resolved, (CallResult, MfaResult, ProviderError)):
        raise InvalidValueError(
            f"the scripted function {outcome!r} returned {resolved!r}; it must return a "
            "CallResult, an MfaResult or a ProviderError",
            field="outcome",
        )
    return resolved


def _result_for(
    outcome: ResolvedOutcome, challenge: MfaChallenge, call_id: str
) -> MfaResult | ProviderError:
    if isinstance(outcome, ProviderError):
        return _copy_error(outcome, call_id)
    if isinstance(outcome, MfaResult):
        return attrs.evolve(outcome, request_id=call_id)
    reason = _denial(outcome, challenge.mode)
    if reason is not None:
        return MfaResult(False, call_id, call_result=outcome, message=reason)
    otp = _otp(call_id) if outcome is CallResult.SUCCESS_SMS_SENT else None
    return MfaResult(True, call_id, otp=otp, call_result=outcome, message=outcome.description)


def _denial(outcome: CallResult, mode: AuthMode) -> str | None:
    """Why ``outcome`` does not authenticate a user in ``mode``, or None if it does."""
    if not outcome.can_authenticate:
        return f"{outcome.description} ({outcome.value})"
    allowed = {
        CallResult.SUCCESS_WITH_PIN: mode.needs_pin,
        CallResult.SUCCESS_NO_PIN: not mode.needs_pin and not mode.returns_otp,
        CallResult.SUCCESS_SMS_SENT: mode.returns_otp,
        CallResult.SUCCESS_SMS_AUTHENTICATED: mode.is_sms and not mode.returns_otp,
        CallResult.SUCCESS_PHONE_APP_AUTHENTICATED: mode.is_phone_app,
    }.get(outcome, True)
    if allowed:
        return None
    return (
        f"{outcome.description} ({outcome.value}), which does not authenticate a user in "
        f"{mode.value!r} mode"
    )


def _otp(call_id: str) -> str:
    # Derived from the call id, so runs repeat exactly; a fake passcode protects nothing.
    digest = hashlib.sha256(f"pyampam fake otp {call_id}".encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 1_000_000:06d}"


def _copy_error(error: ProviderError, call_id: str) -> ProviderError:
    try:
        fresh = copy.copy(error)
    except Exception:  # noqa: BLE001 - a user's exception class we cannot copy is used as is
        fresh = error
    if fresh.call_id is None:
        fresh.call_id = call_id
    return fresh


def _outcome_name(outcome: Outcome) -> str:
    if isinstance(outcome, CallResult):
        return outcome.value
    if isinstance(outcome, (MfaResult, ProviderError)):
        return repr(outcome)
    return getattr(outcome, "__qualname__", repr(outcome))


def _describe(calls: Iterable[FakeCall]) -> str:
    listed = list(calls)
    if not listed:
        return "no calls were made"
    noun = "call was" if len(listed) == 1 else "calls were"
    lines = "\n".join(f"  {call.call_id}: {call.challenge!r}" for call in listed)
    return f"{len(listed)} {noun} made:\n{lines}"
