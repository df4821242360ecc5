"""README and CI agree: CI runs the README's commands exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", readme)


def test_readme_opens_with_two_commands() -> None:
    """README gives two set-up commands: the main job, then the tests."""
    commands = _readme_commands()
    assert len(commands) >= 2
    assert commands[0].startswith("pip install . && pyampam ")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_commands_verbatim() -> None:
    """`.ci/run` contains both README commands, character for character."""
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip("not a source checkout")
    lines = ci.read_text(encoding="utf-8").splitlines()
    for command in _readme_commands()[:2]:
        assert command in lines
