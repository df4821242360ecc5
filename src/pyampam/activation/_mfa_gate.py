"""The MFA gate of an activation: one phone call per request, through the provider protocol."""

from __future__ import annotations

import logging
import threading

import attrs

from pyampam._model import User
from pyampam.exceptions import (
    InvalidValueError,
    MfaCancelledError,
    PamError,
    ProviderError,
    PyampamError,
)
from pyampam.providers._protocol import MfaProvider, wait_for_result
from pyampam.providers._types import (
    AuthMode,
    CallHandle,
    CallResult,
    CallStatus,
    MfaChallenge,
    MfaResult,
    Pin,
)

__all__ = ["GateOutcome", "MfaGate"]

_log = logging.getLogger("pyampam.activation")


@attrs.frozen
class GateOutcome:
    """How one MFA gate ended: passed or not, which call decided it, and why.

    ``message`` is the provider's failure message for a failed gate (what ends up in the
    request's ``status_reason`` and in event 101), the result's message for a passed one. It
    never holds a PIN or passcode: those are not part of any provider message.
    """

    passed: bool
    call_id: str | None
    call_result: CallResult | None = None
    message: str = ""


class MfaGate:
    """Places the MFA call of an activation request and waits for its outcome.

    Uses only the :class:`~pyampam.providers.MfaProvider` protocol. The user name on the wire
    is the user's object GUID, so the provider's usage report joins back to the PAM user; the
    phone is the one stored in PAM; in a PIN mode the user's stored PIN travels too.
    """

    def __init__(self, provider: MfaProvider, *, mode: AuthMode = AuthMode.STANDARD) -> None:
        if not isinstance(provider, MfaProvider):
            raise InvalidValueError(
                f"provider must implement the MfaProvider protocol (initiate, status, "
                f"failure_message, result), not {type(provider).__name__}",
                field="provider",
            )
        check_mode(mode)
        self.provider = provider
        self.mode = mode

    def challenge_for(self, user: User) -> MfaChallenge:
        """The challenge for *user*; raises before any call when the user cannot take one."""
        if user.phone is None:
            # The policy refuses this before we get here; this guards direct use of the gate.
            raise PamError(
                f"user {user.source_identity} has no phone number stored, so no MFA call can "
                "be placed; store one with set_user(user, phone=...)"
            )
        pin = None
        if self.mode.needs_pin:
            if user.pin is None:
                # The message must not hint at any PIN, only say that none is stored.
                raise PamError(
                    f"the service uses the {self.mode.value!r} MFA mode, which needs the user's "
                    f"PIN, but {user.source_identity} has no PIN stored; set one with "
                    "set_user(user, pin=...) before activating"
                )
            pin = Pin.plain(user.pin)
        return MfaChallenge(username=str(user.object_id), phone=user.phone, mode=self.mode, pin=pin)

    def initiate(self, challenge: MfaChallenge) -> CallHandle | GateOutcome:
        """Start the call: its handle, or the failed outcome if the provider refused it."""
        try:
            return self.provider.initiate(challenge)
        except ProviderError as error:
            return _failed_by(error, error.call_id)
        except Exception as error:  # noqa: BLE001 - a provider bug must fail the gate, not hang it
            return _unexpected(error, None)

    def wait(
        self, handle: CallHandle, *, timeout: float | None, cancel: threading.Event
    ) -> GateOutcome:
        """Wait up to *timeout* seconds for the call; its outcome.

        Raises :class:`~pyampam.exceptions.MfaCancelledError` when *cancel* is set first: a
        cancelled wait has no outcome. Running out of time is an outcome: the gate fails.
        """
        call_id = handle.call_id
        try:
            if handle.status is CallStatus.PENDING:
                result = wait_for_result(self.provider, call_id, timeout=timeout, cancel=cancel)
            else:
                result = self.provider.result(call_id)
        except MfaCancelledError:
            raise
        except ProviderError as error:
            return _failed_by(error, call_id)
        except Exception as error:  # noqa: BLE001 - a provider bug must fail the gate, not hang it
            return _unexpected(error, call_id)
        return self._outcome_of(result, call_id)

    def _outcome_of(self, result: MfaResult, call_id: str) -> GateOutcome:
        if result.authenticated:
            return GateOutcome(True, call_id, result.call_result, result.message)
        return GateOutcome(False, call_id, result.call_result, self._failure_message(result))

    def _failure_message(self, result: MfaResult) -> str:
        # GetFailureMessage is the provider's own account of the failure; the result's message
        # and the call result's description are the fallbacks when it has nothing to say.
        try:
            message = self.provider.failure_message(result.request_id)
        except Exception:  # noqa: BLE001 - any fallback beats losing why the call failed
            _log.warning("failure_message() failed for MFA call %s", result.request_id)
            message = ""
        if message:
            return message
        if result.message:
            return result.message
        if result.call_result is not None:
            return f"{result.call_result.description} ({result.call_result.value})"
        return "the user did not complete the MFA call; the provider gave no reason"


def check_mode(mode: AuthMode) -> None:
    """Refuse MFA modes the service cannot complete on its own."""
    if not isinstance(mode, AuthMode):
        raise InvalidValueError(
            f"mfa_mode must be an AuthMode such as AuthMode.STANDARD, not {mode!r}",
            field="mfa_mode",
        )
    if mode.returns_otp:
        raise InvalidValueError(
            f"mfa_mode {mode.value!r} returns a passcode that the application must compare with "
            "what the user types, and an activation has no one to ask; use 'standard', 'pin' "
            "or a two-way SMS mode",
            field="mfa_mode",
        )
    if mode.is_phone_app:
        raise InvalidValueError(
            f"mfa_mode {mode.value!r} needs a phone app device token, which PAM users do not "
            "store; use 'standard', 'pin' or a two-way SMS mode",
            field="mfa_mode",
        )


def _failed_by(error: ProviderError, call_id: str | None) -> GateOutcome:
    return GateOutcome(False, error.call_id or call_id, None, str(error) or type(error).__name__)


def _unexpected(error: Exception, call_id: str | None) -> GateOutcome:
    # The text (and traceback) of a foreign exception is unknown ground and may quote the
    # challenge, PIN included: only its type is logged, kept in the request and the events.
    kind = type(error).__name__
    _log.error("the MFA provider raised %s on call %s; the MFA gate failed", kind, call_id)
    where = "" if isinstance(error, PyampamError) else " (a bug in the provider?)"
    return GateOutcome(False, call_id, None, f"the MFA provider raised {kind}{where}")
