"""``pyampam rest ...``: script a MIM PAM REST API, or serve a test one on this machine."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import enum
import io
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pyampam._cli import _output, _values
from pyampam._cli._context import STORE_PARENT, add_mfa_options, open_service, usage_error
from pyampam.exceptions import InvalidValueError, NotFoundError

if TYPE_CHECKING:
    from pyampam.rest import PamRestClient, PendingApproval, RemoteRequest, RemoteRole

__all__ = ["URL_ENVIRONMENT_VARIABLE", "read_users_file", "register"]

#: Where ``--url`` is read from when it is not given.
URL_ENVIRONMENT_VARIABLE = "PYAMPAM_REST_URL"
_DEFAULT_PORT = 8086  # MIM's own port for the PAM REST API
_MIN_PREFIX = 8
_WAIT_POLL_SECONDS = 1.0


# -- the users file of `rest serve` -----------------------------------------------------------


def read_users_file(path: str) -> dict[str, str]:
    r"""Read ``DOMAIN\user:password`` lines (``#`` comments) or a CSV with user,password columns.

    In a line, the password is everything after the first colon, to the end of the line. A
    CSV is a file whose name ends in ``.csv``; its header names the columns ``user`` (or
    ``username``) and ``password``. Errors name the file and line, never the password.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InvalidValueError(
            f"cannot read the users file {path}: {error.strerror or type(error).__name__}",
            field="users",
        ) from error
    except UnicodeDecodeError:
        raise InvalidValueError(
            f"{path}: the users file is not UTF-8 text", field="users"
        ) from None
    rows = _csv_users(path, text) if path.lower().endswith(".csv") else _line_users(path, text)
    users: dict[str, str] = {}
    for line, identity, password in rows:
        if "\\" not in identity or not password:
            raise InvalidValueError(
                f"{path}:{line}: write each user as DOMAIN\\user:password, e.g. CORP\\jen:..."
                " (the password is not shown)",
                field="users",
            )
        if identity.casefold() in (known.casefold() for known in users):
            raise InvalidValueError(f"{path}:{line}: {identity} is listed twice", field="users")
        users[identity] = password
    if not users:
        raise InvalidValueError(
            f"{path}: no users; write one DOMAIN\\user:password per line", field="users"
        )
    return users


def _line_users(path: str, text: str) -> Iterator[tuple[int, str, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        # Everything after the first colon is the password, spaces included.
        identity, colon, password = line.partition(":")
        if not colon:
            raise InvalidValueError(
                f"{path}:{number}: no ':' between the user and the password; write "
                "DOMAIN\\user:password",
                field="users",
            )
        yield number, identity.strip(), password


def _csv_users(path: str, text: str) -> Iterator[tuple[int, str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().casefold(): name for name in reader.fieldnames or ()}
    user_column = columns.get("user") or columns.get("username")
    password_column = columns.get("password")
    if user_column is None or password_column is None:
        raise InvalidValueError(
            f"{path}:1: the CSV header must name the columns user and password", field="users"
        )
    for row in reader:
        yield reader.line_num, (row.get(user_column) or "").strip(), row.get(password_column) or ""


# -- serve ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from pyampam.testing import PamRestTestServer

    if args.no_auth and args.users is not None:
        usage_error(args, "--users goes with Windows authentication; leave out --no-auth")
    if not args.no_auth and args.users is None:
        usage_error(args, "give --users FILE (DOMAIN\\user:password lines), or --no-auth")
    if not args.no_auth and args.caller is not None:
        usage_error(args, "--caller goes with --no-auth; with NTLM the logon says who calls")
    users = None if args.users is None else read_users_file(args.users)
    if users is not None:
        _warn_if_readable(args.users)
    if getattr(args, "fake_mfa", None) is None and getattr(args, "mfa_settings", None) is None:
        from pyampam.providers import CallResult

        args.fake_mfa = CallResult.SUCCESS_NO_PIN  # a test server: calls succeed unless told
    with open_service(args, with_provider=True) as service:
        server = PamRestTestServer(
            service,
            users=users,
            authentication="none" if args.no_auth else "ntlm",
            caller=args.caller,
            port=args.port,
            require_version=not args.any_version,
        )
        with server:
            who = (
                f"no authentication, caller {args.caller or 'from the X-Pyampam-User header'}"
                if args.no_auth
                else f"NTLM/Negotiate, {len(users or {})} user(s): "
                + ", ".join(sorted(users or {}, key=str.casefold))
            )
            print(f"Serving MIM's PAM REST API at {server.url} ({who}).")
            print("Press Ctrl-C to stop.", flush=True)
            _wait_for_interrupt()
        print("Stopped.")
    return 0


def _warn_if_readable(path: str) -> None:
    if os.name != "posix":
        return
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & 0o077:
        print(
            f"pyampam: warning: {path} holds passwords and others can read it; chmod 600 {path}",
            file=sys.stderr,
        )


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM."""
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda number, frame: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- the client commands ------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> PamRestClient:
    from pyampam.rest import PamRestClient, windows_auth

    url = args.url or os.environ.get(URL_ENVIRONMENT_VARIABLE)
    if not url:
        usage_error(
            args,
            f"give --url, e.g. http://mim.contoso.com:8086/api/pamresources/ (or set "
            f"{URL_ENVIRONMENT_VARIABLE})",
        )
    auth = None
    if args.user is not None:
        auth = windows_auth(args.user, protocol=args.protocol)
    timeout = (10.0, args.timeout) if args.timeout is not None else (10.0, 60.0)
    return PamRestClient(url, auth=auth, timeout=timeout)


def _plain(value: object) -> Any:
    """A value of the client's models as JSON: seconds, ISO times in UTC, enum values."""
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds())
    if isinstance(value, dt.datetime):
        return _output.utc_text(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _as_json(value: Any) -> dict[str, Any]:
    return {name: _plain(item) for name, item in attrs.asdict(value, recurse=False).items()}


def _ttl(value: dt.timedelta | None) -> str:
    return _output.NONE if value is None else _values.format_duration(value)


def _window(role: RemoteRole) -> str:
    if not role.availability_window_enabled:
        return "any time"
    start = role.available_from or dt.time(0)
    end = role.available_to or dt.time(0)
    return f"{start:%H:%M}-{end:%H:%M} UTC"


def _roles(args: argparse.Namespace) -> int:
    with _client(args) as client:
        roles = client.roles()
    if args.json:
        _output.print_json({"roles": [_as_json(role) for role in roles]})
    elif roles:
        _output.print_table(
            ("ROLE", "TTL", "MFA", "APPROVAL", "AVAILABLE", "ROLE ID"),
            (
                [
                    role.display_name,
                    _ttl(role.ttl),
                    "yes" if role.mfa_enabled else "no",
                    "yes" if role.approval_enabled else "no",
                    _window(role),
                    role.role_id,
                ]
                for role in roles
            ),
        )
    else:
        print("No roles: this account is a candidate of none.")
    return 0


def _role_names(client: PamRestClient) -> dict[str, str]:
    return {role.role_id: role.display_name for role in client.roles()}


def _request_rows(requests: Sequence[RemoteRequest], names: dict[str, str]) -> Iterator[list[str]]:
    for request in requests:
        yield [
            request.request_id,
            names.get(request.role_id, request.role_id or _output.NONE),
            str(request.status),
            _output.show_time(request.creation_time),
            _output.show_time(request.expiration_time),
            request.justification or _output.NONE,
        ]


def _requests(args: argparse.Namespace) -> int:
    with _client(args) as client:
        requests = client.requests()
        names = _role_names(client) if requests and not args.json else {}
    if args.json:
        _output.print_json({"requests": [_as_json(request) for request in requests]})
    elif requests:
        _output.print_table(
            ("REQUEST ID", "ROLE", "STATUS", "CREATED", "EXPIRES", "JUSTIFICATION"),
            _request_rows(requests, names),
        )
    else:
        print("No requests.")
    return 0


def _show_request(args: argparse.Namespace, request: RemoteRequest, role_name: str) -> None:
    if args.json:
        _output.print_json(_as_json(request))
        return
    _output.print_fields(
        [
            ("request", request.request_id),
            ("status", str(request.status)),
            ("role", role_name),
            ("justification", request.justification or _output.NONE),
            ("TTL", _ttl(request.requested_ttl)),
            ("requested start", _output.show_time(request.requested_time)),
            ("created", _output.show_time(request.creation_time)),
            ("expires", _output.show_time(request.expiration_time)),
        ]
    )


def _find_role(client: PamRestClient, given: str) -> RemoteRole:
    roles = client.roles()
    wanted = given.strip().casefold()
    for role in roles:
        if role.role_id.casefold() == wanted or role.display_name.casefold() == wanted:
            return role
    names = ", ".join(sorted((repr(role.display_name) for role in roles), key=str.casefold))
    raise NotFoundError(
        f"no role {given!r} among the roles this account may request ({names or 'none'}); "
        "see 'pyampam rest roles'"
    )


def _request(args: argparse.Namespace) -> int:
    with _client(args) as client:
        role = _find_role(client, args.role)
        request = client.create_request(
            role,
            justification=args.justification,
            requested_ttl=args.ttl,
            requested_time=args.start,
        )
        if args.wait is not None:
            request = client.wait_until_active(
                request, timeout=args.wait, poll=min(_WAIT_POLL_SECONDS, args.wait)
            )
    _show_request(args, request, role.display_name)
    return 0


def _unique(given: str, candidates: dict[str, Any], what: str, listing: str) -> Any:
    """The candidate whose id is *given* or starts with it (8 hex digits or more)."""
    wanted = given.strip().casefold()
    try:
        return candidates[str(uuid.UUID(wanted))]
    except (ValueError, KeyError):
        pass
    if len(wanted) < _MIN_PREFIX:
        raise InvalidValueError(
            f"{given!r} is too short: give the {what} id or its first {_MIN_PREFIX} hex digits",
            field=what,
        )
    found = [value for key, value in candidates.items() if key.startswith(wanted)]
    if len(found) == 1:
        return found[0]
    if found:
        raise InvalidValueError(
            f"{given!r} matches {len(found)} {what}s; give more of the id", field=what
        )
    raise NotFoundError(f"no {what} {given!r}; see 'pyampam rest {listing}'")


def _close(args: argparse.Namespace) -> int:
    with _client(args) as client:
        mine = {request.request_id: request for request in client.requests()}
        request: RemoteRequest = _unique(args.request, mine, "request", "requests")
        client.close_request(request)
    print(f"Closed request {request.request_id}.")
    return 0


def _pending(args: argparse.Namespace) -> int:
    with _client(args) as client:
        pending = client.requests_to_approve()
    if args.json:
        _output.print_json({"pending": [_as_json(one) for one in pending]})
    elif pending:
        _output.print_table(
            ("APPROVAL ID", "REQUESTOR", "ROLE", "TTL", "CREATED", "JUSTIFICATION"),
            (
                [
                    one.approval_id,
                    one.requestor or one.requestor_id or _output.NONE,
                    one.role_name or _output.NONE,
                    _ttl(one.requested_ttl),
                    _output.show_time(one.creation_time),
                    one.justification or _output.NONE,
                ]
                for one in pending
            ),
        )
    else:
        print("Nothing to approve.")
    return 0


def _decide(args: argparse.Namespace, *, approve: bool) -> int:
    with _client(args) as client:
        pending = client.requests_to_approve()
        # The approval's id, or the id of the request behind it: either finds it.
        by_id: dict[str, PendingApproval] = {one.approval_id: one for one in pending}
        by_id.update({one.fim_request_id: one for one in pending if one.fim_request_id})
        chosen: PendingApproval = _unique(args.approval, by_id, "approval", "pending")
        (client.approve if approve else client.reject)(chosen)
    verb = "Approved" if approve else "Rejected"
    print(f"{verb} the request of {chosen.requestor or 'the requestor'} for {chosen.role_name}.")
    return 0


def _approve(args: argparse.Namespace) -> int:
    return _decide(args, approve=True)


def _reject(args: argparse.Namespace) -> int:
    return _decide(args, approve=False)


def _whoami(args: argparse.Namespace) -> int:
    with _client(args) as client:
        name = client.session_info()
    if args.json:
        _output.print_json({"username": name})
    else:
        print(name)
    return 0


# -- the parser ---------------------------------------------------------------------------------


def _client_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """``--url``, ``--user``, ``--protocol``, ``--timeout`` and ``--json``."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--url",
        metavar="URL",
        default=default,
        help=f"the API's base URL, e.g. http://mim:8086/api/pamresources/ "
        f"(default: ${URL_ENVIRONMENT_VARIABLE})",
    )
    parser.add_argument(
        "--user",
        metavar="DOMAIN\\NAME",
        default=default,
        help="log on with Windows authentication as this account; the password comes from "
        "$PYAMPAM_PASSWORD or a prompt, never from the command line",
    )
    parser.add_argument(
        "--protocol",
        choices=("negotiate", "ntlm", "kerberos"),
        default=argparse.SUPPRESS if suppress else "negotiate",
        help="the Windows authentication to use (default: negotiate)",
    )
    parser.add_argument(
        "--timeout",
        type=_values.positive_seconds,
        metavar="SECONDS",
        default=default,
        help="how long to wait for each answer (default: 60)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print one JSON document",
    )


def _client_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    _client_options(parent, suppress=True)
    return parent


def register(commands: Any) -> None:
    """Add the ``rest`` command group to the top-level subparsers."""
    rest = commands.add_parser(
        "rest",
        help="script a MIM PAM REST API, or serve a test one",
        description=(
            "Talk to MIM's PAM REST API (http://host:8086/api/pamresources/): list the roles "
            "you may request, request one, close it, approve others' requests. Or serve a "
            "MIM-compatible test API on 127.0.0.1 over a pyampam database. The options "
            "--url, --user, --protocol, --timeout and --json may come before or after the "
            "action."
        ),
    )
    _client_options(rest, suppress=False)
    group = rest.add_subparsers(dest="rest_command", metavar="ACTION")
    group.required = True
    parent = _client_parent()

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str, description: str
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(
            name, parents=[parent], help=help_text, description=description
        )
        parser.set_defaults(handler=handler, command_parser=parser)
        return parser

    add(
        "roles",
        _roles,
        "list the roles you may request",
        "List the PAM roles the account is a candidate of (GET pamroles).",
    )
    add(
        "requests",
        _requests,
        "list your activation requests",
        "List the account's activation requests (GET pamrequests).",
    )
    request = add(
        "request",
        _request,
        "request activation of a role",
        (
            "Request activation of ROLE (POST pamrequests). A role needing approval stays "
            "PendingApproval until an approver decides; one needing MFA is PendingMFA until "
            "the phone call is answered. --wait SECONDS waits for Active."
        ),
    )
    request.add_argument("role", metavar="ROLE", help="the role: display name or id")
    request.add_argument("--justification", metavar="TEXT", default="", help="why it is needed")
    request.add_argument(
        "--ttl",
        type=_values.duration,
        metavar="DURATION",
        help="how long it lasts once active: 1h, 30m, 3600 (default: the role's TTL)",
    )
    request.add_argument(
        "--start",
        type=_values.moment,
        metavar="ISO",
        help="a later start, e.g. 2024-05-01T14:30:00Z (a time without an offset is UTC)",
    )
    request.add_argument(
        "--wait",
        type=_values.positive_seconds,
        metavar="SECONDS",
        help="wait up to SECONDS for the request to become Active; exit 1 if it does not",
    )
    close = add(
        "close",
        _close,
        "close one of your requests",
        "Close one of the account's requests: an active role ends at once (POST .../Close).",
    )
    close.add_argument("request", metavar="ID", help="the request id or its first 8+ hex digits")
    add(
        "pending",
        _pending,
        "list the requests waiting for your approval",
        "List the requests the account may approve (GET pamrequeststoapprove).",
    )
    for name, verb, approve in (("approve", "Approve", True), ("reject", "Reject", False)):
        decide = add(
            name,
            _approve if approve else _reject,
            f"{verb.lower()} a request waiting for you",
            f"{verb} a request waiting for the account's approval (POST .../{verb}).",
        )
        decide.add_argument(
            "approval",
            metavar="ID",
            help="the approval id (or the request's id), or its first 8+ hex digits",
        )
    add(
        "whoami",
        _whoami,
        "show the account the API sees",
        "Show the DOMAIN\\user the API authenticated (GET sessioninfo).",
    )

    serve = group.add_parser(
        "serve",
        parents=[STORE_PARENT],
        help="serve a MIM-compatible PAM REST API on 127.0.0.1 for trials",
        description=(
            "Serve MIM's PAM REST API on 127.0.0.1 over the pyampam database, for trying "
            "scripts without a MIM server. Logons use NTLM/Negotiate with the accounts of "
            "--users (DOMAIN\\user:password lines, or a .csv with user,password columns); "
            "each must also be a PAM user of the database. MFA calls end as --fake-mfa says "
            "(default SUCCESS_NO_PIN) unless --mfa-settings places real ones. Ctrl-C stops it."
        ),
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=_DEFAULT_PORT,
        help=f"the TCP port (default: {_DEFAULT_PORT}, MIM's; 0 picks a free one)",
    )
    serve.add_argument(
        "--users",
        metavar="FILE",
        type=_values.path_argument,
        help="the accounts that may log on and their passwords (never printed)",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="no Windows authentication: each request acts as its X-Pyampam-User header, "
        "else as --caller",
    )
    serve.add_argument(
        "--caller", metavar="DOMAIN\\NAME", help="with --no-auth: who requests act as by default"
    )
    serve.add_argument(
        "--any-version",
        action="store_true",
        help="accept requests without ?v=1, as MIM's reference says it does",
    )
    add_mfa_options(serve, suppress=True)
    serve.set_defaults(handler=_serve, command_parser=serve)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: give 0 to 65535")
    return int(text)
