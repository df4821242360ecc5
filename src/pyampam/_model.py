"""The PAM domain: users, roles, activation requests, the global configuration and the policy."""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs

from pyampam._display import (
    REQUESTS,
    ROLES,
    USERS,
    PrettyPrinter,
    html_fields,
    pretty_object,
    request_record,
    role_record,
    user_record,
)
from pyampam._phone import PhoneNumber
from pyampam._secrets import mask
from pyampam.exceptions import ActivationDeniedError, InvalidValueError

__all__ = [
    "DEFAULT_PRIVILEGED_USER_PREFIX",
    "PIN_MAX_LENGTH",
    "PIN_MIN_LENGTH",
    "ActivationPolicy",
    "ActivationRequest",
    "PamConfiguration",
    "PolicyDecision",
    "RequestStatus",
    "Requirement",
    "Role",
    "User",
    "Violation",
]

DEFAULT_PRIVILEGED_USER_PREFIX = "priv."
# No published bound for Azure MFA PINs: four digits is the common floor for a PIN, and ten
# keeps a typed-in PIN something a person can enter on a phone keypad during a call.
PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 10

_T = TypeVar("_T")
_PIN = re.compile(rf"[0-9]{{{PIN_MIN_LENGTH},{PIN_MAX_LENGTH}}}")
_SID = re.compile(r"S-1(?:-[0-9]+)+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


# --- validators shared by the classes below -------------------------------------------------


_EXAMPLES = {
    "source_domain": "the NetBIOS name of the CORP domain, such as 'CONTOSO'",
    "source_account_name": "the CORP account name, such as 'jen'",
    "privileged_account_name": "the PRIV account name, such as 'priv.jen'",
    "display_name": "a name people recognise, such as 'Jen Smith' or 'SQL admins'",
    "creation_method": "how the request was made, such as 'pyampam'",
}


def _check_text(name: str, value: object) -> None:
    """A piece of text: a str that is not blank and has no control characters."""
    example = f"; give {_EXAMPLES[name]}" if name in _EXAMPLES else ""
    if not isinstance(value, str):
        raise InvalidValueError(
            f"{name} must be a str, not {type(value).__name__}{example}", field=name
        )
    if not value.strip():
        raise InvalidValueError(f"{name} must not be empty{example}", field=name)
    if not value.isprintable():
        raise InvalidValueError(
            f"{name} {value!r} contains a control character; remove it", field=name
        )


def _text(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_text(attribute.name, value)


def _optional_text(
    instance: object, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is not None:
        _check_text(attribute.name, value)


def _instance_of(kind: type[_T], hint: str) -> Callable[[Any, attrs.Attribute[_T], _T], None]:
    # attrs.validators.instance_of raises TypeError; pyampam promises InvalidValueError.
    def check(instance: object, attribute: attrs.Attribute[_T], value: _T) -> None:
        if not isinstance(value, kind):
            raise InvalidValueError(
                f"{attribute.name} must be {hint}, not {type(value).__name__}",
                field=attribute.name,
            )

    return check


def _flag(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    # 1 and 0 are refused on purpose: Set-PAMRole's "-MFAEnabled 1" is PowerShell, not Python.
    if not isinstance(value, bool):
        raise InvalidValueError(
            f"{attribute.name} must be True or False, not {value!r}", field=attribute.name
        )


def _uuid(instance: object, attribute: attrs.Attribute[uuid.UUID], value: uuid.UUID) -> None:
    if not isinstance(value, uuid.UUID):
        raise InvalidValueError(
            f"{attribute.name} must be a uuid.UUID, not {type(value).__name__}; "
            f"convert text with uuid.UUID({value!r})",
            field=attribute.name,
        )


def _positive_duration(
    instance: object, attribute: attrs.Attribute[dt.timedelta], value: dt.timedelta
) -> None:
    if not isinstance(value, dt.timedelta):
        raise InvalidValueError(
            f"{attribute.name} must be a datetime.timedelta, e.g. timedelta(hours=1), "
            f"not {type(value).__name__}",
            field=attribute.name,
        )
    if value <= dt.timedelta(0):
        raise InvalidValueError(
            f"{attribute.name} must be positive, not {value}", field=attribute.name
        )


def _check_aware(name: str, value: object) -> None:
    if not isinstance(value, dt.datetime):
        raise InvalidValueError(
            f"{name} must be a datetime.datetime, not {type(value).__name__}", field=name
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValueError(
            f"{name} {value.isoformat()} has no time zone; give an aware datetime, "
            "e.g. datetime.now(timezone.utc)",
            field=name,
        )


def _aware(instance: object, attribute: attrs.Attribute[dt.datetime], value: dt.datetime) -> None:
    _check_aware(attribute.name, value)


def _optional_aware(
    instance: object, attribute: attrs.Attribute[dt.datetime | None], value: dt.datetime | None
) -> None:
    if value is not None:
        _check_aware(attribute.name, value)


def _optional_time(
    instance: object, attribute: attrs.Attribute[dt.time | None], value: dt.time | None
) -> None:
    if value is not None and not isinstance(value, dt.time):
        raise InvalidValueError(
            f"{attribute.name} must be a datetime.time (only the time of day counts), "
            f"not {type(value).__name__}",
            field=attribute.name,
        )


def _whole_number(minimum: int, maximum: int) -> Callable[[Any, attrs.Attribute[int], int], None]:
    def check(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise InvalidValueError(
                f"{attribute.name} must be a whole number from {minimum} to {maximum}, "
                f"not {value!r}",
                field=attribute.name,
            )

    return check


def _ids(field: str, values: Iterable[uuid.UUID | User]) -> frozenset[uuid.UUID]:
    """Collect the object ids of users given as users or as ids."""
    # A str is iterable and a lone user or id is an easy slip: refuse them rather than collect
    # the characters of a GUID.
    if isinstance(values, (str, bytes, uuid.UUID, User)) or not isinstance(values, Iterable):
        raise InvalidValueError(
            f"{field} must be a collection of users or uuid.UUID object ids, not a single "
            f"{type(values).__name__}; wrap one in a list",
            field=field,
        )
    ids = set()
    for value in values:
        if isinstance(value, User):
            ids.add(value.object_id)
        elif isinstance(value, uuid.UUID):
            ids.add(value)
        else:
            raise InvalidValueError(
                f"{field} must hold users or uuid.UUID object ids, not {type(value).__name__} "
                f"{value!r}",
                field=field,
            )
    return frozenset(ids)


def _candidate_ids(values: Iterable[uuid.UUID | User]) -> frozenset[uuid.UUID]:
    return _ids("candidates", values)


def _approver_ids(values: Iterable[uuid.UUID | User]) -> frozenset[uuid.UUID]:
    return _ids("approvers", values)


def _group_names(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidValueError(
            f"privileges must be a collection of group names, not a single "
            f"{type(values).__name__}; wrap one in a list",
            field="privileges",
        )
    names: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            raise InvalidValueError(
                f"privileges must hold non-empty group names, not {value!r}", field="privileges"
            )
        # A role grants each group once; repeating a name is a slip, not a second grant.
        if value not in names:
            names.append(value)
    return tuple(names)


# --- request status, users, roles, requests ----------------------------------------------------


class RequestStatus(enum.Enum):
    """The status of an activation request, with MIM's own spelling as the value."""

    PROCESSING = "Processing"
    PENDING_APPROVAL = "PendingApproval"
    PENDING_MFA = "PendingMFA"
    SCHEDULED = "Scheduled"
    ACTIVE = "Active"
    CLOSING = "Closing"
    CLOSED = "Closed"
    EXPIRED = "Expired"
    REJECTED = "Rejected"

    @property
    def is_pending(self) -> bool:
        """Whether the request still waits for a check (approval or MFA) to pass."""
        return self in _PENDING

    @property
    def is_final(self) -> bool:
        """Whether the request is over: nothing changes its status any more."""
        return self in _FINAL

    @property
    def is_authorized(self) -> bool:
        """Whether every check passed: the request is scheduled, active or being closed."""
        return self in _AUTHORIZED

    def __str__(self) -> str:
        return self.value


_PENDING = frozenset(
    {RequestStatus.PROCESSING, RequestStatus.PENDING_APPROVAL, RequestStatus.PENDING_MFA}
)
_FINAL = frozenset({RequestStatus.CLOSED, RequestStatus.EXPIRED, RequestStatus.REJECTED})
_AUTHORIZED = frozenset({RequestStatus.SCHEDULED, RequestStatus.ACTIVE, RequestStatus.CLOSING})


def _pin(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    # The message must not echo the PIN, nor hint at its length.
    if value is None:
        return
    if not isinstance(value, str) or not _PIN.fullmatch(value):
        raise InvalidValueError(
            f"pin must be {PIN_MIN_LENGTH} to {PIN_MAX_LENGTH} digits 0-9, or None for no PIN; "
            "the value given is not",
            field="pin",
        )


def _masked(value: str | None) -> str:
    return repr(mask(value))


def _phone(
    instance: object, attribute: attrs.Attribute[PhoneNumber | None], value: PhoneNumber | None
) -> None:
    if value is not None and not isinstance(value, PhoneNumber):
        raise InvalidValueError(
            f"phone must be a PhoneNumber or None, not {type(value).__name__}; "
            f"read text with PhoneNumber.parse({value!r})",
            field="phone",
        )


def _sid(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    _optional_text(instance, attribute, value)
    if value is not None and not _SID.fullmatch(value):
        raise InvalidValueError(
            f"sid {value!r} is not a Windows security identifier such as "
            "S-1-5-21-1004336348-1177238915-682003330-512",
            field="sid",
        )


def _email(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    _optional_text(instance, attribute, value)
    if value is not None and not _EMAIL.fullmatch(value):
        raise InvalidValueError(
            f"email {value!r} is not an e-mail address such as jen@contoso.com", field="email"
        )


def _default_privileged_account_name(user: User) -> str:
    # An f-string, so a wrong source_account_name reaches its own validator instead of failing
    # here with a TypeError.
    return f"{DEFAULT_PRIVILEGED_USER_PREFIX}{user.source_account_name}"


@attrs.frozen(kw_only=True)
class User:
    """A PAM user: a CORP identity with its privileged shadow account in the PRIV forest.

    ``phone`` is copied once from the CORP directory by ``New-PAMUser`` and may be overridden
    in MIM only. ``pin`` is a secret: it never appears in ``repr()`` or ``str()``. The privileged
    account name defaults to ``priv.`` + the source account name (see
    :meth:`PamConfiguration.privileged_account_name_for` for another prefix).
    """

    object_id: uuid.UUID = attrs.field(factory=uuid.uuid4, validator=_uuid)
    source_domain: str = attrs.field(validator=_text)
    source_account_name: str = attrs.field(validator=_text)
    display_name: str | None = attrs.field(default=None, validator=_optional_text)
    description: str | None = attrs.field(default=None, validator=_optional_text)
    email: str | None = attrs.field(default=None, validator=_email)
    sid: str | None = attrs.field(default=None, validator=_sid)
    phone: PhoneNumber | None = attrs.field(default=None, validator=_phone)
    pin: str | None = attrs.field(default=None, validator=_pin, repr=_masked)
    privileged_account_name: str = attrs.field(
        default=attrs.Factory(_default_privileged_account_name, takes_self=True),
        validator=_text,
    )
    privileged_display_name: str | None = attrs.field(default=None, validator=_optional_text)
    privileged_account_active: bool = attrs.field(default=True, validator=_flag)

    @property
    def source_identity(self) -> str:
        r"""The CORP logon name, ``DOMAIN\account``."""
        return f"{self.source_domain}\\{self.source_account_name}"

    def to_record(self) -> dict[str, Any]:
        """The user as a dict of JSON values; the PIN shows only as ``********`` (or None)."""
        return user_record(self)

    def _repr_html_(self) -> str:
        return html_fields(self.to_record(), caption=f"User {self.source_identity}")

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        pretty_object(p, self.to_record(), USERS, cycle=cycle)


def _window_times(role: Role) -> None:
    start, end = role.available_from, role.available_to
    if role.availability_window_enabled and (start is None or end is None):
        raise InvalidValueError(
            "an enabled availability window needs both available_from and available_to",
            field="available_from" if start is None else "available_to",
        )
    if start is None or end is None:
        return
    if start.tzinfo != end.tzinfo:
        raise InvalidValueError(
            f"available_from ({start.tzinfo}) and available_to ({end.tzinfo}) must be in the "
            "same time zone",
            field="available_to",
        )
    if end.replace(tzinfo=None) <= start.replace(tzinfo=None):
        raise InvalidValueError(
            f"available_to ({end.isoformat()}) must be after available_from "
            f"({start.isoformat()}); a window cannot cross midnight",
            field="available_to",
        )


@attrs.frozen(kw_only=True)
class Role:
    """A PAM role: who may request it, who approves, which groups it grants, and for how long.

    ``candidates`` and ``approvers`` accept users or object ids and keep the ids. ``ttl`` is
    required and positive. The availability window counts only the time of day and is half
    open: a role is available from ``available_from`` up to, not including, ``available_to``.
    Naive times are read in UTC; times carrying a ``tzinfo`` are read in that zone (daylight
    saving included), so ``time(9, tzinfo=ZoneInfo("Europe/Paris"))`` means 9:00 in Paris.
    """

    role_id: uuid.UUID = attrs.field(factory=uuid.uuid4, validator=_uuid)
    display_name: str = attrs.field(validator=_text)
    description: str | None = attrs.field(default=None, validator=_optional_text)
    candidates: frozenset[uuid.UUID] = attrs.field(default=(), converter=_candidate_ids)
    approvers: frozenset[uuid.UUID] = attrs.field(default=(), converter=_approver_ids)
    privileges: tuple[str, ...] = attrs.field(default=(), converter=_group_names)
    ttl: dt.timedelta = attrs.field(validator=_positive_duration)
    availability_window_enabled: bool = attrs.field(default=False, validator=_flag)
    available_from: dt.time | None = attrs.field(default=None, validator=_optional_time)
    available_to: dt.time | None = attrs.field(default=None, validator=_optional_time)
    mfa_enabled: bool = attrs.field(default=False, validator=_flag)
    approval_enabled: bool = attrs.field(default=False, validator=_flag)

    def __attrs_post_init__(self) -> None:
        _window_times(self)

    def is_available_at(self, moment: dt.datetime) -> bool:
        """Whether the role may be active at *moment* (an aware datetime) by its window."""
        _check_aware("moment", moment)
        start, end = self.available_from, self.available_to
        if not self.availability_window_enabled or start is None or end is None:
            # __attrs_post_init__ guarantees both ends of an enabled window.
            return True
        zone = start.tzinfo if start.tzinfo is not None else dt.timezone.utc
        local = moment.astimezone(zone).time()
        return start.replace(tzinfo=None) <= local < end.replace(tzinfo=None)

    def candidates_without_phone(self, users: Iterable[User]) -> frozenset[uuid.UUID]:
        """The candidates that have no phone number among *users* (or are missing from them).

        MIM enables MFA on a role only once this is empty.
        """
        with_phone = {user.object_id for user in users if user.phone is not None}
        return self.candidates - with_phone

    def to_record(self) -> dict[str, Any]:
        """The role as a dict of JSON values: ids as text, the TTL in seconds."""
        return role_record(self)

    def _repr_html_(self) -> str:
        return html_fields(self.to_record(), caption=f"Role {self.display_name}")

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        pretty_object(p, self.to_record(), ROLES, cycle=cycle)


def _expiration_fits_status(request: ActivationRequest) -> None:
    if request.expiration_time is None:
        if request.status is RequestStatus.ACTIVE:
            raise InvalidValueError(
                "an Active request needs an expiration_time (activation time + TTL)",
                field="expiration_time",
            )
        return
    if request.status.is_pending:
        raise InvalidValueError(
            f"a {request.status} request has no expiration_time yet; leave it None",
            field="expiration_time",
        )
    if request.expiration_time < request.creation_time:
        raise InvalidValueError(
            f"expiration_time ({request.expiration_time.isoformat()}) is before creation_time "
            f"({request.creation_time.isoformat()})",
            field="expiration_time",
        )


@attrs.frozen(kw_only=True)
class ActivationRequest:
    """A request to activate a role: who, which role, why, for how long and where it stands.

    Every datetime is timezone-aware. ``expiration_time`` is unset while the request is
    pending, set once it is active (activation time + TTL) and holds the close time once closed.
    ``creation_method`` is free text: MIM's own values are not published.

    The last four fields are pyampam's own bookkeeping, not MIM attributes: when the request
    became Active, which owner approved or rejected it, the MFA call that decided it, and a
    sentence saying why it ended (a failure message, "closed by ...").
    """

    request_id: uuid.UUID = attrs.field(factory=uuid.uuid4, validator=_uuid)
    requestor_id: uuid.UUID = attrs.field(validator=_uuid)
    role_id: uuid.UUID = attrs.field(validator=_uuid)
    justification: str = attrs.field(default="", validator=_instance_of(str, "a str"))
    requested_ttl: dt.timedelta = attrs.field(validator=_positive_duration)
    requested_time: dt.datetime | None = attrs.field(default=None, validator=_optional_aware)
    creation_time: dt.datetime = attrs.field(validator=_aware)
    creation_method: str = attrs.field(default="pyampam", validator=_text)
    expiration_time: dt.datetime | None = attrs.field(default=None, validator=_optional_aware)
    status: RequestStatus = attrs.field(
        default=RequestStatus.PROCESSING,
        validator=_instance_of(RequestStatus, "a RequestStatus such as RequestStatus.ACTIVE"),
    )
    activation_time: dt.datetime | None = attrs.field(default=None, validator=_optional_aware)
    decided_by: uuid.UUID | None = attrs.field(
        default=None, validator=attrs.validators.optional(_uuid)
    )
    mfa_call_id: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_instance_of(str, "a str"))
    )
    status_reason: str = attrs.field(default="", validator=_instance_of(str, "a str"))

    def __attrs_post_init__(self) -> None:
        _expiration_fits_status(self)

    def to_record(self) -> dict[str, Any]:
        """The request as a dict of JSON values: ids as text, times ISO 8601, TTL in seconds."""
        return request_record(self)

    def _repr_html_(self) -> str:
        return html_fields(
            self.to_record(),
            caption=f"ActivationRequest {self.request_id} ({self.status})",
            time_keys=REQUESTS.time_keys,
        )

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        pretty_object(p, self.to_record(), REQUESTS, cycle=cycle)


# --- global configuration ------------------------------------------------------------------------


def _durations_in_order(configuration: PamConfiguration) -> None:
    low = configuration.role_minimal_duration
    default = configuration.role_default_duration
    high = configuration.role_maximal_duration
    if not low <= default <= high:
        raise InvalidValueError(
            f"role durations must satisfy minimal ({low}) <= default ({default}) <= maximal "
            f"({high})",
            field="role_default_duration",
        )


def _prefix(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or any(
        char.isspace() or not char.isprintable() for char in value
    ):
        raise InvalidValueError(
            f"privileged_user_prefix must be a str without spaces, such as 'priv.', not {value!r}",
            field="privileged_user_prefix",
        )


@attrs.frozen(kw_only=True)
class PamConfiguration:
    """The global PAM settings.

    Microsoft publishes no numeric defaults; these are pyampam's own: a role lasts one hour
    unless it says otherwise, at least five minutes (the documented recommended minimum) and
    at most eight hours (a working day); finished requests are kept 30 days; generated
    passwords for privileged accounts have 20 characters (12 to 256 allowed).
    """

    privileged_user_prefix: str = attrs.field(
        default=DEFAULT_PRIVILEGED_USER_PREFIX, validator=_prefix
    )
    role_default_duration: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=1), validator=_positive_duration
    )
    role_minimal_duration: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=5), validator=_positive_duration
    )
    role_maximal_duration: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=8), validator=_positive_duration
    )
    request_expiration_in_days: int = attrs.field(default=30, validator=_whole_number(1, 36500))
    default_ad_container: str | None = attrs.field(default=None, validator=_optional_text)
    admin_password_length: int = attrs.field(default=20, validator=_whole_number(12, 256))

    def __attrs_post_init__(self) -> None:
        _durations_in_order(self)

    @property
    def request_retention(self) -> dt.timedelta:
        """How long finished requests are kept."""
        return dt.timedelta(days=self.request_expiration_in_days)

    def privileged_account_name_for(self, source_account_name: str) -> str:
        """The PRIV account name MIM generates for a CORP account: prefix + source name."""
        return self.privileged_user_prefix + source_account_name

    def check_role_ttl(self, ttl: dt.timedelta | None) -> dt.timedelta:
        """Return the TTL a new role gets (the default for None), or raise if out of bounds."""
        if ttl is None:
            return self.role_default_duration
        if not isinstance(ttl, dt.timedelta):
            raise InvalidValueError(
                f"ttl must be a datetime.timedelta, not {type(ttl).__name__}", field="ttl"
            )
        if not self.role_minimal_duration <= ttl <= self.role_maximal_duration:
            raise InvalidValueError(
                f"ttl {ttl} is outside the configured bounds: choose from "
                f"{self.role_minimal_duration} to {self.role_maximal_duration}",
                field="ttl",
            )
        return ttl


# --- the activation policy -----------------------------------------------------------------------


class Requirement(enum.Enum):
    """What a request for a role needs before it is authorized.

    When a role needs both, MFA comes first and approval second: approvers then only see
    requests whose requestor has proved to hold the phone, and the requestor takes the call
    while still at hand instead of whenever an approver acts.
    """

    NONE = "none"
    APPROVAL = "approval"
    MFA = "mfa"
    APPROVAL_AND_MFA = "approval_and_mfa"

    @classmethod
    def from_flags(cls, *, approval: bool, mfa: bool) -> Requirement:
        """The requirement for a role's ``ApprovalEnabled`` and ``MFAEnabled`` flags."""
        if approval and mfa:
            return cls.APPROVAL_AND_MFA
        if approval:
            return cls.APPROVAL
        if mfa:
            return cls.MFA
        return cls.NONE

    @property
    def needs_approval(self) -> bool:
        """Whether a role owner must approve."""
        return self in (Requirement.APPROVAL, Requirement.APPROVAL_AND_MFA)

    @property
    def needs_mfa(self) -> bool:
        """Whether the requestor must complete an Azure MFA phone call."""
        return self in (Requirement.MFA, Requirement.APPROVAL_AND_MFA)

    @property
    def gates(self) -> tuple[RequestStatus, ...]:
        """The pending statuses a request passes through, in order."""
        gates: list[RequestStatus] = []
        if self.needs_mfa:
            gates.append(RequestStatus.PENDING_MFA)
        if self.needs_approval:
            gates.append(RequestStatus.PENDING_APPROVAL)
        return tuple(gates)


class Violation(enum.Enum):
    """A reason the policy refuses a request; :attr:`message` says what to change."""

    NOT_A_CANDIDATE = "not_a_candidate"
    MFA_PHONE_MISSING = "mfa_phone_missing"
    TTL_NOT_POSITIVE = "ttl_not_positive"
    TTL_ABOVE_ROLE = "ttl_above_role"
    REQUESTED_TIME_IN_PAST = "requested_time_in_past"
    OUTSIDE_AVAILABILITY_WINDOW = "outside_availability_window"

    @property
    def message(self) -> str:
        """What is wrong and what to do about it."""
        return _VIOLATION_MESSAGES[self]

    def __str__(self) -> str:
        return self.message


_VIOLATION_MESSAGES = {
    Violation.NOT_A_CANDIDATE: (
        "the requestor is not a candidate of the role; ask a PAM administrator to add them "
        "to the role's candidates"
    ),
    Violation.MFA_PHONE_MISSING: (
        "the role requires Azure MFA but the requestor has no phone number stored; store one "
        "with Set-PAMUser -SourcePhoneNumber"
    ),
    Violation.TTL_NOT_POSITIVE: (
        "the requested TTL is zero or negative; ask for a positive TTL, or leave it out to get "
        "the role's TTL"
    ),
    Violation.TTL_ABOVE_ROLE: (
        "the requested TTL is longer than the role's TTL; ask for the role's TTL or less, or "
        "leave it out to get the role's TTL"
    ),
    Violation.REQUESTED_TIME_IN_PAST: (
        "the requested start time is in the past; leave it out to start now, or give a time "
        "in the future"
    ),
    Violation.OUTSIDE_AVAILABILITY_WINDOW: (
        "the role cannot be activated at this time of day; request it inside the role's "
        "availability window, or ask for a start time inside it"
    ),
}


def _violation_tuple(values: Iterable[Violation]) -> tuple[Violation, ...]:
    violations = tuple(values)
    if not all(isinstance(violation, Violation) for violation in violations):
        raise InvalidValueError("violations must hold Violation values", field="violations")
    return violations


@attrs.frozen(kw_only=True)
class PolicyDecision:
    """The outcome of :meth:`ActivationPolicy.evaluate`: allowed or not, and what comes next.

    ``ttl`` is how long the membership would last. ``start_time`` is the requested delayed
    start, or None for "at once". ``role``, when given, lets error messages quote the role's
    limits; it takes no part in comparisons.
    """

    violations: tuple[Violation, ...] = attrs.field(default=(), converter=_violation_tuple)
    requirement: Requirement = attrs.field(validator=_instance_of(Requirement, "a Requirement"))
    ttl: dt.timedelta = attrs.field(validator=_instance_of(dt.timedelta, "a datetime.timedelta"))
    start_time: dt.datetime | None = attrs.field(default=None, validator=_optional_aware)
    role: Role | None = attrs.field(
        default=None,
        repr=False,
        eq=False,
        validator=attrs.validators.optional(_instance_of(Role, "a Role")),
    )

    @property
    def allowed(self) -> bool:
        """Whether the request may be made: no violation was found."""
        return not self.violations

    @property
    def authorized_status(self) -> RequestStatus:
        """The status once every check has passed: Scheduled for a delayed start, else Active."""
        return RequestStatus.SCHEDULED if self.start_time is not None else RequestStatus.ACTIVE

    @property
    def initial_status(self) -> RequestStatus | None:
        """The status a new request gets: its first check, or else its authorized status.

        None when the request is not allowed: such a request is refused, not created.
        """
        if not self.allowed:
            return None
        gates = self.requirement.gates
        return gates[0] if gates else self.authorized_status

    def raise_for_violations(self) -> PolicyDecision:
        """Raise :class:`~pyampam.exceptions.ActivationDeniedError` listing every violation.

        Returns the decision itself when it is allowed, so calls can be chained.
        """
        if self.violations:
            count = len(self.violations)
            which = "" if self.role is None else f" of role {self.role.display_name!r}"
            lines = "".join(f"\n- {self._explain(violation)}" for violation in self.violations)
            raise ActivationDeniedError(
                f"activation{which} denied ({count} problem{'s' if count > 1 else ''}):{lines}",
                violations=self.violations,
            )
        return self

    def _explain(self, violation: Violation) -> str:
        role = self.role
        if role is None:
            return violation.message
        if violation is Violation.TTL_ABOVE_ROLE:
            return f"{violation.message} (asked for {self.ttl}, the role allows {role.ttl})"
        if violation is Violation.OUTSIDE_AVAILABILITY_WINDOW and role.available_from is not None:
            zone = role.available_from.tzinfo or "UTC"
            window = f"{role.available_from:%H:%M:%S} to {role.available_to:%H:%M:%S} {zone}"
            return f"{violation.message} (the window is {window})"
        return violation.message


@attrs.frozen
class ActivationPolicy:
    """A role's activation rules as a pure function of the requestor, the time and the request.

    Build one with :meth:`for_role`. :meth:`evaluate` reads no clock and does no I/O: the
    caller passes the current time as ``at``.
    """

    role: Role = attrs.field(validator=_instance_of(Role, "a Role"))

    @classmethod
    def for_role(cls, role: Role) -> ActivationPolicy:
        """The policy of *role*."""
        return cls(role)

    @property
    def requirement(self) -> Requirement:
        """What a request for the role needs before it is authorized."""
        return Requirement.from_flags(
            approval=self.role.approval_enabled, mfa=self.role.mfa_enabled
        )

    def evaluate(
        self,
        requestor: User,
        *,
        at: dt.datetime,
        requested_ttl: dt.timedelta | None = None,
        requested_time: dt.datetime | None = None,
    ) -> PolicyDecision:
        """Decide on a request by *requestor* made at *at* (aware), reporting every violation.

        The TTL defaults to the role's and may not exceed it. A *requested_time* later than
        *at* asks for a delayed start; it must lie inside the availability window, as must *at*
        when no start time is requested.
        """
        if not isinstance(requestor, User):
            raise InvalidValueError(
                f"requestor must be a User, not {type(requestor).__name__}", field="requestor"
            )
        _check_aware("at", at)
        if requested_ttl is not None and not isinstance(requested_ttl, dt.timedelta):
            raise InvalidValueError(
                "requested_ttl must be a datetime.timedelta or None, "
                f"not {type(requested_ttl).__name__}",
                field="requested_ttl",
            )
        if requested_time is not None:
            _check_aware("requested_time", requested_time)

        role = self.role
        violations: list[Violation] = []
        if requestor.object_id not in role.candidates:
            violations.append(Violation.NOT_A_CANDIDATE)
        if role.mfa_enabled and requestor.phone is None:
            violations.append(Violation.MFA_PHONE_MISSING)

        ttl = role.ttl if requested_ttl is None else requested_ttl
        if ttl <= dt.timedelta(0):
            violations.append(Violation.TTL_NOT_POSITIVE)
        elif ttl > role.ttl:
            violations.append(Violation.TTL_ABOVE_ROLE)

        start_time = requested_time if requested_time is not None and requested_time > at else None
        if requested_time is not None and requested_time < at:
            violations.append(Violation.REQUESTED_TIME_IN_PAST)
        elif not role.is_available_at(at if start_time is None else start_time):
            violations.append(Violation.OUTSIDE_AVAILABILITY_WINDOW)

        return PolicyDecision(
            violations=tuple(violations),
            requirement=self.requirement,
            ttl=ttl,
            start_time=start_time,
            role=role,
        )
