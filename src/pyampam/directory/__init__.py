"""The CORP source directory the PAM Monitoring Service watches: entries, CSV and LDIF exports.

Each public name is loaded on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: keep the import of this package as light as the top level.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.directory._csv import CSV_COLUMNS, CsvDirectory
    from pyampam.directory._directory import (
        DirectoryEntry,
        DirectoryError,
        MemoryDirectory,
        SourceDirectory,
        load_directory,
    )
    from pyampam.directory._ldif import LDIF_ATTRIBUTES, LdifDirectory

__all__ = [
    "CSV_COLUMNS",
    "LDIF_ATTRIBUTES",
    "CsvDirectory",
    "DirectoryEntry",
    "DirectoryError",
    "LdifDirectory",
    "MemoryDirectory",
    "SourceDirectory",
    "load_directory",
]

_LAZY = {
    "CSV_COLUMNS": "pyampam.directory._csv",
    "LDIF_ATTRIBUTES": "pyampam.directory._ldif",
    "CsvDirectory": "pyampam.directory._csv",
    "DirectoryEntry": "pyampam.directory._directory",
    "DirectoryError": "pyampam.directory._directory",
    "LdifDirectory": "pyampam.directory._ldif",
    "MemoryDirectory": "pyampam.directory._directory",
    "SourceDirectory": "pyampam.directory._directory",
    "load_directory": "pyampam.directory._directory",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.directory' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
