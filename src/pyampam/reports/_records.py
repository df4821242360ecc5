"""The values a usage report is read into: one record per row, one note per bad row, the error."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from pyampam.exceptions import InvalidValueError, LocatedError
from pyampam.providers import CallResult

__all__ = ["BadRow", "ReportError", "UsageRecord"]


class ReportError(LocatedError):
    """A usage report cannot be read: no such file, not text, a required column missing...

    Also raised at the first malformed row when reading with ``strict=True``. ``path`` and
    ``line`` locate the problem where that is known; ``str()`` starts with ``path:line:`` so
    editors and terminals can jump to it.
    """


def _positive_line(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(
            f"{attribute.name} must be a line number (1 or more), not {value!r}",
            field=attribute.name,
        )


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidValueError(f"{name} must be a str, not {type(value).__name__}", field=name)


def _text(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_text(attribute.name, value)


def _optional_text(
    instance: object, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is not None:
        _check_text(attribute.name, value)


@attrs.frozen
class BadRow:
    """A row of a usage report that was skipped, where it starts and why.

    ``line`` is the physical line of the file the row starts on (the header is line 1; a
    quoted field spanning lines makes a row longer than one line).
    """

    line: int = attrs.field(validator=_positive_line)
    reason: str = attrs.field(validator=_text)

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """``{"line": ..., "reason": ...}``, as the CLI's JSON shows it."""
        return {"line": self.line, "reason": self.reason}


def _authenticated(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise InvalidValueError(
            f"authenticated must be True or False (AUTHD Yes or No), not {value!r}",
            field="authenticated",
        )


def _call_result(
    instance: object, attribute: attrs.Attribute[CallResult | str | None], value: object
) -> None:
    if value is not None and not isinstance(value, (CallResult, str)):
        raise InvalidValueError(
            f"call_result must be a CallResult, a str or None, not {type(value).__name__}",
            field="call_result",
        )


def _time(
    instance: object, attribute: attrs.Attribute[dt.datetime | None], value: dt.datetime | None
) -> None:
    if value is None:
        return
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidValueError(
            f"time must be an aware datetime or None, not {value!r}", field="time"
        )


def _extras(value: object) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, dict) else value
    if isinstance(items, (str, bytes)):
        raise InvalidValueError("extras must be (column, value) pairs, not text", field="extras")
    try:
        pairs = tuple((name, text) for name, text in items)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"extras must be (column, value) pairs of str, not {value!r}", field="extras"
        ) from None
    if not all(isinstance(name, str) and isinstance(text, str) for name, text in pairs):
        raise InvalidValueError(
            f"extras must be (column, value) pairs of str, not {value!r}", field="extras"
        )
    return pairs


@attrs.frozen(kw_only=True)
class UsageRecord:
    """One row of the Azure MFA "User Details" usage report.

    - ``auth_type``: the AUTH TYPE column (``SDK`` for MIM and other on-premises software);
    - ``username``: USERNAME, for MIM the object id (GUID) of the PAM user, as text;
    - ``authenticated``: AUTHD (``Yes`` is True, ``No`` is False);
    - ``call_result``: CALL RESULT, a :class:`~pyampam.providers.CallResult` when the name is
      known, the text as found otherwise, None when the cell is empty;
    - ``name``: the optional Name column (None when absent or empty);
    - ``time``: the date/time column read as an aware datetime in UTC, or None when the export
      has no such column or its text could not be read (``raw_time`` keeps the text);
    - ``extras``: every other column, as ``(header, value)`` pairs in file order;
    - ``line``: the physical line of the file the row starts on (the header is line 1).

    AUTH TYPE, USERNAME, Name, CALL RESULT and the date/time text are stripped of surrounding
    spaces; ``extras`` are kept as found. Records are built by
    :class:`~pyampam.reports.UsageReport`; the constructor, for tests and other sources,
    checks every field.
    """

    auth_type: str = attrs.field(validator=_text)
    username: str = attrs.field(validator=_text)
    authenticated: bool = attrs.field(validator=_authenticated)
    call_result: CallResult | str | None = attrs.field(default=None, validator=_call_result)
    name: str | None = attrs.field(default=None, validator=_optional_text)
    time: dt.datetime | None = attrs.field(default=None, validator=_time)
    raw_time: str | None = attrs.field(default=None, validator=_optional_text)
    extras: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_extras)
    line: int = attrs.field(default=1, validator=_positive_line)

    @property
    def is_sdk(self) -> bool:
        """Whether AUTH TYPE is ``SDK`` (any case): from MIM or other on-premises software."""
        return self.auth_type.strip().upper() == "SDK"

    @property
    def user_id(self) -> uuid.UUID | None:
        """USERNAME as a GUID (the PAM user's object id), or None when it is not one."""
        return parse_guid(self.username)

    @property
    def call_result_name(self) -> str | None:
        """CALL RESULT as text: the member's name for a known result, else the text found."""
        result = self.call_result
        return result.value if isinstance(result, CallResult) else result


def parse_guid(text: str) -> uuid.UUID | None:
    """*text* as a GUID (any case, with or without braces or hyphens), or None."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


# The reader builds records from values it has already checked, by setting the slots directly:
# that costs about half of the validating __init__, and a report can hold millions of rows.
RECORD_SETTERS: tuple[Callable[[UsageRecord, Any], None], ...] = tuple(
    vars(UsageRecord)[field.name].__set__ for field in attrs.fields(UsageRecord)
)
