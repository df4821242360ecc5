"""The event log: records events to every sink and answers queries from an in-memory index."""

from __future__ import annotations

import bisect
import datetime as dt
import os
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from itertools import chain
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pyampam._display import (
    EVENTS,
    MAX_ROWS,
    PrettyPrinter,
    Records,
    bars_by_label,
    bars_per_day,
    bars_size,
    html_table,
    new_axes,
    pretty_table,
)
from pyampam._model import ActivationRequest, Role, User
from pyampam.events._event import EventId, EventLogError, EventSinkError, PamEvent
from pyampam.events._sinks import EventSink, JsonLinesSink, read_events
from pyampam.exceptions import InvalidValueError

if TYPE_CHECKING:
    # pandas ships no type information; see pyampam._display.
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    from matplotlib.axes import Axes

__all__ = ["EventLog"]

# What EventLog.plot() counts per day: the activations and the MFA outcomes that led to them.
_ACTIVITY = (
    ("activated", EventId.REQUEST_ACTIVATED),
    ("MFA completed (103)", EventId.MFA_COMPLETED),
    ("MFA not completed (101)", EventId.MFA_NOT_COMPLETED),
)


def _check_moment(name: str, value: object) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise InvalidValueError(
            f"{name} must be a datetime.datetime or None, not {type(value).__name__}", field=name
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValueError(
            f"{name} {value.isoformat()} has no time zone; give an aware datetime", field=name
        )
    return value


def _user_key(user: object) -> uuid.UUID | None:
    if user is None or isinstance(user, uuid.UUID):
        return user
    if isinstance(user, User):
        return user.object_id
    raise InvalidValueError(
        f"user must be a User or a uuid.UUID object id, not {type(user).__name__}", field="user"
    )


def _request_key(request: object) -> uuid.UUID | None:
    if request is None or isinstance(request, uuid.UUID):
        return request
    if isinstance(request, ActivationRequest):
        return request.request_id
    raise InvalidValueError(
        f"request must be an ActivationRequest or a uuid.UUID, not {type(request).__name__}",
        field="request",
    )


def _event_ids(event_id: object) -> frozenset[int] | None:
    if event_id is None:
        return None
    values = (
        list(event_id)
        if isinstance(event_id, Collection) and not isinstance(event_id, (str, bytes))
        else [event_id]
    )
    ids = [value for value in values if isinstance(value, int) and not isinstance(value, bool)]
    if len(ids) == len(values):
        return frozenset(ids)
    raise InvalidValueError(
        f"event_id must be an event id (int or EventId) or a collection of them, not {event_id!r}",
        field="event_id",
    )


class _Query:
    """The filters of one :meth:`EventLog.query` call, checked and normalized."""

    __slots__ = ("ids", "request_id", "role_id", "role_name", "since", "until", "user_id")

    def __init__(
        self,
        *,
        event_id: object,
        user: object,
        role: object,
        request: object,
        since: object,
        until: object,
    ) -> None:
        self.ids = _event_ids(event_id)
        self.user_id = _user_key(user)
        self.request_id = _request_key(request)
        self.role_id: uuid.UUID | None = None
        self.role_name: str | None = None
        if isinstance(role, Role):
            self.role_id = role.role_id
        elif isinstance(role, uuid.UUID):
            self.role_id = role
        elif isinstance(role, str):
            self.role_name = role.casefold()
        elif role is not None:
            raise InvalidValueError(
                f"role must be a Role, a uuid.UUID or a display name, not {type(role).__name__}",
                field="role",
            )
        self.since = _check_moment("since", since)
        self.until = _check_moment("until", until)

    def matches(self, event: PamEvent) -> bool:
        """Whether *event* passes every filter."""
        return (
            (self.ids is None or event.event_id in self.ids)
            and (self.user_id is None or event.user_id == self.user_id)
            and (self.role_id is None or event.role_id == self.role_id)
            and (
                self.role_name is None
                or (event.role_name is not None and event.role_name.casefold() == self.role_name)
            )
            and (self.request_id is None or event.request_id == self.request_id)
            and (self.since is None or event.time >= self.since)
            and (self.until is None or event.time < self.until)
        )


class EventLog:
    """The "Privileged Access Management" event log: one place to record and to search events.

    ``record`` hands each event to every sink, in the order given, and (unless
    ``memory=False``) keeps it in an in-memory index that :meth:`query` searches: by event id,
    user, role and request directly, by time with a binary search while events arrive in time
    order. ``EventLog()`` keeps events in memory only; add a :class:`JsonLinesSink` to keep them
    on disk, and use :meth:`from_jsonl` to load such a file again. Thread safe; usable as a
    context manager, which closes the sinks.

    With ``memory=False`` the log only forwards events: :meth:`query`, ``len()`` and iteration
    raise :class:`EventLogError`, which suits a long-running service that must not grow.
    """

    def __init__(self, *sinks: EventSink, memory: bool = True) -> None:
        for sink in sinks:
            if not callable(getattr(sink, "write", None)) or not callable(
                getattr(sink, "close", None)
            ):
                raise InvalidValueError(
                    f"a sink needs write(event) and close() methods; {sink!r} lacks them",
                    field="sinks",
                )
        self._sinks = tuple(sinks)
        self._memory = memory
        self._lock = threading.RLock()
        self._closed = False
        self._events: list[PamEvent] = []
        self._times: list[dt.datetime] = []
        # While every event is at least as late as the one before, positions are in time order
        # and a time range is a slice found by bisection.
        self._in_time_order = True
        self._by_id: dict[int, list[int]] = {}
        self._by_user: dict[uuid.UUID, list[int]] = {}
        self._by_role: dict[uuid.UUID, list[int]] = {}
        self._by_role_name: dict[str, list[int]] = {}
        self._by_request: dict[uuid.UUID, list[int]] = {}

    def __repr__(self) -> str:
        held = f"events={len(self._events)}" if self._memory else "memory=False"
        return f"EventLog({held}, sinks={len(self._sinks)})"

    @property
    def sinks(self) -> tuple[EventSink, ...]:
        """The sinks every event is written to, in order."""
        return self._sinks

    @classmethod
    def from_jsonl(
        cls,
        path: str | os.PathLike[str],
        *,
        append: bool = False,
        strict: bool = True,
        on_error: Callable[[EventLogError], object] | None = None,
    ) -> EventLog:
        """A queryable log holding the events of a JSON Lines file, in file order.

        With ``append=True`` the log also writes new events to the same file (created, empty,
        if it does not exist yet), so a service can reload its history on start and carry on.
        ``strict`` and ``on_error`` work as in :func:`read_events`: a broken line raises
        :class:`EventLogError` naming it, unless ``strict=False``.
        """
        log = cls()
        # A service's first start has no file yet; with append=True the sink will create it.
        if not (append and not os.path.lexists(path)):
            for event in read_events(path, strict=strict, on_error=on_error):
                log._remember(event)
        if append:
            log._sinks = (JsonLinesSink(path),)
        return log

    # -- recording ---------------------------------------------------------------------------

    def record(self, event: PamEvent) -> None:
        """Write *event* to every sink and into the index.

        A failing sink does not stop the others: every sink gets the event, then an
        :class:`EventSinkError` names the sinks that failed and why.
        """
        if not isinstance(event, PamEvent):
            raise InvalidValueError(
                f"event must be a PamEvent, not {type(event).__name__}; build one with "
                "PamEvent.mfa_completed(), PamEvent.lifecycle() and the like",
                field="event",
            )
        with self._lock:
            if self._closed:
                raise EventLogError("the event log is closed; open a new one")
            if self._memory:
                self._remember(event)
            failures: list[tuple[object, BaseException]] = []
            for sink in self._sinks:
                try:
                    sink.write(event)
                except Exception as error:  # noqa: BLE001 -- any sink failing must not stop the others
                    failures.append((sink, error))
        if failures:
            first = failures[0][1]
            raise _sink_error(
                f"event {int(event.event_id)} was not fully recorded", failures
            ) from first

    def _remember(self, event: PamEvent) -> None:
        position = len(self._events)
        if self._times and event.time < self._times[-1]:
            self._in_time_order = False
        self._events.append(event)
        self._times.append(event.time)
        self._by_id.setdefault(int(event.event_id), []).append(position)
        if event.user_id is not None:
            self._by_user.setdefault(event.user_id, []).append(position)
        if event.role_id is not None:
            self._by_role.setdefault(event.role_id, []).append(position)
        if event.role_name is not None:
            self._by_role_name.setdefault(event.role_name.casefold(), []).append(position)
        if event.request_id is not None:
            self._by_request.setdefault(event.request_id, []).append(position)

    # -- reading -----------------------------------------------------------------------------

    def _check_memory(self) -> None:
        if not self._memory:
            raise EventLogError(
                "this event log keeps no events in memory (memory=False); read them back from "
                "a sink, e.g. EventLog.from_jsonl(path)"
            )

    def query(
        self,
        *,
        event_id: int | Collection[int] | None = None,
        user: User | uuid.UUID | None = None,
        role: Role | uuid.UUID | str | None = None,
        request: ActivationRequest | uuid.UUID | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> Records[PamEvent]:
        """The events matching every given filter, oldest first (ties in the order recorded).

        ``event_id`` is one id or a collection of ids; ``user`` a :class:`~pyampam.User` or its
        object id; ``role`` a :class:`~pyampam.Role`, its id, or its display name (matched
        without regard to case against the events' ``role_name``); ``request`` an
        :class:`~pyampam.ActivationRequest` or its id. ``since`` is inclusive and ``until``
        exclusive; both must be aware.
        """
        wanted = _Query(
            event_id=event_id, user=user, role=role, request=request, since=since, until=until
        )
        with self._lock:
            self._check_memory()
            events = self._events
            found = [events[position] for position in self._positions(wanted)]
            in_time_order = self._in_time_order
        found = [event for event in found if wanted.matches(event)]
        if not in_time_order:
            # sort() is stable, so events with the same time stay in the order recorded.
            found.sort(key=lambda event: event.time)
        return Records(found, table=EVENTS)

    def _positions(self, wanted: _Query) -> Sequence[int]:
        """Positions of the events that may match: the shortest index list, cut to the times."""
        candidates: list[Sequence[int]] = []
        if wanted.ids is not None:
            lists = [self._by_id.get(one, []) for one in wanted.ids]
            candidates.append(lists[0] if len(lists) == 1 else sorted(chain(*lists)))
        for key, index in (
            (wanted.user_id, self._by_user),
            (wanted.role_id, self._by_role),
            (wanted.request_id, self._by_request),
        ):
            if key is not None:
                candidates.append(index.get(key, []))
        if wanted.role_name is not None:
            candidates.append(self._by_role_name.get(wanted.role_name, []))

        low, high = 0, len(self._events)
        if self._in_time_order:
            if wanted.since is not None:
                low = bisect.bisect_left(self._times, wanted.since)
            if wanted.until is not None:
                high = bisect.bisect_left(self._times, wanted.until)
        if not candidates:
            return range(low, max(low, high))
        positions = min(candidates, key=len)
        # Index lists hold positions in ascending order, so the time slice is bisected too.
        return positions[bisect.bisect_left(positions, low) : bisect.bisect_left(positions, high)]

    def __len__(self) -> int:
        with self._lock:
            self._check_memory()
            return len(self._events)

    def __bool__(self) -> bool:
        # A log is a thing, not a container that is "false" when empty or kept elsewhere.
        return True

    def __iter__(self) -> Iterator[PamEvent]:
        """The events held, oldest first: the same as ``query()`` with no filter."""
        return iter(self.query())

    # -- display -----------------------------------------------------------------------------

    def to_records(self) -> list[dict[str, Any]]:
        """Every event held, oldest first, as a dict of JSON values (:meth:`PamEvent.to_record`)."""
        return self.query().to_records()

    def to_dataframe(self) -> pd.DataFrame:
        """Every event held as a pandas DataFrame, one row each, ``time`` as UTC datetimes.

        Needs the ``notebook`` extra; raises :class:`~pyampam.exceptions.MissingExtraError`
        without pandas.
        """
        return self.query().to_dataframe()

    def _repr_html_(self) -> str:
        if not self._memory:
            return html_table(
                [], (), caption=f"Event log: kept in {len(self._sinks)} sink(s), not in memory"
            )
        events = self.query()
        return html_table(
            [event.to_record() for event in events[-MAX_ROWS:]],
            EVENTS.columns,
            caption=f"Event log: {EVENTS.count(len(events))}, newest last",
            time_keys=EVENTS.time_keys,
            newest=True,
            total=len(events),
        )

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        if cycle or not self._memory:
            p.text(repr(self))
            return
        events = self.query()
        pretty_table(
            p,
            [event.to_record() for event in events[-MAX_ROWS:]],
            EVENTS.columns,
            title=f"EventLog: {EVENTS.count(len(events))}, newest last",
            time_keys=EVENTS.time_keys,
            newest=True,
            total=len(events),
        )

    def plot(
        self, kind: Literal["activity", "failures"] = "activity", *, ax: Axes | None = None
    ) -> Axes:
        """Draw the log with matplotlib and return the axes (a new figure unless *ax* is given).

        ``kind="activity"``: per day (UTC), the roles activated and the MFA calls completed
        (event 103) and not completed (event 101), as grouped bars. ``kind="failures"``: the
        events 101 counted by call result, as horizontal bars. No pyplot state is touched; in
        Jupyter, show the result with ``ax.figure``. Needs the ``notebook`` extra; raises
        :class:`~pyampam.exceptions.MissingExtraError` without matplotlib.
        """
        if kind not in ("activity", "failures"):
            raise InvalidValueError(
                f"kind must be 'activity' or 'failures', not {kind!r}", field="kind"
            )
        what = "EventLog.plot()"
        if kind == "failures":
            failures: dict[str, int] = {}
            for event in self.query(event_id=EventId.MFA_NOT_COMPLETED):
                result = event.call_result or "(no call result)"
                failures[result] = failures.get(result, 0) + 1
            target = ax if ax is not None else new_axes(what, size=bars_size(len(failures)))
            return bars_by_label(
                target, failures, title="MFA not completed (event 101) by call result"
            )
        target = ax if ax is not None else new_axes(what)
        series: dict[str, dict[dt.date, int]] = {name: {} for name, _ in _ACTIVITY}
        names = {int(event_id): name for name, event_id in _ACTIVITY}
        for event in self.query(event_id=names.keys()):
            counts = series[names[int(event.event_id)]]
            day = event.time.date()
            counts[day] = counts.get(day, 0) + 1
        return bars_per_day(target, series, title="Activations and MFA calls per day (UTC)")

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close every sink (the events held in memory stay queryable); twice does nothing.

        A sink that fails to close does not stop the others; an :class:`EventSinkError` then
        names it.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            failures: list[tuple[object, BaseException]] = []
            for sink in self._sinks:
                try:
                    sink.close()
                except Exception as error:  # noqa: BLE001 -- one sink failing must not leave others open
                    failures.append((sink, error))
        if failures:
            raise _sink_error("the event log did not close cleanly", failures) from failures[0][1]

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _sink_error(what: str, failures: list[tuple[object, BaseException]]) -> EventSinkError:
    details = "; ".join(f"{sink!r}: {error}" for sink, error in failures)
    count = len(failures)
    return EventSinkError(
        f"{what}: {count} sink{'s' if count > 1 else ''} failed ({details}); every other sink "
        "did its part. Fix the failing sink (disk space, permissions, a closed file)",
        failures=tuple(failures),
    )
