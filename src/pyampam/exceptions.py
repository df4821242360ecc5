"""The exceptions pyampam raises: one root, a small documented tree.

Every message says what was wrong, where (file, line, field) and what to do about it.
Secrets never appear in a message.

::

    PyampamError
    ├── InvalidValueError (also a ValueError)
    │   └── PhoneNumberError
    ├── ActivationDeniedError              (the role's policy refuses the request)
    │   ├── NotACandidateError
    │   ├── MfaPhoneMissingError
    │   ├── TtlTooLongError                (also for a zero or negative TTL)
    │   ├── OutsideAvailabilityWindowError
    │   └── RequestedTimeInPastError
    ├── PamError                           (a PAM operation was refused; says what to change)
    │   ├── NotFoundError                  (also a LookupError)
    │   ├── AlreadyExistsError
    │   ├── UserIsCandidateError           (removing a user who is a candidate)
    │   ├── CandidatesWithoutPhoneError    (enabling MFA while a candidate has no phone)
    │   ├── NotAnApproverError
    │   ├── SelfApprovalError
    │   ├── InvalidTransitionError         (approving an active request, closing a closed one...)
    │   ├── NoMfaProviderError             (an MFA role, but no provider configured)
    │   └── ConcurrentUpdateError          (someone else changed the request first)
    ├── StoreError                         (the store itself failed: file, schema, lock)
    ├── MissingExtraError                  (also an ImportError: an optional extra is missing)
    ├── LocatedError                       (an error in a file: path and line)
    │   └── SettingsError
    └── ProviderError                      (an MFA provider could not give an answer)
        ├── ClientCertificateError         (cert_key.p12 cannot be opened or used)
        ├── TlsError                       (the TLS handshake failed; nothing was delivered)
        │   ├── ServerCertificateError     (the server's certificate is not trusted)
        │   └── ClientCertificateRejectedError (the server refused our certificate)
        ├── ConnectionFailedError          (no endpoint could be reached; nothing was delivered)
        ├── DeliveryUncertainError         (the request may have arrived; it is never re-sent)
        │   └── ProviderTimeoutError       (no answer within the read timeout)
        ├── ProviderResponseError          (the answer was empty, malformed, HTML, not 200...)
        ├── UnknownCallError               (no call with that id)
        ├── CallPendingError               (the call has not finished yet)
        ├── MfaTimeoutError                (the caller's deadline passed while waiting)
        └── MfaCancelledError              (the caller cancelled the wait)

Beside their own modules, also under ``PyampamError``: ``pyampam.events.EventLogError``,
``pyampam.directory.DirectoryError``, ``pyampam.reports.ReportError`` and the
``pyampam.rest.RestError`` tree.

``ProviderError`` and its subclasses carry ``call_id`` and ``endpoint`` where they are known.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ActivationDeniedError",
    "AlreadyExistsError",
    "CallPendingError",
    "CandidatesWithoutPhoneError",
    "ClientCertificateError",
    "ClientCertificateRejectedError",
    "ConcurrentUpdateError",
    "ConnectionFailedError",
    "DeliveryUncertainError",
    "InvalidTransitionError",
    "InvalidValueError",
    "LocatedError",
    "MfaCancelledError",
    "MfaPhoneMissingError",
    "MfaTimeoutError",
    "MissingExtraError",
    "NoMfaProviderError",
    "NotACandidateError",
    "NotAnApproverError",
    "NotFoundError",
    "OutsideAvailabilityWindowError",
    "PamError",
    "PhoneNumberError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderTimeoutError",
    "PyampamError",
    "RequestedTimeInPastError",
    "SelfApprovalError",
    "ServerCertificateError",
    "SettingsError",
    "StoreError",
    "TlsError",
    "TtlTooLongError",
    "UnknownCallError",
    "UserIsCandidateError",
]


class PyampamError(Exception):
    """The root of every error pyampam raises on purpose."""


class LocatedError(PyampamError):
    """An error in a file that can say where: ``path`` and ``line``, where they are known.

    ``str()`` starts with ``path:line:`` so editors and terminals can jump to the spot. The
    base of :class:`SettingsError` and of the event log, directory and report errors.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(message)

    def __str__(self) -> str:
        if self.path is None:
            return self.message if self.line is None else f"line {self.line}: {self.message}"
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor arguments need help to survive pickling (multiprocessing).
        return (_rebuild_located_error, (type(self), self.message, self.path, self.line))


def _rebuild_located_error(
    cls: type[LocatedError], message: str, path: str | None, line: int | None
) -> LocatedError:
    return cls(message, path=path, line=line)


class InvalidValueError(PyampamError, ValueError):
    """A value given to a pyampam object is not acceptable.

    ``field`` names the attribute or argument at fault, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class PhoneNumberError(InvalidValueError):
    """A phone number could not be parsed or breaks MIM's rules for numbers."""


class ActivationDeniedError(PyampamError):
    """A request breaks the role's activation policy.

    ``violations`` holds the :class:`pyampam.Violation` values found, each one named.
    """

    def __init__(self, message: str, *, violations: Sequence[object] = ()) -> None:
        self.violations = tuple(violations)
        super().__init__(message)


class NotACandidateError(ActivationDeniedError):
    """The requestor is not a candidate of the role."""


class MfaPhoneMissingError(ActivationDeniedError):
    """The role requires MFA and the requestor has no phone number stored."""


class TtlTooLongError(ActivationDeniedError):
    """The requested TTL exceeds the role's (or is not positive)."""


class OutsideAvailabilityWindowError(ActivationDeniedError):
    """The role cannot be activated at that time of day."""


class RequestedTimeInPastError(ActivationDeniedError):
    """The requested start time has already passed."""


class PamError(PyampamError):
    """A PAM operation was refused; the message says what to change."""


class NotFoundError(PamError, LookupError):
    """No user, role or request has that id or name."""

    def __str__(self) -> str:
        # LookupError subclasses such as KeyError would quote the message; keep it plain.
        return str(self.args[0]) if self.args else ""


class AlreadyExistsError(PamError):
    """A user, role or request with that id or name already exists."""


class UserIsCandidateError(PamError):
    """The user is a candidate of a role, so it cannot be removed (as MIM refuses)."""


class CandidatesWithoutPhoneError(PamError):
    """MFA cannot be enabled on a role while one of its candidates has no phone number."""


class NotAnApproverError(PamError):
    """Only the role's approvers (owners) may approve or reject its requests."""


class SelfApprovalError(PamError):
    """The requestor may not approve their own request."""


class InvalidTransitionError(PamError):
    """The request is not in a status that allows this (e.g. approving an Active request)."""


class NoMfaProviderError(PamError):
    """The role requires MFA but no MFA provider is configured."""


class ConcurrentUpdateError(PamError):
    """Someone else changed the request between reading and writing it; read it again."""


class StoreError(PyampamError):
    """The store failed: the database file, its schema version or its lock."""


class SettingsError(LocatedError):
    """A problem with the MFA settings: pf_auth.cs, the certificate, the ZIP or MfaSettings.xml.

    ``path``, ``line`` and ``key`` locate the problem where that is known; ``str()`` of the
    error starts with ``path:line:`` so editors and terminals can jump to it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.key = key
        super().__init__(message, path=path, line=line)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_settings_error, (type(self), self.message, self.path, self.line, self.key))


def _rebuild_settings_error(
    cls: type[SettingsError], message: str, path: str | None, line: int | None, key: str | None
) -> SettingsError:
    return cls(message, path=path, line=line, key=key)


class ProviderError(PyampamError):
    """An MFA provider could not give an answer to a call.

    ``call_id`` and ``endpoint`` say which call and which server, where they are known.
    """

    def __init__(
        self, message: str, *, call_id: str | None = None, endpoint: str | None = None
    ) -> None:
        self.message = message
        self.call_id = call_id
        self.endpoint = endpoint
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_provider_error, (type(self), self.message, self.call_id, self.endpoint))


def _rebuild_provider_error(
    cls: type[ProviderError], message: str, call_id: str | None, endpoint: str | None
) -> ProviderError:
    return cls(message, call_id=call_id, endpoint=endpoint)


class ClientCertificateError(ProviderError):
    """The client certificate (``cert_key.p12``) cannot be opened with its password or used."""


class TlsError(ProviderError):
    """The TLS handshake with the provider failed, so the request was not delivered."""


class ServerCertificateError(TlsError):
    """The provider's server certificate is not trusted (unknown CA, wrong host name, expired)."""


class ClientCertificateRejectedError(TlsError):
    """The provider refused our client certificate, or required one we did not send."""


class ConnectionFailedError(ProviderError):
    """No endpoint could be reached; the request was delivered nowhere, so retrying is safe."""


class DeliveryUncertainError(ProviderError):
    """The request may have reached the provider, so it is not re-sent.

    Re-sending could place a second phone call to the user; the caller decides what to do.
    """


class ProviderTimeoutError(DeliveryUncertainError):
    """The provider accepted the request but gave no answer within the read timeout."""


class ProviderResponseError(ProviderError):
    """The provider's answer was unusable: empty, malformed, HTML, not 200, or for another request.

    ``status_code`` holds the HTTP status where there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        call_id: str | None = None,
        endpoint: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.status_code = status_code
        super().__init__(message, call_id=call_id, endpoint=endpoint)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_response_error,
            (type(self), self.message, self.call_id, self.endpoint, self.status_code),
        )


def _rebuild_response_error(
    cls: type[ProviderResponseError],
    message: str,
    call_id: str | None,
    endpoint: str | None,
    status_code: int | None,
) -> ProviderResponseError:
    return cls(message, call_id=call_id, endpoint=endpoint, status_code=status_code)


class UnknownCallError(ProviderError, KeyError):
    """The provider has no call with that id (never initiated here, or already forgotten)."""

    def __str__(self) -> str:
        # KeyError would quote the message; keep it a plain sentence.
        return self.message


class CallPendingError(ProviderError):
    """The call's result was asked for before the call finished."""


class MfaTimeoutError(ProviderError):
    """The caller's deadline passed before the call finished; the call itself may still run."""


class MfaCancelledError(ProviderError):
    """The caller cancelled the wait for a call's outcome."""


class MissingExtraError(PyampamError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it.

    ``package`` is the missing import (``pandas``, ``matplotlib``) and ``extra`` the pyampam
    extra to install: ``pip install 'pyampam[notebook]'``. Also an :class:`ImportError`.
    """

    def __init__(self, message: str, *, package: str, extra: str = "notebook") -> None:
        self.message = message
        self.package = package
        self.extra = extra
        super().__init__(message, name=package)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor arguments need help to survive pickling (multiprocessing).
        return (_rebuild_missing_extra, (type(self), self.message, self.package, self.extra))


def _rebuild_missing_extra(
    cls: type[MissingExtraError], message: str, package: str, extra: str
) -> MissingExtraError:
    return cls(message, package=package, extra=extra)
