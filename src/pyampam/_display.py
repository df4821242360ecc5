"""How pyampam's objects show in Jupyter: HTML tables, pretty text, records, DataFrames, plots.

Everything here works from *records*: plain dicts of JSON values (ids as text, times as ISO
8601, enums as their values, durations in seconds) that hold no secret. A user's PIN is
:data:`~pyampam._secrets.MASK` or None in a record, so no table, text or DataFrame built from
records can show it. pandas and matplotlib are optional (``pip install 'pyampam[notebook]'``)
and imported only inside the functions that need them.
"""

from __future__ import annotations

import datetime as dt
import enum
import html
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, SupportsIndex, TypeVar, overload

from pyampam._secrets import MASK
from pyampam.exceptions import MissingExtraError

if TYPE_CHECKING:
    # pandas ships no type information (pandas-stubs is separate); "unused-ignore" keeps mypy
    # quiet where the stubs are installed.
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    from matplotlib.axes import Axes

    from pyampam._model import ActivationRequest, Role, User

__all__ = [
    "EVENTS",
    "MAX_ROWS",
    "NOTEBOOK_EXTRA",
    "REQUESTS",
    "ROLES",
    "USERS",
    "DisplayableEvent",
    "HasRecord",
    "MissingExtraError",
    "PrettyPrinter",
    "Records",
    "Table",
    "aligned_lines",
    "bars_by_label",
    "bars_per_day",
    "bars_size",
    "event_record",
    "html_fields",
    "html_table",
    "import_pandas",
    "new_axes",
    "pretty_object",
    "pretty_table",
    "record_value",
    "records_to_dataframe",
    "request_record",
    "role_record",
    "user_record",
]

NOTEBOOK_EXTRA = "notebook"
"""The optional extra that brings pandas and matplotlib."""

MAX_ROWS = 20
"""How many rows a table shows before it sums up the rest as "… N more"."""

# A cell wider than this is cut in the compact text tables, which must fit a terminal.
_TEXT_CELL_WIDTH = 30
# A list cell names this many items, then counts the rest.
_LIST_ITEMS = 3


def _missing(what: str, package: str) -> MissingExtraError:
    return MissingExtraError(
        f"{what} needs {package}, which is not installed; install the {NOTEBOOK_EXTRA!r} "
        f"extra: pip install 'pyampam[{NOTEBOOK_EXTRA}]'",
        package=package,
    )


# --- records ------------------------------------------------------------------------------------


def record_value(value: object) -> Any:  # noqa: PLR0911 - one return per kind of value
    """*value* as JSON: ids as text, times ISO 8601, enums as values, durations in seconds."""
    if isinstance(value, enum.Enum):
        # Checked first: IntEnum and StrEnum members are also ints and strs.
        return record_value(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _seconds(value)
    if isinstance(value, Mapping):
        return {str(key): record_value(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((record_value(item) for item in value), key=str)
    if isinstance(value, (list, tuple)):
        return [record_value(item) for item in value]
    # uuid.UUID, PhoneNumber and the like read best as their text.
    return str(value)


def _seconds(value: dt.timedelta) -> int | float:
    seconds = value.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


def user_record(user: User) -> dict[str, Any]:
    """A user as a record; the PIN is masked (``********``) when set and None otherwise."""
    return {
        "object_id": str(user.object_id),
        "source_identity": user.source_identity,
        "source_domain": user.source_domain,
        "source_account_name": user.source_account_name,
        "display_name": user.display_name,
        "description": user.description,
        "email": user.email,
        "sid": user.sid,
        "phone": None if user.phone is None else str(user.phone),
        # Only whether a PIN is set may show; its value and length never do.
        "pin": MASK if user.pin else None,
        "privileged_account_name": user.privileged_account_name,
        "privileged_display_name": user.privileged_display_name,
        "privileged_account_active": user.privileged_account_active,
    }


def role_record(role: Role) -> dict[str, Any]:
    """A role as a record; candidates and approvers as sorted lists of object ids."""
    return {
        "role_id": str(role.role_id),
        "display_name": role.display_name,
        "description": role.description,
        "candidates": record_value(role.candidates),
        "approvers": record_value(role.approvers),
        "privileges": list(role.privileges),
        "ttl_seconds": _seconds(role.ttl),
        "availability_window_enabled": role.availability_window_enabled,
        "available_from": record_value(role.available_from),
        "available_to": record_value(role.available_to),
        "mfa_enabled": role.mfa_enabled,
        "approval_enabled": role.approval_enabled,
    }


def request_record(request: ActivationRequest) -> dict[str, Any]:
    """An activation request as a record; the status as MIM spells it."""
    return {
        "request_id": str(request.request_id),
        "requestor_id": str(request.requestor_id),
        "role_id": str(request.role_id),
        "status": request.status.value,
        "justification": request.justification,
        "requested_ttl_seconds": _seconds(request.requested_ttl),
        "requested_time": record_value(request.requested_time),
        "creation_time": request.creation_time.isoformat(),
        "creation_method": request.creation_method,
        "activation_time": record_value(request.activation_time),
        "expiration_time": record_value(request.expiration_time),
        "decided_by": record_value(request.decided_by),
        "mfa_call_id": request.mfa_call_id,
        "status_reason": request.status_reason,
    }


class DisplayableEvent(Protocol):
    """What :func:`event_record` reads of an event (``pyampam.events.PamEvent``)."""

    # Read-only properties, so that frozen attrs fields match.
    @property
    def event_id(self) -> int: ...
    @property
    def level(self) -> enum.Enum: ...
    @property
    def source(self) -> str: ...
    @property
    def time(self) -> dt.datetime: ...
    @property
    def message(self) -> str: ...
    @property
    def user_id(self) -> uuid.UUID | None: ...
    @property
    def role_id(self) -> uuid.UUID | None: ...
    @property
    def role_name(self) -> str | None: ...
    @property
    def request_id(self) -> uuid.UUID | None: ...
    @property
    def call_result(self) -> str | None: ...
    @property
    def extra(self) -> Mapping[str, Any]: ...


def event_record(event: DisplayableEvent) -> dict[str, Any]:
    """An event as a record; ``event_name`` is the id's name when pyampam knows the id."""
    event_id = event.event_id
    return {
        "time": event.time.isoformat(),
        "event_id": int(event_id),
        "event_name": event_id.name if isinstance(event_id, enum.Enum) else None,
        "level": record_value(event.level),
        "source": event.source,
        "message": event.message,
        "user_id": record_value(event.user_id),
        "role_id": record_value(event.role_id),
        "role_name": event.role_name,
        "request_id": record_value(event.request_id),
        "call_result": event.call_result,
        "extra": record_value(event.extra),
    }


@dataclass(frozen=True)
class Table:
    """How one kind of record shows: its keys, the columns a table of many shows, its label.

    ``keys`` are every key of the records, in order (an empty DataFrame still gets them);
    ``columns`` the few a table of many shows; ``label`` the key that names one object in a
    caption; ``time_keys`` the ISO 8601 keys a DataFrame reads as datetimes.
    """

    title: str
    singular: str
    plural: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    label: str
    time_keys: tuple[str, ...] = ()

    def count(self, number: int) -> str:
        """``1 user``, ``3 users``."""
        return f"{number} {self.singular if number == 1 else self.plural}"


USERS = Table(
    title="User",
    singular="user",
    plural="users",
    keys=(
        "object_id",
        "source_identity",
        "source_domain",
        "source_account_name",
        "display_name",
        "description",
        "email",
        "sid",
        "phone",
        "pin",
        "privileged_account_name",
        "privileged_display_name",
        "privileged_account_active",
    ),
    columns=(
        "source_identity",
        "display_name",
        "phone",
        "pin",
        "privileged_account_name",
        "privileged_account_active",
    ),
    label="source_identity",
)
"""The table of :class:`~pyampam.User` records."""

ROLES = Table(
    title="Role",
    singular="role",
    plural="roles",
    keys=(
        "role_id",
        "display_name",
        "description",
        "candidates",
        "approvers",
        "privileges",
        "ttl_seconds",
        "availability_window_enabled",
        "available_from",
        "available_to",
        "mfa_enabled",
        "approval_enabled",
    ),
    columns=("display_name", "privileges", "ttl_seconds", "mfa_enabled", "approval_enabled"),
    label="display_name",
)
"""The table of :class:`~pyampam.Role` records."""

REQUESTS = Table(
    title="ActivationRequest",
    singular="activation request",
    plural="activation requests",
    keys=(
        "request_id",
        "requestor_id",
        "role_id",
        "status",
        "justification",
        "requested_ttl_seconds",
        "requested_time",
        "creation_time",
        "creation_method",
        "activation_time",
        "expiration_time",
        "decided_by",
        "mfa_call_id",
        "status_reason",
    ),
    columns=(
        "creation_time",
        "status",
        "requestor_id",
        "role_id",
        "requested_ttl_seconds",
        "expiration_time",
        "status_reason",
    ),
    label="request_id",
    time_keys=("requested_time", "creation_time", "activation_time", "expiration_time"),
)
"""The table of :class:`~pyampam.ActivationRequest` records."""

EVENTS = Table(
    title="PamEvent",
    singular="event",
    plural="events",
    keys=(
        "time",
        "event_id",
        "event_name",
        "level",
        "source",
        "message",
        "user_id",
        "role_id",
        "role_name",
        "request_id",
        "call_result",
        "extra",
    ),
    columns=("time", "event_id", "level", "user_id", "role_name", "call_result", "message"),
    label="event_id",
    time_keys=("time",),
)
"""The table of :class:`~pyampam.events.PamEvent` records."""


# --- cells, HTML and pretty text --------------------------------------------------------------


def _cell(key: str, value: object, time_keys: Sequence[str]) -> str:  # noqa: PLR0911 - one return per kind
    """The text a table shows for one record value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_seconds") and isinstance(value, (int, float)):
        return str(dt.timedelta(seconds=value))
    if key in time_keys and isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).isoformat(sep=" ", timespec="seconds")
        except ValueError:
            return value
    if isinstance(value, list):
        shown = ", ".join(_cell(key, item, time_keys) for item in value[:_LIST_ITEMS])
        rest = len(value) - _LIST_ITEMS
        return f"{shown}, … (+{rest})" if rest > 0 else shown
    if isinstance(value, Mapping):
        return ", ".join(f"{name}={item}" for name, item in value.items())
    return str(value)


def _heading(key: str) -> str:
    # A table shows durations as H:MM:SS, so "ttl_seconds" would mislabel them.
    return key.removesuffix("_seconds")


def _html_cell(key: str, value: object, time_keys: Sequence[str]) -> str:
    return html.escape(_cell(key, value, time_keys), quote=True)


def _visible(
    records: Sequence[Mapping[str, object]], limit: int, newest: bool, total: int | None
) -> tuple[Sequence[Mapping[str, object]], int]:
    """The records to show and how many are left out."""
    if total is not None:
        return records[-limit:] if newest else records[:limit], max(0, total - len(records))
    hidden = max(0, len(records) - limit)
    return (records[-limit:] if newest and hidden else records[:limit]), hidden


def html_table(
    records: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    *,
    caption: str,
    limit: int = MAX_ROWS,
    time_keys: Sequence[str] = (),
    newest: bool = False,
    total: int | None = None,
) -> str:
    """An HTML table of *records*, one row each, with a caption; every text is escaped.

    At most *limit* rows show: the first ones, or the last ones with ``newest=True``; a last
    (or first) row says how many more there are. Given *total*, *records* are taken to be
    just the rows to show, out of *total*: a long list then needs no record per item.
    """
    shown, hidden = _visible(records, limit, newest, total)
    head = "".join(f"<th>{html.escape(_heading(column))}</th>" for column in columns)
    rows = [
        "<tr>"
        + "".join(
            f"<td>{_html_cell(column, record.get(column), time_keys)}</td>" for column in columns
        )
        + "</tr>"
        for record in shown
    ]
    if hidden:
        what = "earlier" if newest else "more"
        note = f'<tr><td colspan="{max(1, len(columns))}"><em>… {hidden} {what}</em></td></tr>'
        if newest:
            rows.insert(0, note)
        else:
            rows.append(note)
    return (
        '<table class="pyampam">'
        f"<caption>{html.escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody>"
        "</table>"
    )


def html_fields(
    record: Mapping[str, object], *, caption: str, time_keys: Sequence[str] = ()
) -> str:
    """An HTML table of one record: a row per key, the key in the first column."""
    rows = "".join(
        f'<tr><th style="text-align:left">{html.escape(_heading(key))}</th>'
        f"<td>{_html_cell(key, value, time_keys)}</td></tr>"
        for key, value in record.items()
    )
    return (
        '<table class="pyampam">'
        f"<caption>{html.escape(caption)}</caption>"
        f"<tbody>{rows}</tbody>"
        "</table>"
    )


class PrettyPrinter(Protocol):
    """The part of IPython's ``RepresentationPrinter`` that ``_repr_pretty_`` uses."""

    def text(self, obj: str) -> None:
        """Add text to the output."""

    def break_(self) -> None:
        """Start a new line at the current indentation."""


def _one_line(text: str) -> str:
    # Messages may hold line breaks; a compact line must stay one line.
    return " ".join(text.split())


def pretty_object(
    p: PrettyPrinter, record: Mapping[str, object], table: Table, *, cycle: bool = False
) -> None:
    """One object as a compact line: ``User(CONTOSO\\jen, display_name=Jen Smith, ...)``."""
    if cycle:
        p.text(f"{table.title}(...)")
        return
    label = _one_line(_cell(table.label, record.get(table.label), table.time_keys))
    parts = [label]
    for key in table.columns:
        if key == table.label:
            continue
        text = _one_line(_cell(key, record.get(key), table.time_keys))
        if text:
            parts.append(f"{_heading(key)}={text}")
    p.text(f"{table.title}({', '.join(parts)})")


def _cut(text: str) -> str:
    text = _one_line(text)
    return text if len(text) <= _TEXT_CELL_WIDTH else text[: _TEXT_CELL_WIDTH - 1] + "…"


def aligned_lines(grid: Sequence[Sequence[str]]) -> list[str]:
    """The rows of *grid* as lines: each column as wide as its widest cell, two spaces apart.

    No line ends in spaces, so the last column is never padded.
    """
    if not grid:
        return []
    widths = [max(len(row[index]) for row in grid) for index in range(len(grid[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in grid
    ]


def pretty_table(
    p: PrettyPrinter,
    records: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    *,
    title: str,
    limit: int = MAX_ROWS,
    time_keys: Sequence[str] = (),
    newest: bool = False,
    total: int | None = None,
) -> None:
    """A text table with aligned columns under a title line, at most *limit* rows.

    *total* works as for :func:`html_table`.
    """
    shown, hidden = _visible(records, limit, newest, total)
    p.text(title)
    if not columns or not shown:
        return
    grid = [[_heading(column) for column in columns]] + [
        [_cut(_cell(column, record.get(column), time_keys)) for column in columns]
        for record in shown
    ]
    lines = aligned_lines(grid)
    if hidden:
        note = f"… {hidden} {'earlier' if newest else 'more'}"
        if newest:
            lines.insert(1, note)
        else:
            lines.append(note)
    for line in lines:
        p.break_()
        p.text(line)


# --- collections --------------------------------------------------------------------------------


class HasRecord(Protocol):
    """An object that can describe itself as a record (``User``, ``Role``, ``PamEvent``...)."""

    def to_record(self) -> dict[str, Any]:
        """The object as a plain dict of JSON values, without secrets."""
        ...


_R = TypeVar("_R", bound=HasRecord)


def _inferred_table(records: Sequence[Mapping[str, object]], items: Sequence[object]) -> Table:
    """A table for objects pyampam has no table for: every key of the first record."""
    if not items:
        return Table(
            title="Records", singular="item", plural="items", keys=(), columns=(), label=""
        )
    name = type(items[0]).__name__
    keys = tuple(records[0])
    return Table(
        title=name,
        singular=name,
        plural=f"{name}s",
        keys=keys,
        columns=keys,
        label=keys[0] if keys else "",
    )


class Records(list[_R]):
    """A list of users, roles, requests or events that shows itself as a table in Jupyter.

    It is a plain :class:`list` in every other way (``==``, slicing, ``repr()``), so code
    written for lists keeps working. :meth:`to_records` gives plain dicts for JSON,
    :meth:`to_dataframe` a pandas DataFrame (with the ``notebook`` extra).
    """

    def __init__(self, items: Iterable[_R] = (), *, table: Table | None = None) -> None:
        super().__init__(items)
        self.table = table

    @overload
    def __getitem__(self, index: SupportsIndex) -> _R: ...
    @overload
    def __getitem__(self, index: slice) -> Records[_R]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> _R | Records[_R]:
        # A slice of records is records too, so `requests[-5:]` still shows as a table.
        if isinstance(index, slice):
            return Records(super().__getitem__(index), table=self.table)
        return super().__getitem__(index)

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict of JSON values per item, in order; no secrets (a PIN is masked)."""
        return [item.to_record() for item in self]

    def _table_for(self, records: Sequence[Mapping[str, object]]) -> Table:
        return self.table if self.table is not None else _inferred_table(records, self)

    def to_dataframe(self) -> pd.DataFrame:
        """The records as a pandas DataFrame, one row per item, times as UTC datetimes.

        Raises :class:`MissingExtraError` when pandas is not installed.
        """
        records = self.to_records()
        table = self._table_for(records)
        return records_to_dataframe(records, columns=table.keys, time_keys=table.time_keys)

    def _shown_records(self) -> list[dict[str, Any]]:
        # Only the rows a table shows become records: a list of 100k users displays at once.
        return [item.to_record() for item in list.__getitem__(self, slice(0, MAX_ROWS))]

    def _repr_html_(self) -> str:
        records = self._shown_records()
        table = self._table_for(records)
        return html_table(
            records,
            table.columns,
            caption=table.count(len(self)),
            time_keys=table.time_keys,
            total=len(self),
        )

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        if cycle:
            p.text("Records([...])")
            return
        records = self._shown_records()
        table = self._table_for(records)
        pretty_table(
            p,
            records,
            table.columns,
            title=f"Records: {table.count(len(self))}",
            time_keys=table.time_keys,
            total=len(self),
        )


# --- pandas -------------------------------------------------------------------------------------


def import_pandas(what: str) -> Any:
    """The pandas module, or :class:`MissingExtraError` saying that *what* needs it."""
    try:
        import pandas
    except ImportError as error:
        raise _missing(what, "pandas") from error
    return pandas


def records_to_dataframe(
    records: Sequence[Mapping[str, object]],
    *,
    columns: Sequence[str] = (),
    time_keys: Sequence[str] = (),
    what: str = "to_dataframe()",
) -> pd.DataFrame:
    """A DataFrame of *records*; *time_keys* become UTC datetimes (None becomes NaT).

    *columns* fixes the columns and their order, so an empty list still has them. Raises
    :class:`MissingExtraError` naming *what* when pandas is not installed.
    """
    pandas = import_pandas(what)
    frame = pandas.DataFrame.from_records(
        [dict(record) for record in records], columns=list(columns) or None
    )
    for key in time_keys:
        if key in frame.columns:
            frame[key] = pandas.to_datetime(frame[key], utc=True, format="ISO8601")
    return frame


# --- matplotlib ---------------------------------------------------------------------------------


def new_axes(what: str, *, size: tuple[float, float] = (7.0, 4.0)) -> Axes:
    """Fresh axes on a new Figure made without pyplot, so no backend or global state changes.

    Raises :class:`MissingExtraError` naming *what* when matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise _missing(what, "matplotlib") from error
    figure = Figure(figsize=size, layout="constrained")
    return figure.subplots()


def bars_size(bars: int) -> tuple[float, float]:
    """A figure size (inches) that gives each of *bars* horizontal bars room for its label."""
    return (7.0, max(2.5, 0.4 * bars + 1.2))


def bars_by_label(
    ax: Axes, counts: Mapping[str, int], *, title: str, xlabel: str = "count"
) -> Axes:
    """Horizontal bars, one per label, the largest on top, each with its count at its end."""
    from matplotlib.ticker import MaxNLocator

    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    labels = [label for label, _ in ordered]
    values = [value for _, value in ordered]
    positions = range(len(ordered))
    colors = [f"C{index % 10}" for index in positions]
    bars = ax.barh(list(positions), values, color=colors)
    ax.set_yticks(list(positions), labels)
    ax.invert_yaxis()  # the largest first, read from the top
    ax.bar_label(bars, padding=2)
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    if not ordered:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
    ax.margins(x=0.1)
    return ax


def bars_per_day(
    ax: Axes,
    series: Mapping[str, Mapping[dt.date, int]],
    *,
    title: str,
    ylabel: str = "count",
) -> Axes:
    """Grouped bars per day, one colour per series, over every day from the first to the last.

    Days without data show as gaps, so the time axis stays honest.
    """
    from matplotlib.ticker import MaxNLocator

    dates = sorted({day for counts in series.values() for day in counts})
    days: list[dt.date] = []
    if dates:
        length = (dates[-1] - dates[0]).days + 1
        days = [dates[0] + dt.timedelta(days=offset) for offset in range(length)]
    width = 0.8 / max(1, len(series))
    for index, (name, counts) in enumerate(series.items()):
        offsets = [position - 0.4 + width * (index + 0.5) for position in range(len(days))]
        ax.bar(
            offsets,
            [counts.get(day, 0) for day in days],
            width=width,
            label=name,
            color=f"C{index % 10}",
        )
    # Label at most about a dozen days so the labels stay legible.
    step = max(1, -(-len(days) // 12))
    ticks = list(range(0, len(days), step))
    ax.set_xticks(ticks, [days[tick].isoformat() for tick in ticks], rotation=45, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if series:
        # Head room above the tallest bar keeps the legend off the bars.
        ax.margins(y=0.3)
        ax.legend(loc="upper right")
    if not days:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
    return ax
