"""Windows authentication for the REST client: the Negotiate/NTLM 401 dance, names, passwords."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.adapters
import spnego
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyampam.exceptions import InvalidValueError
from pyampam.rest import (
    PASSWORD_ENVIRONMENT_VARIABLE,
    NegotiateAuth,
    PamRestClient,
    RestAuthenticationError,
    windows_auth,
)
from pyampam.rest._auth import _offers, _peer_certificate, tls_server_end_point

PASSWORD = "Pa55-w0rd;Tr0ub4dor&3"  # no ":", which ends a field of the user file
BASE = "http://mim.test:8086/api/pamresources/"


@pytest.fixture
def user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pyspnego's NTLM acceptor reads its users from the file named by NTLM_USER_FILE."""
    path = tmp_path / "ntlm-users"
    path.write_text(f"CONTOSO:alice:{PASSWORD}\n:bob@contoso.com:{PASSWORD}\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(path))
    monkeypatch.delenv(PASSWORD_ENVIRONMENT_VARIABLE, raising=False)
    return path


class AcceptorAdapter(requests.adapters.BaseAdapter):
    """An in-memory IIS stand-in: answers 401 with the offered schemes and runs pyspnego's acceptor.

    All calls share one acceptor, as all legs of a handshake share one TCP connection.
    """

    def __init__(self, offers: tuple[str, ...] = ("Negotiate", "NTLM"), *, garble: bool = False):
        super().__init__()
        self.offers = offers
        self.garble = garble
        self.context: Any = None
        self.seen: list[str | None] = []
        self.principal: str | None = None

    def _answer(
        self, request: requests.PreparedRequest, status: int, header: str | None
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.request = request
        response.url = request.url or ""
        response.connection = self  # type: ignore[assignment]  # our transport, not urllib3's
        response._content = b'{"value": "CONTOSO\\\\alice"}' if status == 200 else b""
        response._content_consumed = True  # type: ignore[attr-defined]
        response.headers["Content-Type"] = "application/json"
        if header is not None:
            response.headers["WWW-Authenticate"] = header
        return response

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        authorization = request.headers.get("Authorization")
        self.seen.append(authorization)
        if authorization is None:
            self.context = None
            return self._answer(request, 401, ", ".join(self.offers))
        scheme, _, token = authorization.partition(" ")
        if self.context is None:
            self.context = spnego.server(protocol="negotiate" if scheme == "Negotiate" else "ntlm")
        try:
            out = self.context.step(base64.b64decode(token))
        except spnego.exceptions.SpnegoError:
            self.context = None
            return self._answer(request, 401, ", ".join(self.offers))
        encoded = base64.b64encode(out).decode() if out else None
        if self.garble:
            encoded = "this is not base64!"
        if not self.context.complete:
            return self._answer(request, 401, f"{scheme} {encoded}")
        self.principal = self.context.client_principal
        return self._answer(request, 200, f"{scheme} {encoded}" if encoded else None)

    def close(self) -> None:
        pass


def client_over(adapter: AcceptorAdapter, auth: Any) -> PamRestClient:
    session = requests.Session()
    session.mount("http://", adapter)
    return PamRestClient(BASE, auth=auth, session=session)


# -- the handshake ---------------------------------------------------------------------------


def test_negotiate_handshake_authenticates(user_file: Path) -> None:
    """401 Negotiate -> token -> 401 challenge -> answer -> 200, and the real answer is returned."""
    adapter = AcceptorAdapter()
    with client_over(adapter, windows_auth("CONTOSO\\alice", PASSWORD)) as client:
        assert client.session_info() == "CONTOSO\\alice"
    assert adapter.principal == "CONTOSO\\alice"
    assert adapter.seen[0] is None
    assert [header.split()[0] for header in adapter.seen[1:] if header] == ["Negotiate"] * 2
    assert len(adapter.seen) == 3


def test_ntlm_is_used_when_only_ntlm_is_offered(user_file: Path) -> None:
    """A server offering only NTLM gets raw NTLM tokens under the NTLM scheme."""
    adapter = AcceptorAdapter(offers=("NTLM",))
    with client_over(adapter, windows_auth("alice", PASSWORD, domain="CONTOSO")) as client:
        client.session_info()
    assert adapter.principal == "CONTOSO\\alice"
    assert all(header.startswith("NTLM ") for header in adapter.seen[1:] if header)
    assert base64.b64decode(adapter.seen[1].split()[1]).startswith(b"NTLMSSP\x00")  # type: ignore[union-attr]


def test_upn_user_names_authenticate(user_file: Path) -> None:
    """user@domain is sent as it is, and the acceptor finds the user by it."""
    adapter = AcceptorAdapter()
    with client_over(adapter, windows_auth("bob@contoso.com", PASSWORD)) as client:
        client.session_info()
    assert adapter.principal == "bob@contoso.com"


def test_wrong_password_is_an_authentication_error_without_the_password(
    user_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused logon ends in RestAuthenticationError (401); no password or token is shown."""
    wrong = "Wr0ng-" + PASSWORD
    adapter = AcceptorAdapter()
    caplog.set_level(logging.DEBUG)
    with (
        client_over(adapter, windows_auth("CONTOSO\\alice", wrong)) as client,
        pytest.raises(RestAuthenticationError) as caught,
    ):
        client.roles()
    assert caught.value.status_code == 401
    assert adapter.principal is None
    # pyspnego's own debug log shows tokens; pyampam's must not.
    ours = "".join(r.getMessage() for r in caplog.records if r.name.startswith("pyampam"))
    shown = str(caught.value) + repr(caught.value) + ours
    assert wrong not in shown
    tokens = [header.split()[1] for header in adapter.seen if header]
    assert tokens
    assert not any(token in shown for token in tokens)
    assert "pamroles" in ours


def test_logs_name_the_call_but_no_secret(
    user_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Debug logs say method, path and status, never the password, tokens or Authorization."""
    adapter = AcceptorAdapter()
    caplog.set_level(logging.DEBUG, logger="pyampam")
    with client_over(adapter, windows_auth("CONTOSO\\alice", PASSWORD)) as client:
        client.session_info()
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pyampam"))
    assert "GET sessioninfo -> 200" in ours
    assert PASSWORD not in ours
    assert "Authorization" not in ours
    for header in adapter.seen:
        if header:
            assert header.split()[1] not in ours


def test_a_server_without_negotiate_gets_the_401_back(user_file: Path) -> None:
    """When only Basic is offered, the auth steps aside and the caller sees the 401."""
    adapter = AcceptorAdapter(offers=('Basic realm="mim, test"',))
    with (
        client_over(adapter, windows_auth("CONTOSO\\alice", PASSWORD)) as client,
        pytest.raises(RestAuthenticationError, match="401"),
    ):
        client.roles()
    assert adapter.seen == [None]


def test_a_garbled_challenge_is_an_authentication_error(user_file: Path) -> None:
    """A challenge that is not base64 raises RestAuthenticationError, not a pyspnego error."""
    adapter = AcceptorAdapter(garble=True)
    with (
        client_over(adapter, windows_auth("CONTOSO\\alice", PASSWORD)) as client,
        pytest.raises(
            RestAuthenticationError, match=r"Windows authentication of CONTOSO\\alice failed"
        ) as caught,
    ):
        client.roles()
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Negotiate", {"Negotiate": None}),
        ("Negotiate, NTLM", {"Negotiate": None, "NTLM": None}),
        ("negotiate YWJj", {"Negotiate": "YWJj"}),
        ('Basic realm="x", NTLM TlRMTVNTUAAC', {"NTLM": "TlRMTVNTUAAC"}),
        ('Basic realm="Negotiate"', {}),
        ("", {}),
    ],
)
def test_www_authenticate_offers_are_read(header: str, expected: dict[str, str | None]) -> None:
    """Schemes and tokens are found in WWW-Authenticate, however the header is joined."""
    assert _offers(header) == expected


# -- names and passwords ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "domain", "account"),
    [
        ("CONTOSO\\alice", None, "CONTOSO\\alice"),
        ("CONTOSO\\alice", "contoso", "CONTOSO\\alice"),
        ("alice@contoso.com", None, "alice@contoso.com"),
        ("alice", "CONTOSO", "CONTOSO\\alice"),
        (" alice ", None, "alice"),
    ],
)
def test_user_name_forms(username: str, domain: str | None, account: str) -> None:
    """DOMAIN\\user, user@domain and user with domain= all name one account."""
    auth = windows_auth(username, "x", domain=domain)
    assert auth.username == account


@pytest.mark.parametrize(
    ("username", "domain", "message"),
    [
        ("", None, "username"),
        ("CONTOSO\\", None, "empty"),
        ("CONTOSO\\alice", "FABRIKAM", "give the domain once"),
        ("alice@contoso.com", "CONTOSO", "already names its domain"),
    ],
)
def test_bad_user_names_are_refused(username: str, domain: str | None, message: str) -> None:
    """Empty parts and two different domains are refused with a message saying which."""
    with pytest.raises(InvalidValueError, match=message):
        windows_auth(username, "x", domain=domain)


def test_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without password=, PYAMPAM_PASSWORD is used."""
    monkeypatch.setenv(PASSWORD_ENVIRONMENT_VARIABLE, PASSWORD)
    auth = windows_auth("CONTOSO\\alice")
    assert auth._password.reveal() == PASSWORD


def test_password_is_prompted_for_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without password= or the variable, a terminal user is asked (with getpass)."""
    monkeypatch.delenv(PASSWORD_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr("pyampam.rest._auth._stdin_is_terminal", lambda: True)
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    auth = windows_auth("CONTOSO\\alice")
    assert auth._password.reveal() == PASSWORD
    assert prompts == ["Password for CONTOSO\\alice: "]


def test_an_empty_prompt_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pressing Enter at the prompt is an error, not an empty password."""
    monkeypatch.delenv(PASSWORD_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr("pyampam.rest._auth._stdin_is_terminal", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "")
    with pytest.raises(RestAuthenticationError, match="no password was typed"):
        windows_auth("CONTOSO\\alice")


def test_no_password_anywhere_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a terminal, the error names password= and PYAMPAM_PASSWORD."""
    monkeypatch.delenv(PASSWORD_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr("pyampam.rest._auth._stdin_is_terminal", lambda: False)
    with pytest.raises(RestAuthenticationError, match="PYAMPAM_PASSWORD") as caught:
        windows_auth("CONTOSO\\alice")
    assert "password=" in str(caught.value)


def test_missing_pyspnego_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pyspnego, windows_auth() says to install pyampam[windows-auth]."""
    monkeypatch.setitem(sys.modules, "spnego", None)
    with pytest.raises(RestAuthenticationError, match=r"pyampam\[windows-auth\]"):
        windows_auth("CONTOSO\\alice", PASSWORD)


def test_the_password_is_invisible() -> None:
    """Neither repr() of the auth nor its attributes show the password."""
    auth = windows_auth("CONTOSO\\alice", PASSWORD)
    assert isinstance(auth, NegotiateAuth)
    assert repr(auth) == "NegotiateAuth(username='CONTOSO\\\\alice', protocol='negotiate')"
    assert PASSWORD not in repr(vars(auth))


def test_unknown_protocol_is_refused() -> None:
    """protocol= must be negotiate, ntlm or kerberos."""
    with pytest.raises(InvalidValueError, match="protocol"):
        windows_auth("CONTOSO\\alice", PASSWORD, protocol="basic")  # type: ignore[arg-type]


# -- channel binding -------------------------------------------------------------------------


def _self_signed(hash_algorithm: hashes.SHA256 | hashes.SHA384) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mim.test")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hash_algorithm)
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def test_channel_binding_hashes_the_certificate_as_rfc_5929_says() -> None:
    """tls-server-end-point hashes with SHA-256, or with the certificate's SHA-384/512."""
    der = trustme.CA().issue_cert("mim.test").cert_chain_pems[0].bytes()
    certificate = x509.load_pem_x509_certificate(der).public_bytes(serialization.Encoding.DER)
    assert tls_server_end_point(certificate) == (
        b"tls-server-end-point:" + hashlib.sha256(certificate).digest()
    )
    sha384 = _self_signed(hashes.SHA384())
    assert (
        tls_server_end_point(sha384) == b"tls-server-end-point:" + hashlib.sha384(sha384).digest()
    )
    assert (
        tls_server_end_point(b"junk") == b"tls-server-end-point:" + hashlib.sha256(b"junk").digest()
    )


class _Socket:
    def getpeercert(self, binary_form: bool = False) -> bytes:
        return b"DER"


class _Connection:
    sock = _Socket()


class _Raw:
    connection = _Connection()


def test_peer_certificate_is_read_only_over_https() -> None:
    """The server certificate is taken from the response's socket on HTTPS, never on HTTP."""
    response = requests.Response()
    response.raw = _Raw()
    response.url = "https://mim.test/api/pamresources/roles"
    assert _peer_certificate(response) == b"DER"
    response.url = "http://mim.test/api/pamresources/roles"
    assert _peer_certificate(response) is None
    response.url = "https://mim.test/"
    response.raw = None
    assert _peer_certificate(response) is None
