"""The PhoneFactor (Azure MFA SDK) wire protocol 1.5: request XML out, response XML in."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET  # only writes XML; parsing uses defusedxml
from typing import TYPE_CHECKING

import attrs

from pyampam.exceptions import ProviderResponseError
from pyampam.providers._types import (
    OTP_PLACEHOLDER,
    AuthMode,
    MfaChallenge,
    MfaResult,
    Pin,
    PinFormat,
)

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = [
    "DEFAULT_HOSTNAME",
    "DEFAULT_IP",
    "PHONE_APP_MESSAGES",
    "PROTOCOL_VERSION",
    "AsyncAcknowledgement",
    "RequestSource",
    "build_authentication_request",
    "new_request_id",
    "parse_async_acknowledgement",
    "parse_authentication_response",
]

PROTOCOL_VERSION = "1.5"
#: What the reference client reports as its host when the caller does not say.
DEFAULT_HOSTNAME = "pfsdk-hostname"
DEFAULT_IP = "255.255.255.255"

#: The texts the phone app shows, by message type. Only the two types the protocol description
#: names are sent; the backend's full list of types is not public, so none is guessed here.
PHONE_APP_MESSAGES: tuple[tuple[str, str], ...] = (
    ("authenticateButton", "Authenticate"),
    ("authenticationDenied", "Sign-in denied."),
)

# Anything larger is not an answer to a verification request; refusing it early keeps a broken
# or hostile endpoint from making the parser chew on megabytes.
MAX_RESPONSE_BYTES = 256 * 1024

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_HTML_START = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.IGNORECASE | re.S)


@attrs.frozen
class RequestSource:
    """Who is asking: the ``<host ip= hostname=>`` the request names as its source."""

    hostname: str = DEFAULT_HOSTNAME
    ip: str = DEFAULT_IP


def new_request_id() -> str:
    """A fresh request id: 122 random bits, so a response or callback cannot be guessed."""
    return uuid.uuid4().hex


def _sub(parent: Element, tag: str, text: str | None = None, **attributes: str) -> Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _pin(parent: Element, pin: Pin) -> None:
    attributes = {"pinFormat": pin.format.value}
    if pin.format is PinFormat.SHA1 and pin.salt is not None:
        attributes["sha1Salt"] = pin.salt
    attributes["pinChangeRequired"] = "no"
    _sub(parent, "pin", pin.value, **attributes)


def _require_pin(challenge: MfaChallenge) -> Pin:
    # MfaChallenge already refuses a PIN mode without a PIN; this guards the type for mypy.
    if challenge.pin is None:  # pragma: no cover
        raise ValueError(f"mode {challenge.mode.value!r} needs a PIN")
    return challenge.pin


_SMS_SHAPES = {
    AuthMode.SMS_ONE_WAY_OTP: ("one-way", "otp"),
    AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN: ("one-way", "otp-pin"),
    AuthMode.SMS_TWO_WAY_OTP: ("two-way", "otp"),
    AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN: ("two-way", "otp-pin"),
}


def _voice_parts(request: Element, challenge: MfaChallenge) -> None:
    pin_info = _sub(request, "pinInfo", pinMode=challenge.mode.value)
    if challenge.mode is AuthMode.PIN:
        _pin(pin_info, _require_pin(challenge))
    _sub(pin_info, "userCanChangePin", "no")


def _sms_parts(request: Element, challenge: MfaChallenge) -> None:
    direction, sms_mode = _SMS_SHAPES[challenge.mode]
    sms_info = _sub(request, "smsInfo", direction=direction, mode=sms_mode)
    _sub(sms_info, "message", challenge.sms_text or OTP_PLACEHOLDER)
    if challenge.mode is AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN:
        _pin(sms_info, _require_pin(challenge))
    _sub(request, "pinInfo", pinMode="standard")


def _phone_app_parts(request: Element, challenge: MfaChallenge) -> None:
    app_mode = "pin" if challenge.mode is AuthMode.PHONE_APP_PIN else "standard"
    info = _sub(request, "phoneAppAuthInfo", mode=app_mode)
    tokens = _sub(info, "deviceTokens")
    token_attributes = {}
    if challenge.notification_type is not None:
        token_attributes["notificationType"] = challenge.notification_type.value
    _sub(tokens, "deviceToken", challenge.device_token or "", **token_attributes)
    _sub(info, "phoneAppAccountName", challenge.phone_app_account_name or "")
    if challenge.mode is AuthMode.PHONE_APP_PIN:
        _pin(info, _require_pin(challenge))
    messages = _sub(info, "phoneAppMessages")
    for message_type, text in PHONE_APP_MESSAGES:
        _sub(messages, "message", text, type=message_type)
    _sub(request, "pinInfo")


def build_authentication_request(
    challenge: MfaChallenge,
    *,
    license_key: str,
    group_key: str,
    request_id: str,
    source: RequestSource = RequestSource(),  # frozen, so one shared default is safe
    async_response_url: str | None = None,
) -> bytes:
    """The ``<pfpMessage>`` asking the backend to verify ``challenge``, as UTF-8 bytes.

    ``async_response_url`` asks for the asynchronous variant: the backend answers at once and
    later POSTs the outcome to that URL. The result holds the license and group keys (and the
    PIN, in the PIN modes): treat it as a secret and never log it.
    """
    root = ET.Element("pfpMessage", {"version": PROTOCOL_VERSION})
    component = _sub(_sub(_sub(root, "header"), "source"), "component", type="pfsdk")
    _sub(component, "host", ip=source.ip, hostname=source.hostname)
    request = _sub(
        root,
        "request",
        **{
            "request-id": request_id,
            "language": challenge.language,
            "async": "0" if async_response_url is None else "1",
            "response-url": async_response_url or "",
        },
    )
    auth_attributes = {}
    if challenge.mode.is_sms:
        auth_attributes["mode"] = "sms"
    elif challenge.mode.is_phone_app:
        auth_attributes["mode"] = "phoneApp"
    auth = _sub(request, "authenticationRequest", **auth_attributes)
    customer = _sub(auth, "customer")
    _sub(customer, "licenseKey", license_key)
    _sub(customer, "groupKey", group_key)
    phone = challenge.phone
    _sub(auth, "countryCode", str(phone.country_code))
    _sub(auth, "authenticationType", "pfsdk")
    _sub(auth, "username", challenge.username)
    phone_attributes = {"userCanChangePhone": "no"}
    if phone.extension is not None:
        phone_attributes["extension"] = phone.extension
    _sub(auth, "phonenumber", phone.national_number, **phone_attributes)
    _sub(auth, "allowInternationalCalls", "yes" if challenge.allow_international_calls else "no")
    _sub(auth, "applicationName", challenge.application_name)
    if challenge.mode.is_sms:
        _sms_parts(auth, challenge)
    elif challenge.mode.is_phone_app:
        _phone_app_parts(auth, challenge)
    else:
        _voice_parts(auth, challenge)
    body = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + body.encode("utf-8")


# -- responses ---------------------------------------------------------------------------------


@attrs.frozen
class AsyncAcknowledgement:
    """The backend's immediate answer to an asynchronous request: accepted, or refused.

    ``refusal`` holds the final result when the backend refused the request outright
    (``disposition="fail"``); the outcome of an accepted request arrives later by callback.
    """

    request_id: str
    refusal: MfaResult | None = None


def _problem(
    message: str, *, request_id: str | None, endpoint: str | None
) -> ProviderResponseError:
    return ProviderResponseError(f"{message}; {_WHAT_TO_DO}", call_id=request_id, endpoint=endpoint)


_WHAT_TO_DO = (
    "the call's outcome is unknown: check the endpoint URL, and retry later if the provider is "
    "having trouble"
)


def _parse_root(body: bytes, *, request_id: str | None, endpoint: str | None) -> Element:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    if not body.strip():
        raise _problem(
            "the provider's answer was empty, which the protocol defines as a failure",
            request_id=request_id,
            endpoint=endpoint,
        )
    if len(body) > MAX_RESPONSE_BYTES:
        raise _problem(
            f"the provider's answer is {len(body)} bytes, more than the "
            f"{MAX_RESPONSE_BYTES} a protocol answer can be",
            request_id=request_id,
            endpoint=endpoint,
        )
    if _HTML_START.match(body):
        raise _problem(
            "the provider answered with an HTML page, not a protocol message (a proxy or "
            "error page?)",
            request_id=request_id,
            endpoint=endpoint,
        )
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as error:
        # LookupError: an XML declaration naming an encoding Python does not know.
        raise _problem(
            f"the provider's answer is not well-formed XML ({type(error).__name__}: "
            f"{str(error)[:120]})",
            request_id=request_id,
            endpoint=endpoint,
        ) from error
    if root.tag != "pfpMessage":
        raise _problem(
            f"the provider's answer is a <{str(root.tag)[:40]}> document, not a <pfpMessage>",
            request_id=request_id,
            endpoint=endpoint,
        )
    return root


def _integer(element: Element | None, name: str, *, request_id: str, endpoint: str | None) -> int:
    text = (element.text or "").strip() if element is not None else ""
    if not _INTEGER.fullmatch(text):
        raise _problem(
            f"the provider's <{name}> is {text[:20]!r}, not an integer",
            request_id=request_id,
            endpoint=endpoint,
        )
    return int(text)


def _response_parts(
    body: bytes, expected_request_id: str | None, endpoint: str | None
) -> tuple[str, Element, int | None, bool]:
    """Check the envelope; return request id, <response>, error-id and whether it failed."""
    root = _parse_root(body, request_id=expected_request_id, endpoint=endpoint)
    response = root.find("response")
    if response is None:
        raise _problem(
            "the provider's answer has no <response> element",
            request_id=expected_request_id,
            endpoint=endpoint,
        )
    found_id = response.get("request-id") or ""
    known_id = expected_request_id or found_id or None
    status = response.find("status")
    if status is None:
        raise _problem(
            "the provider's <response> has no <status>", request_id=known_id, endpoint=endpoint
        )
    disposition = (status.get("disposition") or "").strip().lower()
    if disposition not in ("success", "fail"):
        raise _problem(
            f"the provider's status disposition is {disposition[:20]!r}, not success or fail",
            request_id=known_id,
            endpoint=endpoint,
        )
    failed = disposition == "fail"
    if not found_id and failed and expected_request_id is not None:
        # A backend that could not read the request cannot echo its id; on a synchronous
        # exchange the connection itself pairs the refusal with the request.
        found_id = expected_request_id
    if not found_id:
        raise _problem(
            "the provider's <response> carries no request-id",
            request_id=known_id,
            endpoint=endpoint,
        )
    if expected_request_id is not None and found_id != expected_request_id:
        raise _problem(
            f"the provider answered request {found_id[:64]!r}, not this one",
            request_id=expected_request_id,
            endpoint=endpoint,
        )
    request_id = found_id
    error_element = status.find("error-id")
    error_id = None
    if error_element is not None and (error_element.text or "").strip():
        error_id = _integer(error_element, "error-id", request_id=request_id, endpoint=endpoint)
    return request_id, response, error_id, failed


def _refusal(request_id: str, error_id: int | None) -> MfaResult:
    code = "without an error-id" if error_id is None else f"with error-id {error_id}"
    return MfaResult(
        authenticated=False,
        request_id=request_id,
        error_id=error_id,
        message=f"the provider refused the request {code}",
    )


def parse_authentication_response(
    body: bytes, *, expected_request_id: str | None, endpoint: str | None = None
) -> MfaResult:
    """Read the backend's final answer to an authentication request.

    ``expected_request_id`` is the id the request was sent with (None accepts any id, for a
    callback whose call is looked up by the id found). A refused request
    (``disposition="fail"``) is a result that is not authenticated, with the raw ``error_id``.
    Anything else that is not a complete answer raises
    :class:`~pyampam.exceptions.ProviderResponseError`.
    """
    request_id, response, error_id, failed = _response_parts(body, expected_request_id, endpoint)
    if failed:
        return _refusal(request_id, error_id)
    answer = response.find("authenticationResponse")
    if answer is None:
        raise _problem(
            "the provider's answer has no <authenticationResponse>",
            request_id=request_id,
            endpoint=endpoint,
        )
    authenticated_element = answer.find("authenticated")
    authenticated_text = (
        (authenticated_element.text or "").strip().lower()
        if authenticated_element is not None
        else ""
    )
    if authenticated_text not in ("yes", "no"):
        raise _problem(
            f"the provider's <authenticated> is {authenticated_text[:20]!r}, not yes or no",
            request_id=request_id,
            endpoint=endpoint,
        )
    # callStatus only describes the call; an answer without it still says yes or no.
    status_element = answer.find("callStatus")
    call_status = None
    if status_element is not None:
        call_status = _integer(
            status_element, "callStatus", request_id=request_id, endpoint=endpoint
        )
    otp_element = answer.find("otp")
    otp = (otp_element.text or "").strip() if otp_element is not None else ""
    authenticated = authenticated_text == "yes"
    message = "authenticated" if authenticated else "not authenticated"
    if call_status is not None:
        message += f" (callStatus {call_status})"
    return MfaResult(
        authenticated=authenticated,
        request_id=request_id,
        call_status=call_status,
        error_id=error_id,
        otp=otp or None,
        message=message,
    )


def parse_async_acknowledgement(
    body: bytes, *, expected_request_id: str, endpoint: str | None = None
) -> AsyncAcknowledgement:
    """Read the backend's immediate answer to an asynchronous request.

    The outcome itself arrives later by callback, so only the envelope and the disposition are
    checked; a refusal carries the final result. Raises
    :class:`~pyampam.exceptions.ProviderResponseError` for anything that is not an answer to
    this request.
    """
    request_id, _, error_id, failed = _response_parts(body, expected_request_id, endpoint)
    if failed:
        return AsyncAcknowledgement(request_id, _refusal(request_id, error_id))
    return AsyncAcknowledgement(request_id)
