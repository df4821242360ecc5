"""Checks of the arguments every store takes, so that all stores refuse the same mistakes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from pyampam._model import RequestStatus
from pyampam.exceptions import InvalidValueError

__all__ = ["check_instant", "check_limit", "check_statuses"]


def check_instant(value: object, field: str) -> dt.datetime:
    """``value`` if it is an aware datetime; else an error naming ``field``."""
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidValueError(
            f"{field} must be an aware datetime, e.g. datetime.now(timezone.utc), not {value!r}",
            field=field,
        )
    return value


def check_limit(limit: object) -> int | None:
    """``limit`` if it is None or a whole number of 0 or more; else an error."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidValueError(
            f"limit must be a whole number, 0 or more, or None, not {limit!r}", field="limit"
        )
    return limit


def check_statuses(statuses: Collection[object] | None) -> frozenset[RequestStatus] | None:
    """The statuses as a set, refusing strings such as "Active" that would silently match none."""
    if statuses is None:
        return None
    wrong = [status for status in statuses if not isinstance(status, RequestStatus)]
    if wrong:
        raise InvalidValueError(
            "statuses must hold RequestStatus values such as RequestStatus.ACTIVE, "
            f"not {wrong[0]!r}",
            field="statuses",
        )
    return frozenset(statuses)  # type: ignore[arg-type]  # checked just above
