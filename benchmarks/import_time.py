"""How much ``import pyampam`` costs next to ``import requests``, measured in one run.

Each interpreter start is timed as a whole process (``python -c ...``), interleaved in rounds so
that machine noise hits all three alike; the cost of an import is its median time minus the
median time of a bare interpreter. Also reports ``-X importtime``'s own cumulative figure.

    python benchmarks/import_time.py [--rounds 40]

Target (issue 2): the pyampam/requests ratio is at most 0.5.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

SNIPPETS = {
    "bare": "pass",
    "pyampam": "import pyampam",
    "requests": "import requests",
}


def _wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def _importtime_us(module: str) -> int:
    """The cumulative microseconds ``-X importtime`` reports for ``module`` itself."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        capture_output=True,
        text=True,
    )
    for line in result.stderr.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"-X importtime did not report {module}")


def main() -> int:
    """Run the measurement and print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    for code in SNIPPETS.values():  # warm the file system cache before timing
        _wall(code)
    samples: dict[str, list[float]] = {name: [] for name in SNIPPETS}
    for _ in range(args.rounds):
        for name, code in SNIPPETS.items():
            samples[name].append(_wall(code))
    median = {name: statistics.median(values) for name, values in samples.items()}
    cost = {name: median[name] - median["bare"] for name in ("pyampam", "requests")}
    ratio = cost["pyampam"] / cost["requests"]

    self_time = {name: min(_importtime_us(name) for _ in range(10)) for name in cost}
    print(f"python {sys.version.split()[0]}, {args.rounds} interleaved rounds, medians")
    print(f"  bare interpreter        {median['bare'] * 1e3:8.1f} ms")
    for name in ("pyampam", "requests"):
        print(
            f"  import {name:<10} +{cost[name] * 1e3:7.1f} ms over bare"
            f"   (-X importtime cumulative: {self_time[name] / 1e3:6.1f} ms)"
        )
    print(f"ratio pyampam/requests (wall, over bare):      {ratio:.3f}  (target <= 0.5)")
    print(
        "ratio pyampam/requests (-X importtime, best):  "
        f"{self_time['pyampam'] / self_time['requests']:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
