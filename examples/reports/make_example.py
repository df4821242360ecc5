"""Regenerate the example usage reports and the small PAM database they join with.

Writes, next to this script (or into ``--out DIR``):

- ``pam-example.db``: a pyampam SQLite store with five CORP users (fixed object ids, phones in
  the fictional 555-01xx range), two MFA roles, and one request per activation attempt;
- ``pam-example.events.jsonl``: the event log of those attempts: pyampam's request events,
  and MIM's 103 (MFA completed) or 101 (MFA not completed) with the call result;
- ``usage-example.csv``: the Azure MFA "User Details" export for the same week: one SDK row
  per MFA call of those attempts, plus RADIUS rows (VPN sign-ins, not PAM) and one SDK
  failure from a GUID that is no PAM user (other on-premises software). One failed call
  (CORP\\ken, 2026-01-08) is left out of the export on purpose, so that the cross-check
  against event 101 has something to find;
- ``usage-small.csv``: ten rows in the documented columns, for a first look;
- ``usage-messy.csv``: what spreadsheets and hand edits do to an export: a UTF-8 BOM, columns
  in another order and spelling, quoted commas and line breaks, blank lines, bad rows and a
  call result pyampam does not know;
- ``usage-utf16.csv``: ``usage-small.csv`` saved as UTF-16 with a BOM ("Unicode" CSV);
- ``usage-no-date.csv``: an export without a date/time column.

Everything is fixed (ids, times, outcomes), so running the script again writes the same CSV
and JSON Lines files byte for byte, and a database with the same content. None of it is real:
the people, GUIDs and numbers are made up.

Usage: ``python examples/reports/make_example.py [--out DIR]``
"""

from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

from pyampam import ActivationRequest, PhoneNumber, RequestStatus, Role, User
from pyampam.events import EventId, JsonLinesSink, PamEvent
from pyampam.providers import CallResult
from pyampam.store import SqliteStore

HERE = Path(__file__).resolve().parent
UTC = dt.timezone.utc
# Names derived from this namespace give the same request ids on every run.
EXAMPLE_NAMESPACE = uuid.UUID("6f1c2b8e-4d3a-5e7f-9a0b-1c2d3e4f5a6b")
HEADER = ["DATE/TIME", "AUTH TYPE", "USERNAME", "Name", "PHONE", "CALL RESULT", "AUTHD"]
TTL = dt.timedelta(hours=1)
# Seconds from the request to the call in the report, and to the call's outcome.
CALL_DELAY = dt.timedelta(seconds=2)
ANSWER_DELAY = dt.timedelta(seconds=24)

USERS = (
    User(
        object_id=uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
        source_domain="CORP",
        source_account_name="jen",
        display_name="Jen Smith",
        phone=PhoneNumber.parse("+1 425 555 0100"),
    ),
    User(
        object_id=uuid.UUID("16fd2706-8baf-433b-82eb-8c7fada847da"),
        source_domain="CORP",
        source_account_name="ken",
        display_name="Ken Myer",
        phone=PhoneNumber.parse("+1 425 555 0142"),
    ),
    User(
        object_id=uuid.UUID("886313e1-3b8a-5372-9b90-0c9aee199e5d"),
        source_domain="CORP",
        source_account_name="bob",
        display_name="Bob Kelly",
        phone=PhoneNumber.parse("+1 425 555 0167"),
    ),
    User(
        object_id=uuid.UUID("a8098c1a-f86e-11da-bd1a-00112444be1e"),
        source_domain="CORP",
        source_account_name="ana",
        display_name="Ana Trujillo",
        phone=PhoneNumber.parse("+1 425 555 0188"),
    ),
    User(
        object_id=uuid.UUID("e902893a-9d22-3c7e-a7b8-d6e313b71d9f"),
        source_domain="CORP",
        source_account_name="raj",
        display_name="Raj Patel",
        phone=PhoneNumber.parse("+1 425 555 0119"),
    ),
)
JEN, KEN, BOB, ANA, RAJ = USERS
SQL = Role(
    role_id=uuid.UUID("3d813cbb-47fb-32ba-91df-831e1593ac29"),
    display_name="SQL File Access",
    description="Administer the SQL file shares",
    candidates=[JEN, KEN, BOB, ANA, RAJ],
    privileges=["SQL Admins"],
    ttl=TTL,
    mfa_enabled=True,
)
FINANCE = Role(
    role_id=uuid.UUID("fd4f9bfd-5a8d-4c3b-8f0e-2b6e8f4a7c11"),
    display_name="Finance Servers",
    description="Administer the finance servers",
    candidates=[JEN, ANA],
    privileges=["Finance Admins"],
    ttl=TTL,
    mfa_enabled=True,
)
# Another on-premises application using the same MFA provider through the SDK: no PAM user.
OTHER_APPLICATION_USER = "0b8f3c5e-2d71-4e9a-b6c4-5f1a9d3e7b20"

# (day, time of day, user, role, call result); days are 5 to 9 January 2026.
Attempt = tuple[int, str, User, Role, CallResult]
ATTEMPTS: tuple[Attempt, ...] = (
    (5, "08:02:11", JEN, SQL, CallResult.SUCCESS_NO_PIN),
    (5, "08:47:30", KEN, SQL, CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT),
    (5, "08:49:02", KEN, SQL, CallResult.SUCCESS_NO_PIN),
    (5, "10:15:44", ANA, FINANCE, CallResult.SUCCESS_NO_PIN),
    (5, "14:03:09", BOB, SQL, CallResult.FAILED_USER_HUNGUP_ON_US),
    (5, "14:05:51", BOB, SQL, CallResult.SUCCESS_NO_PIN),
    (6, "07:58:20", JEN, FINANCE, CallResult.SUCCESS_NO_PIN),
    (6, "09:12:05", RAJ, SQL, CallResult.CONFIG_ISSUE),
    (6, "09:20:37", RAJ, SQL, CallResult.CONFIG_ISSUE),
    (6, "11:41:13", KEN, SQL, CallResult.SUCCESS_NO_PIN),
    (6, "16:30:00", ANA, SQL, CallResult.SUCCESS_NO_PIN),
    (7, "08:05:26", JEN, SQL, CallResult.SUCCESS_NO_PIN),
    (7, "08:33:48", BOB, SQL, CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT),
    (7, "13:22:19", RAJ, SQL, CallResult.FAILED_PHONE_BUSY),
    (7, "13:24:02", RAJ, SQL, CallResult.SUCCESS_NO_PIN),
    (7, "17:45:55", ANA, FINANCE, CallResult.SUCCESS_NO_PIN),
    (8, "08:00:41", JEN, FINANCE, CallResult.SUCCESS_NO_PIN),
    (8, "09:09:09", KEN, SQL, CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT),
    (8, "09:11:30", KEN, SQL, CallResult.SUCCESS_NO_PIN),
    (8, "15:27:16", BOB, SQL, CallResult.SUCCESS_NO_PIN),
    (9, "08:14:50", ANA, SQL, CallResult.FAILED_USER_HUNGUP_ON_US),
    (9, "08:16:12", ANA, SQL, CallResult.SUCCESS_NO_PIN),
    (9, "10:02:33", JEN, SQL, CallResult.SUCCESS_NO_PIN),
    (9, "12:48:07", RAJ, FINANCE, CallResult.SUCCESS_NO_PIN),
)
# The failed call left out of the export: Ken's voicemail on 8 January.
MISSING_FROM_EXPORT = (8, "09:09:09")
# VPN sign-ins through the RADIUS adapter: in the export, but nothing to do with PAM.
RADIUS_ROWS = (
    (5, "07:30:02", JEN, CallResult.SUCCESS_NO_PIN),
    (6, "07:41:18", KEN, CallResult.SUCCESS_NO_PIN),
    (6, "19:03:44", BOB, CallResult.FAILED_USER_HUNGUP_ON_US),
    (8, "07:55:10", ANA, CallResult.SUCCESS_NO_PIN),
    (9, "07:49:27", RAJ, CallResult.SUCCESS_NO_PIN),
)
OTHER_APPLICATION_ROWS = (
    (7, "22:10:05", CallResult.SUCCESS_NO_PIN),
    (7, "22:12:40", CallResult.FAILED_AUTH_RESULT_TIMEOUT),
)


def moment(day: int, clock: str) -> dt.datetime:
    hour, minute, second = (int(part) for part in clock.split(":"))
    return dt.datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


def shown(value: dt.datetime) -> str:
    """A time as the export writes it here: ``2026-01-05 08:02:13`` (UTC, no zone)."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


def phone_text(user: User) -> str:
    return str(user.phone) if user.phone is not None else ""


def is_success(result: CallResult) -> bool:
    return result in (CallResult.SUCCESS_NO_PIN, CallResult.SUCCESS_WITH_PIN)


# -- the store and the events -----------------------------------------------------------------


def attempt_request(
    number: int, attempt: Attempt
) -> tuple[ActivationRequest, dt.datetime, dt.datetime]:
    """Attempt *number*: the request as it ended, when it was made and when MFA answered."""
    day, clock, user, role, result = attempt
    created = moment(day, clock)
    answered = created + ANSWER_DELAY
    request_id = uuid.uuid5(EXAMPLE_NAMESPACE, f"request-{number}")
    call_id = str(uuid.uuid5(EXAMPLE_NAMESPACE, f"call-{number}"))
    common = {
        "request_id": request_id,
        "requestor_id": user.object_id,
        "role_id": role.role_id,
        "justification": f"Change ticket CHG-{4100 + number}",
        "requested_ttl": TTL,
        "creation_time": created,
        "mfa_call_id": call_id,
    }
    if is_success(result):
        final = ActivationRequest(
            **common,
            status=RequestStatus.EXPIRED,
            activation_time=answered,
            expiration_time=answered + TTL,
        )
    else:
        final = ActivationRequest(
            **common,
            status=RequestStatus.REJECTED,
            status_reason=f"MFA not completed: {result.value}",
        )
    return final, created, answered


def build_events() -> Iterator[PamEvent]:
    events: list[PamEvent] = []
    for number, attempt in enumerate(ATTEMPTS, start=1):
        request, created, answered = attempt_request(number, attempt)
        _, _, user, role, result = attempt
        events.append(
            PamEvent.lifecycle(
                EventId.REQUEST_CREATED, time=created, request=request, role_name=role.display_name
            )
        )
        common = {
            "time": answered,
            "user_id": user.object_id,
            "role_id": role.role_id,
            "role_name": role.display_name,
            "request_id": request.request_id,
            "call_result": result,
        }
        if is_success(result):
            events.append(PamEvent.mfa_completed(**common))
            events.append(
                PamEvent.lifecycle(
                    EventId.REQUEST_ACTIVATED,
                    time=answered,
                    request=request,
                    role_name=role.display_name,
                )
            )
            events.append(
                PamEvent.lifecycle(
                    EventId.REQUEST_EXPIRED,
                    time=answered + TTL,
                    request=request,
                    role_name=role.display_name,
                )
            )
        else:
            events.append(PamEvent.mfa_not_completed(**common))
            events.append(
                PamEvent.lifecycle(
                    EventId.REQUEST_REJECTED,
                    time=answered,
                    request=request,
                    role_name=role.display_name,
                )
            )
    # sort() is stable: events of the same instant keep the order they were made in.
    events.sort(key=lambda event: event.time)
    return iter(events)


def write_store(path: Path) -> None:
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    with SqliteStore(path) as store:
        for user in USERS:
            store.add_user(user)
        for role in (SQL, FINANCE):
            store.add_role(role)
        for number, attempt in enumerate(ATTEMPTS, start=1):
            store.add_request(attempt_request(number, attempt)[0])


def write_events(path: Path) -> None:
    path.unlink(missing_ok=True)
    sink = JsonLinesSink(path)
    try:
        for event in build_events():
            sink.write(event)
    finally:
        sink.close()


# -- the usage reports ------------------------------------------------------------------------


def usage_rows() -> list[list[str]]:
    rows: list[tuple[dt.datetime, list[str]]] = []
    for day, clock, user, _, result in ATTEMPTS:
        if (day, clock) == MISSING_FROM_EXPORT:
            continue
        called = moment(day, clock) + CALL_DELAY
        authd = "Yes" if is_success(result) else "No"
        row = [
            shown(called),
            "SDK",
            str(user.object_id),
            user.display_name or "",
            phone_text(user),
            result.value,
            authd,
        ]
        rows.append((called, row))
    for day, clock, user, result in RADIUS_ROWS:
        called = moment(day, clock)
        authd = "Yes" if is_success(result) else "No"
        row = [
            shown(called),
            "RADIUS",
            f"{user.source_account_name}@corp.example",
            user.display_name or "",
            phone_text(user),
            result.value,
            authd,
        ]
        rows.append((called, row))
    for day, clock, result in OTHER_APPLICATION_ROWS:
        called = moment(day, clock)
        authd = "Yes" if is_success(result) else "No"
        rows.append(
            (
                called,
                [
                    shown(called),
                    "SDK",
                    OTHER_APPLICATION_USER,
                    "",
                    "+1 4255550155",
                    result.value,
                    authd,
                ],
            )
        )
    rows.sort(key=lambda item: item[0])
    return [row for _, row in rows]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    # CRLF, as the portal and spreadsheets write CSV.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


SMALL_ROWS = [
    [time, auth_type, username, name, result, "Yes" if result == "SUCCESS_NO_PIN" else "No"]
    for time, auth_type, username, name, result in (
        ("2026-01-05 08:02:13", "SDK", str(JEN.object_id), "Jen Smith", "SUCCESS_NO_PIN"),
        (
            "2026-01-05 08:47:32",
            "SDK",
            str(KEN.object_id),
            "Ken Myer",
            "SUCCESS_NO_PIN_BUT_TIMEOUT",
        ),
        ("2026-01-05 08:49:04", "SDK", str(KEN.object_id), "Ken Myer", "SUCCESS_NO_PIN"),
        ("2026-01-05 14:03:11", "SDK", str(BOB.object_id), "Bob Kelly", "FAILED_USER_HUNGUP_ON_US"),
        ("2026-01-05 14:05:53", "SDK", str(BOB.object_id), "Bob Kelly", "SUCCESS_NO_PIN"),
        ("2026-01-06 07:41:18", "RADIUS", "ken@corp.example", "Ken Myer", "SUCCESS_NO_PIN"),
        ("2026-01-06 09:12:07", "SDK", str(RAJ.object_id), "Raj Patel", "CONFIG_ISSUE"),
        ("2026-01-06 09:20:39", "SDK", str(RAJ.object_id), "Raj Patel", "CONFIG_ISSUE"),
        ("2026-01-06 16:30:02", "SDK", str(ANA.object_id), "Ana Trujillo", "SUCCESS_NO_PIN"),
        (
            "2026-01-06 19:03:44",
            "RADIUS",
            "bob@corp.example",
            "Bob Kelly",
            "FAILED_USER_HUNGUP_ON_US",
        ),
    )
]
SMALL_HEADER = ["DATE/TIME", "AUTH TYPE", "USERNAME", "Name", "CALL RESULT", "AUTHD"]

# Every rule of the reader, in one file. Columns reordered and spelled differently (case,
# spaces, "Call_Result"), an extra column, US dates; the comments say what each row tests.
_J, _K, _B, _A, _R = (str(user.object_id) for user in USERS)
MESSY_TEXT = (
    "\ufeffAuthD,username,Date Time,Call_Result,NAME,auth type,Device\r\n"
    f'Yes,{_J},1/5/2026 8:02:13 AM,SUCCESS_NO_PIN,"Smith, Jen",SDK,Office phone\r\n'
    # a quoted field with a line break inside: one row over two lines
    f'No,{_K},1/5/2026 8:47:32 AM,SUCCESS_NO_PIN_BUT_TIMEOUT,"Myer,\r\nKen",sdk,"Mobile"\r\n'
    "\r\n"
    # a blank line above; an AUTHD that is neither Yes nor No below
    f"Maybe,{_B},1/5/2026 2:03:11 PM,FAILED_USER_HUNGUP_ON_US,Bob Kelly,SDK,Desk\r\n"
    # a field missing
    f"No,{_B},1/5/2026 2:04:00 PM,FAILED_USER_HUNGUP_ON_US,SDK,Desk\r\n"
    # an empty USERNAME
    "No,,1/5/2026 2:04:30 PM,CONFIG_ISSUE,Nobody,SDK,Desk\r\n"
    # a call result pyampam does not know, with spaces around the values
    f" No , {_R} ,1/6/2026 9:12:07 AM, FAILED_NEW_REASON ,Raj Patel, SDK ,Desk\r\n"
    # a date pyampam cannot read: kept as text, the row is not bad
    f"No,{_R},sometime on Tuesday,CONFIG_ISSUE,Raj Patel,SDK,Desk\r\n"
    f'Yes,{_A},1/6/2026 4:30:02 PM,SUCCESS_NO_PIN,Ana Trujillo,RADIUS,"Desk, 2nd floor"\r\n'
    # a row of empty cells, as spreadsheets leave at the end
    ",,,,,,\r\n"
)

NO_DATE_HEADER = ["USERNAME", "AUTH TYPE", "AUTHD", "CALL RESULT"]
NO_DATE_ROWS = [
    [str(JEN.object_id), "SDK", "Yes", "SUCCESS_NO_PIN"],
    [str(KEN.object_id), "SDK", "No", "SUCCESS_NO_PIN_BUT_TIMEOUT"],
    [str(BOB.object_id), "SDK", "No", "FAILED_USER_HUNGUP_ON_US"],
    [str(BOB.object_id), "SDK", "Yes", "SUCCESS_NO_PIN"],
]


def write_reports(folder: Path) -> None:
    (folder / "usage-example.csv").write_bytes(csv_text(HEADER, usage_rows()).encode("utf-8"))
    small = csv_text(SMALL_HEADER, SMALL_ROWS)
    (folder / "usage-small.csv").write_bytes(small.encode("utf-8"))
    (folder / "usage-utf16.csv").write_bytes(codecs.BOM_UTF16_LE + small.encode("utf-16-le"))
    (folder / "usage-messy.csv").write_bytes(MESSY_TEXT.encode("utf-8"))
    no_date = csv_text(NO_DATE_HEADER, NO_DATE_ROWS)
    (folder / "usage-no-date.csv").write_bytes(no_date.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: here)")
    args = parser.parse_args(argv)
    folder: Path = args.out
    folder.mkdir(parents=True, exist_ok=True)
    write_store(folder / "pam-example.db")
    write_events(folder / "pam-example.events.jsonl")
    write_reports(folder)
    for name in sorted(path.name for path in folder.iterdir() if path.name != Path(__file__).name):
        print(f"wrote {folder / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
