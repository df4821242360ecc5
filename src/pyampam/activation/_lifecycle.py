"""The rules of a request's life: status groups, denials, authorized states and their events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from pyampam._model import ActivationRequest, PolicyDecision, RequestStatus, Violation
from pyampam.activation._mfa_gate import GateOutcome
from pyampam.events import EventId, ExtraValue, PamEvent
from pyampam.exceptions import (
    ActivationDeniedError,
    MfaPhoneMissingError,
    NotACandidateError,
    OutsideAvailabilityWindowError,
    RequestedTimeInPastError,
    TtlTooLongError,
)

__all__ = [
    "ENTRY_EVENTS",
    "HELD_AT_SOME_TIME",
    "HOLDING",
    "OPEN",
    "authorized",
    "ended",
    "holds_at",
    "mfa_event",
    "raise_for_violations",
]

PENDING = frozenset(status for status in RequestStatus if status.is_pending)
#: Statuses a request can still be closed from.
OPEN = PENDING | {RequestStatus.SCHEDULED, RequestStatus.ACTIVE, RequestStatus.CLOSING}
#: Statuses of requests holding their membership now (until their expiration time).
HOLDING = frozenset({RequestStatus.ACTIVE, RequestStatus.CLOSING})
#: Statuses of requests that may have held a membership at some moment; the times say when.
HELD_AT_SOME_TIME = HOLDING | {RequestStatus.CLOSED, RequestStatus.EXPIRED}

#: The event recorded when a request enters each status. The pending statuses have none: a
#: request enters them only when created (REQUEST_CREATED) or by passing the MFA gate (103).
ENTRY_EVENTS = {
    RequestStatus.SCHEDULED: EventId.REQUEST_SCHEDULED,
    RequestStatus.ACTIVE: EventId.REQUEST_ACTIVATED,
    RequestStatus.REJECTED: EventId.REQUEST_REJECTED,
    RequestStatus.CLOSED: EventId.REQUEST_CLOSED,
    RequestStatus.EXPIRED: EventId.REQUEST_EXPIRED,
}

_DENIALS: dict[Violation, type[ActivationDeniedError]] = {
    Violation.NOT_A_CANDIDATE: NotACandidateError,
    Violation.MFA_PHONE_MISSING: MfaPhoneMissingError,
    Violation.TTL_NOT_POSITIVE: TtlTooLongError,
    Violation.TTL_ABOVE_ROLE: TtlTooLongError,
    Violation.REQUESTED_TIME_IN_PAST: RequestedTimeInPastError,
    Violation.OUTSIDE_AVAILABILITY_WINDOW: OutsideAvailabilityWindowError,
}


def raise_for_violations(decision: PolicyDecision) -> None:
    """Raise the named denial of the first violation, carrying them all, if there are any."""
    try:
        decision.raise_for_violations()
    except ActivationDeniedError as error:
        denial = _DENIALS[decision.violations[0]]
        raise denial(str(error), violations=decision.violations) from None


def authorized(
    request: ActivationRequest, now: dt.datetime, *, reason: str, **changes: Any
) -> ActivationRequest:
    """The request once every check has passed: Scheduled for a later start, else Active.

    An Active request holds its membership from *now* for its TTL (MIM's activation time +
    TTL), whenever that happens to be.
    """
    start = request.requested_time
    if start is not None and start > now:
        return attrs.evolve(
            request,
            status=RequestStatus.SCHEDULED,
            status_reason=f"{reason}; scheduled to start at {start.isoformat()}",
            **changes,
        )
    return attrs.evolve(
        request,
        status=RequestStatus.ACTIVE,
        activation_time=now,
        expiration_time=now + request.requested_ttl,
        status_reason=reason,
        **changes,
    )


def ended(
    request: ActivationRequest,
    status: RequestStatus,
    now: dt.datetime,
    *,
    reason: str,
    **changes: Any,
) -> ActivationRequest:
    """The request Rejected or Closed at *now*: its expiration time says when it ended."""
    return attrs.evolve(
        request, status=status, expiration_time=now, status_reason=reason, **changes
    )


def holds_at(request: ActivationRequest, moment: dt.datetime) -> bool:
    """Whether the request grants its role at *moment*: from activation up to expiration."""
    start, end = request.activation_time, request.expiration_time
    return start is not None and end is not None and start <= moment < end


def mfa_event(
    request: ActivationRequest, role_name: str | None, outcome: GateOutcome, now: dt.datetime
) -> PamEvent:
    """Event 103 for a passed MFA gate, 101 for a failed one, with the call result and id."""
    common: dict[str, Any] = {
        "time": now,
        "user_id": request.requestor_id,
        "role_id": request.role_id,
        "role_name": role_name,
        "request_id": request.request_id,
        "call_result": outcome.call_result,
    }
    if outcome.passed:
        event = PamEvent.mfa_completed(**common)
    else:
        what = EventId.MFA_NOT_COMPLETED.meaning
        role = "" if role_name is None else f" (role {role_name!r})"
        result = outcome.call_result
        shown = "" if result is None or result.value in outcome.message else f" [{result.value}]"
        event = PamEvent.mfa_not_completed(
            **common, message=f"{what}{role}: {outcome.message}{shown}"
        )
    extra: dict[str, ExtraValue] = {"call_id": outcome.call_id}
    return attrs.evolve(event, extra=extra)
