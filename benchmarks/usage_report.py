"""How fast and how lean pyampam reads and sums up an Azure MFA usage report.

Generates a "User Details" export of 1,000,000 rows (``--rows``), then times, in the same run:

- **pyampam**: ``summarize_usage(read_usage_report(path))``: every row parsed into a
  ``UsageRecord`` (call result looked up, date/time read into an aware datetime, extras kept)
  and summed up (failures by call result, user and day);
- **csv.reader**: a bare ``for row in csv.reader(f): pass`` over the same file, opened the same
  way (UTF-8, ``newline=""``): the floor for any CSV reader written in Python;
- for information, **records only**: ``for record in read_usage_report(path): pass``.

Rounds are interleaved (the order rotates every round) and the ratio is the median of the
per-round ratios pyampam/csv.reader. **Target: <= 2x.**

Peak memory: the pyampam pass runs again in a child process. The baseline is its resident set
after importing pyampam; the peak is the resident set's high-water mark after the pass, so
nothing the pass allocated and freed is missed. The difference is what the pass needed on top
of the interpreter. On Linux both come from ``/proc/self/status`` (VmRSS, VmHWM), because
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` survives an exec and would report the parent's
peak; elsewhere ``ru_maxrss`` serves for both (the figure may then read low). **Target:
< 100 MB.** The reader
holds one row at a time; the summary grows with the distinct (day, user, call result)
combinations among the failures, which the run prints. With ``--tracemalloc`` a second child
also reports the peak of Python allocations traced by ``tracemalloc`` (slower; counts Python
objects only).

    python benchmarks/usage_report.py                 # 1,000,000 rows, 5 rounds: under 2 minutes
    python benchmarks/usage_report.py --quick         # 100,000 rows, 3 rounds
    python benchmarks/usage_report.py --keep          # keep the generated file and reuse it
    python benchmarks/usage_report.py --profile       # where pyampam's time goes (cProfile)

The file: columns ``DATE/TIME, AUTH TYPE, USERNAME, Name, PHONE, AUTHD, CALL RESULT`` (PHONE
goes to ``extras``), times ``2026-01-05 09:00:00`` (``--time-format us`` writes
``1/5/2026 9:00:00 AM``), 500 users, 70% SDK rows, 10% of rows failed with one of six
failure results, 5% of names written ``"Last, First"`` (quoted). The last two lines start
with ``HEADLINE``; the script exits 0 whether or not a target is met (they say ``met`` or
``MISSED``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 100.0
HEADER = ["DATE/TIME", "AUTH TYPE", "USERNAME", "Name", "PHONE", "AUTHD", "CALL RESULT"]
FAILURES = (
    "SUCCESS_NO_PIN_BUT_TIMEOUT",
    "FAILED_USER_HUNGUP_ON_US",
    "CONFIG_ISSUE",
    "SUCCESS_INVALID_INPUT",
    "FAILED_PHONE_BUSY",
    "FAILED_AUTH_RESULT_TIMEOUT",
)
FIRST_NAMES = ("Jen", "Ken", "Bob", "Ana", "Raj", "Li", "Sam", "Eva", "Tom", "Mia")
LAST_NAMES = ("Smith", "Garcia", "Chen", "Okafor", "Novak", "Patel", "Berg", "Rossi")
START = dt.datetime(2026, 1, 5, 9, 0, 0)


# -- the file ---------------------------------------------------------------------------------


def generate(path: Path, rows: int, time_format: str, seed: int = 2026) -> None:
    """Write a usage report of *rows* rows to *path*, the same for the same arguments."""
    rng = random.Random(seed)  # noqa: S311 -- made-up test data, not secrets
    users = []
    for number in range(500):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{last}, {first}" if rng.random() < 0.05 else f"{first} {last}"
        guid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        users.append((guid, name, f"+1 4255550{number % 100:03d}"))
    # About one row every 2.6 seconds: a million rows span a month.
    step = dt.timedelta(seconds=2.6)
    temporary = path.with_suffix(".partial")
    with temporary.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(HEADER)
        moment = START
        for _ in range(rows):
            guid, name, phone = rng.choice(users)
            failed = rng.random() < 0.10
            result = rng.choice(FAILURES) if failed else "SUCCESS_NO_PIN"
            auth_type = "SDK" if rng.random() < 0.70 else "PhoneApp"
            if time_format == "us":
                hour = moment.hour % 12 or 12
                meridiem = "AM" if moment.hour < 12 else "PM"
                shown = (
                    f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {meridiem}"
                )
            else:
                shown = moment.strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow(
                [shown, auth_type, guid, name, phone, "No" if failed else "Yes", result]
            )
            moment += step
    temporary.replace(path)


def report_file(args: argparse.Namespace, folder: Path) -> Path:
    path = folder / f"usage-{args.rows}-{args.time_format}.csv"
    if args.keep and path.exists():
        print(f"Reusing {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return path
    print(f"Writing {args.rows:,} rows to {path} ...", flush=True)
    began = time.perf_counter()
    generate(path, args.rows, args.time_format)
    print(f"  done in {time.perf_counter() - began:.1f} s ({path.stat().st_size / 1e6:.1f} MB)")
    return path


# -- the passes -------------------------------------------------------------------------------


def bare_pass(path: Path) -> int:
    count = 0
    with path.open(encoding="utf-8", newline="") as file:
        for _ in csv.reader(file):
            count += 1
    return count - 1  # the header


def pyampam_pass(path: Path) -> int:
    from pyampam.reports import read_usage_report, summarize_usage

    return summarize_usage(read_usage_report(path)).rows


def records_pass(path: Path) -> int:
    from pyampam.reports import read_usage_report

    count = 0
    for _ in read_usage_report(path):
        count += 1
    return count


PASSES: dict[str, Callable[[Path], int]] = {
    "pyampam": pyampam_pass,
    "csv.reader": bare_pass,
    "records only": records_pass,
}


def timed(function: Callable[[Path], int], path: Path, rows: int) -> float:
    began = time.perf_counter()
    count = function(path)
    elapsed = time.perf_counter() - began
    if count != rows:
        raise SystemExit(f"a pass read {count} rows, not {rows}: the benchmark is broken")
    return elapsed


def measure_speed(path: Path, rows: int, rounds: int) -> dict[str, list[float]]:
    names = list(PASSES)
    for name in names:  # warm-up: imports, caches, the file in the page cache
        timed(PASSES[name], path, rows)
    times: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            times[name].append(timed(PASSES[name], path, rows))
        shown = ", ".join(f"{name} {times[name][-1]:.2f} s" for name in names)
        print(f"  round {number + 1}/{rounds}: {shown}", flush=True)
    return times


# -- memory, in a child process ---------------------------------------------------------------


def memory_child(path: str, method: str) -> None:
    """Run one pyampam pass and print its memory figures as JSON (in a child process)."""
    import resource

    from pyampam.reports import read_usage_report, summarize_usage

    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    if method == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
        summarize_usage(read_usage_report(path))
        _, peak = tracemalloc.get_traced_memory()
        print(json.dumps({"peak": peak}))
        return
    baseline = _proc_status("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    summary = summarize_usage(read_usage_report(path))
    peak = _proc_status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    groups = len(summary.failure_groups)
    print(json.dumps({"baseline": baseline, "peak": peak, "rows": summary.rows, "groups": groups}))


def _proc_status(field: str) -> int | None:
    """A size from Linux's /proc/self/status in bytes (VmRSS: now; VmHWM: the peak), or None.

    Linux carries ``ru_maxrss`` over an exec: a child started by a bigger parent reports the
    parent's peak. VmHWM belongs to this program alone; VmRSS is the resident set now, where
    the peak so far could stand above it (imports allocate and free) and hide the growth.
    """
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # "VmHWM:   35652 kB"
    return None


def measure_memory(path: Path, method: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(path), "--memory-method", method],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"the memory child failed:\n{result.stderr}")
    figures: dict[str, int] = json.loads(result.stdout)
    return figures


# -- profile ----------------------------------------------------------------------------------


def profile(path: Path) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    pyampam_pass(path)
    profiler.disable()
    print("\ncProfile of summarize_usage(read_usage_report(path)), by own time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(12)


# -- main -------------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows and 3 rounds")
    parser.add_argument("--rows", type=int, help="rows in the report (default 1,000,000)")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 5)")
    parser.add_argument("--time-format", choices=("iso", "us"), default="iso")
    parser.add_argument("--dir", type=Path, help="where to write the report (default: temp)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the report and reuse it next time"
    )
    parser.add_argument("--tracemalloc", action="store_true", help="also trace allocations")
    parser.add_argument("--profile", action="store_true", help="print a cProfile table")
    parser.add_argument("--memory-child", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--memory-method", default="rusage", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 100_000 if args.quick else 1_000_000
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.memory_method)
        return 0

    from importlib.metadata import version

    print(f"pyampam {version('pyampam')}, Python {sys.version.split()[0]}, {sys.platform}")
    if args.dir is not None:
        folder = args.dir
        folder.mkdir(parents=True, exist_ok=True)
    elif args.keep:
        folder = Path(tempfile.gettempdir()) / "pyampam-usage-benchmark"
        folder.mkdir(exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="pyampam-usage-"))
    try:
        path = report_file(args, folder)
        print(f"\nSpeed: {args.rounds} interleaved rounds over {args.rows:,} rows")
        times = measure_speed(path, args.rows, args.rounds)
        ratios = [
            mine / bare for mine, bare in zip(times["pyampam"], times["csv.reader"], strict=True)
        ]
        record_ratios = [
            mine / bare
            for mine, bare in zip(times["records only"], times["csv.reader"], strict=True)
        ]
        print(f"\n{'pass':<14}{'median s':>10}{'fastest':>10}{'slowest':>10}{'rows/s':>12}")
        for name, values in times.items():
            median = statistics.median(values)
            print(
                f"{name:<14}{median:>10.3f}{min(values):>10.3f}{max(values):>10.3f}"
                f"{args.rows / median:>12,.0f}"
            )
        print(f"records only / csv.reader: {statistics.median(record_ratios):.2f}x (information)")

        print("\nMemory: the pyampam pass in a child process")
        memory = measure_memory(path, "rusage")
        above = (memory["peak"] - memory["baseline"]) / 1e6
        print(
            f"  resident after import {memory['baseline'] / 1e6:.1f} MB, peak after the "
            f"pass {memory['peak'] / 1e6:.1f} MB; the summary holds {memory['groups']:,} "
            "(day, user, call result) failure counts"
        )
        if args.tracemalloc:
            traced = measure_memory(path, "tracemalloc")
            print(f"  tracemalloc peak of Python allocations {traced['peak'] / 1e6:.2f} MB")
        if args.profile:
            profile(path)

        ratio = statistics.median(ratios)
        print()
        print(
            f"HEADLINE ratio: pyampam {statistics.median(times['pyampam']):.3f} s, csv.reader "
            f"{statistics.median(times['csv.reader']):.3f} s for {args.rows} rows: {ratio:.2f}x "
            f"(target <= {RATIO_TARGET:g}x): {verdict(ratio <= RATIO_TARGET)}"
        )
        print(
            f"HEADLINE memory: peak {above:.1f} MB above the interpreter's baseline "
            f"(resident set high-water mark, child process) (target < {MEMORY_TARGET_MB:g} MB): "
            f"{verdict(above < MEMORY_TARGET_MB)}"
        )
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
