"""The request lifecycle as a state machine: gates, events and privileges under any sequence."""

from __future__ import annotations

import datetime as dt
import pathlib
import tempfile
import uuid
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from pyampam import ActivationRequest, RequestStatus, Role, User
from pyampam.activation import PamService
from pyampam.events import EventId
from pyampam.exceptions import (
    ConnectionFailedError,
    InvalidTransitionError,
    NotAnApproverError,
    PamError,
    SelfApprovalError,
)
from pyampam.providers import CallResult
from pyampam.store import MemoryStore, SqliteStore, Store
from pyampam.testing import FakeProvider, ManualClock

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)

S = RequestStatus
# Where each status may lead, directly or not: statuses only ever move forward.
REACHABLE = {
    S.PENDING_MFA: {S.PENDING_APPROVAL, S.SCHEDULED, S.ACTIVE, S.REJECTED, S.CLOSED, S.EXPIRED},
    S.PENDING_APPROVAL: {S.SCHEDULED, S.ACTIVE, S.REJECTED, S.CLOSED, S.EXPIRED},
    S.SCHEDULED: {S.ACTIVE, S.CLOSED, S.EXPIRED},
    S.ACTIVE: {S.CLOSED, S.EXPIRED},
    S.CLOSED: set(),
    S.EXPIRED: set(),
    S.REJECTED: set(),
}
ENTRY_EVENTS = {
    S.SCHEDULED: EventId.REQUEST_SCHEDULED,
    S.ACTIVE: EventId.REQUEST_ACTIVATED,
    S.REJECTED: EventId.REQUEST_REJECTED,
    S.CLOSED: EventId.REQUEST_CLOSED,
    S.EXPIRED: EventId.REQUEST_EXPIRED,
}
# Mostly successes, so that requests get past the MFA gate often enough to test what follows.
OUTCOMES = [
    CallResult.SUCCESS_NO_PIN,
    CallResult.SUCCESS_NO_PIN,
    CallResult.SUCCESS_NO_PIN,
    CallResult.SUCCESS_NO_PIN,
    CallResult.FAILED_USER_HUNGUP_ON_US,
    CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT,
    ConnectionFailedError("the gateway is down"),
]
# name: (needs MFA, needs approval, approvers by user index, privileges)
ROLES: dict[str, tuple[bool, bool, tuple[int, ...], tuple[str, ...]]] = {
    "none": (False, False, (), ("G-none", "G-shared")),
    "mfa": (True, False, (), ("G-mfa", "G-shared")),
    "approval": (False, True, (1, 2), ("G-approval",)),
    "both": (True, True, (0, 2), ("G-both", "G-shared")),
}


class Clock:
    """The service's clock, moved only by the machine's rules."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


class Lifecycle(RuleBasedStateMachine):
    """Requests, calls, approvals, closes, clock moves, starts and expiries in any order."""

    store_kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        self.store: Store = (
            MemoryStore()
            if self.store_kind == "memory"
            else SqliteStore(pathlib.Path(self.directory.name) / "pam.db")
        )
        self.clock = Clock()
        self.call_clock = ManualClock()
        # Calls placed with wait=False finish only when call_clock moves a second.
        self.provider = FakeProvider(latency=1.0, clock=self.call_clock)
        self.service = PamService(
            store=self.store, provider=self.provider, clock=self.clock, mfa_timeout=120
        )
        self.users: list[User] = [
            self.service.new_user("CONTOSO", f"user{n}", phone=f"+1 425555010{n}") for n in range(3)
        ]
        self.roles: dict[str, Role] = {}
        for name, (mfa, approval, approvers, privileges) in ROLES.items():
            self.roles[name] = self.service.new_role(
                name,
                candidates=self.users,
                approvers=[self.users[n] for n in approvers],
                privileges=privileges,
                ttl=10 * MINUTE,
                mfa_enabled=mfa,
                approval_enabled=approval,
            )
        self.role_names = {role.role_id: name for name, role in self.roles.items()}
        self.requests: list[uuid.UUID] = []
        self.waiting: set[uuid.UUID] = set()
        self.history: dict[uuid.UUID, list[RequestStatus]] = {}

    def teardown(self) -> None:
        # Let running calls finish first, so shutdown has nothing to wait for.
        self.call_clock.advance(1.0)
        self.service.shutdown(timeout=10)
        self.store.close()
        self.directory.cleanup()

    # -- rules ----------------------------------------------------------------------------------

    @rule(
        user=st.integers(0, 2),
        role=st.sampled_from(sorted(ROLES)),
        outcome=st.sampled_from(OUTCOMES),
        wait=st.booleans(),
        short=st.booleans(),
        later=st.booleans(),
    )
    def request(
        self,
        *,
        user: int,
        role: str,
        outcome: CallResult | ConnectionFailedError,
        wait: bool,
        short: bool,
        later: bool,
    ) -> None:
        needs_mfa, needs_approval, _, _ = ROLES[role]
        requestor = self.users[user]
        if needs_mfa:
            # wait=True calls finish at once; the others wait for call_clock.
            self.provider.script(str(requestor.object_id), outcome, latency=0 if wait else None)
        made = self.service.request_activation(
            requestor,
            role,
            requested_ttl=5 * MINUTE if short else None,
            requested_time=self.clock.now + 30 * MINUTE if later else None,
            wait=wait,
        )
        self.requests.append(made.request_id)
        authorized = S.SCHEDULED if later else S.ACTIVE
        if needs_mfa and not wait:
            assert made.status is S.PENDING_MFA
            self.waiting.add(made.request_id)
        elif needs_mfa and outcome is not CallResult.SUCCESS_NO_PIN:
            assert made.status is S.REJECTED
        elif needs_approval:
            assert made.status is S.PENDING_APPROVAL
        else:
            assert made.status is authorized

    @precondition(lambda self: self.waiting)
    @rule()
    def calls_finish(self) -> None:
        self.call_clock.advance(1.0)
        for request_id in sorted(self.waiting):
            done = self.service.wait_for(request_id, timeout=10)
            assert done.status is not S.PENDING_MFA
        self.waiting.clear()

    @precondition(lambda self: self.requests)
    @rule(data=st.data(), approver=st.integers(0, 2), approving=st.booleans())
    def decide(self, data: st.DataObject, approver: int, approving: bool) -> None:
        request_id = data.draw(st.sampled_from(self.requests))
        current = self.service.get_request(request_id)
        role = self.roles[self.role_names[current.role_id]]
        owner = self.users[approver]
        expected: type[PamError] | None = None
        if owner.object_id not in role.approvers:
            expected = NotAnApproverError
        elif approving and owner.object_id == current.requestor_id:
            expected = SelfApprovalError
        elif current.status is not S.PENDING_APPROVAL:
            expected = InvalidTransitionError
        decide = self.service.approve if approving else self.service.reject
        refusal: PamError | None = None
        try:
            decided = decide(request_id, owner)
        except PamError as error:
            refusal = error
        if refusal is not None:
            assert type(refusal) is expected, refusal
            assert self.service.get_request(request_id) == current
            return
        assert expected is None
        assert decided.decided_by == owner.object_id
        if not approving:
            assert decided.status is S.REJECTED
        elif current.requested_time is not None and current.requested_time > self.clock.now:
            assert decided.status is S.SCHEDULED
        else:
            assert decided.status is S.ACTIVE

    def awaiting_approval(self) -> list[ActivationRequest]:
        # In the order made: the store's order breaks ties by random ids, and Hypothesis
        # must see the same choices when it replays an example.
        return [request for request in self.stored() if request.status is S.PENDING_APPROVAL]

    @precondition(lambda self: self.awaiting_approval())
    @rule(data=st.data(), approving=st.booleans())
    def an_approver_decides(self, data: st.DataObject, approving: bool) -> None:
        request = data.draw(st.sampled_from(self.awaiting_approval()))
        role = self.roles[self.role_names[request.role_id]]
        owner = data.draw(
            st.sampled_from(
                [
                    user
                    for user in self.users
                    if user.object_id in role.approvers - {request.requestor_id}
                ]
            )
        )
        decided = (self.service.approve if approving else self.service.reject)(request, owner)
        assert decided.decided_by == owner.object_id
        assert decided.status in ({S.ACTIVE, S.SCHEDULED} if approving else {S.REJECTED})

    @precondition(lambda self: self.requests)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        request_id = data.draw(st.sampled_from(self.requests))
        current = self.service.get_request(request_id)
        expiry = current.expiration_time
        closable = not current.status.is_final and not (
            current.status is S.ACTIVE and expiry is not None and expiry <= self.clock.now
        )
        try:
            closed = self.service.close(request_id)
        except InvalidTransitionError:
            assert not closable
            return
        assert closable
        assert closed.status is S.CLOSED
        assert closed.expiration_time == self.clock.now
        self.waiting.discard(request_id)

    @rule(minutes=st.sampled_from([1, 4, 6, 11, 31]))
    def time_passes(self, minutes: int) -> None:
        self.clock.now += minutes * MINUTE

    @rule()
    def start_due(self) -> None:
        for started in self.service.start_due():
            assert started.status is S.ACTIVE
            assert started.requested_time is not None
            assert started.requested_time <= self.clock.now

    @rule()
    def expire_due(self) -> None:
        for expired in self.service.expire_due():
            assert expired.status is S.EXPIRED
            assert expired.expiration_time is not None
            assert expired.expiration_time <= self.clock.now

    # -- invariants -----------------------------------------------------------------------------

    def stored(self) -> list[ActivationRequest]:
        return [self.service.get_request(request_id) for request_id in self.requests]

    @invariant()
    def statuses_only_move_forward(self) -> None:
        self.observe()

    def observe(self) -> None:
        """Add each request's status to its history if it changed; check it moved forward."""
        for request in self.stored():
            seen = self.history.setdefault(request.request_id, [])
            if not seen or seen[-1] is not request.status:
                if seen:
                    assert request.status in REACHABLE[seen[-1]], (seen, request.status)
                seen.append(request.status)

    @invariant()
    def no_request_is_authorized_without_its_gates(self) -> None:
        for request in self.stored():
            needs_mfa, needs_approval, _, _ = ROLES[self.role_names[request.role_id]]
            events = self.service.events.query(request=request.request_id)
            found = [event.event_id for event in events]
            authorized = (
                request.status.is_authorized
                or request.activation_time is not None
                or EventId.REQUEST_SCHEDULED in found
            )
            if not authorized:
                assert EventId.REQUEST_ACTIVATED not in found
                continue
            entered = found.index(
                EventId.REQUEST_SCHEDULED
                if EventId.REQUEST_SCHEDULED in found
                else EventId.REQUEST_ACTIVATED
            )
            if needs_mfa:
                assert found.count(EventId.MFA_COMPLETED) == 1
                assert found.index(EventId.MFA_COMPLETED) < entered
            else:
                assert EventId.MFA_COMPLETED not in found
            if needs_approval:
                assert found.count(EventId.REQUEST_APPROVED) == 1
                assert found.index(EventId.REQUEST_APPROVED) < entered
                role = self.roles[self.role_names[request.role_id]]
                assert request.decided_by in role.approvers
                assert request.decided_by != request.requestor_id
            else:
                assert EventId.REQUEST_APPROVED not in found

    @invariant()
    def every_change_is_recorded_once(self) -> None:
        self.observe()
        total = 0
        for request in self.stored():
            events = self.service.events.query(request=request.request_id)
            total += len(events)
            counts = Counter(EventId(event.event_id) for event in events)
            assert counts[EventId.REQUEST_CREATED] == 1
            assert events[0].event_id == EventId.REQUEST_CREATED
            assert all(count == 1 for count in counts.values()), counts
            seen = self.history[request.request_id]
            for status, event_id in ENTRY_EVENTS.items():
                assert (event_id in counts) == (status in seen), (seen, counts)
            if request.status in ENTRY_EVENTS:
                assert events[-1].event_id == ENTRY_EVENTS[request.status]
            assert (EventId.REQUEST_ACTIVATED in counts) == (request.activation_time is not None)
            mfa_failed = request.status is S.REJECTED and request.decided_by is None
            assert (EventId.MFA_NOT_COMPLETED in counts) == mfa_failed
            passed_mfa = any(status is not S.PENDING_MFA for status in seen) and not mfa_failed
            needs_mfa = ROLES[self.role_names[request.role_id]][0]
            closed_in_call = seen == [S.PENDING_MFA, S.CLOSED]
            assert (EventId.MFA_COMPLETED in counts) == (
                needs_mfa and passed_mfa and not closed_in_call
            )
        assert total == len(self.service.events)

    @invariant()
    def privileges_are_the_unexpired_active_requests(self) -> None:
        now = self.clock.now
        for user in self.users:
            expected: set[str] = set()
            for request in self.service.get_requests(user):
                if (
                    request.status is S.ACTIVE
                    and request.expiration_time is not None
                    and request.expiration_time > now
                ):
                    expected.update(self.roles[self.role_names[request.role_id]].privileges)
            assert self.service.privileges_of(user) == expected
            for held in self.service.active_requests(user):
                assert held.status is S.ACTIVE
                assert not held.status.is_final


Lifecycle.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycleInMemory = Lifecycle.TestCase
TestLifecycleInMemory.__doc__ = "The lifecycle invariants hold over a MemoryStore."


class SqliteLifecycle(Lifecycle):
    """The same machine over an SQLite store."""

    store_kind = "sqlite"


SqliteLifecycle.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycleInSqlite = SqliteLifecycle.TestCase
TestLifecycleInSqlite.__doc__ = "The lifecycle invariants hold over an SqliteStore."
