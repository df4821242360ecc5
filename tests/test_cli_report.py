"""`pyampam report usage`: who failed MFA, when and why, from the usage report's CSV export."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from pyampam._cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "reports"
REPORT = EXAMPLES / "usage-example.csv"
DATABASE = EXAMPLES / "pam-example.db"
EVENTS = EXAMPLES / "pam-example.events.jsonl"
KEN = "16fd2706-8baf-433b-82eb-8c7fada847da"
OTHER_APPLICATION = "0b8f3c5e-2d71-4e9a-b6c4-5f1a9d3e7b20"


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI in this process; the exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    environment = {k: v for k, v in os.environ.items() if k != "PYAMPAM_DB"}
    environment.update(env or {})
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        mock.patch.dict(os.environ, environment, clear=True),
    ):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def ok(*args: str | Path, env: dict[str, str] | None = None) -> str:
    """Run the CLI, insist on exit 0 and nothing on stderr, and return stdout."""
    code, out, err = invoke(*args, env=env)
    assert (code, err) == (0, ""), err
    return out


def as_json(*args: str | Path) -> dict[str, Any]:
    """Run a command with --json and parse its one document."""
    document = json.loads(ok(*args, "--json"))
    assert isinstance(document, dict)
    return document


def one_error_line(*args: str | Path, code: int = 1) -> str:
    """Run a command that must fail with *code*; its single line on stderr."""
    status, out, err = invoke(*args)
    assert status == code, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A copy of the example database and its event file, in a folder of its own."""
    shutil.copy(DATABASE, tmp_path / "pam.db")
    shutil.copy(EVENTS, tmp_path / "pam.events.jsonl")
    return tmp_path / "pam.db"


def test_readable_report_says_who_failed_when_and_why(database: Path) -> None:
    """The text report names users, call results, days, the cross-check and unknown users."""
    out = ok("report", "usage", REPORT, "--db", database)

    assert "30 rows, 25 from SDK" in out
    assert "8 of them failed (32%)" in out
    assert "2026-01-05 to 2026-01-09" in out
    assert "CONFIG_ISSUE                Phone unreachable" in out
    raj = next(line for line in out.splitlines() if line.startswith("CORP\\raj"))
    assert raj.split()[2:4] == ["Patel", "3"]
    assert "2026-01-06 09:12:07Z" in raj
    assert "CONFIG_ISSUE x2, FAILED_PHONE_BUSY x1" in raj
    assert "2026-01-07  7         3" in out
    assert "8 events 101 on the report's days, 7 paired" in out
    assert "Failures with no event 101:" in out
    assert f"2026-01-07  {OTHER_APPLICATION}" in out
    assert "Events 101 with no failed row:" in out
    assert "2026-01-08  CORP\\ken" in out
    assert f"1 SDK USERNAME with no PAM user in {database}" in out


def test_json_report_has_the_documented_keys(database: Path) -> None:
    """--json prints one document with counts, breakdowns, cross-check and bad rows."""
    document = as_json("report", "usage", REPORT, "--db", database)

    assert (document["rows"], document["sdk_rows"], document["failed"]) == (30, 25, 8)
    assert document["by_call_result"] == {
        "CONFIG_ISSUE": 2,
        "FAILED_USER_HUNGUP_ON_US": 2,
        "SUCCESS_NO_PIN_BUT_TIMEOUT": 2,
        "FAILED_AUTH_RESULT_TIMEOUT": 1,
        "FAILED_PHONE_BUSY": 1,
    }
    assert document["bad_rows"] == []
    assert document["unknown_users"] == [OTHER_APPLICATION]
    assert document["by_user"][0]["source_identity"] == "CORP\\raj"
    assert len(document["by_day"]) == 5
    assert document["cross_check"]["matched"] == 7
    assert document["events_file"] == str(database.with_name("pam.events.jsonl"))
    assert document["database"] == str(database)


def test_global_db_option_and_environment_are_used(database: Path) -> None:
    """--db before the command, and $PYAMPAM_DB, resolve users as --db after it does."""
    after = ok("report", "usage", REPORT, "--db", database, "--json")
    before = ok("--db", database, "report", "usage", REPORT, "--json")
    from_environment = ok("report", "usage", REPORT, "--json", env={"PYAMPAM_DB": str(database)})

    assert after == before == from_environment


def test_without_db_nothing_is_resolved_or_cross_checked() -> None:
    """Without --db there is no name resolution and no cross-check."""
    document = as_json("report", "usage", REPORT)

    assert document["users_checked"] is False
    assert document["unknown_users"] == []
    assert document["cross_check"]["checked"] is False
    assert document["by_user"][0]["source_identity"] is None
    assert document["database"] is None


def test_events_option_cross_checks_without_a_database() -> None:
    """--events alone checks failures against event 101, showing GUIDs."""
    document = as_json("report", "usage", REPORT, "--events", EVENTS)

    assert document["cross_check"]["checked"] is True
    assert document["cross_check"]["events_without_failure"][0]["username"] == KEN
    assert document["cross_check"]["events_without_failure"][0]["source_identity"] is None


def test_database_without_an_event_file_skips_the_cross_check(tmp_path: Path) -> None:
    """--db whose folder has no event file resolves users but does not cross-check."""
    shutil.copy(DATABASE, tmp_path / "pam.db")

    document = as_json("report", "usage", REPORT, "--db", tmp_path / "pam.db")

    assert document["users_checked"] is True
    assert document["cross_check"]["checked"] is False
    assert document["events_file"] is None


def test_bad_rows_are_listed_and_the_exit_code_is_zero() -> None:
    """Bad rows are listed in text and JSON; the command still succeeds."""
    out = ok("report", "usage", EXAMPLES / "usage-messy.csv")
    document = as_json("report", "usage", EXAMPLES / "usage-messy.csv")

    assert "3 bad rows skipped:" in out
    assert "line 6: AUTHD is 'Maybe', not Yes or No" in out
    assert document["bad_rows"] == [
        {"line": 6, "reason": "AUTHD is 'Maybe', not Yes or No"},
        {"line": 7, "reason": "expected 7 fields as in the header, found 6"},
        {"line": 8, "reason": "USERNAME is empty"},
    ]
    assert document["unknown_call_results"] == ["FAILED_NEW_REASON"]
    assert "not known call results: FAILED_NEW_REASON" in out


def test_strict_stops_at_the_first_bad_row_with_exit_1() -> None:
    """--strict fails with one line naming file and line."""
    line = one_error_line("report", "usage", EXAMPLES / "usage-messy.csv", "--strict")

    assert line.endswith("usage-messy.csv:6: AUTHD is 'Maybe', not Yes or No")
    assert line.startswith("pyampam: error: ")


def test_a_report_that_cannot_be_read_exits_1(tmp_path: Path) -> None:
    """A missing file, a missing column, or the wrong encoding: exit 1 with one line."""
    missing = one_error_line("report", "usage", tmp_path / "none.csv")
    (tmp_path / "cols.csv").write_text("AUTH TYPE,USERNAME\r\nSDK,x\r\n", encoding="utf-8")
    columns = one_error_line("report", "usage", tmp_path / "cols.csv")
    (tmp_path / "latin.csv").write_bytes(
        "AUTH TYPE,USERNAME,AUTHD,CALL RESULT\r\nSDK,José,No,\r\n".encode("cp1252")
    )
    encoding = one_error_line("report", "usage", tmp_path / "latin.csv")

    assert "cannot open the usage report" in missing
    assert "no AUTHD and CALL RESULT columns" in columns
    assert "latin.csv:2: the usage report is not utf-8 text" in encoding
    assert ok("report", "usage", tmp_path / "latin.csv", "--encoding", "cp1252")


def test_a_database_that_does_not_exist_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    """--db naming no file fails (exit 1) without creating an empty database."""
    line = one_error_line("report", "usage", REPORT, "--db", tmp_path / "nope.db")

    assert "no pyampam database at" in line
    assert not (tmp_path / "nope.db").exists()
    events = one_error_line("report", "usage", REPORT, "--events", tmp_path / "nope.jsonl")
    assert "no event file at" in events


@pytest.mark.parametrize(
    "args",
    [
        ("report",),
        ("report", "usage"),
        ("report", "usage", REPORT, "--timezone", "Mars/Olympus"),
        ("report", "usage", REPORT, "--no-such-option"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str | Path, ...]) -> None:
    """A missing action or file, an unknown zone or option: exit 2 with one line."""
    line = one_error_line(*args, code=2)

    assert "error" in line


def test_timezone_and_day_first_change_how_times_are_read(tmp_path: Path) -> None:
    """--timezone reads naive times in that zone; --day-first reads 05/01 as 5 January."""
    path = tmp_path / "eu.csv"
    path.write_text(
        "DATE,AUTH TYPE,USERNAME,AUTHD,CALL RESULT\r\n"
        f"05/01/2026 00:30,SDK,{KEN},No,CONFIG_ISSUE\r\n",
        encoding="utf-8",
    )

    month_first = as_json("report", "usage", path)
    paris = as_json("report", "usage", path, "--day-first", "--timezone", "Europe/Paris")
    offset = as_json("report", "usage", path, "--day-first", "--timezone", "+01:00")

    assert month_first["by_user"][0]["first_time"] == "2026-05-01T00:30:00Z"
    assert paris["by_user"][0]["first_time"] == "2026-01-04T23:30:00Z"
    assert offset["by_user"][0]["first_time"] == "2026-01-04T23:30:00Z"


def test_report_text_is_printed_on_one_line_per_row(tmp_path: Path) -> None:
    """Line breaks and control characters of the report are not printed as they are."""
    path = tmp_path / "odd.csv"
    path.write_text(
        "AUTH TYPE,USERNAME,Name,AUTHD,CALL RESULT\r\n"
        f'SDK,{KEN},"Ken\r\nMyer \x1b[31m",No,"ODD\x07"\r\n',
        encoding="utf-8",
    )

    out = ok("report", "usage", path)

    assert "\x1b" not in out
    assert "\x07" not in out
    assert "Ken Myer \\x1b[31m" in out


def test_a_report_without_failures_or_dates_says_so(tmp_path: Path) -> None:
    """A report without a date column and without failures says both."""
    path = tmp_path / "fine.csv"
    path.write_text(
        f"AUTH TYPE,USERNAME,AUTHD,CALL RESULT\r\nSDK,{KEN},Yes,SUCCESS_NO_PIN\r\n",
        encoding="utf-8",
    )

    out = ok("report", "usage", path)

    assert "1 row, 1 from SDK" in out
    assert "The report has no date/time column" in out
    assert "No SDK row failed." in out


def test_report_usage_runs_as_a_real_process(database: Path) -> None:
    """`python -m pyampam report usage --json` works as a child process."""
    result = subprocess.run(
        [sys.executable, "-m", "pyampam", "report", "usage", str(REPORT), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYAMPAM_DB": str(database)},
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["unknown_users"] == [OTHER_APPLICATION]
