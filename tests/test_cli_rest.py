"""`pyampam rest ...`: the client commands as processes against a test server; `rest serve`.

Passwords go through PYAMPAM_PASSWORD only, and must never show in what the CLI prints.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from pyampam._cli._rest import read_users_file
from pyampam.activation import PamService
from pyampam.exceptions import InvalidValueError
from pyampam.store import SqliteStore
from pyampam.testing import PamRestTestServer

USERS = {"CORP\\jen": "Jen:S3cret-pw", "CORP\\bob": "B0b:S3cret-pw"}


class Run(NamedTuple):
    code: int
    out: str
    err: str


def rest(
    server_url: str | None, *args: str, user: str | None = "CORP\\jen", password: str | None = None
) -> Run:
    """Run `python -m pyampam rest [--url URL] [--user USER] ARGS` with the password in the env."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYAMPAM_")}
    if user is not None:
        env["PYAMPAM_PASSWORD"] = USERS.get(user, "") if password is None else password
    command = [sys.executable, "-m", "pyampam", "rest"]
    if server_url is not None:
        command += ["--url", server_url]
    if user is not None:
        command += ["--user", user]
    done = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )
    for password_text in USERS.values():
        assert password_text not in done.stdout + done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


class World(NamedTuple):
    server: PamRestTestServer
    url: str


@pytest.fixture
def world() -> Iterator[World]:
    with PamRestTestServer(users=USERS) as server:
        service = server.service
        jen = service.new_user("CORP", "jen", phone="+1 425 555 0100")
        bob = service.new_user("CORP", "bob")
        service.new_role("SQL Admins", candidates=[jen], approvers=[bob], approval_enabled=True)
        service.new_role("Phone", candidates=[jen], mfa_enabled=True, ttl=dt.timedelta(hours=2))
        yield World(server, server.url)
        assert server.errors == ()


def test_roles_are_listed_as_a_table_and_as_json(world: World) -> None:
    """`rest roles`: one row per role; --json (before or after the action) gives the values."""
    table = rest(world.url, "roles")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["ROLE", "TTL", "MFA", "APPROVAL", "AVAILABLE", "ROLE", "ID"]
    assert any(line.startswith("Phone") and " 2h " in line for line in lines)
    as_json = rest(world.url, "roles", "--json")
    assert as_json.code == 0, as_json.err
    roles = {role["display_name"]: role for role in json.loads(as_json.out)["roles"]}
    assert roles["Phone"]["ttl"] == 7200
    assert roles["Phone"]["mfa_enabled"] is True
    assert roles["SQL Admins"]["approval_enabled"] is True


def test_request_approve_close_through_the_cli(world: World) -> None:
    """Jen requests, Bob sees it pending and approves it by a short id, Jen closes it."""
    made = rest(world.url, "--json", "request", "sql admins", "--justification", "ticket 1")
    assert made.code == 0, made.err
    request = json.loads(made.out)
    assert request["status"] == "PendingApproval"
    assert request["justification"] == "ticket 1"
    pending = rest(world.url, "pending", user="CORP\\bob")
    assert pending.code == 0, pending.err
    assert "priv.jen" in pending.out
    approval_id = pending.out.splitlines()[1].split()[0]
    approved = rest(world.url, "approve", approval_id[:8], user="CORP\\bob")
    assert approved.code == 0, approved.err
    assert "Approved the request of priv.jen for SQL Admins." in approved.out
    listed = rest(world.url, "requests")
    assert listed.code == 0, listed.err
    assert "Active" in listed.out
    assert "SQL Admins" in listed.out
    closed = rest(world.url, "close", request["request_id"][:10])
    assert closed.code == 0, closed.err
    assert closed.out.strip() == f"Closed request {request['request_id']}."
    final = json.loads(rest(world.url, "requests", "--json").out)["requests"]
    assert [one["status"] for one in final] == ["Closed"]


def test_rejecting_by_the_request_id(world: World) -> None:
    """`rest reject` takes the request's own id as well as the approval's."""
    request = json.loads(rest(world.url, "--json", "request", "SQL Admins").out)
    rejected = rest(world.url, "reject", request["request_id"], user="CORP\\bob")
    assert rejected.code == 0, rejected.err
    assert rejected.out.startswith("Rejected")
    assert rest(world.url, "pending", user="CORP\\bob").out.strip() == "Nothing to approve."


def test_request_wait_sees_an_mfa_role_become_active(world: World) -> None:
    """`rest request ROLE --wait 10`: the fake MFA call succeeds, the request is Active."""
    done = rest(world.url, "request", "Phone", "--ttl", "30m", "--wait", "10")
    assert done.code == 0, done.err
    fields = dict(line.split(None, 1) for line in done.out.splitlines() if " " in line)
    assert fields["status"].strip() == "Active"
    assert fields["TTL"].strip() == "30m"


def test_a_wrong_password_fails_in_one_line_without_showing_it(world: World) -> None:
    """Exit 1, one line on stderr naming the 401; the password is never printed."""
    done = rest(world.url, "roles", password="Wrong:Password-1")
    assert done.code == 1
    assert done.out == ""
    assert len(done.err.strip().splitlines()) == 1
    assert "401" in done.err
    assert "Wrong:Password-1" not in done.err


def test_without_a_password_the_cli_says_where_to_give_it(world: World) -> None:
    """No PYAMPAM_PASSWORD and no terminal: exit 1 naming the variable."""
    done = rest(world.url, "roles", password="")
    assert done.code == 1
    assert "PYAMPAM_PASSWORD" in done.err


def test_errors_of_the_api_are_one_line_with_mims_message(world: World) -> None:
    """A role that is not there, and an injected 503: exit 1 with a clear line."""
    missing = rest(world.url, "request", "Nope")
    assert missing.code == 1
    assert "no role 'Nope'" in missing.err
    world.server.inject(status=503, times=None)
    down = rest(world.url, "requests")
    assert down.code == 1
    assert "503" in down.err
    assert "unavailable" in down.err.lower()


def test_the_url_is_required_and_comes_from_the_environment_too(world: World) -> None:
    """No --url: usage error (exit 2); PYAMPAM_REST_URL is read when it is missing."""
    done = rest(None, "roles")
    assert done.code == 2
    assert "--url" in done.err
    env = {**os.environ, "PYAMPAM_REST_URL": world.url, "PYAMPAM_PASSWORD": USERS["CORP\\jen"]}
    via_env = subprocess.run(
        [sys.executable, "-m", "pyampam", "rest", "roles", "--user", "CORP\\jen"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )
    assert via_env.returncode == 0, via_env.stderr
    assert "SQL Admins" in via_env.stdout


def test_whoami_prints_the_account_the_api_sees(world: World) -> None:
    """`rest whoami`: the DOMAIN\\user of the logon."""
    done = rest(world.url, "whoami", user="CORP\\bob")
    assert done.code == 0, done.err
    assert done.out.strip() == "CORP\\bob"


# -- rest serve --------------------------------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "pam.db"
    with SqliteStore(path) as store, PamService(store=store) as service:
        jen = service.new_user("CORP", "jen")
        service.new_role("Instant", candidates=[jen])
    return path


def test_serve_answers_over_ntlm_and_stops_cleanly_on_ctrl_c(
    database: Path, tmp_path: Path
) -> None:
    """`rest serve --port 0`: prints its URL, serves the database's roles, exits 0 on SIGINT."""
    users = tmp_path / "users.txt"
    users.write_text("# who may log on\nCORP\\jen:Jen:S3cret-pw\n", encoding="utf-8")
    users.chmod(0o600)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYAMPAM_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyampam",
            "rest",
            "serve",
            "--db",
            str(database),
            "--port",
            "0",
            "--users",
            str(users),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Serving MIM's PAM REST API at http://127.0.0.1:"), first
        assert "CORP\\jen" in first
        url = first.split(" at ", 1)[1].split(" ", 1)[0]
        from pyampam.rest import PamRestClient, windows_auth

        with PamRestClient(url, auth=windows_auth("CORP\\jen", "Jen:S3cret-pw")) as client:
            assert [role.display_name for role in client.roles()] == ["Instant"]
        port = int(url.split(":")[2].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/pamresources/pamroles?v=1")
        assert connection.getresponse().status == 401
        connection.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.strip().endswith("Stopped.")
    assert "S3cret" not in out + err


def test_serve_without_users_or_with_contradicting_options_is_a_usage_error(
    database: Path, tmp_path: Path
) -> None:
    """NTLM needs --users; --users and --caller contradict --no-auth and NTLM respectively."""
    base = [sys.executable, "-m", "pyampam", "rest", "serve", "--db", str(database), "--port", "0"]
    users = tmp_path / "u.txt"
    users.write_text("CORP\\jen:x\n", encoding="utf-8")
    for extra, words in (
        ([], "give --users FILE"),
        (["--no-auth", "--users", str(users)], "--users goes with"),
        (["--users", str(users), "--caller", "CORP\\jen"], "--caller goes with --no-auth"),
    ):
        done = subprocess.run(
            [*base, *extra], capture_output=True, text=True, check=False, timeout=60
        )
        assert done.returncode == 2, done.stderr
        assert words in done.stderr


# -- the users file ----------------------------------------------------------------------------


def test_a_users_file_of_lines_keeps_colons_in_passwords(tmp_path: Path) -> None:
    """DOMAIN\\user:password lines; # comments skipped; after the first colon: the password."""
    path = tmp_path / "users"
    path.write_text("\n# comment\nCORP\\jen:a:b:c\n  CORP\\bob : pw \n", encoding="utf-8")
    assert read_users_file(str(path)) == {"CORP\\jen": "a:b:c", "CORP\\bob": " pw "}


def test_a_users_csv_has_user_and_password_columns(tmp_path: Path) -> None:
    """A .csv file is read by its header, in any column order."""
    path = tmp_path / "users.csv"
    path.write_text('Password,User\n"p,w",CORP\\jen\n', encoding="utf-8")
    assert read_users_file(str(path)) == {"CORP\\jen": "p,w"}


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("u.txt", "CORP\\jen hunter2\n", "u.txt:1: no ':'"),
        ("u.txt", "\nCORP\\jen:\n", "u.txt:2: write each user"),
        ("u.txt", "jen:hunter2\n", "u.txt:1: write each user"),
        ("u.txt", "CORP\\jen:hunter2\ncorp\\JEN:hunter3\n", "u.txt:2: corp\\JEN is listed twice"),
        ("u.txt", "# nobody\n", "no users"),
        ("u.csv", "name,secret\nCORP\\jen,hunter2\n", "u.csv:1: the CSV header"),
    ],
)
def test_users_file_errors_name_the_line_and_never_the_password(
    tmp_path: Path, name: str, content: str, words: str
) -> None:
    """Each mistake is located (file:line); no password appears in the message."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidValueError) as caught:
        read_users_file(str(path))
    assert words in str(caught.value)
    assert "hunter" not in str(caught.value)


def test_an_unreadable_users_file_is_named(tmp_path: Path) -> None:
    """A missing file: the error names it."""
    with pytest.raises(InvalidValueError, match="cannot read the users file"):
        read_users_file(str(tmp_path / "absent"))
