"""The events of the "Privileged Access Management" log: levels, ids and the event itself."""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, TypeAlias

import attrs

from pyampam._display import EVENTS, PrettyPrinter, event_record, html_fields, pretty_object
from pyampam._model import ActivationRequest
from pyampam._phone import PhoneNumber
from pyampam.exceptions import InvalidValueError, LocatedError

__all__ = [
    "PYAMPAM_EVENT_IDS",
    "EventId",
    "EventLevel",
    "EventLogError",
    "EventSinkError",
    "ExtraValue",
    "PamEvent",
]

UTC = dt.timezone.utc

ExtraValue: TypeAlias = str | int | float | bool | None
"""What an event's ``extra`` may hold: one JSON scalar per key, nothing nested."""

# Windows event ids are 16-bit, so a Windows Event Log sink could write every id here unchanged.
_MAX_EVENT_ID = 0xFFFF

PYAMPAM_EVENT_IDS = range(60100, 60200)
"""The ids pyampam keeps for its own events, well clear of Microsoft's (see :class:`EventId`)."""

# A key naming one of these is almost certainly about to carry a secret (rule 3 of the house).
_SECRET_WORDS = frozenset(
    {"pin", "password", "passwd", "pwd", "secret", "otp", "passcode", "key", "token", "credential"}
)
# Words of snake_case, camelCase and SHOUTING_CASE keys: "CERT_PASSWORD", "groupKey", "pin".
_KEY_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
# Control characters (Unicode category Cc); text fields of an event hold none but line breaks.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("[\n\r\t]")


class EventLogError(LocatedError):
    """The event log failed: a line of a JSON Lines file is broken, or a file cannot be used.

    ``path`` and ``line`` locate the problem where that is known; ``str()`` starts with
    ``path:line:`` so editors and terminals can jump to it.
    """


class EventSinkError(EventLogError):
    """One or more sinks failed to take an event (or to close); every other sink took it.

    ``failures`` pairs each failing sink with the exception it raised.
    """

    def __init__(
        self, message: str, *, failures: tuple[tuple[object, BaseException], ...] = ()
    ) -> None:
        self.failures = failures
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        # The sinks themselves may hold open files; only the message travels.
        return (type(self), (self.message,))


class EventLevel(enum.Enum):
    """The severity of an event, spelled as the Windows Event Log spells it."""

    ERROR = "Error"
    WARNING = "Warning"
    INFORMATION = "Information"

    def __str__(self) -> str:
        return self.value


MIM_SERVICE = "MIM Service"
PAM_MONITORING_SERVICE = "PAM Monitoring Service"
PYAMPAM = "pyampam"


class EventId(enum.IntEnum):
    """The ids of the events pyampam records, each knowing its level, source and meaning.

    101, 103 and 825 are MIM's own, exactly as Microsoft documents them. MIM publishes no other
    id, so pyampam's lifecycle events use :data:`PYAMPAM_EVENT_IDS` (60100 to 60199): far from
    Microsoft's published ids and from the low ranges Microsoft's services use, yet still valid
    16-bit Windows event ids, and with room to grow without renumbering.
    """

    MFA_NOT_COMPLETED = 101
    MFA_COMPLETED = 103
    PHONE_NUMBER_CHANGED = 825

    REQUEST_CREATED = 60100
    REQUEST_SCHEDULED = 60101
    REQUEST_APPROVED = 60102
    REQUEST_REJECTED = 60103
    REQUEST_ACTIVATED = 60104
    REQUEST_CLOSED = 60105
    REQUEST_EXPIRED = 60106

    @property
    def level(self) -> EventLevel:
        """The severity an event with this id always has."""
        return _DETAILS[self][0]

    @property
    def source(self) -> str:
        """Who generates the event: ``MIM Service``, ``PAM Monitoring Service`` or ``pyampam``."""
        return _DETAILS[self][1]

    @property
    def meaning(self) -> str:
        """One sentence saying what the event means."""
        return _DETAILS[self][2]

    @property
    def is_mim(self) -> bool:
        """Whether this is one of the three ids Microsoft documents for MIM PAM."""
        return self.source != PYAMPAM


_DETAILS: dict[EventId, tuple[EventLevel, str, str]] = {
    EventId.MFA_NOT_COMPLETED: (
        EventLevel.ERROR,
        MIM_SERVICE,
        "User did not complete Azure MFA (e.g. did not answer the phone)",
    ),
    EventId.MFA_COMPLETED: (
        EventLevel.INFORMATION,
        MIM_SERVICE,
        "User completed Azure MFA during activation",
    ),
    EventId.PHONE_NUMBER_CHANGED: (
        EventLevel.WARNING,
        PAM_MONITORING_SERVICE,
        "Telephone number has been changed",
    ),
    EventId.REQUEST_CREATED: (EventLevel.INFORMATION, PYAMPAM, "Activation request created"),
    EventId.REQUEST_SCHEDULED: (
        EventLevel.INFORMATION,
        PYAMPAM,
        "Activation request authorized and scheduled for a later start",
    ),
    EventId.REQUEST_APPROVED: (
        EventLevel.INFORMATION,
        PYAMPAM,
        "Activation request approved by a role owner",
    ),
    EventId.REQUEST_REJECTED: (
        EventLevel.INFORMATION,
        PYAMPAM,
        "Activation request rejected",
    ),
    EventId.REQUEST_ACTIVATED: (
        EventLevel.INFORMATION,
        PYAMPAM,
        "Role activated: the membership is granted until the request expires",
    ),
    EventId.REQUEST_CLOSED: (
        EventLevel.INFORMATION,
        PYAMPAM,
        "Activation request closed: the membership was removed",
    ),
    EventId.REQUEST_EXPIRED: (
        EventLevel.INFORMATION,
        PYAMPAM,
        "Activation request expired: the membership was removed",
    ),
}

_LIFECYCLE = frozenset(event_id for event_id in EventId if not event_id.is_mim)


# --- validation and conversion -----------------------------------------------------------------


def _check_text(name: str, value: object, *, allow_newlines: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidValueError(f"{name} must be a str, not {type(value).__name__}", field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be written to any UTF-8 file or log: refuse it now.
        raise InvalidValueError(
            f"{name} contains a lone surrogate, which no UTF-8 file can hold; "
            "decode the text properly",
            field=name,
        ) from None
    checked = _LINE_BREAKS.sub("", value) if allow_newlines else value
    if _CONTROL.search(checked):
        raise InvalidValueError(f"{name} {value!r} contains a control character", field=name)
    return value


def _event_id(value: object) -> int:
    if isinstance(value, EventId):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_EVENT_ID:
        raise InvalidValueError(
            f"event_id must be a whole number from 0 to {_MAX_EVENT_ID}, not {value!r}",
            field="event_id",
        )
    # Known ids come back as EventId, so `event.event_id.meaning` works on events read from files.
    try:
        return EventId(value)
    except ValueError:
        return value


def _level(value: object) -> EventLevel:
    if isinstance(value, EventLevel):
        return value
    if isinstance(value, str):
        for level in EventLevel:
            if value.casefold() == level.value.casefold():
                return level
    raise InvalidValueError(
        f"level must be an EventLevel or one of 'Error', 'Warning', 'Information', not {value!r}",
        field="level",
    )


def _to_utc(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise InvalidValueError(
            f"time must be a datetime.datetime, not {type(value).__name__}", field="time"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValueError(
            f"time {value.isoformat()} has no time zone; give an aware datetime, "
            "e.g. datetime.now(timezone.utc)",
            field="time",
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidValueError(
            f"time {value.isoformat()} is out of range once moved to UTC", field="time"
        ) from None


def _optional_uuid(
    instance: object, attribute: attrs.Attribute[uuid.UUID | None], value: object
) -> None:
    if value is not None and not isinstance(value, uuid.UUID):
        raise InvalidValueError(
            f"{attribute.name} must be a uuid.UUID or None, not {type(value).__name__}",
            field=attribute.name,
        )


def _source(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_text("source", value)
    if not value.strip():
        raise InvalidValueError("source must not be empty; give e.g. 'pyampam'", field="source")


def _message(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_text("message", value, allow_newlines=True)


def _role_name(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None and not _check_text("role_name", value).strip():
        raise InvalidValueError("role_name must not be empty; use None", field="role_name")


def _call_result(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, enum.Enum) and isinstance(value.value, str):
        # A CallResult's value is its report name.
        value = value.value
    text = _check_text("call_result", value)
    if not text.strip():
        raise InvalidValueError("call_result must not be empty; use None", field="call_result")
    return text


class _FrozenExtra(Mapping[str, ExtraValue]):
    """A read-only, hashable and picklable mapping for :attr:`PamEvent.extra`."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, ExtraValue]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> ExtraValue:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._items)

    def __reduce__(self) -> tuple[object, ...]:
        return (_FrozenExtra, (dict(self._items),))


def _names_a_secret(key: str) -> bool:
    words = {word.casefold() for word in _KEY_WORDS.findall(key)}
    return bool(words & _SECRET_WORDS)


def _extra(value: object) -> Mapping[str, ExtraValue]:
    if isinstance(value, _FrozenExtra):
        return value
    if not isinstance(value, Mapping):
        raise InvalidValueError(
            f"extra must be a mapping of names to JSON scalars, not {type(value).__name__}",
            field="extra",
        )
    items: dict[str, ExtraValue] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidValueError(f"extra keys must be non-empty str, not {key!r}", field="extra")
        _check_text("extra key", key)
        if _names_a_secret(key):
            raise InvalidValueError(
                f"extra key {key!r} names a secret; events are kept and shipped in the clear, "
                "so they must never hold PINs, passwords, keys or passcodes",
                field="extra",
            )
        if isinstance(item, str):
            _check_text(f"extra[{key!r}]", item, allow_newlines=True)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidValueError(
                f"extra[{key!r}] is {item!r}, which JSON cannot hold; use a finite number or None",
                field="extra",
            )
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise InvalidValueError(
                f"extra[{key!r}] must be a str, int, float, bool or None, "
                f"not {type(item).__name__}; convert it to text",
                field="extra",
            )
        items[key] = item
    return _FrozenExtra(items)


def _utc_text(moment: dt.datetime) -> str:
    # A fixed width keeps the lines of a JSON Lines file sortable as text.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse_time(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise InvalidValueError(
            f"time must be ISO-8601 text such as '2024-01-15T12:00:00Z', not {value!r}",
            field="time",
        )
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(
            f"time {value!r} is not ISO-8601 text such as '2024-01-15T12:00:00Z'", field="time"
        ) from None
    return _to_utc(moment)


def _parse_uuid(data: Mapping[str, object], name: str) -> uuid.UUID | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueError(f"{name} must be a GUID as text, not {value!r}", field=name)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidValueError(f"{name} {value!r} is not a GUID", field=name) from None


def _phone_text(name: str, value: PhoneNumber | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, PhoneNumber):
        return str(value)
    raise InvalidValueError(
        f"{name} must be a PhoneNumber, its text, or None, not {type(value).__name__}", field=name
    )


# --- the event ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PamEvent:
    """One entry of the "Privileged Access Management" event log.

    ``time`` is aware and kept in UTC. ``event_id`` comes back as an :class:`EventId` when it
    is one of the known ids; for those, ``level`` and ``source`` must be the id's own. Prefer
    the named constructors (:meth:`mfa_not_completed`, :meth:`mfa_completed`,
    :meth:`phone_number_changed`, :meth:`lifecycle`) to the bare constructor.

    **No secret ever goes into an event.** There is no field for a PIN, key or password, and
    ``extra`` refuses keys that name one (``pin``, ``password``, ``group_key``...), but the
    check cannot read minds: callers must never put a PIN, passcode, key or certificate
    password into ``message`` or ``extra`` values. Event files and logs are shipped in the clear.
    """

    event_id: int = attrs.field(converter=_event_id)
    level: EventLevel = attrs.field(converter=_level)
    source: str = attrs.field(validator=_source)
    time: dt.datetime = attrs.field(converter=_to_utc)
    message: str = attrs.field(validator=_message)
    user_id: uuid.UUID | None = attrs.field(default=None, validator=_optional_uuid)
    role_id: uuid.UUID | None = attrs.field(default=None, validator=_optional_uuid)
    role_name: str | None = attrs.field(default=None, validator=_role_name)
    request_id: uuid.UUID | None = attrs.field(default=None, validator=_optional_uuid)
    call_result: str | None = attrs.field(default=None, converter=_call_result)
    extra: Mapping[str, ExtraValue] = attrs.field(factory=dict, converter=_extra)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.event_id, EventId):
            known = self.event_id
            if self.level is not known.level:
                raise InvalidValueError(
                    f"event {int(known)} ({known.name}) is always {known.level.value}, "
                    f"not {self.level.value}",
                    field="level",
                )
            if self.source != known.source:
                raise InvalidValueError(
                    f"event {int(known)} ({known.name}) always comes from {known.source!r}, "
                    f"not {self.source!r}",
                    field="source",
                )

    # -- named constructors --------------------------------------------------------------------

    @classmethod
    def mfa_not_completed(
        cls,
        *,
        time: dt.datetime,
        user_id: uuid.UUID,
        role_id: uuid.UUID | None = None,
        role_name: str | None = None,
        request_id: uuid.UUID | None = None,
        call_result: str | enum.Enum | None = None,
        message: str | None = None,
    ) -> PamEvent:
        """Event 101 (Error, MIM Service): the user did not complete Azure MFA.

        ``call_result`` is the provider's outcome, a :class:`~pyampam.providers.CallResult`
        or its raw name (``FAILED_USER_HUNGUP_ON_US``...). The default message names the role
        and the call result.
        """
        outcome = _call_result(call_result)
        if message is None:
            message = "User did not complete Azure MFA" + _role_suffix(role_name)
            if outcome is not None:
                message += f"; call result: {outcome}"
        return cls(
            event_id=EventId.MFA_NOT_COMPLETED,
            level=EventLevel.ERROR,
            source=MIM_SERVICE,
            time=time,
            message=message,
            user_id=user_id,
            role_id=role_id,
            role_name=role_name,
            request_id=request_id,
            call_result=outcome,
        )

    @classmethod
    def mfa_completed(
        cls,
        *,
        time: dt.datetime,
        user_id: uuid.UUID,
        role_id: uuid.UUID | None = None,
        role_name: str | None = None,
        request_id: uuid.UUID | None = None,
        call_result: str | enum.Enum | None = None,
        message: str | None = None,
    ) -> PamEvent:
        """Event 103 (Information, MIM Service): the user completed Azure MFA during activation."""
        return cls(
            event_id=EventId.MFA_COMPLETED,
            level=EventLevel.INFORMATION,
            source=MIM_SERVICE,
            time=time,
            message=EventId.MFA_COMPLETED.meaning + _role_suffix(role_name)
            if message is None
            else message,
            user_id=user_id,
            role_id=role_id,
            role_name=role_name,
            request_id=request_id,
            call_result=call_result,
        )

    @classmethod
    def phone_number_changed(
        cls,
        *,
        time: dt.datetime,
        user_id: uuid.UUID,
        old: PhoneNumber | str | None,
        new: PhoneNumber | str | None,
        source_identity: str | None = None,
        message: str | None = None,
    ) -> PamEvent:
        r"""Event 825 (Warning, PAM Monitoring Service): the CORP telephone number changed.

        ``old`` is the number MIM holds, ``new`` the one the CORP directory now holds (either
        may be None: a number added or removed). They go into ``extra`` as text under
        ``old_phone`` and ``new_phone``, as does ``source_identity`` (``CORP\jen``) if given.
        """
        old_text = _phone_text("old", old)
        new_text = _phone_text("new", new)
        extra: dict[str, ExtraValue] = {"old_phone": old_text, "new_phone": new_text}
        if source_identity is not None:
            extra["source_identity"] = source_identity
        if message is None:
            who = "" if source_identity is None else f" for {source_identity}"
            message = (
                f"Telephone number has been changed{who}: "
                f"{old_text or '(none)'} -> {new_text or '(none)'}"
            )
        return cls(
            event_id=EventId.PHONE_NUMBER_CHANGED,
            level=EventLevel.WARNING,
            source=PAM_MONITORING_SERVICE,
            time=time,
            message=message,
            user_id=user_id,
            extra=extra,
        )

    @classmethod
    def lifecycle(
        cls,
        event_id: EventId,
        *,
        time: dt.datetime,
        request: ActivationRequest,
        role_name: str | None = None,
        message: str | None = None,
        extra: Mapping[str, ExtraValue] | None = None,
    ) -> PamEvent:
        """One of pyampam's own request events (``EventId.REQUEST_*``), filled from *request*.

        The user, role and request ids come from the request; the call result from its
        ``mfa_call_id`` is not copied (MFA outcomes belong to events 101 and 103). The default
        message is the id's meaning, with the role name and the request's ``status_reason``.
        """
        if not isinstance(event_id, EventId) or event_id not in _LIFECYCLE:
            names = ", ".join(sorted(f"EventId.{known.name}" for known in _LIFECYCLE))
            raise InvalidValueError(
                f"lifecycle events take one of {names}, not {event_id!r}; use "
                "mfa_completed(), mfa_not_completed() or phone_number_changed() for MIM's ids",
                field="event_id",
            )
        if not isinstance(request, ActivationRequest):
            raise InvalidValueError(
                f"request must be an ActivationRequest, not {type(request).__name__}",
                field="request",
            )
        if message is None:
            message = event_id.meaning + _role_suffix(role_name)
            if request.status_reason:
                message += f": {request.status_reason}"
        return cls(
            event_id=event_id,
            level=event_id.level,
            source=event_id.source,
            time=time,
            message=message,
            user_id=request.requestor_id,
            role_id=request.role_id,
            role_name=role_name,
            request_id=request.request_id,
            extra={} if extra is None else extra,
        )

    # -- views -----------------------------------------------------------------------------------

    @property
    def known_id(self) -> EventId | None:
        """The event's :class:`EventId`, or None for an id this version does not know."""
        return self.event_id if isinstance(self.event_id, EventId) else None

    def __str__(self) -> str:
        return (
            f"{_utc_text(self.time)} {self.level.value} {int(self.event_id)} "
            f"[{self.source}] {self.message}"
        )

    # -- display -----------------------------------------------------------------------------

    def to_record(self) -> dict[str, Any]:
        """The event as a flat record for tables: ``event_name`` added, the time ISO 8601."""
        return event_record(self)

    def _repr_html_(self) -> str:
        return html_fields(
            self.to_record(),
            caption=f"Event {int(self.event_id)} ({self.level.value}, {self.source})",
            time_keys=EVENTS.time_keys,
        )

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        pretty_object(p, self.to_record(), EVENTS, cycle=cycle)

    # -- JSON ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-safe values: ids as text, the time as ISO-8601 UTC (``...Z``)."""
        return {
            "event_id": int(self.event_id),
            "level": self.level.value,
            "source": self.source,
            "time": _utc_text(self.time),
            "message": self.message,
            "user_id": None if self.user_id is None else str(self.user_id),
            "role_id": None if self.role_id is None else str(self.role_id),
            "role_name": self.role_name,
            "request_id": None if self.request_id is None else str(self.request_id),
            "call_result": self.call_result,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PamEvent:
        """Read an event written by :meth:`to_dict`; unknown keys are ignored.

        Raises :class:`~pyampam.exceptions.InvalidValueError` naming the field at fault.
        """
        if not isinstance(data, Mapping):
            raise InvalidValueError(
                f"an event must be a JSON object, not {type(data).__name__}", field="event"
            )
        for name in ("event_id", "level", "source", "time", "message"):
            if name not in data:
                raise InvalidValueError(f"the event has no {name!r}", field=name)
        extra = data.get("extra")
        return cls(
            event_id=data["event_id"],
            level=data["level"],
            source=data["source"],
            time=_parse_time(data["time"]),
            message=data["message"],
            user_id=_parse_uuid(data, "user_id"),
            role_id=_parse_uuid(data, "role_id"),
            role_name=data.get("role_name"),
            request_id=_parse_uuid(data, "request_id"),
            call_result=data.get("call_result"),
            extra={} if extra is None else extra,
        )


def _role_suffix(role_name: str | None) -> str:
    return "" if role_name is None else f" (role {role_name!r})"
