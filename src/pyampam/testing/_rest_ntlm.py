"""Windows authentication for the PAM REST test server: NTLM and Negotiate accepted by pyspnego.

pyspnego's NTLM acceptor has no argument for its user database: it reads the file named by the
``NTLM_USER_FILE`` environment variable, twice per handshake (when the context is created, to
check the file exists, and when the type-3 message arrives, to look the user up). The variable
is process-wide, so :class:`NtlmUserFile` sets it only around those two calls, under one
process-wide lock, and puts back whatever was there before. Between handshakes the variable is
as the process had it, so a client in the same process never picks up the server's users.

The file holds one ``DOMAIN\\user:0:LM:NT:[U]:LCT-00000000`` line per user (the smbpasswd form
pyspnego reads): only the NT hash of each password, never the password itself, and an all-zero
LM hash, so LM-only logons are refused. It lives in a private temporary folder (0700, file
0600) and is deleted when the server stops.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from pyampam.exceptions import InvalidValueError

if TYPE_CHECKING:
    from spnego import ContextProxy

__all__ = [
    "USER_FILE_VARIABLE",
    "AuthenticationError",
    "Handshake",
    "NtlmUserFile",
    "Step",
    "check_users",
    "parse_authorization",
    "split_identity",
]

USER_FILE_VARIABLE = "NTLM_USER_FILE"
SCHEMES = ("Negotiate", "NTLM")

# One lock for every server in the process: the environment is shared by all of them.
_ENVIRONMENT_LOCK = threading.Lock()
_NTLM_SIGNATURE = b"NTLMSSP\x00"
_NTLM_NEGOTIATE = b"\x01\x00\x00\x00"
_GSS_INITIAL_TOKEN = 0x60  # ASN.1 [APPLICATION 0]: the first token of a SPNEGO exchange
_FORBIDDEN_IN_NAMES = frozenset(":\\/@")


class AuthenticationError(Exception):
    """The client's Authorization header or NTLM message was refused; the text says why."""


def split_identity(identity: str) -> tuple[str, str]:
    r"""Split ``DOMAIN\user`` into its parts, or raise InvalidValueError naming the problem."""
    domain, backslash, account = identity.partition("\\")
    if not backslash or not domain.strip() or not account.strip():
        raise InvalidValueError(
            f"{identity!r} is not a Windows logon name; write it as DOMAIN\\user, e.g. CORP\\jen",
            field="users",
        )
    for part in (domain, account):
        if not part.isprintable() or _FORBIDDEN_IN_NAMES & set(part):
            raise InvalidValueError(
                f"{identity!r}: a domain or user name may not hold a control character or any "
                "of : \\ / @",
                field="users",
            )
    return domain, account


def _nt_hash(password: str) -> bytes:
    # pyspnego's own one-way function: the acceptor verifies with the very same code, so the
    # two can never disagree about a password (MD4 is also missing from many OpenSSL builds).
    from spnego._ntlm_raw.crypto import ntowfv1

    return ntowfv1(password)


def check_users(users: Mapping[str, str]) -> dict[str, str]:
    r"""The ``DOMAIN\user`` -> password table, checked; raises InvalidValueError naming the problem.

    Any text is a password (colons included) but an empty one, which NTLM cannot tell from an
    anonymous logon.
    """
    if not isinstance(users, Mapping) or not users:
        raise InvalidValueError(
            "authentication='ntlm' needs users={'CORP\\\\jen': 'password', ...}: the "
            "accounts that may log on (or use authentication='none')",
            field="users",
        )
    checked: dict[str, str] = {}
    for identity, password in users.items():
        if not isinstance(identity, str):
            raise InvalidValueError(
                f"users keys must be 'DOMAIN\\user' texts, not {type(identity).__name__}",
                field="users",
            )
        split_identity(identity)
        if not isinstance(password, str) or not password:
            raise InvalidValueError(
                f"the password of {identity} must be a non-empty str", field="users"
            )
        checked[identity] = password
    return checked


class NtlmUserFile:
    r"""The users a test server accepts, as a private pyspnego user file; :meth:`close` deletes it.

    ``users`` maps ``DOMAIN\user`` to a password (see :func:`check_users`).
    """

    def __init__(self, users: Mapping[str, str]) -> None:
        lines = []
        for identity, password in check_users(users).items():
            domain, account = split_identity(identity)
            digest = _nt_hash(password).hex().upper()
            lines.append(f"{domain}\\{account}:0:{'0' * 32}:{digest}:[U]:LCT-00000000\n")
        self._folder = tempfile.mkdtemp(prefix="pyampam-ntlm-")  # created 0700
        self.path = os.path.join(self._folder, "users")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.writelines(lines)
        self.identities = frozenset(users)

    def close(self) -> None:
        """Delete the file and its folder; calling it twice does nothing."""
        shutil.rmtree(self._folder, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<NtlmUserFile users={len(self.identities)}>"

    @contextlib.contextmanager
    def in_environment(self) -> Iterator[None]:
        """Point ``NTLM_USER_FILE`` at this file for the duration, then restore it."""
        with _ENVIRONMENT_LOCK:
            previous = os.environ.get(USER_FILE_VARIABLE)
            os.environ[USER_FILE_VARIABLE] = self.path
            try:
                yield
            finally:
                if previous is None:
                    os.environ.pop(USER_FILE_VARIABLE, None)
                else:
                    os.environ[USER_FILE_VARIABLE] = previous


def parse_authorization(header: str) -> tuple[str, bytes]:
    """The scheme (``NTLM`` or ``Negotiate``) and the token of an Authorization header."""
    scheme, _, encoded = header.strip().partition(" ")
    canonical = next((name for name in SCHEMES if name.lower() == scheme.lower()), None)
    if canonical is None:
        raise AuthenticationError(
            f"the {scheme or 'empty'} authentication scheme is not accepted; use Negotiate or "
            "NTLM (Integrated Windows Authentication)"
        )
    try:
        token = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthenticationError(f"the {canonical} token is not base64") from None
    if not token:
        raise AuthenticationError(f"the {canonical} token is empty")
    return canonical, token


@attrs.frozen
class Step:
    """What one leg of a handshake gives: a token to send back, and who logged on once done."""

    token: bytes | None
    principal: str | None


def _starts_exchange(token: bytes) -> bool:
    if token.startswith(_NTLM_SIGNATURE):
        return token[8:12] == _NTLM_NEGOTIATE
    return token[0] == _GSS_INITIAL_TOKEN


class Handshake:
    """The acceptor side of one connection's NTLM or Negotiate (SPNEGO-wrapped NTLM) exchange.

    Feed each client token to :meth:`step`; a type-1 (or SPNEGO initial) token starts over.
    """

    def __init__(self, user_file: NtlmUserFile) -> None:
        self._user_file = user_file
        self._context: ContextProxy | None = None

    def step(self, token: bytes) -> Step:
        """Process one client token; raises :class:`AuthenticationError` when refused."""
        import spnego

        if _starts_exchange(token):
            # Raw NTLM may come under either scheme; only a SPNEGO token needs Negotiate.
            protocol = "ntlm" if token.startswith(_NTLM_SIGNATURE) else "negotiate"
            with self._user_file.in_environment():
                self._context = spnego.server(protocol=protocol)
        context = self._context
        if context is None:
            raise AuthenticationError(
                "the authentication message does not continue a handshake on this connection; "
                "start again with a type-1 (negotiate) message"
            )
        try:
            with self._user_file.in_environment():
                answer = context.step(token)
        # pyspnego raises SpnegoError for a wrong password or unknown user, and assorted
        # ValueError/struct errors for a malformed token: every one of them is a refused logon.
        except Exception as error:
            self._context = None
            raise AuthenticationError(
                f"the logon was refused: {_first_line(str(error))}"
            ) from error
        if not context.complete:
            return Step(answer, None)
        self._context = None
        return Step(answer, context.client_principal)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason given"
