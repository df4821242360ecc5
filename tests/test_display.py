"""Jupyter display: HTML tables, pretty text, records, DataFrames and plots, with secrets masked."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.lib import pretty as ipython_pretty

from pyampam import ActivationRequest, PamService, RequestStatus, Role, User
from pyampam._display import (
    EVENTS,
    MAX_ROWS,
    REQUESTS,
    ROLES,
    USERS,
    Records,
    html_table,
    records_to_dataframe,
)
from pyampam._secrets import MASK
from pyampam.events import EventId, EventLevel, EventLog, PamEvent
from pyampam.exceptions import InvalidValueError, MissingExtraError, PyampamError
from strategies import activation_requests, names, pins, roles, users

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 4, 9, 30, tzinfo=UTC)
# IPython's pretty() is untyped; a typed name keeps mypy --strict quiet about calling it.
pretty: Callable[[object], str] = ipython_pretty.pretty
EVIL = "<script>alert('x')</script> & co"


def _user(**changes: object) -> User:
    fields: dict[str, object] = {
        "object_id": uuid.UUID(int=1),
        "source_domain": "CONTOSO",
        "source_account_name": "jen",
        "display_name": "Jen Smith",
    }
    fields.update(changes)
    return User(**fields)  # type: ignore[arg-type]


def _role(**changes: object) -> Role:
    fields: dict[str, object] = {
        "role_id": uuid.UUID(int=2),
        "display_name": "SQL admins",
        "ttl": dt.timedelta(hours=1),
    }
    fields.update(changes)
    return Role(**fields)  # type: ignore[arg-type]


def _request(**changes: object) -> ActivationRequest:
    fields: dict[str, object] = {
        "request_id": uuid.UUID(int=3),
        "requestor_id": uuid.UUID(int=1),
        "role_id": uuid.UUID(int=2),
        "requested_ttl": dt.timedelta(minutes=30),
        "creation_time": T0,
        "status": RequestStatus.ACTIVE,
        "activation_time": T0,
        "expiration_time": T0 + dt.timedelta(minutes=30),
    }
    fields.update(changes)
    return ActivationRequest(**fields)  # type: ignore[arg-type]


def _failed(time: dt.datetime, result: str | None, *, role_name: str = "SQL admins") -> PamEvent:
    return PamEvent.mfa_not_completed(
        time=time, user_id=uuid.UUID(int=1), role_name=role_name, call_result=result
    )


def _completed(time: dt.datetime) -> PamEvent:
    return PamEvent.mfa_completed(time=time, user_id=uuid.UUID(int=1), role_name="SQL admins")


def _activated(time: dt.datetime) -> PamEvent:
    return PamEvent(
        event_id=EventId.REQUEST_ACTIVATED,
        level=EventLevel.INFORMATION,
        source="pyampam",
        time=time,
        message="Role activated",
        user_id=uuid.UUID(int=1),
        role_name="SQL admins",
    )


def _log(*events: PamEvent) -> EventLog:
    log = EventLog()
    for event in events:
        log.record(event)
    return log


def _body_rows(html: str) -> int:
    return html.partition("<tbody>")[2].count("<tr>")


# --- HTML and pretty text -------------------------------------------------------------------


def test_user_html_escapes_names() -> None:
    """A user's HTML table escapes markup in names instead of rendering it."""
    html = _user(display_name=EVIL)._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in html
    assert "<caption>User CONTOSO\\jen</caption>" in html


def test_collection_html_escapes_cells_and_caption() -> None:
    """Table cells, headings and the caption of a collection are all escaped."""
    html = html_table([{"a<b": EVIL}], ["a<b"], caption="x & <y>")
    assert "<script>" not in html
    assert "<th>a&lt;b</th>" in html
    assert "<caption>x &amp; &lt;y&gt;</caption>" in html


def test_user_pin_shows_masked_in_every_form() -> None:
    """A set PIN shows as the mask in HTML, pretty text and records; an unset one as nothing."""
    user = _user(pin="735911")
    outputs = [user._repr_html_(), pretty(user), json.dumps(user.to_record())]
    outputs += [Records([user])._repr_html_(), pretty(Records([user], table=USERS))]
    for output in outputs:
        assert "735911" not in output
        assert MASK in output
    assert user.to_record()["pin"] == MASK
    assert _user().to_record()["pin"] is None
    assert MASK not in _user()._repr_html_()


def _outputs(user: User) -> list[str]:
    many = Records([user, _user(source_account_name="ann")], table=USERS)
    return [
        user._repr_html_(),
        pretty(user),
        json.dumps(user.to_record()),
        many._repr_html_(),
        pretty(many),
        json.dumps(many.to_records()),
    ]


@settings(deadline=None)  # two shared cores: timing says nothing about correctness here
@given(user=users(pin=pins()), other_pin=pins(), display_name=names())
def test_pin_never_reaches_any_output(user: User, other_pin: str, display_name: str) -> None:
    """No display of a user depends on its PIN's value, and the PIN's digits never appear."""
    user = attrs.evolve(user, display_name=display_name)
    outputs = _outputs(user)
    assert outputs == _outputs(attrs.evolve(user, pin=other_pin))
    assert user.pin is not None
    # The digits may occur by chance elsewhere (an id, a phone number, a random name); only
    # when they do not occur without the PIN must they be absent with it.
    if user.pin not in "".join(_outputs(attrs.evolve(user, pin=None))):
        assert user.pin not in "".join(outputs)


def test_pretty_is_one_compact_line_per_object() -> None:
    """IPython's pretty printer shows one line naming the object and its main fields."""
    text = pretty(_user(pin="1234", phone=None))
    assert text == (
        "User(CONTOSO\\jen, display_name=Jen Smith, pin=********, "
        "privileged_account_name=priv.jen, privileged_account_active=yes)"
    )
    assert pretty(_role()).startswith("Role(SQL admins, ttl=1:00:00")
    assert pretty(_request()).startswith(f"ActivationRequest({uuid.UUID(int=3)}, ")


def test_pretty_collection_is_an_aligned_text_table() -> None:
    """A collection pretty-prints as a title line and aligned columns, one row per item."""
    text = pretty(Records([_user(), _user(source_account_name="bo", display_name="B")]))
    lines = text.splitlines()
    assert lines[0] == "Records: 2 Users"
    assert lines[1].split() == list(USERS.keys)
    assert lines[2].index("CONTOSO\\jen") == lines[3].index("CONTOSO\\bo")


def test_collection_html_stops_at_the_row_limit() -> None:
    """A long collection shows MAX_ROWS rows and a last row saying how many more there are."""
    many = Records(
        [_user(source_account_name=f"u{index}") for index in range(MAX_ROWS + 5)], table=USERS
    )
    html = many._repr_html_()
    assert _body_rows(html) == MAX_ROWS + 1
    assert "… 5 more" in html
    assert "CONTOSO\\u19" in html
    assert "CONTOSO\\u20" not in html
    assert "… 5 more" in pretty(many)


def test_long_collection_displays_without_a_record_per_item() -> None:
    """Showing a long list turns only the shown rows into records, and counts the rest."""
    built = []

    class Item:
        def __init__(self, number: int) -> None:
            self.number = number

        def to_record(self) -> dict[str, Any]:
            built.append(self.number)
            return {"number": self.number}

    many = Records(Item(number) for number in range(10_000))
    assert "… 9980 more" in many._repr_html_()
    assert "… 9980 more" in pretty(many)
    assert len(built) == 2 * MAX_ROWS


def test_event_log_html_shows_the_newest_events() -> None:
    """The event log's table keeps the newest MAX_ROWS events and counts the earlier ones."""
    log = _log(*(_failed(T0 + dt.timedelta(minutes=i), f"R{i}") for i in range(MAX_ROWS + 3)))
    html = log._repr_html_()
    assert _body_rows(html) == MAX_ROWS + 1
    assert html.index("… 3 earlier") < html.index(f"R{MAX_ROWS + 2}")
    assert ">R2<" not in html
    assert ">R3<" in html
    assert f"{MAX_ROWS + 3} events" in html
    assert "… 3 earlier" in pretty(log)


def test_event_log_without_memory_still_displays() -> None:
    """A log that keeps no events shows a caption saying so instead of raising."""
    log = EventLog(memory=False)
    assert "not in memory" in log._repr_html_()
    assert pretty(log) == repr(log)


def test_single_event_html_escapes_the_message() -> None:
    """An event's own HTML table lists its fields and escapes its message."""
    html = _failed(T0, "FAILED_USER_HUNGUP_ON_US", role_name=EVIL)._repr_html_()
    assert "<caption>Event 101 (Error, MIM Service)</caption>" in html
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert "2024-03-04 09:30:00+00:00" in html


def test_empty_collection_shows_its_kind() -> None:
    """An empty list of users still says what it is and shows the column headings."""
    html = Records([], table=USERS)._repr_html_()
    assert "<caption>0 users</caption>" in html
    assert "<th>source_identity</th>" in html
    assert pretty(Records([], table=ROLES)) == "Records: 0 roles"


# --- records and the list type --------------------------------------------------------------


def test_records_are_json_values_with_the_documented_keys() -> None:
    """to_record() gives ids as text, times ISO 8601, enums as values, TTLs in seconds."""
    request = _request(justification="fix <it>")
    record = request.to_record()
    assert tuple(record) == REQUESTS.keys
    assert record["request_id"] == str(uuid.UUID(int=3))
    assert record["status"] == "Active"
    assert record["requested_ttl_seconds"] == 1800
    assert record["creation_time"] == "2024-03-04T09:30:00+00:00"
    assert record["requested_time"] is None
    role = _role(candidates=[uuid.UUID(int=9), uuid.UUID(int=8)], privileges=["g1"])
    assert tuple(role.to_record()) == ROLES.keys
    assert role.to_record()["candidates"] == [str(uuid.UUID(int=8)), str(uuid.UUID(int=9))]
    assert tuple(_user().to_record()) == USERS.keys
    event = _failed(T0, "FAILED_PHONE_BUSY").to_record()
    assert tuple(event) == EVENTS.keys
    assert (event["event_id"], event["event_name"], event["level"]) == (
        101,
        "MFA_NOT_COMPLETED",
        "Error",
    )
    for one in (record, role.to_record(), _user().to_record(), event):
        assert json.loads(json.dumps(one)) == one


@settings(deadline=None)
@given(request=activation_requests(), role=roles(), user=users())
def test_every_record_survives_json(request: ActivationRequest, role: Role, user: User) -> None:
    """Records of any request, role and user round-trip through JSON unchanged."""
    for record in (request.to_record(), role.to_record(), user.to_record()):
        assert json.loads(json.dumps(record)) == record


def test_records_behave_as_a_list() -> None:
    """Records equal the plain list, keep their table when sliced and survive pickling."""
    items = Records([_user(), _user(source_account_name="bo")], table=USERS)
    assert items == [_user(), _user(source_account_name="bo")]
    assert repr(items) == repr(list(items))
    assert isinstance(items[:1], Records)
    assert items[:1].table is USERS
    assert items[0] == _user()
    copy = pickle.loads(pickle.dumps(items))  # noqa: S301 - our own bytes, made here
    assert copy == items
    assert copy.table == USERS


def test_records_without_a_table_use_the_first_record() -> None:
    """A hand-made Records list takes its columns from its first item's record."""
    html = Records([_role()])._repr_html_()
    assert "<caption>1 Role</caption>" in html
    assert "<th>role_id</th>" in html


def test_service_lists_are_records() -> None:
    """PamService's list-returning methods return Records, which display as tables."""
    service = PamService()
    jen = service.new_user("CONTOSO", "jen", display_name="Jen", pin="2468")
    role = service.new_role("SQL admins", candidates=[jen])
    service.request_activation(jen, role, justification="patching")
    for found, table in (
        (service.get_users(), USERS),
        (service.get_roles(), ROLES),
        (service.get_requests(), REQUESTS),
        (service.active_requests(jen), REQUESTS),
        (service.active_roles(jen), ROLES),
        (service.requests_to_approve(jen), REQUESTS),
        (service.start_due(), REQUESTS),
        (service.expire_due(), REQUESTS),
        (service.events.query(), EVENTS),
    ):
        assert isinstance(found, Records)
        assert found.table is table
    assert "2468" not in service.get_users()._repr_html_()
    assert "CONTOSO\\jen" in service.get_users()._repr_html_()


# --- pandas ---------------------------------------------------------------------------------


def test_to_dataframe_has_every_key_and_utc_times() -> None:
    """to_dataframe() has one row per item, every record key, and times as UTC datetimes."""
    pd = pytest.importorskip("pandas")
    paris = dt.timezone(dt.timedelta(hours=1))
    frame = Records(
        [_request(), _request(request_id=uuid.UUID(int=4), creation_time=T0.astimezone(paris))],
        table=REQUESTS,
    ).to_dataframe()
    assert list(frame.columns) == list(REQUESTS.keys)
    assert len(frame) == 2
    assert str(frame["creation_time"].dt.tz) == "UTC"
    assert (frame["creation_time"] == pd.Timestamp("2024-03-04 09:30", tz="UTC")).all()
    assert frame["requested_time"].isna().all()
    assert frame["requested_ttl_seconds"].tolist() == [1800, 1800]


def test_event_log_to_dataframe() -> None:
    """The event log's DataFrame has a row per event, oldest first."""
    pytest.importorskip("pandas")
    log = _log(_failed(T0, "FAILED_PHONE_BUSY"), _completed(T0 + dt.timedelta(hours=1)))
    frame = log.to_dataframe()
    assert frame["event_id"].tolist() == [101, 103]
    assert frame["call_result"].tolist()[0] == "FAILED_PHONE_BUSY"
    assert log.to_records() == [event.to_record() for event in log]


def test_empty_dataframe_keeps_its_columns() -> None:
    """An empty collection still gives a DataFrame with the kind's columns."""
    pytest.importorskip("pandas")
    frame = Records([], table=USERS).to_dataframe()
    assert list(frame.columns) == list(USERS.keys)
    assert frame.empty


def test_to_dataframe_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pandas, to_dataframe() raises MissingExtraError telling how to install it."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    for call in (Records([_user()], table=USERS).to_dataframe, _log().to_dataframe):
        with pytest.raises(MissingExtraError, match=r"pip install 'pyampam\[notebook\]'") as info:
            call()
        assert info.value.package == "pandas"
        assert info.value.extra == "notebook"
        assert isinstance(info.value, PyampamError)
        assert isinstance(info.value, ImportError)
        assert isinstance(info.value.__cause__, ImportError)


def test_missing_extra_error_survives_pickling() -> None:
    """MissingExtraError keeps its package and extra across pickling."""
    error = MissingExtraError("needs pandas", package="pandas")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, made here
    assert (str(copy), copy.package, copy.extra, copy.name) == (
        "needs pandas",
        "pandas",
        "notebook",
        "pandas",
    )


def test_records_to_dataframe_reads_mixed_offsets_as_utc() -> None:
    """Times with different UTC offsets land in one UTC column."""
    pytest.importorskip("pandas")
    frame = records_to_dataframe(
        [{"t": "2024-01-01T10:00:00+01:00"}, {"t": "2024-01-01T09:00:00+00:00"}, {"t": None}],
        columns=["t"],
        time_keys=["t"],
    )
    assert frame["t"].iloc[0] == frame["t"].iloc[1]
    assert frame["t"].isna().tolist() == [False, False, True]


# --- plots ----------------------------------------------------------------------------------


def _png(ax: object, path: Path) -> tuple[int, int]:
    """Save the axes' figure as PNG with Agg; its size in bytes and its number of colours."""
    np = pytest.importorskip("numpy")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import imread

    figure = ax.figure  # type: ignore[attr-defined]
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=80)
    pixels = imread(path)
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    return path.stat().st_size, len(colours)


def _bar_sizes(ax: Any, size: str) -> list[float]:
    """The heights or widths of the bars drawn on *ax*, in drawing order."""
    from matplotlib.patches import Rectangle

    assert all(isinstance(patch, Rectangle) for patch in ax.patches)
    return [getattr(patch, f"get_{size}")() for patch in ax.patches]


def _activity_log() -> EventLog:
    day = dt.timedelta(days=1)
    return _log(
        _failed(T0, "FAILED_USER_HUNGUP_ON_US"),
        _completed(T0 + dt.timedelta(minutes=5)),
        _activated(T0 + dt.timedelta(minutes=5)),
        _failed(T0 + 2 * day, "CONFIG_ISSUE"),
        _failed(T0 + 2 * day, "CONFIG_ISSUE"),
        _completed(T0 + 3 * day),
        _activated(T0 + 3 * day),
    )


def test_activity_plot_has_bars_per_day_and_series(tmp_path: Path) -> None:
    """The activity plot has three bars per day, every day labelled, even days without events."""
    pytest.importorskip("matplotlib")
    ax = _activity_log().plot()
    labels = [label.get_text() for label in ax.get_xticklabels()]
    assert labels == ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"]
    assert len(ax.patches) == 3 * 4
    heights = [int(height) for height in _bar_sizes(ax, "height")]
    # Series in order: activated, MFA completed (103), MFA not completed (101).
    assert heights == [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 2, 0]
    legend = ax.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [
        "activated",
        "MFA completed (103)",
        "MFA not completed (101)",
    ]
    size, colours = _png(ax, tmp_path / "activity.png")
    assert size > 5_000
    assert colours > 20


def test_failures_plot_counts_call_results(tmp_path: Path) -> None:
    """The failures plot has one horizontal bar per call result, the most frequent on top."""
    pytest.importorskip("matplotlib")
    ax = _activity_log().plot("failures")
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels == ["CONFIG_ISSUE", "FAILED_USER_HUNGUP_ON_US"]
    assert _bar_sizes(ax, "width") == [2, 1]
    assert ax.yaxis_inverted()
    size, colours = _png(ax, tmp_path / "failures.png")
    assert size > 5_000
    assert colours > 20


def test_plot_draws_into_given_axes() -> None:
    """plot(ax=...) draws into the caller's axes and returns them."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    assert _activity_log().plot("failures", ax=ax) is ax
    assert len(ax.patches) == 2


def test_plot_of_an_empty_log_says_so() -> None:
    """An empty log still plots, with a note instead of bars."""
    pytest.importorskip("matplotlib")
    ax = EventLog().plot()
    assert len(ax.patches) == 0
    assert [text.get_text() for text in ax.texts] == ["nothing to show"]


def test_plot_refuses_an_unknown_kind() -> None:
    """An unknown plot kind raises InvalidValueError naming the kinds there are."""
    with pytest.raises(InvalidValueError, match="'activity' or 'failures'"):
        EventLog().plot("pie")  # type: ignore[arg-type]


def test_plot_without_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib, plot() raises MissingExtraError telling how to install it."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError, match=r"EventLog.plot\(\) needs matplotlib") as info:
        _activity_log().plot()
    assert info.value.package == "matplotlib"


def test_plotting_leaves_pyplot_and_the_backend_alone(tmp_path: Path) -> None:
    """Plotting imports no pyplot and selects no backend; importing pyampam loads neither extra."""
    pytest.importorskip("matplotlib")
    code = (
        "import sys, pyampam\n"
        "from pyampam.events import EventLog\n"
        "heavy = {'pandas', 'matplotlib'} & {m.partition('.')[0] for m in sys.modules}\n"
        "assert not heavy, heavy\n"
        "import matplotlib\n"
        # Reading rcParams["backend"] would itself pick a backend; this private getter does not.
        "before = matplotlib.rcParams._get_backend_or_none()\n"
        "EventLog().plot().figure.savefig(sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert matplotlib.rcParams._get_backend_or_none() == before\n"
    )
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "plot.png")], check=True, env=env)


@settings(max_examples=30, deadline=None)  # each example builds a matplotlib figure
@given(counts=st.dictionaries(names(), st.integers(1, 50), max_size=8))
def test_failures_bars_match_any_counts(counts: dict[str, int]) -> None:
    """Whatever the call results, the bars are their counts, largest first, labelled by name."""
    pytest.importorskip("matplotlib")
    from pyampam._display import bars_by_label, new_axes

    ax = bars_by_label(new_axes("test"), counts, title="t")
    widths = _bar_sizes(ax, "width")
    assert widths == sorted(counts.values(), reverse=True)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert sorted(labels) == sorted(counts)
    ax.figure.clear()


# --- usage summaries ------------------------------------------------------------------------


def _summary(*, with_events: bool = True) -> Any:
    from pyampam.providers import CallResult
    from pyampam.reports import UsageRecord, summarize_usage

    jen = _user(display_name=EVIL, pin="86420")
    bo = _user(object_id=uuid.UUID(int=2), source_account_name="bo", display_name="Bo")

    def row(user: User, day: int, result: CallResult | str, *, ok: bool = False) -> UsageRecord:
        return UsageRecord(
            auth_type="SDK",
            username=str(user.object_id),
            authenticated=ok,
            call_result=result,
            time=T0 + dt.timedelta(days=day),
        )

    records = [
        row(jen, 0, CallResult.FAILED_USER_HUNGUP_ON_US),
        row(jen, 0, CallResult.SUCCESS_NO_PIN, ok=True),
        row(bo, 1, CallResult.CONFIG_ISSUE),
        row(bo, 1, CallResult.CONFIG_ISSUE),
        row(bo, 3, "SOMETHING_NEW"),
    ]
    events = [_failed(T0, "FAILED_USER_HUNGUP_ON_US")] if with_events else None
    return summarize_usage(records, users=[jen, bo], events=events)


def test_summary_html_has_overview_breakdowns_and_cross_check() -> None:
    """A summary's HTML has an overview, failures by result and user, and the 101 gaps."""
    html = _summary()._repr_html_()
    for caption in (
        "Usage summary",
        "Failures by call result",
        "Failures by user",
        "Failures without an event 101",
    ):
        assert f"<caption>{caption}</caption>" in html
    assert "Events 101 without a failure" not in html  # an empty table is left out
    assert "<td>CONFIG_ISSUE</td><td>2</td>" in html
    assert "CONTOSO\\bo" in html
    assert "<td>80.0%</td>" in html
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert "86420" not in html


def test_summary_pretty_has_a_headline_and_tables() -> None:
    """A summary pretty-prints a headline with the counts, then its breakdowns as text."""
    text = pretty(_summary())
    lines = text.splitlines()
    assert lines[0] == "UsageSummary: 5 rows, 5 SDK, 4 failed (80.0%), 2024-03-04 to 2024-03-07"
    assert lines[1] == (
        "event 101 cross-check: 1 failures matched, 3 without an event 101, "
        "0 events 101 without a failure"
    )
    assert "Failures by call result:" in lines
    assert any(line.startswith("CONFIG_ISSUE") and " 2 " in line for line in lines)
    assert "86420" not in text


def test_summary_to_dataframe() -> None:
    """A summary's DataFrame has a row per day, user and call result, days as UTC datetimes."""
    pd = pytest.importorskip("pandas")
    frame = _summary().to_dataframe()
    assert list(frame.columns) == [
        "day",
        "username",
        "user_id",
        "source_identity",
        "display_name",
        "call_result",
        "description",
        "failed",
    ]
    assert frame["failed"].sum() == 4
    assert frame["day"].iloc[0] == pd.Timestamp("2024-03-04", tz="UTC")
    assert set(frame["source_identity"]) == {"CONTOSO\\jen", "CONTOSO\\bo"}


def test_summary_to_dataframe_without_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pandas, a summary's to_dataframe() names the notebook extra."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r"UsageSummary.to_dataframe\(\) needs pandas"):
        _summary().to_dataframe()


def test_summary_failures_plot(tmp_path: Path) -> None:
    """The summary's failures plot has a bar per call result, the most frequent on top."""
    pytest.importorskip("matplotlib")
    ax = _summary().plot()
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels == ["CONFIG_ISSUE", "FAILED_USER_HUNGUP_ON_US", "SOMETHING_NEW"]
    assert _bar_sizes(ax, "width") == [2, 1, 1]
    assert "call result" in ax.get_title()
    size, colours = _png(ax, tmp_path / "summary.png")
    assert size > 5_000
    assert colours > 20


def test_summary_users_and_days_plots() -> None:
    """The users plot has a bar per user; the days plot two bars per day of the report."""
    pytest.importorskip("matplotlib")
    summary = _summary()
    users = summary.plot("users")
    assert [label.get_text() for label in users.get_yticklabels()] == [
        "CONTOSO\\bo",
        "CONTOSO\\jen",
    ]
    assert _bar_sizes(users, "width") == [3, 1]
    days = summary.plot("days")
    assert len(days.get_xticklabels()) == 4
    # authenticated per day, then failed per day
    assert _bar_sizes(days, "height") == [1, 0, 0, 0, 1, 2, 0, 1]
    with pytest.raises(InvalidValueError, match="'failures', 'users' or 'days'"):
        summary.plot("pie")
