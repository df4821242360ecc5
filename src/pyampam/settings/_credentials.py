"""The three Azure MFA SDK credentials copied out of ``pf_auth.cs``."""

from __future__ import annotations

import attrs

from pyampam._secrets import mask
from pyampam.exceptions import SettingsError

__all__ = ["SdkCredentials"]


def _non_empty(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(
            f"{attribute.name.upper()} is empty: copy it from pf_auth.cs in the Azure MFA SDK ZIP",
            key=attribute.name.upper(),
        )


@attrs.frozen(repr=False)
class SdkCredentials:
    """The provider credentials: ``LICENSE_KEY``, ``GROUP_KEY`` and ``CERT_PASSWORD``.

    All three are secrets: ``repr()`` and ``str()`` mask them.
    """

    license_key: str = attrs.field(validator=_non_empty)
    group_key: str = attrs.field(validator=_non_empty)
    cert_password: str = attrs.field(validator=_non_empty)

    def __repr__(self) -> str:
        return (
            f"SdkCredentials(license_key={mask(self.license_key)!r}, "
            f"group_key={mask(self.group_key)!r}, cert_password={mask(self.cert_password)!r})"
        )

    __str__ = __repr__
