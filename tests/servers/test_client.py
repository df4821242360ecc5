"""PhoneFactorClient against the PhoneFactor test server, over real mutual TLS on 127.0.0.1."""

from __future__ import annotations

import contextlib
import gc
import http.client
import logging
import os
import socket
import ssl
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyampam.providers._client as client_module
from pyampam._phone import PhoneNumber
from pyampam.exceptions import (
    CallPendingError,
    ClientCertificateError,
    ClientCertificateRejectedError,
    ConnectionFailedError,
    DeliveryUncertainError,
    InvalidValueError,
    MfaTimeoutError,
    ProviderResponseError,
    ProviderTimeoutError,
    ServerCertificateError,
    SettingsError,
    TlsError,
    UnknownCallError,
)
from pyampam.providers import (
    AuthMode,
    CallStatus,
    MfaChallenge,
    MfaProvider,
    MfaResult,
    NotificationType,
    PhoneFactorClient,
    Pin,
    SupportsWait,
)
from pyampam.providers._callback import CallbackReceiver
from pyampam.providers._client import _Call, _ContextAdapter, _Transport
from pyampam.providers._wire import build_authentication_request, new_request_id
from pyampam.settings import MfaSettings
from pyampam.testing import (
    Fault,
    PhoneFactorTestServer,
    ServerOutcome,
    TestPki,
    make_test_pki,
    unused_url,
)

PHONE = PhoneNumber(1, "4255550123")
FAST = (2.0, 5.0)


def challenge(mode: AuthMode = AuthMode.STANDARD, **fields: Any) -> MfaChallenge:
    values: dict[str, Any] = {"username": "0b7c-user-guid", "phone": PHONE, "mode": mode}
    if mode.needs_pin:
        values["pin"] = Pin.plain("97531")
    if mode.is_phone_app:
        values["device_token"] = "DEVICE-TOKEN-SECRET-77"
        values["notification_type"] = NotificationType.APNS
    values.update(fields)
    return MfaChallenge(**values)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return make_test_pki()


@pytest.fixture(scope="module")
def ca_file(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pki.write_files(tmp_path_factory.mktemp("pki")).ca


ServerFactory = Callable[..., PhoneFactorTestServer]


@pytest.fixture
def make_server(pki: TestPki) -> Iterator[ServerFactory]:
    servers: list[PhoneFactorTestServer] = []
    credentials = pki.credentials()

    def make(**options: Any) -> PhoneFactorTestServer:
        server = PhoneFactorTestServer(
            pki, license_key=credentials.license_key, group_key=credentials.group_key, **options
        )
        servers.append(server.start())
        return server

    yield make
    for server in servers:
        server.stop()
        assert server.errors == ()


@pytest.fixture
def server(make_server: ServerFactory) -> PhoneFactorTestServer:
    return make_server()


ClientFactory = Callable[..., PhoneFactorClient]


@pytest.fixture
def make_client(
    pki: TestPki, ca_file: Path, server: PhoneFactorTestServer
) -> Iterator[ClientFactory]:
    clients: list[PhoneFactorClient] = []

    def make(**options: Any) -> PhoneFactorClient:
        options.setdefault("certificate", pki.client_p12)
        options.setdefault("endpoints", [server.url])
        options.setdefault("verify", ca_file)
        options.setdefault("timeout", FAST)
        client = PhoneFactorClient(pki.credentials(), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> PhoneFactorClient:
    return make_client()


# -- outcomes ------------------------------------------------------------------------------


def test_authenticated_call(client: PhoneFactorClient, server: PhoneFactorTestServer) -> None:
    """A successful call authenticates, and the server got our keys, user and phone."""
    assert isinstance(client, MfaProvider)
    assert isinstance(client, SupportsWait)
    result = client.authenticate(challenge(), timeout=5)
    assert result.authenticated
    assert result.call_status == 0
    (request,) = server.requests
    assert request.request_id == result.request_id
    assert request.username == "0b7c-user-guid"
    assert (request.country_code, request.national_number) == ("1", "4255550123")
    assert (request.host_name, request.host_ip) == ("pfsdk-hostname", "255.255.255.255")
    assert not request.is_async
    assert server.rejected_requests == ()


def test_denied_and_refused_calls(client: PhoneFactorClient, server: PhoneFactorTestServer) -> None:
    """authenticated no and disposition fail are results, with their raw codes."""
    server.script(ServerOutcome.deny(call_status=14), ServerOutcome.fail(4711))
    denied = client.authenticate(challenge(), timeout=5)
    assert not denied.authenticated
    assert denied.call_status == 14
    assert client.status(denied.request_id) is CallStatus.FAILED
    assert client.failure_message(denied.request_id) == "not authenticated (callStatus 14)"
    refused = client.authenticate(challenge(), timeout=5)
    assert not refused.authenticated
    assert refused.error_id == 4711
    assert "4711" in client.failure_message(refused.request_id)


def test_one_way_sms_returns_the_otp(
    client: PhoneFactorClient, server: PhoneFactorTestServer
) -> None:
    """One-way SMS hands back the passcode the server sent."""
    result = client.authenticate(challenge(AuthMode.SMS_ONE_WAY_OTP), timeout=5)
    (request,) = server.requests
    assert request.outcome is not None
    assert request.outcome.otp
    assert result.otp == request.outcome.otp


def test_call_life_cycle(client: PhoneFactorClient, server: PhoneFactorTestServer) -> None:
    """Pending, then finished; result and failure_message wait for the end; unknown ids fail."""
    server.script(ServerOutcome.accept(delay=0.5))
    handle = client.initiate(challenge())
    # initiate() did not wait for the answer: the server has sent none (it holds it 0.5 s).
    assert server.stats.responses_sent == 0
    assert handle.status is CallStatus.PENDING
    assert client.status(handle.call_id) is CallStatus.PENDING
    with pytest.raises(CallPendingError):
        client.result(handle.call_id)
    with pytest.raises(CallPendingError):
        client.failure_message(handle.call_id)
    assert client.wait(handle.call_id, 0.01) is CallStatus.PENDING
    assert client.wait(handle.call_id, 5) is CallStatus.SUCCESS
    assert client.result(handle.call_id).authenticated
    assert client.failure_message(handle.call_id) == ""
    with pytest.raises(UnknownCallError):
        client.status("no-such-call")


def test_finished_calls_are_forgotten_beyond_the_limit(
    client: PhoneFactorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the newest MAX_FINISHED_CALLS finished calls are kept."""
    monkeypatch.setattr(client_module, "MAX_FINISHED_CALLS", 2)
    ids = [client.authenticate(challenge(), timeout=5).request_id for _ in range(3)]
    client.initiate(challenge())  # pruning happens as calls come and go
    with pytest.raises(UnknownCallError):
        client.result(ids[0])
    assert client.result(ids[2]).authenticated


# -- connections ---------------------------------------------------------------------------


def test_connection_is_kept_alive(client: PhoneFactorClient, server: PhoneFactorTestServer) -> None:
    """Later calls reuse the first TLS connection: one handshake for five calls."""
    for _ in range(5):
        assert client.authenticate(challenge(), timeout=5).authenticated
    stats = server.stats
    assert stats.requests_received == 5
    assert stats.connections_accepted == 1
    assert stats.handshakes_completed == 1
    assert client.connections_opened == 1


def test_ssl_context_is_not_reloaded_per_connection(
    client: PhoneFactorClient, server: PhoneFactorTestServer
) -> None:
    """The pools use our context as built: no CA bundle or key file is loaded into it again."""
    # Observing, not patching: the one place the context lives is the transport's adapter.
    session = client._transport._sessions[0]
    adapter = session.get_adapter(server.url)
    assert isinstance(adapter, _ContextAdapter)
    context = adapter._ssl_context
    before = context.cert_store_stats()
    assert before["x509_ca"] == 1
    for _ in range(3):
        client.authenticate(challenge(), timeout=5)
    assert context.cert_store_stats() == before
    (pool,) = adapter.poolmanager.pools._container.values()
    assert pool.ca_certs is None
    assert pool.cert_file is None
    assert pool.conn_kw["ssl_context"] is context


def test_proxy_environment_is_honoured(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch, server: PhoneFactorTestServer
) -> None:
    """Proxies come from the environment as requests reads them (here: a dead proxy)."""
    monkeypatch.setenv("HTTPS_PROXY", unused_url().replace("https://", "http://"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = make_client()
    with pytest.raises(ConnectionFailedError, match="nothing was sent"):
        client.authenticate(challenge(), timeout=5)
    assert server.stats.connections_accepted == 0


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable set, in either case; the test sets what it needs."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


class TunnelProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that records the target of every tunnel it opens."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._targets: list[str] = []
        self._sockets: list[socket.socket] = [self._listener]
        self._threads: list[threading.Thread] = []
        self._start(self._accept_loop)

    @property
    def targets(self) -> list[str]:
        """``host:port`` of each CONNECT, in order."""
        with self._lock:
            return list(self._targets)

    def close(self) -> None:
        """Stop listening and cut every tunnel."""
        with self._lock:
            sockets = list(self._sockets)
        for each in sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _keep(self, connection: socket.socket) -> None:
        with self._lock:
            self._sockets.append(connection)

    def _accept_loop(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._keep(connection)
            self._start(self._tunnel, connection)

    def _tunnel(self, connection: socket.socket) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and (chunk := connection.recv(4096)):
                head += chunk
        parts = head.decode("latin-1").split(" ", 2)
        if len(parts) < 3 or parts[0] != "CONNECT":
            with contextlib.suppress(OSError):
                connection.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        target = parts[1]
        host, port = target.rsplit(":", 1)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                connection.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        upstream.settimeout(None)
        self._keep(upstream)
        with self._lock:
            self._targets.append(target)
        connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self._start(self._pipe, upstream, connection)
        self._pipe(connection, upstream)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def tunnel_proxy() -> Iterator[TunnelProxy]:
    proxy = TunnelProxy()
    yield proxy
    proxy.close()


def _host_port(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def test_proxy_is_read_from_the_environment_when_the_client_is_created(
    make_client: ClientFactory,
    server: PhoneFactorTestServer,
    tunnel_proxy: TunnelProxy,
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY set at construction carries the calls, even once it is gone from os.environ."""
    no_proxy_environment.setenv("HTTPS_PROXY", tunnel_proxy.url)
    client = make_client()
    no_proxy_environment.delenv("HTTPS_PROXY")
    no_proxy_environment.setenv("NO_PROXY", "*")
    assert client.authenticate(challenge()).authenticated
    assert client.authenticate(challenge()).authenticated
    # One tunnel, kept alive for both calls, to the endpoint; the server saw both requests.
    assert tunnel_proxy.targets == [_host_port(server.url)]
    assert len(server.requests) == 2


def test_no_proxy_is_honoured(
    make_client: ClientFactory,
    server: PhoneFactorTestServer,
    tunnel_proxy: TunnelProxy,
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    """An endpoint NO_PROXY names is reached directly, though HTTPS_PROXY is set."""
    no_proxy_environment.setenv("HTTPS_PROXY", tunnel_proxy.url)
    no_proxy_environment.setenv("NO_PROXY", "localhost,127.0.0.1")
    client = make_client()
    assert client.authenticate(challenge()).authenticated
    assert tunnel_proxy.targets == []
    assert len(server.requests) == 1


def test_no_proxy_set_later_does_not_bypass_the_proxy(
    make_client: ClientFactory,
    server: PhoneFactorTestServer,
    tunnel_proxy: TunnelProxy,
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    """NO_PROXY, like HTTPS_PROXY, counts as it was when the client was created."""
    no_proxy_environment.setenv("HTTPS_PROXY", tunnel_proxy.url)
    client = make_client()
    no_proxy_environment.setenv("NO_PROXY", "127.0.0.1")
    assert client.authenticate(challenge()).authenticated
    assert tunnel_proxy.targets == [_host_port(server.url)]


def test_ca_bundle_variables_change_nothing(
    make_client: ClientFactory,
    server: PhoneFactorTestServer,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE neither widen nor break what verify= trusts."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(ca_file))
    with pytest.raises(ServerCertificateError):
        make_client(verify=True).authenticate(challenge())
    assert server.requests == ()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "missing.pem"))
    assert make_client().authenticate(challenge()).authenticated


# -- certificates --------------------------------------------------------------------------


def test_untrusted_server_certificate(
    make_client: ClientFactory, make_server: ServerFactory, pki: TestPki
) -> None:
    """A server certificate from an unknown CA: ServerCertificateError, nothing sent."""
    foreign = make_server(ssl_context=pki.server_ssl_context(server_cert="foreign"))
    client = make_client(endpoints=[foreign.url])
    with pytest.raises(ServerCertificateError, match="not trusted") as caught:
        client.authenticate(challenge(), timeout=5)
    assert caught.value.endpoint == foreign.url
    assert foreign.requests == ()


def test_system_trust_store_does_not_trust_the_test_ca(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """verify=True uses the system CAs, which do not know the test CA."""
    client = make_client(verify=True)
    with pytest.raises(ServerCertificateError):
        client.authenticate(challenge(), timeout=5)
    assert server.requests == ()


@pytest.mark.parametrize("tls12", [False, True], ids=["tls1.3", "tls1.2"])
def test_foreign_client_certificate_is_rejected(
    make_client: ClientFactory, make_server: ServerFactory, pki: TestPki, tls12: bool
) -> None:
    """A client certificate the server does not trust: ClientCertificateRejectedError.

    In TLS 1.3 the rejection arrives after the client has sent its request; it is still the
    server's TLS layer talking, so nothing was delivered.
    """
    context = pki.server_ssl_context()
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    target = make_server(ssl_context=context)
    client = make_client(endpoints=[target.url], certificate=pki.foreign_client_p12)
    with pytest.raises(ClientCertificateRejectedError, match="refused our client certificate"):
        client.authenticate(challenge(), timeout=5)
    assert target.requests == ()


@pytest.mark.parametrize("tls12", [False, True], ids=["tls1.3", "tls1.2"])
def test_missing_client_certificate_is_rejected(
    pki: TestPki, make_server: ServerFactory, tls12: bool
) -> None:
    """A connection without a client certificate is refused by the server's TLS layer.

    TLS 1.3 names the reason (certificate_required); TLS 1.2 only says handshake_failure,
    which a cipher mismatch also gives, so that stays a plain TlsError with a hint.
    """
    context = pki.server_ssl_context()
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    target = make_server(ssl_context=context)
    transport = _Transport([target.url], pki.client_ssl_context(client_cert=None), pool_size=1)
    try:
        attempt = transport.post(0, b"<pfpMessage/>", FAST, "call-1")
    finally:
        transport.close()
    assert not attempt.delivered
    if tls12:
        assert type(attempt.error) is TlsError
        assert "may not accept our client certificate" in attempt.error.message
    else:
        assert isinstance(attempt.error, ClientCertificateRejectedError)
    assert target.requests == ()


def test_wrong_pkcs12_password(pki: TestPki, ca_file: Path) -> None:
    """A wrong CERT_PASSWORD fails at construction, without showing the password."""
    credentials = pki.credentials()
    wrong = type(credentials)(credentials.license_key, credentials.group_key, "Wrong-Pa55word")
    with pytest.raises(ClientCertificateError) as caught:
        PhoneFactorClient(wrong, certificate=pki.client_p12, verify=ca_file)
    assert isinstance(caught.value.__cause__, SettingsError)
    assert "Wrong-Pa55word" not in str(caught.value)
    assert "CERT_PASSWORD" in str(caught.value)


def test_unreadable_certificate_file(pki: TestPki, tmp_path: Path) -> None:
    """A certificate path that cannot be read is a ClientCertificateError naming it."""
    missing = tmp_path / "cert_key.p12"
    with pytest.raises(ClientCertificateError, match=r"cert_key\.p12"):
        PhoneFactorClient(pki.credentials(), certificate=missing)


@pytest.mark.parametrize("verify", [False, 0, None])
def test_verification_cannot_be_turned_off(pki: TestPki, verify: Any) -> None:
    """verify=False (or anything else that is not True or a path) is refused."""
    with pytest.raises(InvalidValueError, match="always checked"):
        PhoneFactorClient(pki.credentials(), certificate=pki.client_p12, verify=verify)


def test_from_settings(
    pki: TestPki, ca_file: Path, server: PhoneFactorTestServer, tmp_path: Path
) -> None:
    """A client built from MfaSettings uses its credentials and CertFilePath."""
    p12 = tmp_path / "cert_key.p12"
    p12.write_bytes(pki.client_p12)
    settings = MfaSettings.for_sdk(
        pki.credentials(), cert_file_path=str(p12), username="mim", default_country_code=1
    )
    with PhoneFactorClient.from_settings(
        settings, endpoints=[server.url], verify=ca_file, timeout=FAST
    ) as client:
        assert client.authenticate(challenge(), timeout=5).authenticated


# -- the private key on disk ---------------------------------------------------------------

_watch: dict[str, Any] = {"thread": None, "seen": []}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watch["thread"] != threading.get_ident() or _watch.get("busy"):
        return
    if event in ("tempfile.mkdtemp", "os.rmdir"):
        _watch["seen"].append((event, str(args[0]), None, None))
    elif event == "os.remove":
        _watch["busy"] = True
        try:
            path = str(args[0])
            mode = stat.S_IMODE(os.stat(path).st_mode)
            folder_mode = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
            content = Path(path).read_bytes()
            _watch["seen"].append((event, path, (mode, folder_mode), content))
        finally:
            _watch["busy"] = False


@pytest.fixture(scope="module")
def audit_hook() -> None:
    # Audit hooks cannot be removed; this one does nothing unless a test switches it on.
    sys.addaudithook(_audit)


@pytest.mark.usefixtures("audit_hook")
def test_private_key_file_is_private_encrypted_and_gone(
    pki: TestPki, ca_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key file is 0600 in a 0700 folder, encrypted, and deleted before the client is used."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _watch["seen"] = []
    _watch["thread"] = threading.get_ident()
    try:
        client = PhoneFactorClient(pki.credentials(), certificate=pki.client_p12, verify=ca_file)
    finally:
        _watch["thread"] = None
    client.close()
    events = [event for event, *_ in _watch["seen"]]
    assert events == ["tempfile.mkdtemp", "os.remove", "os.rmdir"]
    _, path, modes, content = _watch["seen"][1]
    assert Path(path).parent == Path(_watch["seen"][0][1])
    assert Path(path).parent.parent == tmp_path
    assert modes == (0o600, 0o700)
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in content
    assert b"-----BEGIN PRIVATE KEY-----" not in content
    assert list(tmp_path.iterdir()) == []


# -- failover ------------------------------------------------------------------------------


def test_refused_endpoint_fails_over_and_is_remembered(
    make_client: ClientFactory, make_server: ServerFactory
) -> None:
    """A refused first endpoint: the second takes the call, and later calls start there."""
    first, second = make_server(), make_server()
    first.refuse_connections()
    client = make_client(endpoints=[first.url, second.url])
    assert client.authenticate(challenge(), timeout=5).authenticated
    assert client.current_endpoint == second.url
    first.accept_connections()
    assert client.authenticate(challenge(), timeout=5).authenticated
    assert first.stats.connections_accepted == 0
    assert len(second.requests) == 2


def test_handshake_timeout_fails_over(
    make_client: ClientFactory, make_server: ServerFactory
) -> None:
    """An endpoint that accepts TCP but never finishes the handshake counts as not reached."""
    first, second = make_server(), make_server()
    first.pause_accepting()
    client = make_client(endpoints=[first.url, second.url], timeout=(0.3, 5))
    assert client.authenticate(challenge(), timeout=5).authenticated
    assert client.current_endpoint == second.url
    first.accept_connections()
    assert first.requests == ()


@pytest.mark.parametrize("fault", [Fault.DROP, Fault.RESET, Fault.TRUNCATED])
def test_broken_connection_after_sending_is_never_resent(
    make_client: ClientFactory, make_server: ServerFactory, fault: Fault
) -> None:
    """Dropped after the request was read: DeliveryUncertainError, one request in total."""
    first, second = make_server(), make_server()
    first.script(ServerOutcome.inject(fault))
    client = make_client(endpoints=[first.url, second.url])
    handle = client.initiate(challenge())
    assert client.wait(handle.call_id, 5) is CallStatus.FAILED
    with pytest.raises(DeliveryUncertainError, match="not sent again") as caught:
        client.result(handle.call_id)
    assert type(caught.value) is DeliveryUncertainError
    assert caught.value.endpoint == first.url
    assert "not sent again" in client.failure_message(handle.call_id)
    assert len(first.requests) + len(second.requests) == 1
    assert second.stats.connections_accepted == 0
    assert client.current_endpoint == first.url


def test_read_timeout_is_not_resent(make_client: ClientFactory, make_server: ServerFactory) -> None:
    """No answer within the read timeout: ProviderTimeoutError, and nothing goes elsewhere."""
    first, second = make_server(), make_server()
    first.script(ServerOutcome.inject(Fault.STALL, seconds=3))
    client = make_client(endpoints=[first.url, second.url], timeout=(2, 0.3))
    with pytest.raises(ProviderTimeoutError, match="read timeout"):
        client.authenticate(challenge(), timeout=5)
    assert len(first.requests) == 1
    assert second.stats.connections_accepted == 0


def test_per_call_timeout(make_client: ClientFactory, server: PhoneFactorTestServer) -> None:
    """initiate(timeout=) overrides the client's timeouts for that call only."""
    server.default_outcome = ServerOutcome.accept(delay=0.5)
    client = make_client(timeout=(2, 5))
    quick = client.initiate(challenge(), timeout=(2, 0.2))
    normal = client.initiate(challenge())
    assert client.wait(quick.call_id, 5) is CallStatus.FAILED
    with pytest.raises(ProviderTimeoutError):
        client.result(quick.call_id)
    assert client.wait(normal.call_id, 5) is CallStatus.SUCCESS


def test_every_endpoint_refusing(make_client: ClientFactory) -> None:
    """Nothing reachable: ConnectionFailedError naming each endpoint, safe to retry."""
    urls = [unused_url(), unused_url()]
    client = make_client(endpoints=urls)
    with pytest.raises(ConnectionFailedError) as caught:
        client.authenticate(challenge(), timeout=5)
    error = caught.value
    assert type(error) is ConnectionFailedError
    assert "safe to try again" in error.message
    assert all(url in error.message for url in urls)
    assert "Connection refused" in error.message
    assert isinstance(error.__cause__, ConnectionFailedError)


def test_every_endpoint_untrusted(
    make_client: ClientFactory, make_server: ServerFactory, pki: TestPki
) -> None:
    """Every endpoint failing TLS the same way gives that TLS error."""
    context = pki.server_ssl_context(server_cert="foreign")
    first, second = make_server(ssl_context=context), make_server(ssl_context=context)
    client = make_client(endpoints=[first.url, second.url])
    with pytest.raises(ServerCertificateError) as caught:
        client.authenticate(challenge(), timeout=5)
    assert isinstance(caught.value, TlsError)
    assert first.url in caught.value.message
    assert second.url in caught.value.message


# -- connections reset before TLS starts ---------------------------------------------------

# A reset landing between connect() and the TLS handshake used to leave an ssl.SSLSocket open
# (python/cpython#113280); the garbage collector then warned about it in whatever test it ran in.


def _reset(connection: socket.socket) -> None:
    # Linger 0: close() sends RST instead of FIN.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def _open_tls_sockets(local_addresses: list[tuple[str, int]]) -> list[ssl.SSLSocket]:
    """The TLS sockets still open at those local addresses, wherever they are referenced."""
    found = []
    for each in gc.get_objects():
        if isinstance(each, ssl.SSLSocket) and each.fileno() != -1:
            with contextlib.suppress(OSError):
                if each.getsockname() in local_addresses:
                    found.append(each)
    return found


def _agree_then_reset(
    listener: socket.socket, connections: int, clients: list[tuple[str, int]]
) -> None:
    """A proxy that accepts each CONNECT, then resets the tunnel before TLS can start."""
    for _ in range(connections):
        connection, client_address = listener.accept()
        clients.append(client_address)
        request = b""
        while b"\r\n\r\n" not in request and (chunk := connection.recv(4096)):
            request += chunk
        connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        _reset(connection)


def test_connection_reset_before_the_handshake_leaves_no_socket_open(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection reset before TLS starts fails the call, sent nothing and leaves nothing open.

    The reset has to land in a narrow window (after the tunnel is up, before the handshake),
    so the call is made many times; before the fix about half of them left a socket open,
    held by the traceback of the call's error until the garbage collector found it.
    """
    attempts = 20
    clients: list[tuple[str, int]] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{listener.getsockname()[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        proxy = threading.Thread(
            target=_agree_then_reset, args=(listener, attempts, clients), daemon=True
        )
        proxy.start()
        client = make_client(endpoints=[unused_url()])
        for _ in range(attempts):
            with pytest.raises(ConnectionFailedError, match="nothing was sent"):
                client.authenticate(challenge(), timeout=5)
        proxy.join(5)
    assert not proxy.is_alive()
    assert len(clients) == attempts
    assert _open_tls_sockets(clients) == []


def test_call_still_under_way_at_close_leaves_no_connection_open(
    pki: TestPki, server: PhoneFactorTestServer
) -> None:
    """A call that reaches the connection pools after close() does not keep its connection."""
    transport = _Transport([server.url], pki.client_ssl_context(), pool_size=1)
    transport.close()
    attempt = transport.post(0, b"<pfpMessage/>", FAST, "call-1")
    assert attempt.status_code == 200
    deadline = time.monotonic() + 5
    while server.stats.active_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.stats.active_connections == 0


def test_receiver_with_a_client_context_leaves_no_socket_open(pki: TestPki) -> None:
    """A receiver that cannot use its ssl_context fails at once and releases its port."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(ValueError, match="server_hostname"):
            CallbackReceiver(ssl_context=pki.client_ssl_context())
        gc.collect()
    unclosed = [str(each.message) for each in caught if issubclass(each.category, ResourceWarning)]
    assert unclosed == []


def test_receiver_closes_a_tls_connection_reset_before_it_was_accepted(pki: TestPki) -> None:
    """An HTTPS callback receiver closes a connection that was reset while waiting in the queue."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        receiver = CallbackReceiver(ssl_context=pki.server_ssl_context(require_client_cert=False))
        with receiver:
            # Bound and listening, but not started: the connection waits, then is reset.
            _reset(socket.create_connection(receiver.address, timeout=5))
            receiver.start()
            host, port = receiver.address
            later = http.client.HTTPSConnection(
                host, port, timeout=5, context=pki.client_ssl_context(client_cert=None)
            )
            try:
                # Served after the reset one: the accept loop has dealt with that by now.
                later.request("POST", receiver.path, body=b"not an answer")
                assert later.getresponse().status == 400
            finally:
                later.close()
        gc.collect()
    unclosed = [str(each.message) for each in caught if issubclass(each.category, ResourceWarning)]
    assert [text for text in unclosed if f"{port})" in text] == []


# -- unusable answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status_code", "fragment"),
    [
        (Fault.HTTP_500, 500, "HTTP 500"),
        (Fault.GARBAGE, None, "not well-formed"),
        (Fault.HTML_ERROR, None, "HTML"),
        (Fault.EMPTY_BODY, None, "empty"),
        (Fault.MISMATCHED_REQUEST_ID, None, "answered request"),
    ],
)
def test_unusable_answers(
    make_client: ClientFactory,
    make_server: ServerFactory,
    fault: Fault,
    status_code: int | None,
    fragment: str,
) -> None:
    """An unusable answer is a ProviderResponseError, and the call is not sent elsewhere."""
    first, second = make_server(), make_server()
    first.script(ServerOutcome.inject(fault))
    client = make_client(endpoints=[first.url, second.url])
    with pytest.raises(ProviderResponseError, match=fragment) as caught:
        client.authenticate(challenge(), timeout=5)
    assert caught.value.status_code == status_code
    assert caught.value.endpoint == first.url
    assert second.requests == ()
    # The connection stays usable for the next call.
    assert client.authenticate(challenge(), timeout=5).authenticated


# -- many calls ----------------------------------------------------------------------------


def test_many_concurrent_calls_do_not_block(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """Twenty slow calls start at once and run side by side on the worker threads.

    The server holds every answer back for ten minutes (stop() cuts that short), so the calls
    can all reach it only side by side: one after another, the second would wait for the
    first's answer. Nothing here is timed.
    """
    server.default_outcome = ServerOutcome.accept(delay=600.0)
    # A read timeout that outlasts the test, yet ends a call stuck on a failure in a minute.
    client = make_client(max_concurrent_calls=20, timeout=(2.0, 60.0))
    handles = []
    for n in range(20):
        handle = client.initiate(challenge(username=f"user-{n}"))
        # initiate() returned without waiting for the answer, which cannot have come.
        assert client.status(handle.call_id) is CallStatus.PENDING
        handles.append(handle)
    assert server.stats.responses_sent == 0
    # All twenty at the server at once, none answered. The timeout only guards a failure.
    requests = server.wait_for_requests(20, timeout=30)
    assert server.stats.responses_sent == 0
    assert {r.request_id for r in requests} == {h.call_id for h in handles}
    assert len({r.connection_id for r in requests}) == 20
    server.stop()  # the held answers are never sent: each call ends without one
    assert [client.wait(h.call_id, 30) for h in handles] == [CallStatus.FAILED] * 20
    assert client.connections_opened == 20
    for handle in handles:
        with pytest.raises(DeliveryUncertainError):
            client.result(handle.call_id)


def test_close_fails_queued_calls_without_sending_them(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """close() lets the running call finish and fails the queued ones, which sent nothing."""
    server.default_outcome = ServerOutcome.accept(delay=0.3)
    client = make_client(max_concurrent_calls=1)
    handles = [client.initiate(challenge()) for _ in range(3)]
    server.wait_for_requests(1)
    client.close()
    assert client.wait(handles[0].call_id, 5) is CallStatus.SUCCESS
    for handle in handles[1:]:
        assert client.status(handle.call_id) is CallStatus.FAILED
        with pytest.raises(ConnectionFailedError, match="closed before"):
            client.result(handle.call_id)
    assert len(server.requests) == 1
    with pytest.raises(ConnectionFailedError, match="closed"):
        client.initiate(challenge())
    assert "closed" in repr(client)


# -- authenticate() on the caller's thread -------------------------------------------------


def _finished_record(caplog: pytest.LogCaptureFixture, call_id: str) -> logging.LogRecord:
    (record,) = [
        r
        for r in caplog.records
        if "finished" in r.getMessage() and r.__dict__.get("call_id") == call_id
    ]
    return record


def test_authenticate_talks_to_the_backend_on_the_calling_thread(
    client: PhoneFactorClient, caplog: pytest.LogCaptureFixture
) -> None:
    """With the default timeout and no cancel, the caller's own thread makes the exchange."""
    with caplog.at_level(logging.DEBUG, "pyampam.providers"):
        result = client.authenticate(challenge())
    assert result.authenticated
    record = _finished_record(caplog, result.request_id)
    assert record.thread == threading.get_ident()
    assert not str(record.threadName).startswith("pyampam-pfsdk")
    (started,) = [r for r in caplog.records if "started" in r.getMessage()]
    assert started.__dict__["call_id"] == result.request_id


@pytest.mark.parametrize("how", ["short timeout", "cancel"])
def test_authenticate_waits_on_a_worker_when_the_wait_can_end_first(
    client: PhoneFactorClient, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """A timeout shorter than connect + read, or a cancel event, keeps the call on a worker.

    Only then can the wait end (MfaTimeoutError, MfaCancelledError) while the call goes on.
    """
    options: dict[str, Any] = {"timeout": 5} if how == "short timeout" else {}
    if how == "cancel":
        options["cancel"] = threading.Event()
    with caplog.at_level(logging.INFO, "pyampam.providers"):
        result = client.authenticate(challenge(), **options)
    assert result.authenticated
    record = _finished_record(caplog, result.request_id)
    assert record.thread != threading.get_ident()
    assert str(record.threadName).startswith("pyampam-pfsdk")


def test_authenticate_outcomes_stay_known(
    client: PhoneFactorClient, server: PhoneFactorTestServer
) -> None:
    """status, result and failure_message know a call authenticate() made, after it ends."""
    server.script(ServerOutcome.accept(), ServerOutcome.deny(call_status=14))
    accepted = client.authenticate(challenge())
    assert client.status(accepted.request_id) is CallStatus.SUCCESS
    assert client.result(accepted.request_id) == accepted
    assert client.failure_message(accepted.request_id) == ""
    denied = client.authenticate(challenge())
    assert client.status(denied.request_id) is CallStatus.FAILED
    assert client.failure_message(denied.request_id) == "not authenticated (callStatus 14)"
    assert "finished_calls=2" in repr(client)


def test_authenticate_call_is_known_while_it_runs(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """Another thread sees the running call as PENDING, then the failure that ended it."""
    server.default_outcome = ServerOutcome.inject(Fault.STALL)
    client = make_client(timeout=(2.0, 60.0))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.authenticate(challenge())
        except BaseException as error:  # noqa: BLE001 - checked below
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    (request,) = server.wait_for_requests(1, timeout=30)
    call_id = request.request_id
    assert client.status(call_id) is CallStatus.PENDING
    assert client.wait(call_id, 0.01) is CallStatus.PENDING
    with pytest.raises(CallPendingError):
        client.result(call_id)
    with pytest.raises(CallPendingError):
        client.failure_message(call_id)
    server.stop()  # the stalled answer never comes
    caller.join(30)
    assert not caller.is_alive()
    (error,) = errors
    assert isinstance(error, DeliveryUncertainError)
    assert error.call_id == call_id
    assert client.status(call_id) is CallStatus.FAILED
    assert "not sent again" in client.failure_message(call_id)
    with pytest.raises(DeliveryUncertainError):
        client.result(call_id)


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.01)


def test_max_concurrent_calls_holds_for_authenticate_and_initiate_together(
    make_client: ClientFactory, make_server: ServerFactory
) -> None:
    """Calls on callers' threads and on workers share the places: beyond them, calls wait.

    Two places. An authenticate() on its own thread and an initiate() take them, both
    stalled at the first endpoint; another authenticate() and initiate() must then wait,
    sending nothing. Stopping the first endpoint ends the two stalled calls; the waiting two
    then go through, to the second endpoint. Nothing here is timed.
    """
    stalled, spare = make_server(), make_server()
    stalled.default_outcome = ServerOutcome.inject(Fault.STALL)
    client = make_client(
        endpoints=[stalled.url, spare.url], max_concurrent_calls=2, timeout=(2.0, 60.0)
    )
    outcomes: dict[str, object] = {}

    def call(user: str) -> None:
        try:
            outcomes[user] = client.authenticate(challenge(username=user))
        except BaseException as error:  # noqa: BLE001 - checked below
            outcomes[user] = error

    first = threading.Thread(target=call, args=("inline",))
    first.start()
    stalled.wait_for_requests(1, timeout=30)
    queued = client.initiate(challenge(username="queued"))
    stalled.wait_for_requests(2, timeout=30)
    # Both places are taken now.
    second = threading.Thread(target=call, args=("waiting",))
    second.start()
    held = client.initiate(challenge(username="held"))
    _wait_until(lambda: "pending_calls=4" in repr(client), "four pending calls")
    time.sleep(0.3)  # time enough for a call that did not wait to reach a server
    assert second.is_alive()
    assert client.status(held.call_id) is CallStatus.PENDING
    assert [r.username for r in stalled.requests] == ["inline", "queued"]
    assert len(spare.requests) == 0

    stalled.stop()
    first.join(30)
    second.join(30)
    assert not first.is_alive()
    assert not second.is_alive()
    assert isinstance(outcomes["inline"], DeliveryUncertainError)
    assert client.wait(queued.call_id, 30) is CallStatus.FAILED
    waiting = outcomes["waiting"]
    assert isinstance(waiting, MfaResult)
    assert waiting.authenticated
    assert client.wait(held.call_id, 30) is CallStatus.SUCCESS
    taken = spare.wait_for_requests(2, timeout=30)
    assert sorted(request.username for request in taken) == ["held", "waiting"]
    assert len(stalled.requests) == 2


def test_calls_waiting_for_a_place_at_close_are_not_sent(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """A worker still waiting for a place when the client closes fails its call, unsent."""
    server.default_outcome = ServerOutcome.inject(Fault.STALL)
    client = make_client(max_concurrent_calls=2, timeout=(2.0, 60.0))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.authenticate(challenge(username="inline"))
        except BaseException as error:  # noqa: BLE001 - checked below
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    server.wait_for_requests(1, timeout=30)
    running = client.initiate(challenge(username="running"))
    server.wait_for_requests(2, timeout=30)
    waiting = client.initiate(challenge(username="waiting"))
    _wait_until(lambda: "pending_calls=3" in repr(client), "three pending calls")
    client.close()
    server.stop()
    caller.join(30)
    assert not caller.is_alive()
    assert client.wait(running.call_id, 30) is CallStatus.FAILED
    assert client.wait(waiting.call_id, 30) is CallStatus.FAILED
    with pytest.raises(ConnectionFailedError, match="closed before"):
        client.result(waiting.call_id)
    assert [r.username for r in server.requests] == ["inline", "running"]
    (error,) = errors
    assert isinstance(error, DeliveryUncertainError)


def test_failover_on_the_calling_thread(
    make_client: ClientFactory, make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The caller's thread fails over like a worker, and the move is remembered."""
    first, second = make_server(), make_server()
    first.refuse_connections()
    client = make_client(endpoints=[first.url, second.url])
    with caplog.at_level(logging.WARNING, "pyampam.providers"):
        result = client.authenticate(challenge())
    assert result.authenticated
    assert client.current_endpoint == second.url
    (warning,) = [r for r in caplog.records if "could not be reached" in r.getMessage()]
    assert warning.thread == threading.get_ident()


def test_unusable_answer_on_the_calling_thread(
    client: PhoneFactorClient, server: PhoneFactorTestServer
) -> None:
    """A provider failure on the caller's thread is raised, and recorded for the call's id."""
    server.script(ServerOutcome.inject(Fault.HTTP_500))
    with pytest.raises(ProviderResponseError, match="HTTP 500") as caught:
        client.authenticate(challenge())
    call_id = caught.value.call_id
    assert call_id is not None
    assert client.status(call_id) is CallStatus.FAILED
    assert "HTTP 500" in client.failure_message(call_id)


def test_closed_client_refuses_authenticate(client: PhoneFactorClient) -> None:
    """authenticate() on a closed client fails at once, sending nothing."""
    client.close()
    with pytest.raises(ConnectionFailedError, match="closed"):
        client.authenticate(challenge())


def _exchange_with_deadline(
    client: PhoneFactorClient, pki: TestPki, deadline: float
) -> Callable[[], None]:
    """The client's exchange of one new call, bounded by ``deadline``."""
    call_id = new_request_id()
    call = _Call(call_id, AuthMode.STANDARD, is_async=False, started_at=time.monotonic())
    credentials = pki.credentials()
    body = build_authentication_request(
        challenge(),
        license_key=credentials.license_key,
        group_key=credentials.group_key,
        request_id=call_id,
    )
    return lambda: client._exchange(call, body, (2.0, 60.0), deadline=deadline)


def test_deadline_shortens_the_read_timeout(
    make_client: ClientFactory, server: PhoneFactorTestServer, pki: TestPki
) -> None:
    """An exchange with a deadline reads no longer than it, then fails as not sent again.

    authenticate() only runs on its caller's thread when its timeout outlasts every connect
    timeout plus the read timeout, so this guard bites there only if connecting overran; it
    is checked on the exchange itself.
    """
    server.default_outcome = ServerOutcome.inject(Fault.STALL)
    client = make_client(timeout=(2.0, 60.0))
    exchange = _exchange_with_deadline(client, pki, time.monotonic() + 0.3)
    with pytest.raises(ProviderTimeoutError, match="caller's deadline"):
        exchange()
    assert len(server.requests) == 1


def test_deadline_already_passed_sends_nothing(
    make_client: ClientFactory, server: PhoneFactorTestServer, pki: TestPki
) -> None:
    """An exchange whose deadline has passed sends nothing and says it is safe to retry."""
    client = make_client()
    exchange = _exchange_with_deadline(client, pki, time.monotonic() - 1)
    with pytest.raises(ConnectionFailedError, match="safe to try again"):
        exchange()
    assert server.stats.connections_accepted == 0


# -- the asynchronous variant --------------------------------------------------------------


def test_async_call_end_to_end(make_client: ClientFactory, server: PhoneFactorTestServer) -> None:
    """async="1": the backend acknowledges, then POSTs the outcome to the receiver."""
    server.script(ServerOutcome.accept(delay=0.3, call_status=3))
    with CallbackReceiver() as receiver:
        client = make_client(callback_receiver=receiver)
        handle = client.initiate(challenge())
        (request,) = server.wait_for_requests(1)
        assert request.is_async
        assert request.response_url == receiver.url
        time.sleep(0.1)  # the acknowledgement has come back by now, the outcome has not
        assert client.status(handle.call_id) is CallStatus.PENDING
        assert client.wait(handle.call_id, 5) is CallStatus.SUCCESS
        result = client.result(handle.call_id)
        assert result.authenticated
        assert result.call_status == 3
        (delivery,) = server.wait_for_callbacks(1)
        assert delivery.status == 200
        assert receiver.accepted == 1


def test_async_outcome_arriving_before_the_acknowledgement(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """An immediate callback may overtake the acknowledgement; the call still finishes once."""
    with CallbackReceiver() as receiver:
        client = make_client(callback_receiver=receiver)
        handles = [client.initiate(challenge()) for _ in range(10)]
        for handle in handles:
            assert client.wait(handle.call_id, 5) is CallStatus.SUCCESS
        server.wait_for_callbacks(10)
        assert receiver.accepted == 10
        assert receiver.rejected == 0


def test_async_refusal_ends_the_call_at_once(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """A refused asynchronous request is finished by the acknowledgement itself."""
    server.script(ServerOutcome.fail(66))
    with CallbackReceiver() as receiver:
        client = make_client(callback_receiver=receiver)
        result = client.authenticate(challenge(), timeout=5)
        assert result.error_id == 66
        assert not result.authenticated


def test_async_authenticate_on_the_calling_thread(
    make_client: ClientFactory, server: PhoneFactorTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The caller's thread sends the asynchronous request, then waits for the POSTed outcome."""
    server.script(ServerOutcome.accept(delay=0.2, call_status=3))
    with CallbackReceiver() as receiver, caplog.at_level(logging.DEBUG, "pyampam.providers"):
        client = make_client(callback_receiver=receiver)
        result = client.authenticate(challenge())
        assert result.authenticated
        assert result.call_status == 3
        assert client.status(result.request_id) is CallStatus.SUCCESS
    (request,) = server.requests
    assert request.is_async
    (started,) = [r for r in caplog.records if "started" in r.getMessage()]
    assert started.thread == threading.get_ident()


def test_async_authenticate_deadline_leaves_the_call_pending(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """An outcome later than authenticate()'s timeout: MfaTimeoutError, the call goes on."""
    server.script(ServerOutcome.accept(delay=30))
    with CallbackReceiver() as receiver:
        client = make_client(callback_receiver=receiver, timeout=(0.5, 1.0))
        with pytest.raises(MfaTimeoutError, match="after 2 s") as caught:
            client.authenticate(challenge(), timeout=2)
        assert caught.value.call_id is not None
        assert client.status(caught.value.call_id) is CallStatus.PENDING


def test_async_outcome_that_never_arrives(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """No callback within async_result_timeout: ProviderTimeoutError."""
    server.script(ServerOutcome.accept(delay=30))
    with CallbackReceiver() as receiver:
        client = make_client(callback_receiver=receiver, async_result_timeout=0.3)
        handle = client.initiate(challenge())
        assert client.wait(handle.call_id, 5) is CallStatus.FAILED
        with pytest.raises(ProviderTimeoutError, match="POSTed no outcome"):
            client.result(handle.call_id)


def test_per_call_response_url_and_manual_completion(
    make_client: ClientFactory, server: PhoneFactorTestServer
) -> None:
    """A call can name its own response URL; what arrives there finishes it."""
    with CallbackReceiver() as elsewhere:
        client = make_client()  # not attached: the application forwards the POST itself
        handle = client.initiate(challenge(), async_response_url=elsewhere.url)
        (delivery,) = server.wait_for_callbacks(1)
        assert delivery.status == 400  # the receiver knows no client waiting for it
        assert client.status(handle.call_id) is CallStatus.PENDING
        result = client.complete_from_callback(delivery.body)
        assert result.authenticated
        assert client.status(handle.call_id) is CallStatus.SUCCESS
        with pytest.raises(UnknownCallError):
            client.complete_from_callback(delivery.body)


def _post(receiver: CallbackReceiver, body: bytes, *, method: str = "POST", path: str = "") -> int:
    host, port = receiver.address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request(method, path or receiver.path, body=body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_receiver_survives_junk(caplog: pytest.LogCaptureFixture) -> None:
    """Garbage, unknown ids, wrong paths and methods get 4xx answers; the server keeps going."""
    answer = (
        b'<pfpMessage><response request-id="nobody"><status disposition="success"/>'
        b"<authenticationResponse><authenticated>yes</authenticated></authenticationResponse>"
        b"</response></pfpMessage>"
    )
    with caplog.at_level(logging.WARNING, "pyampam"), CallbackReceiver() as receiver:
        assert _post(receiver, b"\x00\xffjunk") == 400
        assert _post(receiver, b"") == 400
        assert _post(receiver, answer) == 400
        assert _post(receiver, answer, path="/elsewhere") == 404
        assert _post(receiver, b"", method="GET") == 405
        assert _post(receiver, answer) == 400
        assert receiver.rejected == 4
    assert any("no client is waiting" in record.getMessage() for record in caplog.records)
    assert any("not a protocol answer" in record.getMessage() for record in caplog.records)
    assert "closed" in repr(receiver)


# -- secrets -------------------------------------------------------------------------------


def test_secrets_never_reach_logs_or_reprs(
    make_client: ClientFactory,
    make_server: ServerFactory,
    pki: TestPki,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """License key, group key, password, PIN, OTP and device token stay out of every output."""
    first, second = make_server(), make_server()
    first.refuse_connections()
    second.script(
        ServerOutcome.accept(otp="864209"),
        ServerOutcome.deny(),
        ServerOutcome.inject(Fault.DROP),
        ServerOutcome.inject(Fault.GARBAGE),
    )
    credentials = pki.credentials()
    outputs: list[str] = []
    with caplog.at_level(logging.DEBUG):
        client = make_client(endpoints=[first.url, second.url])
        calls = [
            challenge(AuthMode.SMS_ONE_WAY_OTP),
            challenge(AuthMode.PIN),
            challenge(AuthMode.PHONE_APP_PIN),
            challenge(AuthMode.SMS_TWO_WAY_OTP_PLUS_PIN),
        ]
        for mfa in calls:
            handle = client.initiate(mfa)
            client.wait(handle.call_id, 5)
            outputs.append(client.failure_message(handle.call_id))
            try:
                outputs.append(repr(client.result(handle.call_id)))
            except DeliveryUncertainError as error:
                outputs.extend([str(error), repr(error)])
            except ProviderResponseError as error:
                outputs.extend([str(error), repr(error)])
            outputs.append(repr(mfa))
        outputs.append(repr(client))
    assert second.requests[0].outcome is not None
    assert second.requests[0].outcome.otp == "864209"
    for record in caplog.records:
        outputs.append(record.getMessage())
        outputs.extend(repr(value) for value in vars(record).values())
    text = "\n".join(outputs)
    assert "MFA call" in text  # the log did say something
    for secret in (
        credentials.license_key,
        credentials.group_key,
        credentials.cert_password,
        "97531",
        "864209",
        "DEVICE-TOKEN-SECRET-77",
    ):
        assert secret not in text


def test_log_records_carry_structured_fields(
    client: PhoneFactorClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The call's end is logged with call_id, endpoint, mode, outcome and elapsed."""
    with caplog.at_level(logging.INFO, "pyampam.providers"):
        result = client.authenticate(challenge(AuthMode.PIN), timeout=5)
    (record,) = [r for r in caplog.records if "finished" in r.getMessage()]
    assert record.name.startswith("pyampam.providers")
    fields = vars(record)
    assert fields["call_id"] == result.request_id
    assert fields["endpoint"] == client.endpoints[0]
    assert fields["mode"] == "pin"
    assert fields["outcome"] == "authenticated"
    assert isinstance(fields["elapsed"], float)


def test_repr_shows_endpoints_and_counts(
    client: PhoneFactorClient, server: PhoneFactorTestServer
) -> None:
    """repr names endpoints and counts, and nothing else."""
    client.authenticate(challenge(), timeout=5)
    text = repr(client)
    assert server.url in text
    assert "finished_calls=1" in text
    assert "pending_calls=0" in text
    assert "connections_opened=1" in text


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"endpoints": []}, "endpoints"),
        ({"endpoints": ["http://127.0.0.1/pfd/pfd.pl"]}, "endpoints"),
        ({"endpoints": ["pfd.phonefactor.net"]}, "endpoints"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": (10, -1)}, "timeout"),
        ({"timeout": (10, float("inf"))}, "timeout"),
        ({"timeout": None}, "timeout"),
        ({"max_concurrent_calls": 0}, "max_concurrent_calls"),
        ({"async_result_timeout": 0}, "async_result_timeout"),
    ],
)
def test_invalid_options(pki: TestPki, options: dict[str, Any], field: str) -> None:
    """Options that cannot work are refused up front, naming the field."""
    with pytest.raises(InvalidValueError) as caught:
        PhoneFactorClient(pki.credentials(), certificate=pki.client_p12, **options)
    assert caught.value.field == field


def test_missing_ca_bundle(pki: TestPki, tmp_path: Path) -> None:
    """A verify= path that is not a CA bundle is refused up front."""
    with pytest.raises(InvalidValueError, match="CA bundle") as caught:
        PhoneFactorClient(
            pki.credentials(), certificate=pki.client_p12, verify=tmp_path / "missing.pem"
        )
    assert caught.value.field == "verify"


def test_defaults(pki: TestPki) -> None:
    """The documented defaults: both SDK endpoints, first one first."""
    with PhoneFactorClient(pki.credentials(), certificate=pki.client_p12) as client:
        assert client.endpoints == (
            "https://pfd.phonefactor.net/pfd/pfd.pl",
            "https://pfd2.phonefactor.net/pfd/pfd.pl",
        )
        assert client.current_endpoint == client.endpoints[0]
        assert client.connections_opened == 0
    assert client_module.DEFAULT_TIMEOUT == (10.0, 90.0)


def test_importing_providers_does_not_import_requests() -> None:
    """requests is loaded only with the client, not with pyampam.providers."""
    code = (
        "import sys, pyampam.providers, pyampam.providers._callback; "
        "assert 'requests' not in sys.modules, 'requests imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
