"""Test doubles shipped with pyampam: PhoneFactor and PAM REST test servers, a PKI, a fake provider.

Each public name is loaded on first use, so importing this package stays cheap (in particular
it does not import ``cryptography`` or ``defusedxml`` until a PKI or a server is made).
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: keep the import of this package as light as the top level.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.testing._fake import FakeCall, FakeProvider, ManualClock
    from pyampam.testing._phonefactor_messages import (
        RecordedRequest,
        RejectedRequest,
        RequestKind,
        ServerErrorId,
        build_acknowledgement,
    )
    from pyampam.testing._phonefactor_outcomes import Fault, ServerOutcome
    from pyampam.testing._phonefactor_server import (
        CallbackDelivery,
        PhoneFactorTestServer,
        ServerStats,
        unused_url,
    )
    from pyampam.testing._pki import PkiFiles, TestPki, make_test_pki
    from pyampam.testing._rest_odata import ODataFilter, ODataFilterError
    from pyampam.testing._rest_server import PamRestTestServer, RestCall, RestServerStats

__all__ = [
    "CallbackDelivery",
    "FakeCall",
    "FakeProvider",
    "Fault",
    "ManualClock",
    "ODataFilter",
    "ODataFilterError",
    "PamRestTestServer",
    "PhoneFactorTestServer",
    "PkiFiles",
    "RecordedRequest",
    "RejectedRequest",
    "RequestKind",
    "RestCall",
    "RestServerStats",
    "ServerErrorId",
    "ServerOutcome",
    "ServerStats",
    "TestPki",
    "build_acknowledgement",
    "make_test_pki",
    "unused_url",
]

_LAZY = {
    "CallbackDelivery": "pyampam.testing._phonefactor_server",
    "FakeCall": "pyampam.testing._fake",
    "FakeProvider": "pyampam.testing._fake",
    "Fault": "pyampam.testing._phonefactor_outcomes",
    "ManualClock": "pyampam.testing._fake",
    "ODataFilter": "pyampam.testing._rest_odata",
    "ODataFilterError": "pyampam.testing._rest_odata",
    "PamRestTestServer": "pyampam.testing._rest_server",
    "PhoneFactorTestServer": "pyampam.testing._phonefactor_server",
    "PkiFiles": "pyampam.testing._pki",
    "RecordedRequest": "pyampam.testing._phonefactor_messages",
    "RejectedRequest": "pyampam.testing._phonefactor_messages",
    "RequestKind": "pyampam.testing._phonefactor_messages",
    "RestCall": "pyampam.testing._rest_server",
    "RestServerStats": "pyampam.testing._rest_server",
    "ServerErrorId": "pyampam.testing._phonefactor_messages",
    "ServerOutcome": "pyampam.testing._phonefactor_outcomes",
    "ServerStats": "pyampam.testing._phonefactor_server",
    "TestPki": "pyampam.testing._pki",
    "build_acknowledgement": "pyampam.testing._phonefactor_messages",
    "make_test_pki": "pyampam.testing._pki",
    "unused_url": "pyampam.testing._phonefactor_server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
