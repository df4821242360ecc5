"""benchmarks/activation.py runs end to end and prints its three headline figures.

Only that it completes (and that pyampam gave right answers, which the script itself checks) is
tested: the figures depend on the machine, so no time is ever asserted here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmark_smoke import NUMBER, VERDICT, run_script
from benchmark_smoke import headline_figures as shared_headline_figures

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "activation.py"
TINY_RUN = (
    "--quick",
    "--rounds",
    "1",
    "--activations",
    "5",
    "--big",
    "300",
    "--due",
    "20",
    "--expire-rounds",
    "1",
    "--burst-calls",
    "10",
    "--burst-latency",
    "0.1",
    "--burst-rounds",
    "1",
)
_NUMBER = NUMBER
_VERDICT = VERDICT
HEADLINES = {
    "activations": re.compile(
        rf"^HEADLINE activations: pyampam {_NUMBER} activations/s, bare sqlite3 {_NUMBER} "
        rf"inserts/s: {_NUMBER}x pyampam/bare \(no target; .+\)$",
        re.MULTILINE,
    ),
    "expire_due": re.compile(
        rf"^HEADLINE expire_due: 20 due among 300: {_NUMBER} s, among 20: {_NUMBER} s: "
        rf"{_NUMBER}x \(target about 1x, <= 1\.5x\): {_VERDICT}$",
        re.MULTILINE,
    ),
    "burst": re.compile(
        rf"^HEADLINE burst: 10 MFA activations, calls answered after 0\.1 s, first request to "
        rf"last outcome: MemoryStore {_NUMBER} s, {_VERDICT}; SqliteStore {_NUMBER} s, "
        rf"{_VERDICT} \(target < {_NUMBER} s\)$",
        re.MULTILINE,
    ),
}


def headline_figures(output: str) -> dict[str, tuple[float, ...]]:
    """The numbers of each headline line; ValueError naming the first one missing."""
    return shared_headline_figures(output, HEADLINES)


def run_benchmark(*arguments: str) -> str:
    """Run the benchmark script; its standard output."""
    return run_script(SCRIPT, *arguments, timeout=60)


@pytest.fixture(scope="module")
def tiny_run_output() -> str:
    return run_benchmark(*TINY_RUN)


def test_tiny_quick_run_prints_all_three_headlines(tiny_run_output: str) -> None:
    """A --quick run with tiny sizes exits 0 and prints the three headline figures."""
    figures = headline_figures(tiny_run_output)

    assert set(figures) == {"activations", "expire_due", "burst"}
    assert all(number > 0 for numbers in figures.values() for number in numbers)


def test_tiny_run_prints_the_three_tables(tiny_run_output: str) -> None:
    """Each measurement has its table: both rates, both expire_due times, both stores' bursts."""
    for line in (
        "pyampam request_activation -> Active",
        "bare sqlite3 INSERT + COMMIT",
        "20 due among 300 Active",
        "20 due among 20 Active",
        "MemoryStore: all Active",
        "SqliteStore: all Active",
    ):
        assert line in tiny_run_output


@pytest.mark.parametrize("name", sorted(HEADLINES))
def test_parsing_fails_when_a_headline_is_missing(tiny_run_output: str, name: str) -> None:
    """Without any one headline line, reading the output fails and names that headline."""
    lines = tiny_run_output.splitlines()
    kept = [line for line in lines if not line.startswith(f"HEADLINE {name}:")]
    assert len(kept) == len(lines) - 1

    with pytest.raises(ValueError, match=f"no {name} headline"):
        headline_figures("\n".join(kept))


def test_tables_built_through_add_request_work_too() -> None:
    """--build-through-api (one add_request per row) builds tables the run can use.

    The script itself checks that expire_due expires exactly the due requests, and exits
    non-zero otherwise.
    """
    output = run_benchmark(*TINY_RUN, "--build-through-api")

    assert "(add_request() per row)" in output
    assert "expire_due" in headline_figures(output)
