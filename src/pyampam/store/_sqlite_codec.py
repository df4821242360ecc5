"""How users, roles and requests are written to SQLite columns and read back, field by field.

The encodings, chosen so that ordering in SQL matches ordering in Python:

- UUIDs: their canonical text (lower-case hex with hyphens), so ``ORDER BY`` matches ``str()``.
- Instants (aware datetimes): integer microseconds since 1970-01-01 UTC; read back in UTC.
- Durations: integer microseconds.
- Times of day: ``HH:MM:SS.ffffff``, followed by the zone when there is one: ``zone:<IANA key>``
  for a :class:`zoneinfo.ZoneInfo`, ``offset:<microseconds>[:<name>]`` for a
  :class:`datetime.timezone`. Other ``tzinfo`` classes cannot be rebuilt from a file and are
  refused. A time's ``fold`` is not kept: it means nothing without a date.
- Case-insensitive lookups compare a ``*_folded`` column written with :meth:`str.casefold`, the
  same folding :class:`~pyampam.store.MemoryStore` uses, because SQLite's ``NOCASE`` folds only
  ASCII and would let ``STRASSE`` and ``straße`` both in.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
import zoneinfo

from pyampam._model import ActivationRequest, RequestStatus, Role, User
from pyampam._phone import PhoneNumber
from pyampam.store._memory import FINISHED_STATUSES, due_time, ended_time

__all__ = [
    "REQUEST_COLUMNS",
    "ROLE_COLUMNS",
    "USER_COLUMNS",
    "UnreadableRowError",
    "UnstorableValueError",
    "instant",
    "request_from_row",
    "request_params",
    "role_from_row",
    "role_params",
    "user_from_row",
    "user_params",
]

UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
# An instant must come back as a UTC datetime, so the UTC range of datetime bounds it.
_FIRST_INSTANT = (dt.datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_LAST_INSTANT = (dt.datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_INTEGER_MAX = 2**63 - 1  # SQLite's INTEGER is a signed 64-bit number


class UnstorableValueError(Exception):
    """A value the SQLite store cannot write faithfully; the store adds the path and the object."""


class UnreadableRowError(Exception):
    """A stored row that does not make a valid object (edited by hand, or damaged)."""


# --- scalar values ------------------------------------------------------------------------------


def fold(text: str) -> str:
    """The case-insensitive key of a name, exactly as MemoryStore compares names."""
    return text.casefold()


def instant(value: dt.datetime, field: str) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise UnstorableValueError(
            f"{field} {value.isoformat()} has no time zone; give an aware datetime, "
            "e.g. datetime.now(timezone.utc)"
        )
    micros = (value - _EPOCH) // _MICROSECOND
    if not _FIRST_INSTANT <= micros <= _LAST_INSTANT:
        raise UnstorableValueError(
            f"{field} {value.isoformat()} is outside the years 1 to 9999 once converted to UTC"
        )
    return micros


def _optional_instant(value: dt.datetime | None, field: str) -> int | None:
    return None if value is None else instant(value, field)


def _from_instant(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


def _duration(value: dt.timedelta, field: str) -> int:
    micros = value // _MICROSECOND
    if abs(micros) > _INTEGER_MAX:
        raise UnstorableValueError(
            f"{field} {value} is longer than the store can hold (about 292,000 years); "
            "give a shorter duration"
        )
    return micros


def _zone_text(zone: dt.tzinfo, field: str) -> str:
    # `type() is`, not isinstance: a subclass would come back as its base class.
    if type(zone) is zoneinfo.ZoneInfo:
        if zone.key is None:
            raise UnstorableValueError(
                f"{field} has a ZoneInfo read from a file, which has no name to store; "
                "use zoneinfo.ZoneInfo('Europe/Paris') and the like"
            )
        return f"zone:{zone.key}"
    if type(zone) is dt.timezone:
        offset = zone.utcoffset(None)
        name = zone.tzname(None)
        text = f"offset:{offset // _MICROSECOND}"
        # Keep a name only when one was given: the default is derived from the offset.
        return text if name == dt.timezone(offset).tzname(None) else f"{text}:{name}"
    raise UnstorableValueError(
        f"{field} has a {type(zone).__module__}.{type(zone).__qualname__} time zone, which "
        "the SQLite store cannot rebuild; use zoneinfo.ZoneInfo('Europe/Paris') or "
        "datetime.timezone(timedelta(hours=1))"
    )


def _zone_from_text(text: str) -> dt.tzinfo:
    kind, _, rest = text.partition(":")
    if kind == "zone":
        try:
            return zoneinfo.ZoneInfo(rest)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"time zone {rest!r} is not known on this machine; install the tzdata package"
            ) from exc
    if kind == "offset":
        micros, separator, name = rest.partition(":")
        offset = dt.timedelta(microseconds=int(micros))
        return dt.timezone(offset, name) if separator else dt.timezone(offset)
    raise ValueError(f"time zone {text!r} is neither 'zone:...' nor 'offset:...'")


def _time_of_day(value: dt.time | None, field: str) -> str | None:
    if value is None:
        return None
    clock = value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return clock if value.tzinfo is None else f"{clock} {_zone_text(value.tzinfo, field)}"


def _time_from_text(text: str | None) -> dt.time | None:
    if text is None:
        return None
    clock, _, zone = text.partition(" ")
    value = dt.time.fromisoformat(clock)
    return value.replace(tzinfo=_zone_from_text(zone)) if zone else value


# --- typed access to row columns ----------------------------------------------------------------


def _text(row: sqlite3.Row, column: str) -> str:
    value = row[column]
    if not isinstance(value, str):
        raise TypeError(f"column {column} holds {type(value).__name__}, not text")
    return value


def _optional_text(row: sqlite3.Row, column: str) -> str | None:
    return None if row[column] is None else _text(row, column)


def _integer(row: sqlite3.Row, column: str) -> int:
    value = row[column]
    if not isinstance(value, int):
        raise TypeError(f"column {column} holds {type(value).__name__}, not an integer")
    return value


def _optional_integer(row: sqlite3.Row, column: str) -> int | None:
    return None if row[column] is None else _integer(row, column)


def _flag(row: sqlite3.Row, column: str) -> bool:
    value = _integer(row, column)
    if value not in (0, 1):
        raise ValueError(f"column {column} holds {value}, not 0 or 1")
    return value == 1


def _uuid(row: sqlite3.Row, column: str) -> uuid.UUID:
    return uuid.UUID(_text(row, column))


def _optional_instant_from(row: sqlite3.Row, column: str) -> dt.datetime | None:
    micros = _optional_integer(row, column)
    return None if micros is None else _from_instant(micros)


def _id_list(row: sqlite3.Row, column: str) -> list[uuid.UUID]:
    joined = _optional_text(row, column)
    return [] if joined is None else [uuid.UUID(part) for part in joined.split(",")]


def _unreadable(kind: str, row: sqlite3.Row, key: str, exc: Exception) -> UnreadableRowError:
    return UnreadableRowError(f"the {kind} row with {key} {row[key]!r} is not valid: {exc}")


# --- users ---------------------------------------------------------------------------------------

USER_COLUMNS = (
    "object_id",
    "source_domain",
    "source_domain_folded",
    "source_account_name",
    "source_account_folded",
    "display_name",
    "display_name_folded",
    "description",
    "email",
    "sid",
    "phone_country_code",
    "phone_national_number",
    "phone_extension",
    "pin",
    "privileged_account_name",
    "privileged_display_name",
    "privileged_account_active",
)


def user_params(user: User) -> dict[str, object]:
    """The column values of a user, by column name."""
    phone = user.phone
    return {
        "object_id": str(user.object_id),
        "source_domain": user.source_domain,
        "source_domain_folded": fold(user.source_domain),
        "source_account_name": user.source_account_name,
        "source_account_folded": fold(user.source_account_name),
        "display_name": user.display_name,
        "display_name_folded": None if user.display_name is None else fold(user.display_name),
        "description": user.description,
        "email": user.email,
        "sid": user.sid,
        "phone_country_code": None if phone is None else phone.country_code,
        "phone_national_number": None if phone is None else phone.national_number,
        "phone_extension": None if phone is None else phone.extension,
        "pin": user.pin,
        "privileged_account_name": user.privileged_account_name,
        "privileged_display_name": user.privileged_display_name,
        "privileged_account_active": int(user.privileged_account_active),
    }


def user_from_row(row: sqlite3.Row) -> User:
    """The user a row of ``users`` holds."""
    try:
        country_code = _optional_integer(row, "phone_country_code")
        phone = None
        if country_code is not None:
            phone = PhoneNumber(
                country_code,
                _text(row, "phone_national_number"),
                _optional_text(row, "phone_extension"),
            )
        return User(
            object_id=_uuid(row, "object_id"),
            source_domain=_text(row, "source_domain"),
            source_account_name=_text(row, "source_account_name"),
            display_name=_optional_text(row, "display_name"),
            description=_optional_text(row, "description"),
            email=_optional_text(row, "email"),
            sid=_optional_text(row, "sid"),
            phone=phone,
            pin=_optional_text(row, "pin"),
            privileged_account_name=_text(row, "privileged_account_name"),
            privileged_display_name=_optional_text(row, "privileged_display_name"),
            privileged_account_active=_flag(row, "privileged_account_active"),
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise _unreadable("user", row, "object_id", exc) from exc


# --- roles ---------------------------------------------------------------------------------------

ROLE_COLUMNS = (
    "role_id",
    "display_name",
    "display_name_folded",
    "description",
    "privileges",
    "ttl_us",
    "availability_window_enabled",
    "available_from",
    "available_to",
    "mfa_enabled",
    "approval_enabled",
)


def role_params(role: Role) -> dict[str, object]:
    """The column values of a role's own row (candidates and approvers live in child tables)."""
    return {
        "role_id": str(role.role_id),
        "display_name": role.display_name,
        "display_name_folded": fold(role.display_name),
        "description": role.description,
        "privileges": json.dumps(list(role.privileges), ensure_ascii=False),
        "ttl_us": _duration(role.ttl, "ttl"),
        "availability_window_enabled": int(role.availability_window_enabled),
        "available_from": _time_of_day(role.available_from, "available_from"),
        "available_to": _time_of_day(role.available_to, "available_to"),
        "mfa_enabled": int(role.mfa_enabled),
        "approval_enabled": int(role.approval_enabled),
    }


def _privileges(row: sqlite3.Row) -> list[str]:
    value = json.loads(_text(row, "privileges"))
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError("column privileges does not hold a JSON list of group names")
    return value


def role_from_row(row: sqlite3.Row) -> Role:
    """The role a row of ``roles`` holds, with ``candidates`` and ``approvers`` joined in."""
    try:
        return Role(
            role_id=_uuid(row, "role_id"),
            display_name=_text(row, "display_name"),
            description=_optional_text(row, "description"),
            candidates=_id_list(row, "candidates"),
            approvers=_id_list(row, "approvers"),
            privileges=_privileges(row),
            ttl=dt.timedelta(microseconds=_integer(row, "ttl_us")),
            availability_window_enabled=_flag(row, "availability_window_enabled"),
            available_from=_time_from_text(_optional_text(row, "available_from")),
            available_to=_time_from_text(_optional_text(row, "available_to")),
            mfa_enabled=_flag(row, "mfa_enabled"),
            approval_enabled=_flag(row, "approval_enabled"),
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise _unreadable("role", row, "role_id", exc) from exc


# --- requests ------------------------------------------------------------------------------------

REQUEST_COLUMNS = (
    "request_id",
    "requestor_id",
    "role_id",
    "justification",
    "requested_ttl_us",
    "requested_at",
    "created_at",
    "creation_method",
    "expires_at",
    "status",
    "activated_at",
    "decided_by",
    "mfa_call_id",
    "status_reason",
    "due_at",
    "finished_at",
)


def request_params(request: ActivationRequest) -> dict[str, object]:
    """The column values of a request, including the derived ``due_at`` and ``finished_at``."""
    due = due_time(request)
    return {
        "request_id": str(request.request_id),
        "requestor_id": str(request.requestor_id),
        "role_id": str(request.role_id),
        "justification": request.justification,
        "requested_ttl_us": _duration(request.requested_ttl, "requested_ttl"),
        "requested_at": _optional_instant(request.requested_time, "requested_time"),
        "created_at": instant(request.creation_time, "creation_time"),
        "creation_method": request.creation_method,
        "expires_at": _optional_instant(request.expiration_time, "expiration_time"),
        "status": request.status.value,
        "activated_at": _optional_instant(request.activation_time, "activation_time"),
        "decided_by": None if request.decided_by is None else str(request.decided_by),
        "mfa_call_id": request.mfa_call_id,
        "status_reason": request.status_reason,
        "due_at": None if due is None else instant(due, "due time"),
        "finished_at": (
            instant(ended_time(request), "end time")
            if request.status in FINISHED_STATUSES
            else None
        ),
    }


def request_from_row(row: sqlite3.Row) -> ActivationRequest:
    """The request a row of ``requests`` holds."""
    try:
        decided_by = _optional_text(row, "decided_by")
        return ActivationRequest(
            request_id=_uuid(row, "request_id"),
            requestor_id=_uuid(row, "requestor_id"),
            role_id=_uuid(row, "role_id"),
            justification=_text(row, "justification"),
            requested_ttl=dt.timedelta(microseconds=_integer(row, "requested_ttl_us")),
            requested_time=_optional_instant_from(row, "requested_at"),
            creation_time=_from_instant(_integer(row, "created_at")),
            creation_method=_text(row, "creation_method"),
            expiration_time=_optional_instant_from(row, "expires_at"),
            status=RequestStatus(_text(row, "status")),
            activation_time=_optional_instant_from(row, "activated_at"),
            decided_by=None if decided_by is None else uuid.UUID(decided_by),
            mfa_call_id=_optional_text(row, "mfa_call_id"),
            status_reason=_text(row, "status_reason"),
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise _unreadable("request", row, "request_id", exc) from exc
