"""The `pyampam` command, run as a real process (and in-process for the Hypothesis sweep)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyampam._cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ZIP = ROOT / "examples" / "azure-mfa-sdk.zip"
EXAMPLE_PF_AUTH = ROOT / "examples" / "sdk" / "pf" / "pf_auth.cs"
EXAMPLE_P12 = ROOT / "examples" / "sdk" / "pf" / "certs" / "cert_key.p12"
EXAMPLE_SECRETS = ("PYAMPAMDEMO1", "0e5a7c1f3b9d2e4a6c8f0b1d3e5a7c9f", "PYAMPAMEXAMPLE26")
WINDOWS_CERT = (
    r"C:\Program Files\Microsoft Forefront Identity Manager\2010\Service\MfaCerts\cert_key.p12"
)


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m pyampam ARGS` and capture everything it prints."""
    return subprocess.run(
        [sys.executable, "-m", "pyampam", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=60,
    )


def pf_auth(license_key: str, group_key: str, password: str) -> str:
    """A minimal pf_auth.cs holding the given values as C# string literals."""

    def literal(value: str) -> str:
        return '@"' + value.replace('"', '""') + '"'

    return (
        "public static class pf_auth\n{\n"
        f"    private const string LICENSE_KEY = {literal(license_key)};\n"
        f"    private const string GROUP_KEY = {literal(group_key)};\n"
        f"    private const string CERT_PASSWORD = {literal(password)};\n"
        "}\n"
    )


def build_args(pf: Path, out: Path) -> list[str | Path]:
    """Arguments for `settings build` with a Windows certificate path."""
    return [
        "settings",
        "build",
        "--pf-auth",
        pf,
        "--cert-path",
        WINDOWS_CERT,
        "--username",
        "pyampam",
        "--country-code",
        "1",
        "--out",
        out,
    ]


def assert_no_secret(text: str, secrets: tuple[str, ...] = EXAMPLE_SECRETS) -> None:
    """Fail if any of the secrets appears in the text."""
    for secret in secrets:
        assert secret not in text


def test_build_writes_an_owner_only_file_and_prints_no_secret(tmp_path: Path) -> None:
    """`settings build` writes MfaSettings.xml 0600 with the three keys, printing none of them."""
    out = tmp_path / "MfaSettings.xml"
    done = run(*build_args(EXAMPLE_PF_AUTH, out))
    assert done.returncode == 0, done.stderr
    xml = out.read_text(encoding="utf-8")
    assert xml.startswith('<?xml version="1.0" encoding="utf-8"?>\n<MfaSettings>')
    for secret in EXAMPLE_SECRETS:
        assert f">{secret}<" in xml
    assert f"<CertFilePath>{WINDOWS_CERT}</CertFilePath>" in xml
    assert "<Username>pyampam</Username>" in xml
    if os.name == "posix":
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert_no_secret(done.stdout + done.stderr)


def test_build_keeps_a_backup_of_the_file_it_replaces(tmp_path: Path) -> None:
    """Running `settings build` twice keeps the first file as a backup and says where."""
    out = tmp_path / "MfaSettings.xml"
    assert run(*build_args(EXAMPLE_PF_AUTH, out)).returncode == 0
    first = out.read_bytes()
    second = run(*build_args(EXAMPLE_PF_AUTH, out))
    assert second.returncode == 0
    backups = [p for p in tmp_path.iterdir() if p.name != "MfaSettings.xml"]
    assert len(backups) == 1
    assert backups[0].read_bytes() == first
    assert str(backups[0]) in second.stdout


def test_build_with_a_placeholder_fails_with_one_line_naming_the_key(tmp_path: Path) -> None:
    """An unfilled pf_auth.cs exits 1 with one line naming the file, key and line, no traceback."""
    pf = tmp_path / "pf_auth.cs"
    pf.write_text(pf_auth("YOUR_LICENSE_KEY", "a" * 32, "PASSWORD12345678"), encoding="utf-8")
    out = tmp_path / "MfaSettings.xml"
    done = run(*build_args(pf, out))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(pf) in lines[0]
    assert "LICENSE_KEY" in lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_missing_input_file_is_one_clear_line(tmp_path: Path) -> None:
    """A pf_auth.cs that does not exist exits 1 with one line naming it."""
    done = run(*build_args(tmp_path / "nope.cs", tmp_path / "out.xml"))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "nope.cs" in done.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    """`--debug` adds the traceback to the error line."""
    done = run("--debug", *build_args(tmp_path / "nope.cs", tmp_path / "out.xml"))
    assert done.returncode == 1
    assert "Traceback" in done.stderr


BUILD_PREFIX = [
    "settings",
    "build",
    "--pf-auth",
    "x",
    "--cert-path",
    "C:\\c.p12",
    "--username",
    "u",
]


@pytest.mark.parametrize(
    "args",
    [
        ["settings", "build"],
        [*BUILD_PREFIX, "--country-code", "0", "--out", "o"],
        [*BUILD_PREFIX, "--country-code", "+1", "--out", "o"],
        ["settings", "frobnicate"],
        ["nonsense"],
        [],
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str]) -> None:
    """Bad arguments exit with status 2 and a single line on stderr."""
    done = run(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "error:" in done.stderr


def test_install_show_check_on_the_example_zip(tmp_path: Path) -> None:
    """`settings install` on the example ZIP, then `show` masks and `check` passes (exit 0)."""
    service = tmp_path / "Service"
    done = run(
        "settings", "install", "--sdk-zip", EXAMPLE_ZIP, "--service-dir", service,
        "--country-code", "44",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    settings_file = service / "MfaSettings.xml"
    assert (service / "MfaCerts" / "cert_key.p12").read_bytes() == EXAMPLE_P12.read_bytes()
    shown = run("settings", "show", settings_file)
    assert shown.returncode == 0
    assert "DefaultCountryCode  44" in shown.stdout
    assert "********" in shown.stdout
    checked = run("settings", "check", settings_file)
    assert checked.returncode == 0, checked.stdout
    assert "All checks passed." in checked.stdout
    assert_no_secret(done.stdout + done.stderr + shown.stdout + shown.stderr + checked.stdout)


def test_show_reveal_and_json(tmp_path: Path) -> None:
    """`show --reveal` prints the secrets; `show --json` prints one masked JSON object."""
    out = tmp_path / "MfaSettings.xml"
    assert run(*build_args(EXAMPLE_PF_AUTH, out)).returncode == 0
    revealed = run("settings", "show", out, "--reveal")
    for secret in EXAMPLE_SECRETS:
        assert secret in revealed.stdout
    as_json = json.loads(run("settings", "show", out, "--json").stdout)
    assert as_json["mode"] == "sdk"
    assert as_json["elements"]["CertFilePath"] == WINDOWS_CERT
    assert as_json["missing"] == []
    assert_no_secret(json.dumps(as_json))


def test_check_fails_for_a_file_others_can_read(tmp_path: Path) -> None:
    """`settings check` exits 1 when MfaSettings.xml is readable by others, and says chmod 600."""
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    out = tmp_path / "MfaSettings.xml"
    assert run(*build_args(EXAMPLE_PF_AUTH, out)).returncode == 0
    out.chmod(0o644)
    cert = tmp_path / "cert_key.p12"
    cert.write_bytes(EXAMPLE_P12.read_bytes())
    cert.chmod(0o600)
    done = run("settings", "check", out, "--cert", cert, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["passed"] is False
    failing = [f for f in report["findings"] if f["severity"] == "error"]
    assert [f["code"] for f in failing] == ["settings-file-mode"]
    assert "chmod 600" in failing[0]["message"]


def test_check_strict_fails_on_warnings(tmp_path: Path) -> None:
    """A Windows CertFilePath cannot be checked here: a warning, so only `--strict` fails."""
    out = tmp_path / "MfaSettings.xml"
    assert run(*build_args(EXAMPLE_PF_AUTH, out)).returncode == 0
    assert run("settings", "check", out).returncode == 0
    assert run("settings", "check", out, "--strict").returncode == 1


def test_check_with_the_wrong_certificate_password_fails(tmp_path: Path) -> None:
    """A CERT_PASSWORD that does not open the certificate fails the check without showing it."""
    pf = tmp_path / "pf_auth.cs"
    pf.write_text(pf_auth("ABCDEFGHIJKL", "3f2a9c0d" * 4, "WRONGPASSWORD123"), encoding="utf-8")
    out = tmp_path / "MfaSettings.xml"
    assert run(*build_args(pf, out)).returncode == 0
    done = run("settings", "check", out, "--cert", EXAMPLE_P12)
    assert done.returncode == 1
    assert "cert-opens" in done.stdout
    assert "WRONGPASSWORD123" not in done.stdout + done.stderr


def test_version() -> None:
    """`--version` prints the installed version."""
    from importlib.metadata import version

    done = run("--version")
    assert done.returncode == 0
    assert version("pyampam") in done.stdout


def _invoke(args: list[str]) -> tuple[int, str]:
    """Run the CLI in this process; return the exit code and everything printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue() + err.getvalue()


SECRET = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S"), exclude_characters='"'),
    min_size=8,
    max_size=24,
).filter(lambda s: s.strip() == s and len(set(s)) > 3)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(license_key=SECRET, group_key=SECRET, password=SECRET)
def test_random_secrets_never_reach_cli_output(
    tmp_path: Path, license_key: str, group_key: str, password: str
) -> None:
    """Whatever the secrets, build, show, check and errors never print them (unless --reveal)."""
    case = tmp_path / f"case{abs(hash((license_key, group_key, password)))}"
    case.mkdir()
    pf = case / "pf_auth.cs"
    pf.write_text(pf_auth(license_key, group_key, password), encoding="utf-8")
    out = case / "MfaSettings.xml"
    printed = []
    code, text = _invoke([str(a) for a in build_args(pf, out)])
    printed.append(text)
    if code == 0:
        for extra in (["settings", "show", str(out)], ["settings", "show", str(out), "--json"]):
            printed.append(_invoke(extra)[1])
        printed.append(_invoke(["settings", "check", str(out), "--cert", str(EXAMPLE_P12)])[1])
        revealed = _invoke(["settings", "show", str(out), "--reveal"])[1]
        assert license_key in revealed
    everything = "\n".join(printed)
    for secret in (license_key, group_key, password):
        assert secret not in everything
