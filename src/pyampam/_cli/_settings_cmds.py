"""``pyampam settings ...``: build, install, show and check MIM's ``MfaSettings.xml``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pyampam._secrets import mask

if TYPE_CHECKING:
    from pyampam.settings import MfaSettings

__all__ = ["register"]


def _country_code(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 999 or text.startswith("0"):
        raise argparse.ArgumentTypeError(
            f"invalid country code {text!r}: give the dialling code as 1 to 3 digits, "
            "e.g. 1 for the United States and Canada"
        )
    return int(text)


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def register(commands: Any) -> None:
    """Add the ``settings`` command group to the top-level subparsers."""
    settings = commands.add_parser(
        "settings",
        help="build, install, show and check MIM's MfaSettings.xml",
        description="Build, install, show and check MIM's MfaSettings.xml.",
    )
    group = settings.add_subparsers(dest="settings_command", metavar="ACTION")
    group.required = True

    build = group.add_parser(
        "build",
        help="build MfaSettings.xml from pf_auth.cs",
        description=(
            "Read LICENSE_KEY, GROUP_KEY and CERT_PASSWORD from pf_auth.cs and write "
            "MfaSettings.xml owner-only and atomically, keeping a backup of any file it replaces."
        ),
    )
    build.add_argument("--pf-auth", required=True, metavar="FILE", help="the SDK's pf_auth.cs")
    build.add_argument(
        "--cert-path",
        required=True,
        type=_non_empty,
        metavar="PATH",
        help="full path of cert_key.p12 as the MIM server sees it (written unquoted)",
    )
    build.add_argument(
        "--username", required=True, type=_non_empty, metavar="NAME", help="any user name"
    )
    build.add_argument(
        "--country-code",
        required=True,
        type=_country_code,
        metavar="N",
        help="default dialling code for numbers stored without one (1 for the US and Canada)",
    )
    build.add_argument("--out", required=True, metavar="FILE", help="where to write the XML")
    build.add_argument(
        "--no-backup", action="store_true", help="replace an existing file without a backup"
    )
    build.set_defaults(handler=_build)

    install = group.add_parser(
        "install",
        help="install the SDK ZIP into the MIM Service folder",
        description=(
            "Read pf/pf_auth.cs and pf/certs/cert_key.p12 from the Azure MFA SDK ZIP, prove the "
            "certificate password, copy the certificate owner-only into MfaCerts and write "
            "MfaSettings.xml into the service folder."
        ),
    )
    install.add_argument("--sdk-zip", required=True, metavar="ZIP", help="the SDK ZIP")
    install.add_argument(
        "--service-dir", required=True, metavar="DIR", help="the MIM Service folder"
    )
    install.add_argument(
        "--country-code",
        required=True,
        type=_country_code,
        metavar="N",
        help="default dialling code for numbers stored without one (1 for the US and Canada)",
    )
    install.add_argument(
        "--username",
        default="pyampam",
        type=_non_empty,
        metavar="NAME",
        help="the Username element: any user name (default: pyampam)",
    )
    install.add_argument(
        "--cert-dir",
        metavar="CERT_DIR",
        help="where to put cert_key.p12 (default: the service folder's MfaCerts)",
    )
    install.set_defaults(handler=_install)

    show = group.add_parser(
        "show",
        help="print an MfaSettings.xml with its secrets masked",
        description="Print an MfaSettings.xml; secrets are masked unless --reveal is given.",
    )
    show.add_argument("file", metavar="FILE")
    show.add_argument("--reveal", action="store_true", help="print the secrets in clear")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=_show)

    check = group.add_parser(
        "check",
        help="check an MfaSettings.xml (and its certificate)",
        description=(
            "Check an MfaSettings.xml: required elements, placeholders, the certificate and its "
            "password, expiry and file permissions. Exit status 0 when every check passes, 1 when "
            "one fails."
        ),
    )
    check.add_argument("file", metavar="FILE")
    check.add_argument(
        "--cert",
        metavar="P12",
        help="a local copy of cert_key.p12 (default: CertFilePath when it exists here)",
    )
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.set_defaults(handler=_check)


def _build(args: argparse.Namespace) -> int:
    from pyampam.settings import MfaSettings, load_pf_auth, write_mfa_settings

    credentials = load_pf_auth(args.pf_auth)
    settings = MfaSettings.for_sdk(
        credentials,
        cert_file_path=args.cert_path,
        username=args.username,
        default_country_code=args.country_code,
    )
    backup = write_mfa_settings(settings, args.out, backup=not args.no_backup)
    print(f"Wrote {args.out} (owner-only).")
    if backup is not None:
        print(f"The previous file is kept as {backup}.")
    print("Restart the MIM Service to pick up the change.")
    return 0


def _install(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pyampam.settings import install_sdk

    settings = install_sdk(
        args.sdk_zip,
        args.service_dir,
        default_country_code=args.country_code,
        username=args.username,
        cert_dir=args.cert_dir,
    )
    print(f"Installed the Azure MFA SDK from {args.sdk_zip}:")
    print(f"  certificate  {settings.cert_file_path} (owner-only)")
    print(f"  settings     {Path(args.service_dir) / 'MfaSettings.xml'} (owner-only)")
    print("Restart the MIM Service to pick up the change.")
    return 0


def _shown_elements(settings: MfaSettings, *, reveal: bool) -> dict[str, str]:
    from pyampam.settings import MfaMode

    def secret(value: str) -> str:
        return value if reveal else mask(value)

    country = "" if settings.default_country_code is None else str(settings.default_country_code)
    if settings.mode is MfaMode.CUSTOM_PROVIDER:
        return {"CustomPhoneProvider": settings.custom_phone_provider}
    shown = {
        "LICENSE_KEY": secret(settings.license_key),
        "GROUP_KEY": secret(settings.group_key),
        "CERT_PASSWORD": secret(settings.cert_password),
        "CertFilePath": settings.cert_file_path,
        "Username": settings.username,
    }
    if settings.mode is MfaMode.MFA_SERVER:
        shown["LOCMFA"] = "true" if settings.locmfa else "false"
        shown["LOCMFASRV"] = settings.locmfasrv
    else:
        shown["DefaultCountryCode"] = country
    return shown


def _show(args: argparse.Namespace) -> int:
    from pyampam.settings import read_mfa_settings

    settings = read_mfa_settings(args.file)
    shown = _shown_elements(settings, reveal=args.reveal)
    missing = list(settings.missing_elements())
    if args.json:
        document = {"file": args.file, "mode": settings.mode.value, "elements": shown}
        document["missing"] = missing
        print(json.dumps(document, indent=2))
        return 0
    print(f"{args.file}  (mode: {settings.mode.value})")
    width = max(len(name) for name in shown)
    for name, value in shown.items():
        print(f"  {name:<{width}}  {value if value else '<empty>'}")
    if missing:
        print(f"Missing for this mode: {', '.join(missing)}", file=sys.stderr)
    return 0


def _check(args: argparse.Namespace) -> int:
    from pyampam.settings import Severity, check_settings, read_mfa_settings

    settings = read_mfa_settings(args.file)
    findings = check_settings(settings, cert=args.cert, settings_path=args.file)
    failing = {Severity.ERROR, Severity.WARNING} if args.strict else {Severity.ERROR}
    failed = any(finding.severity in failing for finding in findings)
    if args.json:
        print(
            json.dumps(
                {
                    "file": args.file,
                    "passed": not failed,
                    "findings": [
                        {
                            "severity": finding.severity.value,
                            "code": finding.code,
                            "element": finding.element,
                            "message": finding.message,
                        }
                        for finding in findings
                    ],
                },
                indent=2,
            )
        )
    else:
        for finding in findings:
            print(f"{finding.severity.name:<8} {finding.code:<24} {finding.message}")
        print("All checks passed." if not failed else "Some checks failed.")
    return 1 if failed else 0
