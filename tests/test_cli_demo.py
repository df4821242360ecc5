"""`pyampam demo`: the article's story, played on a throw-away store with a fake provider."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pyampam._cli import main
from pyampam._cli._demo import DEMO_PIN

SHORT_ID = re.compile(r"\b[0-9a-f]{8}\b")


def invoke(*args: str | Path) -> tuple[int, str, str]:
    """Run the CLI in this process; the exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder the demo's temporary files go to, so the test can see what is left."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_demo_runs_as_a_process_shows_the_story_and_leaves_nothing(tmp_path: Path) -> None:
    """`pyampam demo` exits 0 in seconds, shows 101, 103 and 825, and leaves no temporary files."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "TEMP": str(scratch), "TMP": str(scratch)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pyampam", "demo"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert time.monotonic() - started < 10
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert "events: 60100, 101 (Error, MIM Service), 60103" in out
    assert "events: 60100, 103 (Information, MIM Service), 60104" in out
    assert "events: 825 (Warning, PAM Monitoring Service)" in out
    assert "SUCCESS_NO_PIN_BUT_TIMEOUT (Answered with no input: usually voicemail)" in out
    assert "-> Rejected" in out
    assert "-> Active until 10:07" in out
    assert "-> PendingApproval" in out
    assert '"Finance Share Access" -> Expired' in out
    assert "copied once from the directory" in out
    assert DEMO_PIN not in out
    assert list(scratch.iterdir()) == []


def test_demo_json_is_one_document_with_the_timeline_and_the_events(private_tmp: Path) -> None:
    """`demo --json` prints the timeline and the event log read back, without the PIN."""
    code, out, err = invoke("demo", "--json")
    assert code == 0, err
    assert DEMO_PIN not in out
    document = json.loads(out)
    assert document["start"] == "2016-06-01T09:00:00.000000Z"
    assert document["kept"] is None
    steps = document["timeline"]
    ids = [event["event_id"] for step in steps for event in step["events"]]
    assert [event["event_id"] for event in document["events"]] == ids
    mim = [
        (e["event_id"], e["level"], e["source"]) for e in document["events"] if e["event_id"] < 1000
    ]
    assert mim == [
        (101, "Error", "MIM Service"),
        (103, "Information", "MIM Service"),
        (825, "Warning", "PAM Monitoring Service"),
    ]
    failed = next(e for e in document["events"] if e["event_id"] == 101)
    assert failed["call_result"] == "SUCCESS_NO_PIN_BUT_TIMEOUT"
    assert [step["action"] for step in steps][:3] == ["directory", "new_user", "new_role"]
    assert steps[-1]["action"] == "expire_due"
    assert all(step["time"].endswith("Z") for step in steps)
    assert list(private_tmp.iterdir()) == []


def test_demo_is_the_same_every_time_but_for_ids(private_tmp: Path) -> None:
    """Two runs print the same text once the generated request ids are blanked out."""
    first = invoke("demo")[1]
    second = invoke("demo")[1]
    assert SHORT_ID.search(first)
    assert SHORT_ID.sub("ID", first) == SHORT_ID.sub("ID", second)


def test_demo_keep_leaves_a_store_the_other_commands_can_read(tmp_path: Path) -> None:
    """`demo --keep DIR` keeps the store and events; `events` and `request list` read them."""
    kept = tmp_path / "kept"
    code, out, err = invoke("demo", "--keep", kept)
    assert code == 0, err
    database = kept / "pyampam.db"
    assert database.exists()
    assert (kept / "pyampam.events.jsonl").exists()
    assert f"pyampam --db {database} request list" in out

    code, out, _ = invoke("--db", database, "events", "--id", "825", "--json")
    assert code == 0
    assert [event["event_id"] for event in json.loads(out)["events"]] == [825]
    code, out, _ = invoke("--db", database, "request", "list", "--json")
    statuses = [request["status"] for request in json.loads(out)["requests"]]
    assert statuses == ["Rejected", "Expired", "Expired"]

    code, _, err = invoke("demo", "--keep", kept)
    assert code == 1
    assert "already exists" in err
    assert len(err.strip().splitlines()) == 1
