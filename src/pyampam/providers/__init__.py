"""MFA providers: the protocol, the Azure MFA (PhoneFactor) client, and the values they share.

Each public name is loaded on first use, so importing this package stays cheap (in particular
it does not import ``requests``).
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: keep the import of this package as light as the top level.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.providers._callback import CallbackReceiver
    from pyampam.providers._client import DEFAULT_ENDPOINTS, DEFAULT_TIMEOUT, PhoneFactorClient
    from pyampam.providers._protocol import (
        DEFAULT_AUTHENTICATE_TIMEOUT,
        MfaProvider,
        SupportsWait,
        authenticate,
        wait_for_result,
    )
    from pyampam.providers._types import (
        AuthMode,
        CallHandle,
        CallResult,
        CallStatus,
        MfaChallenge,
        MfaResult,
        NotificationType,
        Pin,
        PinFormat,
    )

__all__ = [
    "DEFAULT_AUTHENTICATE_TIMEOUT",
    "DEFAULT_ENDPOINTS",
    "DEFAULT_TIMEOUT",
    "AuthMode",
    "CallHandle",
    "CallResult",
    "CallStatus",
    "CallbackReceiver",
    "MfaChallenge",
    "MfaProvider",
    "MfaResult",
    "NotificationType",
    "PhoneFactorClient",
    "Pin",
    "PinFormat",
    "SupportsWait",
    "authenticate",
    "wait_for_result",
]

_LAZY = {
    "DEFAULT_AUTHENTICATE_TIMEOUT": "pyampam.providers._protocol",
    "DEFAULT_ENDPOINTS": "pyampam.providers._client",
    "DEFAULT_TIMEOUT": "pyampam.providers._client",
    "AuthMode": "pyampam.providers._types",
    "CallHandle": "pyampam.providers._types",
    "CallResult": "pyampam.providers._types",
    "CallStatus": "pyampam.providers._types",
    "CallbackReceiver": "pyampam.providers._callback",
    "MfaChallenge": "pyampam.providers._types",
    "MfaProvider": "pyampam.providers._protocol",
    "MfaResult": "pyampam.providers._types",
    "NotificationType": "pyampam.providers._types",
    "PhoneFactorClient": "pyampam.providers._client",
    "Pin": "pyampam.providers._types",
    "PinFormat": "pyampam.providers._types",
    "SupportsWait": "pyampam.providers._protocol",
    "authenticate": "pyampam.providers._protocol",
    "wait_for_result": "pyampam.providers._protocol",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.providers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
