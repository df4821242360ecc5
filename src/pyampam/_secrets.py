"""How secrets are shown when they must be shown at all: masked, with no hint of their length."""

from __future__ import annotations

MASK = "********"


def mask(value: str | None) -> str:
    """Return a fixed mask for a set secret, and ``<unset>`` for an empty or missing one."""
    return MASK if value else "<unset>"
