"""The provider protocol (MIM's phone provider, in Python) and the blocking ``authenticate``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pyampam.exceptions import MfaCancelledError, MfaTimeoutError
from pyampam.providers._types import CallHandle, CallStatus, MfaChallenge, MfaResult

__all__ = [
    "DEFAULT_AUTHENTICATE_TIMEOUT",
    "MfaProvider",
    "SupportsWait",
    "authenticate",
    "wait_for_result",
]

#: Seconds ``authenticate`` waits by default: longer than a phone call's ring and answer time
#: and the real client's 90 s read timeout, so the provider, not the wait, reports slow calls.
DEFAULT_AUTHENTICATE_TIMEOUT = 120.0

_FIRST_POLL = 0.02
_MAX_POLL = 1.0


@runtime_checkable
class MfaProvider(Protocol):
    """A phone verification provider, shaped like MIM's phone provider interface.

    ``initiate`` starts a call without waiting for the user (InitiateCall); ``status`` is asked
    while the call is pending (GetCallStatus); ``failure_message`` explains a failed call
    (GetFailureMessage); ``result`` gives the full outcome once the call has finished, and
    raises the :class:`~pyampam.exceptions.ProviderError` that ended a call the provider could
    not complete. Implementations are thread safe: the status calls may come from any thread.
    """

    def initiate(self, challenge: MfaChallenge) -> CallHandle:
        """Start a call for ``challenge`` and return at once with its id and status."""
        ...

    def status(self, call_id: str) -> CallStatus:
        """The call's current status."""
        ...

    def failure_message(self, call_id: str) -> str:
        """Why a failed call failed, as a sentence for people."""
        ...

    def result(self, call_id: str) -> MfaResult:
        """The outcome of a finished call."""
        ...


@runtime_checkable
class SupportsWait(Protocol):
    """A provider that can block until a call finishes, so waiting needs no polling."""

    def wait(self, call_id: str, timeout: float | None) -> CallStatus:
        """Wait up to ``timeout`` seconds for the call to finish; return its status then."""
        ...


def wait_for_result(
    provider: MfaProvider,
    call_id: str,
    *,
    timeout: float | None = DEFAULT_AUTHENTICATE_TIMEOUT,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> MfaResult:
    """Wait for call ``call_id`` to finish and return its result.

    Uses the provider's own ``wait`` when it has one, else polls ``status`` with a backoff
    from 20 ms to 1 s. ``timeout`` (seconds, None for no limit) bounds the wait and raises
    :class:`~pyampam.exceptions.MfaTimeoutError`; setting ``cancel`` stops the wait early with
    :class:`~pyampam.exceptions.MfaCancelledError`. Neither stops the call itself.
    """
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be positive or None")
    deadline = None if timeout is None else clock() + timeout
    stop = cancel if cancel is not None else threading.Event()
    delay = _FIRST_POLL
    while True:
        if stop.is_set():
            raise MfaCancelledError(f"the wait for call {call_id} was cancelled", call_id=call_id)
        remaining = None if deadline is None else deadline - clock()
        step = delay if remaining is None else max(0.0, min(delay, remaining))
        if isinstance(provider, SupportsWait):
            status = provider.wait(call_id, step)
        else:
            status = provider.status(call_id)
            if status is CallStatus.PENDING and step > 0:
                stop.wait(step)
        if status is not CallStatus.PENDING:
            return provider.result(call_id)
        if deadline is not None and clock() >= deadline:
            raise MfaTimeoutError(
                f"call {call_id} had not finished after {timeout:g} s; it may still complete, "
                "so ask for its status later or raise the timeout",
                call_id=call_id,
            )
        delay = min(delay * 2, _MAX_POLL)


def authenticate(
    provider: MfaProvider,
    challenge: MfaChallenge,
    *,
    timeout: float | None = DEFAULT_AUTHENTICATE_TIMEOUT,
    cancel: threading.Event | None = None,
) -> MfaResult:
    """Start a call on ``provider`` and block until its outcome, the deadline or cancellation.

    A call that ended without an answer from the provider raises the provider's
    :class:`~pyampam.exceptions.ProviderError`; a user who did not authenticate is a normal
    result with ``authenticated=False``.
    """
    handle = provider.initiate(challenge)
    if handle.status is not CallStatus.PENDING:
        return provider.result(handle.call_id)
    return wait_for_result(provider, handle.call_id, timeout=timeout, cancel=cancel)
