"""pyampam.reports: reading the Azure MFA usage report and summing up who failed MFA and why."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gc
import io
import json
import pickle
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyampam import PamService, User
from pyampam.events import EventId, EventLog, PamEvent
from pyampam.exceptions import InvalidValueError, PyampamError
from pyampam.providers import CallResult
from pyampam.reports import (
    NO_CALL_RESULT,
    REQUIRED_COLUMNS,
    BadRow,
    ReportError,
    UsageRecord,
    UsageReport,
    UsageSummary,
    read_usage_report,
    summarize_usage,
)
from pyampam.reports._times import TimeParser
from pyampam.store import MemoryStore, SqliteStore

UTC = dt.timezone.utc
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "reports"
JEN = uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")
KEN = uuid.UUID("16fd2706-8baf-433b-82eb-8c7fada847da")
BOB = uuid.UUID("886313e1-3b8a-5372-9b90-0c9aee199e5d")
ANA = uuid.UUID("a8098c1a-f86e-11da-bd1a-00112444be1e")
RAJ = uuid.UUID("e902893a-9d22-3c7e-a7b8-d6e313b71d9f")
OTHER_APPLICATION = "0b8f3c5e-2d71-4e9a-b6c4-5f1a9d3e7b20"
HEADER = "DATE/TIME,AUTH TYPE,USERNAME,Name,AUTHD,CALL RESULT\r\n"


def report_of(text: str, **options: object) -> UsageReport:
    """A report read from *text*, encoded as UTF-8."""
    return UsageReport.open(io.BytesIO(text.encode("utf-8")), **options)  # type: ignore[arg-type]


def records_of(text: str, **options: object) -> list[UsageRecord]:
    """Every record of a report given as text."""
    return list(report_of(text, **options))


def at(text: str) -> dt.datetime:
    """An ISO 8601 time in UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- reading: the sample reports ----------------------------------------------------------------


def test_small_report_gives_one_typed_record_per_row() -> None:
    """usage-small.csv reads into records with parsed AUTHD, call result, UTC time and line."""
    records = list(read_usage_report(EXAMPLES / "usage-small.csv"))

    assert len(records) == 10
    first = records[0]
    assert first == UsageRecord(
        auth_type="SDK",
        username=str(JEN),
        authenticated=True,
        call_result=CallResult.SUCCESS_NO_PIN,
        name="Jen Smith",
        time=at("2026-01-05 08:02:13"),
        raw_time="2026-01-05 08:02:13",
        line=2,
    )
    assert records[1].authenticated is False
    assert records[1].call_result is CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT
    assert [record.line for record in records] == list(range(2, 12))
    assert all(record.time is not None and record.time.tzinfo is UTC for record in records)


def test_utf16_report_with_bom_reads_like_utf8() -> None:
    """A UTF-16 export with a BOM gives the same records as the UTF-8 one."""
    assert (EXAMPLES / "usage-utf16.csv").read_bytes()[:2] == codecs.BOM_UTF16_LE

    utf16 = list(read_usage_report(EXAMPLES / "usage-utf16.csv"))

    assert utf16 == list(read_usage_report(EXAMPLES / "usage-small.csv"))


def test_utf16_big_endian_and_without_bom_are_recognised() -> None:
    """UTF-16 big-endian with a BOM, and little-endian without one, are read as well."""
    text = HEADER + f"2026-01-05 08:00:00,SDK,{JEN},Jén,No,CONFIG_ISSUE\r\n"

    for data in (codecs.BOM_UTF16_BE + text.encode("utf-16-be"), text.encode("utf-16-le")):
        (record,) = UsageReport.open(io.BytesIO(data))
        assert record.name == "Jén"
        assert record.call_result is CallResult.CONFIG_ISSUE


def test_messy_report_columns_are_found_by_name_in_any_order_and_spelling() -> None:
    """usage-messy.csv: BOM, reordered and respelled headers; the Device column goes to extras."""
    report = UsageReport.open(EXAMPLES / "usage-messy.csv")
    records = list(report)

    assert report.columns[0] == "AuthD"  # the BOM is not part of the header
    assert report.time_columns == ("Date Time",)
    jen = records[0]
    assert (jen.auth_type, jen.username, jen.authenticated) == ("SDK", str(JEN), True)
    assert jen.extras == (("Device", "Office phone"),)
    assert jen.time == at("2026-01-05 08:02:13")


def test_quoted_fields_keep_commas_and_line_breaks() -> None:
    """A quoted comma stays in its field; a quoted line break makes one row of two lines."""
    records = list(read_usage_report(EXAMPLES / "usage-messy.csv"))

    assert records[0].name == "Smith, Jen"
    assert records[1].name == "Myer,\r\nKen"
    assert records[1].line == 3
    assert records[1].auth_type == "sdk"
    assert records[-1].extras == (("Device", "Desk, 2nd floor"),)


def test_bad_rows_are_skipped_and_reported_with_line_and_reason() -> None:
    """Wrong field count, empty USERNAME and AUTHD not Yes/No are skipped, each with its line."""
    report = UsageReport.open(EXAMPLES / "usage-messy.csv")
    records = list(report)

    assert len(records) == 5
    assert report.bad_rows == (
        BadRow(6, "AUTHD is 'Maybe', not Yes or No"),
        BadRow(7, "expected 7 fields as in the header, found 6"),
        BadRow(8, "USERNAME is empty"),
    )
    assert report.bad_row_count == 3
    assert str(report.bad_rows[0]) == "line 6: AUTHD is 'Maybe', not Yes or No"


def test_unknown_call_result_is_kept_as_stripped_text() -> None:
    """A CALL RESULT that is no CallResult name stays the text found, without its spaces."""
    records = list(read_usage_report(EXAMPLES / "usage-messy.csv"))
    raj = records[2]

    assert raj.call_result == "FAILED_NEW_REASON"
    assert raj.call_result_name == "FAILED_NEW_REASON"
    assert (raj.username, raj.auth_type, raj.authenticated) == (str(RAJ), "SDK", False)


def test_unreadable_date_keeps_its_text_and_the_row() -> None:
    """Date text that cannot be read gives time None and keeps raw_time; the row is not bad."""
    records = list(read_usage_report(EXAMPLES / "usage-messy.csv"))

    assert records[3].raw_time == "sometime on Tuesday"
    assert records[3].time is None


def test_report_without_a_date_column_has_no_times() -> None:
    """Without a date/time column every record has time and raw_time None."""
    report = UsageReport.open(EXAMPLES / "usage-no-date.csv")
    records = list(report)

    assert report.time_columns == ()
    assert len(records) == 4
    assert all(record.time is None and record.raw_time is None for record in records)


# -- reading: the header ----------------------------------------------------------------------


def test_missing_required_column_names_it_and_lists_the_header() -> None:
    """A missing CALL RESULT raises ReportError naming it, listing the header, at line 1."""
    text = "DATE/TIME,AUTH TYPE,USERNAME,AUTHD\r\n2026-01-05,SDK,x,Yes\r\n"

    with pytest.raises(ReportError) as caught:
        report_of(text)

    error = caught.value
    assert isinstance(error, PyampamError)
    assert error.line == 1
    assert "no CALL RESULT column" in str(error)
    assert "'DATE/TIME', 'AUTH TYPE', 'USERNAME', 'AUTHD'" in str(error)


def test_several_missing_columns_are_all_named(tmp_path: Path) -> None:
    """Every missing required column is named, and the error starts with path:line."""
    path = tmp_path / "export.csv"
    path.write_text("Name,Date\r\nJen,2026-01-05\r\n", encoding="utf-8")

    with pytest.raises(ReportError) as caught:
        read_usage_report(path)

    message = str(caught.value)
    assert message.startswith(f"{path}:1: ")
    for column in REQUIRED_COLUMNS:
        assert column in message


def test_a_required_column_twice_is_refused() -> None:
    """Two USERNAME columns are ambiguous: ReportError says which column is doubled."""
    with pytest.raises(ReportError, match="USERNAME more than once"):
        report_of("AUTH TYPE,USERNAME,User Name,AUTHD,CALL RESULT\r\n")


@pytest.mark.parametrize(
    "header",
    [
        "auth type,username,authd,call result",
        "AUTH_TYPE,USER NAME,Authd,Call-Result",
        "  Auth Type ,  UserName,AUTHD  ,CALLRESULT",
    ],
)
def test_header_names_match_without_regard_to_case_spaces_or_punctuation(header: str) -> None:
    """Headers are matched by their letters and digits, case folded."""
    (record,) = records_of(f"{header}\r\nSDK,{JEN},No,CONFIG_ISSUE\r\n")

    assert (record.auth_type, record.username, record.authenticated) == ("SDK", str(JEN), False)


def test_empty_file_is_a_report_error() -> None:
    """A file with no header row raises ReportError saying it is empty."""
    with pytest.raises(ReportError, match="empty"):
        report_of("\r\n\r\n")


def test_header_only_report_has_no_records() -> None:
    """A header and nothing else reads as no records and no bad rows."""
    report = report_of(HEADER)

    assert list(report) == []
    assert report.bad_rows == ()


def test_missing_file_is_a_report_error(tmp_path: Path) -> None:
    """A path that does not exist raises ReportError naming it."""
    with pytest.raises(ReportError, match="cannot open the usage report") as caught:
        UsageReport.open(tmp_path / "nowhere.csv")

    assert caught.value.path == str(tmp_path / "nowhere.csv")


# -- reading: rows --------------------------------------------------------------------------


def test_values_are_stripped_and_authd_is_read_in_any_case() -> None:
    """Spaces around values go; AUTHD yes/NO/ Yes  in any case are read."""
    text = HEADER + (
        f"2026-01-05 08:00:00 , sdk ,  {JEN}  , Jen ,yes, SUCCESS_NO_PIN \r\n"
        f"2026-01-05 08:00:01,SDK,{JEN},,NO,CONFIG_ISSUE\r\n"
    )

    first, second = records_of(text)

    assert (first.auth_type, first.username, first.name, first.authenticated) == (
        "sdk",
        str(JEN),
        "Jen",
        True,
    )
    assert first.call_result is CallResult.SUCCESS_NO_PIN
    assert first.time == at("2026-01-05 08:00:00")
    assert second.name is None
    assert second.authenticated is False


def test_blank_lines_and_rows_of_empty_cells_are_skipped_silently() -> None:
    """Blank lines and rows of empty cells are neither records nor bad rows."""
    report = report_of(HEADER + "\r\n,,,,,\r\n   \r\n" + f"2026-01-05,SDK,{JEN},,No,\r\n\r\n")

    (record,) = report
    assert record.call_result is None
    assert record.line == 5
    assert report.bad_row_count == 0


def test_strict_mode_raises_at_the_first_bad_row_with_its_line() -> None:
    """strict=True raises ReportError (path:line: reason) at the first bad row."""
    with pytest.raises(ReportError) as caught:
        list(read_usage_report(EXAMPLES / "usage-messy.csv", strict=True))

    assert caught.value.line == 6
    assert str(caught.value).endswith("usage-messy.csv:6: AUTHD is 'Maybe', not Yes or No")


def test_on_bad_row_hears_of_every_bad_row_beyond_the_kept_ones() -> None:
    """on_bad_row gets every bad row; bad_rows keeps the first max_bad_rows; all are counted."""
    heard: list[BadRow] = []
    text = HEADER + "".join(f"2026-01-05,SDK,{JEN},,Perhaps,\r\n" for _ in range(5))

    report = report_of(text, on_bad_row=heard.append, max_bad_rows=2)
    assert list(report) == []

    assert [bad.line for bad in heard] == [2, 3, 4, 5, 6]
    assert [bad.line for bad in report.bad_rows] == [2, 3]
    assert report.bad_row_count == 5


def test_an_unclosed_quote_makes_one_bad_row_spanning_the_lines() -> None:
    """An unclosed quote swallows the following lines into one bad row that says so."""
    text = (
        HEADER + f'2026-01-05,SDK,{JEN},"Jen,No,CONFIG_ISSUE\r\n2026-01-06,SDK,{KEN},Ken,No,X\r\n'
    )

    report = report_of(text)

    assert list(report) == []
    (bad,) = report.bad_rows
    assert bad.line == 2
    assert "lines 2-3: an unclosed quote?" in bad.reason


def test_a_field_beyond_the_csv_limit_is_a_bad_row_and_reading_goes_on() -> None:
    """A quoted field larger than the csv module's limit is one bad row; later rows still read."""
    huge = "x" * (csv.field_size_limit() + 1)
    text = (
        HEADER
        + f'2026-01-05,SDK,{JEN},"{huge}",No,CONFIG_ISSUE\r\n'
        + (f"2026-01-06,SDK,{KEN},Ken,No,CONFIG_ISSUE\r\n")
    )

    report = report_of(text)
    records = list(report)

    assert [record.username for record in records] == [str(KEN)]
    assert report.bad_rows[0].line == 2
    assert "cannot be read as CSV" in report.bad_rows[0].reason


def test_text_that_is_not_utf8_is_a_report_error_suggesting_an_encoding() -> None:
    """Bytes that are not UTF-8 raise ReportError near their line; encoding= reads them."""
    data = (HEADER + f"2026-01-05,SDK,{JEN},José,No,CONFIG_ISSUE\r\n").encode("cp1252")

    with pytest.raises(ReportError, match=r"not utf-8 text: b'.*Jos\\xe9,No.*cp1252") as caught:
        list(UsageReport.open(io.BytesIO(data)))
    assert caught.value.line == 2

    (record,) = UsageReport.open(io.BytesIO(data), encoding="cp1252")
    assert record.name == "José"


def test_unknown_encoding_is_a_report_error() -> None:
    """An encoding Python does not know raises ReportError, not LookupError."""
    with pytest.raises(ReportError, match="unknown encoding 'klingon'"):
        UsageReport.open(io.BytesIO(HEADER.encode()), encoding="klingon")


def test_text_streams_and_unseekable_binary_streams_are_read() -> None:
    """An open text file (newline="") and a binary stream that cannot seek both work."""
    text = "\ufeff" + HEADER + f"2026-01-05,SDK,{JEN},,No,CONFIG_ISSUE\r\n"

    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self._data.read(min(len(buffer), 3))
            buffer[: len(chunk)] = chunk
            return len(chunk)

        def seekable(self) -> bool:
            return False

    from_text = list(UsageReport.open(io.StringIO(text, newline="")))
    from_stream = list(UsageReport.open(OneWay(codecs.BOM_UTF8 + text[1:].encode())))

    assert from_text == from_stream
    assert from_text[0].username == str(JEN)


def test_something_that_is_no_file_is_refused() -> None:
    """Neither a path nor a file (a list of lines) raises ReportError."""
    with pytest.raises(ReportError, match="give a path or an open file"):
        UsageReport.open(["AUTH TYPE"])  # type: ignore[arg-type]


def test_a_report_is_an_iterator_read_once() -> None:
    """next() reads record by record; once read to the end, iterating again gives nothing."""
    report = UsageReport.open(EXAMPLES / "usage-small.csv")

    first = next(report)
    rest = list(report)

    assert first.line == 2
    assert len(rest) == 9
    assert list(report) == []
    with pytest.raises(StopIteration):
        next(report)


def test_the_file_is_closed_at_the_end_and_when_the_report_is_dropped() -> None:
    """The report closes its file when read to the end, and when dropped unread (no warning)."""
    report = UsageReport.open(EXAMPLES / "usage-small.csv")
    stream = report._owned
    assert stream is not None
    list(report)
    assert stream.closed

    dropped = UsageReport.open(EXAMPLES / "usage-small.csv")
    dropped_stream = dropped._owned
    assert dropped_stream is not None
    del dropped
    gc.collect()
    assert dropped_stream.closed

    with read_usage_report(EXAMPLES / "usage-small.csv") as context_report:
        next(context_report)
    assert context_report._owned is not None
    assert context_report._owned.closed


def test_a_file_given_open_is_left_open() -> None:
    """A file the caller opened is not closed by the report."""
    with (EXAMPLES / "usage-small.csv").open("rb") as file:
        list(UsageReport.open(file))
        assert not file.closed


# -- reading: times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05 08:02:13", "2026-01-05 08:02:13"),
        ("2026-01-05T08:02:13Z", "2026-01-05 08:02:13"),
        ("2026-01-05T08:02:13.250Z", "2026-01-05 08:02:13.250"),
        ("2026-01-05T10:02:13+02:00", "2026-01-05 08:02:13"),
        ("2026-01-05", "2026-01-05 00:00:00"),
        ("1/5/2026 8:02:13 AM", "2026-01-05 08:02:13"),
        ("1/5/2026 8:02:13 PM", "2026-01-05 20:02:13"),
        ("1/5/2026 12:02 AM", "2026-01-05 00:02:00"),
        ("1/5/2026 12:02 pm", "2026-01-05 12:02:00"),
        ("01/05/2026 20:02", "2026-01-05 20:02:00"),
        ("13/01/2026 20:02", "2026-01-13 20:02:00"),
        ("5.1.2026 20:02:13", "2026-05-01 20:02:13"),
        ("2026/01/05 08:02:13", "2026-01-05 08:02:13"),
        ("1/5/26 8:02", "2026-01-05 08:02:00"),
        ("05-Jan-2026 08:02:13", "2026-01-05 08:02:13"),
        ("5 January 2026 8:02 PM", "2026-01-05 20:02:00"),
        ("Jan 5, 2026 8:02:13 PM", "2026-01-05 20:02:13"),
        ("1/5/2026 8:02:13PM UTC", "2026-01-05 20:02:13"),
        ("2026-01-05 8:02 PM", "2026-01-05 20:02:00"),
        ("1/5/2026 8:02:13.5", "2026-01-05 08:02:13.500"),
    ],
)
def test_common_date_formats_are_read_as_utc(text: str, expected: str) -> None:
    """ISO 8601, US and European numeric dates and month names are read."""
    assert TimeParser()(text) == at(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "18:22:07",
        "2/30/2026 10:00",
        "1/5/2026 25:00",
        "1/5/2026 13:00 PM",
        "1/5/2026 8:61",
        "1/5/2026 8:02 8:03",
        "1/5/2026 ٨:02",
        "99999-01-05 08:00",
        "0000-01-01 00:00:00",
        "1/5/2026 8:02 XM",
        "32 Jan 2026",
    ],
)
def test_unreadable_times_give_none(text: str) -> None:
    """Text that is not a date and time (or an impossible one) gives None, never an error."""
    assert TimeParser()(text) is None


def us_text(moment: dt.datetime) -> str:
    """*moment* as a US English portal would write it: ``1/5/2026 8:02:13 PM``."""
    hour = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {meridiem}"


@settings(max_examples=200)
@given(
    moments=st.lists(
        st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)),
        min_size=1,
        max_size=20,
    ),
    zone=st.sampled_from([UTC, ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris")]),
)
def test_us_and_iso_times_read_back_as_written(moments: list[dt.datetime], zone: dt.tzinfo) -> None:
    """Times written in US and ISO form read back as the same instant, in any zone."""
    parse = TimeParser(timezone=zone)

    for drawn in moments:
        moment = drawn.replace(microsecond=0, fold=0)  # text carries no fold: read as fold 0
        expected = moment.replace(tzinfo=zone).astimezone(UTC)
        assert parse(us_text(moment)) == expected
        assert parse(us_text(moment).lower()) == expected
        assert parse(moment.isoformat(sep=" ")) == expected


def test_times_without_zone_are_read_in_the_given_zone() -> None:
    """timezone= reads naive times in that zone; the records hold them in UTC."""
    text = HEADER + f"2026-07-01 10:00:00,SDK,{JEN},,No,\r\n1/5/2026 10:00 AM,SDK,{JEN},,No,\r\n"

    summer, winter = records_of(text, timezone=ZoneInfo("Europe/Paris"))

    assert summer.time == at("2026-07-01 08:00:00")
    assert winter.time == at("2026-01-05 09:00:00")
    assert summer.time is not None
    assert summer.time.tzinfo is UTC


def test_dayfirst_reads_numeric_dates_day_first() -> None:
    """dayfirst=True reads 05/01/2026 as 5 January."""
    text = HEADER + f"05/01/2026 10:00,SDK,{JEN},,No,\r\n"

    (record,) = records_of(text, dayfirst=True)

    assert record.time == at("2026-01-05 10:00:00")


def test_a_date_column_and_a_time_column_are_read_together() -> None:
    """Separate DATE and TIME columns make one time; raw_time joins them."""
    text = f"DATE,TIME,AUTH TYPE,USERNAME,AUTHD,CALL RESULT\r\n1/5/2026,8:02 PM,SDK,{JEN},No,\r\n"

    (record,) = records_of(text)

    assert record.raw_time == "1/5/2026 8:02 PM"
    assert record.time == at("2026-01-05 20:02:00")


def test_the_iso_shortcut_gives_way_to_other_formats() -> None:
    """A report of US dates read after a few ISO ones still reads every row."""
    rows = [f"2026-01-05 08:00:0{n},SDK,{JEN},,No,\r\n" for n in range(3)]
    rows += [f"1/5/2026 9:00:{n:02d} AM,SDK,{JEN},,No,\r\n" for n in range(30)]

    records = records_of(HEADER + "".join(rows))

    assert all(record.time is not None for record in records)
    assert records[-1].time == at("2026-01-05 09:00:29")


# -- the record -------------------------------------------------------------------------------


def test_record_properties_read_sdk_guid_and_call_result_name() -> None:
    """is_sdk ignores case; user_id reads the GUID (braces, case); call_result_name is text."""
    record = UsageRecord(
        auth_type="sdk",
        username="{" + str(JEN).upper() + "}",
        authenticated=False,
        call_result=CallResult.CONFIG_ISSUE,
    )

    assert record.is_sdk
    assert record.user_id == JEN
    assert record.call_result_name == "CONFIG_ISSUE"
    assert UsageRecord(auth_type="RADIUS", username="jen", authenticated=True).user_id is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"authenticated": "No"}, "authenticated"),
        ({"username": None}, "username"),
        ({"call_result": 3}, "call_result"),
        ({"time": dt.datetime(2026, 1, 5)}, "time"),
        ({"line": 0}, "line"),
        ({"extras": "Device"}, "extras"),
        ({"extras": [("Device", 3)]}, "extras"),
    ],
)
def test_record_constructor_refuses_wrong_values(changes: dict[str, object], field: str) -> None:
    """The public constructor checks every field and names the one at fault."""
    values: dict[str, object] = {"auth_type": "SDK", "username": "x", "authenticated": True}
    values.update(changes)

    with pytest.raises(InvalidValueError) as caught:
        UsageRecord(**values)  # type: ignore[arg-type]

    assert caught.value.field == field


def test_record_extras_accept_a_dict() -> None:
    """extras given as a dict become (column, value) pairs."""
    record = UsageRecord(auth_type="SDK", username="x", authenticated=True, extras={"A": "1"})

    assert record.extras == (("A", "1"),)


def test_report_error_keeps_its_location_across_pickling() -> None:
    """A ReportError pickled (e.g. from a worker process) keeps path and line."""
    error = pickle.loads(pickle.dumps(ReportError("bad", path="a.csv", line=3)))  # noqa: S301

    assert (error.message, error.path, error.line, str(error)) == (
        "bad",
        "a.csv",
        3,
        "a.csv:3: bad",
    )
    assert str(ReportError("bad", line=3)) == "line 3: bad"


# -- the summary ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_users() -> list[User]:
    """The PAM users of the example database."""
    with SqliteStore(EXAMPLES / "pam-example.db") as store:
        return list(store.iter_users())


@pytest.fixture(scope="module")
def example_log() -> EventLog:
    """The example event log."""
    return EventLog.from_jsonl(EXAMPLES / "pam-example.events.jsonl")


def example_summary(users: object = None, events: object = None) -> UsageSummary:
    """The summary of usage-example.csv."""
    return summarize_usage(
        UsageReport.open(EXAMPLES / "usage-example.csv"),
        users=users,  # type: ignore[arg-type]
        events=events,  # type: ignore[arg-type]
    )


def test_summary_counts_rows_sdk_rows_and_failures() -> None:
    """The example week: 30 rows, 25 SDK, 8 failed; RADIUS rows are left out of the breakdown."""
    summary = example_summary()

    assert (summary.rows, summary.sdk_rows, summary.failed) == (30, 25, 8)
    assert summary.authenticated == 17
    assert summary.failure_rate == pytest.approx(8 / 25)
    assert (summary.first_day, summary.last_day) == (dt.date(2026, 1, 5), dt.date(2026, 1, 9))


def test_failures_by_call_result_are_sorted_by_count_then_name() -> None:
    """by_call_result: most frequent first, ties by name."""
    summary = example_summary()

    assert list(summary.by_call_result.items()) == [
        ("CONFIG_ISSUE", 2),
        ("FAILED_USER_HUNGUP_ON_US", 2),
        ("SUCCESS_NO_PIN_BUT_TIMEOUT", 2),
        ("FAILED_AUTH_RESULT_TIMEOUT", 1),
        ("FAILED_PHONE_BUSY", 1),
    ]


def test_failures_by_user_are_resolved_through_the_store(example_users: list[User]) -> None:
    r"""With users, each GUID shows as DOMAIN\account and display name; unknowns are listed."""
    with SqliteStore(EXAMPLES / "pam-example.db") as store:
        summary = example_summary(users=store)

    raj = summary.by_user[0]
    assert (raj.username, raj.user_id, raj.source_identity, raj.display_name) == (
        str(RAJ),
        RAJ,
        "CORP\\raj",
        "Raj Patel",
    )
    assert raj.failed == 3
    assert dict(raj.by_call_result) == {"CONFIG_ISSUE": 2, "FAILED_PHONE_BUSY": 1}
    assert (raj.first_time, raj.last_time) == (at("2026-01-06 09:12:07"), at("2026-01-07 13:22:21"))
    assert [entry.label for entry in summary.by_user] == [
        "CORP\\raj",
        "CORP\\bob",
        OTHER_APPLICATION,
        "CORP\\ana",
        "CORP\\ken",
    ]
    assert summary.users_checked
    assert summary.unknown_users == (OTHER_APPLICATION,)


def test_users_may_be_a_store_a_service_or_users(example_users: list[User]) -> None:
    """A Store, a PamService over it and a list of its users resolve the same."""
    store = MemoryStore()
    for user in example_users:
        store.add_user(user)

    by_store = example_summary(users=store)
    by_service = example_summary(users=PamService(store=store))
    by_list = example_summary(users=example_users)

    assert by_store == by_service == by_list


@pytest.mark.parametrize("users", ["CORP\\jen", 42, [object()]])
def test_users_of_the_wrong_kind_are_refused(users: object) -> None:
    """users that are no Store, service or iterable of User raise InvalidValueError."""
    with pytest.raises(InvalidValueError, match="users"):
        example_summary(users=users)


def test_without_users_names_come_from_the_report() -> None:
    """Without users, the display name is the report's Name; no unknown users are listed."""
    summary = example_summary()

    ken = next(entry for entry in summary.by_user if entry.username == str(KEN))
    assert (ken.source_identity, ken.display_name, ken.label) == (None, "Ken Myer", "Ken Myer")
    assert not summary.users_checked
    assert summary.unknown_users == ()


def test_failures_by_day() -> None:
    """by_day counts SDK rows and failures per UTC day, oldest first."""
    summary = example_summary()

    assert [(d.day.day, d.sdk_rows, d.failed) for d in summary.by_day] == [
        (5, 6, 2),
        (6, 5, 2),
        (7, 7, 3),
        (8, 3, 0),
        (9, 4, 1),
    ]


def test_cross_check_pairs_failures_with_event_101(
    example_users: list[User], example_log: EventLog
) -> None:
    """Failures pair with 101 by user and day; the other application's and Ken's stand out."""
    summary = example_summary(users=example_users, events=example_log)

    assert summary.events_checked
    assert (summary.events, summary.matched) == (8, 7)
    (failure,) = summary.failures_without_event
    assert (failure.username, failure.day, failure.count) == (
        OTHER_APPLICATION,
        dt.date(2026, 1, 7),
        1,
    )
    (event,) = summary.events_without_failure
    assert (event.source_identity, event.day, event.count) == ("CORP\\ken", dt.date(2026, 1, 8), 1)


def test_events_may_be_any_iterable_of_events(example_log: EventLog) -> None:
    """An EventLog and a plain list of its events (103s and all) give the same cross-check."""
    assert example_summary(events=example_log) == example_summary(events=list(example_log))


def test_events_of_the_wrong_kind_are_refused() -> None:
    """events that are no EventLog or iterable of PamEvent raise InvalidValueError."""
    with pytest.raises(InvalidValueError, match="events"):
        example_summary(events=[1, 2])
    with pytest.raises(InvalidValueError, match="events"):
        example_summary(events=7)


def failure(username: object, time: dt.datetime | None = None, **extra: object) -> UsageRecord:
    """A failed SDK record."""
    values: dict[str, object] = {
        "auth_type": "SDK",
        "username": str(username),
        "authenticated": False,
        "call_result": CallResult.CONFIG_ISSUE,
        "time": time,
    }
    values.update(extra)
    return UsageRecord(**values)  # type: ignore[arg-type]


def event_101(user: uuid.UUID | None, time: dt.datetime) -> PamEvent:
    """Event 101 for *user* at *time* (or a 101 without a user)."""
    if user is None:
        return PamEvent(
            event_id=EventId.MFA_NOT_COMPLETED,
            level="Error",
            source="MIM Service",
            time=time,
            message="no user",
        )
    return PamEvent.mfa_not_completed(time=time, user_id=user)


def test_cross_check_ignores_events_outside_the_report_days_and_without_user() -> None:
    """Events before or after the report's days, and 101s without a user, are not counted."""
    records = [failure(JEN, at("2026-01-05 10:00:00")), failure(JEN, at("2026-01-06 10:00:00"))]
    events = [
        event_101(JEN, at("2026-01-04 23:59:00")),
        event_101(JEN, at("2026-01-05 10:00:20")),
        event_101(None, at("2026-01-05 11:00:00")),
        event_101(JEN, at("2026-01-07 00:00:01")),
    ]

    summary = summarize_usage(records, events=events)

    assert (summary.events, summary.matched) == (1, 1)
    assert [(gap.day, gap.count) for gap in summary.failures_without_event] == [
        (dt.date(2026, 1, 6), 1)
    ]
    assert summary.events_without_failure == ()


def test_failures_without_time_pair_with_events_left_on_any_day() -> None:
    """Undated failures pair with the user's leftover events, oldest day first."""
    records = [
        failure(JEN, at("2026-01-05 10:00:00")),
        failure(JEN),
        failure(KEN),
        failure(KEN),
    ]
    events = [
        event_101(JEN, at("2026-01-05 10:00:20")),
        event_101(JEN, at("2026-01-05 12:00:00")),
        event_101(KEN, at("2026-01-05 09:00:00")),
    ]

    summary = summarize_usage(records, events=events)

    assert summary.matched == 3
    assert [(gap.username, gap.day, gap.count) for gap in summary.failures_without_event] == [
        (str(KEN), None, 1)
    ]
    assert summary.events_without_failure == ()


def test_failures_of_one_user_are_grouped_whatever_the_guid_spelling() -> None:
    """Upper-case and braced spellings of one GUID count as one user, in canonical form."""
    records = [failure(JEN), failure(str(JEN).upper()), failure("{" + str(JEN) + "}")]

    summary = summarize_usage(records)

    (entry,) = summary.by_user
    assert (entry.username, entry.user_id, entry.failed) == (str(JEN), JEN, 3)


def test_sdk_is_recognised_in_any_case_and_non_guid_usernames_are_kept() -> None:
    """AUTH TYPE sdk/Sdk count as SDK; a USERNAME that is no GUID is kept as written."""
    records = [
        failure("svc-backup", auth_type="sdk"),
        failure("svc-backup", auth_type=" Sdk "),
        failure("svc-backup", auth_type="RADIUS"),
    ]

    summary = summarize_usage(records, users=[])

    assert (summary.sdk_rows, summary.failed) == (2, 2)
    assert summary.by_user[0].username == "svc-backup"
    assert summary.by_user[0].user_id is None
    assert summary.unknown_users == ("svc-backup",)


def test_times_in_other_zones_are_counted_by_utc_day() -> None:
    """A record built with a non-UTC time counts on its UTC day."""
    late = dt.datetime(2026, 1, 5, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))

    summary = summarize_usage([failure(JEN, late)])

    assert summary.by_day[0].day == dt.date(2026, 1, 6)
    assert summary.by_user[0].first_time == at("2026-01-06 01:30:00")


def test_empty_call_results_and_unknown_ones_are_counted() -> None:
    """An empty CALL RESULT counts under NO_CALL_RESULT; unknown names are listed."""
    records = [
        failure(JEN, call_result=None),
        failure(JEN, call_result="FAILED_NEW"),
        UsageRecord(auth_type="RADIUS", username="x", authenticated=True, call_result="ODD"),
    ]

    summary = summarize_usage(records)

    assert dict(summary.by_call_result) == {NO_CALL_RESULT: 1, "FAILED_NEW": 1}
    assert summary.unknown_call_results == ("FAILED_NEW", "ODD")


def test_summary_without_times_has_no_days() -> None:
    """A report without a date column: no by_day, every SDK row counted as without time."""
    summary = summarize_usage(UsageReport.open(EXAMPLES / "usage-no-date.csv"))

    assert summary.by_day == ()
    assert summary.sdk_rows_without_time == 4
    assert summary.first_day is None
    assert summary.failure_rate == 0.5


def test_summary_of_a_report_carries_its_bad_rows() -> None:
    """Summing up a UsageReport (or read_usage_report's) carries its bad rows along."""
    summary = summarize_usage(read_usage_report(EXAMPLES / "usage-messy.csv"))

    assert [bad.line for bad in summary.bad_rows] == [6, 7, 8]
    assert summary.bad_row_count == 3
    assert summarize_usage([]).bad_rows == ()


def test_summary_of_a_report_equals_the_summary_of_its_records(
    example_users: list[User], example_log: EventLog
) -> None:
    """The fast path over a report gives what summing up its records one by one gives."""
    for name in ("usage-example.csv", "usage-messy.csv", "usage-no-date.csv"):
        path = EXAMPLES / name
        fast = summarize_usage(UsageReport.open(path), users=example_users, events=example_log)
        report = UsageReport.open(path)
        slow = summarize_usage(list(report), users=example_users, events=example_log)
        assert fast == attrs_evolve_bad_rows(slow, report)


def attrs_evolve_bad_rows(summary: UsageSummary, report: UsageReport) -> UsageSummary:
    """*summary* with the bad rows of *report* (a list of records carries none)."""
    import attrs

    return attrs.evolve(summary, bad_rows=report.bad_rows, bad_row_count=report.bad_row_count)


def test_a_report_partly_read_is_summed_up_from_where_it_stands() -> None:
    """Summing up a report already begun counts only the records left."""
    report = UsageReport.open(EXAMPLES / "usage-small.csv")
    next(report)

    assert summarize_usage(report).rows == 9
    assert list(report) == []


def test_records_of_the_wrong_kind_are_refused() -> None:
    """records holding something else than UsageRecord raise InvalidValueError."""
    with pytest.raises(InvalidValueError, match="UsageRecord"):
        summarize_usage([("SDK", "x", False)])  # type: ignore[list-item]


def test_to_records_gives_one_plain_dict_per_day_user_and_result(
    example_users: list[User],
) -> None:
    """to_records: failures by day, user and call result, with names and descriptions."""
    summary = example_summary(users=example_users)

    records = summary.to_records()

    assert sum(record["failed"] for record in records) == summary.failed
    assert records[0] == {
        "day": dt.date(2026, 1, 5),
        "username": str(KEN),
        "user_id": str(KEN),
        "source_identity": "CORP\\ken",
        "display_name": "Ken Myer",
        "call_result": "SUCCESS_NO_PIN_BUT_TIMEOUT",
        "description": CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT.description,
        "failed": 1,
    }
    unknown = [record for record in records if record["username"] == OTHER_APPLICATION]
    assert unknown[0]["source_identity"] is None


def test_to_dict_is_json_with_every_part(example_users: list[User], example_log: EventLog) -> None:
    """to_dict round-trips through JSON and holds counts, breakdowns, cross-check, bad rows."""
    summary = summarize_usage(
        read_usage_report(EXAMPLES / "usage-example.csv"), users=example_users, events=example_log
    )

    document = json.loads(json.dumps(summary.to_dict()))

    assert {"rows", "sdk_rows", "failed", "by_call_result", "bad_rows", "unknown_users"} <= set(
        document
    )
    assert document["by_call_result"]["CONFIG_ISSUE"] == 2
    assert document["by_user"][0]["source_identity"] == "CORP\\raj"
    assert document["by_user"][0]["first_time"] == "2026-01-06T09:12:07Z"
    assert document["by_day"][0] == {"day": "2026-01-05", "sdk_rows": 6, "failed": 2}
    assert document["cross_check"]["events_without_failure"] == [
        {
            "username": str(KEN),
            "user_id": str(KEN),
            "source_identity": "CORP\\ken",
            "display_name": "Ken Myer",
            "day": "2026-01-08",
            "count": 1,
        }
    ]
    assert document["unknown_users"] == [OTHER_APPLICATION]


def test_summary_is_a_frozen_hashable_value() -> None:
    """A summary cannot be changed, can be hashed and compares by value."""
    import attrs

    summary = example_summary()

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        summary.rows = 0  # type: ignore[misc]
    assert hash(summary) == hash(example_summary())
    assert summary.by_call_result == dict(summary.by_call_result)


# -- the example files --------------------------------------------------------------------------


def test_example_files_are_what_the_script_makes(tmp_path: Path) -> None:
    """make_example.py writes the committed CSV and event files byte for byte, and the db."""
    subprocess.run(
        [sys.executable, str(EXAMPLES / "make_example.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )

    for name in ("pam-example.events.jsonl", "usage-example.csv", "usage-small.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name
    for name in ("usage-messy.csv", "usage-utf16.csv", "usage-no-date.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name
    with (
        SqliteStore(tmp_path / "pam-example.db") as made,
        SqliteStore(EXAMPLES / "pam-example.db") as committed,
    ):
        assert list(made.iter_users()) == list(committed.iter_users())
        assert made.find_roles() == committed.find_roles()
        assert made.find_requests() == committed.find_requests()
    for path in EXAMPLES.iterdir():
        assert path.stat().st_size < 100_000, path


# -- properties -------------------------------------------------------------------------------

CELL_CHARACTERS = st.sampled_from([*'ab ,"\r\n\t;\ufeff\x00é', "Yes", "No", "SDK"])
CELLS = st.lists(CELL_CHARACTERS, max_size=6).map("".join)
HEADERS = st.sampled_from(
    [
        "AUTH TYPE,USERNAME,AUTHD,CALL RESULT",
        "DATE/TIME,AUTH TYPE,USERNAME,Name,AUTHD,CALL RESULT",
        "Call Result,authd,UserName,auth type,Extra",
        "USERNAME,AUTHD",
        "",
    ]
)


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    """Text shaped like a usage report, with every kind of damage CSV allows."""
    lines = [draw(HEADERS)]
    for _ in range(draw(st.integers(0, 6))):
        lines.append(",".join(draw(st.lists(CELLS, min_size=0, max_size=7))))
    separator = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    return separator.join(lines) + draw(st.sampled_from(["", separator]))


def read_or_refuse(source: object) -> tuple[list[UsageRecord], tuple[BadRow, ...]] | ReportError:
    """The records and bad rows of *source*, or the ReportError it raised."""
    try:
        report = UsageReport.open(source)  # type: ignore[arg-type]
        return list(report), report.bad_rows
    except ReportError as error:
        return error


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(text=csv_texts(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_any_csv_text_gives_records_and_bad_rows_or_a_report_error(
    text: str, encoding: str
) -> None:
    """Any text, in any supported encoding, reads into records and bad rows, or ReportError."""
    outcome = read_or_refuse(io.BytesIO(text.encode(encoding)))

    if isinstance(outcome, ReportError):
        return
    records, bad_rows = outcome
    lines = [record.line for record in records] + [bad.line for bad in bad_rows]
    assert len(lines) == len(set(lines))
    assert all(record.username == record.username.strip() != "" for record in records)


@settings(max_examples=200)
@given(data=st.binary(max_size=200))
def test_any_bytes_give_records_and_bad_rows_or_a_report_error(data: bytes) -> None:
    """Arbitrary bytes never raise anything but ReportError."""
    read_or_refuse(io.BytesIO(data))
    read_or_refuse(io.BytesIO(codecs.BOM_UTF16_LE + data))
    read_or_refuse(io.BytesIO(b"AUTH TYPE,USERNAME,AUTHD,CALL RESULT\r\n" + data))


def test_undecodable_utf16_is_a_report_error() -> None:
    """Bytes after a UTF-16 BOM that are no UTF-16 raise ReportError, not a codec error."""
    with pytest.raises(ReportError, match="not utf-16 text"):
        UsageReport.open(io.BytesIO(codecs.BOM_UTF16_LE + b"\x00\x00\x80"))


UNQUOTED_CELLS = st.text(
    st.characters(blacklist_characters='"\r\n,\x00', blacklist_categories=("Cs",)), max_size=8
)


@settings(max_examples=100)
@given(rows=st.lists(st.lists(UNQUOTED_CELLS, min_size=3, max_size=3), min_size=1, max_size=5))
def test_unquoted_lines_split_as_the_csv_module_splits_them(rows: list[list[str]]) -> None:
    """Lines without quotes, split by the reader's shortcut, give the csv module's fields."""
    text = "AUTH TYPE,USERNAME,AUTHD,CALL RESULT,E1,E2,E3\r\n" + "".join(
        f"SDK,user{number},Yes,,{','.join(cells)}\r\n" for number, cells in enumerate(rows)
    )
    expected = [row[4:] for row in csv.reader(io.StringIO(text, newline=""))][1:]

    records = records_of(text)

    assert [[value for _, value in record.extras] for record in records] == expected


TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1
)
# Any text but NUL, which Python 3.10's csv module refuses; line breaks make quoted fields.
SPACED_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
).map(str.strip)


@st.composite
def usage_records(draw: st.DrawFn) -> UsageRecord:
    """A record as a report can hold it (values already stripped, time in whole seconds)."""
    known = st.sampled_from(list(CallResult))
    unknown = TEXT.filter(lambda text: CallResult.from_name(text) is None)
    time = draw(
        st.none()
        | st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
            lambda moment: moment.replace(microsecond=0, tzinfo=UTC)
        )
    )
    return UsageRecord(
        auth_type=draw(st.sampled_from(["SDK", "sdk", "RADIUS", "PhoneApp", ""])),
        username=draw(st.uuids().map(str) | TEXT),
        authenticated=draw(st.booleans()),
        call_result=draw(st.none() | known | unknown),
        name=draw(st.none() | TEXT),
        time=time,
        raw_time=None if time is None else time.strftime("%Y-%m-%d %H:%M:%S"),
        extras=(("Device", draw(SPACED_TEXT)),),
    )


def write_report(records: Iterable[UsageRecord], order: list[str]) -> str:
    """*records* as a CSV export with the columns in *order*."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(order)
    for record in records:
        cells = {
            "DATE/TIME": record.raw_time or "",
            "AUTH TYPE": record.auth_type,
            "USERNAME": record.username,
            "Name": record.name or "",
            "AUTHD": "Yes" if record.authenticated else "No",
            "CALL RESULT": record.call_result_name or "",
            "Device": record.extras[0][1],
        }
        writer.writerow([cells[column] for column in order])
    return buffer.getvalue()


COLUMNS = ["DATE/TIME", "AUTH TYPE", "USERNAME", "Name", "AUTHD", "CALL RESULT", "Device"]


@settings(max_examples=100)
@given(records=st.lists(usage_records(), max_size=8), order=st.permutations(COLUMNS))
def test_records_written_as_csv_read_back_equal(
    records: list[UsageRecord], order: list[str]
) -> None:
    """Records written as a CSV export, columns in any order, read back equal (but the line)."""
    text = write_report(records, order)

    read = records_of(text)

    import attrs

    assert [attrs.evolve(record, line=1) for record in read] == records


def brute_force(records: list[UsageRecord]) -> dict[str, object]:
    """The counts a summary must give, counted the obvious way."""
    sdk = [record for record in records if record.auth_type.strip().upper() == "SDK"]
    failed = [record for record in sdk if not record.authenticated]
    return {
        "rows": len(records),
        "sdk_rows": len(sdk),
        "failed": len(failed),
        "by_call_result": Counter(record.call_result_name or NO_CALL_RESULT for record in failed),
        "by_day": Counter(record.time.date() for record in sdk if record.time is not None),
        "users": Counter(str(record.user_id or record.username) for record in failed),
    }


@settings(max_examples=100)
@given(records=st.lists(usage_records(), max_size=30))
def test_summary_counts_equal_a_brute_force_count(records: list[UsageRecord]) -> None:
    """rows, sdk_rows, failed and every breakdown equal an obvious recount; fast path agrees."""
    expected = brute_force(records)

    summary = summarize_usage(records)

    assert (summary.rows, summary.sdk_rows, summary.failed) == (
        expected["rows"],
        expected["sdk_rows"],
        expected["failed"],
    )
    assert dict(summary.by_call_result) == expected["by_call_result"]
    assert {day.day: day.sdk_rows for day in summary.by_day} == expected["by_day"]
    assert {entry.username: entry.failed for entry in summary.by_user} == expected["users"]
    counts = list(summary.by_call_result.values())
    assert counts == sorted(counts, reverse=True)
    fast = summarize_usage(report_of(write_report(records, COLUMNS)))
    assert fast == summary


@settings(max_examples=50)
@given(
    records=st.lists(usage_records(), max_size=20),
    events=st.lists(st.tuples(st.sampled_from([JEN, KEN]), st.integers(0, 3)), max_size=10),
)
def test_cross_check_accounts_for_every_failure_and_event(
    records: list[UsageRecord], events: list[tuple[uuid.UUID, int]]
) -> None:
    """Paired + unpaired failures = failures; paired + unpaired events = events considered."""
    base = dt.datetime(2026, 1, 5, 12, tzinfo=UTC)
    log = [event_101(user, base + dt.timedelta(days=days)) for user, days in events]

    summary = summarize_usage(records, events=log)

    assert summary.matched + sum(gap.count for gap in summary.failures_without_event) == (
        summary.failed
    )
    assert summary.matched + sum(gap.count for gap in summary.events_without_failure) == (
        summary.events
    )
