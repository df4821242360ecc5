"""Readers for the CLI's argument values (durations, times, outcomes), each failing in one line."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyampam.providers import AuthMode, CallResult

__all__ = [
    "auth_mode",
    "call_result",
    "duration",
    "event_id",
    "moment",
    "path_argument",
    "positive_seconds",
    "since",
    "time_of_day",
]

UTC = dt.timezone.utc

_DURATION = re.compile(r"(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?")
_UNIT_SECONDS = (86400, 3600, 60, 1)
# No role may last longer than the configured maximum (8 hours by default); a duration of
# more than a year is a slip of the keyboard, and far larger ones would overflow datetimes.
_MAX_DURATION = dt.timedelta(days=366)
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_MAX_EVENT_ID = 0xFFFF
# Later than this, adding a TTL to a start time could leave the calendar.
_LAST_YEAR = 9000
_EXAMPLE_OUTCOMES = (
    "SUCCESS_NO_PIN",
    "SUCCESS_NO_PIN_BUT_TIMEOUT",
    "FAILED_USER_HUNGUP_ON_US",
    "CONFIG_ISSUE",
)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def path_argument(text: str) -> str:
    """A file or folder path: not empty and without NUL characters."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty; give a file name")
    if "\0" in text:
        raise argparse.ArgumentTypeError("the path contains a NUL character; give a real path")
    return text


def duration(text: str) -> dt.timedelta:
    """A positive duration: seconds (``3600``) or units (``1h``, ``30m``, ``1h30m``, ``2d``)."""
    cleaned = text.strip().casefold()
    seconds: int | None = None
    if cleaned.isascii() and cleaned.isdigit():
        # Anything longer is far past the limit below; int() of it would only cost time.
        seconds = int(cleaned) if len(cleaned) <= 12 else 10**12
    else:
        match = _DURATION.fullmatch(cleaned) if cleaned.isascii() else None
        if match and any(match.groups()):
            seconds = sum(
                int(part) * unit
                for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True)
                if part is not None
            )
    if seconds is None:
        raise argparse.ArgumentTypeError(
            f"invalid duration {_shown(text)}: give seconds (3600) or units such as 1h, 30m, "
            "1h30m, 90s"
        )
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {_shown(text)}: it must be positive")
    value = dt.timedelta(seconds=min(seconds, int(_MAX_DURATION.total_seconds()) + 1))
    if value > _MAX_DURATION:
        raise argparse.ArgumentTypeError(
            f"invalid duration {_shown(text)}: give at most {_MAX_DURATION.days} days"
        )
    return value


def format_duration(value: dt.timedelta) -> str:
    """A duration as the CLI reads it back: ``1h``, ``30m``, ``1h30m``, ``2d3h``, ``45s``."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in zip("dhms", _UNIT_SECONDS, strict=True):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def time_of_day(text: str) -> dt.time:
    """A time of day, ``HH:MM`` or ``HH:MM:SS`` (24-hour clock, read in UTC)."""
    match = _TIME_OF_DAY.fullmatch(text.strip()) if text.isascii() else None
    if match:
        hour, minute, second = (int(part) if part else 0 for part in match.groups())
        if hour <= 23 and minute <= 59 and second <= 59:
            return dt.time(hour, minute, second)
    raise argparse.ArgumentTypeError(
        f"invalid time of day {_shown(text)}: give HH:MM on a 24-hour clock, 00:00 to 23:59, "
        "e.g. 08:00"
    )


def moment(text: str) -> dt.datetime:
    """An ISO-8601 date or date and time; without an offset it is read as UTC."""
    cleaned = text.strip()
    if cleaned[-1:] in ("Z", "z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(cleaned) if cleaned.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(
            f"invalid date and time {_shown(text)}: give ISO 8601, e.g. 2024-05-01T14:30:00Z "
            "or 2024-05-01T16:30+02:00 (a time without an offset is UTC)"
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1 < value.year < _LAST_YEAR:
        raise argparse.ArgumentTypeError(
            f"invalid date and time {_shown(text)}: the year must lie between 2 and "
            f"{_LAST_YEAR - 1}"
        )
    return value.astimezone(UTC)


def since(text: str) -> dt.datetime:
    """A moment: ISO 8601 (see :func:`moment`), or a duration ago such as ``2h`` or ``1d``."""
    try:
        ago = duration(text)
    except argparse.ArgumentTypeError:
        try:
            return moment(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"invalid time {_shown(text)}: give ISO 8601 (2024-05-01T14:30:00Z) or a "
                "duration ago (2h, 30m, 1d)"
            ) from None
    return dt.datetime.now(UTC) - ago


def positive_seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid number of seconds {_shown(text)}: give a positive number, e.g. 60"
        )
    return value


def event_id(text: str) -> int:
    """An event id: a whole number from 0 to 65535 (101, 103, 825, 60100...)."""
    cleaned = text.strip()
    if cleaned.isascii() and cleaned.isdigit() and int(cleaned) <= _MAX_EVENT_ID:
        return int(cleaned)
    raise argparse.ArgumentTypeError(
        f"invalid event id {_shown(text)}: give a whole number from 0 to {_MAX_EVENT_ID}, "
        "e.g. 101, 103 or 825"
    )


def call_result(text: str) -> CallResult:
    """A usage-report call result by name, in any case (``success_no_pin``)."""
    from pyampam.providers import CallResult

    found = CallResult.from_name(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"invalid MFA outcome {_shown(text)}: give a call result of the Azure MFA usage "
            f"report, such as {', '.join(_EXAMPLE_OUTCOMES)}"
        )
    return found


def auth_mode(text: str) -> AuthMode:
    """An MFA mode by its SDK name (``standard``, ``pin``, ``sms_two_way_otp``...)."""
    from pyampam.providers import AuthMode

    wanted = text.strip().casefold().replace("-", "_")
    for mode in AuthMode:
        if mode.value == wanted:
            return mode
    names = ", ".join(mode.value for mode in AuthMode)
    raise argparse.ArgumentTypeError(f"invalid MFA mode {_shown(text)}: choose from {names}")
