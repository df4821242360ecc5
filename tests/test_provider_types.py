"""The provider values (modes, PINs, challenges, results, call results) and `authenticate`."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyampam import PhoneNumber
from pyampam.exceptions import (
    CallPendingError,
    InvalidValueError,
    MfaCancelledError,
    MfaTimeoutError,
    ProviderTimeoutError,
    UnknownCallError,
)
from pyampam.providers import (
    AuthMode,
    CallHandle,
    CallResult,
    CallStatus,
    MfaChallenge,
    MfaProvider,
    MfaResult,
    Pin,
    PinFormat,
    SupportsWait,
    authenticate,
    wait_for_result,
)

PHONE = PhoneNumber.parse("+1 4255550100")
DOMAIN_DOC = Path(__file__).resolve().parents[2] / "shared" / "docs" / "domain.md"


class ScriptedProvider:
    """A minimal provider: each call finishes after `polls` status calls with a given outcome."""

    def __init__(self, outcome: MfaResult | Exception, *, polls: int = 2) -> None:
        self.outcome = outcome
        self.polls = polls
        self.status_calls = 0
        self.lock = threading.Lock()

    def initiate(self, challenge: MfaChallenge) -> CallHandle:
        return CallHandle("call-1", CallStatus.PENDING)

    def status(self, call_id: str) -> CallStatus:
        if call_id != "call-1":
            raise UnknownCallError(f"no call {call_id}", call_id=call_id)
        with self.lock:
            self.status_calls += 1
            if self.status_calls < self.polls:
                return CallStatus.PENDING
        if isinstance(self.outcome, Exception):
            return CallStatus.FAILED
        return self.outcome.status

    def failure_message(self, call_id: str) -> str:
        return str(self.outcome)

    def result(self, call_id: str) -> MfaResult:
        if self.status_calls < self.polls:
            raise CallPendingError("pending", call_id=call_id)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_auth_mode_values_are_the_wire_strings() -> None:
    """AuthMode's values are exactly the nine mode strings of the SDK."""
    assert {mode.value for mode in AuthMode} == {
        "standard",
        "pin",
        "voiceprint",
        "sms_one_way_otp",
        "sms_one_way_otp_plus_pin",
        "sms_two_way_otp",
        "sms_two_way_otp_plus_pin",
        "phone_app_standard",
        "phone_app_pin",
    }


def test_auth_mode_families() -> None:
    """Each mode belongs to exactly one family: voice, SMS or phone app."""
    for mode in AuthMode:
        assert [mode.is_voice, mode.is_sms, mode.is_phone_app].count(True) == 1
    assert AuthMode.SMS_ONE_WAY_OTP.returns_otp
    assert not AuthMode.SMS_TWO_WAY_OTP.returns_otp
    assert {m for m in AuthMode if m.needs_pin} == {
        AuthMode.PIN,
        AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN,
        AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN,
        AuthMode.PHONE_APP_PIN,
    }


@pytest.mark.skipif(not DOMAIN_DOC.exists(), reason="shared docs not beside the checkout")
def test_call_results_are_exactly_the_documented_names() -> None:
    """CallResult holds every call result name of the domain doc, and no other."""
    import re

    text = DOMAIN_DOC.read_text(encoding="utf-8")
    section = text.split("## 6.")[1].split("## 7.")[0]
    documented = set(re.findall(r"\b(?:SUCCESS|FAILED)_[A-Z_]+|CONFIG_ISSUE", section))
    assert {member.value for member in CallResult} == documented


def test_call_result_success_prefix_is_not_authentication() -> None:
    """Some SUCCESS_ outcomes cannot count as authenticated; no FAILED_ outcome can."""
    assert not CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT.can_authenticate
    assert not CallResult.SUCCESS_USER_BLOCKED.can_authenticate
    assert CallResult.SUCCESS_PHONE_APP_AUTHENTICATED.can_authenticate
    for member in CallResult:
        assert member.description
        if member.name.startswith("FAILED_") or member is CallResult.CONFIG_ISSUE:
            assert not member.can_authenticate


def test_call_result_from_name_is_forgiving() -> None:
    """`from_name` ignores case and spaces and returns None for unknown names."""
    assert CallResult.from_name(" success_no_pin ") is CallResult.SUCCESS_NO_PIN
    assert CallResult.from_name("NOT_A_RESULT") is None
    assert CallResult("CONFIG_ISSUE") is CallResult.CONFIG_ISSUE


def test_pin_rules() -> None:
    """Plain PINs are 4-16 digits; SHA-1 PINs are 40 hex digits and may carry a salt."""
    assert Pin.plain("1234").format is PinFormat.PLAIN_TEXT
    digest = "A" * 40
    pin = Pin.sha1(digest, salt="s4lt")
    assert (pin.value, pin.format, pin.salt) == ("a" * 40, PinFormat.SHA1, "s4lt")
    for bad in ("123", "12a4", "1" * 17, "١٢٣٤"):
        with pytest.raises(InvalidValueError, match="PIN"):
            Pin.plain(bad)
    with pytest.raises(InvalidValueError, match="40 hexadecimal"):
        Pin.sha1("abc")


@given(st.text(alphabet="0123456789", min_size=4, max_size=16))
def test_pins_never_show(digits: str) -> None:
    """A PIN never appears in the repr or str of the PIN or of a challenge carrying it."""
    pin = Pin.plain(digits)
    challenge = MfaChallenge(username="u", phone=PHONE, mode=AuthMode.PIN, pin=pin)
    for text in (repr(pin), str(pin), repr(challenge), str(challenge)):
        assert digits not in text


def test_challenge_requires_a_pin_for_pin_modes() -> None:
    """PIN modes without a PIN are refused, naming the field."""
    with pytest.raises(InvalidValueError) as caught:
        MfaChallenge(username="u", phone=PHONE, mode="pin")
    assert caught.value.field == "pin"


def test_challenge_requires_a_device_token_for_phone_app_modes() -> None:
    """Phone app modes need a device token."""
    with pytest.raises(InvalidValueError, match="device token"):
        MfaChallenge(username="u", phone=PHONE, mode=AuthMode.PHONE_APP_STANDARD)
    challenge = MfaChallenge(
        username="u",
        phone=PHONE,
        mode=AuthMode.PHONE_APP_STANDARD,
        device_token="tok-secret-123",
        notification_type="apns",
    )
    assert "tok-secret-123" not in repr(challenge)


def test_challenge_sms_text_needs_the_placeholder() -> None:
    """An SMS text without the <$otp$> placeholder is refused."""
    with pytest.raises(InvalidValueError, match=r"<\$otp\$>"):
        MfaChallenge(username="u", phone=PHONE, mode=AuthMode.SMS_ONE_WAY_OTP, sms_text="Hi")
    ok = MfaChallenge(
        username="u", phone=PHONE, mode=AuthMode.SMS_ONE_WAY_OTP, sms_text="Code: <$otp$>"
    )
    assert ok.sms_text == "Code: <$otp$>"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"username": ""}, "username"),
        ({"username": "a\x00b"}, "username"),
        ({"language": "e\x07n"}, "language"),
        ({"phone": "+1 4255550100"}, "phone"),
    ],
)
def test_challenge_rejects_bad_fields(kwargs: dict[str, object], field: str) -> None:
    """Empty names, control characters and unparsed phone numbers are refused by field."""
    values: dict[str, object] = {"username": "u", "phone": PHONE, **kwargs}
    with pytest.raises(InvalidValueError) as caught:
        MfaChallenge(**values)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_result_hides_the_otp() -> None:
    """The one-time passcode of a one-way SMS never appears in the result's repr."""
    result = MfaResult(authenticated=True, request_id="r", otp="918273")
    assert "918273" not in repr(result)
    assert result.status is CallStatus.SUCCESS
    assert MfaResult(authenticated=False, request_id="r").status is CallStatus.FAILED


def test_scripted_provider_satisfies_the_protocol() -> None:
    """A class with the four operations is an MfaProvider; without `wait` it is no SupportsWait."""
    provider = ScriptedProvider(MfaResult(authenticated=True, request_id="r"))
    assert isinstance(provider, MfaProvider)
    assert not isinstance(provider, SupportsWait)


def test_authenticate_polls_until_finished() -> None:
    """`authenticate` initiates, polls `status` until the call ends and returns the result."""
    provider = ScriptedProvider(MfaResult(authenticated=True, request_id="r"), polls=3)
    challenge = MfaChallenge(username="u", phone=PHONE)
    result = authenticate(provider, challenge, timeout=5)
    assert result.authenticated
    assert provider.status_calls == 3


def test_authenticate_reraises_the_provider_error() -> None:
    """A call the provider could not complete raises its typed error from `authenticate`."""
    provider = ScriptedProvider(ProviderTimeoutError("no answer", call_id="call-1"))
    with pytest.raises(ProviderTimeoutError):
        authenticate(provider, MfaChallenge(username="u", phone=PHONE), timeout=5)


def test_wait_times_out() -> None:
    """A call still pending at its deadline raises MfaTimeoutError naming the call, right then."""
    provider = ScriptedProvider(MfaResult(authenticated=True, request_id="r"), polls=10**9)

    def clock() -> float:
        # The wait's clock moves 4 s with each poll, so the 10 s deadline passes at the third
        # poll however fast or slow the machine is.
        return 4.0 * provider.status_calls

    with pytest.raises(MfaTimeoutError, match="call-1"):
        wait_for_result(provider, "call-1", timeout=10, clock=clock)
    # Not before the deadline (at 4 s and 8 s the call was still polled), and not after.
    assert provider.status_calls == 3


def test_wait_can_be_cancelled_from_another_thread() -> None:
    """Setting the cancel event stops the wait with MfaCancelledError."""
    provider = ScriptedProvider(MfaResult(authenticated=True, request_id="r"), polls=10**9)
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(MfaCancelledError):
        wait_for_result(provider, "call-1", timeout=30, cancel=cancel)


def test_wait_rejects_a_negative_timeout() -> None:
    """A negative timeout is a programming error."""
    provider = ScriptedProvider(MfaResult(authenticated=True, request_id="r"))
    with pytest.raises(ValueError, match="timeout"):
        wait_for_result(provider, "call-1", timeout=-1)


def test_wait_uses_the_providers_own_wait() -> None:
    """Providers with `wait` are waited on, not polled through `status`."""

    class Waiting(ScriptedProvider):
        waits = 0

        def wait(self, call_id: str, timeout: float | None) -> CallStatus:
            self.waits += 1
            return CallStatus.SUCCESS

        def result(self, call_id: str) -> MfaResult:
            assert isinstance(self.outcome, MfaResult)
            return self.outcome

    provider = Waiting(MfaResult(authenticated=True, request_id="r"))
    assert isinstance(provider, SupportsWait)
    assert wait_for_result(provider, "call-1", timeout=5).authenticated
    assert (provider.waits, provider.status_calls) == (1, 0)
