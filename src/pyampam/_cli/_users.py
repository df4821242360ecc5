"""``pyampam user ...``: New-, Get-, Set- and Remove-PAMUser."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from pyampam._cli import _output, _values
from pyampam._cli._context import STORE_PARENT, open_service, usage_error
from pyampam._cli._refs import find_user
from pyampam._model import PIN_MAX_LENGTH, PIN_MIN_LENGTH
from pyampam.exceptions import InvalidValueError, PhoneNumberError, UserIsCandidateError

__all__ = ["read_pin", "register"]


def read_pin() -> str:
    """Read a PIN from stdin: one line when piped, or typed without echo at a terminal.

    Never from the command line, where it would land in the shell history and in ``ps``.
    """
    stream = sys.stdin
    try:
        if stream is None:
            raise OSError("no standard input")
        if stream.isatty():
            pin = getpass.getpass("PIN (digits, not shown): ")
            if getpass.getpass("PIN again: ") != pin:
                raise InvalidValueError("the two PINs differ; nothing was stored", field="pin")
        else:
            pin = stream.readline()
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, InvalidValueError):
            raise
        raise InvalidValueError(
            "cannot read the PIN from standard input; pipe it in, e.g. from a password manager",
            field="pin",
        ) from None
    pin = pin.strip()
    if not pin:
        raise InvalidValueError(
            "--pin-stdin found no PIN on standard input; pipe the PIN in as one line",
            field="pin",
        )
    if not (pin.isascii() and pin.isdigit() and PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH):
        # Says nothing of what was read: not its length, not its characters.
        raise InvalidValueError(
            f"the PIN read from standard input is not {PIN_MIN_LENGTH} to {PIN_MAX_LENGTH} "
            "digits 0-9; nothing was stored",
            field="pin",
        )
    return pin


def _directory(args: argparse.Namespace) -> Any:
    if args.directory is None:
        return None
    from pyampam.directory import load_directory

    return load_directory(args.directory, domain=getattr(args, "directory_domain", None))


def _print_user(args: argparse.Namespace, user: Any, headline: str | None = None) -> None:
    if args.json:
        _output.print_json(_output.user_json(user))
        return
    if headline:
        print(headline)
    _output.print_fields(_output.user_fields(user))


def _new(args: argparse.Namespace) -> int:
    pin = read_pin() if args.pin_stdin else None
    directory = _directory(args)
    options: dict[str, Any] = {
        "display_name": args.display_name,
        "description": args.description,
        "email": args.email,
        "sid": args.sid,
        "pin": pin,
        "directory": directory,
    }
    if args.phone is not None:
        options["phone"] = args.phone
    elif args.no_phone:
        options["phone"] = None
    with open_service(args) as service:
        try:
            user = service.new_user(args.domain, args.account, **options)
        except PhoneNumberError as error:
            if directory is None or "phone" in options or error.__cause__ is None:
                raise
            # The service's advice names keyword arguments; here they are options.
            raise PhoneNumberError(
                f"the directory's phone number for {args.domain}\\{args.account} cannot be "
                f"used: {error.__cause__}. Give --phone NUMBER to store another, or --no-phone",
                field="phone",
            ) from error
    copied = directory is not None and args.phone is None and not args.no_phone
    where = " (phone copied once from the directory)" if copied and user.phone else ""
    _print_user(args, user, f"Created PAM user {user.source_identity}{where}.")
    return 0


def _get(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        if args.user is not None:
            user = find_user(service, args.user)
            roles = [role.display_name for role in service.active_roles(user)]
            privileges = sorted(service.privileges_of(user))
            if args.json:
                document = _output.user_json(user)
                document["active_roles"] = roles
                document["privileges"] = privileges
                _output.print_json(document)
            else:
                _output.print_fields(
                    [
                        *_output.user_fields(user),
                        ("active roles", ", ".join(roles) or "(none)"),
                        ("privileges now", ", ".join(privileges) or "(none)"),
                    ]
                )
            return 0
        users = service.get_users(
            source_domain=args.domain, source_account_name=None, display_name=args.display_name
        )
    if args.json:
        _output.print_json({"users": [_output.user_json(user) for user in users]})
    elif users:
        _output.print_table(_output.USER_HEADERS, (_output.user_row(user) for user in users))
    else:
        print("No PAM users." if args.domain is None and args.display_name is None else "No match.")
    return 0


def _set(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.phone is not None:
        changes["phone"] = args.phone
    if args.clear_phone:
        changes["phone"] = None
    if args.clear_pin:
        changes["pin"] = None
    for name in ("display_name", "description", "email", "sid", "privileged_display_name"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.privileged_account_active is not None:
        changes["privileged_account_active"] = args.privileged_account_active
    if not changes and not args.pin_stdin:
        usage_error(
            args,
            "nothing to change: give --phone, --clear-phone, --pin-stdin, --clear-pin, "
            "--display-name, --description, --email, --sid or --privileged-display-name",
        )
    if args.pin_stdin:
        changes["pin"] = read_pin()
    with open_service(args) as service:
        user = service.set_user(find_user(service, args.user), **changes)
    _print_user(args, user, f"Changed PAM user {user.source_identity} (in PAM only).")
    return 0


def _remove(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        user = find_user(service, args.user)
        try:
            service.remove_user(user)
        except UserIsCandidateError as error:
            roles = ", ".join(repr(role.display_name) for role in service.get_roles(candidate=user))
            raise UserIsCandidateError(
                f"cannot remove {user.source_identity}: they are a candidate of the role(s) "
                f"{roles}; take them out first with 'pyampam role set ROLE --remove-candidate "
                f"{user.source_identity}'"
            ) from error
    if args.json:
        _output.print_json(
            {"removed": {"object_id": str(user.object_id), "source_identity": user.source_identity}}
        )
    else:
        print(f"Removed PAM user {user.source_identity} ({user.object_id}).")
    return 0


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _details(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--display-name", metavar="TEXT", help="the user's display name")
    parser.add_argument("--description", metavar="TEXT", help="a description")
    parser.add_argument("--email", metavar="ADDRESS", help="the e-mail address")
    parser.add_argument("--sid", metavar="SID", help="the CORP SID, S-1-5-21-...")


def register(commands: Any) -> None:
    """Add the ``user`` command group to the top-level subparsers."""
    group_parser = commands.add_parser(
        "user",
        help="create, show, change and remove PAM users",
        description="Create, show, change and remove PAM users (New-/Get-/Set-/Remove-PAMUser).",
    )
    group = group_parser.add_subparsers(dest="user_command", metavar="ACTION")
    group.required = True

    new = group.add_parser(
        "new",
        parents=[STORE_PARENT],
        help="create a PAM user for a CORP account",
        description=(
            "Create a PAM user for the CORP account DOMAIN\\ACCOUNT. With --directory the "
            "account must be in the export, and its phone number is copied once, as "
            "New-PAMUser does. A PIN is read from standard input only (--pin-stdin), never "
            "from the command line."
        ),
    )
    new.add_argument("domain", metavar="DOMAIN", help="the CORP domain's NetBIOS name, e.g. CORP")
    new.add_argument("account", metavar="ACCOUNT", help="the CORP account name, e.g. jen")
    _details(new)
    phone_choice = new.add_mutually_exclusive_group()
    phone_choice.add_argument(
        "--phone", metavar="NUMBER", help="the phone number (overrides the directory's)"
    )
    phone_choice.add_argument(
        "--no-phone", action="store_true", help="store no phone number, whatever the directory says"
    )
    new.add_argument(
        "--pin-stdin", action="store_true", help="read the user's MFA PIN from standard input"
    )
    new.add_argument(
        "--directory",
        metavar="FILE",
        type=_values.path_argument,
        help="a CORP directory export (.csv, .ldif) to copy the phone number and details from",
    )
    new.add_argument(
        "--directory-domain",
        metavar="DOMAIN",
        help="the NetBIOS domain of directory rows that name none",
    )
    _json_flag(new)
    new.set_defaults(handler=_new, command_parser=new)

    get = group.add_parser(
        "get",
        parents=[STORE_PARENT],
        help="show one user, or list them",
        description=(
            "Show one user (with the roles and groups they hold now), or list every user "
            "matching the filters."
        ),
    )
    get.add_argument(
        "user", nargs="?", metavar="USER", help="DOMAIN\\account or object id; omit to list"
    )
    get.add_argument("--domain", metavar="DOMAIN", help="list only users of this CORP domain")
    get.add_argument("--display-name", metavar="TEXT", help="list only users with this name")
    _json_flag(get)
    get.set_defaults(handler=_get, command_parser=get)

    set_ = group.add_parser(
        "set",
        parents=[STORE_PARENT],
        help="change a user in PAM only",
        description=(
            "Change a user in PAM only (Set-PAMUser); the CORP directory is never touched. "
            "A PIN is read from standard input only (--pin-stdin)."
        ),
    )
    set_.add_argument("user", metavar="USER", help="DOMAIN\\account or object id")
    phone = set_.add_mutually_exclusive_group()
    phone.add_argument("--phone", metavar="NUMBER", help="store this phone number")
    phone.add_argument("--clear-phone", action="store_true", help="remove the phone number")
    pin = set_.add_mutually_exclusive_group()
    pin.add_argument(
        "--pin-stdin", action="store_true", help="read a new MFA PIN from standard input"
    )
    pin.add_argument("--clear-pin", action="store_true", help="remove the PIN")
    _details(set_)
    set_.add_argument(
        "--privileged-display-name", metavar="TEXT", help="the PRIV account's display name"
    )
    set_.add_argument(
        "--privileged-account-active",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="enable or disable the PRIV account",
    )
    _json_flag(set_)
    set_.set_defaults(handler=_set, command_parser=set_)

    remove = group.add_parser(
        "remove",
        parents=[STORE_PARENT],
        help="remove a user (refused while they are a role's candidate)",
        description="Remove a PAM user; refused while they are a candidate of a role.",
    )
    remove.add_argument("user", metavar="USER", help="DOMAIN\\account or object id")
    _json_flag(remove)
    remove.set_defaults(handler=_remove, command_parser=remove)
