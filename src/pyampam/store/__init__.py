"""Stores for PAM users, roles and requests: the protocol, in memory, and SQLite.

Each public name is loaded on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: keep the import of this package as light as the top level.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.store._memory import MemoryStore
    from pyampam.store._protocol import Store
    from pyampam.store._sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "Store"]

_LAZY = {
    "MemoryStore": "pyampam.store._memory",
    "SqliteStore": "pyampam.store._sqlite",
    "Store": "pyampam.store._protocol",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
