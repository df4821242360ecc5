"""How a usage summary shows in Jupyter: HTML tables, pretty text, a DataFrame and plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pyampam._display import (
    PrettyPrinter,
    bars_by_label,
    bars_per_day,
    bars_size,
    html_fields,
    html_table,
    new_axes,
    pretty_table,
    record_value,
    records_to_dataframe,
)
from pyampam.exceptions import InvalidValueError
from pyampam.providers import CallResult

if TYPE_CHECKING:
    # pandas ships no type information; see pyampam._display.
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    from matplotlib.axes import Axes

    from pyampam.reports._summary import CrossCheckGap, UsageSummary, UserFailures

__all__ = [
    "SUMMARY_KEYS",
    "PlotKind",
    "summary_dataframe",
    "summary_html",
    "summary_plot",
    "summary_pretty",
]

SUMMARY_KEYS = (
    "day",
    "username",
    "user_id",
    "source_identity",
    "display_name",
    "call_result",
    "description",
    "failed",
)
"""The columns of :meth:`UsageSummary.to_dataframe`, as :meth:`UsageSummary.to_records` has them."""

PlotKind = Literal["failures", "users", "days"]

_RESULT_COLUMNS = ("call_result", "failed", "description")
_USER_COLUMNS = ("user", "display_name", "failed", "call_results", "first_time", "last_time")
_GAP_COLUMNS = ("user", "display_name", "day", "count")
_TIME_KEYS = ("first_time", "last_time")


def _description(name: str) -> str | None:
    known = CallResult.from_name(name)
    return None if known is None else known.description


def _result_rows(summary: UsageSummary) -> list[dict[str, Any]]:
    return [
        {"call_result": name, "failed": count, "description": _description(name)}
        for name, count in summary.by_call_result.items()
    ]


def _user_rows(people: Sequence[UserFailures]) -> list[dict[str, Any]]:
    return [
        {
            "user": person.label,
            "display_name": person.display_name,
            "failed": person.failed,
            "call_results": [f"{name} ({count})" for name, count in person.by_call_result.items()],
            "first_time": record_value(person.first_time),
            "last_time": record_value(person.last_time),
        }
        for person in people
    ]


def _gap_rows(gaps: Sequence[CrossCheckGap]) -> list[dict[str, Any]]:
    return [
        {
            "user": gap.label,
            "display_name": gap.display_name,
            "day": "no time" if gap.day is None else gap.day.isoformat(),
            "count": gap.count,
        }
        for gap in gaps
    ]


def _overview(summary: UsageSummary) -> dict[str, Any]:
    rate = summary.failure_rate
    overview: dict[str, Any] = {
        "rows": summary.rows,
        "SDK rows (PAM)": summary.sdk_rows,
        "authenticated": summary.authenticated,
        "failed": summary.failed,
        "failure rate": None if rate is None else f"{rate:.1%}",
        "days": None
        if summary.first_day is None or summary.last_day is None
        else f"{summary.first_day.isoformat()} to {summary.last_day.isoformat()}",
        "SDK rows without a time": summary.sdk_rows_without_time,
    }
    if summary.users_checked:
        overview["USERNAMEs that are no PAM user"] = len(summary.unknown_users)
    if summary.unknown_call_results:
        overview["unknown call results"] = list(summary.unknown_call_results)
    if summary.events_checked:
        overview["events 101 in the report's days"] = summary.events
        overview["failures matched with an event 101"] = summary.matched
        overview["failures without an event 101"] = sum(
            gap.count for gap in summary.failures_without_event
        )
        overview["events 101 without a failure"] = sum(
            gap.count for gap in summary.events_without_failure
        )
    if summary.bad_row_count:
        overview["bad rows skipped"] = summary.bad_row_count
    return overview


def _sections(summary: UsageSummary) -> list[tuple[str, list[dict[str, Any]], tuple[str, ...]]]:
    """The tables of a summary after its overview: title, rows, columns; empty ones left out."""
    sections = [
        ("Failures by call result", _result_rows(summary), _RESULT_COLUMNS),
        ("Failures by user", _user_rows(summary.by_user), _USER_COLUMNS),
    ]
    if summary.events_checked:
        sections += [
            (
                "Failures without an event 101",
                _gap_rows(summary.failures_without_event),
                _GAP_COLUMNS,
            ),
            (
                "Events 101 without a failure",
                _gap_rows(summary.events_without_failure),
                _GAP_COLUMNS,
            ),
        ]
    return [section for section in sections if section[1]]


def summary_html(summary: UsageSummary) -> str:
    """The summary as HTML: an overview, then one table per non-empty breakdown."""
    parts = [html_fields(_overview(summary), caption="Usage summary")]
    parts += [
        html_table(rows, columns, caption=title, time_keys=_TIME_KEYS)
        for title, rows, columns in _sections(summary)
    ]
    return '<div class="pyampam-usage-summary">' + "".join(parts) + "</div>"


def summary_pretty(summary: UsageSummary, p: PrettyPrinter, cycle: bool) -> None:
    """The summary as compact text: a headline, then the breakdowns as text tables."""
    rate = summary.failure_rate
    headline = (
        f"UsageSummary: {summary.rows} rows, {summary.sdk_rows} SDK, {summary.failed} failed"
        + ("" if rate is None else f" ({rate:.1%})")
    )
    if summary.first_day is not None and summary.last_day is not None:
        headline += f", {summary.first_day.isoformat()} to {summary.last_day.isoformat()}"
    p.text(headline)
    if cycle:
        return
    if summary.events_checked:
        p.break_()
        p.text(
            f"event 101 cross-check: {summary.matched} failures matched, "
            f"{sum(gap.count for gap in summary.failures_without_event)} without an event 101, "
            f"{sum(gap.count for gap in summary.events_without_failure)} events 101 without "
            "a failure"
        )
    for title, rows, columns in _sections(summary):
        p.break_()
        pretty_table(p, rows, columns, title=f"{title}:", time_keys=_TIME_KEYS, limit=10)


def summary_dataframe(summary: UsageSummary) -> pd.DataFrame:
    """The summary's records as a DataFrame: one row per day, user and call result."""
    records = [
        {key: record_value(value) for key, value in record.items()}
        for record in summary.to_records()
    ]
    return records_to_dataframe(
        records, columns=SUMMARY_KEYS, time_keys=("day",), what="UsageSummary.to_dataframe()"
    )


def _per_user(summary: UsageSummary) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for person in summary.by_user:
        counts[person.label] = counts.get(person.label, 0) + person.failed
    return counts


def summary_plot(summary: UsageSummary, kind: str, ax: Axes | None) -> Axes:
    """Draw *kind* of *summary* into *ax* (or new axes, made without pyplot); the axes."""
    if kind not in ("failures", "users", "days"):
        raise InvalidValueError(
            f"kind must be 'failures', 'users' or 'days', not {kind!r}", field="kind"
        )
    what = "UsageSummary.plot()"
    if kind in ("failures", "users"):
        counts = summary.by_call_result if kind == "failures" else _per_user(summary)
        target = ax if ax is not None else new_axes(what, size=bars_size(len(counts)))
        by = "call result" if kind == "failures" else "user"
        return bars_by_label(target, counts, title=f"Failed MFA calls (SDK) by {by}")
    return bars_per_day(
        ax if ax is not None else new_axes(what),
        {
            "authenticated": {day.day: day.sdk_rows - day.failed for day in summary.by_day},
            "failed": {day.day: day.failed for day in summary.by_day},
        },
        title="MFA calls (SDK) per day (UTC)",
        ylabel="calls",
    )
