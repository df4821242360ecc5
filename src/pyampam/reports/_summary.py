"""Summing up a usage report: who failed MFA, when and why, checked against PAM's event 101."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, Union

import attrs

from pyampam._model import User
from pyampam.events import EventId, PamEvent
from pyampam.exceptions import InvalidValueError
from pyampam.providers import CallResult
from pyampam.reports._reader import LeanRow, UsageReport
from pyampam.reports._records import BadRow, UsageRecord, parse_guid
from pyampam.reports._summary_display import (
    PlotKind,
    summary_dataframe,
    summary_html,
    summary_plot,
    summary_pretty,
)

if TYPE_CHECKING:
    # pandas ships no type information; see pyampam._display.
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    from matplotlib.axes import Axes

    from pyampam._display import PrettyPrinter
    from pyampam.activation import PamService
    from pyampam.events import EventLog
    from pyampam.store import Store

__all__ = [
    "NO_CALL_RESULT",
    "CrossCheckGap",
    "DayUsage",
    "FailureGroup",
    "UsageSummary",
    "UserFailures",
    "UsersSource",
    "summarize_usage",
]

UTC = dt.timezone.utc

# An empty span of time: no row falls in it, so the first row with a time starts a day.
_NEVER = dt.datetime.min.replace(tzinfo=UTC)

#: The name failures with an empty CALL RESULT are counted under.
NO_CALL_RESULT = "(none)"

#: Where :func:`summarize_usage` finds PAM users: a store, a service, or the users themselves.
UsersSource = Union["Store", "PamService", Iterable[User]]

_K = TypeVar("_K")


class _Counts(Mapping[_K, int]):
    """A read-only, ordered, hashable mapping of counts (a frozen summary's tallies)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[_K, int]] = ()) -> None:
        self._items = dict(items)

    def __getitem__(self, key: _K) -> int:
        return self._items[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._items == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._items)

    def __reduce__(self) -> tuple[object, ...]:
        return (_Counts, (list(self._items.items()),))


def _by_count(counts: Mapping[str, int]) -> _Counts[str]:
    """*counts* ordered by count, largest first, then by name."""
    return _Counts(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _utc_text(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _day_text(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _description(call_result: str) -> str | None:
    known = CallResult.from_name(call_result) if call_result != NO_CALL_RESULT else None
    return None if known is None else known.description


@attrs.frozen
class DayUsage:
    """One calendar day (UTC) of a report: its SDK rows and how many of them failed."""

    day: dt.date
    sdk_rows: int
    failed: int

    def to_dict(self) -> dict[str, Any]:
        """The day as JSON: ``{"day": "2026-01-05", "sdk_rows": ..., "failed": ...}``."""
        return {"day": self.day.isoformat(), "sdk_rows": self.sdk_rows, "failed": self.failed}


@attrs.frozen
class UserFailures:
    r"""The failed SDK rows of one user.

    ``username`` is the report's USERNAME: a GUID in canonical form (lower case, hyphens, no
    braces) when it is one, the text as found otherwise. ``user_id``, ``source_identity``
    (``DOMAIN\account``) and ``display_name`` come from the PAM user with that object id when
    users were given; otherwise ``display_name`` is the report's Name, if any.
    ``by_call_result`` counts the failures by CALL RESULT, most frequent first. ``first_time``
    and ``last_time`` bound the failures that carry a time.
    """

    username: str
    user_id: uuid.UUID | None
    source_identity: str | None
    display_name: str | None
    failed: int
    by_call_result: Mapping[str, int]
    first_time: dt.datetime | None
    last_time: dt.datetime | None

    @property
    def label(self) -> str:
        r"""Who this is, for people: ``DOMAIN\account``, else the name, else the USERNAME."""
        return self.source_identity or self.display_name or self.username

    def to_dict(self) -> dict[str, Any]:
        """The user's failures as JSON."""
        return {
            "username": self.username,
            "user_id": None if self.user_id is None else str(self.user_id),
            "source_identity": self.source_identity,
            "display_name": self.display_name,
            "failed": self.failed,
            "by_call_result": dict(self.by_call_result),
            "first_time": _utc_text(self.first_time),
            "last_time": _utc_text(self.last_time),
        }


@attrs.frozen
class FailureGroup:
    """How many failed SDK rows one user had on one day (UTC) with one CALL RESULT.

    ``day`` is None for rows without a readable time; ``call_result`` is the result's name
    (:data:`NO_CALL_RESULT` for an empty cell).
    """

    day: dt.date | None
    username: str
    call_result: str
    count: int


@attrs.frozen
class CrossCheckGap:
    """Failures and 101 events that do not pair up, for one user on one day (UTC).

    ``day`` is None for failures without a readable time. ``count`` is how many are unpaired.
    """

    username: str
    user_id: uuid.UUID | None
    source_identity: str | None
    display_name: str | None
    day: dt.date | None
    count: int

    @property
    def label(self) -> str:
        r"""Who this is, for people: ``DOMAIN\account``, else the name, else the USERNAME."""
        return self.source_identity or self.display_name or self.username

    def to_dict(self) -> dict[str, Any]:
        """The gap as JSON."""
        return {
            "username": self.username,
            "user_id": None if self.user_id is None else str(self.user_id),
            "source_identity": self.source_identity,
            "display_name": self.display_name,
            "day": _day_text(self.day),
            "count": self.count,
        }


@attrs.frozen
class UsageSummary:
    """What a usage report says about PAM's MFA calls: who failed, when, why, and what PAM logged.

    Counts: ``rows`` (every record), ``sdk_rows`` (AUTH TYPE ``SDK``, any case: the requests
    from MIM and other on-premises software), ``failed`` (SDK rows with AUTHD No). Only SDK
    rows are broken down:

    - ``by_call_result``: failures by CALL RESULT name, most frequent first then by name
      (:data:`NO_CALL_RESULT` for an empty cell);
    - ``by_user``: a :class:`UserFailures` per user with failures, most failures first;
    - ``by_day``: a :class:`DayUsage` per UTC day with SDK rows, oldest first (empty when the
      export has no readable date column);
    - ``failure_groups``: failures by day, user and call result (the rows of
      :meth:`to_records`), in that order;
    - ``sdk_rows_without_time``: SDK rows whose time is missing or could not be read.

    With users (``users_checked``): ``unknown_users`` lists the USERNAME of SDK rows that
    match no PAM user (not a GUID, or no user has that object id), sorted.
    ``unknown_call_results`` lists CALL RESULT values of any row that are not a known
    :class:`~pyampam.providers.CallResult`, sorted.

    With events (``events_checked``), each failure is paired with an event 101 of the same
    user on the same UTC day (:func:`summarize_usage` says how): ``events`` is the number of
    101 events considered, ``matched`` the pairs made, ``failures_without_event`` and
    ``events_without_failure`` the rest as :class:`CrossCheckGap` values.

    ``bad_rows`` and ``bad_row_count`` come from the :class:`UsageReport` summarized, if one
    was given (empty otherwise).
    """

    rows: int
    sdk_rows: int
    failed: int
    by_call_result: Mapping[str, int]
    by_user: tuple[UserFailures, ...]
    by_day: tuple[DayUsage, ...]
    failure_groups: tuple[FailureGroup, ...]
    sdk_rows_without_time: int = 0
    users_checked: bool = False
    unknown_users: tuple[str, ...] = ()
    unknown_call_results: tuple[str, ...] = ()
    events_checked: bool = False
    events: int = 0
    matched: int = 0
    failures_without_event: tuple[CrossCheckGap, ...] = ()
    events_without_failure: tuple[CrossCheckGap, ...] = ()
    bad_rows: tuple[BadRow, ...] = ()
    bad_row_count: int = 0

    @property
    def authenticated(self) -> int:
        """SDK rows with AUTHD Yes."""
        return self.sdk_rows - self.failed

    @property
    def failure_rate(self) -> float | None:
        """The share of SDK rows that failed (0 to 1), or None without SDK rows."""
        return self.failed / self.sdk_rows if self.sdk_rows else None

    @property
    def first_day(self) -> dt.date | None:
        """The first UTC day with SDK rows, or None when no row has a time."""
        return self.by_day[0].day if self.by_day else None

    @property
    def last_day(self) -> dt.date | None:
        """The last UTC day with SDK rows, or None when no row has a time."""
        return self.by_day[-1].day if self.by_day else None

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per :class:`FailureGroup`: a failure count by day, user and result.

        Keys: ``day`` (a :class:`datetime.date` or None), ``username``, ``user_id``
        (text or None), ``source_identity``, ``display_name``, ``call_result`` (the name),
        ``description`` (of a known call result, else None) and ``failed`` (the count).
        Ready for ``pandas.DataFrame(summary.to_records())``.
        """
        people = {entry.username: entry for entry in self.by_user}
        records = []
        for group in self.failure_groups:
            person = people.get(group.username)
            records.append(
                {
                    "day": group.day,
                    "username": group.username,
                    "user_id": None
                    if person is None or person.user_id is None
                    else str(person.user_id),
                    "source_identity": None if person is None else person.source_identity,
                    "display_name": None if person is None else person.display_name,
                    "call_result": group.call_result,
                    "description": _description(group.call_result),
                    "failed": group.count,
                }
            )
        return records

    def to_dict(self) -> dict[str, Any]:
        """The whole summary as JSON-safe values (what ``pyampam report usage --json`` prints)."""
        return {
            "rows": self.rows,
            "sdk_rows": self.sdk_rows,
            "authenticated": self.authenticated,
            "failed": self.failed,
            "first_day": _day_text(self.first_day),
            "last_day": _day_text(self.last_day),
            "sdk_rows_without_time": self.sdk_rows_without_time,
            "by_call_result": dict(self.by_call_result),
            "by_user": [entry.to_dict() for entry in self.by_user],
            "by_day": [entry.to_dict() for entry in self.by_day],
            "users_checked": self.users_checked,
            "unknown_users": list(self.unknown_users),
            "unknown_call_results": list(self.unknown_call_results),
            "cross_check": {
                "checked": self.events_checked,
                "events": self.events,
                "matched": self.matched,
                "failures_without_event": [gap.to_dict() for gap in self.failures_without_event],
                "events_without_failure": [gap.to_dict() for gap in self.events_without_failure],
            },
            "bad_rows": [bad.to_dict() for bad in self.bad_rows],
            "bad_row_count": self.bad_row_count,
        }

    # -- Jupyter (pyampam.reports._summary_display) ------------------------------------------

    def to_dataframe(self) -> pd.DataFrame:
        """:meth:`to_records` as a pandas DataFrame; ``day`` as UTC datetimes.

        Needs the ``notebook`` extra; raises :class:`~pyampam.exceptions.MissingExtraError`
        without pandas.
        """
        return summary_dataframe(self)

    def plot(self, kind: PlotKind = "failures", *, ax: Axes | None = None) -> Axes:
        """Draw the summary with matplotlib and return the axes (a new figure unless *ax*).

        ``kind="failures"``: failed SDK rows by call result, as horizontal bars, the most
        frequent on top; ``"users"``: failed SDK rows by user; ``"days"``: SDK rows per UTC
        day, authenticated and failed. No pyplot state is touched; in Jupyter, show the result
        with ``ax.figure``. Needs the ``notebook`` extra; raises
        :class:`~pyampam.exceptions.MissingExtraError` without matplotlib.
        """
        return summary_plot(self, kind, ax)

    def _repr_html_(self) -> str:
        return summary_html(self)

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        summary_pretty(self, p, cycle)


# -- summing up -------------------------------------------------------------------------------


class _Seen:
    """When one user's failures happened, and the report's Name for the user."""

    __slots__ = ("first", "last", "name")

    def __init__(self, time: dt.datetime | None, name: str | None) -> None:
        self.first = self.last = time
        self.name = None if name is None else name.strip() or None

    def add(self, time: dt.datetime | None, name: str | None) -> None:
        """One more failure at *time*; *name* is the report's Name on that row."""
        if time is not None:
            if self.first is None or time < self.first:
                self.first = time
            if self.last is None or time > self.last:
                self.last = time
        if self.name is None and name is not None:
            self.name = name.strip() or None


def _user_key(username: str) -> str:
    guid = parse_guid(username)
    return username if guid is None else str(guid)


def _people(users: object) -> dict[uuid.UUID, User]:
    source: object = users
    store = getattr(users, "store", None)
    if store is not None and callable(getattr(store, "iter_users", None)):
        source = store  # a PamService
    iter_users = getattr(source, "iter_users", None)
    found = iter_users() if callable(iter_users) else source
    if isinstance(found, (str, bytes, User)) or not isinstance(found, Iterable):
        raise InvalidValueError(
            "users must be a Store, a PamService or an iterable of User, not "
            f"{type(users).__name__}",
            field="users",
        )
    people: dict[uuid.UUID, User] = {}
    for user in found:
        if not isinstance(user, User):
            raise InvalidValueError(
                f"users must hold User values, not {type(user).__name__}", field="users"
            )
        people[user.object_id] = user
    return people


def _events_101(events: object) -> Iterable[PamEvent]:
    query = getattr(events, "query", None)
    if callable(query):  # an EventLog: its index finds the 101s without a scan
        found: Iterable[PamEvent] = query(event_id=EventId.MFA_NOT_COMPLETED)
        return found
    if isinstance(events, (str, bytes, PamEvent)) or not isinstance(events, Iterable):
        raise InvalidValueError(
            f"events must be an EventLog or an iterable of PamEvent, not {type(events).__name__}",
            field="events",
        )
    return _only_101(events)


def _only_101(events: Iterable[object]) -> Iterator[PamEvent]:
    for event in events:
        if not isinstance(event, PamEvent):
            raise InvalidValueError(
                f"events must hold PamEvent values, not {type(event).__name__}", field="events"
            )
        if event.event_id == EventId.MFA_NOT_COMPLETED:
            yield event


def summarize_usage(  # noqa: PLR0912, PLR0915 -- one pass over the rows, in one piece for speed
    records: Iterable[UsageRecord],
    *,
    users: UsersSource | None = None,
    events: EventLog | Iterable[PamEvent] | None = None,
) -> UsageSummary:
    r"""Sum up usage records in one pass: who failed MFA, when and why.

    ``records`` are read once, as they come (a :class:`UsageReport`, as
    :func:`read_usage_report` returns, or any iterable of :class:`UsageRecord`). Memory grows
    with the distinct users and days, and with the distinct (day, user, call result)
    combinations among the failures (never more than the failures themselves; about 300 bytes
    each), not with the rows read. A report not yet iterated is read without building a record
    per row (the same result, about a third faster), and its bad rows are carried into the
    summary.

    ``users`` (a :class:`~pyampam.store.Store`, a :class:`~pyampam.PamService` or an
    iterable of :class:`~pyampam.User`) resolves each USERNAME GUID to the PAM user's
    ``DOMAIN\account`` and display name, and lists those it cannot resolve.

    ``events`` (an :class:`~pyampam.events.EventLog` or an iterable of
    :class:`~pyampam.events.PamEvent`) cross-checks the failures against MIM's event 101
    ("User did not complete Azure MFA"). The pairing is by count, user and UTC calendar day:
    on each day, each failed SDK row of a user pairs with one 101 event of that user (the
    event's ``user_id`` against USERNAME). Failures without a readable time then pair with
    that user's events left over on any day. Events are only considered on the days from the
    report's first to its last dated SDK row (all of them when no row has a time), and events
    without a user are ignored. A failure just before midnight and its event just after fall
    on different days: times in the report must be read in the right ``timezone``
    (:meth:`UsageReport.open`) for the days to agree.
    """
    people = None if users is None else _people(users)
    lean = records._lean_rows() if isinstance(records, UsageReport) else None
    rows_read: Iterable[LeanRow] = _lean(records) if lean is None else lean
    rows = sdk = undated = 0
    day_rows: dict[dt.date, int] = {}
    # Failures are counted by (user, day, call result) only; every other breakdown is summed
    # from these counts at the end, which keeps the work per failed row small.
    groups: dict[tuple[str, dt.date | None, str], int] = {}
    seen: dict[str, _Seen] = {}
    keys: dict[str, str] = {}
    sdk_types: dict[str, bool] = {"SDK": True}
    sdk_usernames: set[str] = set()
    track_usernames = people is not None
    unknown_results: set[str] = set()
    current_day: dt.date | None = None
    day_start = day_end = _NEVER
    day_count = 0
    for auth_type, username, authenticated, result, read_time, report_name in rows_read:
        rows += 1
        if result.__class__ is str:
            unknown_results.add(result)
        is_sdk = sdk_types.get(auth_type)
        if is_sdk is None:
            is_sdk = auth_type.strip().upper() == "SDK"
            if len(sdk_types) < 64:  # a handful of auth types; never grow with the file
                sdk_types[auth_type] = is_sdk
        if not is_sdk:
            continue
        sdk += 1
        day: dt.date | None = None
        time = read_time
        if time is None:
            undated += 1
        else:
            if time.tzinfo is not UTC:
                time = time.astimezone(UTC)
            # Exports run in time order, so a row is nearly always on the day of the one
            # before: two comparisons, instead of a date and a dictionary update per row.
            if not day_start <= time < day_end:
                if current_day is not None:
                    day_rows[current_day] = day_rows.get(current_day, 0) + day_count
                current_day = time.date()
                day_start, day_end = _day_bounds(current_day)
                day_count = 0
            day_count += 1
            day = current_day
        if track_usernames:
            sdk_usernames.add(username)
        if authenticated:
            continue

        key = keys.get(username)
        if key is None:
            key = keys[username] = _user_key(username)
        if result is None:
            name = NO_CALL_RESULT
        elif result.__class__ is str:
            name = result
        else:
            name = result.value  # type: ignore[union-attr]
        group = (key, day, name)
        groups[group] = groups.get(group, 0) + 1
        user = seen.get(key)
        if user is None:
            seen[key] = _Seen(time, report_name)
        else:
            user.add(time, report_name)
    if current_day is not None:
        day_rows[current_day] = day_rows.get(current_day, 0) + day_count

    by_result: dict[str, int] = {}
    by_day: dict[dt.date, int] = {}
    per_user: dict[str, dict[str, int]] = {}
    for (key, day, name), count in groups.items():
        by_result[name] = by_result.get(name, 0) + count
        if day is not None:
            by_day[day] = by_day.get(day, 0) + count
        results = per_user.setdefault(key, {})
        results[name] = results.get(name, 0) + count

    resolve = _Resolver(people, seen)
    by_user = sorted(
        (resolve.failures(key, results) for key, results in per_user.items()),
        key=lambda entry: (-entry.failed, entry.label.casefold(), entry.username),
    )
    unknown_users: tuple[str, ...] = ()
    if people is not None:
        unknown = {_user_key(username) for username in sdk_usernames}
        unknown_users = tuple(sorted(key for key in unknown if resolve.user(key) is None))

    cross: dict[str, Any] = {}
    if events is not None:
        cross = _cross_check(groups, _events_101(events), day_rows, resolve)

    bad_rows: tuple[BadRow, ...] = ()
    bad_row_count = 0
    if isinstance(records, UsageReport):
        bad_rows, bad_row_count = records.bad_rows, records.bad_row_count

    return UsageSummary(
        rows=rows,
        sdk_rows=sdk,
        failed=sum(by_result.values()),
        by_call_result=_by_count(by_result),
        by_user=tuple(by_user),
        by_day=tuple(
            DayUsage(day, count, by_day.get(day, 0)) for day, count in sorted(day_rows.items())
        ),
        failure_groups=tuple(
            FailureGroup(day, key, name, count)
            for (key, day, name), count in sorted(groups.items(), key=_group_order)
        ),
        sdk_rows_without_time=undated,
        users_checked=people is not None,
        unknown_users=unknown_users,
        unknown_call_results=tuple(sorted(unknown_results)),
        bad_rows=bad_rows,
        bad_row_count=bad_row_count,
        **cross,
    )


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of *day* (UTC) and the first of the next."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        return start, start + dt.timedelta(days=1)
    except OverflowError:  # 31 December 9999
        return start, dt.datetime.max.replace(tzinfo=UTC)


def _lean(records: Iterable[UsageRecord]) -> Iterator[LeanRow]:
    for record in records:
        if not isinstance(record, UsageRecord):
            raise InvalidValueError(
                f"records must be UsageRecord values, not {type(record).__name__}",
                field="records",
            )
        yield (
            record.auth_type,
            record.username,
            record.authenticated,
            record.call_result,
            record.time,
            record.name,
        )


def _group_order(item: tuple[tuple[str, dt.date | None, str], int]) -> tuple[dt.date, str, str]:
    (key, day, name), _ = item
    return (dt.date.min if day is None else day, key, name)


class _Resolver:
    """Who a report's USERNAME is: the PAM user with that object id, else the report's Name."""

    def __init__(self, people: dict[uuid.UUID, User] | None, seen: dict[str, _Seen]) -> None:
        self._people = people
        self._seen = seen

    def user(self, key: str) -> User | None:
        """The PAM user whose object id *key* is, or None."""
        if self._people is None:
            return None
        guid = parse_guid(key)
        return None if guid is None else self._people.get(guid)

    def names(self, key: str) -> tuple[uuid.UUID | None, str | None, str | None]:
        r"""The object id, ``DOMAIN\account`` and display name to show for *key*."""
        user = self.user(key)
        seen = self._seen.get(key)
        report_name = None if seen is None else seen.name
        if user is None:
            return parse_guid(key), None, report_name
        return user.object_id, user.source_identity, user.display_name or report_name

    def failures(self, key: str, results: dict[str, int]) -> UserFailures:
        """The failures of *key*, counted by call result, as a :class:`UserFailures`."""
        user_id, identity, display = self.names(key)
        seen = self._seen[key]
        return UserFailures(
            username=key,
            user_id=user_id,
            source_identity=identity,
            display_name=display,
            failed=sum(results.values()),
            by_call_result=_by_count(results),
            first_time=seen.first,
            last_time=seen.last,
        )

    def gap(self, key: str, day: dt.date | None, count: int) -> CrossCheckGap:
        """A :class:`CrossCheckGap` for *key* on *day*."""
        user_id, identity, display = self.names(key)
        return CrossCheckGap(
            username=key,
            user_id=user_id,
            source_identity=identity,
            display_name=display,
            day=day,
            count=count,
        )


def _logged_101(
    events: Iterable[PamEvent], day_rows: dict[dt.date, int]
) -> tuple[dict[tuple[str, dt.date], int], int]:
    """The 101 events by user and UTC day, within the report's days; and how many there are."""
    first = min(day_rows) if day_rows else dt.date.min
    last = max(day_rows) if day_rows else dt.date.max
    logged: dict[tuple[str, dt.date], int] = {}
    considered = 0
    for event in events:
        if event.user_id is None:
            continue
        day = event.time.astimezone(UTC).date()
        if first <= day <= last:
            considered += 1
            slot = (str(event.user_id), day)
            logged[slot] = logged.get(slot, 0) + 1
    return logged, considered


def _slot_order(item: tuple[tuple[str, dt.date | None], int]) -> tuple[dt.date, str]:
    (key, day), _ = item
    return (dt.date.min if day is None else day, key)


def _cross_check(
    groups: dict[tuple[str, dt.date | None, str], int],
    events: Iterable[PamEvent],
    day_rows: dict[dt.date, int],
    resolve: _Resolver,
) -> dict[str, Any]:
    failures: dict[tuple[str, dt.date | None], int] = {}
    for (key, day, _), count in groups.items():
        failures[(key, day)] = failures.get((key, day), 0) + count
    logged, considered = _logged_101(events, day_rows)

    matched = 0
    unpaired: dict[tuple[str, dt.date | None], int] = {}
    undated: list[tuple[str, int]] = []
    for (key, day), count in failures.items():
        if day is None:
            undated.append((key, count))
            continue
        paired = min(count, logged.get((key, day), 0))
        matched += paired
        if paired:
            logged[(key, day)] -= paired
        if count > paired:
            unpaired[(key, day)] = count - paired
    # Failures without a time pair with the user's events left over, oldest day first.
    for key, count in sorted(undated):
        left = count
        for slot in sorted(slot for slot, number in logged.items() if slot[0] == key and number):
            paired = min(left, logged[slot])
            logged[slot] -= paired
            left -= paired
            matched += paired
            if not left:
                break
        if left:
            unpaired[(key, None)] = left

    leftover: dict[tuple[str, dt.date | None], int] = {
        slot: count for slot, count in logged.items() if count
    }
    return {
        "events_checked": True,
        "events": considered,
        "matched": matched,
        "failures_without_event": tuple(
            resolve.gap(key, day, count)
            for (key, day), count in sorted(unpaired.items(), key=_slot_order)
        ),
        "events_without_failure": tuple(
            resolve.gap(key, day, count)
            for (key, day), count in sorted(leftover.items(), key=_slot_order)
        ),
    }
