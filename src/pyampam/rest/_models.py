"""What the PAM REST API returns, as typed frozen values, and how MIM's JSON is read into them.

MIM's JSON has quirks the readers absorb: TTLs are strings of seconds, unset dates are
``0001-01-01T00:00:00``, id properties are spelled ``RoleId`` or ``RoleID``, some ids are
wrapped as ``{"Value": ...}`` (and may carry a ``urn:uuid:`` prefix), dates come without a time
zone (they are UTC) or as ``/Date(ms)/``, and a status MIM adds later is kept as its raw string.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from pyampam._model import RequestStatus
from pyampam.exceptions import InvalidValueError
from pyampam.rest._errors import RestProtocolError

__all__ = [
    "PendingApproval",
    "RemoteRequest",
    "RemoteRole",
    "format_datetime",
    "format_time_of_day",
    "normalize_id",
    "parse_datetime",
    "parse_time_of_day",
    "parse_ttl",
]

UTC = dt.timezone.utc
_T = TypeVar("_T")

# .NET's DateTime.MinValue: what MIM sends for a date that was never set.
_UNSET_DATE = dt.date(1, 1, 1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MIDNIGHT = dt.time(0, 0, tzinfo=UTC)

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII | re.IGNORECASE,
)
# The WCF/ASP.NET AJAX form; the offset is informational, the milliseconds are UTC already.
_MS_DATE = re.compile(r"\\?/Date\((-?\d{1,20})(?:[+-]\d{4})?\)\\?/", re.ASCII)
_SECONDS = re.compile(r"\+?(\d{1,20})(?:\.0*)?", re.ASCII)
# .NET TimeSpan text ([d.]hh:mm:ss[.fffffff]), in case a TTL arrives in that form.
_TIMESPAN = re.compile(r"(?:(\d{1,9})\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?", re.ASCII)
_URN_UUID = "urn:uuid:"


# -- readers of single values ---------------------------------------------------------------


def parse_datetime(value: object, *, field: str = "value") -> dt.datetime | None:
    """Read a date as MIM sends it, as an aware UTC datetime; ``None`` for an unset date.

    Accepts ISO 8601 with or without a time zone (none means UTC), any number of fractional
    digits (.NET sends seven), ``/Date(ms)/``, ``null`` and the empty string. Any time on
    0001-01-01 (.NET's ``DateTime.MinValue``, MIM's "never set") is ``None``.
    """
    moment = _read_moment(value, field)
    if moment is None or moment.date() == _UNSET_DATE:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError as error:
        raise _bad(field, value, "a date Python can hold") from error


def parse_time_of_day(value: object, *, field: str = "value") -> dt.time | None:
    """Read a time of day (a role's AvailableFrom/To) as an aware UTC time.

    MIM keeps only the time of day of these, usually on 0001-01-01; ``0001-01-01T00:00:00``
    itself (``DateTime.MinValue``) is read as unset, ``None``.
    """
    moment = _read_moment(value, field)
    if moment is None or moment.replace(tzinfo=None) == dt.datetime.min:
        return None
    return _time_in_utc(moment.timetz())


def _time_in_utc(value: dt.time) -> dt.time:
    # On a date far from either end of the calendar, so an offset cannot step out of it.
    moment = dt.datetime.combine(dt.date(2000, 1, 2), value)
    if moment.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).timetz()


def _read_moment(value: object, field: str) -> dt.datetime | None:
    """A date string as an aware datetime in its own zone (UTC when it names none)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(field, value, "a date string")
    text = value.strip()
    try:
        iso = _ISO.fullmatch(text)
        if iso is not None:
            return _from_iso(iso)
        ms_date = _MS_DATE.fullmatch(text)
        if ms_date is not None:
            return _EPOCH + dt.timedelta(milliseconds=int(ms_date.group(1)))
    except (ValueError, OverflowError) as error:
        raise _bad(field, value, "a valid date") from error
    raise _bad(field, value, "an ISO 8601 date such as 2016-06-01T09:00:00")


def _from_iso(match: re.Match[str]) -> dt.datetime:
    year, month, day, hour, minute = (int(match.group(n)) for n in range(1, 6))
    second = int(match.group(6) or 0)
    fraction = (match.group(7) or "")[:6].ljust(6, "0")
    zone = UTC
    offset = match.group(8)
    if offset and offset.upper() != "Z":
        digits = offset[1:].replace(":", "")
        delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        zone = dt.timezone(-delta if offset[0] == "-" else delta)
    return dt.datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=zone)


def format_datetime(value: dt.datetime | None) -> str:
    """Write a date as MIM does: UTC with a ``Z``, or ``0001-01-01T00:00:00`` when unset."""
    if value is None:
        return "0001-01-01T00:00:00"
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def format_time_of_day(value: dt.time | None) -> str:
    """Write a time of day as MIM does: on 0001-01-01 in UTC; unset as ``DateTime.MinValue``."""
    if value is None:
        return "0001-01-01T00:00:00"
    utc = _time_in_utc(value).replace(tzinfo=None)
    return f"0001-01-01T{utc.isoformat()}Z"


def parse_ttl(value: object, *, field: str = "TTL") -> dt.timedelta | None:
    """Read a TTL as MIM sends it (a string of seconds, e.g. ``"3600"``); ``None`` when unset."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise _bad(field, value, "a number of seconds")
        if isinstance(value, int):
            seconds = value
        elif isinstance(value, float) and value.is_integer():
            seconds = int(value)
        elif isinstance(value, str) and (match := _SECONDS.fullmatch(value.strip())):
            seconds = int(match.group(1))
        elif isinstance(value, str) and (span := _TIMESPAN.fullmatch(value.strip())):
            days, hours, minutes, secs = (int(span.group(n) or 0) for n in range(1, 5))
            fraction = (span.group(5) or "").ljust(6, "0")[:6]
            return dt.timedelta(
                days=days, hours=hours, minutes=minutes, seconds=secs, microseconds=int(fraction)
            )
        else:
            raise _bad(field, value, "a whole number of seconds such as '3600'")
        if seconds < 0:
            raise _bad(field, value, "a number of seconds that is not negative")
        return dt.timedelta(seconds=seconds)
    except OverflowError as error:
        raise _bad(field, value, "a number of seconds Python can hold") from error


def normalize_id(value: object, *, field: str = "id") -> str:
    """An object id as a plain string: unwrapped, without ``urn:uuid:``, GUIDs in lower case."""
    value = _unwrap(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise _bad(field, value, "an id string")
    text = value.strip()
    if text[: len(_URN_UUID)].lower() == _URN_UUID:
        text = text[len(_URN_UUID) :]
    try:
        return str(uuid.UUID(text))
    except ValueError:
        # Not every id MIM shows needs to be a GUID for us to carry it; keep it as it came.
        return text


def _parse_text(value: object, *, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise _bad(field, value, "a string")


def _parse_bool(value: object, *, field: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise _bad(field, value, "true or false")


def _parse_status(value: object, *, field: str) -> RequestStatus | str:
    if isinstance(value, bool) or value is None:
        raise _bad(field, value, "a status such as 'Active'")
    if isinstance(value, (int, str)):
        return _to_status(str(value))
    raise _bad(field, value, "a status such as 'Active'")


def _to_status(value: RequestStatus | str) -> RequestStatus | str:
    if not isinstance(value, str):
        return value  # a RequestStatus, or something wrong that the validator names
    try:
        return RequestStatus(value)
    except ValueError:
        for status in RequestStatus:
            if status.value.lower() == value.strip().lower():
                return status
        # A status this version does not know is kept, so newer MIM builds do not break us.
        return value


def _unwrap(value: object) -> object:
    # MIM serialises its UniqueIdentifier (and a few other values) as {"Value": ...}.
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, inner),) = value.items()
        if isinstance(key, str) and key.lower() == "value":
            return inner
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(field: str, value: object, wanted: str) -> RestProtocolError:
    return RestProtocolError(f"field {field} is {_shown(value)}, not {wanted}")


class _Fields:
    """An entity's properties, looked up without regard to case (``RoleId`` and ``RoleID``)."""

    def __init__(self, data: object, entity: str) -> None:
        if not isinstance(data, Mapping):
            raise RestProtocolError(f"a {entity} must be a JSON object, not {_shown(data)}")
        self.entity = entity
        self._values = {
            key.lower(): _unwrap(value) for key, value in data.items() if isinstance(key, str)
        }

    def get(self, *names: str) -> object:
        for name in names:
            if name.lower() in self._values:
                return self._values[name.lower()]
        return None

    def read(self, reader: Callable[..., _T], *names: str, required: bool = False) -> _T:
        value = self.get(*names)
        if required and value in (None, ""):
            raise RestProtocolError(f"a {self.entity} has no {names[0]}")
        try:
            return reader(value, field=names[0])
        except RestProtocolError as error:
            raise RestProtocolError(f"{self.entity}: {error.message}") from error


# -- converters and validators for the attrs classes -----------------------------------------


def _optional_utc(value: dt.datetime | None) -> dt.datetime | None:
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        return value.astimezone(UTC)
    return value


def _aware_or_none(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidValueError(
            f"{attribute.name} must be an aware datetime (e.g. in timezone.utc) or None, "
            f"not {value!r}",
            field=attribute.name,
        )


def _optional_time_utc(value: dt.time | None) -> dt.time | None:
    if isinstance(value, dt.time):
        return _time_in_utc(value)
    return value


def _time_or_none(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, dt.time):
        raise InvalidValueError(
            f"{attribute.name} must be a datetime.time (naive means UTC) or None, not {value!r}",
            field=attribute.name,
        )


def _optional_ttl(value: dt.timedelta | int | None) -> dt.timedelta | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    return value  # type: ignore[return-value]  # anything else is left to the validator


def _ttl_or_none(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, dt.timedelta):
        raise InvalidValueError(
            f"{attribute.name} must be a timedelta, a number of seconds or None, not {value!r}",
            field=attribute.name,
        )


def _id(value: object) -> str:
    if isinstance(value, (str, uuid.UUID)):
        return normalize_id(value)
    return value  # type: ignore[return-value]  # left to the validator, which names the field


_text = attrs.validators.instance_of(str)
_flag = attrs.validators.instance_of(bool)


def _status_value(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, (RequestStatus, str)):
        raise InvalidValueError(
            f"{attribute.name} must be a RequestStatus or a string, not {value!r}",
            field=attribute.name,
        )


# -- the values ------------------------------------------------------------------------------


@attrs.frozen
class RemoteRole:
    """A PAM role as ``GET pamroles`` describes it.

    ``ttl`` is how long an activation lasts; ``available_from``/``available_to`` bound the
    availability window as times of day in UTC (only when ``availability_window_enabled``).
    MIM sends an unset end and midnight alike (``0001-01-01T00:00:00``): it is read as midnight
    when the window is enabled, else as ``None``.
    """

    role_id: str = attrs.field(converter=_id, validator=_text)
    display_name: str = attrs.field(default="", validator=_text)
    description: str = attrs.field(default="", validator=_text)
    ttl: dt.timedelta | None = attrs.field(
        default=None, converter=_optional_ttl, validator=_ttl_or_none
    )
    available_from: dt.time | None = attrs.field(
        default=None, converter=_optional_time_utc, validator=_time_or_none
    )
    available_to: dt.time | None = attrs.field(
        default=None, converter=_optional_time_utc, validator=_time_or_none
    )
    mfa_enabled: bool = attrs.field(default=False, validator=_flag)
    approval_enabled: bool = attrs.field(default=False, validator=_flag)
    availability_window_enabled: bool = attrs.field(default=False, validator=_flag)

    @classmethod
    def from_json(cls, data: object) -> RemoteRole:
        """Read one role object of MIM's JSON; :class:`RestProtocolError` if it is not one."""
        fields = _Fields(data, "role")
        window = fields.read(_parse_bool, "AvailabilityWindowEnabled")
        ends = []
        for name in ("AvailableFrom", "AvailableTo"):
            end = fields.read(parse_time_of_day, name)
            if end is None and window and fields.get(name) not in (None, ""):
                end = _MIDNIGHT  # an enabled window's end at 00:00 looks like MinValue
            ends.append(end)
        return cls(
            role_id=fields.read(normalize_id, "RoleID", "RoleId", required=True),
            display_name=fields.read(_parse_text, "DisplayName"),
            description=fields.read(_parse_text, "Description"),
            ttl=fields.read(parse_ttl, "TTL"),
            available_from=ends[0],
            available_to=ends[1],
            mfa_enabled=fields.read(_parse_bool, "MFAEnabled"),
            approval_enabled=fields.read(_parse_bool, "ApprovalEnabled"),
            availability_window_enabled=window,
        )

    def to_json(self) -> dict[str, object]:
        """The role as MIM writes it (TTL as a string of seconds, unset dates as year 1)."""
        return {
            "RoleID": self.role_id,
            "DisplayName": self.display_name,
            "Description": self.description,
            "TTL": _ttl_text(self.ttl),
            "AvailableFrom": format_time_of_day(self.available_from),
            "AvailableTo": format_time_of_day(self.available_to),
            "MFAEnabled": self.mfa_enabled,
            "ApprovalEnabled": self.approval_enabled,
            "AvailabilityWindowEnabled": self.availability_window_enabled,
        }


@attrs.frozen
class RemoteRequest:
    """A PAM activation request as ``GET``/``POST pamrequests`` describes it.

    ``status`` is a :class:`pyampam.RequestStatus`, or the raw string when MIM sends a status
    this version does not know. ``expiration_time`` is ``None`` while the request is pending.
    """

    request_id: str = attrs.field(converter=_id, validator=_text)
    role_id: str = attrs.field(default="", converter=_id, validator=_text)
    creator_id: str = attrs.field(default="", converter=_id, validator=_text)
    justification: str = attrs.field(default="", validator=_text)
    requested_ttl: dt.timedelta | None = attrs.field(
        default=None, converter=_optional_ttl, validator=_ttl_or_none
    )
    requested_time: dt.datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_aware_or_none
    )
    creation_time: dt.datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_aware_or_none
    )
    creation_method: str = attrs.field(default="", validator=_text)
    expiration_time: dt.datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_aware_or_none
    )
    status: RequestStatus | str = attrs.field(
        default=RequestStatus.PROCESSING, converter=_to_status, validator=_status_value
    )

    @classmethod
    def from_json(cls, data: object) -> RemoteRequest:
        """Read one request object of MIM's JSON; :class:`RestProtocolError` if it is not one."""
        fields = _Fields(data, "request")
        status = fields.get("RequestStatus", "Status")
        if status is None:
            raise RestProtocolError("a request has no RequestStatus")
        return cls(
            request_id=fields.read(normalize_id, "RequestID", "RequestId", required=True),
            role_id=fields.read(_optional_id, "RoleID", "RoleId"),
            creator_id=fields.read(_optional_id, "CreatorID", "CreatorId"),
            justification=fields.read(_parse_text, "Justification"),
            requested_ttl=fields.read(parse_ttl, "RequestedTTL"),
            requested_time=fields.read(parse_datetime, "RequestedTime"),
            creation_time=fields.read(parse_datetime, "CreationTime"),
            creation_method=fields.read(_parse_text, "CreationMethod"),
            expiration_time=fields.read(parse_datetime, "ExpirationTime"),
            status=fields.read(_parse_status, "RequestStatus", "Status"),
        )

    def to_json(self) -> dict[str, object]:
        """The request as MIM writes it."""
        return {
            "RequestID": self.request_id,
            "RoleID": self.role_id,
            "CreatorID": self.creator_id,
            "Justification": self.justification,
            "RequestedTTL": _ttl_text(self.requested_ttl),
            "RequestedTime": format_datetime(self.requested_time),
            "CreationTime": format_datetime(self.creation_time),
            "CreationMethod": self.creation_method,
            "ExpirationTime": format_datetime(self.expiration_time),
            "RequestStatus": str(self.status),
        }


@attrs.frozen
class PendingApproval:
    """A request waiting for the caller's approval, as ``GET pamrequeststoapprove`` lists it.

    ``approval_id`` (MIM's ApprovalObjectID) is what approve and reject address;
    ``fim_request_id`` is the MIM Service request behind it.
    """

    approval_id: str = attrs.field(converter=_id, validator=_text)
    fim_request_id: str = attrs.field(default="", converter=_id, validator=_text)
    requestor: str = attrs.field(default="", validator=_text)
    requestor_id: str = attrs.field(default="", converter=_id, validator=_text)
    role_name: str = attrs.field(default="", validator=_text)
    justification: str = attrs.field(default="", validator=_text)
    requested_ttl: dt.timedelta | None = attrs.field(
        default=None, converter=_optional_ttl, validator=_ttl_or_none
    )
    requested_time: dt.datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_aware_or_none
    )
    creation_time: dt.datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_aware_or_none
    )

    @classmethod
    def from_json(cls, data: object) -> PendingApproval:
        """Read one approval object of MIM's JSON; :class:`RestProtocolError` if it is not one."""
        fields = _Fields(data, "request to approve")
        return cls(
            approval_id=fields.read(
                normalize_id, "ApprovalObjectID", "ApprovalObjectId", required=True
            ),
            fim_request_id=fields.read(_optional_id, "FIMRequestID", "FIMRequestId"),
            requestor=fields.read(_parse_text, "Requestor"),
            requestor_id=fields.read(_optional_id, "RequestorID", "RequestorId"),
            role_name=fields.read(_parse_text, "RoleName"),
            justification=fields.read(_parse_text, "Justification"),
            requested_ttl=fields.read(parse_ttl, "RequestedTTL"),
            requested_time=fields.read(parse_datetime, "RequestedTime"),
            creation_time=fields.read(parse_datetime, "CreationTime"),
        )

    def to_json(self) -> dict[str, object]:
        """The approval as MIM writes it (``FIMRequestID`` wrapped as ``{"Value": ...}``)."""
        return {
            "ApprovalObjectID": self.approval_id,
            "FIMRequestID": {"Value": self.fim_request_id},
            "Requestor": self.requestor,
            "RequestorID": self.requestor_id,
            "RoleName": self.role_name,
            "Justification": self.justification,
            "RequestedTTL": _ttl_text(self.requested_ttl),
            "RequestedTime": format_datetime(self.requested_time),
            "CreationTime": format_datetime(self.creation_time),
        }


def _optional_id(value: object, *, field: str) -> str:
    return "" if value is None or value == "" else normalize_id(value, field=field)


def _ttl_text(value: dt.timedelta | None) -> str | None:
    return None if value is None else str(int(value.total_seconds()))


# -- OData envelopes -------------------------------------------------------------------------


def collection_items(body: object) -> tuple[list[object], str | None]:
    """The items of an OData collection and its ``odata.nextLink`` (``None`` on the last page).

    Reads the v3 light form ``{"value": [...]}``, the verbose ``{"d": {"results": [...]}}`` and
    ``{"d": [...]}``, and a bare list.
    """
    next_link: object = None
    items: object = body
    if isinstance(body, Mapping):
        if "d" in body and "value" not in body:
            inner = body["d"]
            items = inner
            if isinstance(inner, Mapping):
                items = inner.get("results")
                next_link = inner.get("__next")
        else:
            items = body.get("value")
            next_link = body.get("odata.nextLink", body.get("@odata.nextLink"))
    if not isinstance(items, list):
        raise RestProtocolError(
            f'expected an OData collection ({{"value": [...]}}), got {_shown(body)}'
        )
    if next_link is not None and not isinstance(next_link, str):
        raise RestProtocolError(f"odata.nextLink is {_shown(next_link)}, not a URL")
    return items, next_link or None


def single_entity(body: object) -> object:
    """The entity of an OData single-entity answer (plain, or verbose ``{"d": {...}}``)."""
    if isinstance(body, Mapping) and set(body) == {"d"}:
        return body["d"]
    if isinstance(body, Mapping) and isinstance(body.get("value"), list):
        # A one-element collection where one entity was expected: tolerate it.
        items = body["value"]
        if len(items) == 1:
            return items[0]
    return body
