"""What the PhoneFactor test server answers: scripted outcomes and the faults it can inject."""

from __future__ import annotations

import enum
from typing import Any, Literal

import attrs

from pyampam._secrets import mask
from pyampam.exceptions import InvalidValueError

__all__ = ["Fault", "ServerOutcome"]


class Fault(enum.Enum):
    """A way for the test server to misbehave on one call instead of answering properly.

    Refusing connections is not a per-call fault (the call is not known before the connection
    exists): use :meth:`PhoneFactorTestServer.refuse_connections` or :func:`unused_url`.
    """

    #: Read the request, then close the connection without a word.
    DROP = "drop"
    #: Read the request, then reset the connection (TCP RST).
    RESET = "reset"
    #: Read the request and answer nothing until the server stops (or ``seconds`` pass, after
    #: which the connection is closed, still without an answer).
    STALL = "stall"
    #: Answer ``500 Internal Server Error`` with a short text body.
    HTTP_500 = "http_500"
    #: Answer ``200 OK`` with bytes that are neither XML nor text.
    GARBAGE = "garbage"
    #: Answer ``200 OK`` with an HTML error page, as a proxy or a maintenance page would.
    HTML_ERROR = "html_error"
    #: Answer the scripted outcome, but for another request id.
    MISMATCHED_REQUEST_ID = "mismatched_request_id"
    #: Answer ``200 OK`` with an empty body (``Content-Length: 0``).
    EMPTY_BODY = "empty_body"
    #: Announce the full response's length, send half of it, then close the connection.
    TRUNCATED = "truncated"


Disposition = Literal["success", "fail"]


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, (int, float)) or value < 0):
        raise InvalidValueError(
            f"{attribute.name} must be a number of seconds >= 0, not {value!r}",
            field=attribute.name,
        )


def _disposition(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in ("success", "fail"):
        raise InvalidValueError(
            f"disposition must be 'success' or 'fail', not {value!r}", field=attribute.name
        )


@attrs.frozen
class ServerOutcome:
    """One scripted answer of the test server to an authentication (or other) request.

    The response carries ``disposition``, ``error_id`` (``<error-id>``), ``authenticated``,
    ``call_status`` (``<callStatus>``) and, for one-way SMS, ``otp``. ``error_id`` or
    ``call_status`` set to None leaves that element out. The numbers mean nothing: the real
    codes are not public, so the defaults (0) are arbitrary.

    ``otp=None`` makes the server invent a 6-digit passcode for the one-way SMS modes (and send
    none for the others); ``otp=""`` sends none even for one-way SMS. ``result`` is the
    ``<result>``/``<validationResult>`` of a PIN reset or device token validation request.

    ``delay`` holds the answer back that many seconds (the user taking the call); for an
    asynchronous request it delays the POST to the response URL instead (a ``fail`` outcome is
    never POSTed: it is the immediate answer, after the delay). ``fault`` replaces the
    answer with a :class:`Fault`; ``seconds`` bounds a :attr:`Fault.STALL`.
    """

    authenticated: bool = True
    call_status: int | None = 0
    disposition: Disposition = attrs.field(default="success", validator=_disposition)
    error_id: int | None = 0
    otp: str | None = attrs.field(default=None, repr=mask)
    result: int = 1
    delay: float = attrs.field(default=0.0, validator=_non_negative)
    fault: Fault | None = None
    seconds: float | None = attrs.field(default=None, validator=_non_negative)

    @classmethod
    def accept(
        cls, *, call_status: int | None = 0, otp: str | None = None, delay: float = 0.0
    ) -> ServerOutcome:
        """The user authenticated (``authenticated`` yes)."""
        return cls(authenticated=True, call_status=call_status, otp=otp, delay=delay)

    @classmethod
    def deny(cls, *, call_status: int | None = 0, delay: float = 0.0) -> ServerOutcome:
        """The call went through but the user did not authenticate (``authenticated`` no)."""
        return cls(authenticated=False, call_status=call_status, otp="", delay=delay)

    @classmethod
    def fail(cls, error_id: int, *, delay: float = 0.0) -> ServerOutcome:
        """The backend refused the request: ``disposition="fail"`` with ``error_id``."""
        return cls(
            authenticated=False,
            call_status=None,
            disposition="fail",
            error_id=error_id,
            otp="",
            delay=delay,
        )

    @classmethod
    def inject(cls, fault: Fault, *, seconds: float | None = None) -> ServerOutcome:
        """Misbehave with ``fault`` instead of answering; ``seconds`` bounds a stall."""
        return cls(fault=fault, seconds=seconds)
