"""The activation service: MIM's PAM cmdlets (users, roles, requests, approvals, MFA) in Python.

Each public name is loaded on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: keep the import of this package as light as the top level.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.activation._monitor import PhoneChange
    from pyampam.activation._service import PamService, RequestRef, RoleRef, UserRef
    from pyampam.activation._unset import UNSET, Unset

__all__ = [
    "UNSET",
    "PamService",
    "PhoneChange",
    "RequestRef",
    "RoleRef",
    "Unset",
    "UserRef",
]

_LAZY = {
    "UNSET": "pyampam.activation._unset",
    "PamService": "pyampam.activation._service",
    "PhoneChange": "pyampam.activation._monitor",
    "RequestRef": "pyampam.activation._service",
    "RoleRef": "pyampam.activation._service",
    "Unset": "pyampam.activation._unset",
    "UserRef": "pyampam.activation._service",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.activation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
