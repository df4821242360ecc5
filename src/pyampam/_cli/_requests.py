"""``pyampam request ...`` and ``pyampam expire``: activation requests, approvals and time."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING, Any

from pyampam._cli import _output, _values
from pyampam._cli._context import STORE_PARENT, add_mfa_options, open_service
from pyampam._cli._refs import NameCache, find_request, find_role, find_user
from pyampam.exceptions import NoMfaProviderError, SelfApprovalError

if TYPE_CHECKING:
    from pyampam._model import ActivationRequest, RequestStatus
    from pyampam.activation import PamService

__all__ = ["register"]

_STATUS_CHOICES = ("active", "pending", "scheduled", "open", "expired", "rejected", "closed", "all")


def _statuses(choice: str) -> set[RequestStatus] | None:
    from pyampam._model import RequestStatus

    pending = {status for status in RequestStatus if status.is_pending}
    chosen: dict[str, set[RequestStatus] | None] = {
        "active": {RequestStatus.ACTIVE},
        "pending": pending,
        "scheduled": {RequestStatus.SCHEDULED},
        "open": pending | {RequestStatus.SCHEDULED, RequestStatus.ACTIVE},
        "expired": {RequestStatus.EXPIRED},
        "rejected": {RequestStatus.REJECTED},
        "closed": {RequestStatus.CLOSED, RequestStatus.CLOSING},
        "all": None,
    }
    return chosen[choice]


def _what_next(service: PamService, request: ActivationRequest, names: NameCache) -> str:
    """One sentence on where the request stands and what, if anything, comes next."""
    from pyampam._model import RequestStatus

    short = _output.short_id(request.request_id)
    status = request.status
    head = f"Request {short} is {status.value}"
    if status is RequestStatus.ACTIVE:
        granted = sorted(service.privileges_of(request.requestor_id))
        who = names.user(request.requestor_id) or "the requestor"
        groups = ", ".join(granted) or "no group"
        return (
            f"{head} until {_output.show_time(request.expiration_time)}: {who} now holds {groups}."
        )
    if status is RequestStatus.PENDING_APPROVAL:
        role = service.get_role(request.role_id)
        approvers = sorted(
            (names.user(one) or str(one) for one in role.approvers), key=str.casefold
        )
        first = approvers[0] if approvers else "OWNER"
        return (
            f"{head}: an approver ({', '.join(approvers)}) decides with "
            f"'pyampam request approve {short} --as {first}' (or reject)."
        )
    if status is RequestStatus.SCHEDULED:
        return (
            f"{head} to start at {_output.show_time(request.requested_time)}; "
            "'pyampam expire' starts it once that time has come."
        )
    if status is RequestStatus.PENDING_MFA:
        return f"{head}: the MFA call has been placed."
    said = request.status_reason
    reason = f": {said}" if said and said.casefold() != status.value.casefold() else ""
    return f"{head}{reason}."


def _show(
    args: argparse.Namespace, service: PamService, request: ActivationRequest, *, headline: bool
) -> None:
    names = NameCache(service)
    if args.json:
        _output.print_json(_output.request_json(request, names.user, names.role))
        return
    if headline:
        print(_what_next(service, request, names))
    _output.print_fields(_output.request_fields(request, names.user, names.role))


def _new(args: argparse.Namespace) -> int:
    from pyampam._model import RequestStatus

    with open_service(args, with_provider=True) as service:
        user = find_user(service, args.user)
        role = find_role(service, args.role)
        try:
            request = service.request_activation(
                user,
                role,
                justification=args.justification,
                requested_ttl=args.ttl,
                requested_time=args.start,
                wait=not args.no_wait,
                timeout=args.timeout,
            )
        except NoMfaProviderError as error:
            # The service's advice is for Python callers; say what to type instead.
            raise NoMfaProviderError(
                f"role {role.display_name!r} requires MFA and no MFA provider was chosen: give "
                "--mfa-settings MfaSettings.xml (or --fake-mfa OUTCOME to try it out), or "
                f"disable MFA with 'pyampam role set {shlex.quote(role.display_name)} --no-mfa'"
            ) from error
        _show(args, service, request, headline=True)
        if request.status is RequestStatus.PENDING_MFA:
            # Only this process can record the call's outcome: print first, then wait for it.
            sys.stdout.flush()
            request = service.wait_for(request)
            print(
                f"pyampam: the MFA call of request {_output.short_id(request.request_id)} "
                f"ended: {request.status.value}",
                file=sys.stderr,
            )
            return 0
    if request.status is RequestStatus.REJECTED:
        print(
            f"pyampam: error: request {_output.short_id(request.request_id)} was rejected: "
            f"{request.status_reason}",
            file=sys.stderr,
        )
        return 1
    return 0


def _list(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        user = None if args.user is None else find_user(service, args.user)
        role = None if args.role is None else find_role(service, args.role)
        statuses = _statuses(args.status)
        if args.approver is not None:
            found = service.requests_to_approve(find_user(service, args.approver))
            requests = [
                request
                for request in found
                if (user is None or request.requestor_id == user.object_id)
                and (role is None or request.role_id == role.role_id)
                and (statuses is None or request.status in statuses)
            ]
        else:
            requests = service.get_requests(user, role=role, status=statuses)
        names = NameCache(service)
        if args.json:
            _output.print_json(
                {
                    "requests": [
                        _output.request_json(request, names.user, names.role)
                        for request in requests
                    ]
                }
            )
        elif requests:
            _output.print_table(
                _output.REQUEST_HEADERS,
                (_output.request_row(request, names.user, names.role) for request in requests),
            )
        else:
            print("No requests.")
    return 0


def _get(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        _show(args, service, find_request(service, args.request), headline=False)
    return 0


def _approve(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        request = find_request(service, args.request)
        approver = find_user(service, args.approver)
        try:
            approved = service.approve(request, approver)
        except SelfApprovalError as error:
            raise SelfApprovalError(
                f"{approver.source_identity} cannot approve their own request; another "
                "approver of the role must decide"
            ) from error
        _show(args, service, approved, headline=True)
    return 0


def _reject(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        request = find_request(service, args.request)
        rejected = service.reject(request, find_user(service, args.approver), reason=args.reason)
        _show(args, service, rejected, headline=True)
    return 0


def _close(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        closed = service.close(find_request(service, args.request), reason=args.reason)
        _show(args, service, closed, headline=True)
    return 0


def _expire(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        started = service.start_due()
        expired = service.expire_due()
        names = NameCache(service)
        if args.json:
            _output.print_json(
                {
                    "started": [_output.request_json(r, names.user, names.role) for r in started],
                    "expired": [_output.request_json(r, names.user, names.role) for r in expired],
                }
            )
            return 0
        if not started and not expired:
            print("Nothing to start or expire.")
            return 0
        rows = [
            [what, *_output.request_row(request, names.user, names.role)[:4]]
            for what, requests in (("started", started), ("expired", expired))
            for request in requests
        ]
        _output.print_table(("CHANGE", "ID", "USER", "ROLE", "STATUS"), rows)
    return 0


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def register(commands: Any) -> None:
    """Add the ``request`` group and the ``expire`` command to the top-level subparsers."""
    group_parser = commands.add_parser(
        "request",
        help="request role activation, approve, reject, list and close requests",
        description=(
            "Request activation of a role, list requests, approve or reject them as a role "
            "owner, and close them (New-/Get-/Close-PAMRequest, Set-PAMRequestToApprove). "
            "A request is named by its id or its first 8 hex digits or more."
        ),
    )
    group = group_parser.add_subparsers(dest="request_command", metavar="ACTION")
    group.required = True

    new = group.add_parser(
        "new",
        parents=[STORE_PARENT],
        help="request activation of a role",
        description=(
            "Request activation of ROLE for USER. A role that needs MFA places the call at "
            "once (choose the provider with --mfa-settings or --fake-mfa) and waits for it; "
            "a role that needs approval leaves the request PendingApproval. Exit status 1 "
            "when the request is refused or rejected."
        ),
    )
    new.add_argument("user", metavar="USER", help="the requestor: DOMAIN\\account or object id")
    new.add_argument("role", metavar="ROLE", help="the role: display name or id")
    new.add_argument("--justification", metavar="TEXT", default="", help="why it is needed")
    new.add_argument(
        "--ttl",
        type=_values.duration,
        metavar="DURATION",
        help="how long it lasts once active: 1h, 30m, 3600 (default and maximum: the role's TTL)",
    )
    new.add_argument(
        "--start",
        type=_values.moment,
        metavar="ISO",
        help="a later start, e.g. 2024-05-01T14:30:00Z (a time without an offset is UTC)",
    )
    new.add_argument(
        "--no-wait",
        action="store_true",
        help=(
            "print the request as soon as the MFA call is placed (PendingMFA); the command "
            "still ends only when the call does, as nothing else would record its outcome"
        ),
    )
    new.add_argument(
        "--timeout",
        type=_values.positive_seconds,
        metavar="SECONDS",
        help="how long the MFA call may take before the request is rejected",
    )
    _json_flag(new)
    # Not a parent parser: argparse would lose the mutually exclusive group's title.
    add_mfa_options(new, suppress=True)
    new.set_defaults(handler=_new, command_parser=new)

    list_ = group.add_parser(
        "list",
        parents=[STORE_PARENT],
        help="list requests, oldest first",
        description="List activation requests, oldest first.",
    )
    list_.add_argument("--user", metavar="USER", help="only this requestor's")
    list_.add_argument("--role", metavar="ROLE", help="only this role's")
    list_.add_argument(
        "--status",
        choices=_STATUS_CHOICES,
        default="all",
        type=str.lower,
        help="only these (default: all); pending = PendingMFA or PendingApproval",
    )
    list_.add_argument(
        "--approver", metavar="USER", help="only the requests this role owner may decide"
    )
    _json_flag(list_)
    list_.set_defaults(handler=_list, command_parser=list_)

    get = group.add_parser(
        "get",
        parents=[STORE_PARENT],
        help="show one request",
        description="Show one activation request.",
    )
    get.add_argument("request", metavar="ID", help="the request id or its first 8+ hex digits")
    _json_flag(get)
    get.set_defaults(handler=_get, command_parser=get)

    for name, handler, verb in (("approve", _approve, "Approve"), ("reject", _reject, "Reject")):
        decide = group.add_parser(
            name,
            parents=[STORE_PARENT],
            help=f"{verb.lower()} a request as a role owner",
            description=(
                f"{verb} a PendingApproval request as one of its role's approvers"
                + (" (not your own)." if name == "approve" else "; this is final.")
            ),
        )
        decide.add_argument(
            "request", metavar="ID", help="the request id or its first 8+ hex digits"
        )
        decide.add_argument(
            "--as",
            dest="approver",
            required=True,
            metavar="USER",
            help="the approver deciding: DOMAIN\\account or object id",
        )
        if name == "reject":
            decide.add_argument("--reason", metavar="TEXT", default="", help="why")
        _json_flag(decide)
        decide.set_defaults(handler=handler, command_parser=decide)

    close = group.add_parser(
        "close",
        parents=[STORE_PARENT],
        help="close a request: the membership ends at once",
        description="Close an active, scheduled or pending request; the membership ends at once.",
    )
    close.add_argument("request", metavar="ID", help="the request id or its first 8+ hex digits")
    close.add_argument("--reason", metavar="TEXT", default="", help="why")
    _json_flag(close)
    close.set_defaults(handler=_close, command_parser=close)

    expire = commands.add_parser(
        "expire",
        parents=[STORE_PARENT],
        help="start scheduled requests and expire active ones whose time has come",
        description=(
            "Start every Scheduled request whose start time has come, then expire every Active "
            "request whose TTL has run out; print what changed. Run it regularly (cron, a "
            "systemd timer, Task Scheduler)."
        ),
    )
    _json_flag(expire)
    expire.set_defaults(handler=_expire, command_parser=expire)
