"""The PhoneFactor test server, driven by hand-written XML over real mutual TLS on 127.0.0.1.

These tests use only ``ssl``/``http.client``, never pyampam's own client: the server is one of
two independent readings of the protocol, and must be right on its own.
"""

from __future__ import annotations

import concurrent.futures
import errno
import gc
import http.client
import http.server
import queue
import re
import socket
import ssl
import struct
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import NamedTuple
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import pytest

from pyampam.exceptions import InvalidValueError
from pyampam.providers import AuthMode, NotificationType, PinFormat
from pyampam.testing import (
    Fault,
    PhoneFactorTestServer,
    RequestKind,
    ServerErrorId,
    ServerOutcome,
    make_test_pki,
    unused_url,
)

PKI = make_test_pki()
CLIENT = PKI.client_ssl_context()
LICENSE = "LICENSEKEY12"
GROUP = "00112233445566778899aabbccddeeff"
PATH = "/pfd/pfd.pl"


# -- helpers -------------------------------------------------------------------------------


class Reply(NamedTuple):
    status: int
    content_type: str | None
    body: bytes


def post(
    port: int,
    body: bytes,
    *,
    context: ssl.SSLContext = CLIENT,
    path: str = PATH,
    timeout: float = 10.0,
) -> Reply:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "text/xml"})
        response = connection.getresponse()
        return Reply(response.status, response.getheader("Content-Type"), response.read())
    finally:
        connection.close()


def parse(body: bytes) -> Element:
    return SafeET.fromstring(body)


def answer(body: bytes) -> dict[str, str | None]:
    """The interesting parts of a response, as texts (None when absent)."""
    root = parse(body)
    response = root.find("response")
    assert root.tag == "pfpMessage"
    assert root.get("version") == "1.5"
    assert response is not None
    status = response.find("status")
    assert status is not None

    def text(path: str) -> str | None:
        found = response.find(path)
        return None if found is None else found.text

    return {
        "request_id": response.get("request-id"),
        "disposition": status.get("disposition"),
        "error_id": text("status/error-id"),
        "authenticated": text("authenticationResponse/authenticated"),
        "call_status": text("authenticationResponse/callStatus"),
        "otp": text("authenticationResponse/otp"),
        "has_answer": "yes" if response.find("authenticationResponse") is not None else None,
    }


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


STANDARD = '<pinInfo pinMode="standard"><userCanChangePin>no</userCanChangePin></pinInfo>'


def auth_request(
    *,
    request_id: str = "req-1",
    username: str = "alice",
    license_key: str = LICENSE,
    group_key: str = GROUP,
    country: str = "1",
    number: str = "2135551212",
    extension: str | None = None,
    mode: str | None = None,
    parts: str = STANDARD,
    is_async: bool = False,
    response_url: str = "",
    language: str = "en",
    application: str = "pyampam tests",
    international: str = "no",
) -> bytes:
    mode_attribute = f' mode="{mode}"' if mode else ""
    extension_attribute = f' extension="{extension}"' if extension else ""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<pfpMessage version="1.5">
  <header><source><component type="pfsdk">
    <host ip="10.0.0.5" hostname="mim-server"/>
  </component></source></header>
  <request request-id="{request_id}" language="{language}" async="{int(is_async)}"
           response-url="{response_url}">
    <authenticationRequest{mode_attribute}>
      <customer><licenseKey>{license_key}</licenseKey><groupKey>{group_key}</groupKey></customer>
      <countryCode>{country}</countryCode>
      <authenticationType>pfsdk</authenticationType>
      <username>{username}</username>
      <phonenumber userCanChangePhone="no"{extension_attribute}>{number}</phonenumber>
      <allowInternationalCalls>{international}</allowInternationalCalls>
      <applicationName>{application}</applicationName>
      {parts}
    </authenticationRequest>
  </request>
</pfpMessage>
""".encode()


def other_request(kind: str, inner: str, *, request_id: str = "other-1") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<pfpMessage version="1.5"><request request-id="{request_id}" language="en" async="0"
 response-url=""><{kind}><customer><licenseKey>{LICENSE}</licenseKey>
<groupKey>{GROUP}</groupKey></customer><username>alice</username>{inner}</{kind}>
</request></pfpMessage>""".encode()


@pytest.fixture
def server() -> Iterator[PhoneFactorTestServer]:
    with PhoneFactorTestServer(PKI, license_key=LICENSE, group_key=GROUP) as running:
        yield running
    assert running.errors == ()


# -- mutual TLS ----------------------------------------------------------------------------


def test_client_with_trusted_certificate_gets_an_answer(server: PhoneFactorTestServer) -> None:
    """A client presenting a certificate from the server's CA is answered 200 with XML."""
    reply = post(server.port, auth_request())
    assert reply.status == 200
    assert reply.content_type == "text/xml; charset=utf-8"
    assert answer(reply.body)["authenticated"] == "yes"
    assert server.url == f"https://127.0.0.1:{server.port}/pfd/pfd.pl"
    assert server.stats.handshakes_completed == 1


@pytest.mark.parametrize("client_cert", [None, "foreign"])
def test_client_without_a_trusted_certificate_is_refused(
    server: PhoneFactorTestServer, client_cert: str | None
) -> None:
    """No client certificate, or one from a foreign CA: the handshake fails, nothing is served."""
    context = PKI.client_ssl_context(client_cert=client_cert)  # type: ignore[arg-type]
    with pytest.raises(OSError):  # noqa: PT011 -- TLS 1.3 reports it on connect or on read
        post(server.port, auth_request(), context=context)
    eventually(lambda: server.stats.handshakes_failed == 1)
    assert server.stats.handshakes_completed == 0
    assert server.stats.requests_received == 0
    assert server.requests == ()


def test_server_with_a_foreign_certificate_is_not_trusted() -> None:
    """A server presenting a certificate from a CA the client does not trust fails verification."""
    context = PKI.server_ssl_context(server_cert="foreign")
    with PhoneFactorTestServer(
        PKI, license_key=LICENSE, group_key=GROUP, ssl_context=context
    ) as untrusted:
        with pytest.raises(ssl.SSLCertVerificationError):
            post(untrusted.port, auth_request())
        eventually(lambda: untrusted.stats.handshakes_failed == 1)


# -- parsing and recording -----------------------------------------------------------------

PIN_PLAIN = '<pin pinFormat="plainText" pinChangeRequired="no">4321</pin>'
PIN_SHA1 = (
    '<pin pinFormat="sha1" sha1Salt="NaCl" pinChangeRequired="no">'
    "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3</pin>"
)
SMS_TEXT = "Your code: &lt;$otp$&gt;"
TOKEN = (
    '<deviceTokens><deviceToken notificationType="apns">DEVICE-TOKEN-1</deviceToken></deviceTokens>'
)
APP_TAIL = (
    "<phoneAppAccountName>Contoso</phoneAppAccountName>"
    '<phoneAppMessages><message type="authenticateButton">Authenticate</message>'
    '<message type="authenticationDenied">Denied</message></phoneAppMessages>'
)

MODES = [
    (AuthMode.STANDARD, None, STANDARD),
    (
        AuthMode.PIN,
        None,
        f'<pinInfo pinMode="pin">{PIN_PLAIN}<userCanChangePin>no</userCanChangePin></pinInfo>',
    ),
    (
        AuthMode.VOICEPRINT,
        None,
        '<pinInfo pinMode="voiceprint"><userCanChangePin>no</userCanChangePin></pinInfo>',
    ),
    (
        AuthMode.SMS_TWO_WAY_OTP,
        "sms",
        f'<smsInfo direction="two-way" mode="otp"><message>{SMS_TEXT}</message></smsInfo>'
        '<pinInfo pinMode="standard"/>',
    ),
    (
        AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN,
        "sms",
        f'<smsInfo direction="two-way" mode="otp-pin"><message>{SMS_TEXT}</message>'
        f'{PIN_PLAIN}</smsInfo><pinInfo pinMode="standard"/>',
    ),
    (
        AuthMode.SMS_ONE_WAY_OTP,
        "sms",
        f'<smsInfo direction="one-way" mode="otp"><message>{SMS_TEXT}</message></smsInfo>'
        '<pinInfo pinMode="standard"/>',
    ),
    (
        AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN,
        "sms",
        f'<smsInfo direction="one-way" mode="otp-pin"><message>{SMS_TEXT}</message></smsInfo>'
        '<pinInfo pinMode="standard"/>',
    ),
    (
        AuthMode.PHONE_APP_STANDARD,
        "phoneApp",
        f'<phoneAppAuthInfo mode="standard">{TOKEN}{APP_TAIL}</phoneAppAuthInfo><pinInfo/>',
    ),
    (
        AuthMode.PHONE_APP_PIN,
        "phoneApp",
        f'<phoneAppAuthInfo mode="pin">{TOKEN}{APP_TAIL}{PIN_SHA1}</phoneAppAuthInfo><pinInfo/>',
    ),
]


@pytest.mark.parametrize(("mode", "mode_attribute", "parts"), MODES, ids=lambda v: str(v)[:24])
def test_each_mode_is_parsed_and_recorded(
    server: PhoneFactorTestServer, mode: AuthMode, mode_attribute: str | None, parts: str
) -> None:
    """Every authentication mode is recognised from its wire form, with its PIN, text, token."""
    reply = post(server.port, auth_request(mode=mode_attribute, parts=parts))
    assert answer(reply.body)["disposition"] == "success"
    (request,) = server.requests
    assert request.kind is RequestKind.AUTHENTICATION
    assert request.mode is mode
    if mode in (AuthMode.PIN, AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN):
        assert (request.pin, request.pin_format, request.pin_salt) == (
            "4321",
            PinFormat.PLAIN_TEXT,
            None,
        )
        assert request.pin_change_required is False
    elif mode is AuthMode.PHONE_APP_PIN:
        assert request.pin == "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
        assert (request.pin_format, request.pin_salt) == (PinFormat.SHA1, "NaCl")
    else:
        assert (request.pin, request.pin_format) == (None, None)
    if mode.is_sms:
        assert request.sms_text == "Your code: <$otp$>"
    else:
        assert request.sms_text is None
    if mode.is_phone_app:
        assert request.device_token == "DEVICE-TOKEN-1"
        assert request.notification_type is NotificationType.APNS
        assert request.phone_app_account_name == "Contoso"
        assert request.phone_app_messages == (
            ("authenticateButton", "Authenticate"),
            ("authenticationDenied", "Denied"),
        )
    else:
        assert request.device_token is None
        assert request.phone_app_messages == ()


def test_common_fields_are_recorded(server: PhoneFactorTestServer) -> None:
    """Request id, user, phone, extension, language, application and flags are all recorded."""
    body = auth_request(
        request_id="abc-123",
        username="6f1c2a3b-0000-4000-8000-000000000001",
        country="44",
        number="2079460958",
        extension="@123#",
        language="de",
        application="MIM PAM",
        international="yes",
    )
    post(server.port, body)
    (request,) = server.requests
    assert request.request_id == "abc-123"
    assert request.username == "6f1c2a3b-0000-4000-8000-000000000001"
    assert (request.country_code, request.national_number) == ("44", "2079460958")
    assert request.extension == "@123#"
    assert request.user_can_change_phone is False
    assert request.language == "de"
    assert request.application_name == "MIM PAM"
    assert request.allow_international_calls is True
    assert request.authentication_type == "pfsdk"
    assert (request.host_ip, request.host_name) == ("10.0.0.5", "mim-server")
    assert (request.is_async, request.response_url) == (False, None)
    assert (request.license_key, request.group_key) == (LICENSE, GROUP)
    assert request.version == "1.5"
    assert request.body == body
    assert request.connection_id == 1
    assert request.outcome == ServerOutcome()


def test_recorded_request_repr_hides_secrets(server: PhoneFactorTestServer) -> None:
    """repr() of a record shows neither the keys, the PIN, the device token nor the body."""
    parts = f'<phoneAppAuthInfo mode="pin">{TOKEN}{APP_TAIL}{PIN_SHA1}</phoneAppAuthInfo><pinInfo/>'
    post(server.port, auth_request(mode="phoneApp", parts=parts))
    (request,) = server.requests
    text = repr(request)
    for secret in (LICENSE, GROUP, "DEVICE-TOKEN-1", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"):
        assert secret not in text
    assert "********" in text


def test_start_on_a_taken_port_fails_cleanly(server: PhoneFactorTestServer) -> None:
    """Starting a second server on a port in use raises EADDRINUSE and leaks nothing."""
    second = PhoneFactorTestServer(PKI, license_key=LICENSE, group_key=GROUP, port=server.port)
    with pytest.raises(OSError, match="in use") as caught:
        second.start()
    assert caught.value.errno == errno.EADDRINUSE
    second.stop()


def test_server_repr_never_shows_keys() -> None:
    """The server's repr() names its URL and state, never the license or group key."""
    unstarted = PhoneFactorTestServer(PKI, license_key=LICENSE, group_key=GROUP)
    assert "new" in repr(unstarted)
    with unstarted as running:
        text = repr(running)
        assert running.url in text
        assert LICENSE not in text
        assert GROUP not in text
    assert "stopped" in repr(unstarted)


def test_credentials_are_the_ones_the_server_accepts(server: PhoneFactorTestServer) -> None:
    """server.credentials holds the server's keys and the PKI's certificate password."""
    credentials = server.credentials
    assert (credentials.license_key, credentials.group_key) == (LICENSE, GROUP)
    assert credentials.cert_password == PKI.client_password
    assert server.pki is PKI


def test_pin_reset_and_device_token_requests(server: PhoneFactorTestServer) -> None:
    """PIN reset and device token validation are recorded and answered with their result."""
    server.script(ServerOutcome(result=2))
    reply = post(server.port, other_request("setPinResetRequest", ""))
    result = parse(reply.body).find("response/setPinResetResponse/result")
    assert result is not None
    assert result.text == "2"
    inner = "<deviceToken>TOKEN-9</deviceToken><phoneAppAccountName>Contoso</phoneAppAccountName>"
    reply = post(server.port, other_request("validateDeviceTokenRequest", inner))
    result = parse(reply.body).find("response/validateDeviceTokenResponse/validationResult")
    assert result is not None
    assert result.text == "1"
    reset, validate = server.requests
    assert (reset.kind, reset.mode, reset.username) == (RequestKind.PIN_RESET, None, "alice")
    assert validate.kind is RequestKind.VALIDATE_DEVICE_TOKEN
    assert (validate.device_token, validate.phone_app_account_name) == ("TOKEN-9", "Contoso")


# -- keys and scripted outcomes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("license_key", "group_key", "error_id"),
    [
        ("WRONGLICENSE", GROUP, ServerErrorId.WRONG_LICENSE_KEY),
        (LICENSE, "ffffffffffffffffffffffffffffffff", ServerErrorId.WRONG_GROUP_KEY),
    ],
)
def test_wrong_keys_fail_without_using_the_script(
    server: PhoneFactorTestServer, license_key: str, group_key: str, error_id: ServerErrorId
) -> None:
    """A wrong license or group key answers disposition fail with the server's error id."""
    server.script(ServerOutcome.accept())
    reply = post(server.port, auth_request(license_key=license_key, group_key=group_key))
    parts = answer(reply.body)
    assert parts["disposition"] == "fail"
    assert parts["error_id"] == str(int(error_id))
    assert parts["authenticated"] == "no"
    assert parts["request_id"] == "req-1"
    assert server.unused_outcomes == 1
    (request,) = server.requests
    assert request.outcome == ServerOutcome.fail(int(error_id))


def test_scripted_outcomes_are_used_in_order_then_the_default(
    server: PhoneFactorTestServer,
) -> None:
    """Queued outcomes answer the next requests in order; then the default outcome applies."""
    server.script(
        ServerOutcome.accept(call_status=5),
        ServerOutcome.deny(call_status=6),
        ServerOutcome.fail(77),
    )
    server.default_outcome = ServerOutcome.deny(call_status=None)
    seen = [answer(post(server.port, auth_request(request_id=f"r{n}")).body) for n in range(4)]
    assert [(s["authenticated"], s["call_status"], s["disposition"]) for s in seen] == [
        ("yes", "5", "success"),
        ("no", "6", "success"),
        ("no", None, "fail"),
        ("no", None, "success"),
    ]
    assert seen[2]["error_id"] == "77"
    assert [s["request_id"] for s in seen] == ["r0", "r1", "r2", "r3"]
    assert server.unused_outcomes == 0


def test_outcomes_scripted_per_user_and_per_phone(server: PhoneFactorTestServer) -> None:
    """A user's queue comes first, then the phone's, then the general queue."""
    server.script(ServerOutcome.deny(call_status=1), username="bob")
    server.script(ServerOutcome.fail(55), phone="+1 213-555-0000")
    server.script(ServerOutcome.accept(call_status=3))

    def call(username: str, number: str = "2135551212") -> dict[str, str | None]:
        return answer(post(server.port, auth_request(username=username, number=number)).body)

    assert call("carol", "2135550000")["error_id"] == "55"
    assert call("bob", "2135550000")["authenticated"] == "no"
    assert call("alice")["call_status"] == "3"
    assert call("alice")["call_status"] == "0"  # the default outcome
    with pytest.raises(InvalidValueError, match="not both"):
        server.script(ServerOutcome(), username="bob", phone="2135550000")


def test_bad_outcomes_raise_invalid_value_error() -> None:
    """A negative delay or an unknown disposition is refused, naming the field."""
    with pytest.raises(InvalidValueError, match="delay must be a number of seconds") as caught:
        ServerOutcome.accept(delay=-1)
    assert caught.value.field == "delay"
    with pytest.raises(InvalidValueError, match="'success' or 'fail'") as caught:
        ServerOutcome(disposition="maybe")  # type: ignore[arg-type]
    assert caught.value.field == "disposition"


def test_life_cycle_misuse_says_what_to_do() -> None:
    """No port before start(), no accept_connections() unless running, and only one start()."""
    fresh = PhoneFactorTestServer(PKI, license_key=LICENSE, group_key=GROUP)
    with pytest.raises(RuntimeError, match="start it first"):
        _ = fresh.port
    with pytest.raises(RuntimeError, match="between start"):
        fresh.accept_connections()
    with fresh:
        pass
    with pytest.raises(RuntimeError, match="create a new one"):
        fresh.start()


def test_one_way_sms_gets_a_generated_otp(server: PhoneFactorTestServer) -> None:
    """One-way SMS answers with a 6-digit OTP unless one is scripted; other modes get none."""
    one_way = (
        f'<smsInfo direction="one-way" mode="otp"><message>{SMS_TEXT}</message></smsInfo>'
        '<pinInfo pinMode="standard"/>'
    )
    generated = answer(post(server.port, auth_request(mode="sms", parts=one_way)).body)["otp"]
    assert generated is not None
    assert re.fullmatch(r"[0-9]{6}", generated)
    assert server.requests[0].outcome is not None
    assert server.requests[0].outcome.otp == generated

    server.script(ServerOutcome.accept(otp="24680"), ServerOutcome.accept(otp=""))
    assert answer(post(server.port, auth_request(mode="sms", parts=one_way)).body)["otp"] == "24680"
    assert answer(post(server.port, auth_request(mode="sms", parts=one_way)).body)["otp"] is None
    assert answer(post(server.port, auth_request()).body)["otp"] is None


def test_delay_holds_the_answer_back(server: PhoneFactorTestServer) -> None:
    """An outcome's delay holds the answer back at least that long."""
    server.script(ServerOutcome.accept(delay=0.3))
    started = time.monotonic()
    assert post(server.port, auth_request()).status == 200
    assert time.monotonic() - started >= 0.3


def test_reset_forgets_everything(server: PhoneFactorTestServer) -> None:
    """reset() clears scripts, records and counters and restores the default outcome."""
    server.script(ServerOutcome.deny(), ServerOutcome.deny())
    server.default_outcome = ServerOutcome.fail(1)
    post(server.port, auth_request())
    server.reset()
    assert (server.requests, server.unused_outcomes) == ((), 0)
    assert server.stats.requests_received == 0
    assert server.default_outcome == ServerOutcome()


def test_wait_for_requests_times_out(server: PhoneFactorTestServer) -> None:
    """wait_for_requests raises TimeoutError when too few requests arrive."""
    with pytest.raises(TimeoutError, match="1 request"):
        server.wait_for_requests(1, timeout=0.05)


# -- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.DROP, Fault.RESET])
def test_fault_closes_without_an_answer(server: PhoneFactorTestServer, fault: Fault) -> None:
    """DROP and RESET read the request, answer nothing, and the next call is served again."""
    server.script(ServerOutcome.inject(fault))
    with pytest.raises((http.client.HTTPException, OSError)):
        post(server.port, auth_request())
    assert len(server.requests) == 1
    assert server.stats.responses_sent == 0
    assert post(server.port, auth_request()).status == 200


def test_bounded_stall_closes_after_its_seconds(server: PhoneFactorTestServer) -> None:
    """A STALL with seconds= answers nothing, then closes the connection after that long."""
    server.script(ServerOutcome.inject(Fault.STALL, seconds=0.3))
    started = time.monotonic()
    with pytest.raises((http.client.HTTPException, OSError)):
        post(server.port, auth_request())
    assert time.monotonic() - started >= 0.3
    assert server.stats.responses_sent == 0


def test_stall_outlasts_the_client_timeout(server: PhoneFactorTestServer) -> None:
    """An unbounded STALL leaves the client to time out."""
    server.script(ServerOutcome.inject(Fault.STALL))
    with pytest.raises(TimeoutError):
        post(server.port, auth_request(), timeout=0.3)


def test_http_500(server: PhoneFactorTestServer) -> None:
    """HTTP_500 answers 500 Internal Server Error."""
    server.script(ServerOutcome.inject(Fault.HTTP_500))
    reply = post(server.port, auth_request())
    assert reply.status == 500
    assert b"Internal Server Error" in reply.body


def test_garbage(server: PhoneFactorTestServer) -> None:
    """GARBAGE answers 200 with bytes that are not XML."""
    server.script(ServerOutcome.inject(Fault.GARBAGE))
    reply = post(server.port, auth_request())
    assert reply.status == 200
    assert reply.body
    with pytest.raises(SafeET.ParseError):
        parse(reply.body)


def test_html_error_page(server: PhoneFactorTestServer) -> None:
    """HTML_ERROR answers 200 with an HTML page."""
    server.script(ServerOutcome.inject(Fault.HTML_ERROR))
    reply = post(server.port, auth_request())
    assert reply.status == 200
    assert reply.content_type == "text/html; charset=utf-8"
    assert reply.body.startswith(b"<!DOCTYPE html>")


def test_mismatched_request_id(server: PhoneFactorTestServer) -> None:
    """MISMATCHED_REQUEST_ID answers a well-formed response for another request id."""
    server.script(ServerOutcome.inject(Fault.MISMATCHED_REQUEST_ID))
    parts = answer(post(server.port, auth_request(request_id="mine")).body)
    assert parts["request_id"] != "mine"
    assert parts["authenticated"] == "yes"


def test_empty_body(server: PhoneFactorTestServer) -> None:
    """EMPTY_BODY answers 200 with nothing in it."""
    server.script(ServerOutcome.inject(Fault.EMPTY_BODY))
    assert post(server.port, auth_request()) == Reply(200, "text/xml; charset=utf-8", b"")


def test_truncated_answer(server: PhoneFactorTestServer) -> None:
    """TRUNCATED announces the full length, sends half, and closes."""
    server.script(ServerOutcome.inject(Fault.TRUNCATED))
    with pytest.raises(http.client.IncompleteRead):
        post(server.port, auth_request())


def test_server_wide_fault_through_the_default_outcome(server: PhoneFactorTestServer) -> None:
    """A fault as the default outcome applies to every call."""
    server.default_outcome = ServerOutcome.inject(Fault.HTTP_500)
    assert [post(server.port, auth_request()).status for _ in range(3)] == [500, 500, 500]


def test_refused_connections_and_unused_url(server: PhoneFactorTestServer) -> None:
    """refuse_connections() makes connects fail at once; accept_connections() restores them."""
    port = server.port
    server.refuse_connections()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    server.accept_connections()
    assert server.port == port
    assert post(port, auth_request()).status == 200
    nowhere = unused_url()
    assert nowhere.startswith("https://127.0.0.1:")
    assert nowhere.endswith("/pfd/pfd.pl")
    nowhere_port = int(nowhere.split(":")[2].split("/")[0])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", nowhere_port), timeout=5).close()


def test_paused_server_lets_handshakes_hang(server: PhoneFactorTestServer) -> None:
    """pause_accepting(): connects succeed but the handshake hangs until accepting resumes."""
    server.pause_accepting()
    with pytest.raises(TimeoutError):
        post(server.port, auth_request(), timeout=0.3)
    assert server.stats.connections_accepted == 0
    server.accept_connections()
    assert post(server.port, auth_request()).status == 200


# -- requests the server refuses -----------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<pfpMessage version="1.5"><request request-id="x"><authenticationRequest>
<username>&lol9;</username></authenticationRequest></request></pfpMessage>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE pfpMessage [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<pfpMessage version="1.5"><request request-id="x"><authenticationRequest>
<username>&xxe;</username></authenticationRequest></request></pfpMessage>
"""


@pytest.mark.parametrize(
    ("body", "error_id"),
    [
        (BILLION_LAUGHS, ServerErrorId.FORBIDDEN_XML),
        (EXTERNAL_ENTITY, ServerErrorId.FORBIDDEN_XML),
        (b"<pfpMessage version='1.5'><request", ServerErrorId.MALFORMED_REQUEST),
        (b"", ServerErrorId.MALFORMED_REQUEST),
        (
            auth_request().replace(b"<username>alice</username>", b""),
            ServerErrorId.MALFORMED_REQUEST,
        ),
        (auth_request(mode="fax"), ServerErrorId.MALFORMED_REQUEST),
        (auth_request(international="maybe"), ServerErrorId.MALFORMED_REQUEST),
        (
            auth_request().replace(b'version="1.5"', b'version="1.4"'),
            ServerErrorId.UNSUPPORTED_REQUEST,
        ),
        (b"<html><body>hello</body></html>", ServerErrorId.UNSUPPORTED_REQUEST),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "truncated-xml",
        "empty",
        "no-username",
        "unknown-mode",
        "bad-yes-no",
        "old-version",
        "not-pfp",
    ],
)
def test_bad_requests_are_refused_and_the_server_carries_on(
    server: PhoneFactorTestServer, body: bytes, error_id: ServerErrorId
) -> None:
    """Hostile, malformed and unsupported XML is answered with a fail; the server keeps serving."""
    parts = answer(post(server.port, body).body)
    assert (parts["disposition"], parts["error_id"]) == ("fail", str(int(error_id)))
    assert parts["authenticated"] == "no"
    (rejected,) = server.rejected_requests
    assert rejected.error_id is error_id
    assert rejected.body == body
    assert server.requests == ()
    assert answer(post(server.port, auth_request()).body)["authenticated"] == "yes"


def test_http_errors_for_wrong_path_method_and_size() -> None:
    """Another path is 404, GET is 405, an oversized body is 413."""
    with PhoneFactorTestServer(
        PKI, license_key=LICENSE, group_key=GROUP, max_body_size=100
    ) as small:
        assert post(small.port, b"<x/>", path="/other").status == 404
        assert post(small.port, auth_request()).status == 413
        connection = http.client.HTTPSConnection("127.0.0.1", small.port, context=CLIENT)
        try:
            connection.request("GET", PATH)
            assert connection.getresponse().status == 405
        finally:
            connection.close()
        assert small.requests == ()


# -- connections ---------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(server: PhoneFactorTestServer) -> None:
    """Two requests on one HTTP/1.1 connection make one TCP connection and one handshake."""
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=CLIENT)
    try:
        for request_id in ("k1", "k2"):
            connection.request("POST", PATH, body=auth_request(request_id=request_id))
            response = connection.getresponse()
            assert response.getheader("Connection") == "keep-alive"
            assert answer(response.read())["request_id"] == request_id
    finally:
        connection.close()
    stats = server.stats
    assert (stats.connections_accepted, stats.handshakes_completed) == (1, 1)
    assert (stats.requests_received, stats.responses_sent) == (2, 2)
    assert {request.connection_id for request in server.requests} == {1}


def test_http_1_0_request_closes_the_connection(server: PhoneFactorTestServer) -> None:
    """An HTTP/1.0 request, as the reference client sends, is answered and the connection closed."""
    body = auth_request()
    head = (
        f"POST {PATH} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        CLIENT.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(head + body)
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
    head_part, _, payload = received.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in head_part
    assert answer(payload)["authenticated"] == "yes"


def test_connection_reset_before_it_was_accepted_is_closed(server: PhoneFactorTestServer) -> None:
    """A connection reset while it waited to be accepted is closed; the server carries on.

    CPython's ``wrap_socket`` used to leave the socket it made open in this case
    (python/cpython#113280), and the garbage collector then warned about it in a later test.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        server.pause_accepting()
        early = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        # Linger 0: close() sends RST, while the connection still waits in the accept queue.
        early.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        early.close()
        server.accept_connections()
        # Served after the reset one: the accept loop has dealt with that by now.
        assert post(server.port, auth_request()).status == 200
        gc.collect()
    unclosed = [str(each.message) for each in caught if issubclass(each.category, ResourceWarning)]
    assert [text for text in unclosed if f"{server.port})" in text] == []
    assert server.stats.connections_accepted == 2


def test_fifty_concurrent_calls_wait_together(server: PhoneFactorTestServer) -> None:
    """Fifty clients' calls are all held by the server at once, not served one after another.

    Every answer is held back ten minutes (stop() cuts that short), so the fifty requests can
    all arrive, unanswered, only if the server serves its connections side by side. Nothing
    here is timed.
    """
    server.default_outcome = ServerOutcome.accept(delay=600.0)

    def call(number: int) -> BaseException | Reply:
        try:
            return post(server.port, auth_request(request_id=f"c{number}"), timeout=60)
        except (OSError, http.client.HTTPException) as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        replies = pool.map(call, range(50))
        # The timeout only guards a failure: served one at a time, the second would wait for
        # the first's ten minutes.
        server.wait_for_requests(50, timeout=30)
        assert server.stats.responses_sent == 0
        assert server.stats.active_connections == 50
        server.stop()  # the held answers are never sent: each client sees the connection end
        outcomes = list(replies)
    assert all(isinstance(one, (OSError, http.client.HTTPException)) for one in outcomes)
    assert sorted(request.request_id for request in server.requests) == sorted(
        f"c{number}" for number in range(50)
    )
    assert server.stats.handshakes_completed == 50
    assert server.stats.responses_sent == 0


def test_stop_does_not_hang_on_stalled_or_idle_connections() -> None:
    """stop() returns promptly with a stalled request and an idle keep-alive connection open."""
    stalled = PhoneFactorTestServer(PKI, license_key=LICENSE, group_key=GROUP).start()
    outcome: queue.Queue[BaseException | Reply] = queue.Queue()

    def client() -> None:
        try:
            outcome.put(post(stalled.port, auth_request(), timeout=30))
        except (OSError, http.client.HTTPException) as error:
            outcome.put(error)

    idle = http.client.HTTPSConnection("127.0.0.1", stalled.port, context=CLIENT)
    try:
        idle.request("POST", PATH, body=auth_request(request_id="idle"))
        idle.getresponse().read()
        stalled.script(ServerOutcome.inject(Fault.STALL))
        thread = threading.Thread(target=client)
        thread.start()
        stalled.wait_for_requests(2)
        stalled.stop()
        # stop() gives the server's threads 5 s to end and then returns regardless. Both
        # connections being gone the moment it returns shows it woke the stalled request and
        # the idle connection rather than waiting that out; nothing here is timed.
        assert stalled.stats.active_connections == 0
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(outcome.get_nowait(), (OSError, http.client.HTTPException))
        assert stalled.errors == ()
    finally:
        idle.close()
        stalled.stop()


# -- asynchronous requests -----------------------------------------------------------------


class _Receiver:
    """A local HTTP(S) server that keeps what is POSTed to it."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.bodies: queue.Queue[tuple[str, bytes]] = queue.Queue()
        received = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.put((self.path, self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/mfa/result"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_async_request_is_acknowledged_then_posted(
    server: PhoneFactorTestServer, tls: bool
) -> None:
    """async=1: an immediate acknowledgement, then the final response POSTed to the URL."""
    receiver = _Receiver(PKI.server_ssl_context(require_client_cert=False) if tls else None)
    try:
        # The first call's outcome is due in ten minutes (the server drops it when it stops):
        # its acknowledgement coming back at all shows the acknowledgement does not wait for
        # the outcome. Nothing here is timed.
        server.script(
            ServerOutcome.accept(delay=600.0), ServerOutcome.deny(call_status=9), username="alice"
        )
        held = auth_request(request_id="async-0", is_async=True, response_url=receiver.url)
        assert answer(post(server.port, held, timeout=60).body)["request_id"] == "async-0"
        assert server.callbacks == ()
        body = auth_request(request_id="async-1", is_async=True, response_url=receiver.url)
        acknowledgement = answer(post(server.port, body).body)
        assert acknowledgement == {
            "request_id": "async-1",
            "disposition": "success",
            "error_id": "0",
            "authenticated": None,
            "call_status": None,
            "otp": None,
            "has_answer": None,
        }
        path, final = receiver.bodies.get(timeout=5)
        assert path == "/mfa/result"
        parts = answer(final)
        assert (parts["request_id"], parts["authenticated"], parts["call_status"]) == (
            "async-1",
            "no",
            "9",
        )
        (delivery,) = server.wait_for_callbacks(1)
        assert (delivery.request_id, delivery.url, delivery.status) == (
            "async-1",
            receiver.url,
            204,
        )
        assert delivery.body == final
        assert server.stats.callbacks_sent == 1
        _, request = server.requests
        assert (request.is_async, request.response_url) == (True, receiver.url)
    finally:
        receiver.close()


def test_async_refusal_is_answered_at_once(server: PhoneFactorTestServer) -> None:
    """An asynchronous request the backend refuses gets the fail at once and no POST."""
    server.script(ServerOutcome.fail(66))
    body = auth_request(is_async=True, response_url="http://127.0.0.1:9/never")
    parts = answer(post(server.port, body).body)
    assert (parts["disposition"], parts["error_id"]) == ("fail", "66")
    wrong_key = auth_request(
        is_async=True, response_url="http://127.0.0.1:9/never", license_key="WRONGLICENSE"
    )
    reply = post(server.port, wrong_key)
    assert answer(reply.body)["error_id"] == str(int(ServerErrorId.WRONG_LICENSE_KEY))
    with pytest.raises(TimeoutError):
        server.wait_for_callbacks(1, timeout=0.2)


def test_async_callback_never_leaves_the_machine(server: PhoneFactorTestServer) -> None:
    """A response URL off the loopback host is not contacted; the delivery records why."""
    body = auth_request(is_async=True, response_url="http://192.0.2.1/result")
    assert answer(post(server.port, body).body)["has_answer"] is None
    (delivery,) = server.wait_for_callbacks(1)
    assert delivery.status is None
    assert delivery.error is not None
    assert "loopback" in delivery.error
    assert server.stats.callbacks_sent == 0
