"""Read the Azure MFA SDK files and write MIM's ``MfaSettings.xml``, safely.

Each public name is loaded on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib

# Not `from typing import ...`: typing alone would triple the cost of importing pyampam.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyampam.settings._certificate import ClientCertificate, load_pkcs12
    from pyampam.settings._check import Finding, Severity, check_settings
    from pyampam.settings._credentials import SdkCredentials
    from pyampam.settings._install import install_sdk
    from pyampam.settings._mfa_settings import (
        MfaMode,
        MfaSettings,
        XmlElement,
        read_mfa_settings,
        write_mfa_settings,
    )
    from pyampam.settings._pf_auth import load_pf_auth, parse_pf_auth

__all__ = [
    "ClientCertificate",
    "Finding",
    "MfaMode",
    "MfaSettings",
    "SdkCredentials",
    "Severity",
    "XmlElement",
    "check_settings",
    "install_sdk",
    "load_pf_auth",
    "load_pkcs12",
    "parse_pf_auth",
    "read_mfa_settings",
    "write_mfa_settings",
]

_LAZY = {
    "ClientCertificate": "pyampam.settings._certificate",
    "Finding": "pyampam.settings._check",
    "MfaMode": "pyampam.settings._mfa_settings",
    "MfaSettings": "pyampam.settings._mfa_settings",
    "SdkCredentials": "pyampam.settings._credentials",
    "Severity": "pyampam.settings._check",
    "XmlElement": "pyampam.settings._mfa_settings",
    "check_settings": "pyampam.settings._check",
    "install_sdk": "pyampam.settings._install",
    "load_pf_auth": "pyampam.settings._pf_auth",
    "load_pkcs12": "pyampam.settings._certificate",
    "parse_pf_auth": "pyampam.settings._pf_auth",
    "read_mfa_settings": "pyampam.settings._mfa_settings",
    "write_mfa_settings": "pyampam.settings._mfa_settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyampam.settings' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
