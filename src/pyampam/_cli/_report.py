"""``pyampam report usage``: who failed MFA, when and why, from the Azure MFA usage report."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyampam._cli import _output, _values
from pyampam._cli._context import DB_ENVIRONMENT_VARIABLE, events_path
from pyampam.exceptions import StoreError

if TYPE_CHECKING:
    from pyampam.events import EventLog
    from pyampam.reports import CrossCheckGap, UsageReport, UsageSummary
    from pyampam.store import Store

__all__ = ["register"]

NONE = "-"


def _timezone(text: str) -> dt.tzinfo:
    """A time zone: ``UTC``, an IANA name such as ``Europe/Paris``, or an offset ``+02:00``."""
    cleaned = text.strip()
    if cleaned.upper() in ("UTC", "Z", "GMT"):
        return dt.timezone.utc
    if cleaned[:1] in ("+", "-"):
        try:
            offset = dt.datetime.strptime(cleaned.replace(":", ""), "%z").utcoffset()
        except ValueError:
            offset = None
        if offset is not None:
            return dt.timezone(offset)
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {cleaned!r}: give UTC, an offset such as +02:00, or a name "
            "such as Europe/Paris"
        ) from None


def _database(args: argparse.Namespace) -> Path | None:
    """The database to resolve users with: ``--db``, else ``$PYAMPAM_DB``, else none."""
    given: str | None = getattr(args, "db", None) or os.environ.get(DB_ENVIRONMENT_VARIABLE)
    if not given:
        return None
    path = Path(given)
    if not path.is_file():
        # Opening a SqliteStore would create an empty database: a report only reads one.
        raise StoreError(
            f"no pyampam database at {path}; give --db with the database the PAM users live in"
        )
    return path


@contextlib.contextmanager
def _store(path: Path | None) -> Iterator[Store | None]:
    if path is None:
        yield None
        return
    from pyampam.store import SqliteStore

    with SqliteStore(path) as store:
        yield store


def _events(args: argparse.Namespace, database: Path | None) -> tuple[EventLog | None, Path | None]:
    from pyampam.events import EventLog

    if args.events is not None:
        path = Path(args.events)
        if not path.is_file():
            raise StoreError(f"no event file at {path}; give --events with a .events.jsonl file")
        return EventLog.from_jsonl(path), path
    if database is not None:
        path = events_path(database)
        if path.is_file():
            return EventLog.from_jsonl(path), path
    return None, None


def _usage(args: argparse.Namespace) -> int:
    from pyampam.reports import UsageReport, summarize_usage

    database = _database(args)
    log, log_path = _events(args, database)
    with (
        UsageReport.open(
            args.file,
            strict=args.strict,
            encoding=args.encoding,
            timezone=args.timezone,
            dayfirst=args.day_first,
        ) as report,
        _store(database) as store,
    ):
        summary = summarize_usage(report, users=store, events=log)
    if args.json:
        document: dict[str, Any] = {
            "file": str(args.file),
            "database": None if database is None else str(database),
            "events_file": None if log_path is None else str(log_path),
        }
        document.update(summary.to_dict())
        _output.print_json(document)
        return 0
    _print_summary(args.file, report, summary, database=database, log_path=log_path)
    return 0


# -- the readable report ----------------------------------------------------------------------


def _shown(text: str) -> str:
    """Text from the report as one printable line.

    A CSV cell may hold line breaks, or control characters that a terminal would obey.
    """
    flat = " ".join(text.split())
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in flat)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _results_text(counts: dict[str, int] | Any) -> str:
    return ", ".join(f"{_shown(name)} x{count}" for name, count in counts.items())


def _description(name: str) -> str:
    from pyampam.providers import CallResult

    known = CallResult.from_name(name)
    return known.description if known is not None else "(not a known call result)"


def _print_heading(text: str) -> None:
    print()
    print(text)


def _print_summary(
    file: str,
    report: UsageReport,
    summary: UsageSummary,
    *,
    database: Path | None,
    log_path: Path | None,
) -> None:
    period = ""
    if summary.first_day is not None and summary.last_day is not None:
        period = f", {summary.first_day} to {summary.last_day} (UTC)"
    print(f"Usage report {_shown(file)}{period}")
    print(
        f"{_plural(summary.rows, 'row')}, {summary.sdk_rows} from SDK (MIM PAM and other "
        f"on-premises software), {summary.failed} of them failed "
        f"({_percent(summary.failed, summary.sdk_rows)})"
    )
    if not report.time_columns:
        print("The report has no date/time column: no breakdown by day.")
    elif summary.sdk_rows_without_time:
        count = summary.sdk_rows_without_time
        print(f"{_plural(count, 'SDK row')} without a readable date/time: not counted by day.")

    _print_failures(summary)
    _print_cross_check(summary, log_path)
    _print_notes(summary, database)


def _print_failures(summary: UsageSummary) -> None:
    if not summary.failed:
        print("No SDK row failed.")
        return
    _print_heading("Why: failures by call result")
    _output.print_table(
        ("FAILED", "CALL RESULT", "MEANING"),
        (
            [str(count), _shown(name), _description(name)]
            for name, count in summary.by_call_result.items()
        ),
    )
    _print_heading("Who: failures by user")
    _output.print_table(
        ("USER", "NAME", "FAILED", "FIRST", "LAST", "CALL RESULTS"),
        (
            [
                _shown(entry.source_identity or entry.username),
                _shown(entry.display_name or NONE),
                str(entry.failed),
                _output.show_time(entry.first_time),
                _output.show_time(entry.last_time),
                _results_text(entry.by_call_result),
            ]
            for entry in summary.by_user
        ),
    )
    if summary.by_day:
        _print_heading("When: SDK rows and failures by day (UTC)")
        _output.print_table(
            ("DAY", "SDK ROWS", "FAILED"),
            ([day.day.isoformat(), str(day.sdk_rows), str(day.failed)] for day in summary.by_day),
        )


def _print_notes(summary: UsageSummary, database: Path | None) -> None:
    if summary.users_checked:
        if summary.unknown_users:
            count = len(summary.unknown_users)
            _print_heading(
                f"{_plural(count, 'SDK USERNAME')} with no PAM user in {database} (other "
                "on-premises software, or users since removed):"
            )
            for username in summary.unknown_users:
                print(f"  {_shown(username)}")
        else:
            _print_heading(f"Every SDK USERNAME is a PAM user in {database}.")
    if summary.unknown_call_results:
        _print_heading(
            "CALL RESULT values that are not known call results: "
            + ", ".join(_shown(name) for name in summary.unknown_call_results)
        )
    if summary.bad_row_count:
        count = summary.bad_row_count
        _print_heading(f"{_plural(count, 'bad row')} skipped:")
        for bad in summary.bad_rows:
            print(f"  line {bad.line}: {_shown(bad.reason)}")
        if count > len(summary.bad_rows):
            print(f"  ... and {count - len(summary.bad_rows)} more")


def _gap_rows(gaps: Sequence[CrossCheckGap]) -> list[list[str]]:
    return [
        [
            NONE if gap.day is None else gap.day.isoformat(),
            _shown(gap.source_identity or gap.username),
            _shown(gap.display_name or NONE),
            str(gap.count),
        ]
        for gap in gaps
    ]


def _print_cross_check(summary: UsageSummary, log_path: Path | None) -> None:
    if not summary.events_checked:
        return
    days = "on the report's days" if summary.first_day is not None else "(the report has no days)"
    _print_heading(
        f"Cross-check with event 101 in {log_path}: {_plural(summary.failed, 'failure')}, "
        f"{summary.events} events 101 {days}, {summary.matched} paired by user and UTC day"
    )
    if summary.failures_without_event:
        print("Failures with no event 101:")
        _output.print_table(
            ("  DAY", "USER", "NAME", "COUNT"), _indent(_gap_rows(summary.failures_without_event))
        )
    if summary.events_without_failure:
        print("Events 101 with no failed row:")
        _output.print_table(
            ("  DAY", "USER", "NAME", "COUNT"), _indent(_gap_rows(summary.events_without_failure))
        )
    if not summary.failures_without_event and not summary.events_without_failure:
        print("Every failure has its event 101, and every event 101 its failure.")


def _indent(rows: list[list[str]]) -> list[list[str]]:
    return [[f"  {row[0]}", *row[1:]] for row in rows]


# -- the parser -------------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add the ``report`` command group to the top-level subparsers."""
    group_parser = commands.add_parser(
        "report",
        help="read Azure MFA usage reports",
        description="Read the reports an Azure MFA provider exports.",
    )
    group = group_parser.add_subparsers(dest="report_command", metavar="ACTION")
    group.required = True

    usage = group.add_parser(
        "usage",
        help="who failed MFA, when and why, from the User Details CSV export",
        description=(
            "Sum up the User Details CSV export of the Azure MFA provider (Usage, User "
            "Details, Export to CSV): the SDK rows are MIM PAM's activations; the failed ones "
            "by call result, user and day. With --db (or $PYAMPAM_DB) each USERNAME GUID is "
            "shown as the PAM user's DOMAIN\\account, and the failures are checked against "
            "event 101 in the event file beside the database (or --events). Rows that cannot "
            "be read are skipped and listed; --strict stops at the first."
        ),
    )
    usage.add_argument(
        "file", metavar="FILE", type=_values.path_argument, help="the exported CSV file"
    )
    usage.add_argument(
        "--db",
        metavar="PATH",
        type=_values.path_argument,
        # SUPPRESS leaves a --db given before the command alone, as STORE_PARENT does.
        default=argparse.SUPPRESS,
        help=(
            f"the pyampam database of the PAM users, to show DOMAIN\\account for each GUID "
            f"(default: ${DB_ENVIRONMENT_VARIABLE}; no default folder: without either, GUIDs "
            "are shown as they are)"
        ),
    )
    usage.add_argument(
        "--events",
        metavar="FILE",
        type=_values.path_argument,
        help="the event file (.events.jsonl) to check failures against event 101 "
        "(default: the one beside --db)",
    )
    usage.add_argument(
        "--strict", action="store_true", help="fail at the first bad row instead of skipping it"
    )
    usage.add_argument(
        "--encoding",
        metavar="NAME",
        help="the file's encoding (default: UTF-8, or UTF-16 with a BOM), e.g. cp1252",
    )
    usage.add_argument(
        "--timezone",
        metavar="ZONE",
        type=_timezone,
        default=dt.timezone.utc,
        help="the zone of times written without one (default UTC), e.g. Europe/Paris or +02:00",
    )
    usage.add_argument(
        "--day-first",
        action="store_true",
        help="read numeric dates such as 05/01/2026 day first (default: month first)",
    )
    usage.add_argument("--json", action="store_true", help="print one JSON document")
    usage.set_defaults(handler=_usage, command_parser=usage)
