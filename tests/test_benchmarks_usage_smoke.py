"""benchmarks/usage_report.py --quick runs end to end and prints its two headline figures.

Only that it completes is checked: the figures depend on the machine, so no time or memory
figure is ever asserted here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark_smoke import NUMBER, VERDICT
from benchmark_smoke import headline_figures as shared_headline_figures

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "usage_report.py"
_NUMBER = NUMBER
_VERDICT = VERDICT
HEADLINES = {
    "ratio": re.compile(
        rf"^HEADLINE ratio: pyampam {_NUMBER} s, csv\.reader {_NUMBER} s for ([0-9]+) rows: "
        rf"{_NUMBER}x \(target <= 2x\): {_VERDICT}$",
        re.MULTILINE,
    ),
    "memory": re.compile(
        rf"^HEADLINE memory: peak -?{_NUMBER} MB above the interpreter's baseline "
        rf"\(resident set high-water mark, child process\) \(target < 100 MB\): {_VERDICT}$",
        re.MULTILINE,
    ),
}


def headline_figures(output: str) -> dict[str, tuple[float, ...]]:
    """The numbers of each headline line; ValueError naming the first one missing."""
    return shared_headline_figures(output, HEADLINES)


@pytest.fixture(scope="module")
def quick_run_output() -> str:
    """The output of one --quick run."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_quick_run_prints_both_headlines(quick_run_output: str) -> None:
    """A --quick run completes over 100,000 rows and prints the ratio and memory headlines."""
    figures = headline_figures(quick_run_output)

    assert figures["ratio"][2] == 100_000
    assert all(number >= 0 for number in figures["ratio"])
    assert "records only" in quick_run_output


@pytest.mark.parametrize("name", sorted(HEADLINES))
def test_parsing_fails_when_a_headline_is_missing(quick_run_output: str, name: str) -> None:
    """Without any one headline line, reading the output fails and names that headline."""
    lines = quick_run_output.splitlines()
    kept = [line for line in lines if not line.startswith(f"HEADLINE {name}:")]
    assert len(kept) == len(lines) - 1

    with pytest.raises(ValueError, match=f"no {name} headline"):
        headline_figures("\n".join(kept))
