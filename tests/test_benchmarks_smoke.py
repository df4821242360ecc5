"""benchmarks/providers.py runs end to end and prints its three headline figures.

Only that it completes is checked: the figures themselves depend on the machine, so no time is
ever asserted here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmark_smoke import NUMBER, VERDICT, run_script
from benchmark_smoke import headline_figures as shared_headline_figures

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "providers.py"
TINY_RUN = [
    "--quick",
    "--rounds",
    "1",
    "--calls",
    "3",
    "--reference-calls",
    "2",
    "--burst-calls",
    "4",
    "--burst-delay",
    "0.1",
    "--burst-rounds",
    "1",
]
_NUMBER = NUMBER
_VERDICT = VERDICT
HEADLINES = {
    "throughput": re.compile(
        rf"^HEADLINE throughput: pyampam {_NUMBER} calls/s, reference-style {_NUMBER} calls/s: "
        rf"{_NUMBER}x \(target >= 3x\): {_VERDICT}$",
        re.MULTILINE,
    ),
    "overhead": re.compile(
        rf"^HEADLINE overhead: pyampam/bare time per call {_NUMBER}x "
        rf"\([+-][0-9]+ us per call\) \(target <= 1\.15x\): {_VERDICT}$",
        re.MULTILINE,
    ),
    "burst": re.compile(
        rf"^HEADLINE burst: [0-9]+ calls answered after {_NUMBER} s, first initiate to last "
        rf"result: new client {_NUMBER} s \({_NUMBER}x bare\), {_VERDICT}; kept alive "
        rf"{_NUMBER} s \({_NUMBER}x bare\), {_VERDICT} \(target <= {_NUMBER} s\)$",
        re.MULTILINE,
    ),
}


def headline_figures(output: str) -> dict[str, tuple[float, ...]]:
    """The numbers of each headline line; ValueError naming the first one missing."""
    return shared_headline_figures(output, HEADLINES)


def run_benchmark(*arguments: str) -> str:
    """Run the benchmark script; its standard output."""
    return run_script(SCRIPT, *arguments, timeout=120)


@pytest.fixture(scope="module")
def tiny_run_output() -> str:
    return run_benchmark(*TINY_RUN)


def test_tiny_quick_run_prints_all_three_headlines(tiny_run_output: str) -> None:
    """A --quick run with tiny counts completes and prints the three headline figures."""
    figures = headline_figures(tiny_run_output)

    assert set(figures) == {"throughput", "overhead", "burst"}
    assert all(number >= 0 for numbers in figures.values() for number in numbers)


@pytest.mark.parametrize("name", sorted(HEADLINES))
def test_parsing_fails_when_a_headline_is_missing(tiny_run_output: str, name: str) -> None:
    """Without any one headline line, reading the output fails and names that headline."""
    lines = tiny_run_output.splitlines()
    kept = [line for line in lines if not line.startswith(f"HEADLINE {name}:")]
    assert len(kept) == len(lines) - 1

    with pytest.raises(ValueError, match=f"no {name} headline"):
        headline_figures("\n".join(kept))


def test_profile_mode_runs() -> None:
    """--profile (layer timings and CPU profiles) completes with a handful of calls."""
    output = run_benchmark("--profile", "--profile-calls", "10")

    assert "Layers of one sequential call" in output
    assert "pyampam minus bare" in output
