"""The "Privileged Access Management" event log: MIM's events 101, 103 and 825, and pyampam's own.

Each public name is loaded on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: keep the import of this package as light as the top level.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.events._event import (
        PYAMPAM_EVENT_IDS,
        EventId,
        EventLevel,
        EventLogError,
        EventSinkError,
        ExtraValue,
        PamEvent,
    )
    from pyampam.events._log import EventLog
    from pyampam.events._sinks import (
        EventSink,
        JsonLinesSink,
        LoggingSink,
        MemorySink,
        read_events,
    )

__all__ = [
    "PYAMPAM_EVENT_IDS",
    "EventId",
    "EventLevel",
    "EventLog",
    "EventLogError",
    "EventSink",
    "EventSinkError",
    "ExtraValue",
    "JsonLinesSink",
    "LoggingSink",
    "MemorySink",
    "PamEvent",
    "read_events",
]

_LAZY = {
    "PYAMPAM_EVENT_IDS": "pyampam.events._event",
    "EventId": "pyampam.events._event",
    "EventLevel": "pyampam.events._event",
    "EventLog": "pyampam.events._log",
    "EventLogError": "pyampam.events._event",
    "EventSink": "pyampam.events._sinks",
    "EventSinkError": "pyampam.events._event",
    "ExtraValue": "pyampam.events._event",
    "JsonLinesSink": "pyampam.events._sinks",
    "LoggingSink": "pyampam.events._sinks",
    "MemorySink": "pyampam.events._sinks",
    "PamEvent": "pyampam.events._event",
    "read_events": "pyampam.events._sinks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.events' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
