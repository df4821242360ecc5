"""Check ``MfaSettings.xml`` and its certificate before MIM (or pyampam) trips over them.

:func:`check_settings` returns one :class:`Finding` per check, passed ones included, so a CLI
can print a checklist. Findings never contain a secret: not the keys, not the password, not
even their lengths.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import os
import re
import shlex
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pyampam.exceptions import InvalidValueError, SettingsError
from pyampam.settings._certificate import load_pkcs12
from pyampam.settings._mfa_settings import MfaMode

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pyampam.settings._certificate import ClientCertificate
    from pyampam.settings._mfa_settings import MfaSettings

__all__ = ["Finding", "Severity", "check_settings"]

EXPIRY_WARNING_DAYS = 30
# cert_key.p12 is a few KiB; reading more than this would only be a mistake in CertFilePath.
_MAX_CERT_FILE_SIZE = 4 * 1024 * 1024
_POSIX = os.name == "posix"


@functools.total_ordering
class Severity(enum.Enum):
    """How bad a finding is; ordered, so ``max()`` of findings' severities is the verdict."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANK[self] < _RANK[other]


_RANK = {Severity.OK: 0, Severity.WARNING: 1, Severity.ERROR: 2}
_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _check_code(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise InvalidValueError(
            f"a finding code is lower-case words joined by '-', like 'cert-opens', not {value!r}",
            field="code",
        )


@attrs.frozen
class Finding:
    """The result of one check.

    ``code`` is a short stable id such as ``cert-opens``; ``message`` says what was found and,
    when something is wrong, how to fix it; ``element`` names the ``MfaSettings.xml`` element
    concerned, in MIM's spelling, when there is one.
    """

    severity: Severity = attrs.field(validator=attrs.validators.instance_of(Severity))
    code: str = attrs.field(validator=_check_code)
    message: str = attrs.field(validator=attrs.validators.instance_of(str))
    element: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )


def check_settings(
    settings: MfaSettings,
    *,
    cert: str | os.PathLike[str] | bytes | None = None,
    settings_path: str | os.PathLike[str] | None = None,
    now: dt.datetime | None = None,
) -> list[Finding]:
    """Check ``settings`` (and its certificate and files) and return the findings in a stable order.

    The certificate is read from ``cert`` (a path or the file's bytes) or else from the
    settings' ``CertFilePath`` when that file exists on this machine; a ``CertFilePath`` that
    only exists on the MIM server gives a warning that it could not be checked from here.
    ``settings_path`` is the ``MfaSettings.xml`` the settings came from; its permissions are
    checked when given. ``now`` (timezone-aware; default: the current time) is the moment the
    certificate's validity is judged at.

    Every check that passes adds an ``OK`` finding, so the list doubles as a checklist; the
    verdict is ``max(finding.severity for finding in findings)``.
    """
    if now is None:
        now = dt.datetime.now(dt.timezone.utc)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise InvalidValueError("now must be a timezone-aware datetime", field="now")
    findings = list(_required_elements(settings))
    findings += _placeholders(settings)
    if settings.mode is MfaMode.SDK:
        findings += _value_shapes(settings)
        findings += _cert_path(settings)
        findings += _country_code(settings)
        findings += _certificate(settings, cert, now)
    elif settings.mode is MfaMode.MFA_SERVER:
        findings += _server_url(settings)
    if settings_path is not None:
        findings += _owner_only(
            Path(os.fspath(settings_path)),
            code="settings-file-mode",
            element=None,
            holds="the MFA provider settings and secrets",
        )
    return findings


# --- elements ---------------------------------------------------------------------------------

_MODE_NAMES = {
    MfaMode.SDK: "the Azure MFA SDK mode",
    MfaMode.MFA_SERVER: "the MFA Server mode",
    MfaMode.CUSTOM_PROVIDER: "the custom phone provider mode",
}

_HINTS = {
    "LICENSE_KEY": "copy it from pf/pf_auth.cs in the SDK ZIP, or run `pyampam settings install`",
    "GROUP_KEY": "copy it from pf/pf_auth.cs in the SDK ZIP, or run `pyampam settings install`",
    "CERT_PASSWORD": "copy it from pf/pf_auth.cs in the SDK ZIP, or run `pyampam settings install`",
    "CertFilePath": "give the full path of cert_key.p12 on the MIM server, without quotes",
    "Username": "any user name in SDK mode; the MIM Service account's UPN with an MFA Server",
    "DefaultCountryCode": "give the country calling code in digits, e.g. 1 for the US and Canada",
    "LOCMFA": "set it to true to use an on-premises MFA Server",
    "LOCMFASRV": (
        "give the URL of the MFA Server's Web Service SDK, "
        "e.g. https://mfa.example.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
    ),
    "CustomPhoneProvider": "give the full path of the phone provider's DLL",
}


def _string_elements(settings: MfaSettings) -> dict[str, str]:
    """The free-text elements, by MIM element name; unset ones as ``""``."""
    return {
        "LICENSE_KEY": settings.license_key or "",
        "GROUP_KEY": settings.group_key or "",
        "CERT_PASSWORD": settings.cert_password or "",
        "CertFilePath": settings.cert_file_path or "",
        "Username": settings.username or "",
        "LOCMFASRV": settings.locmfasrv or "",
        "CustomPhoneProvider": settings.custom_phone_provider or "",
    }


def _required_elements(settings: MfaSettings) -> Iterator[Finding]:
    mode = _MODE_NAMES.get(settings.mode, f"mode {settings.mode.value}")
    missing = settings.missing_elements()
    for element in missing:
        hint = _HINTS.get(element, "fill it in")
        yield Finding(
            Severity.ERROR,
            "required-element",
            f"{element} is empty, but {mode} needs it: {hint}",
            element=element,
        )
    if not missing:
        yield Finding(Severity.OK, "required-element", f"Every element {mode} needs is set")


_PLACEHOLDER = re.compile(
    r"""
    \s*(?:
        <[^<>]*> | \[[^\[\]]*\] | \{[^{}]*\}      # <Enter key here>, [KEY], {KEY}
      | your[\s_-].*                             # YOUR_LICENSE_KEY, your group key
      | .*\benter\b.*                            # Enter key here
      | .*[\s_-]here                             # KEY_GOES_HERE
      | .*[\\/]path[\\/]to[\\/].*                # C:\path\to\cert_key.p12
      | todo | tbd | fixme | placeholder | change[\s_-]?me | replace[\s_-]?me
      | x{3,} | \*{3,} | \.{3,} | \?{3,} | -{3,}
    )\s*
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _is_placeholder(element: str, value: str) -> bool:
    stripped = value.strip()
    if stripped.upper() in {element.upper(), "LICENSE_KEY", "GROUP_KEY", "CERT_PASSWORD"}:
        return True  # the constant's own name pasted as its value
    return _PLACEHOLDER.fullmatch(value) is not None


def _placeholders(settings: MfaSettings) -> Iterator[Finding]:
    found = False
    for element, value in _string_elements(settings).items():
        if value and _is_placeholder(element, value):
            found = True
            yield Finding(
                Severity.ERROR,
                "placeholder",
                f"{element} still holds a placeholder, not a real value: "
                f"{_HINTS.get(element, 'fill it in')}",
                element=element,
            )
    if not found:
        yield Finding(Severity.OK, "placeholder", "No element holds a placeholder value")


_SHAPES = {
    "LICENSE_KEY": (re.compile(r"[A-Z0-9]{12}"), "12 upper-case letters or digits"),
    "GROUP_KEY": (re.compile(r"[0-9A-Fa-f]{32}"), "32 hexadecimal digits"),
    "CERT_PASSWORD": (re.compile(r"[A-Z0-9]{16}"), "16 upper-case letters or digits"),
}


def _value_shapes(settings: MfaSettings) -> Iterator[Finding]:
    values = _string_elements(settings)
    odd = False
    checked = False
    for element, (shape, description) in _SHAPES.items():
        value = values[element]
        if not value or _is_placeholder(element, value):
            continue  # already reported as missing or as a placeholder
        checked = True
        if value != value.strip():
            odd = True
            yield Finding(
                Severity.WARNING,
                "value-shape",
                f"{element} has white space around it, which would become part of the value: "
                "remove it",
                element=element,
            )
        elif not shape.fullmatch(value):
            odd = True
            yield Finding(
                Severity.WARNING,
                "value-shape",
                f"{element} does not look like the published SDK's ({description}): fine if "
                "your pf_auth.cs is a fork with other values, otherwise copy it from pf_auth.cs "
                "again",
                element=element,
            )
    if checked and not odd:
        yield Finding(
            Severity.OK,
            "value-shape",
            "LICENSE_KEY, GROUP_KEY and CERT_PASSWORD look like the published SDK's",
        )


_FULL_PATH = re.compile(r"[A-Za-z]:[\\/]|\\\\|/")


def _cert_path(settings: MfaSettings) -> Iterator[Finding]:
    path = settings.cert_file_path or ""
    if not path or _is_placeholder("CertFilePath", path):
        return
    if path.strip()[:1] in {'"', "'"} or path.strip()[-1:] in {'"', "'"}:
        yield Finding(
            Severity.ERROR,
            "cert-path",
            "CertFilePath is quoted; MIM then fails with 'Illegal characters in path': remove "
            "the quotes (a path with spaces needs none)",
            element="CertFilePath",
        )
    elif not _FULL_PATH.match(path):
        yield Finding(
            Severity.WARNING,
            "cert-path",
            f"CertFilePath {path!r} is not a full path: give the full path of cert_key.p12, e.g. "
            r"C:\Program Files\Microsoft Forefront Identity Manager\2010\Service\MfaCerts"
            r"\cert_key.p12",
            element="CertFilePath",
        )
    else:
        yield Finding(
            Severity.OK,
            "cert-path",
            "CertFilePath is a full path without quotes",
            element="CertFilePath",
        )


def _country_code(settings: MfaSettings) -> Iterator[Finding]:
    code = settings.default_country_code
    if code is None:
        return  # reported by required-element
    if isinstance(code, bool) or not 1 <= code <= 999:
        yield Finding(
            Severity.ERROR,
            "default-country-code",
            f"DefaultCountryCode {code} is not a country calling code: give 1 to 3 digits, "
            "e.g. 1 for the US and Canada",
            element="DefaultCountryCode",
        )
        return
    import phonenumbers

    regions = [r for r in phonenumbers.region_codes_for_country_code(code) if r != "ZZ"]
    if not regions:
        yield Finding(
            Severity.WARNING,
            "default-country-code",
            f"DefaultCountryCode {code} is not an assigned country calling code: check it "
            "(1 for the US and Canada, 44 for the UK, 49 for Germany, ...)",
            element="DefaultCountryCode",
        )
    elif regions == ["001"]:
        yield Finding(
            Severity.WARNING,
            "default-country-code",
            f"DefaultCountryCode {code} belongs to a non-geographic service, not a country: "
            "give the country your users' numbers are in",
            element="DefaultCountryCode",
        )
    else:
        shown = ", ".join(regions[:5]) + (", ..." if len(regions) > 5 else "")
        yield Finding(
            Severity.OK,
            "default-country-code",
            f"DefaultCountryCode {code} is a country calling code ({shown})",
            element="DefaultCountryCode",
        )


def _server_url(settings: MfaSettings) -> Iterator[Finding]:
    from urllib.parse import urlsplit

    url = (settings.locmfasrv or "").strip()
    if not url or _is_placeholder("LOCMFASRV", url):
        return
    # The URL itself is never echoed: it may carry credentials (https://user:password@host/).
    try:
        parts = urlsplit(url)
        valid = parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        yield Finding(
            Severity.ERROR,
            "mfa-server-url",
            f"LOCMFASRV is not an http(s) URL: {_HINTS['LOCMFASRV']}",
            element="LOCMFASRV",
        )
        return
    problems = []
    if parts.scheme.lower() == "http":
        problems.append("uses http, so the calls travel unencrypted: use https")
    if not parts.path.lower().endswith("/pfwssdk.asmx"):
        problems.append(
            "does not end with /PfWsSdk.asmx, the MFA Server's Web Service SDK: check the path"
        )
    for problem in problems:
        yield Finding(
            Severity.WARNING, "mfa-server-url", f"LOCMFASRV {problem}", element="LOCMFASRV"
        )
    if not problems:
        yield Finding(
            Severity.OK,
            "mfa-server-url",
            "LOCMFASRV is an https URL of a Web Service SDK",
            element="LOCMFASRV",
        )


# --- the certificate ------------------------------------------------------------------------


def _certificate(
    settings: MfaSettings, cert: str | os.PathLike[str] | bytes | None, now: dt.datetime
) -> Iterator[Finding]:
    element = "CertFilePath"
    local_path: Path | None = None
    if isinstance(cert, (bytes, bytearray, memoryview)):
        data, shown = bytes(cert), "given as bytes"
    else:
        if cert is not None:
            local_path = Path(os.fspath(cert))
        else:
            configured = settings.cert_file_path or ""
            if not configured or _is_placeholder(element, configured):
                yield Finding(
                    Severity.WARNING,
                    "cert-file",
                    "The certificate was not checked: CertFilePath is not set",
                    element=element,
                )
                return
            local_path = Path(configured)
            if not _exists_here(local_path):
                yield Finding(
                    Severity.WARNING,
                    "cert-file",
                    f"The certificate at CertFilePath ({configured}) is not on this machine, so "
                    "it could not be checked from here: run the check on the MIM server, or "
                    "pass a local copy of cert_key.p12",
                    element=element,
                )
                return
        shown = str(local_path)
        try:
            data = _read_capped(local_path)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            yield Finding(
                Severity.ERROR,
                "cert-file",
                f"Cannot read the certificate {shown}: {reason}; check the path and that this "
                "user may read it",
                element=element,
            )
            return
    yield Finding(Severity.OK, "cert-file", f"Read the certificate {shown}", element=element)

    yield from _certificate_contents(settings, data, shown, now)
    if local_path is not None:
        yield from _owner_only(
            local_path, code="cert-file-mode", element=element, holds="the private key"
        )


def _certificate_contents(
    settings: MfaSettings, data: bytes, shown: str, now: dt.datetime
) -> Iterator[Finding]:
    if not settings.cert_password:
        yield Finding(
            Severity.WARNING,
            "cert-opens",
            "The certificate could not be tried: CERT_PASSWORD is empty",
            element="CERT_PASSWORD",
        )
        return
    try:
        certificate = load_pkcs12(data, settings.cert_password, source=shown)
    except SettingsError as error:
        yield Finding(Severity.ERROR, "cert-opens", str(error), element="CERT_PASSWORD")
        return
    yield Finding(
        Severity.OK,
        "cert-opens",
        f"The certificate opens with CERT_PASSWORD ({certificate.subject})",
        element="CERT_PASSWORD",
    )
    if certificate.key_matches_certificate:
        yield Finding(
            Severity.OK,
            "cert-key-match",
            "The private key belongs to the certificate",
            element="CertFilePath",
        )
    else:
        yield Finding(
            Severity.ERROR,
            "cert-key-match",
            f"{shown}: the private key does not belong to the certificate, so the provider "
            "will refuse it: copy cert_key.p12 from the SDK ZIP again",
            element="CertFilePath",
        )
    yield _validity(certificate, shown, now)


def _validity(certificate: ClientCertificate, shown: str, now: dt.datetime) -> Finding:
    def day(moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC")

    renew = "download a new SDK ZIP from the MFA provider's portal and install it"
    start, end = certificate.not_valid_before, certificate.not_valid_after
    if now < start:
        return Finding(
            Severity.ERROR,
            "cert-validity",
            f"{shown}: the certificate is not valid before {day(start)}: check this machine's "
            f"clock, or {renew}",
            element="CertFilePath",
        )
    if now >= end:
        return Finding(
            Severity.ERROR,
            "cert-validity",
            f"{shown}: the certificate expired on {day(end)}: {renew}",
            element="CertFilePath",
        )
    left = end - now
    if left < dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return Finding(
            Severity.WARNING,
            "cert-validity",
            f"{shown}: the certificate expires on {day(end)}, in {left.days} days: {renew} "
            "before then",
            element="CertFilePath",
        )
    return Finding(
        Severity.OK,
        "cert-validity",
        f"The certificate is valid until {day(end)}",
        element="CertFilePath",
    )


def _exists_here(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a folder on the way that this user may not enter
        return True  # let the read report the real reason


def _read_capped(path: Path) -> bytes:
    with path.open("rb") as stream:
        data = stream.read(_MAX_CERT_FILE_SIZE + 1)
    if len(data) > _MAX_CERT_FILE_SIZE:
        raise OSError(0, "the file is far too large to be cert_key.p12")
    return data


# --- permissions ------------------------------------------------------------------------------


def _owner_only(path: Path, *, code: str, element: str | None, holds: str) -> Iterator[Finding]:
    if not _POSIX:
        # Mode bits mean little on Windows: the folder's ACL decides, which we cannot judge.
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        yield Finding(
            Severity.ERROR,
            code,
            f"Cannot check who may read {path}: {reason}",
            element=element,
        )
        return
    if mode & 0o077:
        yield Finding(
            Severity.ERROR,
            code,
            f"{path} holds {holds} but users other than its owner may use it (mode {mode:04o}): "
            f"run `chmod 600 {shlex.quote(str(path))}`",
            element=element,
        )
    else:
        yield Finding(
            Severity.OK, code, f"Only the owner may read {path} (mode {mode:04o})", element=element
        )
