"""Docs are code: every Python example in README.md and docs/ runs, in order, per page.

A block preceded by ``<!-- notest -->`` is skipped (for examples that need a real MIM server or
the real Azure endpoints). Each page runs in a fresh temporary folder holding a copy of
``examples/``, so the examples may use relative paths such as ``examples/azure-mfa-sdk.zip``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"(<!-- notest -->\s*)?```python\n(.*?)```", re.S)


def _blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [code for skip, code in BLOCK.findall(text) if not skip]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_python_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's Python blocks run top to bottom without an error."""
    blocks = _blocks(page)
    if not blocks:
        pytest.skip("no Python examples on this page")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, code in enumerate(blocks, start=1):
        try:
            exec(compile(code, f"{page.name}[block {number}]", "exec"), namespace)  # noqa: S102
        except Exception as error:  # pragma: no cover - the message is the point
            raise AssertionError(f"{page.name}, block {number} failed: {error!r}") from error
    assert os.getcwd() == str(tmp_path)


def test_call_results_page_matches_the_enum() -> None:
    """The call-results reference table lists every CallResult with its flag, and nothing else."""
    from pyampam.providers import CallResult

    page = (ROOT / "docs" / "reference" / "call-results.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z_]+)` \| .+ \| (yes|no) \|$", page, re.M)
    assert dict(rows) == {
        member.name: "yes" if member.can_authenticate else "no" for member in CallResult
    }


def test_event_id_table_matches_the_enum() -> None:
    """The activation reference lists every EventId with its level, source and meaning."""
    from pyampam.events import PYAMPAM_EVENT_IDS, EventId, EventLevel

    page = (ROOT / "docs" / "reference" / "activation.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| (\d+) \| `(\w+)` \| (\w+) \| ([^|]+) \| ([^|]+) \|$", page, re.M)
    assert table == [(str(int(e)), e.name, e.level.value, e.source, e.meaning) for e in EventId], (
        "the event id table differs from EventId: generate it again"
    )
    mim = {(int(e), e.level, e.source, e.meaning) for e in EventId if e.is_mim}
    assert mim == {
        (101, EventLevel.ERROR, "MIM Service",
         "User did not complete Azure MFA (e.g. did not answer the phone)"),
        (103, EventLevel.INFORMATION, "MIM Service", "User completed Azure MFA during activation"),
        (825, EventLevel.WARNING, "PAM Monitoring Service", "Telephone number has been changed"),
    }  # fmt: skip
    assert all(e in PYAMPAM_EVENT_IDS for e in EventId if not e.is_mim)


def test_directory_column_table_matches_the_readers() -> None:
    """The activation reference's CSV/LDIF table is what CsvDirectory and LdifDirectory accept."""
    from pyampam.directory import CSV_COLUMNS, LDIF_ATTRIBUTES

    page = (ROOT / "docs" / "reference" / "activation.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| ([^|]*) \| ([^|]*) \|$", page, re.M)

    def names(cell: str) -> tuple[str, ...]:
        return tuple(re.findall(r"`([^`]+)`", cell))

    assert [(field, names(csv), names(ldif)) for field, csv, ldif in rows] == [
        (field, CSV_COLUMNS[field], LDIF_ATTRIBUTES.get(field, ())) for field in CSV_COLUMNS
    ]
