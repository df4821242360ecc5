"""The exceptions pyampam raises: one root, a small documented tree.

Every message says what was wrong, where (file, line, field) and what to do about it.
Secrets never appear in a message.

::

    PyampamError
    ├── InvalidValueError (also a ValueError)
    │   └── PhoneNumberError
    ├── ActivationDeniedError
    └── SettingsError
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ActivationDeniedError",
    "InvalidValueError",
    "PhoneNumberError",
    "PyampamError",
    "SettingsError",
]


class PyampamError(Exception):
    """The root of every error pyampam raises on purpose."""


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


class SettingsError(PyampamError):
    """A problem with the MFA settings: ``pf_auth.cs``, the certificate, the SDK ZIP or
    ``MfaSettings.xml``.

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
        self.message = message
        self.path = path
        self.line = line
        self.key = key
        super().__init__(message)

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        return where + self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor arguments need help to survive pickling (multiprocessing).
        return (_rebuild_settings_error, (type(self), self.message, self.path, self.line, self.key))


def _rebuild_settings_error(
    cls: type[SettingsError], message: str, path: str | None, line: int | None, key: str | None
) -> SettingsError:
    return cls(message, path=path, line=line, key=key)
