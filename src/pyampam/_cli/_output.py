"""How the CLI shows users, roles, requests and events: JSON documents and aligned text."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pyampam._cli._values import format_duration
from pyampam._display import aligned_lines
from pyampam._secrets import MASK

if TYPE_CHECKING:
    from pyampam._model import ActivationRequest, Role, User
    from pyampam.activation import PhoneChange
    from pyampam.events import PamEvent

__all__ = [
    "Names",
    "change_json",
    "print_fields",
    "print_json",
    "print_table",
    "request_json",
    "role_json",
    "short_id",
    "show_time",
    "user_json",
    "utc_text",
]

#: Gives the ``DOMAIN\account`` of a user id, or None when no such user is stored.
Names = Callable[[uuid.UUID], "str | None"]

UTC = dt.timezone.utc
NONE = "-"


def utc_text(moment: dt.datetime | None) -> str | None:
    """A time as JSON carries it: ISO 8601 in UTC with a ``Z`` (as the event file writes it)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def show_time(moment: dt.datetime | None) -> str:
    """A time for people: ``2024-05-01 14:30:00Z`` (always UTC)."""
    if moment is None:
        return NONE
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def short_id(value: uuid.UUID) -> str:
    """The first 8 hex digits of an id: what ``request approve`` and friends accept."""
    return str(value)[:8]


def print_json(document: object) -> None:
    """Print one JSON document on stdout."""
    print(json.dumps(document, indent=2, ensure_ascii=False))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Print rows as columns aligned under *headers*; the last column is not padded."""
    for line in aligned_lines([headers, *rows]):
        print(line)


def print_fields(fields: Sequence[tuple[str, str]]) -> None:
    """Print ``name  value`` lines with the values aligned."""
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        print(f"{name:<{width}}  {value}".rstrip())


def _identity(names: Names, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    return names(user_id) or str(user_id)


def _people(names: Names, ids: Iterable[uuid.UUID]) -> list[dict[str, str]]:
    people = [{"object_id": str(one), "source_identity": names(one) or str(one)} for one in ids]
    return sorted(people, key=lambda person: (person["source_identity"].casefold(), person))


def _time_of_day(value: dt.time | None) -> str | None:
    return None if value is None else value.isoformat()


# -- users ------------------------------------------------------------------------------------


def user_json(user: User) -> dict[str, Any]:
    """A user as JSON: its record, which never holds the PIN, only whether one is stored."""
    return user.to_record()


def user_fields(user: User) -> list[tuple[str, str]]:
    """A user as ``name value`` lines."""
    return [
        ("user", user.source_identity),
        ("object id", str(user.object_id)),
        ("display name", user.display_name or NONE),
        ("description", user.description or NONE),
        ("e-mail", user.email or NONE),
        ("SID", user.sid or NONE),
        ("phone", NONE if user.phone is None else str(user.phone)),
        ("PIN", MASK if user.pin else "(none)"),
        ("privileged account", user.privileged_account_name),
        ("privileged display name", user.privileged_display_name or NONE),
        ("privileged account active", "yes" if user.privileged_account_active else "no"),
    ]


def user_row(user: User) -> list[str]:
    """A user as a row under :data:`USER_HEADERS`."""
    return [
        user.source_identity,
        user.display_name or NONE,
        NONE if user.phone is None else str(user.phone),
        "yes" if user.pin else "no",
        str(user.object_id),
    ]


USER_HEADERS = ("USER", "DISPLAY NAME", "PHONE", "PIN", "OBJECT ID")


# -- roles ------------------------------------------------------------------------------------


def role_json(role: Role, names: Names) -> dict[str, Any]:
    """A role as JSON; candidates and approvers carry their ids and ``DOMAIN\\account``."""
    return {
        "role_id": str(role.role_id),
        "display_name": role.display_name,
        "description": role.description,
        "candidates": _people(names, role.candidates),
        "approvers": _people(names, role.approvers),
        "privileges": list(role.privileges),
        "ttl_seconds": int(role.ttl.total_seconds()),
        "availability_window_enabled": role.availability_window_enabled,
        "available_from": _time_of_day(role.available_from),
        "available_to": _time_of_day(role.available_to),
        "mfa_enabled": role.mfa_enabled,
        "approval_enabled": role.approval_enabled,
    }


def _window(role: Role) -> str:
    start, end = role.available_from, role.available_to
    if not role.availability_window_enabled or start is None or end is None:
        return "any time"
    return f"{start.strftime('%H:%M')} to {end.strftime('%H:%M')} UTC"


def _listed(people: list[dict[str, str]]) -> str:
    return ", ".join(person["source_identity"] for person in people) or "(none)"


def role_fields(role: Role, names: Names) -> list[tuple[str, str]]:
    """A role as ``name value`` lines."""
    shown = role_json(role, names)
    return [
        ("role", role.display_name),
        ("role id", str(role.role_id)),
        ("description", role.description or NONE),
        ("candidates", _listed(shown["candidates"])),
        ("approvers", _listed(shown["approvers"])),
        ("privileges", ", ".join(role.privileges) or "(none)"),
        ("TTL", format_duration(role.ttl)),
        ("available", _window(role)),
        ("MFA", "enabled" if role.mfa_enabled else "disabled"),
        ("approval", "enabled" if role.approval_enabled else "disabled"),
    ]


def role_row(role: Role) -> list[str]:
    """A role as a row under :data:`ROLE_HEADERS`."""
    return [
        role.display_name,
        format_duration(role.ttl),
        "yes" if role.mfa_enabled else "no",
        "yes" if role.approval_enabled else "no",
        str(len(role.candidates)),
        ", ".join(role.privileges) or NONE,
        str(role.role_id),
    ]


ROLE_HEADERS = ("ROLE", "TTL", "MFA", "APPROVAL", "CANDIDATES", "PRIVILEGES", "ROLE ID")


# -- requests ---------------------------------------------------------------------------------


def request_json(
    request: ActivationRequest, names: Names, role_names: Callable[[uuid.UUID], str | None]
) -> dict[str, Any]:
    """An activation request as JSON, with the requestor's and the role's names."""
    return {
        "request_id": str(request.request_id),
        "status": request.status.value,
        "requestor_id": str(request.requestor_id),
        "requestor": _identity(names, request.requestor_id),
        "role_id": str(request.role_id),
        "role": role_names(request.role_id),
        "justification": request.justification,
        "requested_ttl_seconds": int(request.requested_ttl.total_seconds()),
        "requested_time": utc_text(request.requested_time),
        "creation_time": utc_text(request.creation_time),
        "creation_method": request.creation_method,
        "activation_time": utc_text(request.activation_time),
        "expiration_time": utc_text(request.expiration_time),
        "decided_by_id": None if request.decided_by is None else str(request.decided_by),
        "decided_by": _identity(names, request.decided_by),
        "mfa_call_id": request.mfa_call_id,
        "status_reason": request.status_reason,
    }


def request_fields(
    request: ActivationRequest, names: Names, role_names: Callable[[uuid.UUID], str | None]
) -> list[tuple[str, str]]:
    """A request as ``name value`` lines."""
    shown = request_json(request, names, role_names)
    return [
        ("request", shown["request_id"]),
        ("status", shown["status"]),
        ("reason", request.status_reason or NONE),
        ("requestor", shown["requestor"]),
        ("role", shown["role"] or shown["role_id"]),
        ("justification", request.justification or NONE),
        ("TTL", format_duration(request.requested_ttl)),
        ("requested start", show_time(request.requested_time)),
        ("created", show_time(request.creation_time)),
        ("activated", show_time(request.activation_time)),
        ("expires", show_time(request.expiration_time)),
        ("decided by", shown["decided_by"] or NONE),
        ("MFA call", request.mfa_call_id or NONE),
    ]


def request_row(
    request: ActivationRequest, names: Names, role_names: Callable[[uuid.UUID], str | None]
) -> list[str]:
    """A request as a row under :data:`REQUEST_HEADERS`."""
    return [
        short_id(request.request_id),
        _identity(names, request.requestor_id) or NONE,
        role_names(request.role_id) or str(request.role_id),
        request.status.value,
        show_time(request.creation_time),
        show_time(request.expiration_time),
        request.status_reason or NONE,
    ]


REQUEST_HEADERS = ("ID", "USER", "ROLE", "STATUS", "CREATED", "EXPIRES", "REASON")


# -- phone changes and events -----------------------------------------------------------------


def change_json(change: PhoneChange) -> dict[str, Any]:
    """A phone number change found by the monitor, as JSON."""
    return {
        "user_id": str(change.user_id),
        "source_identity": change.source_identity,
        "old": None if change.old is None else str(change.old),
        "new": None if change.new is None else str(change.new),
        "directory_text": change.directory_text,
        "problem": change.problem,
        "updated": change.updated,
    }


def event_row(event: PamEvent) -> list[str]:
    """An event as a row under :data:`EVENT_HEADERS`."""
    return [
        show_time(event.time),
        str(int(event.event_id)),
        event.level.value,
        event.source,
        event.message,
    ]


EVENT_HEADERS = ("TIME", "ID", "LEVEL", "SOURCE", "MESSAGE")
