"""Azure MFA usage reports: read the "User Details" CSV export and sum up who failed MFA and why.

Each public name is loaded on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: keep the import of this package as light as the top level.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.reports._columns import REQUIRED_COLUMNS
    from pyampam.reports._reader import (
        DEFAULT_MAX_BAD_ROWS,
        UsageReport,
        UsageSource,
        read_usage_report,
    )
    from pyampam.reports._records import BadRow, ReportError, UsageRecord
    from pyampam.reports._summary import (
        NO_CALL_RESULT,
        CrossCheckGap,
        DayUsage,
        FailureGroup,
        UsageSummary,
        UserFailures,
        UsersSource,
        summarize_usage,
    )

__all__ = [
    "DEFAULT_MAX_BAD_ROWS",
    "NO_CALL_RESULT",
    "REQUIRED_COLUMNS",
    "BadRow",
    "CrossCheckGap",
    "DayUsage",
    "FailureGroup",
    "ReportError",
    "UsageRecord",
    "UsageReport",
    "UsageSource",
    "UsageSummary",
    "UserFailures",
    "UsersSource",
    "read_usage_report",
    "summarize_usage",
]

_LAZY = {
    "DEFAULT_MAX_BAD_ROWS": "pyampam.reports._reader",
    "NO_CALL_RESULT": "pyampam.reports._summary",
    "REQUIRED_COLUMNS": "pyampam.reports._columns",
    "BadRow": "pyampam.reports._records",
    "CrossCheckGap": "pyampam.reports._summary",
    "DayUsage": "pyampam.reports._summary",
    "FailureGroup": "pyampam.reports._summary",
    "ReportError": "pyampam.reports._records",
    "UsageRecord": "pyampam.reports._records",
    "UsageReport": "pyampam.reports._reader",
    "UsageSource": "pyampam.reports._reader",
    "UsageSummary": "pyampam.reports._summary",
    "UserFailures": "pyampam.reports._summary",
    "UsersSource": "pyampam.reports._summary",
    "read_usage_report": "pyampam.reports._reader",
    "summarize_usage": "pyampam.reports._summary",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.reports' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
