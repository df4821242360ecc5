"""The PAM commands of `pyampam` (user, role, request, expire, monitor, events) on a SQLite file."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyampam._cli import main
from pyampam._cli._context import default_data_dir

PIN = "8316274059"
JEN_PHONE = "+1 (425) 555-0100"
KEN_PHONE = "+1 (425) 555-0142"


def run(
    *args: str | Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `python -m pyampam ARGS` as a real process; capture everything it prints."""
    return subprocess.run(
        [sys.executable, "-m", "pyampam", *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        check=False,
        timeout=60,
    )


def invoke(*args: str | Path, stdin: str = "") -> tuple[int, str, str]:
    """Run the CLI in this process; the exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        mock.patch("sys.stdin", io.StringIO(stdin)),
    ):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def ok(*args: str | Path, stdin: str = "") -> str:
    """Run the CLI in this process, insist on success, and return stdout."""
    code, out, err = invoke(*args, stdin=stdin)
    assert code == 0, err
    return out


def as_json(*args: str | Path, stdin: str = "") -> dict[str, Any]:
    """Run a command with --json in this process and parse its one document."""
    document = json.loads(ok(*args, "--json", stdin=stdin))
    assert isinstance(document, dict)
    return document


def one_error_line(stderr: str) -> str:
    """The single line a refused command prints on stderr (and no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database path in a fresh folder."""
    return tmp_path / "data" / "pam.db"


@pytest.fixture
def populated(db: Path) -> Path:
    """A database with Jen and Ken, an MFA role and an approval role owned by Ken."""
    ok("--db", db, "user", "new", "CORP", "jen", "--phone", JEN_PHONE, "--display-name", "Jen")
    ok("--db", db, "user", "new", "CORP", "ken", "--phone", KEN_PHONE)
    ok("--db", db, "user", "new", "CORP", "bob")
    ok(
        "--db", db, "role", "new", "SQL File Access", "--candidate", "CORP\\jen",
        "--privilege", "SQL Admins", "--ttl", "1h", "--mfa",
    )  # fmt: skip
    ok(
        "--db", db, "role", "new", "Finance", "--candidate", "CORP/jen", "--candidate",
        "CORP/ken", "--approver", "CORP/ken", "--privilege", "Finance Admins", "--ttl", "30m",
        "--approval",
    )  # fmt: skip
    return db


def process_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment for a child process whose data folders all lie under tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYAMPAM_DB", "XDG_DATA_HOME")}
    env["HOME"] = str(tmp_path / "home")
    env.update(extra)
    return env


# -- real processes -----------------------------------------------------------------------------


def test_users_and_roles_are_created_and_shown_by_real_processes(tmp_path: Path) -> None:
    """`user new --directory` copies the CSV's phone; `role new` and `get --json` show them."""
    db = tmp_path / "pam.db"
    csv = tmp_path / "corp.csv"
    csv.write_text(f"Domain,sAMAccountName,telephoneNumber\nCORP,jen,{JEN_PHONE}\n", "utf-8")
    created = run("--db", db, "user", "new", "CORP", "jen", "--directory", csv)
    assert created.returncode == 0, created.stderr
    assert "copied once from the directory" in created.stdout
    assert "+1 4255550100" in created.stdout
    role = run(
        "role", "new", "SQL File Access", "--candidate", "CORP\\jen", "--privilege", "SQL",
        "--ttl", "90m", "--mfa", "--available-from", "08:00", "--available-to", "18:00",
        "--db", db, "--json",
    )  # fmt: skip
    assert role.returncode == 0, role.stderr
    shown = json.loads(role.stdout)
    assert shown["ttl_seconds"] == 5400
    assert shown["mfa_enabled"] is True
    assert shown["available_from"] == "08:00:00"
    assert [c["source_identity"] for c in shown["candidates"]] == ["CORP\\jen"]
    listed = run("--db", db, "role", "get")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[0].split()[:3] == ["ROLE", "TTL", "MFA"]
    assert "SQL File Access" in listed.stdout


def test_mfa_activation_fails_then_succeeds_with_events(populated: Path) -> None:
    """An unanswered call rejects the request (exit 1, event 101); an answered one activates it."""
    failed = run(
        "--db", populated, "--fake-mfa", "success_no_pin_but_timeout",
        "request", "new", "CORP\\jen", "SQL File Access", "--justification", "restore",
    )  # fmt: skip
    assert failed.returncode == 1
    line = one_error_line(failed.stderr)
    assert "was rejected" in line
    assert "SUCCESS_NO_PIN_BUT_TIMEOUT" in line
    assert "Rejected" in failed.stdout

    passed = run(
        "--db", populated, "request", "new", "CORP/jen", "sql file access",
        "--fake-mfa", "SUCCESS_NO_PIN", "--json",
    )  # fmt: skip
    assert passed.returncode == 0, passed.stderr
    request = json.loads(passed.stdout)
    assert request["status"] == "Active"
    assert request["requestor"] == "CORP\\jen"
    assert request["expiration_time"].endswith("Z")

    events = run("--db", populated, "events", "--id", "101", "--id", "103", "--json")
    assert events.returncode == 0
    found = json.loads(events.stdout)["events"]
    assert [(e["event_id"], e["level"], e["source"]) for e in found] == [
        (101, "Error", "MIM Service"),
        (103, "Information", "MIM Service"),
    ]
    assert found[0]["call_result"] == "SUCCESS_NO_PIN_BUT_TIMEOUT"


def test_approval_by_another_user_through_an_id_prefix(populated: Path) -> None:
    """Jen's request waits for Ken; Jen cannot approve it, Ken can, by the id's first 8 digits."""
    made = run("--db", populated, "request", "new", "CORP/jen", "Finance", "--json")
    assert made.returncode == 0, made.stderr
    request_id = json.loads(made.stdout)["request_id"]
    prefix = request_id[:8]

    refused = run("--db", populated, "request", "approve", prefix, "--as", "CORP/jen")
    assert refused.returncode == 1
    assert "not an approver" in one_error_line(refused.stderr)

    approved = run("--db", populated, "request", "approve", prefix, "--as", "CORP\\ken")
    assert approved.returncode == 0, approved.stderr
    assert f"Request {prefix} is Active" in approved.stdout
    assert "Finance Admins" in approved.stdout

    listed = run("--db", populated, "request", "list", "--user", "CORP/jen", "--status", "active")
    assert listed.returncode == 0
    assert prefix in listed.stdout
    assert "approved by CORP\\ken" in listed.stdout

    closed = run("--db", populated, "request", "close", request_id, "--json")
    assert closed.returncode == 0
    assert json.loads(closed.stdout)["status"] == "Closed"
    again = run("--db", populated, "request", "close", prefix)
    assert again.returncode == 1
    assert "Closed" in one_error_line(again.stderr)


def test_expire_starts_and_expires_what_is_due(populated: Path) -> None:
    """`expire` starts a due Scheduled request and expires an Active one whose TTL ran out."""
    from pyampam import RequestStatus
    from pyampam.activation import PamService
    from pyampam.store import SqliteStore

    ok("--db", populated, "role", "new", "Plain", "--candidate", "CORP/jen", "--ttl", "1h")
    two_hours_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    with SqliteStore(populated) as store, PamService(store=store, clock=lambda: two_hours_ago) as s:
        old = s.request_activation("CORP\\jen", "Plain")
        assert old.status is RequestStatus.ACTIVE
        later = s.request_activation(
            "CORP\\jen", "Finance", requested_time=two_hours_ago + dt.timedelta(hours=1)
        )
        assert s.approve(later, "CORP\\ken").status is RequestStatus.SCHEDULED
    done = run("--db", populated, "expire", "--json")
    assert done.returncode == 0, done.stderr
    changed = json.loads(done.stdout)
    assert [r["request_id"] for r in changed["started"]] == [str(later.request_id)]
    assert [r["status"] for r in changed["started"]] == ["Active"]
    assert [r["request_id"] for r in changed["expired"]] == [str(old.request_id)]
    assert [r["status"] for r in changed["expired"]] == ["Expired"]
    assert run("--db", populated, "expire").stdout.strip() == "Nothing to start or expire."


def test_monitor_records_825_and_updates_only_when_asked(populated: Path, tmp_path: Path) -> None:
    """`monitor` reports Jen's changed CORP number (event 825); `--update` stores it."""
    csv = tmp_path / "corp.csv"
    csv.write_text(
        "Domain,sAMAccountName,telephoneNumber\n"
        f"CORP,jen,+1 (425) 555-0199\nCORP,ken,{KEN_PHONE}\nCORP,carol,+1 425 555 0123\n",
        "utf-8",
    )
    found = run("--db", populated, "monitor", "--directory", csv)
    assert found.returncode == 0, found.stderr
    assert "CORP\\jen  +1 4255550100  +1 4255550199  stored number unchanged" in found.stdout
    updated = run("--db", populated, "monitor", "--directory", csv, "--update", "--json")
    assert json.loads(updated.stdout)["changes"][0]["updated"] is True
    assert run("--db", populated, "monitor", "--directory", csv).stdout.startswith("No phone")
    events = run("--db", populated, "events", "--id", "825")
    lines = events.stdout.splitlines()
    assert len(lines) == 3
    assert all("Warning  PAM Monitoring Service" in line for line in lines[1:])


def test_unusable_directory_phone_names_the_options(tmp_path: Path) -> None:
    """A directory number that cannot be read is refused, pointing at --phone and --no-phone."""
    csv = tmp_path / "corp.csv"
    csv.write_text("Domain,sAMAccountName,telephoneNumber\nCORP,jen,call me\n", "utf-8")
    db = tmp_path / "pam.db"
    code, _, err = invoke("--db", db, "user", "new", "CORP", "jen", "--directory", csv)
    assert code == 1
    assert "Give --phone NUMBER to store another, or --no-phone" in one_error_line(err)
    user = as_json("--db", db, "user", "new", "CORP", "jen", "--directory", csv, "--no-phone")
    assert user["phone"] is None


def test_pin_on_stdin_is_stored_but_never_printed(db: Path) -> None:
    """A PIN piped to --pin-stdin reaches the store, and no output of any command shows it."""
    made = run("--db", db, "user", "new", "CORP", "jen", "--phone", JEN_PHONE, "--pin-stdin",
               stdin=f"{PIN}\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    outputs = [made.stdout, made.stderr]
    for args in (["user", "get", "CORP/jen"], ["user", "get", "--json"], ["events", "--json"]):
        done = run("--db", db, *args)
        assert done.returncode == 0
        outputs += [done.stdout, done.stderr]
    changed = run("--db", db, "user", "set", "CORP/jen", "--pin-stdin", "--json", stdin="12ab\n")
    assert changed.returncode == 1
    outputs += [changed.stdout, changed.stderr]
    everything = "\n".join(outputs)
    assert PIN not in everything
    assert "12ab" not in everything
    assert '"pin": "********"' in everything

    from pyampam.store import SqliteStore

    with SqliteStore(db) as store:
        assert store.find_users(source_account_name="jen")[0].pin == PIN


def test_pyampam_db_environment_variable(tmp_path: Path) -> None:
    """Without --db, $PYAMPAM_DB names the database; events go beside it."""
    target = tmp_path / "elsewhere" / "mine.db"
    env = process_env(tmp_path, PYAMPAM_DB=str(target))
    assert run("user", "new", "CORP", "jen", env=env).returncode == 0
    assert target.exists()
    assert (target.parent / "mine.events.jsonl").exists()
    assert "CORP\\jen" in run("user", "get", env=env).stdout
    assert not (tmp_path / "home").exists()


def test_default_database_lives_in_the_xdg_data_folder_owner_only(tmp_path: Path) -> None:
    """With neither --db nor $PYAMPAM_DB, the database is $XDG_DATA_HOME/pyampam/pyampam.db."""
    if sys.platform.startswith(("win", "darwin")):
        pytest.skip("XDG layout")
    xdg = tmp_path / "xdg"
    done = run("user", "new", "CORP", "jen", env=process_env(tmp_path, XDG_DATA_HOME=str(xdg)))
    assert done.returncode == 0, done.stderr
    folder = xdg / "pyampam"
    assert (folder / "pyampam.db").exists()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "pyampam.db").stat().st_mode) == 0o600

    home_only = run("user", "get", "--json", env=process_env(tmp_path))
    assert home_only.returncode == 0
    assert json.loads(home_only.stdout) == {"users": []}
    assert (tmp_path / "home" / ".local" / "share" / "pyampam" / "pyampam.db").exists()


# -- the data folder ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {"HOME": "/h", "XDG_DATA_HOME": "/x"}, "/x/pyampam"),
        ("linux", {"HOME": "/h", "XDG_DATA_HOME": "relative"}, "/h/.local/share/pyampam"),
        ("linux", {"HOME": "/h"}, "/h/.local/share/pyampam"),
        ("darwin", {"HOME": "/Users/jen"}, "/Users/jen/Library/Application Support/pyampam"),
        ("win32", {"LOCALAPPDATA": "D:/Local"}, "D:/Local/pyampam"),
        ("win32", {"USERPROFILE": "C:/Users/jen"}, "C:/Users/jen/AppData/Local/pyampam"),
    ],
)  # fmt: skip
def test_default_data_dir_per_platform(
    platform: str, environ: dict[str, str], expected: str
) -> None:
    """The data folder: XDG on Linux, Application Support on macOS, LOCALAPPDATA on Windows."""
    assert default_data_dir(platform=platform, environ=environ) == Path(expected)


# -- in-process: many small cases ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["role", "new", "R", "--ttl", "abc"], "invalid duration 'abc'"),
        (["role", "new", "R", "--ttl", "0"], "must be positive"),
        (["role", "new", "R", "--available-from", "25:00", "--available-to", "26:00"], "'25:00'"),
        (["role", "new", "R", "--available-from", "08:00"], "both --available-from"),
        (["--fake-mfa", "maybe", "request", "new", "a", "b"], "such as SUCCESS_NO_PIN"),
        (["request", "new", "CORP/jen", "R", "--start", "tomorrow"], "ISO 8601"),
        (["request", "new", "CORP/jen", "R", "--timeout", "-1"], "positive number"),
        (["events", "--id", "70000"], "0 to 65535"),
        (["events", "--since", "yesterday"], "duration ago"),
        (["request", "list", "--status", "sleeping"], "invalid choice"),
        (["user", "set", "CORP/jen"], "nothing to change"),
        (["user", "set", "CORP/jen", "--phone", "1", "--clear-phone"], "not allowed with"),
        (["user", "new", "CORP", "jen", "--pin", "1234"], "unrecognized arguments"),
        (["--mfa-mode", "telepathy", "user", "get"], "invalid MFA mode"),
        (["--mfa-cert", "c.p12", "request", "new", "CORP/jen", "Finance"], "--mfa-settings"),
        (
            ["--fake-mfa", "success_no_pin", "request", "new", "a", "b", "--mfa-settings", "m"],
            "not both",
        ),
    ],
)
def test_bad_values_are_one_line_usage_errors(
    populated: Path, args: list[str], expected: str
) -> None:
    """Malformed values exit 2 with one line naming the value and the accepted form."""
    code, _, err = invoke("--db", populated, *args)
    assert code == 2
    assert expected in one_error_line(err)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["user", "get", "CORP/nobody"], "no PAM user is CORP\\nobody"),
        (["user", "get", "nobody"], "DOMAIN\\account"),
        (["user", "new", "CORP", "jen"], "already"),
        (["user", "new", "CORP", "amy", "--phone", "12"], "phone number '12'"),
        (["user", "remove", "CORP/jen"], "--remove-candidate CORP\\jen"),
        (["user", "set", "CORP/jen", "--clear-phone"], "MFA role"),
        (["role", "get", "Nope"], "no PAM role is named 'Nope'"),
        (["role", "new", "M", "--candidate", "CORP/bob", "--mfa"], "user set USER --phone"),
        (["role", "new", "A", "--approval"], "no approvers"),
        (["role", "new", "T", "--ttl", "2m"], "outside the configured bounds"),
        (["role", "set", "Finance", "--add-candidate", "CORP/bob", "--mfa"], "CORP\\bob"),
        (["request", "new", "CORP/bob", "Finance"], "not a candidate"),
        (["request", "new", "CORP/jen", "Finance", "--ttl", "2h"], "longer than the role's"),
        (["request", "new", "CORP/jen", "SQL File Access"], "--fake-mfa OUTCOME"),
        (["request", "approve", "1234", "--as", "CORP/ken"], "too short"),
        (["request", "approve", "zzzzzzzz", "--as", "CORP/ken"], "not a request id"),
        (["request", "close", "0123456789"], "no activation request id starts with"),
        (["--mfa-settings", "missing.xml", "request", "new", "CORP/jen", "Finance"], "missing"),
        (["monitor", "--directory", "nowhere.csv"], "nowhere.csv"),
    ],
)
def test_refusals_are_one_line_errors_with_exit_1(
    populated: Path, args: list[str], expected: str
) -> None:
    """What pyampam refuses exits 1 with one line on stderr saying what to change."""
    code, _, err = invoke("--db", populated, *args)
    assert code == 1
    assert expected in one_error_line(err)


def test_mfa_settings_build_the_real_client(populated: Path, tmp_path: Path) -> None:
    """--mfa-settings opens the SDK certificate: a Windows CertFilePath asks for --mfa-cert."""
    root = Path(__file__).resolve().parent.parent / "examples" / "sdk" / "pf"
    settings_file = tmp_path / "MfaSettings.xml"
    ok(
        "settings", "build", "--pf-auth", root / "pf_auth.cs", "--username", "pyampam",
        "--cert-path", "C:\\Program Files\\MfaCerts\\cert_key.p12", "--country-code", "1",
        "--out", settings_file,
    )  # fmt: skip
    request = ["request", "new", "CORP/jen", "Finance"]
    code, _, err = invoke("--db", populated, "--mfa-settings", settings_file, *request)
    assert code == 1
    assert "give --mfa-cert with a local copy of cert_key.p12" in one_error_line(err)
    # An approval-only role places no call, so nothing leaves this machine.
    made = as_json(
        "--db", populated, *request, "--mfa-settings", settings_file,
        "--mfa-cert", root / "certs" / "cert_key.p12",
    )  # fmt: skip
    assert made["status"] == "PendingApproval"


def test_self_approval_is_refused_with_a_cli_message(populated: Path) -> None:
    """Ken, an approver, cannot approve his own request; the message names no Python call."""
    request = as_json("--db", populated, "request", "new", "CORP/ken", "Finance")
    code, _, err = invoke(
        "--db", populated, "request", "approve", str(request["request_id"]), "--as", "CORP/ken"
    )
    assert code == 1
    line = one_error_line(err)
    assert "cannot approve their own request" in line
    assert "allow_self_approval" not in line
    rejected = as_json(
        "--db", populated, "request", "reject", str(request["request_id"])[:10],
        "--as", "CORP/ken", "--reason", "withdrawn",
    )  # fmt: skip
    assert rejected["status"] == "Rejected"
    assert rejected["status_reason"] == "rejected by CORP\\ken: withdrawn"


def test_role_set_changes_flags_and_candidate_lists(populated: Path) -> None:
    """`role set` toggles MFA, adds and removes candidates, and replaces the privileges."""
    ok("--db", populated, "user", "set", "CORP/bob", "--phone", "+44 20 7946 0958")
    role = as_json(
        "--db", populated, "role", "set", "Finance", "--no-approval", "--mfa",
        "--add-candidate", "CORP/bob", "--remove-candidate", "CORP/ken",
        "--privilege", "A", "--privilege", "B", "--rename", "Finance Ops", "--ttl", "45m",
    )  # fmt: skip
    assert role["display_name"] == "Finance Ops"
    assert (role["mfa_enabled"], role["approval_enabled"]) == (True, False)
    assert [c["source_identity"] for c in role["candidates"]] == ["CORP\\bob", "CORP\\jen"]
    assert role["privileges"] == ["A", "B"]
    assert role["ttl_seconds"] == 45 * 60
    window = as_json(
        "--db", populated, "role", "set", str(role["role_id"]),
        "--available-from", "08:00", "--available-to", "18:00",
    )  # fmt: skip
    assert window["availability_window_enabled"] is True
    off = as_json("--db", populated, "role", "set", "finance ops", "--no-window", "--no-mfa")
    assert (off["availability_window_enabled"], off["mfa_enabled"]) == (False, False)


def test_role_remove_refuses_open_requests_unless_told(populated: Path) -> None:
    """`role remove` with an open request exits 1 naming it; --close-requests closes it first."""
    request = as_json("--db", populated, "request", "new", "CORP/jen", "Finance")
    code, _, err = invoke("--db", populated, "role", "remove", "Finance")
    assert code == 1
    assert str(request["request_id"])[:8] in one_error_line(err)
    ok("--db", populated, "role", "remove", "Finance", "--close-requests")
    closed = as_json("--db", populated, "request", "get", str(request["request_id"]))
    assert closed["status"] == "Closed"
    code, _, err = invoke("--db", populated, "role", "get", "Finance")
    assert code == 1


def test_user_set_and_remove(populated: Path) -> None:
    """`user set` changes PAM fields only; `user remove` removes a user who is no candidate."""
    user = as_json(
        "--db", populated, "user", "set", "CORP/bob", "--phone", "4255550111",
        "--display-name", "Bob", "--email", "bob@corp.contoso.com",
        "--no-privileged-account-active",
    )  # fmt: skip
    assert user["phone"] == "+1 4255550111"
    assert user["privileged_account_active"] is False
    removed = as_json("--db", populated, "user", "remove", str(user["object_id"]))
    assert removed["removed"]["source_identity"] == "CORP\\bob"
    assert as_json("--db", populated, "user", "get", "--domain", "corp")["users"] != []
    assert "CORP\\bob" not in ok("--db", populated, "user", "get")


def test_user_get_shows_what_the_user_holds_now(populated: Path) -> None:
    """`user get USER` lists the roles and groups the user holds through PAM at this moment."""
    request = as_json("--db", populated, "request", "new", "CORP/jen", "Finance")
    ok("--db", populated, "request", "approve", str(request["request_id"]), "--as", "CORP/ken")
    shown = as_json("--db", populated, "user", "get", "CORP\\jen")
    assert shown["active_roles"] == ["Finance"]
    assert shown["privileges"] == ["Finance Admins"]


def test_request_list_filters(populated: Path) -> None:
    """`request list` filters by user, role, status and approver."""
    as_json("--db", populated, "request", "new", "CORP/jen", "Finance")
    code, _, _ = invoke("--db", populated, "--fake-mfa", "FAILED_USER_HUNGUP_ON_US", "request",
                        "new", "CORP/jen", "SQL File Access")  # fmt: skip
    assert code == 1
    listed = as_json("--db", populated, "request", "list")["requests"]
    assert [r["status"] for r in listed] == ["PendingApproval", "Rejected"]

    def statuses(*args: str) -> list[str]:
        found = as_json("--db", populated, "request", "list", *args)["requests"]
        return [r["status"] for r in found]

    assert statuses("--status", "pending") == ["PendingApproval"]
    assert statuses("--status", "REJECTED") == ["Rejected"]
    assert statuses("--role", "SQL File Access") == ["Rejected"]
    assert statuses("--approver", "CORP/ken") == ["PendingApproval"]
    assert statuses("--approver", "CORP/jen") == []
    assert statuses("--user", "CORP/ken") == []


def test_request_new_exits_1_when_rejected_but_prints_the_request(populated: Path) -> None:
    """A failed MFA gate exits 1; stdout still holds the request, as JSON with --json."""
    code, out, err = invoke(
        "--db", populated, "--fake-mfa", "FAILED_USER_HUNGUP_ON_US",
        "request", "new", "CORP/jen", "SQL File Access", "--json",
    )  # fmt: skip
    assert code == 1
    assert json.loads(out)["status"] == "Rejected"
    assert "FAILED_USER_HUNGUP_ON_US" in one_error_line(err)


def test_no_wait_prints_the_pending_request_then_records_the_outcome(populated: Path) -> None:
    """--no-wait prints the request PendingMFA; the outcome is recorded before the command ends."""
    code, out, err = invoke(
        "--db", populated, "request", "new", "CORP/jen", "SQL File Access",
        "--fake-mfa", "SUCCESS_NO_PIN", "--no-wait", "--json",
    )  # fmt: skip
    assert code == 0
    request = json.loads(out)
    assert request["status"] == "PendingMFA"
    assert "ended: Active" in err
    stored = as_json("--db", populated, "request", "get", request["request_id"])
    assert stored["status"] == "Active"


def test_scheduled_request_names_its_start(populated: Path) -> None:
    """A request with --start is Scheduled once approved, and says when it starts."""
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    request = as_json(
        "--db", populated, "request", "new", "CORP/jen", "Finance", "--start", start, "--ttl", "10m"
    )
    assert request["requested_time"] == f"{start}:00.000000Z"
    assert request["requested_ttl_seconds"] == 600
    out = ok("--db", populated, "request", "approve", request["request_id"], "--as", "CORP/ken")
    assert out.startswith(f"Request {request['request_id'][:8]} is Scheduled to start at")


def test_json_documents_have_stable_keys(populated: Path) -> None:
    """Users, roles and requests print the same keys every time, ids as text, times with Z."""
    user = as_json("--db", populated, "user", "get", "CORP/ken")
    assert set(user) >= {
        "object_id", "source_identity", "source_domain", "source_account_name", "display_name",
        "description", "email", "sid", "phone", "pin", "privileged_account_name",
        "privileged_display_name", "privileged_account_active",
    }  # fmt: skip
    assert user["pin"] is None
    role = as_json("--db", populated, "role", "get", "Finance")
    assert set(role) == {
        "role_id", "display_name", "description", "candidates", "approvers", "privileges",
        "ttl_seconds", "availability_window_enabled", "available_from", "available_to",
        "mfa_enabled", "approval_enabled",
    }  # fmt: skip
    request = as_json("--db", populated, "request", "new", "CORP/jen", "Finance")
    assert set(request) == {
        "request_id", "status", "requestor_id", "requestor", "role_id", "role", "justification",
        "requested_ttl_seconds", "requested_time", "creation_time", "creation_method",
        "activation_time", "expiration_time", "decided_by_id", "decided_by", "mfa_call_id",
        "status_reason",
    }  # fmt: skip
    assert str(request["creation_time"]).endswith("Z")


def test_events_filters(populated: Path) -> None:
    """`events` filters by id, user, role, request and time, and reads an empty log as empty."""
    first = as_json("--db", populated, "request", "new", "CORP/jen", "Finance")
    ok("--db", populated, "--fake-mfa", "SUCCESS_NO_PIN", "request", "new", "CORP/jen",
       "SQL File Access")  # fmt: skip
    ok("--db", populated, "request", "approve", str(first["request_id"]), "--as", "CORP/ken")

    def ids(*args: str) -> list[int]:
        found = as_json("--db", populated, "events", *args)["events"]
        return [event["event_id"] for event in found]

    assert ids("--role", "finance") == [60100, 60102, 60104]
    assert ids("--request", str(first["request_id"])[:8], "--last", "1") == [60104]
    assert ids("--user", "CORP/jen", "--id", "103") == [103]
    assert ids("--user", str(first["requestor_id"]), "--id", "103") == [103]
    assert ids("--since", "1h") == ids()
    assert ids("--until", "2000-01-01") == []
    assert ids("--user", "CORP/ken") == []
    text = ok("--db", populated, "events", "--id", "103")
    assert text.splitlines()[0].split() == ["TIME", "ID", "LEVEL", "SOURCE", "MESSAGE"]
    empty = ok("--db", populated.parent / "other.db", "events")
    assert "does not exist yet" in empty


# -- the sweep: random command lines never end in a traceback ------------------------------------

WORDS = [
    "user", "role", "request", "new", "get", "set", "remove", "list", "approve", "reject",
    "close", "expire", "monitor", "events", "CORP", "jen", "CORP\\jen", "CORP/ken", "Finance",
    "SQL File Access", "--json", "--ttl", "1h", "abc", "0", "25:00", "08:00", "--mfa",
    "--no-mfa", "--approval", "--candidate", "--approver", "--privilege", "--as", "--status",
    "all", "pending", "--id", "101", "825", "--since", "2h", "--until", "--user", "--role",
    "--request", "--start", "2030-01-01T10:00", "--fake-mfa", "SUCCESS_NO_PIN",
    "success_no_pin_but_timeout", "--phone", "+1 425 555 0100", "--clear-phone", "--pin-stdin",
    "--clear-pin", "--directory", "--available-from", "--available-to", "--no-window",
    "--rename", "--add-candidate", "--remove-candidate", "--justification", "--no-wait",
    "--timeout", "--last", "--update", "--close-requests", "--mfa-mode", "pin", "--display-name",
    "--debug", "-h", "00000000", "--reason",
]  # fmt: skip
ARGUMENT = st.one_of(
    st.sampled_from(WORDS),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)
COMMANDS = [
    ["user", "new", "CORP"], ["user", "get"], ["user", "set", "CORP/jen"], ["user", "remove"],
    ["role", "new"], ["role", "get"], ["role", "set", "Finance"], ["role", "remove"],
    ["request", "new", "CORP/jen"], ["request", "list"], ["request", "approve"],
    ["request", "reject"], ["request", "close"], ["request", "get"], ["expire"],
    ["monitor", "--directory"], ["events"],
]  # fmt: skip
# Half start with a real command, so most get past the parser into the commands themselves.
ARGV = st.one_of(
    st.lists(ARGUMENT, max_size=8),
    st.tuples(st.sampled_from(COMMANDS), st.lists(ARGUMENT, max_size=6)).map(
        lambda parts: [*parts[0], *parts[1]]
    ),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=ARGV, stdin=st.sampled_from(["", "1234\n", "12ab\n"]))
def test_random_command_lines_never_end_in_a_traceback(
    populated: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str
) -> None:
    """Any argv ends with exit 0, 1 or 2; a failure prints one line; --json prints JSON."""
    monkeypatch.chdir(populated.parent)  # a path a random argument names lands in tmp_path
    monkeypatch.setenv("PYAMPAM_DB", str(populated))
    monkeypatch.setenv("HOME", str(populated.parent / "home"))
    args = [a for a in argv if a != "--debug"]  # --debug prints tracebacks on purpose
    code, out, err = invoke("--db", populated, *args, stdin=stdin)
    assert code in (0, 1, 2)
    assert "Traceback" not in err
    if code != 0:
        assert len(err.strip().splitlines()) == 1, err
    elif "--json" in args and "-h" not in args and out.strip():
        json.loads(out)
