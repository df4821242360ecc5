"""Run a PhoneFactorTestServer in a process of its own, for the provider benchmarks.

A client and a server in one process share one GIL, and a benchmark would then measure that
contention rather than the client. ``benchmarks/providers.py`` starts this script instead:

    python benchmarks/_phonefactor_server_process.py --ca ca.pem --server-cert server.pem \
        --server-key server.key --license-key KEY --group-key KEY [--delay SECONDS]

Once the server listens, the script prints its URL as the first line on stdout. Then it reads
commands from stdin, one a line: ``stats`` prints the server's counters as one JSON line.
It stops at the end of stdin (the parent closed the pipe or died), on SIGTERM and on SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

import attrs

from pyampam.testing import PhoneFactorTestServer, ServerOutcome, TestPki


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # Raised in the main thread, out of its read of stdin; main()'s `with` stops the server.
    raise SystemExit(0)


def _server_pki(ca: Path, server_cert: Path, server_key: Path) -> TestPki:
    """A TestPki holding only what a server needs: the CA and the server's certificate and key.

    The client's key, its PKCS#12 and the foreign CA stay with the benchmark; the server uses
    none of them (it checks client certificates against the CA and presents its own).
    """
    return TestPki(
        client_password="",
        ca_pem=ca.read_bytes(),
        server_cert_pem=server_cert.read_bytes(),
        server_key_pem=server_key.read_bytes(),
        client_cert_pem=b"",
        client_key_pem=b"",
        client_p12=b"",
        foreign_ca_pem=b"",
        foreign_server_cert_pem=b"",
        foreign_server_key_pem=b"",
        foreign_client_cert_pem=b"",
        foreign_client_key_pem=b"",
        foreign_client_p12=b"",
    )


def _parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ca", type=Path, required=True, help="the CA bundle (PEM)")
    parser.add_argument("--server-cert", type=Path, required=True, help="server certificate")
    parser.add_argument("--server-key", type=Path, required=True, help="server private key")
    parser.add_argument("--license-key", required=True, help="the (made-up) license key")
    parser.add_argument("--group-key", required=True, help="the (made-up) group key")
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds before each answer (default 0)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin ends or a signal arrives."""
    arguments = _parse_arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    pki = _server_pki(arguments.ca, arguments.server_cert, arguments.server_key)
    server = PhoneFactorTestServer(
        pki,
        license_key=arguments.license_key,
        group_key=arguments.group_key,
        default_outcome=ServerOutcome.accept(delay=arguments.delay),
    )
    with server:
        print(server.url, flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                counters = attrs.asdict(server.stats)
                counters["errors"] = len(server.errors)
                print(json.dumps(counters), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
