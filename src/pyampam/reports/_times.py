"""Reading the date/time text of a usage report: ISO 8601, US and European dates, month names."""

from __future__ import annotations

import datetime as dt

__all__ = ["TimeParser"]

UTC = dt.timezone.utc

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MERIDIEMS = {"am": 0, "a.m.": 0, "pm": 12, "p.m.": 12}
_UTC_NAMES = frozenset({"z", "utc", "gmt"})
# What may follow the seconds of a time for the minute shortcut to apply.
_AFTER_SECONDS = frozenset(["", " AM", " PM", " am", " pm", "AM", "PM", "am", "pm"])
_SECONDS = tuple(dt.timedelta(seconds=second) for second in range(60))
# The caches of dates and of minutes hold at most this many texts (years of days, days of
# minutes) and are emptied when full: memory stays bounded whatever the file holds, and rows in
# time order keep finding what they need.
_DATE_CACHE_SIZE = 4096


class TimeParser:
    """Turns the text of a date/time cell into an aware datetime in UTC, or None.

    Understood: ISO 8601 (``2016-03-14 18:22:07``, ``2016-03-14T18:22:07Z``, with an offset or
    fractions), numeric dates with ``/``, ``.`` or ``-`` (``3/14/2016 6:22:07 PM``,
    ``14.03.2016 18:22``, ``2016/03/14``, two-digit years as 20xx) and month names
    (``14 Mar 2016 18:22``, ``Mar 14, 2016 6:22 PM``, ``14-Mar-2016``), with an optional ``AM``/
    ``PM`` and an optional ``Z``, ``UTC`` or ``GMT``. A numeric date whose first number is a
    day or month is read month first (the portal's US English) unless ``dayfirst`` or the
    first number is over 12. Times without a zone are read in ``timezone``. Text it cannot
    read gives None: never an exception.
    """

    __slots__ = ("_dates", "_dayfirst", "_minutes", "_utc", "_zone")

    def __init__(self, *, timezone: dt.tzinfo = UTC, dayfirst: bool = False) -> None:
        self._zone = timezone
        self._utc = timezone is UTC
        self._dayfirst = dayfirst
        self._dates: dict[str, str | None] = {}
        self._minutes: dict[str, dt.datetime | None] = {}

    @property
    def naive_is_utc(self) -> bool:
        """Whether times without a zone are read in UTC."""
        return self._utc

    def __call__(self, text: str) -> dt.datetime | None:
        """*text* as an aware datetime in UTC, or None when it is not a date and time."""
        try:
            if len(text) >= 10 and text[4] == "-" and text[7] == "-":
                if self._utc or text[-1] == "Z":
                    # Much cheaper than parsing and then replace(tzinfo=...): one C call.
                    try:
                        value = _fromisoformat((text[:-1] if text[-1] == "Z" else text) + "+00:00")
                        # Python 3.11 reads "2026-01-05+00:00" as a naive midnight.
                        if value.tzinfo is not None:
                            return value
                    except ValueError:
                        pass  # it has an offset of its own, or is not ISO 8601
                try:
                    return self._aware(_from_iso(text.strip()))
                except ValueError:  # "2016-03-14 6:22 PM" is no ISO 8601, but readable
                    pass
            head, colon, tail = text.rpartition(":")
            if colon and head[-3:-2] == ":" and tail[:2].isdigit() and tail[2:] in _AFTER_SECONDS:
                # "1/5/2026 9:00:03 AM": rows a few seconds apart share the minute, so the
                # minute ("1/5/2026 9:00 AM") is read once and the seconds are added to it.
                second = int(tail[:2])
                minute = self._minute(head + tail[2:]) if second < 60 else None
                if minute is not None:
                    return minute + _SECONDS[second]
            return self._other(text)
        except (ValueError, OverflowError):  # 31 February, year 0, beyond year 9999...
            return None

    def _minute(self, text: str) -> dt.datetime | None:
        minutes = self._minutes
        if text in minutes:
            return minutes[text]
        value = self._other(text)
        if len(minutes) >= _DATE_CACHE_SIZE:
            minutes.clear()
        minutes[text] = value
        return value

    def _aware(self, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=self._zone)
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    def _other(self, text: str) -> dt.datetime | None:
        parts = text.replace(",", " ").split() if "," in text else text.split()
        if not parts:
            return None
        if 2 <= len(parts) <= 3:
            # The usual shape, "3/14/2016 6:22:07 PM" or "14.03.2016 18:22", read without
            # the general loop: a report holds one such text per row.
            try:
                quick = self._date_and_clock(parts)
            except ValueError:  # e.g. "13.5" seconds, which Python 3.10's ISO reader refuses
                quick = None
            if quick is not None:
                return quick
        iso_date = self._date(parts[0])
        rest = 1
        if iso_date is None and len(parts) >= 3:
            iso_date = self._date(" ".join(parts[:3]))
            rest = 3
        if iso_date is None:
            return None
        clock = _clock(parts[rest:])
        if clock is None:
            return None
        hour, minute, second, micro, utc = clock
        day = dt.date.fromisoformat(iso_date)
        value = dt.datetime(day.year, day.month, day.day, hour, minute, second, micro)
        return value.replace(tzinfo=UTC) if utc else self._aware(value)

    def _date_and_clock(self, parts: list[str]) -> dt.datetime | None:
        iso_date = self._date(parts[0])
        if iso_date is None:
            return None
        pieces = parts[1].split(":")
        hour = pieces[0]
        if not (2 <= len(pieces) <= 3 and 0 < len(hour) <= 2 and hour.isdigit()):
            return None
        if len(parts) == 3:
            meridiem = _MERIDIEMS.get(parts[2].lower())
            number = int(hour)
            if meridiem is None or not 1 <= number <= 12:
                return None
            hour = str(number % 12 + meridiem)
        # Written out as ISO 8601, the text is checked and read by one C call.
        clock = ":".join(pieces[1:])
        if self._utc:
            return _fromisoformat(f"{iso_date}T{hour:0>2}:{clock}+00:00")
        return self._aware(_fromisoformat(f"{iso_date}T{hour:0>2}:{clock}"))

    def _date(self, text: str) -> str | None:
        """The date *text* in ISO 8601 (``2016-03-14``), or None when it is no date."""
        dates = self._dates
        if text in dates:
            return dates[text]
        day = _read_date(text, dayfirst=self._dayfirst)
        iso_date = None if day is None else day.isoformat()
        if len(dates) >= _DATE_CACHE_SIZE:
            dates.clear()
        dates[text] = iso_date
        return iso_date


_fromisoformat = dt.datetime.fromisoformat


def _from_iso(text: str) -> dt.datetime:
    # Python 3.10's fromisoformat reads only what isoformat() writes: no Z, no basic format.
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    return dt.datetime.fromisoformat(text)


def _year(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()):
        return None
    if len(text) == 4:
        return int(text)
    if len(text) == 2:
        return 2000 + int(text)
    return None


def _number(text: str, most: int) -> int | None:
    if text.isascii() and text.isdigit() and 1 <= len(text) <= 2:
        value = int(text)
        return value if 1 <= value <= most else None
    return None


def _read_date(text: str, *, dayfirst: bool) -> dt.date | None:
    """A date written with separators (``3/14/2016``, ``2016-03-14``, ``14-Mar-2016``)."""
    for separator in ("/", ".", "-", " "):
        if separator in text:
            fields = [field for field in text.split(separator) if field]
            break
    else:
        return None
    if len(fields) != 3:
        return None
    first, second, third = (field.casefold().rstrip(".") for field in fields)
    year: int | None
    month: int | None
    day: int | None
    try:
        if first in _MONTHS:  # Mar 14 2016
            month, day, year = _MONTHS[first], _number(second, 31), _year(third)
        elif second in _MONTHS:  # 14 Mar 2016, 14-Mar-2016
            day, month, year = _number(first, 31), _MONTHS[second], _year(third)
        elif len(first) == 4:  # 2016/03/14
            year, month, day = _year(first), _number(second, 12), _number(third, 31)
        else:
            year = _year(third)
            a, b = _number(first, 31), _number(second, 31)
            if a is None or b is None:
                return None
            month, day = (b, a) if dayfirst or a > 12 else (a, b)
        if year is None or month is None or day is None:
            return None
        return dt.date(year, month, day)
    except ValueError:  # 31 February and the like
        return None


def _clock(parts: list[str]) -> tuple[int, int, int, int, bool] | None:
    """Hour, minute, second, microsecond and "in UTC" from the words after the date."""
    hour = minute = second = micro = 0
    meridiem: int | None = None
    utc = False
    seen_clock = False
    for part in parts:
        word = part.lower()
        if word in _UTC_NAMES:
            utc = True
            continue
        if word in _MERIDIEMS:
            meridiem = _MERIDIEMS[word]
            continue
        if word[-2:] in ("am", "pm") and ":" in word:  # 6:22:07PM
            meridiem, word = _MERIDIEMS[word[-2:]], word[:-2]
        pieces = word.split(":")
        if seen_clock or not 2 <= len(pieces) <= 3:
            return None  # a second time of day, or a word that is none
        whole, _, fraction = (pieces[2] if len(pieces) == 3 else "0").partition(".")
        if not (
            len(pieces[0]) <= 2
            and len(pieces[1]) == 2
            and len(whole) <= 2
            and (pieces[0] + pieces[1] + whole + fraction).isdigit()
            and word.isascii()
        ):
            return None
        hour, minute, second = int(pieces[0]), int(pieces[1]), int(whole)
        micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
        seen_clock = True
    if meridiem is not None and seen_clock and 1 <= hour <= 12:
        hour = hour % 12 + meridiem
    elif meridiem is not None:
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour, minute, second, micro, utc
