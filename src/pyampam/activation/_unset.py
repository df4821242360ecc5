"""The marker for "argument not given", so that ``None`` can mean "clear this field"."""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["UNSET", "Unset"]


class Unset(enum.Enum):
    """The type of :data:`UNSET`: one member, so type checkers narrow ``x is UNSET``."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        # `if phone:` on a marker is a bug waiting to happen; make it read as "nothing".
        return False


#: The default of ``set_user`` and ``set_role`` arguments: leave the field as it is.
UNSET: Final = Unset.UNSET
