"""``pyampam monitor`` (the PAM Monitoring Service's phone check) and ``pyampam events``."""

from __future__ import annotations

import argparse
import uuid
from typing import TYPE_CHECKING, Any

from pyampam._cli import _output, _values
from pyampam._cli._context import STORE_PARENT, database_path, events_path, open_service
from pyampam._cli._refs import find_user, match_request_id, parse_uuid
from pyampam.exceptions import NotFoundError

if TYPE_CHECKING:
    from pyampam.events import PamEvent

__all__ = ["register"]


def _monitor(args: argparse.Namespace) -> int:
    from pyampam.directory import load_directory

    directory = load_directory(args.directory, domain=args.directory_domain)
    with open_service(args) as service:
        changes = service.monitor_phones(directory, update=args.update)
    if args.json:
        _output.print_json({"changes": [_output.change_json(change) for change in changes]})
        return 0
    if not changes:
        print("No phone number has changed.")
        return 0
    rows = []
    for change in changes:
        new = change.new if change.new is not None else change.directory_text
        if change.updated:
            outcome = "stored number updated"
        elif change.problem:
            outcome = change.problem
        else:
            outcome = "stored number unchanged"
        rows.append(
            [
                change.source_identity,
                "(none)" if change.old is None else str(change.old),
                "(none)" if new is None else str(new),
                outcome,
            ]
        )
    _output.print_table(("USER", "STORED", "DIRECTORY", "OUTCOME"), rows)
    count = len(changes)
    print(f"Recorded event 825 for {count} user{'s' if count > 1 else ''}.")
    return 0


def _user_id(args: argparse.Namespace) -> uuid.UUID:
    object_id = parse_uuid(args.user)
    if object_id is not None:
        return object_id
    if not database_path(args).exists():
        raise NotFoundError(
            f"no PAM user is {args.user}: the database {database_path(args)} does not exist; "
            "give the user's object id, or --db with the right database"
        )
    with open_service(args) as service:
        return find_user(service, args.user).object_id


def _events(args: argparse.Namespace) -> int:
    from pyampam.events import EventLog

    path = events_path(database_path(args))
    log = EventLog.from_jsonl(path) if path.exists() else EventLog()
    role: uuid.UUID | str | None = None
    if args.role is not None:
        role = parse_uuid(args.role) or args.role
    request = None
    if args.request is not None:
        known = {event.request_id for event in log if event.request_id is not None}
        request = match_request_id(args.request, known)
    events: list[PamEvent] = log.query(
        event_id=args.id or None,
        user=None if args.user is None else _user_id(args),
        role=role,
        request=request,
        since=args.since,
        until=args.until,
    )
    if args.last is not None:
        events = events[-args.last :] if args.last else []
    if args.json:
        _output.print_json({"events": [event.to_dict() for event in events]})
    elif events:
        _output.print_table(_output.EVENT_HEADERS, (_output.event_row(e) for e in events))
    elif not path.exists():
        print(f"No events: {path} does not exist yet.")
    else:
        print("No matching events.")
    return 0


def _count(text: str) -> int:
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    raise argparse.ArgumentTypeError(f"invalid count {text!r}: give a whole number, e.g. 20")


def register(commands: Any) -> None:
    """Add the ``monitor`` and ``events`` commands to the top-level subparsers."""
    monitor = commands.add_parser(
        "monitor",
        parents=[STORE_PARENT],
        help="compare stored phone numbers with a CORP directory export (event 825)",
        description=(
            "Compare every PAM user's stored phone number with a CORP directory export, as "
            "the PAM Monitoring Service does, and record event 825 for each difference. The "
            "stored numbers are left alone unless --update."
        ),
    )
    monitor.add_argument(
        "--directory",
        required=True,
        metavar="FILE",
        type=_values.path_argument,
        help="the CORP directory export: .csv (with a header row) or .ldif",
    )
    monitor.add_argument(
        "--directory-domain",
        metavar="DOMAIN",
        help="the NetBIOS domain of directory rows that name none",
    )
    monitor.add_argument(
        "--update", action="store_true", help="store the directory's numbers in PAM"
    )
    monitor.add_argument("--json", action="store_true", help="print one JSON document")
    monitor.set_defaults(handler=_monitor, command_parser=monitor)

    events = commands.add_parser(
        "events",
        parents=[STORE_PARENT],
        help="show the Privileged Access Management event log",
        description=(
            "Show the events recorded beside the database (<name>.events.jsonl), oldest "
            "first: MIM's 101, 103 and 825, and pyampam's own 60100-60106."
        ),
    )
    events.add_argument(
        "--id",
        action="append",
        type=_values.event_id,
        metavar="N",
        help="only events with this id (repeat for more)",
    )
    events.add_argument("--user", metavar="USER", help="only this user's (DOMAIN\\account or id)")
    events.add_argument("--role", metavar="ROLE", help="only this role's (display name or id)")
    events.add_argument("--request", metavar="ID", help="only this request's (id or 8+ digits)")
    events.add_argument(
        "--since",
        type=_values.since,
        metavar="TIME",
        help="only events at or after TIME: ISO 8601, or a duration ago such as 2h",
    )
    events.add_argument(
        "--until",
        type=_values.since,
        metavar="TIME",
        help="only events before TIME: ISO 8601, or a duration ago",
    )
    events.add_argument("--last", type=_count, metavar="N", help="only the last N of them")
    events.add_argument("--json", action="store_true", help="print one JSON document")
    events.set_defaults(handler=_events, command_parser=events)
