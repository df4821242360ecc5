"""pyampam: privileged role activation with phone-based MFA, after MIM 2016 PAM and Azure MFA.

The package imports lazily: ``import pyampam`` loads almost nothing, and each public name is
loaded the first time it is used.
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: typing alone would triple the cost of importing pyampam.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam._display import Records
    from pyampam._model import (
        ActivationPolicy,
        ActivationRequest,
        PamConfiguration,
        PolicyDecision,
        RequestStatus,
        Requirement,
        Role,
        User,
        Violation,
    )
    from pyampam._phone import PhoneNumber
    from pyampam.activation import PamService

__all__ = [
    "ActivationPolicy",
    "ActivationRequest",
    "PamConfiguration",
    "PamService",
    "PhoneNumber",
    "PolicyDecision",
    "Records",
    "RequestStatus",
    "Requirement",
    "Role",
    "User",
    "Violation",
    "__version__",
]

_LAZY = {
    "ActivationPolicy": "pyampam._model",
    "ActivationRequest": "pyampam._model",
    "PamConfiguration": "pyampam._model",
    "PamService": "pyampam.activation",
    "PhoneNumber": "pyampam._phone",
    "PolicyDecision": "pyampam._model",
    "Records": "pyampam._display",
    "RequestStatus": "pyampam._model",
    "Requirement": "pyampam._model",
    "Role": "pyampam._model",
    "User": "pyampam._model",
    "Violation": "pyampam._model",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("pyampam")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
