"""Streaming the Azure MFA "User Details" CSV export into usage records, one row at a time."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
from collections.abc import Callable, Iterator
from operator import itemgetter
from types import TracebackType
from typing import IO, Any, Union

from pyampam.providers import CallResult
from pyampam.reports._columns import Layout
from pyampam.reports._records import RECORD_SETTERS, BadRow, ReportError, UsageRecord
from pyampam.reports._times import TimeParser

__all__ = ["DEFAULT_MAX_BAD_ROWS", "LeanRow", "UsageReport", "UsageSource", "read_usage_report"]

UTC = dt.timezone.utc

#: What a report can be read from: a path, or an open file in binary or text mode.
UsageSource = Union[str, "os.PathLike[str]", IO[bytes], IO[str]]

#: What a summary needs of a row: AUTH TYPE, USERNAME, AUTHD, CALL RESULT, the time and Name.
LeanRow = tuple[str, str, bool, CallResult | str | None, dt.datetime | None, str | None]

# What the surrogateescape error handler turns undecodable bytes into.
_UNDECODED = re.compile("[\udc80-\udcff]")
_ENCODING_ADVICE = (
    "export the report again as UTF-8, or give its encoding (e.g. cp1252 for a file a "
    "spreadsheet saved on Windows)"
)

#: How many bad rows a report keeps for :attr:`UsageReport.bad_rows`; the rest are counted.
DEFAULT_MAX_BAD_ROWS = 1000

_AUTHD = {"Yes": True, "No": False, "yes": True, "no": False, "YES": True, "NO": False}
# Caches of the values seen in a column hold at most this many entries: the columns they serve
# (AUTH TYPE, CALL RESULT) have a handful of values, and memory must not grow with the file.
_CACHE_SIZE = 256
_MISSING: Any = object()
# Spreadsheets save CSV as UTF-16 with a BOM ("Unicode text") or UTF-8 with one; both are
# recognised from their first bytes. Without a BOM, NUL bytes among ASCII give UTF-16 away.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _sniff(prefix: bytes) -> str:
    for bom, encoding in _BOMS:
        if prefix.startswith(bom):
            return encoding
    if len(prefix) >= 2:
        if prefix[0] and not prefix[1]:
            return "utf-16-le"
        if prefix[1] and not prefix[0]:
            return "utf-16-be"
    return "utf-8"


class _Prefixed(io.RawIOBase):
    """A binary stream that gives back the bytes already read from another, then the rest.

    Lets the BOM be sniffed from a stream that cannot seek, without closing the caller's file.
    """

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            count = min(len(view), len(self._prefix))
            view[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        # A non-blocking stream may answer None; a report is read to its end, so None is none.
        data = self._rest.read(len(view)) or b""
        view[: len(data)] = data
        return len(data)


def _shown_path(source: object) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


def _os_reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


class UsageReport:
    """An Azure MFA usage report ("User Details" CSV export), read one row at a time.

    Open one with :meth:`open` (or :func:`read_usage_report`); it is an iterator of
    :class:`UsageRecord` values, read once, like a file; then :attr:`bad_rows` lists the rows
    that were skipped and why. Memory stays the same whatever the size of the file: nothing
    but the current row is held (and at most ``max_bad_rows`` bad-row notes). A context
    manager; the file is closed when the rows run out, by :meth:`close`, or when the report is
    discarded.

    :func:`~pyampam.reports.summarize_usage` given a report that has not been iterated yet
    reads its rows without building a :class:`UsageRecord` for each: the same summary, faster.

    ::

        with UsageReport.open("usage.csv") as report:
            for record in report:
                ...
        for bad in report.bad_rows:
            print(bad.line, bad.reason)
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        encoding: str | None,
        path: str | None,
        owned: IO[Any] | None,
        strict: bool,
        on_bad_row: Callable[[BadRow], object] | None,
        timezone: dt.tzinfo,
        dayfirst: bool,
        max_bad_rows: int,
    ) -> None:
        """Use :meth:`open`; this constructor is not part of the API."""
        self._owned = owned
        self._closed = False
        self._stream = stream
        self._encoding = encoding
        self._path = path
        self._strict = strict
        self._on_bad_row = on_bad_row
        self._parse_time = TimeParser(timezone=timezone, dayfirst=dayfirst)
        self._max_bad_rows = max_bad_rows
        self._bad_rows: list[BadRow] = []
        self._bad_row_count = 0
        self._line = 0
        self._started = False
        self._records: Iterator[UsageRecord] | None = None
        self._lines: Iterator[str] = iter(stream)
        self._layout: Layout = self._read_header()

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        source: UsageSource,
        *,
        strict: bool = False,
        on_bad_row: Callable[[BadRow], object] | None = None,
        encoding: str | None = None,
        timezone: dt.tzinfo = UTC,
        dayfirst: bool = False,
        max_bad_rows: int = DEFAULT_MAX_BAD_ROWS,
    ) -> UsageReport:
        """Open a usage report and read its header row.

        ``source`` is a path, or a file open in binary mode (the encoding is then found from
        its first bytes: UTF-8 with or without a BOM, UTF-16 with a BOM) or in text mode (open
        it with ``newline=""``, as for :mod:`csv`). ``encoding`` overrides the guess, e.g.
        ``"cp1252"`` for a file a spreadsheet saved in the Windows code page.

        A malformed row (a wrong number of fields, an empty USERNAME, AUTHD other than Yes or
        No) is skipped: it is added to :attr:`bad_rows` (the first ``max_bad_rows`` of them)
        and given to ``on_bad_row``; with ``strict=True`` the first one raises
        :class:`ReportError` instead. Date/time text that cannot be read is not a bad row: the
        record keeps it in ``raw_time`` with ``time`` None. Times without a zone are read in
        ``timezone`` (UTC unless told), and every time is given in UTC.

        The date/time column is the first of ``DATE/TIME``, ``DATETIME``, ``TIMESTAMP``,
        ``CALL DATE``, ``DATE`` (with a ``TIME`` column, if there is one) and the like. Its
        text may be ISO 8601 (``2026-01-05 08:02:13``, ``2026-01-05T08:02:13Z``, with an
        offset or fractions), a numeric date (``1/5/2026 8:02:13 PM``, ``05.01.2026 20:02``,
        ``2026/01/05``; read month first, the portal's US English, unless ``dayfirst`` or the
        first number is over 12) or a date with a month name (``Jan 5, 2026 8:02 PM``,
        ``05-Jan-2026 20:02``), with an optional ``AM``/``PM`` and ``Z``/``UTC``/``GMT``.

        Raises :class:`ReportError` when the file cannot be opened or read, is not text in the
        encoding, or its header lacks one of AUTH TYPE, USERNAME, AUTHD, CALL RESULT.
        """
        if isinstance(max_bad_rows, bool) or not isinstance(max_bad_rows, int) or max_bad_rows < 0:
            raise ReportError(
                f"max_bad_rows must be a whole number, 0 or more, not {max_bad_rows!r}"
            )
        path = _shown_path(source)
        options: dict[str, Any] = {
            "strict": strict,
            "on_bad_row": on_bad_row,
            "timezone": timezone,
            "dayfirst": dayfirst,
            "max_bad_rows": max_bad_rows,
        }
        if isinstance(source, (str, os.PathLike)):
            return cls._open_path(source, encoding=encoding, path=path, options=options)
        if not callable(getattr(source, "read", None)):
            raise ReportError(
                f"cannot read a usage report from a {type(source).__name__}; give a path or "
                "an open file"
            )
        try:
            sample = source.read(0)
            chosen: str | None = None
            if isinstance(sample, str):
                stream: IO[str] = source  # type: ignore[assignment]
            else:
                binary: IO[bytes] = source  # type: ignore[assignment]
                prefix = binary.read(4)
                chosen = encoding or _sniff(prefix)
                raw = io.BufferedReader(_Prefixed(prefix, binary))
                stream = _text(raw, chosen, path)
        except OSError as error:
            raise ReportError(
                f"cannot read the usage report: {_os_reason(error)}", path=path
            ) from error
        return cls(stream, encoding=chosen, path=path, owned=None, **options)

    @classmethod
    def _open_path(
        cls,
        source: str | os.PathLike[str],
        *,
        encoding: str | None,
        path: str | None,
        options: dict[str, Any],
    ) -> UsageReport:
        try:
            binary = open(source, "rb")  # noqa: SIM115 -- the report closes it when read
        except OSError as error:
            raise ReportError(
                f"cannot open the usage report: {_os_reason(error)}; check the path", path=path
            ) from error
        try:
            chosen = encoding or _sniff(binary.read(4))
            binary.seek(0)
            stream = _text(binary, chosen, path)
            return cls(stream, encoding=chosen, path=path, owned=stream, **options)
        except BaseException:
            binary.close()
            raise

    # -- the header ---------------------------------------------------------------------------

    def _read_header(self) -> Layout:
        reader = csv.reader(self._counted_lines())
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    return Layout.from_header(row, path=self._path, line=self._line)
        except csv.Error as error:
            raise ReportError(
                f"the header row cannot be read as CSV: {error}", path=self._path, line=self._line
            ) from error
        raise ReportError(
            "the usage report is empty: there is no header row; export the User Details "
            "report again",
            path=self._path,
        )

    def _counted_lines(self) -> Iterator[str]:
        for text in self._read_lines():
            self._line += 1
            if not text.isascii() and _UNDECODED.search(text):
                raise self._undecodable(text, self._line)
            yield text

    def _read_lines(self) -> Iterator[str]:
        try:
            # Not `yield from`: closing this generator would close the file it delegates to.
            for text in self._lines:  # noqa: UP028 -- see above
                yield text
        except UnicodeDecodeError as error:
            raise self._decode_error(error) from error
        except OSError as error:
            raise ReportError(
                f"cannot read the usage report: {_os_reason(error)}", path=self._path
            ) from error

    def _decode_error(self, error: UnicodeDecodeError) -> ReportError:
        # Only a text stream given by the caller decodes strictly; our own streams escape.
        near = error.object[max(0, error.start - 16) : error.end + 16]
        return ReportError(
            f"the usage report is not {error.encoding} text: bytes {near!r} after line "
            f"{self._line} cannot be decoded; {_ENCODING_ADVICE}",
            path=self._path,
            line=self._line + 1,
        )

    def _undecodable(self, text: str, line: int) -> ReportError:
        found = _UNDECODED.search(text)
        position = found.start() if found else 0
        snippet = text[max(0, position - 12) : position + 12]
        try:  # the bytes as they are in the file
            near = snippet.encode(self._encoding or "utf-8", "surrogateescape")
        except UnicodeError:  # codecs such as UTF-16 cannot give them back
            near = snippet.encode("utf-8", "backslashreplace")
        return ReportError(
            f"the usage report is not {self._encoding or 'readable'} text: {near!r} cannot be "
            f"decoded; {_ENCODING_ADVICE}",
            path=self._path,
            line=line,
        )

    # -- what was read -----------------------------------------------------------------------

    @property
    def path(self) -> str | None:
        """The file's path (or the open file's name), for messages; None when unknown."""
        return self._path

    @property
    def columns(self) -> tuple[str, ...]:
        """The header row, as found (stripped)."""
        return self._layout.headers

    @property
    def time_columns(self) -> tuple[str, ...]:
        """The headers the date/time of a row is read from: none, one, or a date and a time."""
        return self._layout.time_columns

    @property
    def bad_rows(self) -> tuple[BadRow, ...]:
        """The rows skipped so far, in file order (the first ``max_bad_rows`` of them)."""
        return tuple(self._bad_rows)

    @property
    def bad_row_count(self) -> int:
        """How many rows were skipped so far, including those beyond ``max_bad_rows``."""
        return self._bad_row_count

    def __repr__(self) -> str:
        where = "" if self._path is None else f"{self._path!r}, "
        return f"<UsageReport {where}columns={len(self.columns)} bad_rows={self._bad_row_count}>"

    # -- reading -----------------------------------------------------------------------------

    def _bad(self, line: int, reason: str) -> None:
        bad = BadRow(line, reason)
        if self._strict:
            raise ReportError(reason, path=self._path, line=line)
        self._bad_row_count += 1
        if len(self._bad_rows) < self._max_bad_rows:
            self._bad_rows.append(bad)
        if self._on_bad_row is not None:
            self._on_bad_row(bad)

    def __iter__(self) -> Iterator[UsageRecord]:
        """The records of the rows not read yet, in file order."""
        if self._records is None:
            # Read by summarize_usage already: nothing is left, as with a file read to its end.
            self._records = iter(()) if self._started else self._scan(records=True)
            self._started = True
        return self._records

    def __next__(self) -> UsageRecord:
        """The record of the next row; StopIteration after the last."""
        return next(iter(self))

    def _lean_rows(self) -> Iterator[LeanRow] | None:
        """The rows as :data:`LeanRow` tuples, for a summary; None once iteration has begun.

        Building no record for a row is what makes summarize_usage() of a report fast.
        """
        if self._started:
            return None
        self._started = True
        return self._scan(records=False)

    def _scan(self, *, records: bool) -> Iterator[Any]:  # noqa: PLR0912, PLR0915 -- the hot loop, in one piece for speed
        """The records of the rows (or, without *records*, their :data:`LeanRow` tuples)."""
        layout = self._layout
        width = layout.width
        i_auth, i_user, i_authd, i_result = (
            layout.auth_type,
            layout.username,
            layout.authd,
            layout.call_result,
        )
        i_name, i_date, i_time = layout.name, layout.date, layout.time
        extra_names = tuple(layout.headers[i] for i in layout.extras)
        extra_count = len(extra_names)
        only_extra = layout.extras[0] if extra_count == 1 else 0
        only_extra_name = extra_names[0] if extra_count == 1 else ""
        pick_extras = itemgetter(*layout.extras) if extra_count > 1 else None
        parse_time = self._parse_time
        # Most exports hold ISO 8601 times without a zone: read in UTC, one C call reads them.
        # Another format fails that call on every row, so the shortcut is dropped once it
        # fails more often than it works.
        iso_in_utc = parse_time.naive_is_utc
        iso_misses = iso_hits = 0
        fromisoformat = dt.datetime.fromisoformat
        missing = _MISSING
        bad = self._bad
        authd_values = _AUTHD
        auth_types: dict[str, str] = {}
        results: dict[str, CallResult | str | None] = {}
        lines = self._lines
        line = self._line

        # Rows without a quote are split on commas, about twice as fast as the csv module and
        # the same result for such lines; a line with a quote goes to a csv reader that pulls
        # any further lines of a quoted field from the same iterator.
        held: list[str] = []

        def feed() -> Iterator[str]:
            while True:
                if held:
                    yield held.pop()
                else:
                    try:
                        yield next(lines)
                    except StopIteration:
                        return

        quoted = csv.reader(feed())
        # The records' slots are set directly: the values are checked here already, and the
        # validating __init__ would cost as much again as everything else done for a row.
        new = object.__new__
        record_class = UsageRecord
        (
            set_auth_type,
            set_username,
            set_authenticated,
            set_call_result,
            set_name,
            set_time,
            set_raw_time,
            set_extras,
            set_line,
        ) = RECORD_SETTERS
        try:
            for text in lines:
                line += 1
                start = line
                if '"' in text:
                    held.append(text)
                    before = quoted.line_num
                    try:
                        row = next(quoted)
                    except csv.Error as error:
                        line += quoted.line_num - before - 1
                        bad(start, f"cannot be read as CSV: {error}")
                        continue
                    finally:
                        held.clear()
                    line += quoted.line_num - before - 1
                    for cell in row:
                        if not cell.isascii() and _UNDECODED.search(cell):
                            raise self._undecodable(cell, start)
                else:
                    if not text.isascii() and _UNDECODED.search(text):
                        raise self._undecodable(text, start)
                    row = text.rstrip("\r\n").split(",")
                if len(row) != width:
                    if not any(cell.strip() for cell in row):
                        continue  # a blank line, or a row of empty cells as spreadsheets leave
                    spans = f" (lines {start}-{line}: an unclosed quote?)" if line > start else ""
                    bad(start, f"expected {width} fields as in the header, found {len(row)}{spans}")
                    continue
                username = row[i_user].strip()
                if not username:
                    if not any(cell.strip() for cell in row):
                        continue
                    bad(start, "USERNAME is empty")
                    continue
                authd = row[i_authd]
                authenticated = authd_values.get(authd)
                if authenticated is None:
                    authenticated = authd_values.get(authd.strip().lower())
                    if authenticated is None:
                        bad(start, f"AUTHD is {authd.strip()!r}, not Yes or No")
                        continue
                raw = row[i_result]
                result = results.get(raw, missing)
                if result is missing:
                    result = _call_result(raw)
                    if len(results) < _CACHE_SIZE:
                        results[raw] = result
                raw = row[i_auth]
                auth_type = auth_types.get(raw)
                if auth_type is None:
                    auth_type = raw.strip()
                    if len(auth_types) < _CACHE_SIZE:
                        auth_types[raw] = auth_type
                raw_time: str | None = None
                time: dt.datetime | None = None
                if i_date is not None:
                    raw_time = row[i_date].strip()
                    if i_time is not None:
                        raw_time = f"{raw_time} {row[i_time].strip()}".strip()
                    if not raw_time:
                        raw_time = None
                    elif iso_in_utc:
                        try:
                            time = fromisoformat(raw_time + "+00:00")
                            iso_hits += 1
                            if time.tzinfo is None:  # Python 3.11 drops the offset of a date
                                time = parse_time(raw_time)
                        except ValueError:
                            time = parse_time(raw_time)
                            iso_misses += 1
                            iso_in_utc = iso_misses <= 8 or iso_hits > iso_misses
                    else:
                        time = parse_time(raw_time)
                if not records:
                    # The summary strips the Name of the few rows it keeps it for.
                    yield (
                        auth_type,
                        username,
                        authenticated,
                        result,
                        time,
                        None if i_name is None else row[i_name],
                    )
                    continue
                name: str | None = None
                if i_name is not None:
                    name = row[i_name].strip() or None
                extras: tuple[tuple[str, str], ...] = ()
                if extra_count == 1:
                    extras = ((only_extra_name, row[only_extra]),)
                elif pick_extras is not None:
                    extras = tuple(zip(extra_names, pick_extras(row), strict=True))
                record = new(record_class)
                set_auth_type(record, auth_type)
                set_username(record, username)
                set_authenticated(record, authenticated)
                set_call_result(record, result)
                set_name(record, name)
                set_time(record, time)
                set_raw_time(record, raw_time)
                set_extras(record, extras)
                set_line(record, start)
                yield record
        except UnicodeDecodeError as error:
            self._line = line
            raise self._decode_error(error) from error
        except OSError as error:
            raise ReportError(
                f"cannot read the usage report: {_os_reason(error)}",
                path=self._path,
                line=line + 1,
            ) from error
        finally:
            self._line = line
            self.close()

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file if the report opened it (a file given open is left open)."""
        if self._closed:
            return
        self._closed = True
        if self._owned is not None:
            self._owned.close()

    def __del__(self) -> None:
        # A report dropped before it was read to the end still closes the file it opened.
        self.close()

    def __enter__(self) -> UsageReport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _call_result(raw: str) -> CallResult | str | None:
    text = raw.strip()
    if not text:
        return None
    known = CallResult.from_name(text)
    return text if known is None else known


def _text(binary: IO[bytes], encoding: str, path: str | None) -> IO[str]:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ReportError(
            f"unknown encoding {encoding!r}; give one Python knows, e.g. utf-8 or cp1252",
            path=path,
        ) from None
    # newline="" as the csv module asks: line ends inside quoted fields are kept as written.
    # Undecodable bytes are escaped rather than raised: the reader finds them line by line,
    # so the error names the line they are on, not the block of the file being decoded.
    return io.TextIOWrapper(binary, encoding=encoding, errors="surrogateescape", newline="")


def read_usage_report(
    source: UsageSource,
    *,
    strict: bool = False,
    on_bad_row: Callable[[BadRow], object] | None = None,
    encoding: str | None = None,
    timezone: dt.tzinfo = UTC,
    dayfirst: bool = False,
) -> UsageReport:
    """The records of a usage report, one at a time: ``UsageReport.open(source, ...)``.

    Options are those of :meth:`UsageReport.open`. Bad rows are skipped and collected in the
    report's :attr:`~UsageReport.bad_rows`; give ``on_bad_row`` to hear of each as it comes,
    or ``strict=True`` to stop at the first with :class:`ReportError`. The file is opened and
    its header read at once, so a missing file or column raises here; it is closed when the
    records run out (or the iterator is discarded).
    """
    return UsageReport.open(
        source,
        strict=strict,
        on_bad_row=on_bad_row,
        encoding=encoding,
        timezone=timezone,
        dayfirst=dayfirst,
    )
