"""Finding the usage report's columns by their header names, whatever their order and spelling."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from pyampam.reports._records import ReportError

__all__ = ["REQUIRED_COLUMNS", "Layout", "normalize_header"]

#: The columns every usage report must have, as Microsoft documents them.
REQUIRED_COLUMNS = ("AUTH TYPE", "USERNAME", "AUTHD", "CALL RESULT")

_NAME_KEYS = ("name",)
# The export's date format and header are not published: these are the usual spellings, most
# specific first. A column with the date and one with the time of day are read together.
_DATE_TIME_KEYS = (
    "datetime",
    "datetimeutc",
    "dateandtime",
    "timestamp",
    "timestamputc",
    "calldatetime",
    "authdatetime",
    "authenticationdatetime",
    "requestdatetime",
    "eventdatetime",
    "createddatetime",
)
_DATE_KEYS = (
    "date",
    "dateutc",
    "calldate",
    "authdate",
    "authenticationdate",
    "requestdate",
    "eventdate",
    "createddate",
    "created",
)
_TIME_KEYS = (
    "time",
    "timeutc",
    "calltime",
    "authtime",
    "authenticationtime",
    "requesttime",
    "eventtime",
)


def normalize_header(header: str) -> str:
    """The key a header is matched by: its letters and digits, case folded.

    ``DATE/TIME`` and ``Date Time`` both give ``datetime``.
    """
    return "".join(char for char in header.casefold() if char.isalnum())


def _first(keys: Sequence[str], found: dict[str, int]) -> int | None:
    for key in keys:
        if key in found:
            return found[key]
    return None


@attrs.frozen
class Layout:
    """Where each column of a report is: the indexes of its fields in a row."""

    headers: tuple[str, ...]
    auth_type: int
    username: int
    authd: int
    call_result: int
    name: int | None
    date: int | None
    time: int | None  # a separate time-of-day column, read after ``date``
    extras: tuple[int, ...]

    @property
    def width(self) -> int:
        """The number of fields every row must have."""
        return len(self.headers)

    @property
    def time_columns(self) -> tuple[str, ...]:
        """The headers the date/time of a row is read from (none, one or two)."""
        return tuple(self.headers[i] for i in (self.date, self.time) if i is not None)

    @classmethod
    def from_header(cls, row: Sequence[str], *, path: str | None, line: int) -> Layout:
        """The layout of a header row; :class:`ReportError` naming what is missing or doubled."""
        headers = tuple(cell.replace("\ufeff", "").strip() for cell in row)
        found: dict[str, int] = {}
        doubled: list[str] = []
        required_keys = {normalize_header(name): name for name in REQUIRED_COLUMNS}
        for index, header in enumerate(headers):
            key = normalize_header(header)
            if key in found and key in required_keys:
                doubled.append(required_keys[key])
            found.setdefault(key, index)
        shown = ", ".join(repr(header) for header in headers) or "nothing"
        missing = [name for key, name in required_keys.items() if key not in found]
        if missing:
            names = " and ".join(missing) if len(missing) <= 2 else ", ".join(missing)
            columns = "column" if len(missing) == 1 else "columns"
            raise ReportError(
                f"the usage report has no {names} {columns}; its header row has {shown}. Give "
                "the User Details report as exported from the MFA portal (Usage, User "
                "Details, Export to CSV): AUTH TYPE, USERNAME, AUTHD and CALL RESULT are needed",
                path=path,
                line=line,
            )
        if doubled:
            raise ReportError(
                f"the header row names {', '.join(sorted(set(doubled)))} more than once ({shown}); "
                "keep one column of each",
                path=path,
                line=line,
            )
        date = _first(_DATE_TIME_KEYS, found)
        time = None
        if date is None:
            date = _first(_DATE_KEYS, found)
            time = _first(_TIME_KEYS, found)
            if date is None:
                date, time = time, None
        layout = cls(
            headers=headers,
            auth_type=found["authtype"],
            username=found["username"],
            authd=found["authd"],
            call_result=found["callresult"],
            name=_first(_NAME_KEYS, found),
            date=date,
            time=time,
            extras=(),
        )
        known = {
            index
            for index in (
                layout.auth_type,
                layout.username,
                layout.authd,
                layout.call_result,
                layout.name,
                layout.date,
                layout.time,
            )
            if index is not None
        }
        extras = tuple(index for index in range(len(headers)) if index not in known)
        return attrs.evolve(layout, extras=extras)
