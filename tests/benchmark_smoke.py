"""Shared by the benchmark smoke tests: run a benchmark script and read its HEADLINE lines."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
VERDICT = r"(?:met|MISSED)"


def headline_figures(
    output: str, headlines: Mapping[str, re.Pattern[str]]
) -> dict[str, tuple[float, ...]]:
    """The numbers of each headline line; ValueError naming the first one missing."""
    figures = {}
    for name, pattern in headlines.items():
        match = pattern.search(output)
        if match is None:
            raise ValueError(f"the benchmark printed no {name} headline")
        figures[name] = tuple(float(number) for number in match.groups())
    return figures


def run_script(script: Path, *arguments: str, timeout: float = 120) -> str:
    """Run a benchmark script with this interpreter; fail with its output unless it exits 0."""
    result = subprocess.run(
        [sys.executable, str(script), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
