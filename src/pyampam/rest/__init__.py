"""A client of MIM's PAM REST API: request, approve and close role activations over HTTP.

Each public name is loaded on first use, so importing this package stays cheap (it imports
neither ``requests`` nor ``pyspnego``).

::

    from pyampam.rest import F, PamRestClient, windows_auth

    with PamRestClient(
        "http://mim.contoso.com:8086/api/pamresources/", auth=windows_auth("CONTOSO\\\\alice")
    ) as client:
        (role,) = client.roles(filter=F.DisplayName == "SQL File Access")
        request = client.create_request(role, justification="ticket 4711")
        client.wait_until_active(request, timeout=600)
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: keep the import of this package as light as the top level.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.rest._auth import PASSWORD_ENVIRONMENT_VARIABLE, NegotiateAuth, windows_auth
    from pyampam.rest._client import (
        DEFAULT_POLL_INTERVAL,
        DEFAULT_TIMEOUT,
        ENDED_STATUSES,
        Filter,
        PamRestClient,
    )
    from pyampam.rest._errors import (
        RequestEndedError,
        RestAuthenticationError,
        RestBadRequestError,
        RestConnectionError,
        RestError,
        RestForbiddenError,
        RestNotFoundError,
        RestProtocolError,
        RestServerError,
        RestTimeoutError,
        RestUnavailableError,
        WaitTimeoutError,
    )
    from pyampam.rest._filter import (
        And,
        Comparison,
        F,
        Field,
        FilterExpression,
        FilterValue,
        Or,
        render_filter,
    )
    from pyampam.rest._models import PendingApproval, RemoteRequest, RemoteRole

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "ENDED_STATUSES",
    "PASSWORD_ENVIRONMENT_VARIABLE",
    "And",
    "Comparison",
    "F",
    "Field",
    "Filter",
    "FilterExpression",
    "FilterValue",
    "NegotiateAuth",
    "Or",
    "PamRestClient",
    "PendingApproval",
    "RemoteRequest",
    "RemoteRole",
    "RequestEndedError",
    "RestAuthenticationError",
    "RestBadRequestError",
    "RestConnectionError",
    "RestError",
    "RestForbiddenError",
    "RestNotFoundError",
    "RestProtocolError",
    "RestServerError",
    "RestTimeoutError",
    "RestUnavailableError",
    "WaitTimeoutError",
    "render_filter",
    "windows_auth",
]

_LAZY = {
    "DEFAULT_POLL_INTERVAL": "pyampam.rest._client",
    "DEFAULT_TIMEOUT": "pyampam.rest._client",
    "ENDED_STATUSES": "pyampam.rest._client",
    "PASSWORD_ENVIRONMENT_VARIABLE": "pyampam.rest._auth",
    "And": "pyampam.rest._filter",
    "Comparison": "pyampam.rest._filter",
    "F": "pyampam.rest._filter",
    "Field": "pyampam.rest._filter",
    "Filter": "pyampam.rest._client",
    "FilterExpression": "pyampam.rest._filter",
    "FilterValue": "pyampam.rest._filter",
    "NegotiateAuth": "pyampam.rest._auth",
    "Or": "pyampam.rest._filter",
    "PamRestClient": "pyampam.rest._client",
    "PendingApproval": "pyampam.rest._models",
    "RemoteRequest": "pyampam.rest._models",
    "RemoteRole": "pyampam.rest._models",
    "RequestEndedError": "pyampam.rest._errors",
    "RestAuthenticationError": "pyampam.rest._errors",
    "RestBadRequestError": "pyampam.rest._errors",
    "RestConnectionError": "pyampam.rest._errors",
    "RestError": "pyampam.rest._errors",
    "RestForbiddenError": "pyampam.rest._errors",
    "RestNotFoundError": "pyampam.rest._errors",
    "RestProtocolError": "pyampam.rest._errors",
    "RestServerError": "pyampam.rest._errors",
    "RestTimeoutError": "pyampam.rest._errors",
    "RestUnavailableError": "pyampam.rest._errors",
    "WaitTimeoutError": "pyampam.rest._errors",
    "render_filter": "pyampam.rest._filter",
    "windows_auth": "pyampam.rest._auth",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.rest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
