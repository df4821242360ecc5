"""The values a provider call is made of: challenges, modes, PINs, statuses and results."""

from __future__ import annotations

import enum
import re

import attrs

from pyampam._phone import PhoneNumber
from pyampam._secrets import mask
from pyampam.exceptions import InvalidValueError

__all__ = [
    "AuthMode",
    "CallHandle",
    "CallResult",
    "CallStatus",
    "MfaChallenge",
    "MfaResult",
    "NotificationType",
    "Pin",
    "PinFormat",
]

# XML 1.0 cannot carry these, and a request that the provider cannot parse is a lost call.
_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

OTP_PLACEHOLDER = "<$otp$>"


class AuthMode(enum.Enum):
    """How the user proves presence; the values are the Azure MFA SDK's wire strings."""

    STANDARD = "standard"
    PIN = "pin"
    VOICEPRINT = "voiceprint"
    SMS_ONE_WAY_OTP = "sms_one_way_otp"
    SMS_ONE_WAY_OTP_PLUS_PIN = "sms_one_way_otp_plus_pin"
    SMS_TWO_WAY_OTP = "sms_two_way_otp"
    SMS_TWO_WAY_OTP_PLUS_PIN = "sms_two_way_otp_plus_pin"
    PHONE_APP_STANDARD = "phone_app_standard"
    PHONE_APP_PIN = "phone_app_pin"

    @property
    def is_voice(self) -> bool:
        """A phone call (standard, PIN or voiceprint)."""
        return self in (AuthMode.STANDARD, AuthMode.PIN, AuthMode.VOICEPRINT)

    @property
    def is_sms(self) -> bool:
        """A text message with a one-time passcode."""
        return self.value.startswith("sms_")

    @property
    def is_phone_app(self) -> bool:
        """A notification to the authenticator app."""
        return self.value.startswith("phone_app_")

    @property
    def needs_pin(self) -> bool:
        """The user enters a PIN, so the challenge must carry one.

        In one-way OTP+PIN mode the PIN does not travel: the application checks the passcode and
        the PIN the user types, so it still needs the PIN at hand.
        """
        return self in (
            AuthMode.PIN,
            AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN,
            AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN,
            AuthMode.PHONE_APP_PIN,
        )

    @property
    def returns_otp(self) -> bool:
        """One-way SMS: the provider returns the passcode and the application must check it."""
        return self in (AuthMode.SMS_ONE_WAY_OTP, AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN)


class NotificationType(enum.Enum):
    """The push service behind a phone app device token (wire strings)."""

    APNS = "apns"
    C2DM = "c2dm"
    GCM = "gcm"
    MPNS = "mpns"
    BPS = "bps"


class CallStatus(enum.Enum):
    """The status of a call as MIM's phone provider reports it."""

    PENDING = "Pending"
    SUCCESS = "Success"
    FAILED = "Failed"


class CallResult(enum.Enum):
    """The outcome names of the Azure MFA usage report, with what each one means.

    The value is the name as the report spells it. ``SUCCESS_`` means the call completed, not
    that the user authenticated: see :attr:`can_authenticate`. The SDK's numeric codes are not
    public and are never mapped to these names.
    """

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[str]) -> str:
        return name

    SUCCESS_WITH_PIN = enum.auto()
    SUCCESS_NO_PIN = enum.auto()
    SUCCESS_WITH_PIN_BUT_TIMEOUT = enum.auto()
    SUCCESS_NO_PIN_BUT_TIMEOUT = enum.auto()
    SUCCESS_PIN_EXPIRED = enum.auto()
    SUCCESS_USED_CACHE = enum.auto()
    SUCCESS_BYPASSED_AUTH = enum.auto()
    SUCCESS_USED_IP_BASED_CACHE = enum.auto()
    SUCCESS_USED_APP_BASED_CACHE = enum.auto()
    SUCCESS_INVALID_INPUT = enum.auto()
    SUCCESS_USER_BLOCKED = enum.auto()
    SUCCESS_SMS_AUTHENTICATED = enum.auto()
    SUCCESS_SMS_SENT = enum.auto()
    SUCCESS_PHONE_APP_AUTHENTICATED = enum.auto()
    SUCCESS_OATH_CODE_PENDING = enum.auto()
    SUCCESS_OATH_CODE_VERIFIED = enum.auto()
    SUCCESS_FALLBACK_OATH_CODE_VERIFIED = enum.auto()
    SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED = enum.auto()
    FAILED_PHONE_BUSY = enum.auto()
    CONFIG_ISSUE = enum.auto()
    FAILED_INVALID_PHONENUMBER = enum.auto()
    FAILED_USER_HUNGUP_ON_US = enum.auto()
    FAILED_INVALID_EXTENSION = enum.auto()
    FAILED_FRAUD_CODE_ENTERED = enum.auto()
    FAILED_SERVER_ERROR = enum.auto()
    FAILED_SMS_NOT_SENT = enum.auto()
    FAILED_SMS_OTP_INCORRECT = enum.auto()
    FAILED_SMS_OTP_PIN_INCORRECT = enum.auto()
    FAILED_SMS_MAX_OTP_RETRY_REACHED = enum.auto()
    FAILED_PHONE_APP_DENIED = enum.auto()
    FAILED_PHONE_APP_INVALID_PIN = enum.auto()
    FAILED_PHONE_APP_PIN_NOT_CHANGED = enum.auto()
    FAILED_FRAUD_REPORTED = enum.auto()
    FAILED_PHONE_APP_NO_RESPONSE = enum.auto()
    FAILED_PHONE_APP_ALL_DEVICES_BLOCKED = enum.auto()
    FAILED_PHONE_APP_NOTIFICATION_FAILED = enum.auto()
    FAILED_PHONE_APP_INVALID_RESULT = enum.auto()
    FAILED_OATH_CODE_INCORRECT = enum.auto()
    FAILED_OATH_CODE_PIN_INCORRECT = enum.auto()
    FAILED_OATH_CODE_DUPLICATE = enum.auto()
    FAILED_OATH_CODE_OLD = enum.auto()
    FAILED_OATH_TOKEN_TIMEOUT = enum.auto()
    FAILED_SECURITY_QUESTIONS_TIMEOUT = enum.auto()
    FAILED_AUTH_RESULT_TIMEOUT = enum.auto()
    FAILED_AUTHENTICATION_THROTTLED = enum.auto()

    @property
    def description(self) -> str:
        """What the outcome means, in a few words."""
        return _CALL_RESULT_DETAILS[self][0]

    @property
    def can_authenticate(self) -> bool:
        """Whether this outcome can count as the user authenticating."""
        return _CALL_RESULT_DETAILS[self][1]

    @classmethod
    def from_name(cls, name: str) -> CallResult | None:
        """The member called ``name`` (case and surrounding spaces ignored), or None."""
        return cls.__members__.get(name.strip().upper())


_CALL_RESULT_DETAILS: dict[CallResult, tuple[str, bool]] = {
    CallResult.SUCCESS_WITH_PIN: (
        "PIN entered; authenticated only if it is correct and the user is in PIN mode",
        True,
    ),
    CallResult.SUCCESS_NO_PIN: (
        "Only # entered; authenticated in standard mode, denied in PIN mode",
        True,
    ),
    CallResult.SUCCESS_WITH_PIN_BUT_TIMEOUT: ("PIN entered but # not pressed", False),
    CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT: ("Answered with no input: usually voicemail", False),
    CallResult.SUCCESS_PIN_EXPIRED: ("The PIN has expired and was not changed", False),
    CallResult.SUCCESS_USED_CACHE: ("Authenticated from a cached authentication", True),
    CallResult.SUCCESS_BYPASSED_AUTH: ("Authenticated by a one-time bypass", True),
    CallResult.SUCCESS_USED_IP_BASED_CACHE: ("Authenticated from an IP-based cache", True),
    CallResult.SUCCESS_USED_APP_BASED_CACHE: ("Authenticated from an app-based cache", True),
    CallResult.SUCCESS_INVALID_INPUT: ("Invalid input: fax or modem tones, or * in the PIN", False),
    CallResult.SUCCESS_USER_BLOCKED: ("The user is blocked", False),
    CallResult.SUCCESS_SMS_AUTHENTICATED: ("Authenticated by text message", True),
    CallResult.SUCCESS_SMS_SENT: (
        "One-time passcode sent by text; the application must check the passcode",
        True,
    ),
    CallResult.SUCCESS_PHONE_APP_AUTHENTICATED: ("Authenticated in the phone app", True),
    CallResult.SUCCESS_OATH_CODE_PENDING: ("Waiting for an OATH code", False),
    CallResult.SUCCESS_OATH_CODE_VERIFIED: ("OATH code verified", True),
    CallResult.SUCCESS_FALLBACK_OATH_CODE_VERIFIED: ("Fallback OATH code verified", True),
    CallResult.SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED: (
        "Fallback security questions answered",
        True,
    ),
    CallResult.FAILED_PHONE_BUSY: ("An authentication for this user is already in progress", False),
    CallResult.CONFIG_ISSUE: ("Phone unreachable: busy, fast busy or ring timeout", False),
    CallResult.FAILED_INVALID_PHONENUMBER: ("Invalid phone number", False),
    CallResult.FAILED_USER_HUNGUP_ON_US: ("The user hung up", False),
    CallResult.FAILED_INVALID_EXTENSION: ("Invalid extension", False),
    CallResult.FAILED_FRAUD_CODE_ENTERED: (
        "Fraud reported with the fraud code; the number is blocked",
        False,
    ),
    CallResult.FAILED_SERVER_ERROR: ("Unable to place the call", False),
    CallResult.FAILED_SMS_NOT_SENT: ("The text message could not be sent", False),
    CallResult.FAILED_SMS_OTP_INCORRECT: ("Incorrect one-time passcode", False),
    CallResult.FAILED_SMS_OTP_PIN_INCORRECT: ("Incorrect one-time passcode and PIN", False),
    CallResult.FAILED_SMS_MAX_OTP_RETRY_REACHED: ("Too many passcode attempts", False),
    CallResult.FAILED_PHONE_APP_DENIED: ("Denied in the phone app", False),
    CallResult.FAILED_PHONE_APP_INVALID_PIN: ("Invalid PIN in the phone app", False),
    CallResult.FAILED_PHONE_APP_PIN_NOT_CHANGED: ("The phone app PIN was not changed", False),
    CallResult.FAILED_FRAUD_REPORTED: ("Fraud reported", False),
    CallResult.FAILED_PHONE_APP_NO_RESPONSE: ("No response from the phone app", False),
    CallResult.FAILED_PHONE_APP_ALL_DEVICES_BLOCKED: (
        "All the user's phone app devices are blocked",
        False,
    ),
    CallResult.FAILED_PHONE_APP_NOTIFICATION_FAILED: ("The phone app notification failed", False),
    CallResult.FAILED_PHONE_APP_INVALID_RESULT: ("The phone app returned an invalid result", False),
    CallResult.FAILED_OATH_CODE_INCORRECT: ("Incorrect OATH code", False),
    CallResult.FAILED_OATH_CODE_PIN_INCORRECT: ("Incorrect OATH code and PIN", False),
    CallResult.FAILED_OATH_CODE_DUPLICATE: ("The OATH code was already used", False),
    CallResult.FAILED_OATH_CODE_OLD: ("The OATH code is too old", False),
    CallResult.FAILED_OATH_TOKEN_TIMEOUT: ("The OATH token timed out", False),
    CallResult.FAILED_SECURITY_QUESTIONS_TIMEOUT: ("The security questions timed out", False),
    CallResult.FAILED_AUTH_RESULT_TIMEOUT: ("The authentication result timed out", False),
    CallResult.FAILED_AUTHENTICATION_THROTTLED: ("Authentication throttled", False),
}


def _text(field: str, *, required: bool = True, limit: int = 512):  # type: ignore[no-untyped-def]
    def check(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is None:
            if required:
                raise InvalidValueError(f"{field} is required", field=field)
            return
        if not isinstance(value, str):
            raise InvalidValueError(
                f"{field} must be a string, not {type(value).__name__}", field=field
            )
        if required and not value.strip():
            raise InvalidValueError(f"{field} must not be empty", field=field)
        if len(value) > limit:
            raise InvalidValueError(f"{field} is longer than {limit} characters", field=field)
        if _FORBIDDEN_CHARS.search(value):
            raise InvalidValueError(
                f"{field} holds control characters the provider's XML cannot carry; remove them",
                field=field,
            )

    return check


class PinFormat(enum.Enum):
    """How a PIN travels: in clear, or as a SHA-1 digest with a salt (wire strings)."""

    PLAIN_TEXT = "plainText"
    SHA1 = "sha1"


@attrs.frozen(repr=False)
class Pin:
    """A user's PIN for the PIN modes: a secret, masked in ``repr`` and ``str``.

    Build one with :meth:`plain` or :meth:`sha1`. How the SDK derives the digest from the PIN
    and salt is not public, so pyampam takes the digest as given and never computes it.
    """

    value: str
    format: PinFormat = PinFormat.PLAIN_TEXT
    salt: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.format is PinFormat.PLAIN_TEXT:
            if not (isinstance(self.value, str) and self.value.isascii() and self.value.isdigit()):
                raise InvalidValueError("a PIN must be digits only", field="pin")
            if not 4 <= len(self.value) <= 16:
                raise InvalidValueError("a PIN must have 4 to 16 digits", field="pin")
            if self.salt is not None:
                raise InvalidValueError("a plain-text PIN takes no salt", field="pin")
        else:
            if not (isinstance(self.value, str) and re.fullmatch(r"[0-9a-fA-F]{40}", self.value)):
                raise InvalidValueError("a SHA-1 PIN must be 40 hexadecimal digits", field="pin")
            if self.salt is not None and (
                not isinstance(self.salt, str) or _FORBIDDEN_CHARS.search(self.salt)
            ):
                raise InvalidValueError(
                    "the PIN salt holds characters XML cannot carry", field="pin"
                )

    @classmethod
    def plain(cls, digits: str) -> Pin:
        """A PIN sent in clear (``pinFormat="plainText"``)."""
        return cls(digits, PinFormat.PLAIN_TEXT)

    @classmethod
    def sha1(cls, digest: str, *, salt: str | None = None) -> Pin:
        """A PIN sent as its SHA-1 digest (``pinFormat="sha1"``), with the salt used, if any."""
        return cls(digest.lower(), PinFormat.SHA1, salt)

    def __repr__(self) -> str:
        return f"Pin({mask(self.value)!r}, format={self.format.value!r})"

    __str__ = __repr__


def _to_pin(value: Pin | str | None) -> Pin | None:
    if value is None or isinstance(value, Pin):
        return value
    return Pin.plain(value)


def _phone(instance: object, attribute: attrs.Attribute[PhoneNumber], value: object) -> None:
    if not isinstance(value, PhoneNumber):
        raise InvalidValueError(
            "phone must be a PhoneNumber: use PhoneNumber.parse(text) first", field="phone"
        )


@attrs.frozen(repr=False)
class MfaChallenge:
    """One verification to run: who, which phone, which mode and what to say.

    ``username`` is what the provider records (for MIM, the user's object GUID, so the usage
    report joins back to the user). ``pin``, ``device_token`` are secrets and never shown.
    """

    username: str = attrs.field(validator=_text("username", limit=256))
    phone: PhoneNumber = attrs.field(validator=_phone)
    mode: AuthMode = attrs.field(default=AuthMode.STANDARD, converter=AuthMode)
    pin: Pin | None = attrs.field(default=None, converter=_to_pin)
    sms_text: str | None = attrs.field(default=None, validator=_text("sms_text", required=False))
    application_name: str = attrs.field(
        default="pyampam", validator=_text("application_name", limit=128)
    )
    language: str = attrs.field(default="en", validator=_text("language", limit=16))
    allow_international_calls: bool = False
    device_token: str | None = attrs.field(
        default=None, validator=_text("device_token", required=False, limit=4096)
    )
    notification_type: NotificationType | None = attrs.field(
        default=None, converter=attrs.converters.optional(NotificationType)
    )
    phone_app_account_name: str | None = attrs.field(
        default=None, validator=_text("phone_app_account_name", required=False)
    )

    def __attrs_post_init__(self) -> None:
        if self.mode.needs_pin and self.pin is None:
            raise InvalidValueError(
                f"mode {self.mode.value!r} needs the user's PIN: pass pin=", field="pin"
            )
        if self.mode.is_phone_app and not self.device_token:
            raise InvalidValueError(
                f"mode {self.mode.value!r} needs the phone app's device token: pass device_token=",
                field="device_token",
            )
        if self.sms_text is not None and self.mode.is_sms and OTP_PLACEHOLDER not in self.sms_text:
            raise InvalidValueError(
                f"sms_text must contain {OTP_PLACEHOLDER}, where the passcode goes",
                field="sms_text",
            )

    def __repr__(self) -> str:
        extras = ""
        if self.pin is not None:
            extras += f", pin={mask(self.pin.value)!r}"
        if self.device_token is not None:
            extras += f", device_token={mask(self.device_token)!r}"
        return (
            f"MfaChallenge(username={self.username!r}, phone={str(self.phone)!r}, "
            f"mode={self.mode.value!r}{extras})"
        )

    __str__ = __repr__


@attrs.frozen
class CallHandle:
    """What ``initiate`` returns: the call's id and its status at that moment."""

    call_id: str
    status: CallStatus


@attrs.frozen
class MfaResult:
    """The outcome of a finished call.

    ``call_status`` and ``error_id`` are the provider's raw codes (their meanings are not
    public). ``otp`` (one-way SMS only) is a secret the application compares with what the user
    types; it is never shown.
    """

    authenticated: bool
    request_id: str
    call_status: int | None = None
    error_id: int | None = None
    otp: str | None = attrs.field(default=None, repr=mask)
    call_result: CallResult | None = None
    message: str = ""

    @property
    def status(self) -> CallStatus:
        """SUCCESS when the user authenticated, else FAILED."""
        return CallStatus.SUCCESS if self.authenticated else CallStatus.FAILED
