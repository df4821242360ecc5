"""The provider contract, held by the fake and by the real client talking to the test server.

One set of tests, run against two sides:

- ``fake``: :class:`pyampam.testing.FakeProvider`;
- ``phonefactor``: :class:`pyampam.providers.PhoneFactorClient` over real mutual TLS to a
  :class:`pyampam.testing.PhoneFactorTestServer` on 127.0.0.1.

Each side has a small adapter that scripts "the next call for user X authenticates / is denied
/ is refused / fails at the provider" in its own way (``FakeProvider.script`` or the server's
``ServerOutcome``). Whatever the fake promises here, the real client must do too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from pyampam._phone import PhoneNumber
from pyampam.exceptions import (
    CallPendingError,
    MfaCancelledError,
    MfaTimeoutError,
    ProviderError,
    ProviderResponseError,
    UnknownCallError,
)
from pyampam.providers._client import PhoneFactorClient
from pyampam.providers._protocol import MfaProvider, SupportsWait
from pyampam.providers._types import (
    AuthMode,
    CallResult,
    CallStatus,
    MfaChallenge,
    MfaResult,
    Pin,
)
from pyampam.testing._fake import FakeProvider
from pyampam.testing._phonefactor_outcomes import Fault, ServerOutcome
from pyampam.testing._phonefactor_server import PhoneFactorTestServer
from pyampam.testing._pki import TestPki, make_test_pki

PHONE = PhoneNumber.parse("+1 4255550100")
SECRET_PIN = "80417263"
SECRET_TOKEN = "device-token-CONTRACT-7731"
# Made-up credentials, unlike the PKI's defaults, so finding them in output means a leak.
LICENSE_KEY = "CONTRACTLK42"
GROUP_KEY = "feedfacecafebeef0123456789abcdef"
SLOW = 30.0  # seconds: a call that stays pending for the whole test
QUICK = 0.2  # seconds: a call that is pending at first and then finishes
OVERLAP = 0.5  # seconds: each of many calls that must run side by side
REFUSAL_ERROR_ID = 4242


class Provider(MfaProvider, SupportsWait, Protocol):
    """What both sides offer: the provider protocol, wait() and authenticate()."""

    def authenticate(
        self,
        challenge: MfaChallenge,
        *,
        timeout: float | None = ...,
        cancel: threading.Event | None = ...,
    ) -> MfaResult: ...


class Side(Protocol):
    """One side of the contract: a provider, and a way to script its next calls."""

    provider: Provider
    #: Strings that must never show in output (credentials, on the real side).
    secrets: tuple[str, ...]

    def authenticates(self, user: str, *, delay: float = 0.0) -> None:
        """The next call for ``user`` authenticates, ``delay`` seconds after it starts."""

    def denies(self, user: str, *, delay: float = 0.0) -> None:
        """The next call for ``user`` goes through, but the user does not authenticate."""

    def refuses(self, user: str, error_id: int) -> None:
        """The backend refuses the next call for ``user`` with ``error_id``."""

    def fails(self, user: str) -> None:
        """The next call for ``user`` gets no usable answer: HTTP 500 from the provider."""

    def check_healthy(self) -> None:
        """Fail if the side saw anything unexpected (the server's thread errors)."""


# -- the fake's side ---------------------------------------------------------------------------

# The call result a real user produces when they do authenticate, by mode.
_SUCCESS_FOR_MODE = {
    AuthMode.STANDARD: CallResult.SUCCESS_NO_PIN,
    AuthMode.VOICEPRINT: CallResult.SUCCESS_NO_PIN,
    AuthMode.PIN: CallResult.SUCCESS_WITH_PIN,
    AuthMode.SMS_ONE_WAY_OTP: CallResult.SUCCESS_SMS_SENT,
    AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN: CallResult.SUCCESS_SMS_SENT,
    AuthMode.SMS_TWO_WAY_OTP: CallResult.SUCCESS_SMS_AUTHENTICATED,
    AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN: CallResult.SUCCESS_SMS_AUTHENTICATED,
    AuthMode.PHONE_APP_STANDARD: CallResult.SUCCESS_PHONE_APP_AUTHENTICATED,
    AuthMode.PHONE_APP_PIN: CallResult.SUCCESS_PHONE_APP_AUTHENTICATED,
}


def _success_for(challenge: MfaChallenge) -> CallResult:
    return _SUCCESS_FOR_MODE[challenge.mode]


class FakeSide:
    """Scripts a FakeProvider on the real clock."""

    secrets: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.fake = FakeProvider()
        self.provider: Provider = self.fake

    def authenticates(self, user: str, *, delay: float = 0.0) -> None:
        self.fake.script(user, _success_for, latency=delay)

    def denies(self, user: str, *, delay: float = 0.0) -> None:
        self.fake.script(user, CallResult.FAILED_USER_HUNGUP_ON_US, latency=delay)

    def refuses(self, user: str, error_id: int) -> None:
        refusal = MfaResult(False, "", error_id=error_id, message="the provider refused it")
        self.fake.script(user, refusal)

    def fails(self, user: str) -> None:
        self.fake.script(
            user, ProviderResponseError("the provider answered HTTP 500", status_code=500)
        )

    def check_healthy(self) -> None:
        pass


# -- the real client's side --------------------------------------------------------------------


class PhoneFactorSide:
    """Scripts a PhoneFactorTestServer that a PhoneFactorClient talks to over mutual TLS."""

    def __init__(
        self, server: PhoneFactorTestServer, client: PhoneFactorClient, cert_password: str
    ) -> None:
        self.server = server
        self.provider: Provider = client
        self.secrets: tuple[str, ...] = (LICENSE_KEY, GROUP_KEY, cert_password)

    def authenticates(self, user: str, *, delay: float = 0.0) -> None:
        self.server.script(ServerOutcome.accept(delay=delay), username=user)

    def denies(self, user: str, *, delay: float = 0.0) -> None:
        self.server.script(ServerOutcome.deny(delay=delay), username=user)

    def refuses(self, user: str, error_id: int) -> None:
        self.server.script(ServerOutcome.fail(error_id), username=user)

    def fails(self, user: str) -> None:
        self.server.script(ServerOutcome.inject(Fault.HTTP_500), username=user)

    def check_healthy(self) -> None:
        assert self.server.errors == ()
        assert self.server.rejected_requests == ()


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki_and_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestPki, Path]:
    """A test PKI and the path of its CA bundle, made once for this module."""
    pki = make_test_pki()
    files = pki.write_files(tmp_path_factory.mktemp("contract-pki"))
    return pki, files.ca


@pytest.fixture(params=["fake", "phonefactor"])
def side(request: pytest.FixtureRequest) -> Iterator[Side]:
    """Each side of the contract in turn, checked for health after the test."""
    if request.param == "fake":
        fake_side = FakeSide()
        yield fake_side
        fake_side.check_healthy()
        return

    # The real side: PhoneFactorClient -> mutual TLS -> PhoneFactorTestServer.
    pki, ca = request.getfixturevalue("pki_and_ca")
    server = PhoneFactorTestServer(pki, license_key=LICENSE_KEY, group_key=GROUP_KEY)
    with server:
        client = PhoneFactorClient(
            pki.credentials(license_key=LICENSE_KEY, group_key=GROUP_KEY),
            certificate=pki.client_p12,
            endpoints=[server.url],
            verify=str(ca),
            timeout=(5.0, 60.0),
        )
        with client:
            real_side = PhoneFactorSide(server, client, pki.client_password)
            yield real_side
            real_side.check_healthy()


def challenge(user: str, mode: AuthMode = AuthMode.STANDARD) -> MfaChallenge:
    """A challenge for ``user`` in ``mode``, with a PIN and device token where the mode needs."""
    return MfaChallenge(
        user,
        PHONE,
        mode=mode,
        pin=Pin.plain(SECRET_PIN) if mode.needs_pin else None,
        device_token=SECRET_TOKEN if mode.is_phone_app else None,
    )


# -- the contract ------------------------------------------------------------------------------


def test_initiate_returns_at_once_with_a_call_id(side: Side) -> None:
    """initiate() returns a call id and PENDING without waiting for a slow call."""
    side.authenticates("alice", delay=SLOW)
    handle = side.provider.initiate(challenge("alice"))
    # The call is still pending below: an initiate() that waited for it would have returned
    # only once the 30 s call had ended. Nothing here is timed.
    assert isinstance(handle.call_id, str)
    assert handle.call_id
    assert handle.status is CallStatus.PENDING
    assert side.provider.status(handle.call_id) is CallStatus.PENDING


def test_call_ids_are_unique(side: Side) -> None:
    """Every call gets an id of its own."""
    ids = {side.provider.initiate(challenge(f"user{n}")).call_id for n in range(10)}
    assert len(ids) == 10


def test_status_goes_from_pending_to_success(side: Side) -> None:
    """A call that authenticates is PENDING, then SUCCESS, and its result says so."""
    side.authenticates("alice", delay=QUICK)
    call_id = side.provider.initiate(challenge("alice")).call_id
    assert side.provider.status(call_id) is CallStatus.PENDING
    assert side.provider.wait(call_id, 10) is CallStatus.SUCCESS
    assert side.provider.status(call_id) is CallStatus.SUCCESS
    result = side.provider.result(call_id)
    assert result.authenticated
    assert result.status is CallStatus.SUCCESS
    assert result.request_id == call_id
    assert side.provider.failure_message(call_id) == ""


def test_status_goes_from_pending_to_failed_on_denial(side: Side) -> None:
    """A denied call is PENDING, then FAILED; the result is not authenticated and says why."""
    side.denies("bob", delay=QUICK)
    call_id = side.provider.initiate(challenge("bob")).call_id
    assert side.provider.status(call_id) is CallStatus.PENDING
    assert side.provider.wait(call_id, 10) is CallStatus.FAILED
    assert side.provider.status(call_id) is CallStatus.FAILED
    result = side.provider.result(call_id)
    assert not result.authenticated
    assert result.status is CallStatus.FAILED
    assert result.request_id == call_id
    assert side.provider.failure_message(call_id).strip()


def test_refusal_is_a_result_with_its_error_id(side: Side) -> None:
    """A request the backend refuses is a normal unauthenticated result carrying the error id."""
    side.refuses("carol", REFUSAL_ERROR_ID)
    call_id = side.provider.initiate(challenge("carol")).call_id
    assert side.provider.wait(call_id, 10) is CallStatus.FAILED
    result = side.provider.result(call_id)
    assert not result.authenticated
    assert result.error_id == REFUSAL_ERROR_ID
    assert side.provider.failure_message(call_id).strip()


def test_provider_failure_is_failed_and_raised(side: Side) -> None:
    """A call the provider could not answer is FAILED, explained, and result() raises it."""
    side.fails("dave")
    call_id = side.provider.initiate(challenge("dave")).call_id
    assert side.provider.wait(call_id, 10) is CallStatus.FAILED
    assert "500" in side.provider.failure_message(call_id)
    with pytest.raises(ProviderResponseError) as caught:
        side.provider.result(call_id)
    assert caught.value.call_id == call_id
    assert caught.value.status_code == 500


def test_result_while_pending(side: Side) -> None:
    """result() and failure_message() raise CallPendingError while the call is pending."""
    side.authenticates("alice", delay=SLOW)
    call_id = side.provider.initiate(challenge("alice")).call_id
    with pytest.raises(CallPendingError) as caught:
        side.provider.result(call_id)
    assert caught.value.call_id == call_id
    with pytest.raises(CallPendingError):
        side.provider.failure_message(call_id)


def test_wait_returns_pending_after_its_timeout(side: Side) -> None:
    """wait() on a slow call returns PENDING once its timeout has passed."""
    side.authenticates("alice", delay=SLOW)
    call_id = side.provider.initiate(challenge("alice")).call_id
    started = time.monotonic()
    # A wait() that ignored its timeout would return SUCCESS when the 30 s call ends.
    assert side.provider.wait(call_id, 0.2) is CallStatus.PENDING
    assert time.monotonic() - started >= 0.15  # and it does not give up early


@pytest.mark.parametrize("method", ["status", "result", "failure_message"])
def test_unknown_call_id(side: Side, method: str) -> None:
    """Asking about a call id the provider never issued raises UnknownCallError."""
    side.provider.initiate(challenge("alice"))
    with pytest.raises(UnknownCallError):
        getattr(side.provider, method)("no-such-call")


def test_wait_on_unknown_call_id(side: Side) -> None:
    """wait() on a call id the provider never issued raises UnknownCallError."""
    with pytest.raises(UnknownCallError):
        side.provider.wait("no-such-call", 0)


def test_authenticate_returns_the_result(side: Side) -> None:
    """authenticate() blocks until the outcome: authenticated, or a normal denial."""
    side.authenticates("alice", delay=QUICK)
    side.denies("bob")
    accepted = side.provider.authenticate(challenge("alice"), timeout=10)
    denied = side.provider.authenticate(challenge("bob"), timeout=10)
    assert accepted.authenticated
    assert not denied.authenticated
    assert accepted.request_id != denied.request_id


def test_authenticate_raises_the_provider_failure(side: Side) -> None:
    """authenticate() raises the ProviderError that ended the call."""
    side.fails("dave")
    with pytest.raises(ProviderResponseError):
        side.provider.authenticate(challenge("dave"), timeout=10)


@pytest.mark.parametrize("mode", list(AuthMode), ids=lambda mode: mode.value)
def test_authenticated_in_every_mode_with_an_otp_only_for_one_way_sms(
    side: Side, mode: AuthMode
) -> None:
    """Every mode can authenticate; only one-way SMS carries a passcode, and never shows it."""
    side.authenticates("erin")
    result = side.provider.authenticate(challenge("erin", mode), timeout=10)
    assert result.authenticated
    if mode.returns_otp:
        assert result.otp
        assert result.otp not in repr(result)
    else:
        assert result.otp is None


def test_authenticate_times_out_on_a_slow_call(side: Side) -> None:
    """authenticate() with a short timeout on a slow call raises MfaTimeoutError."""
    side.authenticates("alice", delay=SLOW)
    # An authenticate() that ignored its timeout would return the result when the 30 s call
    # ends, and the call would no longer be pending. Nothing here is timed.
    with pytest.raises(MfaTimeoutError) as caught:
        side.provider.authenticate(challenge("alice"), timeout=0.3)
    assert caught.value.call_id
    assert side.provider.status(caught.value.call_id) is CallStatus.PENDING


def test_authenticate_can_be_cancelled(side: Side) -> None:
    """Setting the cancel event stops authenticate() with MfaCancelledError."""
    side.authenticates("alice", delay=SLOW)
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(MfaCancelledError):
        side.provider.authenticate(challenge("alice"), timeout=20, cancel=cancel)
    timer.join()
    # A cancel ignored ends in MfaTimeoutError; one noticed only when the wait runs out takes
    # the 20 s timeout. Half of that separates it from stopping at once.
    assert time.monotonic() - started < 10


def test_concurrent_calls_from_many_threads(side: Side) -> None:
    """Forty threads authenticating at once each get their own user's outcome."""
    users = [f"user{n:02d}" for n in range(40)]
    for index, user in enumerate(users):
        if index % 2:
            side.denies(user, delay=OVERLAP)
        else:
            side.authenticates(user, delay=OVERLAP)
    results: dict[str, MfaResult] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(users))

    def run(user: str) -> None:
        barrier.wait()
        try:
            result = side.provider.authenticate(challenge(user), timeout=20)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            with lock:
                failures.append(error)
            return
        with lock:
            results[user] = result

    threads = [threading.Thread(target=run, args=(user,)) for user in users]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert {user: result.authenticated for user, result in results.items()} == {
        user: index % 2 == 0 for index, user in enumerate(users)
    }
    assert len({result.request_id for result in results.values()}) == len(users)
    # Concurrent, not one after the other: in a row, the 40 calls take at least 40 x 0.5 s =
    # 20 s (each delay is a wait that cannot end early); side by side about 0.5 s, or 1 s in
    # the real client's two rounds of 32 workers. 15 s leaves a slow machine plenty of room.
    assert time.monotonic() - started < 15


def test_status_from_another_thread(side: Side) -> None:
    """A call started on one thread is followed to its result from another."""
    side.authenticates("alice", delay=QUICK)
    call_id = side.provider.initiate(challenge("alice")).call_id
    seen: list[object] = []

    def follow() -> None:
        try:
            while side.provider.status(call_id) is CallStatus.PENDING:
                side.provider.wait(call_id, 0.05)
            seen.append(side.provider.result(call_id))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            seen.append(error)

    thread = threading.Thread(target=follow)
    thread.start()
    thread.join(10)
    assert len(seen) == 1
    result = seen[0]
    assert isinstance(result, MfaResult)
    assert result.authenticated
    assert result.request_id == call_id


@pytest.mark.parametrize(
    "mode", [AuthMode.PIN, AuthMode.PHONE_APP_PIN, AuthMode.SMS_ONE_WAY_OTP_PLUS_PIN]
)
def test_secrets_not_in_reprs(side: Side, mode: AuthMode) -> None:
    """No PIN, device token, OTP or credential shows in reprs, messages or errors."""
    side.authenticates("alice")
    side.denies("bob")
    side.fails("dave")
    accepted = side.provider.authenticate(challenge("alice", mode), timeout=10)
    bob = side.provider.initiate(challenge("bob", mode)).call_id
    dave = side.provider.initiate(challenge("dave", mode)).call_id
    side.provider.wait(bob, 10)
    side.provider.wait(dave, 10)
    with pytest.raises(ProviderError) as caught:
        side.provider.result(dave)
    shown = [
        repr(side.provider),
        str(side.provider),
        repr(accepted),
        str(accepted),
        repr(side.provider.result(bob)),
        side.provider.failure_message(bob),
        side.provider.failure_message(dave),
        repr(caught.value),
        str(caught.value),
        repr(challenge("alice", mode)),
    ]
    secrets = [SECRET_PIN, SECRET_TOKEN, *side.secrets]
    if accepted.otp:
        secrets.append(accepted.otp)
    for text in shown:
        for secret in secrets:
            assert secret not in text
