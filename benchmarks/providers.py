"""How fast PhoneFactorClient talks to a PhoneFactor backend, next to two baselines, in one run.

Every figure comes from calls over real mutual TLS to a PhoneFactorTestServer on 127.0.0.1 that
runs in a process of its own (``_phonefactor_server_process.py``), so client and server do not
share a GIL. Three measurements, each judged as a ratio against a baseline of the same run:

1. Sequential ``authenticate`` calls, answered at once: pyampam's client (one kept-alive
   connection, one SSL context) against a reference-style client that, like the SDK's sample
   code, opens a new connection for every call: ``requests.post`` with ``cert=`` (PEM files),
   ``verify=`` (the CA file) and ``Connection: close``, so each call gets a new session, a new
   SSL context loaded from the files by urllib3, a new TCP connection and a full TLS handshake.
   It builds and parses the XML with pyampam's own functions, so only the transport differs.
2. The same pyampam calls against a bare ``requests.Session().post`` of one prepared XML body,
   kept alive, on an SSL context built by the same ``build_ssl_context``: what pyampam's client
   adds per call (building the XML, the worker thread, parsing the answer, bookkeeping).
3. A burst: ``initiate`` 200 times at once with ``max_concurrent_calls=200`` against a server
   that answers each call after 1 s, then wait for every result; wall time from the first
   ``initiate`` to the last result, on a new client (200 TLS handshakes included) and again on
   the same client (connections kept alive).

Rounds are interleaved (the order rotates each round) after a warm-up; medians are reported.

    python benchmarks/providers.py            # the full run, under two minutes
    python benchmarks/providers.py --quick    # a short run
    python benchmarks/providers.py --profile  # where pyampam's client spends its time

Targets (issue 3): throughput pyampam/reference >= 3x; time per call pyampam/bare <= 1.15x;
the burst takes at most 1.5 s (its physical limit is the 1 s answer delay).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import secrets
import selectors
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

import requests
import requests.adapters

from pyampam import PhoneNumber
from pyampam.providers import MfaChallenge, PhoneFactorClient
from pyampam.providers._tls import build_ssl_context
from pyampam.providers._wire import (
    build_authentication_request,
    new_request_id,
    parse_authentication_response,
)
from pyampam.settings import SdkCredentials
from pyampam.testing import PkiFiles, make_test_pki

SERVER_SCRIPT = Path(__file__).with_name("_phonefactor_server_process.py")
SERVER_START_SECONDS = 60.0
CONTENT_TYPE = "text/xml; charset=utf-8"
TIMEOUT = (10.0, 30.0)

THROUGHPUT_TARGET = 3.0
OVERHEAD_TARGET = 1.15
BURST_SLACK = 0.5  # the burst target is the answer delay plus this: 1.5 s for 1 s answers

PYAMPAM = "pyampam"
BARE = "bare"
REFERENCE = "reference"
LABELS = {
    PYAMPAM: "pyampam PhoneFactorClient.authenticate",
    BARE: "bare requests.Session.post, kept alive",
    REFERENCE: "reference-style, new connection per call",
}


# -- the server, in its own process -------------------------------------------------------------


class ServerProcess:
    """A PhoneFactorTestServer running in a child process; ``close()`` ends it.

    The keys on its command line are the made-up ones of this run's throw-away test PKI.
    """

    def __init__(self, files: PkiFiles, credentials: SdkCredentials, *, delay: float) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                str(SERVER_SCRIPT),
                "--ca",
                str(files.ca),
                "--server-cert",
                str(files.server_cert),
                "--server-key",
                str(files.server_key),
                "--license-key",
                credentials.license_key,
                "--group-key",
                credentials.group_key,
                "--delay",
                repr(delay),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.delay = delay
        self._url: str | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    @property
    def url(self) -> str:
        """The server's endpoint URL; waits for the child to print it."""
        if self._url is None:
            line = self._read_line(SERVER_START_SECONDS)
            if not line.startswith("https://"):
                raise RuntimeError(f"the server process did not start (it said {line!r})")
            self._url = line
        return self._url

    def stats(self) -> dict[str, int]:
        """The server's counters, as of now."""
        _ = self.url  # the URL comes first on the child's stdout: read past it
        stdin = self._stdin()
        stdin.write("stats\n")
        stdin.flush()
        counters: dict[str, int] = json.loads(self._read_line(10.0))
        return counters

    def cpu_seconds(self) -> float | None:
        """The CPU time the child has used so far, or None where /proc is not there."""
        try:
            with open(f"/proc/{self.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        """End the child: close its stdin, then signal it if it lingers."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(10.0)
        except subprocess.TimeoutExpired:
            self._process.terminate()
            try:
                self._process.wait(5.0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def _stdin(self) -> IO[str]:
        if self._process.stdin is None:  # pragma: no cover - always a pipe here
            raise RuntimeError("no pipe to the server process")
        return self._process.stdin

    def _read_line(self, timeout: float) -> str:
        stdout = self._process.stdout
        if stdout is None:  # pragma: no cover - always a pipe here
            raise RuntimeError("no pipe from the server process")
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise RuntimeError(f"the server process said nothing for {timeout:g} s")
        return stdout.readline().strip()


class CpuWatch:
    """How much CPU other processes used while the benchmark ran (Linux only).

    The machine's busy time from /proc/stat, minus this process's and the servers'. Anything
    well above zero means the figures were disturbed.
    """

    def __init__(self, servers: list[ServerProcess]) -> None:
        self._servers = servers
        self._start = self._sample()
        self._wall = time.perf_counter()

    def _sample(self) -> float | None:
        machine = _machine_busy_seconds()
        servers = [server.cpu_seconds() for server in self._servers]
        if machine is None or None in servers:
            return None
        return machine - time.process_time() - sum(cpu for cpu in servers if cpu is not None)

    def report(self) -> str:
        """A sentence on the CPU other processes used since this watch started."""
        end = self._sample()
        if self._start is None or end is None:
            return "CPU used by other processes: unknown (no /proc)"
        wall = time.perf_counter() - self._wall
        return (
            f"other processes used {end - self._start:.1f} s of CPU meanwhile "
            f"({(end - self._start) / wall:.0%} of one CPU; near 0 means an undisturbed run)"
        )


def _machine_busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal: all but idle and iowait are busy
    busy = sum(int(value) for index, value in enumerate(fields[1:9]) if index not in (3, 4))
    return busy / os.sysconf("SC_CLK_TCK")


# -- the clients -----------------------------------------------------------------------------------


def challenge() -> MfaChallenge:
    """The call every client makes: standard mode (press #), nothing secret but the keys."""
    return MfaChallenge(username="0b7c1d2e-benchmark-user", phone=PhoneNumber(1, "4255550123"))


class _PreparedContextAdapter(requests.adapters.HTTPAdapter):
    """The usual requests recipe for a prepared SSL context: give it to the pool manager."""

    def __init__(self, context: ssl.SSLContext, *, pool_size: int) -> None:
        self._context = context
        super().__init__(pool_maxsize=pool_size)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


class BareClient:
    """A kept-alive ``requests.Session`` POSTing one prepared request body; no parsing."""

    def __init__(
        self, url: str, files: PkiFiles, credentials: SdkCredentials, *, pool_size: int = 10
    ) -> None:
        self._url = url
        self._ca = str(files.ca)
        context = build_ssl_context(files.client_p12, credentials.cert_password, verify=files.ca)
        self._session = requests.Session()
        self._session.mount("https://", _PreparedContextAdapter(context, pool_size=pool_size))
        self._body = build_authentication_request(
            challenge(),
            license_key=credentials.license_key,
            group_key=credentials.group_key,
            request_id=new_request_id(),
        )

    def call(self) -> None:
        """POST the body and read the whole answer."""
        response = self._session.post(
            self._url,
            data=self._body,
            headers={"Content-Type": CONTENT_TYPE},
            timeout=TIMEOUT,
            verify=self._ca,
        )
        if response.status_code != 200 or not response.content:
            raise RuntimeError(f"bare client: HTTP {response.status_code}")

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()


class ReferenceStyleClient:
    """One new connection per call, like the SDK's sample: HTTP without keep-alive."""

    def __init__(self, url: str, files: PkiFiles, credentials: SdkCredentials) -> None:
        self._url = url
        self._cert = (str(files.client_cert), str(files.client_key))
        self._ca = str(files.ca)
        self._credentials = credentials
        self._challenge = challenge()

    def call(self) -> None:
        """Build the request, POST it on a new connection, parse the answer."""
        request_id = new_request_id()
        body = build_authentication_request(
            self._challenge,
            license_key=self._credentials.license_key,
            group_key=self._credentials.group_key,
            request_id=request_id,
        )
        # requests.post makes a new Session; with cert= urllib3 makes a new SSL context for
        # the new connection and loads the files into it; Connection: close ends it after.
        response = requests.post(
            self._url,
            data=body,
            headers={"Content-Type": CONTENT_TYPE, "Connection": "close"},
            cert=self._cert,
            verify=self._ca,
            timeout=TIMEOUT,
        )
        result = parse_authentication_response(response.content, expected_request_id=request_id)
        if not result.authenticated:
            raise RuntimeError("reference-style client: not authenticated")

    def close(self) -> None:
        """Nothing stays open."""


def pyampam_client(
    url: str, files: PkiFiles, credentials: SdkCredentials, **options: Any
) -> PhoneFactorClient:
    """pyampam's client for ``url``, trusting the test CA."""
    return PhoneFactorClient(
        credentials,
        certificate=files.client_p12,
        endpoints=[url],
        verify=files.ca,
        timeout=TIMEOUT,
        **options,
    )


def pyampam_caller(client: PhoneFactorClient) -> Callable[[], None]:
    """One blocking ``authenticate`` call, checked."""
    the_challenge = challenge()

    def call() -> None:
        if not client.authenticate(the_challenge).authenticated:
            raise RuntimeError("pyampam client: not authenticated")

    return call


# -- measurements ----------------------------------------------------------------------------------


def time_calls(call: Callable[[], object], count: int) -> float:
    """Seconds per call, averaged over ``count`` calls in a row."""
    start = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - start) / count


class Sequential:
    """Interleaved rounds of sequential calls by the three clients, against one fast server."""

    def __init__(self, server: ServerProcess, callers: dict[str, Callable[[], None]]) -> None:
        self._server = server
        self._callers = callers
        self.per_call: dict[str, list[float]] = {name: [] for name in callers}
        self.handshakes: dict[str, int] = dict.fromkeys(callers, 0)
        self.calls: dict[str, int] = dict.fromkeys(callers, 0)

    def run(self, *, rounds: int, counts: dict[str, int], warmup: dict[str, int]) -> None:
        """Warm each client up, then time ``rounds`` rounds, rotating the order each round."""
        for name, caller in self._callers.items():
            time_calls(caller, warmup[name])
        names = list(self._callers)
        for index in range(rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                before = self._server.stats()["handshakes_completed"]
                self.per_call[name].append(time_calls(self._callers[name], counts[name]))
                self.handshakes[name] += self._server.stats()["handshakes_completed"] - before
                self.calls[name] += counts[name]

    def median(self, name: str) -> float:
        """The median seconds per call of one client."""
        return statistics.median(self.per_call[name])

    def paired_ratio(self, numerator: str, denominator: str) -> float:
        """The median, over rounds, of one client's time per call over another's."""
        return statistics.median(
            a / b for a, b in zip(self.per_call[numerator], self.per_call[denominator], strict=True)
        )


def pyampam_burst(client: PhoneFactorClient, count: int) -> float:
    """Seconds from the first of ``count`` initiates to the last result."""
    the_challenge = challenge()
    start = time.perf_counter()
    handles = [client.initiate(the_challenge) for _ in range(count)]
    for handle in handles:
        client.wait(handle.call_id, None)
    elapsed = time.perf_counter() - start
    if not all(client.result(handle.call_id).authenticated for handle in handles):
        raise RuntimeError("burst: a call was not authenticated")
    return elapsed


def bare_burst(executor: ThreadPoolExecutor, bare: BareClient, count: int) -> float:
    """Seconds from the first of ``count`` submitted bare POSTs to the last one's end."""
    start = time.perf_counter()
    futures = [executor.submit(bare.call) for _ in range(count)]
    for future in futures:
        future.result()
    return time.perf_counter() - start


class Bursts:
    """Per round, per client: a burst with new connections, then one more on the same ones."""

    KINDS = ("cold", "warm")

    def __init__(self, server: ServerProcess, files: PkiFiles, credentials: SdkCredentials) -> None:
        self._server = server
        self._files = files
        self._credentials = credentials
        self.seconds: dict[tuple[str, str], list[float]] = {}
        self.handshakes: dict[tuple[str, str], list[int]] = {}

    def run(self, *, count: int, rounds: int) -> None:
        """``rounds`` rounds, the client that goes first alternating."""
        clients = [PYAMPAM, BARE]
        for index in range(rounds):
            for name in clients[index % 2 :] + clients[: index % 2]:
                self._round(name, count)

    def _round(self, name: str, count: int) -> None:
        with ExitStack() as stack:
            if name == PYAMPAM:
                client = stack.enter_context(
                    pyampam_client(
                        self._server.url, self._files, self._credentials, max_concurrent_calls=count
                    )
                )
                run = functools.partial(pyampam_burst, client, count)
            else:
                # The same shape as pyampam's client: one session, a pool of `count`
                # connections, `count` worker threads started on demand.
                bare = BareClient(self._server.url, self._files, self._credentials, pool_size=count)
                stack.callback(bare.close)
                executor = stack.enter_context(ThreadPoolExecutor(max_workers=count))
                run = functools.partial(bare_burst, executor, bare, count)
            for kind in self.KINDS:
                before = self._server.stats()["handshakes_completed"]
                self.seconds.setdefault((name, kind), []).append(run())
                handshakes = self._server.stats()["handshakes_completed"] - before
                self.handshakes.setdefault((name, kind), []).append(handshakes)

    def median(self, name: str, kind: str) -> float:
        """The median seconds of one client's bursts of one kind."""
        return statistics.median(self.seconds[name, kind])


# -- profiling -------------------------------------------------------------------------------------


@contextmanager
def profiled_new_threads(profiler: cProfile.Profile) -> Iterator[None]:
    """Profile, with ``profiler``, the one thread started inside the block.

    cProfile sees only the thread that enables it; pyampam's calls run on its worker thread.
    """

    def enable_in_new_thread(*_: object) -> None:
        sys.setprofile(None)
        profiler.enable()

    threading.setprofile(enable_in_new_thread)
    try:
        yield
    finally:
        threading.setprofile(None)


ProfileRows = dict[tuple[str, int, str], tuple[int, float]]


def profile_rows(*profilers: cProfile.Profile) -> ProfileRows:
    """Calls and own time of every function, summed over ``profilers``."""
    rows: ProfileRows = {}
    for profiler in profilers:
        if not profiler.getstats():
            # A thread that never ran: authenticate() works on its caller's thread.
            continue
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        for key, (_, ncalls, own, _, _) in stats.items():
            calls, seconds = rows.get(key, (0, 0.0))
            rows[key] = (calls + ncalls, seconds + own)
    return rows


def print_profile(title: str, rows: ProfileRows, calls: int, *, limit: int) -> None:
    """The functions that took the most time of their own, per call, with file:function."""
    total = sum(own for _, own in rows.values())
    print(f"\n{title}: {total / calls * 1e6:.0f} us of CPU per call in profiled functions")
    print(f"  {'own us/call':>11}  {'calls/call':>10}  function")
    for key, (ncalls, own) in sorted(rows.items(), key=lambda row: -row[1][1])[:limit]:
        print(f"  {own / calls * 1e6:11.1f}  {ncalls / calls:10.1f}  {_where(key)}")


def print_profile_difference(
    pyampam_rows: ProfileRows, bare_rows: ProfileRows, calls: int, *, limit: int
) -> None:
    """Where pyampam spends more CPU than the bare client: own time per call, by function."""
    keys = set(pyampam_rows) | set(bare_rows)
    difference = {
        key: (pyampam_rows.get(key, (0, 0.0))[1] - bare_rows.get(key, (0, 0.0))[1]) / calls
        for key in keys
    }
    total = sum(difference.values())
    print(f"\npyampam minus bare: {total * 1e6:+.0f} us of CPU per call; the largest differences")
    print(f"  {'pyampam':>9}  {'bare':>9}  {'more':>9}  function (own us/call)")
    for key, more in sorted(difference.items(), key=lambda row: -row[1])[:limit]:
        mine = pyampam_rows.get(key, (0, 0.0))[1] / calls
        theirs = bare_rows.get(key, (0, 0.0))[1] / calls
        print(f"  {mine * 1e6:9.1f}  {theirs * 1e6:9.1f}  {more * 1e6:+9.1f}  {_where(key)}")


def _where(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    return f"{_short_path(filename)}:{line}:{function}"


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def layers(
    server: ServerProcess,
    files: PkiFiles,
    credentials: SdkCredentials,
    *,
    calls: int,
    rounds: int,
    repeat: int,
) -> None:
    """Time pyampam's call path layer by layer, without a profiler, interleaved; print it.

    Diagnostic only: it reaches into the client's private parts (``_transport``,
    ``_exchange``), which may change without notice.
    """
    from pyampam.providers import SupportsWait
    from pyampam.providers import _client as client_module

    the_challenge = challenge()
    request_id = new_request_id()
    body = build_authentication_request(
        the_challenge,
        license_key=credentials.license_key,
        group_key=credentials.group_key,
        request_id=request_id,
    )
    with ExitStack() as stack:
        client = stack.enter_context(pyampam_client(server.url, files, credentials))
        bare = BareClient(server.url, files, credentials)
        stack.callback(bare.close)
        transport = client._transport
        answer = transport.post(0, body, TIMEOUT, request_id).body

        def exchange() -> None:
            call = client_module._Call(
                request_id, the_challenge.mode, is_async=False, started_at=time.monotonic()
            )
            client._exchange(call, body, TIMEOUT)

        def initiate_wait_result() -> None:
            handle = client.initiate(the_challenge)
            client.wait(handle.call_id, None)
            client.result(handle.call_id)

        steps: dict[str, Callable[[], object]] = {
            "bare requests.Session.post (BareClient.call)": bare.call,
            "_client.py:_Transport.post, same body": lambda: transport.post(
                0, body, TIMEOUT, request_id
            ),
            "+ _client.py:PhoneFactorClient._exchange": exchange,
            "+ initiate/wait/result (thread pool)": initiate_wait_result,
            "+ authenticate (on the caller's thread)": pyampam_caller(client),
        }
        for step in steps.values():
            time_calls(step, min(50, repeat))
        samples: dict[str, list[float]] = {name: [] for name in steps}
        names = list(steps)
        for index in range(rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(time_calls(steps[name], calls))

        with ThreadPoolExecutor(max_workers=4) as pool:

            def handoff() -> None:
                done = threading.Event()
                pool.submit(done.set)
                done.wait()

            parts: dict[str, Callable[[], object]] = {
                "_wire.py:build_authentication_request": lambda: build_authentication_request(
                    the_challenge,
                    license_key=credentials.license_key,
                    group_key=credentials.group_key,
                    request_id=new_request_id(),
                ),
                "_wire.py:parse_authentication_response": lambda: parse_authentication_response(
                    answer, expected_request_id=request_id
                ),
                "ThreadPoolExecutor.submit + Event.wait": handoff,
                "isinstance(client, SupportsWait)": lambda: isinstance(client, SupportsWait),
            }
            costs = {name: _cost(part, repeat) for name, part in parts.items()}

    print(f"Layers of one sequential call: {rounds} interleaved rounds of {calls} calls, medians")
    previous = None
    for name, values in samples.items():
        median = statistics.median(values)
        change = "" if previous is None else f"{(median - previous) * 1e6:+8.0f} us"
        print(f"  {name:<48} {median * 1e6:8.0f} us  {change}")
        previous = median
    print(f"Parts, without the network (best of 5 runs of {repeat})")
    for label, cost in costs.items():
        print(f"  {label:<48} {cost * 1e6:8.1f} us")


def _cost(function: Callable[[], object], repeat: int) -> float:
    function()
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        runs.append((time.perf_counter() - start) / repeat)
    return min(runs)


def run_profile(
    server: ServerProcess, files: PkiFiles, credentials: SdkCredentials, *, calls: int
) -> None:
    """Where pyampam's client spends its time: layer timings, then CPU-time profiles."""
    warmup = min(50, calls)
    layers(
        server, files, credentials, calls=max(1, calls // 10), rounds=10, repeat=min(2000, calls)
    )
    # CPU time of each thread, so time spent blocked (waiting for the server, for the worker)
    # does not show up as a function's own time.
    main_profiler = cProfile.Profile(time.thread_time)
    worker_profiler = cProfile.Profile(time.thread_time)
    # One worker thread, so one profiler sees every call's work; started inside the block.
    with profiled_new_threads(worker_profiler):
        client = pyampam_client(server.url, files, credentials, max_concurrent_calls=1)
        caller = pyampam_caller(client)
        caller()
    try:
        time_calls(caller, warmup)
        worker_profiler.clear()
        main_profiler.enable()
        time_calls(caller, calls)
        main_profiler.disable()
    finally:
        client.close()
    bare = BareClient(server.url, files, credentials)
    bare_profiler = cProfile.Profile(time.thread_time)
    try:
        time_calls(bare.call, warmup)
        bare_profiler.enable()
        time_calls(bare.call, calls)
        bare_profiler.disable()
    finally:
        bare.close()
    worker_profiler.disable()
    print(f"\ncProfile, thread CPU time, {calls} sequential calls each (profiling slows them)")
    pyampam_rows = profile_rows(main_profiler, worker_profiler)
    bare_rows = profile_rows(bare_profiler)
    print_profile("pyampam, calling and worker thread", pyampam_rows, calls, limit=15)
    print_profile("bare requests.Session.post", bare_rows, calls, limit=10)
    print_profile_difference(pyampam_rows, bare_rows, calls, limit=25)


# -- the report ------------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    """How a figure compares with its target."""
    return "met" if met else "MISSED"


def milliseconds(seconds: float) -> str:
    """Seconds as milliseconds, three decimals."""
    return f"{seconds * 1e3:.3f} ms"


def print_sequential(sequential: Sequential, rounds: int, counts: dict[str, int]) -> None:
    """The table of the sequential calls."""
    print(
        f"\nSequential authenticate, answered at once: {rounds} interleaved rounds, "
        "median of each round's mean time per call"
    )
    print(
        f"  {'client':<44} {'calls/round':>11} {'per call':>11} {'fastest':>11} "
        f"{'slowest':>11} {'calls/s':>8} {'handshakes/call':>15}"
    )
    for name, per_call in sequential.per_call.items():
        print(
            f"  {LABELS[name]:<44} {counts[name]:>11} {milliseconds(sequential.median(name)):>11}"
            f" {milliseconds(min(per_call)):>11} {milliseconds(max(per_call)):>11}"
            f" {1 / sequential.median(name):>8.0f}"
            f" {sequential.handshakes[name] / sequential.calls[name]:>15.2f}"
        )


def print_bursts(bursts: Bursts, count: int, delay: float) -> None:
    """The table of the bursts."""
    rounds = len(bursts.seconds[PYAMPAM, "cold"])
    print(
        f"\nBurst: {count} calls started at once, each answered after {delay:g} s: {rounds} "
        "round(s), first start to last result"
    )
    print(f"  {'client':<56} {'median':>9} {'fastest':>9} {'slowest':>9} {'handshakes':>10}")
    labels = {
        (PYAMPAM, "cold"): f"pyampam, new client (max_concurrent_calls={count})",
        (PYAMPAM, "warm"): "pyampam, same client again (connections kept alive)",
        (BARE, "cold"): f"bare Session.post on {count} threads, new connections",
        (BARE, "warm"): "bare Session.post on the same threads and connections",
    }
    for key, label in labels.items():
        times = bursts.seconds[key]
        print(
            f"  {label:<56} {statistics.median(times):>8.3f}s {min(times):>8.3f}s"
            f" {max(times):>8.3f}s {statistics.median(bursts.handshakes[key]):>10.0f}"
        )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """Iteration counts: the defaults, ``--quick`` ones, or each given explicitly."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (fewer rounds)")
    parser.add_argument("--profile", action="store_true", help="profile pyampam's calls instead")
    parser.add_argument("--rounds", type=int, help="sequential rounds (default 15, quick 3)")
    parser.add_argument("--calls", type=int, help="keep-alive calls per round (200, quick 40)")
    parser.add_argument(
        "--reference-calls", type=int, help="reference-style calls per round (50, quick 10)"
    )
    parser.add_argument("--burst-calls", type=int, default=200, help="calls per burst (200)")
    parser.add_argument("--burst-delay", type=float, default=1.0, help="answer delay (1 s)")
    parser.add_argument("--burst-rounds", type=int, help="bursts of each kind (3, quick 1)")
    parser.add_argument("--profile-calls", type=int, default=2000, help="calls to profile")
    arguments = parser.parse_args(argv)
    quick = arguments.quick
    for name, full, short in (
        ("rounds", 15, 3),
        ("calls", 200, 40),
        ("reference_calls", 50, 10),
        ("burst_rounds", 3, 1),
    ):
        if getattr(arguments, name) is None:
            setattr(arguments, name, short if quick else full)
    return arguments


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the tables and the three headline figures."""
    arguments = parse_arguments(argv)
    started = time.perf_counter()
    pki = make_test_pki()
    credentials = pki.credentials(
        license_key=secrets.token_hex(6).upper(), group_key=secrets.token_hex(16)
    )
    with tempfile.TemporaryDirectory(prefix="pyampam-bench-") as folder, ExitStack() as stack:
        files = pki.write_files(folder)
        fast = ServerProcess(files, credentials, delay=0.0)
        stack.callback(fast.close)
        if arguments.profile:
            run_profile(fast, files, credentials, calls=arguments.profile_calls)
            return 0
        slow = ServerProcess(files, credentials, delay=arguments.burst_delay)
        stack.callback(slow.close)

        print(
            f"pyampam provider benchmarks: python {sys.version.split()[0]}, requests "
            f"{version('requests')}, urllib3 {version('urllib3')}, {ssl.OPENSSL_VERSION}, "
            f"{os.cpu_count()} CPUs"
        )
        print(
            f"servers: PhoneFactorTestServer in processes {fast.pid} (answers at once) and "
            f"{slow.pid} (after {slow.delay:g} s), mutual TLS on {fast.url.split('/pfd')[0]}"
        )
        watch = CpuWatch([fast, slow])
        client = stack.enter_context(pyampam_client(fast.url, files, credentials))
        bare = BareClient(fast.url, files, credentials)
        stack.callback(bare.close)
        reference = ReferenceStyleClient(fast.url, files, credentials)
        counts = {
            PYAMPAM: arguments.calls,
            BARE: arguments.calls,
            REFERENCE: arguments.reference_calls,
        }
        sequential = Sequential(
            fast, {PYAMPAM: pyampam_caller(client), BARE: bare.call, REFERENCE: reference.call}
        )
        warmup = {name: max(5, count // 2) for name, count in counts.items()}
        sequential.run(rounds=arguments.rounds, counts=counts, warmup=warmup)
        print_sequential(sequential, arguments.rounds, counts)

        bursts = Bursts(slow, files, credentials)
        bursts.run(count=arguments.burst_calls, rounds=arguments.burst_rounds)
        print_bursts(bursts, arguments.burst_calls, arguments.burst_delay)
        errors = fast.stats()["errors"] + slow.stats()["errors"]
        others = watch.report()

    throughput = sequential.paired_ratio(REFERENCE, PYAMPAM)
    overhead = sequential.paired_ratio(PYAMPAM, BARE)
    extra = sequential.median(PYAMPAM) - sequential.median(BARE)
    cold = bursts.median(PYAMPAM, "cold")
    warm = bursts.median(PYAMPAM, "warm")
    burst_target = arguments.burst_delay + BURST_SLACK
    print(f"\n(server errors: {errors}; run took {time.perf_counter() - started:.0f} s; {others})")
    print("ratios are medians of the per-round ratios; figures above are medians per client")
    print(
        f"HEADLINE throughput: pyampam {1 / sequential.median(PYAMPAM):.0f} calls/s, "
        f"reference-style {1 / sequential.median(REFERENCE):.0f} calls/s: {throughput:.2f}x "
        f"(target >= {THROUGHPUT_TARGET:g}x): {verdict(throughput >= THROUGHPUT_TARGET)}"
    )
    print(
        f"HEADLINE overhead: pyampam/bare time per call {overhead:.3f}x "
        f"({extra * 1e6:+.0f} us per call) (target <= {OVERHEAD_TARGET:g}x): "
        f"{verdict(overhead <= OVERHEAD_TARGET)}"
    )
    print(
        f"HEADLINE burst: {arguments.burst_calls} calls answered after {arguments.burst_delay:g} s,"
        f" first initiate to last result: new client {cold:.3f} s"
        f" ({cold / bursts.median(BARE, 'cold'):.2f}x bare), {verdict(cold <= burst_target)};"
        f" kept alive {warm:.3f} s ({warm / bursts.median(BARE, 'warm'):.2f}x bare),"
        f" {verdict(warm <= burst_target)} (target <= {burst_target:g} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
