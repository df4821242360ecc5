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
