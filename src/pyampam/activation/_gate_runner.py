"""The MFA calls a service is waiting on: run inline or on worker threads, abandoned, shut down."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

import attrs

from pyampam.activation._mfa_gate import GateOutcome, MfaGate
from pyampam.exceptions import MfaCancelledError, MfaTimeoutError, PamError
from pyampam.providers._types import CallHandle

__all__ = ["GateRunner"]

_log = logging.getLogger("pyampam.activation")

#: What the runner calls with a gate's outcome: move the request on and record it.
Finish = Callable[[uuid.UUID, GateOutcome], None]


@attrs.define(eq=False)
class _Waiting:
    """One MFA call being waited on."""

    request_id: uuid.UUID
    handle: CallHandle
    gate: MfaGate
    timeout: float | None
    cancel: threading.Event = attrs.field(factory=threading.Event)
    done: threading.Event = attrs.field(factory=threading.Event)
    shutting_down: bool = False
    abandoned: bool = False


class GateRunner:
    """Waits for MFA calls and hands each outcome to ``finish``, once.

    A wait runs in the caller's thread or on a worker thread of its own, so any number of
    calls can be waited on at once; the runner's lock guards only its table and is never held
    during a call. A wait that ends because its request was abandoned (closed) hands nothing
    on; one cut short by :meth:`shutdown` hands on a failure, as nobody would ever finish it.
    """

    def __init__(self, finish: Finish) -> None:
        self._finish = finish
        self._lock = threading.Lock()
        self._waiting: dict[uuid.UUID, _Waiting] = {}
        self._shut_down = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def check_open(self) -> None:
        """Raise :class:`~pyampam.exceptions.PamError` once the runner has been shut down."""
        with self._lock:
            if self._shut_down:
                raise PamError(
                    "this PamService has been shut down and places no more MFA calls; create a "
                    "new one"
                )

    def run(
        self,
        request_id: uuid.UUID,
        gate: MfaGate,
        handle: CallHandle,
        *,
        timeout: float | None,
        background: bool,
    ) -> None:
        """Wait for the call of *handle*: here (errors propagate), or on a worker thread."""
        waiting = _Waiting(request_id, handle, gate, timeout)
        with self._lock:
            self._waiting[request_id] = waiting
            if self._shut_down:
                # shutdown() ran after check_open() and did not see this wait.
                waiting.shutting_down = True
                waiting.cancel.set()
        if not background:
            self._complete(waiting)
            return
        worker = threading.Thread(
            target=self._work, args=(waiting,), name=f"pyampam-mfa-{request_id}", daemon=True
        )
        worker.start()

    def abandon(self, request_id: uuid.UUID) -> None:
        """Stop waiting for the request's call (its request was closed); nothing is handed on."""
        with self._lock:
            waiting = self._waiting.get(request_id)
            if waiting is not None:
                waiting.abandoned = True
                waiting.cancel.set()

    def wait(self, request_id: uuid.UUID, timeout: float | None) -> None:
        """Block until the request's wait has ended; at once if there is none (or abandoned).

        Raises :class:`~pyampam.exceptions.MfaTimeoutError` after *timeout* seconds.
        """
        with self._lock:
            waiting = self._waiting.get(request_id)
            if waiting is None or waiting.abandoned:
                return
        if not waiting.done.wait(timeout):
            raise MfaTimeoutError(
                f"the MFA call of request {request_id} had not finished after {timeout:g} s; "
                "the request is still PendingMFA: wait again, or close it",
                call_id=waiting.handle.call_id,
            )

    def shutdown(self, timeout: float | None) -> None:
        """Cut every wait short, accept no new ones, and give the waits *timeout* s to end."""
        with self._lock:
            self._shut_down = True
            waits = list(self._waiting.values())
        for waiting in waits:
            waiting.shutting_down = True
            waiting.cancel.set()
        for waiting in waits:
            waiting.done.wait(timeout)

    def _work(self, waiting: _Waiting) -> None:
        try:
            self._complete(waiting)
        except Exception:  # noqa: BLE001 - a worker thread has no caller to raise to
            _log.exception(
                "finishing the MFA gate of request %s failed; read the request to see where it "
                "stands (a request left PendingMFA can be closed)",
                waiting.request_id,
            )

    def _complete(self, waiting: _Waiting) -> None:
        try:
            outcome: GateOutcome | None
            try:
                outcome = waiting.gate.wait(
                    waiting.handle, timeout=waiting.timeout, cancel=waiting.cancel
                )
            except MfaCancelledError:
                outcome = None
                if waiting.shutting_down and not waiting.abandoned:
                    outcome = GateOutcome(
                        False,
                        waiting.handle.call_id,
                        None,
                        "the wait for the MFA call was abandoned: the service shut down",
                    )
            # An abandoned request's call no longer matters, whatever it turned out to be.
            if outcome is not None and not waiting.abandoned:
                self._finish(waiting.request_id, outcome)
        finally:
            with self._lock:
                self._waiting.pop(waiting.request_id, None)
            waiting.done.set()
