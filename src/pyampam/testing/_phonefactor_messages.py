"""The test server's own reading and writing of PhoneFactor protocol 1.5 messages.

Written apart from the real client's code on purpose: the round-trip tests compare two
independent readings of the protocol description. Requests are parsed with defusedxml (they are
untrusted input); responses are written with the standard library.
"""

# defusedxml is imported inside parse_request so that importing pyampam.testing stays light.
# The standard library's ElementTree only writes XML here, and catches its ParseError.

from __future__ import annotations

import enum
import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import attrs

from pyampam._secrets import mask
from pyampam.providers._types import AuthMode, NotificationType, PinFormat
from pyampam.testing._phonefactor_outcomes import ServerOutcome

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = [
    "PROTOCOL_VERSION",
    "RecordedRequest",
    "RejectedRequest",
    "RequestKind",
    "RequestRejectedError",
    "ServerErrorId",
    "build_acknowledgement",
    "build_error",
    "build_response",
    "generate_otp",
    "parse_request",
]

PROTOCOL_VERSION = "1.5"


class ServerErrorId(enum.IntEnum):
    """The ``<error-id>`` codes the *test server* uses when it refuses a request.

    These are the test server's own inventions (the real codes are not public), chosen far
    from small numbers so they are not mistaken for real ones. Each comes with
    ``disposition="fail"``.
    """

    #: The body is not well-formed XML, or a required element or attribute is missing or invalid.
    MALFORMED_REQUEST = 90001
    #: The XML holds a DTD, entity declarations or external references (refused unparsed).
    FORBIDDEN_XML = 90002
    #: ``<licenseKey>`` is not the server's license key.
    WRONG_LICENSE_KEY = 90003
    #: ``<groupKey>`` is not the server's group key.
    WRONG_GROUP_KEY = 90004
    #: Not a protocol 1.5 authentication, PIN reset or device token validation request.
    UNSUPPORTED_REQUEST = 90005


class RequestKind(enum.Enum):
    """Which request a message carries; the values are the request element names."""

    AUTHENTICATION = "authenticationRequest"
    PIN_RESET = "setPinResetRequest"
    VALIDATE_DEVICE_TOKEN = "validateDeviceTokenRequest"  # noqa: S105 -- an element name


_RESPONSE_ELEMENTS = {
    RequestKind.PIN_RESET: ("setPinResetResponse", "result"),
    RequestKind.VALIDATE_DEVICE_TOKEN: ("validateDeviceTokenResponse", "validationResult"),
}


class RequestRejectedError(Exception):
    """A request the test server refuses to process (bad XML, missing parts, wrong keys)."""

    def __init__(self, error_id: ServerErrorId, reason: str, request_id: str | None) -> None:
        self.error_id = error_id
        self.reason = reason
        self.request_id = request_id
        super().__init__(reason)


@attrs.frozen(repr=False)
class RecordedRequest:
    """One well-formed request as the test server received it.

    Values are the texts found on the wire (so ``country_code`` is ``"1"``, not ``1``), with
    ``mode`` recovered from the mode-specific elements as an
    :class:`~pyampam.providers.AuthMode`. Elements that were absent are None. ``outcome`` is the
    :class:`ServerOutcome` the server applied (with the OTP it generated, if any);
    ``connection_id`` numbers the TLS connection the request came on, so a test can see two
    requests share one connection.

    The keys, ``pin``, ``device_token`` and the raw ``body`` are secrets: ``repr()`` leaves
    them out.
    """

    kind: RequestKind
    request_id: str
    username: str
    license_key: str
    group_key: str
    body: bytes
    version: str = PROTOCOL_VERSION
    mode: AuthMode | None = None
    country_code: str | None = None
    national_number: str | None = None
    extension: str | None = None
    user_can_change_phone: bool | None = None
    pin: str | None = None
    pin_format: PinFormat | None = None
    pin_salt: str | None = None
    pin_change_required: bool | None = None
    sms_text: str | None = None
    device_token: str | None = None
    notification_type: NotificationType | None = None
    phone_app_account_name: str | None = None
    phone_app_messages: tuple[tuple[str, str], ...] = ()
    is_async: bool = False
    response_url: str | None = None
    application_name: str | None = None
    language: str | None = None
    allow_international_calls: bool | None = None
    authentication_type: str | None = None
    host_ip: str | None = None
    host_name: str | None = None
    connection_id: int = 0
    outcome: ServerOutcome | None = None

    def __repr__(self) -> str:
        parts = [
            f"kind={self.kind.name}",
            f"request_id={self.request_id!r}",
            f"username={self.username!r}",
        ]
        if self.mode is not None:
            parts.append(f"mode={self.mode.value!r}")
        if self.national_number is not None:
            parts.append(f"phone={self.country_code!r}/{self.national_number!r}")
        if self.pin is not None:
            parts.append(f"pin={mask(self.pin)!r}")
        if self.device_token is not None:
            parts.append(f"device_token={mask(self.device_token)!r}")
        if self.is_async:
            parts.append(f"response_url={self.response_url!r}")
        parts.append(f"connection_id={self.connection_id}")
        return f"RecordedRequest({', '.join(parts)})"

    __str__ = __repr__


@attrs.frozen(repr=False)
class RejectedRequest:
    """A request the test server refused, with the error id it answered and why.

    ``body`` is left out of ``repr()``: it may hold keys or a PIN.
    """

    error_id: ServerErrorId
    reason: str
    body: bytes
    request_id: str | None = None
    connection_id: int = 0

    def __repr__(self) -> str:
        return (
            f"RejectedRequest(error_id={self.error_id.name}, reason={self.reason!r}, "
            f"request_id={self.request_id!r})"
        )

    __str__ = __repr__


# ---------------------------------------------------------------------------------------------
# Reading requests


def _malformed(reason: str, request_id: str | None) -> RequestRejectedError:
    return RequestRejectedError(ServerErrorId.MALFORMED_REQUEST, reason, request_id)


class _Reader:
    """Reads one request element, turning every gap into a MALFORMED_REQUEST rejection."""

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id

    def child(self, parent: Element, tag: str) -> Element:
        found = parent.find(tag)
        if found is None:
            raise _malformed(f"<{parent.tag}> has no <{tag}>", self.request_id)
        return found

    def text(self, parent: Element, tag: str) -> str:
        return self.child(parent, tag).text or ""

    def optional_text(self, parent: Element, path: str) -> str | None:
        found = parent.find(path)
        return None if found is None else (found.text or "")

    def yes_no(self, value: str | None, what: str) -> bool | None:
        if value is None:
            return None
        if value not in ("yes", "no"):
            raise _malformed(f"{what} must be 'yes' or 'no', not {value!r}", self.request_id)
        return value == "yes"

    def choice(self, value: str | None, allowed: tuple[str, ...], what: str) -> str:
        if value not in allowed:
            raise _malformed(f"{what} must be one of {allowed}, not {value!r}", self.request_id)
        return value


def parse_request(body: bytes) -> RecordedRequest:
    """Read a request body into a :class:`RecordedRequest` (keys not yet checked).

    Raises :class:`RequestRejectedError` for hostile XML (any DTD or entity), malformed XML and
    messages that break the protocol's shape.
    """
    import defusedxml
    import defusedxml.ElementTree as SafeET

    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except defusedxml.DefusedXmlException as error:
        raise RequestRejectedError(
            ServerErrorId.FORBIDDEN_XML, f"forbidden XML construct: {error}", None
        ) from error
    except ET.ParseError as error:
        raise _malformed(f"not well-formed XML: {error}", None) from error

    if root.tag != "pfpMessage":
        raise RequestRejectedError(
            ServerErrorId.UNSUPPORTED_REQUEST, f"root element is <{root.tag}>", None
        )
    request = root.find("request")
    if request is None:
        raise RequestRejectedError(
            ServerErrorId.UNSUPPORTED_REQUEST, "<pfpMessage> has no <request>", None
        )
    request_id = request.get("request-id")
    if not request_id:
        raise _malformed("<request> has no request-id", None)
    version = root.get("version", "")
    if version != PROTOCOL_VERSION:
        raise RequestRejectedError(
            ServerErrorId.UNSUPPORTED_REQUEST,
            f"protocol version {version!r}, expected {PROTOCOL_VERSION!r}",
            request_id,
        )
    read = _Reader(request_id)

    kinds = [kind for kind in RequestKind if request.find(kind.value) is not None]
    if len(kinds) != 1:
        raise RequestRejectedError(
            ServerErrorId.UNSUPPORTED_REQUEST,
            "<request> must hold exactly one authenticationRequest, setPinResetRequest or "
            f"validateDeviceTokenRequest; it holds {[child.tag for child in request]}",
            request_id,
        )
    kind = kinds[0]
    inner = read.child(request, kind.value)
    customer = read.child(inner, "customer")
    async_flag = request.get("async", "0")
    read.choice(async_flag, ("0", "1"), "async")
    host = root.find("header/source/component/host")

    base = RecordedRequest(
        kind=kind,
        request_id=request_id,
        username=read.text(inner, "username"),
        license_key=read.text(customer, "licenseKey"),
        group_key=read.text(customer, "groupKey"),
        body=bytes(body),
        version=version,
        is_async=async_flag == "1",
        response_url=request.get("response-url") or None,
        language=request.get("language"),
        host_ip=None if host is None else host.get("ip"),
        host_name=None if host is None else host.get("hostname"),
    )
    if kind is RequestKind.PIN_RESET:
        return base
    if kind is RequestKind.VALIDATE_DEVICE_TOKEN:
        return attrs.evolve(
            base,
            device_token=read.text(inner, "deviceToken"),
            phone_app_account_name=read.optional_text(inner, "phoneAppAccountName"),
        )
    return _parse_authentication(inner, read, base)


def _parse_authentication(inner: Element, read: _Reader, base: RecordedRequest) -> RecordedRequest:
    phone = read.child(inner, "phonenumber")
    mode = _mode(inner, read)
    pin = inner.find(".//pin")
    pin_format = None
    if pin is not None:
        format_text = read.choice(pin.get("pinFormat"), ("plainText", "sha1"), "pinFormat")
        pin_format = PinFormat(format_text)
    token = inner.find(".//deviceTokens/deviceToken")
    notification = None if token is None else token.get("notificationType")
    if notification is not None:
        allowed = tuple(member.value for member in NotificationType)
        notification = read.choice(notification, allowed, "notificationType")
    messages = tuple(
        (message.get("type", ""), message.text or "")
        for message in inner.findall(".//phoneAppMessages/message")
    )
    return attrs.evolve(
        base,
        mode=mode,
        country_code=read.text(inner, "countryCode"),
        national_number=phone.text or "",
        extension=phone.get("extension"),
        user_can_change_phone=read.yes_no(phone.get("userCanChangePhone"), "userCanChangePhone"),
        pin=None if pin is None else (pin.text or ""),
        pin_format=pin_format,
        pin_salt=None if pin is None else pin.get("sha1Salt"),
        pin_change_required=None
        if pin is None
        else read.yes_no(pin.get("pinChangeRequired"), "pinChangeRequired"),
        sms_text=read.optional_text(inner, "smsInfo/message"),
        device_token=None if token is None else (token.text or ""),
        notification_type=None if notification is None else NotificationType(notification),
        phone_app_account_name=read.optional_text(inner, ".//phoneAppAccountName"),
        phone_app_messages=messages,
        application_name=read.optional_text(inner, "applicationName"),
        allow_international_calls=read.yes_no(
            read.optional_text(inner, "allowInternationalCalls"), "allowInternationalCalls"
        ),
        authentication_type=read.optional_text(inner, "authenticationType"),
    )


def _mode(inner: Element, read: _Reader) -> AuthMode:
    kind = inner.get("mode")
    if kind is None:
        pin_info = read.child(inner, "pinInfo")
        pin_mode = read.choice(
            pin_info.get("pinMode"), ("standard", "pin", "voiceprint"), "pinInfo pinMode"
        )
        return AuthMode(pin_mode)
    if kind == "sms":
        sms = read.child(inner, "smsInfo")
        direction = read.choice(sms.get("direction"), ("one-way", "two-way"), "smsInfo direction")
        sms_mode = read.choice(sms.get("mode"), ("otp", "otp-pin"), "smsInfo mode")
        way = "one_way" if direction == "one-way" else "two_way"
        suffix = "_plus_pin" if sms_mode == "otp-pin" else ""
        return AuthMode(f"sms_{way}_otp{suffix}")
    if kind == "phoneApp":
        app = read.child(inner, "phoneAppAuthInfo")
        app_mode = read.choice(app.get("mode"), ("standard", "pin"), "phoneAppAuthInfo mode")
        return AuthMode(f"phone_app_{app_mode}")
    raise _malformed(
        f"authenticationRequest mode must be absent, 'sms' or 'phoneApp', not {kind!r}",
        read.request_id,
    )


# ---------------------------------------------------------------------------------------------
# Writing responses


def generate_otp() -> str:
    """A random 6-digit one-time passcode, as the backend would send by SMS."""
    return f"{secrets.randbelow(1_000_000):06d}"


def _message(request_id: str) -> tuple[Element, Element]:
    root = ET.Element("pfpMessage", version=PROTOCOL_VERSION)
    response = ET.SubElement(root, "response", {"request-id": request_id})
    return root, response


def _status(response: Element, disposition: str, error_id: int | None) -> None:
    status = ET.SubElement(response, "status", disposition=disposition)
    if error_id is not None:
        ET.SubElement(status, "error-id").text = str(error_id)


def _serialize(root: Element) -> bytes:
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def build_response(request_id: str, kind: RequestKind, outcome: ServerOutcome) -> bytes:
    """The final response to a request of ``kind``, as ``outcome`` scripts it.

    ``outcome.otp`` is written as given (an empty string or None leaves ``<otp>`` out); the
    server fills in generated passcodes before calling this.
    """
    root, response = _message(request_id)
    _status(response, outcome.disposition, outcome.error_id)
    if kind is RequestKind.AUTHENTICATION:
        answer = ET.SubElement(response, "authenticationResponse")
        ET.SubElement(answer, "authenticated").text = "yes" if outcome.authenticated else "no"
        if outcome.call_status is not None:
            ET.SubElement(answer, "callStatus").text = str(outcome.call_status)
        if outcome.otp:
            ET.SubElement(answer, "otp").text = outcome.otp
    elif outcome.disposition == "success":
        element, result = _RESPONSE_ELEMENTS[kind]
        ET.SubElement(ET.SubElement(response, element), result).text = str(outcome.result)
    return _serialize(root)


def build_acknowledgement(request_id: str) -> bytes:
    """The immediate answer to an asynchronous request: success, and no outcome yet.

    ``<response request-id=ID><status disposition="success"><error-id>0</error-id></status>``
    with no ``<authenticationResponse>``: the outcome comes later, POSTed to the response URL.
    """
    root, response = _message(request_id)
    _status(response, "success", 0)
    return _serialize(root)


def build_error(request_id: str | None, error_id: ServerErrorId) -> bytes:
    """The answer to a refused request: ``disposition="fail"`` with the server's ``error_id``.

    An authentication-style answer (``authenticated`` no, no ``callStatus``); the request id is
    empty when it could not be read.
    """
    outcome = ServerOutcome.fail(int(error_id))
    return build_response(request_id or "", RequestKind.AUTHENTICATION, outcome)
