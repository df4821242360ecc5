"""A second process for the SQLite store's tests: it writes to a store the test also opens.

Run as ``python store_child.py MODE PATH [ARGS...]``. Modes:

- ``add-forever PATH``: add requests until killed, printing each id once its commit returned.
- ``add PATH COUNT``: add COUNT requests, then print ``done``.
- ``cas PATH STATUS ID...``: print ``ready``, wait for a line on stdin, then move each request
  from PendingMFA to STATUS with a compare-and-set, printing ``ID won`` or ``ID lost``.
- ``try PATH``: open the store and add a user; print the outcome as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid

import attrs

from pyampam import ActivationRequest, RequestStatus, User
from pyampam.exceptions import ConcurrentUpdateError
from pyampam.store import SqliteStore

UTC = dt.timezone.utc


def _request(number: int) -> ActivationRequest:
    return ActivationRequest(
        requestor_id=uuid.uuid4(),
        role_id=uuid.uuid4(),
        # Varying sizes, so commits touch different numbers of pages.
        justification="x" * (number * 37 % 1500),
        requested_ttl=dt.timedelta(hours=1),
        creation_time=dt.datetime.now(UTC),
        status=RequestStatus.PENDING_MFA,
    )


def add_forever(path: str) -> None:
    with SqliteStore(path) as store:
        number = 0
        while True:
            request = _request(number)
            store.add_request(request)
            print(request.request_id, flush=True)
            number += 1


def add(path: str, count: int) -> None:
    with SqliteStore(path, timeout=20) as store:
        for number in range(count):
            store.add_request(_request(number))
    print("done", flush=True)


def compare_and_set(path: str, status: str, ids: list[str]) -> None:
    target = RequestStatus(status)
    with SqliteStore(path, timeout=20) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        for text in ids:
            stored = store.get_request(uuid.UUID(text))
            now = dt.datetime.now(UTC)
            changed = attrs.evolve(
                stored,
                status=target,
                expiration_time=now + stored.requested_ttl,
                status_reason=f"set by process {status}",
            )
            try:
                store.update_request(changed, expected_status=RequestStatus.PENDING_MFA)
            except ConcurrentUpdateError:
                print(text, "lost", flush=True)
            else:
                print(text, "won", flush=True)


def try_open(path: str) -> None:
    try:
        with SqliteStore(path, timeout=1) as store:
            store.add_user(User(source_domain="CONTOSO", source_account_name=uuid.uuid4().hex))
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the parent test
        print(json.dumps({"type": type(exc).__name__, "message": str(exc)}))
    else:
        print(json.dumps({"type": None, "message": ""}))


def main(argv: list[str]) -> None:
    mode, path, *rest = argv
    if mode == "add-forever":
        add_forever(path)
    elif mode == "add":
        add(path, int(rest[0]))
    elif mode == "cas":
        compare_and_set(path, rest[0], rest[1:])
    elif mode == "try":
        try_open(path)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
