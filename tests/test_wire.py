"""The PhoneFactor protocol 1.5 messages the client writes and the answers it reads."""

from __future__ import annotations

import re
import string
import xml.etree.ElementTree as ET
from xml.etree.ElementTree import Element

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyampam._phone import PhoneNumber
from pyampam.exceptions import ProviderResponseError
from pyampam.providers import AuthMode, MfaChallenge, NotificationType, Pin, PinFormat
from pyampam.providers._wire import (
    MAX_RESPONSE_BYTES,
    PHONE_APP_MESSAGES,
    RequestSource,
    build_authentication_request,
    new_request_id,
    parse_async_acknowledgement,
    parse_authentication_response,
)
from pyampam.testing import RequestKind, ServerOutcome, build_acknowledgement
from pyampam.testing._phonefactor_messages import build_response, parse_request

LICENSE = "LICENSE-KEY-1"
GROUP = "group-key-2"
RID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PHONE = PhoneNumber(1, "4255550123")
SHA1 = "0123456789abcdef0123456789abcdef01234567"


def challenge(mode: AuthMode = AuthMode.STANDARD, **fields: object) -> MfaChallenge:
    defaults: dict[str, object] = {"username": "7f9c2d1e-guid", "phone": PHONE, "mode": mode}
    if mode.needs_pin:
        defaults["pin"] = Pin.plain("4321")
    if mode.is_phone_app:
        defaults["device_token"] = "device-token-abc"
    defaults.update(fields)
    return MfaChallenge(**defaults)  # type: ignore[arg-type]


def build(mfa: MfaChallenge, **options: object) -> bytes:
    return build_authentication_request(
        mfa,
        license_key=LICENSE,
        group_key=GROUP,
        request_id=RID,
        **options,  # type: ignore[arg-type]
    )


def tree(mfa: MfaChallenge, **options: object) -> Element:
    return ET.fromstring(build(mfa, **options))  # noqa: S314 -- our own output, not input


def auth(root: Element) -> Element:
    found = root.find("request/authenticationRequest")
    assert found is not None
    return found


def tags(element: Element) -> list[str]:
    return [child.tag for child in element]


def only(element: Element, path: str) -> Element:
    found = element.findall(path)
    assert len(found) == 1, f"{path}: {len(found)} elements"
    return found[0]


COMMON_TAGS = [
    "customer",
    "countryCode",
    "authenticationType",
    "username",
    "phonenumber",
    "allowInternationalCalls",
    "applicationName",
]


# -- the request envelope ----------------------------------------------------------------------


def test_envelope_names_version_source_and_request() -> None:
    """The message is pfpMessage 1.5 with the pfsdk source host and the request attributes."""
    body = build(challenge(), source=RequestSource(hostname="mim-host", ip="10.0.0.7"))
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><pfpMessage version="1.5">')
    root = ET.fromstring(body)  # noqa: S314
    assert root.tag == "pfpMessage"
    assert root.attrib == {"version": "1.5"}
    assert tags(root) == ["header", "request"]
    component = only(root, "header/source/component")
    assert component.attrib == {"type": "pfsdk"}
    assert only(component, "host").attrib == {"ip": "10.0.0.7", "hostname": "mim-host"}
    request = only(root, "request")
    assert list(request.attrib.items()) == [
        ("request-id", RID),
        ("language", "en"),
        ("async", "0"),
        ("response-url", ""),
    ]
    assert tags(request) == ["authenticationRequest"]


def test_default_source_is_the_reference_clients() -> None:
    """Without a source the host is pfsdk-hostname at 255.255.255.255, as the SDK sends."""
    host = only(tree(challenge()), "header/source/component/host")
    assert host.attrib == {"ip": "255.255.255.255", "hostname": "pfsdk-hostname"}


def test_async_request_names_the_response_url() -> None:
    """The asynchronous variant sets async="1" and the response URL, escaped."""
    url = "https://mim.example/cb?a=1&b=<2>"
    body = build(challenge(), async_response_url=url)
    assert b'response-url="https://mim.example/cb?a=1&amp;b=&lt;2&gt;"' in body
    request = only(ET.fromstring(body), "request")  # noqa: S314
    assert request.get("async") == "1"
    assert request.get("response-url") == url


def test_common_parts_in_order() -> None:
    """Customer keys, country code, type, user, phone, international calls and app name."""
    mfa = challenge(
        phone=PhoneNumber(44, "2079460958"),
        application_name="PAM",
        language="de",
        allow_international_calls=True,
    )
    root = tree(mfa)
    request = auth(root)
    assert tags(request)[: len(COMMON_TAGS)] == COMMON_TAGS
    assert tags(only(request, "customer")) == ["licenseKey", "groupKey"]
    assert only(request, "customer/licenseKey").text == LICENSE
    assert only(request, "customer/groupKey").text == GROUP
    assert only(request, "countryCode").text == "44"
    assert only(request, "authenticationType").text == "pfsdk"
    assert only(request, "username").text == "7f9c2d1e-guid"
    phone = only(request, "phonenumber")
    assert phone.attrib == {"userCanChangePhone": "no"}
    assert phone.text == "2079460958"
    assert only(request, "allowInternationalCalls").text == "yes"
    assert only(request, "applicationName").text == "PAM"
    assert only(root, "request").get("language") == "de"


def test_defaults_disallow_international_calls() -> None:
    """International calls are not allowed unless the challenge says so."""
    assert only(auth(tree(challenge())), "allowInternationalCalls").text == "no"


def test_extension_is_an_attribute_of_the_phone_number() -> None:
    """An extension travels as phonenumber's extension attribute, after userCanChangePhone."""
    phone = only(auth(tree(challenge(phone=PhoneNumber(1, "4255550123", "@12,3#")))), "phonenumber")
    assert list(phone.attrib.items()) == [("userCanChangePhone", "no"), ("extension", "@12,3#")]
    assert phone.text == "4255550123"


# -- voice modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [AuthMode.STANDARD, AuthMode.VOICEPRINT])
def test_voice_modes_without_pin(mode: AuthMode) -> None:
    """Standard and voiceprint end with pinInfo pinMode=MODE holding only userCanChangePin."""
    request = auth(tree(challenge(mode)))
    assert "mode" not in request.attrib
    assert tags(request) == [*COMMON_TAGS, "pinInfo"]
    pin_info = only(request, "pinInfo")
    assert pin_info.attrib == {"pinMode": mode.value}
    assert tags(pin_info) == ["userCanChangePin"]
    assert only(pin_info, "userCanChangePin").text == "no"


def test_pin_mode_sends_plain_pin() -> None:
    """PIN mode puts a plainText pin, pinChangeRequired="no", before userCanChangePin."""
    pin_info = only(auth(tree(challenge(AuthMode.PIN, pin=Pin.plain("0042")))), "pinInfo")
    assert pin_info.attrib == {"pinMode": "pin"}
    assert tags(pin_info) == ["pin", "userCanChangePin"]
    pin = only(pin_info, "pin")
    assert list(pin.attrib.items()) == [("pinFormat", "plainText"), ("pinChangeRequired", "no")]
    assert pin.text == "0042"


def test_pin_mode_sends_sha1_pin_with_salt() -> None:
    """A SHA-1 PIN carries its digest and, when given, the salt as sha1Salt."""
    mfa = challenge(AuthMode.PIN, pin=Pin.sha1(SHA1.upper(), salt="s<a>l&t\"'"))
    body = build(mfa)
    assert b'sha1Salt="s&lt;a&gt;l&amp;t&quot;\'"' in body
    pin = only(ET.fromstring(body), ".//pinInfo/pin")  # noqa: S314
    assert list(pin.attrib.items()) == [
        ("pinFormat", "sha1"),
        ("sha1Salt", "s<a>l&t\"'"),
        ("pinChangeRequired", "no"),
    ]
    assert pin.text == SHA1


def test_sha1_pin_without_salt_has_no_salt_attribute() -> None:
    """No salt, no sha1Salt attribute."""
    pin = only(tree(challenge(AuthMode.PIN, pin=Pin.sha1(SHA1))), ".//pinInfo/pin")
    assert pin.attrib == {"pinFormat": "sha1", "pinChangeRequired": "no"}


# -- SMS -----------------------------------------------------------------------------------

SMS_SHAPES = [
    (AuthMode.SMS_ONE_WAY_OTP, "one-way", "otp"),
    (AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN, "one-way", "otp-pin"),
    (AuthMode.SMS_TWO_WAY_OTP, "two-way", "otp"),
    (AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN, "two-way", "otp-pin"),
]


@pytest.mark.parametrize(("mode", "direction", "sms_mode"), SMS_SHAPES)
def test_sms_modes(mode: AuthMode, direction: str, sms_mode: str) -> None:
    """SMS: mode="sms", smsInfo direction/mode with the default <$otp$> text, pinInfo standard."""
    body = build(challenge(mode))
    assert b"<message>&lt;$otp$&gt;</message>" in body
    request = auth(ET.fromstring(body))  # noqa: S314
    assert request.attrib == {"mode": "sms"}
    assert tags(request) == [*COMMON_TAGS, "smsInfo", "pinInfo"]
    sms = only(request, "smsInfo")
    assert list(sms.attrib.items()) == [("direction", direction), ("mode", sms_mode)]
    assert only(sms, "message").text == "<$otp$>"
    pin_info = only(request, "pinInfo")
    assert pin_info.attrib == {"pinMode": "standard"}
    assert tags(pin_info) == []
    # The protocol carries the PIN only for two-way OTP+PIN: the backend checks it there.
    if mode is AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN:
        assert tags(sms) == ["message", "pin"]
        pin = only(sms, "pin")
        assert pin.attrib == {"pinFormat": "plainText", "pinChangeRequired": "no"}
        assert pin.text == "4321"
    else:
        assert tags(sms) == ["message"]


def test_sms_text_is_escaped() -> None:
    """The SMS text keeps its placeholder and any markup characters, escaped on the wire."""
    text = 'Code for <PAM> & "roles": <$otp$>'
    body = build(challenge(AuthMode.SMS_TWO_WAY_OTP, sms_text=text))
    assert b'Code for &lt;PAM&gt; &amp; "roles": &lt;$otp$&gt;' in body
    assert only(ET.fromstring(body), ".//smsInfo/message").text == text  # noqa: S314


# -- phone app -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [AuthMode.PHONE_APP_STANDARD, AuthMode.PHONE_APP_PIN])
def test_phone_app_modes(mode: AuthMode) -> None:
    """Phone app: mode="phoneApp", token, account name, [pin], messages, then an empty pinInfo."""
    mfa = challenge(
        mode,
        notification_type=NotificationType.GCM,
        phone_app_account_name="Contoso PAM",
        pin=Pin.sha1(SHA1, salt="salt") if mode.needs_pin else None,
    )
    request = auth(tree(mfa))
    assert request.attrib == {"mode": "phoneApp"}
    assert tags(request) == [*COMMON_TAGS, "phoneAppAuthInfo", "pinInfo"]
    info = only(request, "phoneAppAuthInfo")
    is_pin = mode is AuthMode.PHONE_APP_PIN
    assert info.attrib == {"mode": "pin" if is_pin else "standard"}
    expected = ["deviceTokens", "phoneAppAccountName", "pin", "phoneAppMessages"]
    assert tags(info) == (expected if is_pin else [t for t in expected if t != "pin"])
    token = only(info, "deviceTokens/deviceToken")
    assert token.attrib == {"notificationType": "gcm"}
    assert token.text == "device-token-abc"
    assert only(info, "phoneAppAccountName").text == "Contoso PAM"
    if is_pin:
        assert only(info, "pin").attrib == {
            "pinFormat": "sha1",
            "sha1Salt": "salt",
            "pinChangeRequired": "no",
        }
    messages = only(info, "phoneAppMessages")
    types = [message.get("type") for message in messages]
    assert types == [kind for kind, _ in PHONE_APP_MESSAGES]
    assert {"authenticateButton", "authenticationDenied"} <= set(types)
    assert all(message.tag == "message" and message.text for message in messages)
    pin_info = only(request, "pinInfo")
    assert pin_info.attrib == {}
    assert tags(pin_info) == []


def test_phone_app_token_without_notification_type() -> None:
    """No notification type, no notificationType attribute; no account name, an empty element."""
    info = only(auth(tree(challenge(AuthMode.PHONE_APP_STANDARD))), "phoneAppAuthInfo")
    assert only(info, "deviceTokens/deviceToken").attrib == {}
    assert only(info, "phoneAppAccountName").text is None


# -- escaping and encoding -----------------------------------------------------------------


def test_markup_in_user_fields_is_escaped_and_round_trips() -> None:
    """<&>"' in user name, application name and account name reach the server unchanged."""
    nasty = "a<b>&c\"d'e]]>f"
    mfa = challenge(
        AuthMode.PHONE_APP_STANDARD,
        username=nasty,
        application_name=nasty,
        phone_app_account_name=nasty,
        device_token=nasty,
    )
    body = build(mfa)
    assert b"a&lt;b&gt;&amp;c\"d'e]]&gt;f" in body
    assert b"<![CDATA[" not in body
    request = auth(ET.fromstring(body))  # noqa: S314
    for path in ("username", "applicationName", ".//phoneAppAccountName", ".//deviceToken"):
        assert only(request, path).text == nasty


def test_body_is_utf8() -> None:
    """Non-ASCII text is written as UTF-8, as the Content-Type header says."""
    body = build(challenge(username="Jürgen Ødegård 李"))
    assert "Jürgen Ødegård 李".encode() in body
    assert only(auth(ET.fromstring(body)), "username").text == "Jürgen Ødegård 李"  # noqa: S314


def test_request_ids_are_unique_and_unguessable() -> None:
    """Request ids are 32 hex digits from a random UUID, never repeated."""
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", each) for each in ids)


# -- the test server reads what we write (two independent readings of the protocol) --------


@pytest.mark.parametrize("mode", list(AuthMode))
def test_test_server_reads_every_mode(mode: AuthMode) -> None:
    """The test server's own parser recovers mode, user, phone, PIN and app fields."""
    mfa = challenge(
        mode,
        phone=PhoneNumber(1, "4255550123", "77"),
        pin=Pin.sha1(SHA1, salt="pepper") if mode.needs_pin else None,
        notification_type=NotificationType.APNS if mode.is_phone_app else None,
    )
    recorded = parse_request(build(mfa, async_response_url="https://127.0.0.1:1/cb"))
    assert recorded.kind is RequestKind.AUTHENTICATION
    assert recorded.mode is mode
    assert recorded.request_id == RID
    assert (recorded.license_key, recorded.group_key) == (LICENSE, GROUP)
    assert recorded.username == mfa.username
    assert (recorded.country_code, recorded.national_number) == ("1", "4255550123")
    assert recorded.extension == "77"
    assert recorded.is_async
    assert recorded.response_url == "https://127.0.0.1:1/cb"
    assert recorded.authentication_type == "pfsdk"
    assert recorded.allow_international_calls is False
    carries_pin = mode in (AuthMode.PIN, AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN, AuthMode.PHONE_APP_PIN)
    if carries_pin:
        assert recorded.pin == SHA1
        assert recorded.pin_format is PinFormat.SHA1
        assert recorded.pin_salt == "pepper"
        assert recorded.pin_change_required is False
    else:
        assert recorded.pin is None
    if mode.is_phone_app:
        assert recorded.device_token == "device-token-abc"
        assert recorded.notification_type is NotificationType.APNS


# -- responses -----------------------------------------------------------------------------


def response(
    inner: str = "<authenticated>yes</authenticated><callStatus>12</callStatus>",
    *,
    request_id: str = RID,
    status: str = '<status disposition="success"><error-id>0</error-id></status>',
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><pfpMessage version="1.5">'
        f'<response request-id="{request_id}">{status}'
        f"<authenticationResponse>{inner}</authenticationResponse></response></pfpMessage>"
    ).encode()


def test_authenticated_answer() -> None:
    """authenticated yes with a callStatus: authenticated, raw codes kept as integers."""
    result = parse_authentication_response(response(), expected_request_id=RID)
    assert result.authenticated
    assert result.request_id == RID
    assert result.call_status == 12
    assert result.error_id == 0
    assert result.otp is None
    assert result.call_result is None  # the numeric codes are never interpreted
    assert result.message == "authenticated (callStatus 12)"


def test_denied_answer() -> None:
    """authenticated no: a normal, unauthenticated result."""
    body = response("<authenticated>no</authenticated><callStatus>-3</callStatus>")
    result = parse_authentication_response(body, expected_request_id=RID)
    assert not result.authenticated
    assert result.call_status == -3
    assert "not authenticated" in result.message


def test_one_way_sms_answer_carries_the_otp() -> None:
    """One-way SMS: the passcode is returned for the application to check, and masked."""
    body = response("<authenticated>yes</authenticated><callStatus>1</callStatus><otp>048213</otp>")
    result = parse_authentication_response(body, expected_request_id=RID)
    assert result.otp == "048213"
    assert "048213" not in repr(result)
    assert "048213" not in result.message


def test_answer_without_call_status() -> None:
    """callStatus is optional: yes or no is the answer."""
    body = response("<authenticated> YES </authenticated>")
    result = parse_authentication_response(body, expected_request_id=RID)
    assert result.authenticated
    assert result.call_status is None


@pytest.mark.parametrize(
    "inner", ["", "<authenticated>no</authenticated>", "<authenticated>yes</authenticated>"]
)
def test_refusal_is_an_unauthenticated_result(inner: str) -> None:
    """disposition="fail": not authenticated, the raw error-id kept, whatever else is there."""
    body = response(inner, status='<status disposition="fail"><error-id>4011</error-id></status>')
    result = parse_authentication_response(body, expected_request_id=RID)
    assert not result.authenticated
    assert result.error_id == 4011
    assert result.call_status is None
    assert "refused" in result.message
    assert "4011" in result.message


def test_refusal_without_request_id_belongs_to_the_request() -> None:
    """A refusal with an empty request-id (the backend could not read ours) still counts."""
    body = response(
        request_id="", status='<status disposition="fail"><error-id>9</error-id></status>'
    )
    result = parse_authentication_response(body, expected_request_id=RID)
    assert result.request_id == RID
    assert result.error_id == 9


def test_any_request_id_when_none_is_expected() -> None:
    """A callback's answer is read for whatever request it names."""
    result = parse_authentication_response(response(request_id="abc"), expected_request_id=None)
    assert result.request_id == "abc"


def test_reads_the_test_servers_answers() -> None:
    """The test server's independently written answers read back as scripted."""
    for outcome, authenticated in [
        (ServerOutcome.accept(call_status=5, otp="1234"), True),
        (ServerOutcome.deny(call_status=7), False),
        (ServerOutcome.fail(90003), False),
    ]:
        body = build_response(RID, RequestKind.AUTHENTICATION, outcome)
        result = parse_authentication_response(body, expected_request_id=RID)
        assert result.authenticated is authenticated
        assert result.call_status == outcome.call_status
        assert result.error_id == outcome.error_id
        assert result.otp == (outcome.otp or None)


def test_async_acknowledgement() -> None:
    """The immediate answer to an asynchronous request: accepted, or refused for good."""
    accepted = parse_async_acknowledgement(build_acknowledgement(RID), expected_request_id=RID)
    assert accepted.request_id == RID
    assert accepted.refusal is None
    refused = parse_async_acknowledgement(
        build_response(RID, RequestKind.AUTHENTICATION, ServerOutcome.fail(17)),
        expected_request_id=RID,
    )
    assert refused.refusal is not None
    assert refused.refusal.error_id == 17
    with pytest.raises(ProviderResponseError, match="answered request"):
        parse_async_acknowledgement(build_acknowledgement("other"), expected_request_id=RID)


ENVELOPE = '<pfpMessage version="1.5"><response request-id="{rid}">{body}</response></pfpMessage>'
STATUS_OK = '<status disposition="success"/>'

BAD_ANSWERS = {
    "empty": (b"", "empty"),
    "blank": (b" \r\n\t ", "empty"),
    "not xml": (b"Internal Server Error", "not well-formed"),
    "truncated": (response()[:60], "not well-formed"),
    "binary": (b"\xff\xfe\x00\x9c\x00garbage", "not well-formed"),
    "html doctype": (b"<!DOCTYPE html><html><body>503</body></html>", "HTML"),
    "html": (b"\n  <HTML><head><title>Bad gateway</title></head></HTML>", "HTML"),
    "html after comment": (b"<!-- proxy --><html></html>", "HTML"),
    "wrong root": (b"<soap:Envelope xmlns:soap='urn:x'/>", "not a <pfpMessage>"),
    "no response": (b'<pfpMessage version="1.5"><request/></pfpMessage>', "no <response>"),
    "no request id": (
        ENVELOPE.replace(' request-id="{rid}"', "").format(body=STATUS_OK).encode(),
        "no request-id",
    ),
    "other request id": (response(request_id="someone-else"), "answered request 'someone-else'"),
    "no status": (ENVELOPE.format(rid=RID, body="").encode(), "no <status>"),
    "odd disposition": (
        ENVELOPE.format(rid=RID, body='<status disposition="maybe"/>').encode(),
        "disposition",
    ),
    "no authenticationResponse": (
        ENVELOPE.format(rid=RID, body=STATUS_OK).encode(),
        "no <authenticationResponse>",
    ),
    "no authenticated": (response("<callStatus>1</callStatus>"), "<authenticated>"),
    "authenticated maybe": (response("<authenticated>maybe</authenticated>"), "not yes or no"),
    "call status text": (
        response("<authenticated>no</authenticated><callStatus>busy</callStatus>"),
        "<callStatus>",
    ),
    "call status huge": (
        response("<authenticated>no</authenticated><callStatus>" + "9" * 5000 + "</callStatus>"),
        "<callStatus>",
    ),
    "error id text": (
        response(status='<status disposition="fail"><error-id>x1</error-id></status>'),
        "<error-id>",
    ),
    "entity bomb": (
        b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<pfpMessage>&b;</pfpMessage>",
        "not well-formed",
    ),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<pfpMessage>&x;</pfpMessage>",
        "not well-formed",
    ),
    "unknown encoding": (b'<?xml version="1.0" encoding="x-nope"?><pfpMessage/>', "not well"),
    "too large": (b"<pfpMessage>" + b" " * MAX_RESPONSE_BYTES + b"</pfpMessage>", "bytes"),
}


@pytest.mark.parametrize("name", list(BAD_ANSWERS))
def test_unusable_answers_raise_provider_response_error(name: str) -> None:
    """Every unusable answer is a ProviderResponseError saying what was wrong, nothing else."""
    body, fragment = BAD_ANSWERS[name]
    with pytest.raises(ProviderResponseError) as caught:
        parse_authentication_response(body, expected_request_id=RID, endpoint="https://e/x")
    error = caught.value
    assert fragment in error.message
    assert error.call_id == RID
    assert error.endpoint == "https://e/x"
    assert error.status_code is None
    assert "outcome is unknown" in error.message


# -- properties ----------------------------------------------------------------------------

VALID = response("<authenticated>no</authenticated><callStatus>3</callStatus><otp>1</otp>")


@st.composite
def mangled_answers(draw: st.DrawFn) -> bytes:
    """A valid answer with a random slice replaced by random bytes."""
    start = draw(st.integers(0, len(VALID)))
    end = draw(st.integers(start, len(VALID)))
    return VALID[:start] + draw(st.binary(max_size=40)) + VALID[end:]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300) | mangled_answers() | st.text().map(str.encode))
def test_any_bytes_give_a_result_or_provider_response_error(body: bytes) -> None:
    """Whatever comes back, the parser returns a result or raises ProviderResponseError."""
    failures: list[ProviderResponseError] = []
    for parse in (
        lambda: parse_authentication_response(body, expected_request_id=RID),
        lambda: parse_async_acknowledgement(body, expected_request_id=RID),
    ):
        try:
            parse()
        except ProviderResponseError as error:
            failures.append(error)
    assert all(error.message and error.call_id == RID for error in failures)


# Characters XML 1.0 can carry; a lone CR is normalised to LF by every XML parser.
xml_text = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\ufffe\uffff", min_codepoint=0x20)
    | st.sampled_from("\n\t<>&\"'"),
    min_size=1,
    max_size=30,
).filter(str.strip)


@st.composite
def challenges(draw: st.DrawFn) -> MfaChallenge:
    mode = draw(st.sampled_from(AuthMode))
    pin = None
    if mode.needs_pin:
        pin = draw(
            st.builds(Pin.plain, st.text(string.digits, min_size=4, max_size=16))
            | st.builds(
                Pin.sha1,
                st.text("0123456789abcdef", min_size=40, max_size=40),
                salt=st.none() | xml_text,
            )
        )
    sms_text = None
    if mode.is_sms and draw(st.booleans()):
        sms_text = draw(st.text(max_size=5)) + "<$otp$>" + draw(xml_text)
        sms_text = sms_text.replace("\r", "")
        if any(ord(c) < 0x20 and c not in "\t\n" for c in sms_text):
            sms_text = None
    return MfaChallenge(
        username=draw(xml_text),
        phone=PhoneNumber(
            draw(st.integers(2, 999)),
            draw(st.text(string.digits, min_size=4, max_size=12)),
            draw(st.none() | st.from_regex(r"@?[0-9,*#]{1,8}", fullmatch=True)),
        ),
        mode=mode,
        pin=pin,
        sms_text=sms_text,
        application_name=draw(xml_text),
        language=draw(st.sampled_from(["en", "de", "fr-CA"])),
        allow_international_calls=draw(st.booleans()),
        device_token=draw(xml_text) if mode.is_phone_app else None,
        notification_type=draw(st.none() | st.sampled_from(NotificationType)),
        phone_app_account_name=draw(st.none() | xml_text),
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(mfa=challenges(), async_url=st.none() | st.just("https://h/cb?x=1&y=2"))
def test_generated_challenges_round_trip(mfa: MfaChallenge, async_url: str | None) -> None:
    """Every challenge builds XML that parses back to the same fields."""
    root = tree(mfa, async_response_url=async_url)
    request = only(root, "request")
    assert request.get("async") == ("1" if async_url else "0")
    assert request.get("response-url") == (async_url or "")
    assert request.get("language") == mfa.language
    inner = auth(root)
    assert only(inner, "username").text == mfa.username
    assert only(inner, "applicationName").text == mfa.application_name
    assert only(inner, "countryCode").text == str(mfa.phone.country_code)
    phone = only(inner, "phonenumber")
    assert phone.text == mfa.phone.national_number
    assert phone.get("extension") == mfa.phone.extension
    assert only(inner, "allowInternationalCalls").text == (
        "yes" if mfa.allow_international_calls else "no"
    )
    pins = inner.findall(".//pin")
    if pins:
        assert mfa.pin is not None
        assert pins[0].text == mfa.pin.value
        assert pins[0].get("pinFormat") == mfa.pin.format.value
        assert pins[0].get("sha1Salt") == mfa.pin.salt
    if mfa.mode.is_sms:
        assert only(inner, ".//smsInfo/message").text == (mfa.sms_text or "<$otp$>")
    if mfa.mode.is_phone_app:
        token = only(inner, ".//deviceToken")
        assert token.text == mfa.device_token
        expected_type = None if mfa.notification_type is None else mfa.notification_type.value
        assert token.get("notificationType") == expected_type
        assert (only(inner, ".//phoneAppAccountName").text or None) == mfa.phone_app_account_name
    assert parse_request(build(mfa)).mode is mfa.mode
