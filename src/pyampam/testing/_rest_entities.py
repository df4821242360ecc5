"""What the PAM REST test server serves: MIM's entities as typed records, their schemas and JSON.

Each entity is built once as a *typed record* (Python values: ``uuid.UUID``, aware
``datetime``, ``int``, ``bool``, ``str`` or None) that ``$filter`` reads, and written as JSON
from that same record, with MIM's quirks: Int64 values (TTLs) as strings of seconds, as OData v3
JSON writes them; unset dates as ``0001-01-01T00:00:00`` (.NET's ``DateTime.MinValue``); set
dates in UTC with a ``Z`` and at most seven fractional digits, trailing zeros dropped; GUID
references of an approval as ``{"Value": ...}`` objects.

Property names are MIM's, including its inconsistent ``Id``/``ID`` spellings: ``RequestId``
and ``CreatorID`` side by side, ``FIMRequestID``, ``RequestorID``, ``ApprovalObjectID``. MIM's
reference pages name the role's id ``RoleID`` in their tables and ``RoleId`` in their JSON
examples; a client must be ready for both, so roles carry ``RoleId`` and requests ``RoleID``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from pyampam._model import ActivationRequest, Role, User
from pyampam.testing._rest_odata import EdmType, Schema, Value

__all__ = [
    "APPROVAL_SCHEMA",
    "REQUEST_SCHEMA",
    "ROLE_ID_IN_REQUESTS",
    "ROLE_ID_IN_ROLES",
    "ROLE_SCHEMA",
    "UNSET_TIME",
    "approval_id",
    "approval_record",
    "format_datetime",
    "request_record",
    "role_record",
    "to_json",
]

UTC = dt.timezone.utc
#: .NET's DateTime.MinValue: what MIM serves for a date that was never set.
UNSET_TIME = dt.datetime(1, 1, 1, tzinfo=UTC)
_UNSET_TEXT = "0001-01-01T00:00:00"

ROLE_ID_IN_ROLES = "RoleId"
ROLE_ID_IN_REQUESTS = "RoleID"

_GUID_VALUE: Mapping[str, EdmType] = {"Value": EdmType.GUID}

ROLE_SCHEMA: Schema = {
    ROLE_ID_IN_ROLES: EdmType.GUID,
    "DisplayName": EdmType.STRING,
    "Description": EdmType.STRING,
    "TTL": EdmType.INT64,
    "AvailableFrom": EdmType.DATETIME,
    "AvailableTo": EdmType.DATETIME,
    "MFAEnabled": EdmType.BOOLEAN,
    "ApprovalEnabled": EdmType.BOOLEAN,
    "AvailabilityWindowEnabled": EdmType.BOOLEAN,
}

REQUEST_SCHEMA: Schema = {
    "RequestId": EdmType.GUID,
    "CreatorID": EdmType.GUID,
    "Justification": EdmType.STRING,
    "CreationTime": EdmType.DATETIME,
    "CreationMethod": EdmType.STRING,
    "ExpirationTime": EdmType.DATETIME,
    ROLE_ID_IN_REQUESTS: EdmType.GUID,
    "RequestedTTL": EdmType.INT64,
    "RequestedTime": EdmType.DATETIME,
    "RequestStatus": EdmType.STRING,
}

APPROVAL_SCHEMA: Schema = {
    "RoleName": EdmType.STRING,
    "Requestor": EdmType.STRING,
    "Justification": EdmType.STRING,
    "RequestedTTL": EdmType.INT64,
    "RequestedTime": EdmType.DATETIME,
    "CreationTime": EdmType.DATETIME,
    "FIMRequestID": _GUID_VALUE,
    "RequestorID": _GUID_VALUE,
    "ApprovalObjectID": _GUID_VALUE,
}

# A fixed namespace, so the approval object of a request has the same id in every run and in
# every server over the same store.
_APPROVAL_NAMESPACE = uuid.UUID("6f1e2a57-3a0c-4c39-9d0e-1b7a40c2a9d1")


def approval_id(request_id: uuid.UUID) -> uuid.UUID:
    """The id of the approval object of a request (MIM's ``ApprovalObjectID``).

    MIM keeps approvals as objects of their own; pyampam has none, so the id is derived from
    the request's, and the same request always has the same approval id.
    """
    return uuid.uuid5(_APPROVAL_NAMESPACE, f"approval:{request_id}")


def format_datetime(moment: dt.datetime | None) -> str:
    """A date as MIM writes it: UTC with ``Z``, fraction trimmed; unset as 0001-01-01T00:00:00."""
    if moment is None or moment == UNSET_TIME:
        return _UNSET_TEXT
    utc = moment.astimezone(UTC)
    # isoformat, not strftime: strftime drops the leading zeros of years before 1000.
    text = utc.replace(tzinfo=None, microsecond=0).isoformat()
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _window_end(value: dt.time | None, today: dt.date) -> dt.datetime:
    """A time of day as MIM's AvailableFrom/To: on 0001-01-01, in UTC."""
    if value is None:
        return UNSET_TIME
    if value.tzinfo is None:
        utc_time = value
    else:
        # A zone's offset depends on the date (daylight saving): today's decides.
        utc_time = dt.datetime.combine(today, value).astimezone(UTC).timetz()
    return dt.datetime(
        1, 1, 1, utc_time.hour, utc_time.minute, utc_time.second, utc_time.microsecond, tzinfo=UTC
    )


def _seconds(duration: dt.timedelta) -> int:
    return int(duration.total_seconds())


def role_record(role: Role, *, today: dt.date) -> dict[str, Value]:
    """A role as a typed record of :data:`ROLE_SCHEMA`."""
    return {
        ROLE_ID_IN_ROLES: role.role_id,
        "DisplayName": role.display_name,
        "Description": role.description,
        "TTL": _seconds(role.ttl),
        "AvailableFrom": _window_end(role.available_from, today),
        "AvailableTo": _window_end(role.available_to, today),
        "MFAEnabled": role.mfa_enabled,
        "ApprovalEnabled": role.approval_enabled,
        "AvailabilityWindowEnabled": role.availability_window_enabled,
    }


def request_record(request: ActivationRequest) -> dict[str, Value]:
    """A request as a typed record of :data:`REQUEST_SCHEMA`.

    MIM fills RequestedTime with the time of the request when no later start was asked for.
    """
    return {
        "RequestId": request.request_id,
        "CreatorID": request.requestor_id,
        "Justification": request.justification or None,
        "CreationTime": request.creation_time,
        "CreationMethod": request.creation_method,
        "ExpirationTime": request.expiration_time or UNSET_TIME,
        ROLE_ID_IN_REQUESTS: request.role_id,
        "RequestedTTL": _seconds(request.requested_ttl),
        "RequestedTime": request.requested_time or request.creation_time,
        "RequestStatus": request.status.value,
    }


def approval_record(
    request: ActivationRequest, role_name: str | None, requestor: User | None
) -> dict[str, object]:
    """A pending approval as a typed record of :data:`APPROVAL_SCHEMA`.

    ``Requestor`` is the privileged account name, as MIM's example shows (``PRIV.Jen``).
    """
    return {
        "RoleName": role_name,
        "Requestor": None if requestor is None else requestor.privileged_account_name,
        "Justification": request.justification or None,
        "RequestedTTL": _seconds(request.requested_ttl),
        "RequestedTime": request.requested_time or request.creation_time,
        "CreationTime": request.creation_time,
        "FIMRequestID": {"Value": request.request_id},
        "RequestorID": {"Value": request.requestor_id},
        "ApprovalObjectID": {"Value": approval_id(request.request_id)},
    }


def _json_value(value: object, kind: EdmType | Mapping[str, EdmType]) -> Any:
    if not isinstance(kind, EdmType):
        members = value if isinstance(value, Mapping) else {}
        return {name: _json_value(members.get(name), member) for name, member in kind.items()}
    if value is None:
        return None
    if kind is EdmType.DATETIME:
        assert isinstance(value, dt.datetime)  # noqa: S101 -- records are built above
        return format_datetime(value)
    if kind in (EdmType.GUID, EdmType.INT64, EdmType.DECIMAL):
        # OData v3 JSON writes Int64 and Decimal as strings: JavaScript numbers lose digits.
        return str(value)
    return value


def to_json(record: Mapping[str, object], schema: Schema) -> dict[str, Any]:
    """A typed record as MIM's JSON object, in the schema's property order."""
    return {name: _json_value(record.get(name), kind) for name, kind in schema.items()}
