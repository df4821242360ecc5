"""The errors of the PAM REST client: one subtree under ``PyampamError``, carrying MIM's message.

::

    PyampamError
    └── RestError                   (status_code, mim_message, method, path)
        ├── RestConnectionError     (MIM could not be reached: DNS, refused, TLS)
        ├── RestTimeoutError        (HTTP 408 or 504, or no answer within the client's timeout)
        ├── RestAuthenticationError (HTTP 401, or Windows authentication could not be set up)
        ├── RestForbiddenError      (HTTP 403: the account may not do this)
        ├── RestBadRequestError     (HTTP 400: e.g. a $filter MIM cannot read)
        ├── RestNotFoundError       (HTTP 404, or no request with that id; also a LookupError)
        ├── RestServerError         (HTTP 500 and other 5xx)
        │   └── RestUnavailableError (HTTP 502 and 503: the service is down or starting)
        ├── RestProtocolError       (the answer is not what the PAM REST API sends)
        ├── RequestEndedError       (waiting for Active, the request was rejected, expired, closed)
        └── WaitTimeoutError        (waiting for Active, the caller's deadline passed)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyampam.exceptions import PyampamError

if TYPE_CHECKING:
    from pyampam.rest._models import RemoteRequest

__all__ = [
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
]


class RestError(PyampamError):
    """The PAM REST API refused a call, failed, or could not be reached.

    ``status_code`` is the HTTP status where there was one; ``mim_message`` is the message MIM
    itself sent (from ``odata.error``), where it sent one; ``method`` and ``path`` name the call
    (the path is relative to the client's base URL, e.g. ``pamrequests``).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        mim_message: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.mim_message = mim_message
        self.method = method
        self.path = path
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need help to survive pickling (multiprocessing, logging queues):
        # rebuild an empty instance, then let pickle restore the attributes.
        return (_restore, (type(self), self.args), self.__dict__)


def _restore(cls: type[RestError], args: tuple[object, ...]) -> RestError:
    error = cls.__new__(cls)
    error.args = args
    return error


class RestConnectionError(RestError):
    """MIM's REST endpoint could not be reached (name lookup, refused connection, TLS failure)."""


class RestTimeoutError(RestError):
    """No answer in time: HTTP 408 or 504, or the client's own connect or read timeout."""


class RestAuthenticationError(RestError):
    """HTTP 401, or Windows authentication could not be set up (no password, no pyspnego)."""


class RestForbiddenError(RestError):
    """HTTP 403: the account is known but may not do this (not a candidate, not an approver)."""


class RestBadRequestError(RestError):
    """HTTP 400: MIM could not read the call, e.g. a ``$filter`` naming an unknown property."""


class RestNotFoundError(RestError, LookupError):
    """HTTP 404, or no request with the id that was asked for."""

    def __str__(self) -> str:
        # LookupError subclasses such as KeyError would quote the message; keep it plain.
        return self.message


class RestServerError(RestError):
    """HTTP 500 (or another 5xx): MIM failed while handling the call; see ``mim_message``."""


class RestUnavailableError(RestServerError):
    """HTTP 502 or 503: the PAM REST API or the MIM Service behind it is down or starting."""


class RestProtocolError(RestError):
    """The answer is not what the PAM REST API sends: not JSON, wrong shape, unreadable field."""


class RequestEndedError(RestError):
    """The awaited request ended without becoming Active: rejected, expired or closed.

    ``request`` is the request as last read, so ``request.status`` says which.
    """

    def __init__(self, message: str, *, request: RemoteRequest) -> None:
        self.request = request
        super().__init__(message)


class WaitTimeoutError(RestError, TimeoutError):
    """The caller's deadline passed before the awaited request became Active.

    ``request`` is the request as last read (``None`` if it could not be read at all). The
    request itself goes on in MIM; wait again or close it.
    """

    def __init__(self, message: str, *, request: RemoteRequest | None) -> None:
        self.request = request
        super().__init__(message)
