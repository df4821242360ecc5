"""How fast PamService activates roles, expires them and rides out a burst of MFA calls.

Three measurements, each judged against a baseline of the same run, never against a clock:

1. Auto-activation throughput on ``SqliteStore``: ``request_activation`` of a role with no
   checks (each request is stored Active and committed before the call returns), next to a
   bare ``sqlite3`` loop that does one INSERT + COMMIT per row into a file in the same folder,
   with SqliteStore's own durability settings (WAL, ``synchronous=FULL``, ...) and the same
   ``requests`` table and indexes. Interleaved rounds; both rates and pyampam/bare.
2. ``expire_due`` with 1,000 due requests among 100,000 Active ones, next to 1,000 due among
   1,000: its cost should grow with what it expires, not with the table (ratio about 1). Only
   ``expire_due`` is timed; each round works on a fresh copy of a prebuilt store file.
3. A burst: 200 MFA activations with ``wait=False`` against ``FakeProvider(latency=1.0)`` on
   the real clock, then ``wait_for`` each; wall time from the first request to the last
   outcome, on ``MemoryStore`` and on ``SqliteStore``. Target: under 1.5 s.

    python benchmarks/activation.py            # the full run, under two minutes
    python benchmarks/activation.py --quick    # a short run

The run ends with three lines starting ``HEADLINE``. It exits 0 whether or not a target is met
(the lines say ``met`` or ``MISSED``); it fails only if pyampam gives a wrong answer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from importlib.metadata import version
from pathlib import Path

from pyampam import ActivationRequest, PamService, RequestStatus, Role, User
from pyampam.events import EventId
from pyampam.store import MemoryStore, SqliteStore, Store

# The store's own SQL and row encoding, used only to build the 100k-request table in one
# transaction: SqliteStore has no bulk insert, and 100k add_request() calls would each wait for
# a flush to disk (minutes). Rows written this way are exactly the rows add_request() writes.
from pyampam.store import _sqlite_codec as store_codec
from pyampam.store._sqlite import INSERT_REQUEST
from pyampam.testing import FakeProvider

EXPIRE_RATIO_TARGET = 1.5  # "about 1": cost grows with the result, not with the table
BURST_SLACK = 0.5  # the burst target is the call latency plus this: 1.5 s for 1 s calls
UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)
# A fixed "now" for the expiry measurement, so the due and not-due rows are where we put them.
EPOCH = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# SqliteStore's durability settings, set by hand on the bare connection; checked against the
# store's own connection at the start of the run, so the baseline cannot drift from the store.
DURABILITY_PRAGMAS = (
    ("journal_mode", "wal"),
    ("synchronous", 2),  # FULL
    ("foreign_keys", 1),
    ("secure_delete", 1),
)


# -- helpers ----------------------------------------------------------------------------------


class SettableClock:
    """A service clock (aware datetimes) that moves only when told to."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def summary(values: Sequence[float]) -> tuple[float, float, float]:
    """Median, smallest and largest."""
    return statistics.median(values), min(values), max(values)


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def check(condition: bool, message: str) -> None:
    """Stop the run when pyampam gave a wrong answer: its timings would mean nothing."""
    if not condition:
        raise SystemExit(f"benchmark aborted, wrong result: {message}")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min), {os.cpu_count()} CPUs"


def rule(title: str) -> None:
    print()
    print(title)
    print("-" * len(title))


# -- 1. auto-activation throughput ------------------------------------------------------------


def store_pragmas(store: SqliteStore) -> dict[str, object]:
    """The durability settings of the store's own connection (a diagnostic: private access)."""
    connection = store._connection
    if connection is None:
        raise SystemExit("the store is closed")
    return {
        name: connection.execute(f"PRAGMA {name}").fetchone()[0] for name, _ in DURABILITY_PRAGMAS
    }


def requests_schema(folder: Path) -> list[str]:
    """The CREATE statements of the store's ``requests`` table and its indexes."""
    path = folder / "schema-source.db"
    SqliteStore(path).close()
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'requests' AND sql IS NOT NULL "
            "ORDER BY type DESC"  # the table before its indexes
        ).fetchall()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return [sql for (sql,) in rows]


class BareInserts:
    """One INSERT + COMMIT per row with plain sqlite3: the floor pyampam is judged against."""

    def __init__(self, path: Path, schema: list[str]) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None)
        for name, value in DURABILITY_PRAGMAS:
            self._connection.execute(f"PRAGMA {name} = {value}")
        for statement in schema:
            self._connection.execute(statement)
        columns = len(self._connection.execute("PRAGMA table_info(requests)").fetchall())
        # Only placeholders are put together here; the values go through them.
        self._insert = f"INSERT INTO requests VALUES ({', '.join('?' * columns)})"  # noqa: S608
        self._requestor = str(uuid.uuid4())
        self._role = str(uuid.uuid4())

    def pragmas(self) -> dict[str, object]:
        return {
            name: self._connection.execute(f"PRAGMA {name}").fetchone()[0]
            for name, _ in DURABILITY_PRAGMAS
        }

    def run(self, count: int) -> float:
        """Seconds for *count* rows, each in its own committed transaction."""
        connection, insert = self._connection, self._insert
        ttl_us = 3_600_000_000
        started = time.perf_counter()
        for _ in range(count):
            now_us = time.time_ns() // 1000
            row = (
                str(uuid.uuid4()), self._requestor, self._role, "", ttl_us, None, now_us,
                "pyampam", now_us + ttl_us, "Active", now_us, None, None,
                "the role needs no approval or MFA", now_us + ttl_us, None,
            )  # fmt: skip
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(insert, row)
            connection.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self._connection.close()


class PyampamActivations:
    """``request_activation`` of a role with no checks, on a SqliteStore: each one Active."""

    def __init__(self, path: Path) -> None:
        self.store = SqliteStore(path)
        self.service = PamService(store=self.store)
        self._user = self.service.new_user("CORP", "jen", phone="+1 4255550100")
        self._role = self.service.new_role("Helpdesk", candidates=[self._user], privileges=["HD"])

    def run(self, count: int) -> float:
        request_activation, user, role = self.service.request_activation, self._user, self._role
        started = time.perf_counter()
        for _ in range(count):
            request = request_activation(user, role)
            if request.status is not RequestStatus.ACTIVE:
                check(False, f"an auto-activated request is {request.status}, not Active")
        return time.perf_counter() - started

    def close(self) -> None:
        self.service.shutdown()
        self.store.close()


def measure_throughput(folder: Path, *, rounds: int, count: int) -> tuple[list[float], list[float]]:
    """Per-round rates (per second) of pyampam and of the bare loop, in alternating order."""
    pyampam = PyampamActivations(folder / "activations.db")
    bare = BareInserts(folder / "bare.db", requests_schema(folder))
    try:
        theirs, ours = store_pragmas(pyampam.store), bare.pragmas()
        check(ours == theirs, f"bare settings {ours} differ from SqliteStore's {theirs}")
        print("durability, both files: " + ", ".join(f"{k}={v}" for k, v in theirs.items()))
        # Warm-up: the first statements of each connection pay for parsing and page loads.
        pyampam.run(min(count, 20))
        bare.run(min(count, 20))
        pyampam_rates: list[float] = []
        bare_rates: list[float] = []
        for number in range(rounds):
            if number % 2 == 0:
                pyampam_rates.append(count / pyampam.run(count))
                bare_rates.append(count / bare.run(count))
            else:
                bare_rates.append(count / bare.run(count))
                pyampam_rates.append(count / pyampam.run(count))
        expected = rounds * count + min(count, 20)
        held = len(pyampam.service.get_requests(status=RequestStatus.ACTIVE))
        check(held == expected, f"{held} Active requests stored, expected {expected}")
    finally:
        pyampam.close()
        bare.close()
    return pyampam_rates, bare_rates


# -- 2. expire_due on a small and a large table -------------------------------------------------


def _active_request(user: User, role: Role, *, expires: dt.datetime) -> ActivationRequest:
    activated = expires - HOUR
    return ActivationRequest(
        requestor_id=user.object_id,
        role_id=role.role_id,
        requested_ttl=HOUR,
        creation_time=activated,
        activation_time=activated,
        expiration_time=expires,
        status=RequestStatus.ACTIVE,
        status_reason="the role needs no approval or MFA",
    )


def _requests(user: User, role: Role, *, total: int, due: int) -> Iterator[ActivationRequest]:
    """*due* requests that expired before EPOCH, spread among *total* Active requests."""
    step = total // due
    for number in range(total):
        if number % step == 0 and number // step < due:
            expires = EPOCH - dt.timedelta(seconds=1 + number % 3600)
        else:
            expires = EPOCH + dt.timedelta(seconds=60 + number % 25_000)
        yield _active_request(user, role, expires=expires)


def build_store_file(path: Path, *, total: int, due: int, through_api: bool) -> None:
    """A store file holding one user, one role and *total* Active requests, *due* of them due."""
    store = SqliteStore(path)
    service = PamService(store=store, clock=SettableClock(EPOCH - 2 * HOUR))
    user = service.new_user("CORP", "jen")
    role = service.new_role("Helpdesk", candidates=[user], privileges=["HD"])
    requests = _requests(user, role, total=total, due=due)
    if through_api:
        for request in requests:
            store.add_request(request)
        store.close()
        return
    store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            INSERT_REQUEST, (store_codec.request_params(request) for request in requests)
        )
        connection.execute("COMMIT")
        # Fold the write-ahead log into the file, so copying the file alone copies everything.
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def time_expire_due(template: Path, work: Path, *, due: int, total: int) -> float:
    """Seconds ``expire_due`` takes on a fresh copy of *template*; checks what it expired."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, work)
    with SqliteStore(work) as store:
        service = PamService(store=store, clock=SettableClock(EPOCH))
        started = time.perf_counter()
        expired = service.expire_due()
        seconds = time.perf_counter() - started
        check(len(expired) == due, f"expire_due expired {len(expired)} of {due} due requests")
        check(
            all(request.status is RequestStatus.EXPIRED for request in expired),
            "expire_due returned a request that is not Expired",
        )
        check(
            len(service.events.query(event_id=EventId.REQUEST_EXPIRED)) == due,
            "expire_due did not record one REQUEST_EXPIRED event per request",
        )
        still_active = store.requests_due(RequestStatus.ACTIVE, before=EPOCH + 24 * HOUR)
        check(len(still_active) == total - due, "expire_due changed requests that were not due")
    return seconds


def measure_expiry(
    folder: Path, *, rounds: int, big: int, due: int, through_api: bool
) -> tuple[list[float], list[float], float]:
    """Per-round seconds of expire_due among *big* and among *due* requests; build seconds."""
    large, small = folder / "expire-large.db", folder / "expire-small.db"
    started = time.perf_counter()
    build_store_file(large, total=big, due=due, through_api=through_api)
    build_store_file(small, total=due, due=due, through_api=through_api)
    built = time.perf_counter() - started
    work = folder / "expire-work.db"
    large_times: list[float] = []
    small_times: list[float] = []
    for number in range(rounds):
        first, second = ((large, large_times), (small, small_times))[:: 1 if number % 2 else -1]
        for template, times in (first, second):
            total = big if template is large else due
            times.append(time_expire_due(template, work, due=due, total=total))
    return large_times, small_times, built


# -- 3. a burst of MFA activations --------------------------------------------------------------


def burst(store_factory: Callable[[], Store], *, calls: int, latency: float) -> tuple[float, float]:
    """Seconds to place *calls* MFA activations (wait=False), and to see every outcome."""
    store = store_factory()
    provider = FakeProvider(latency=latency)
    with PamService(store=store, provider=provider) as service:
        users = [
            service.new_user("CORP", f"user{number:04d}", phone=f"+1 42555{number:05d}")
            for number in range(calls)
        ]
        role = service.new_role(
            "Domain Admins", candidates=users, privileges=["CORP Admins"], mfa_enabled=True
        )
        started = time.perf_counter()
        pending = [service.request_activation(user, role, wait=False) for user in users]
        placed = time.perf_counter() - started
        finished = [service.wait_for(request, timeout=60) for request in pending]
        seconds = time.perf_counter() - started
        check(
            all(request.status is RequestStatus.PENDING_MFA for request in pending),
            "a request made with wait=False did not come back PendingMFA",
        )
        check(
            all(request.status is RequestStatus.ACTIVE for request in finished),
            "a request that passed MFA is not Active",
        )
        check(
            len(service.events.query(event_id=EventId.MFA_COMPLETED)) == calls,
            "not every call recorded event 103",
        )
        check(len(provider.calls) == calls, "the provider did not get one call per request")
    store.close()
    return placed, seconds


def measure_bursts(
    folder: Path, *, rounds: int, calls: int, latency: float
) -> dict[str, tuple[list[float], list[float]]]:
    """Per-round (placing, total) seconds of the burst on each store; alternating order."""
    counter = iter(range(1_000_000))

    def sqlite_store() -> Store:
        return SqliteStore(folder / f"burst-{next(counter)}.db")

    factories: dict[str, Callable[[], Store]] = {
        "MemoryStore": MemoryStore,
        "SqliteStore": sqlite_store,
    }
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in factories}
    names = list(factories)
    for number in range(rounds):
        for name in names if number % 2 == 0 else names[::-1]:
            placed, total = burst(factories[name], calls=calls, latency=latency)
            results[name][0].append(placed)
            results[name][1].append(total)
    return results


# -- the run ------------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark PamService: activation throughput, expire_due, an MFA burst."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a first look")
    parser.add_argument("--rounds", type=int, help="throughput rounds (15; quick: 3)")
    parser.add_argument(
        "--activations", type=int, help="activations and bare inserts per round (300; quick: 50)"
    )
    parser.add_argument(
        "--big", type=int, help="Active requests in the large table (100000; quick: 10000)"
    )
    parser.add_argument("--due", type=int, help="due requests in both tables (1000; quick: 100)")
    parser.add_argument("--expire-rounds", type=int, help="expire_due rounds (7; quick: 1)")
    parser.add_argument(
        "--build-through-api",
        action="store_true",
        help="build the tables with one add_request() per row (slow: one disk flush per row)",
    )
    parser.add_argument("--burst-calls", type=int, help="MFA activations in a burst (200)")
    parser.add_argument(
        "--burst-latency", type=float, default=1.0, help="seconds each fake call takes (1.0)"
    )
    parser.add_argument("--burst-rounds", type=int, help="burst rounds per store (5; quick: 1)")
    parser.add_argument(
        "--dir", type=Path, help="where to put the temporary files (default: the system temp)"
    )
    arguments = parser.parse_args(argv)
    quick = arguments.quick
    defaults = {
        "rounds": 3 if quick else 15,
        "activations": 50 if quick else 300,
        "big": 10_000 if quick else 100_000,
        "due": 100 if quick else 1000,
        "expire_rounds": 1 if quick else 7,
        "burst_calls": 200,
        "burst_rounds": 1 if quick else 5,
    }
    for name, value in defaults.items():
        if getattr(arguments, name) is None:
            setattr(arguments, name, value)
        if getattr(arguments, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if arguments.due > arguments.big:
        parser.error("--due cannot exceed --big")
    if arguments.burst_latency <= 0:
        parser.error("--burst-latency must be positive")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    print(
        f"pyampam {version('pyampam')}, Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}; {load()}"
    )
    with tempfile.TemporaryDirectory(prefix="pyampam-bench-", dir=arguments.dir) as name:
        folder = Path(name)
        print(f"files in {folder}")

        rule("1. Auto-activation throughput on SqliteStore (one commit per row)")
        count, rounds = arguments.activations, arguments.rounds
        pyampam_rates, bare_rates = measure_throughput(folder, rounds=rounds, count=count)
        ratios = [ours / bare for ours, bare in zip(pyampam_rates, bare_rates, strict=True)]
        print(f"{rounds} interleaved rounds of {count} each; rates per second")
        print(f"  {'':<52} {'median':>9} {'slowest':>9} {'fastest':>9}")
        for label, rates in (
            ("pyampam request_activation -> Active", pyampam_rates),
            ("bare sqlite3 INSERT + COMMIT", bare_rates),
        ):
            median, low, high = summary(rates)
            print(f"  {label:<52} {median:>9.0f} {low:>9.0f} {high:>9.0f}")
        ratio, low, high = summary(ratios)
        print(f"  {'pyampam/bare, per round':<52} {ratio:>8.2f}x {low:>8.2f}x {high:>8.2f}x")

        rule("2. expire_due: cost against the size of the table (SqliteStore)")
        big, due = arguments.big, arguments.due
        large_times, small_times, built = measure_expiry(
            folder,
            rounds=arguments.expire_rounds,
            big=big,
            due=due,
            through_api=arguments.build_through_api,
        )
        how = "add_request() per row" if arguments.build_through_api else "one transaction"
        print(f"tables built in {built:.1f} s ({how}); only expire_due is timed")
        print(f"  {'':<52} {'median':>9} {'fastest':>9} {'slowest':>9}")
        for label, times in (
            (f"{due} due among {big} Active", large_times),
            (f"{due} due among {due} Active", small_times),
        ):
            median, low, high = summary(times)
            print(f"  {label:<52} {median:>8.3f}s {low:>8.3f}s {high:>8.3f}s")
            print(f"  {'  per expired request':<52} {median / due * 1e3:>7.2f}ms")
        expire_ratio = statistics.median(
            large / small for large, small in zip(large_times, small_times, strict=True)
        )
        print(f"  {'large/small, median of rounds':<52} {expire_ratio:>8.2f}x")

        rule("3. A burst of MFA activations (wait=False, then wait_for each)")
        calls, latency = arguments.burst_calls, arguments.burst_latency
        bursts = measure_bursts(folder, rounds=arguments.burst_rounds, calls=calls, latency=latency)
        print(f"{calls} activations, FakeProvider(latency={latency:g}), real clock; seconds")
        print(f"  {'':<52} {'median':>9} {'fastest':>9} {'slowest':>9}")
        for store_name, (placed, totals) in bursts.items():
            for label, times in (
                (f"{store_name}: all placed", placed),
                (f"{store_name}: all Active", totals),
            ):
                median, low, high = summary(times)
                print(f"  {label:<52} {median:>8.3f}s {low:>8.3f}s {high:>8.3f}s")

        print()
        print(f"after the run: {load()}")
        print()
        print(
            f"HEADLINE activations: pyampam {statistics.median(pyampam_rates):.0f} "
            f"activations/s, bare sqlite3 {statistics.median(bare_rates):.0f} inserts/s: "
            f"{ratio:.2f}x pyampam/bare (no target; each commits once, synchronous=FULL)"
        )
        print(
            f"HEADLINE expire_due: {due} due among {big}: "
            f"{statistics.median(large_times):.3f} s, among {due}: "
            f"{statistics.median(small_times):.3f} s: {expire_ratio:.2f}x "
            f"(target about 1x, <= {EXPIRE_RATIO_TARGET:g}x): "
            f"{verdict(expire_ratio <= EXPIRE_RATIO_TARGET)}"
        )
        target = latency + BURST_SLACK
        memory_total = statistics.median(bursts["MemoryStore"][1])
        sqlite_total = statistics.median(bursts["SqliteStore"][1])
        print(
            f"HEADLINE burst: {calls} MFA activations, calls answered after {latency:g} s, first "
            f"request to last outcome: MemoryStore {memory_total:.3f} s, "
            f"{verdict(memory_total < target)}; SqliteStore {sqlite_total:.3f} s, "
            f"{verdict(sqlite_total < target)} (target < {target:g} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
