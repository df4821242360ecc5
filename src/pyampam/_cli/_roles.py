"""``pyampam role ...``: New-, Get-, Set- and Remove-PAMRole."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pyampam._cli import _output, _values
from pyampam._cli._context import STORE_PARENT, open_service, usage_error
from pyampam._cli._refs import NameCache, find_role, find_user, find_users
from pyampam.exceptions import CandidatesWithoutPhoneError, PamError

if TYPE_CHECKING:
    from pyampam._model import RequestStatus
    from pyampam.activation import PamService

__all__ = ["register"]


def _print_role(
    args: argparse.Namespace, service: Any, role: Any, headline: str | None = None
) -> None:
    names = NameCache(service)
    if args.json:
        _output.print_json(_output.role_json(role, names.user))
        return
    if headline:
        print(headline)
    _output.print_fields(_output.role_fields(role, names.user))


def _window(args: argparse.Namespace) -> dict[str, Any]:
    start, end = args.available_from, args.available_to
    if (start is None) != (end is None):
        usage_error(args, "give both --available-from and --available-to, or neither")
    if start is None:
        return {}
    return {"available_from": start, "available_to": end}


def _check_phones(service: PamService, candidates: Iterable[uuid.UUID], role: str) -> None:
    """Refuse MFA on a role whose candidates lack a phone, naming the command that fixes it."""
    missing = sorted(
        user.source_identity
        for user in (service.get_user(one) for one in candidates)
        if user.phone is None
    )
    if missing:
        raise CandidatesWithoutPhoneError(
            f"MFA cannot be enabled on role {role!r}: candidate(s) {', '.join(missing)} have "
            "no phone number stored; store one with 'pyampam user set USER --phone NUMBER', "
            "or leave them out of the candidates"
        )


def _new(args: argparse.Namespace) -> int:
    window = _window(args)
    with open_service(args) as service:
        candidates = find_users(service, args.candidate)
        if args.mfa:
            _check_phones(service, (user.object_id for user in candidates), args.name)
        role = service.new_role(
            args.name,
            description=args.description,
            candidates=candidates,
            approvers=find_users(service, args.approver),
            privileges=args.privilege,
            ttl=args.ttl,
            mfa_enabled=args.mfa,
            approval_enabled=args.approval,
            **window,
        )
        _print_role(args, service, role, f"Created PAM role {role.display_name!r}.")
    return 0


def _get(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        if args.role is not None:
            role = find_role(service, args.role)
            _print_role(args, service, role)
            return 0
        candidate = None if args.candidate is None else find_user(service, args.candidate)
        roles = service.get_roles(candidate=candidate)
        if args.json:
            names = NameCache(service)
            _output.print_json({"roles": [_output.role_json(role, names.user) for role in roles]})
        elif roles:
            _output.print_table(_output.ROLE_HEADERS, (_output.role_row(role) for role in roles))
        else:
            print("No PAM roles." if candidate is None else "No roles for that candidate.")
    return 0


def _people(
    args: argparse.Namespace, service: Any, current: frozenset[Any], which: str
) -> list[Any] | None:
    """The new candidates (or approvers): replaced, added to, removed from, or None: unchanged."""
    replace: list[str] | None = getattr(args, which)
    add: list[str] = getattr(args, f"add_{which}")
    drop: list[str] = getattr(args, f"remove_{which}")
    cleared: bool = getattr(args, f"clear_{which}s")
    if replace is None and not add and not drop and not cleared:
        return None
    if cleared and replace is not None:
        usage_error(args, f"give --{which} or --clear-{which}s, not both")
    ids = set() if cleared else set(current)
    if replace is not None:
        ids = {user.object_id for user in find_users(service, replace)}
    ids |= {user.object_id for user in find_users(service, add)}
    ids -= {user.object_id for user in find_users(service, drop)}
    return sorted(ids, key=str)


def _set(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = _window(args)
    if args.no_window:
        if changes:
            usage_error(args, "give --available-from/--available-to or --no-window, not both")
        changes["availability_window_enabled"] = False
    for option, name in (
        ("rename", "display_name"),
        ("description", "description"),
        ("ttl", "ttl"),
        ("mfa", "mfa_enabled"),
        ("approval", "approval_enabled"),
    ):
        value = getattr(args, option)
        if value is not None:
            changes[name] = value
    if args.privilege is not None:
        changes["privileges"] = args.privilege
    if args.clear_privileges:
        if args.privilege is not None:
            usage_error(args, "give --privilege or --clear-privileges, not both")
        changes["privileges"] = []
    people_given = any(
        getattr(args, option)
        for which in ("candidate", "approver")
        for option in (which, f"add_{which}", f"remove_{which}", f"clear_{which}s")
    )
    if not changes and not people_given:
        usage_error(args, "nothing to change: give at least one option (see --help)")
    with open_service(args) as service:
        role = find_role(service, args.role)
        for which, field in (("candidate", "candidates"), ("approver", "approvers")):
            people = _people(args, service, getattr(role, field), which)
            if people is not None:
                changes[field] = people
        if changes.get("mfa_enabled", role.mfa_enabled):
            candidates = changes.get("candidates", role.candidates)
            _check_phones(service, candidates, changes.get("display_name", role.display_name))
        role = service.set_role(role, **changes)
        _print_role(args, service, role, f"Changed PAM role {role.display_name!r}.")
    return 0


def _remove(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        role = find_role(service, args.role)
        open_requests = service.get_requests(role=role, status=_open_statuses())
        if open_requests and not args.close_requests:
            shown = ", ".join(_output.short_id(r.request_id) for r in open_requests[:5])
            raise PamError(
                f"role {role.display_name!r} has {len(open_requests)} open request(s) ({shown}); "
                "close them with 'pyampam request close ID', or give --close-requests"
            )
        service.remove_role(role, close_requests=args.close_requests)
    if args.json:
        _output.print_json(
            {"removed": {"role_id": str(role.role_id), "display_name": role.display_name}}
        )
    else:
        print(f"Removed PAM role {role.display_name!r} ({role.role_id}).")
    return 0


def _open_statuses() -> set[RequestStatus]:
    from pyampam._model import RequestStatus

    return {status for status in RequestStatus if not status.is_final}


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--available-from",
        metavar="HH:MM",
        type=_values.time_of_day,
        help="start of the daily availability window (UTC)",
    )
    parser.add_argument(
        "--available-to",
        metavar="HH:MM",
        type=_values.time_of_day,
        help="end of the daily availability window (UTC), after --available-from",
    )


def register(commands: Any) -> None:
    """Add the ``role`` command group to the top-level subparsers."""
    group_parser = commands.add_parser(
        "role",
        help="create, show, change and remove PAM roles",
        description="Create, show, change and remove PAM roles (New-/Get-/Set-/Remove-PAMRole).",
    )
    group = group_parser.add_subparsers(dest="role_command", metavar="ACTION")
    group.required = True

    new = group.add_parser(
        "new",
        parents=[STORE_PARENT],
        help="create a role",
        description=(
            "Create a PAM role. MFA can be enabled only once every candidate has a phone "
            "number stored; approval needs at least one approver."
        ),
    )
    new.add_argument("name", metavar="NAME", help="the role's display name")
    new.add_argument("--description", metavar="TEXT", help="a description")
    new.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="USER",
        help="a user who may request the role (repeat for more)",
    )
    new.add_argument(
        "--approver",
        action="append",
        default=[],
        metavar="USER",
        help="a role owner who may approve requests (repeat for more)",
    )
    new.add_argument(
        "--privilege",
        action="append",
        default=[],
        metavar="GROUP",
        help="a PRIV group the role grants (repeat for more)",
    )
    new.add_argument(
        "--ttl",
        type=_values.duration,
        metavar="DURATION",
        help="how long an activation lasts: 1h, 30m, 3600 (default: the configured default, 1h)",
    )
    new.add_argument("--mfa", action="store_true", help="require an Azure MFA phone call")
    new.add_argument("--approval", action="store_true", help="require a role owner's approval")
    _window_options(new)
    _json_flag(new)
    new.set_defaults(handler=_new, command_parser=new)

    get = group.add_parser(
        "get",
        parents=[STORE_PARENT],
        help="show one role, or list them",
        description="Show one role, or list the roles (those a candidate may request).",
    )
    get.add_argument("role", nargs="?", metavar="ROLE", help="display name or id; omit to list")
    get.add_argument(
        "--candidate", metavar="USER", help="list only the roles this user may request"
    )
    _json_flag(get)
    get.set_defaults(handler=_get, command_parser=get)

    set_ = group.add_parser(
        "set",
        parents=[STORE_PARENT],
        help="change a role",
        description=(
            "Change a role (Set-PAMRole). --candidate, --approver and --privilege replace the "
            "whole list; --add-... and --remove-... change it. Open requests are not changed."
        ),
    )
    set_.add_argument("role", metavar="ROLE", help="display name or id")
    set_.add_argument("--rename", metavar="NAME", help="a new display name")
    set_.add_argument("--description", metavar="TEXT", help="a new description")
    for which, what in (("candidate", "candidates"), ("approver", "approvers")):
        set_.add_argument(
            f"--{which}",
            action="append",
            default=None,
            metavar="USER",
            help=f"the new {what} (repeat; replaces the list)",
        )
        set_.add_argument(
            f"--add-{which}", action="append", default=[], metavar="USER", help=f"add to {what}"
        )
        set_.add_argument(
            f"--remove-{which}",
            action="append",
            default=[],
            metavar="USER",
            help=f"remove from {what}",
        )
        set_.add_argument(f"--clear-{which}s", action="store_true", help=f"remove every {which}")
    set_.add_argument(
        "--privilege",
        action="append",
        default=None,
        metavar="GROUP",
        help="the new privileges (repeat; replaces the list)",
    )
    set_.add_argument("--clear-privileges", action="store_true", help="grant no group")
    set_.add_argument("--ttl", type=_values.duration, metavar="DURATION", help="a new TTL")
    set_.add_argument(
        "--mfa", action=argparse.BooleanOptionalAction, default=None, help="require Azure MFA"
    )
    set_.add_argument(
        "--approval",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="require a role owner's approval",
    )
    _window_options(set_)
    set_.add_argument(
        "--no-window", action="store_true", help="make the role available at any time of day"
    )
    _json_flag(set_)
    set_.set_defaults(handler=_set, command_parser=set_)

    remove = group.add_parser(
        "remove",
        parents=[STORE_PARENT],
        help="remove a role",
        description="Remove a role; refused while it has open requests, unless --close-requests.",
    )
    remove.add_argument("role", metavar="ROLE", help="display name or id")
    remove.add_argument(
        "--close-requests", action="store_true", help="close the role's open requests first"
    )
    _json_flag(remove)
    remove.set_defaults(handler=_remove, command_parser=remove)
