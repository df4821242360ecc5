"""check_settings: one finding per check, with real certificates and real file modes."""

from __future__ import annotations

import datetime as dt
import json
import os
import string
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pki import ec_key, make_certificate, make_pkcs12
from pyampam.exceptions import InvalidValueError
from pyampam.settings import Finding, MfaMode, MfaSettings, SdkCredentials, Severity, check_settings

UTC = dt.timezone.utc
NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
LICENSE_KEY = "Q7RK2M9XT4BW"
GROUP_KEY = "6f1c9e2a4b7d8e0f3a5c7b9d1e2f4a6c"
PASSWORD = "H3NX8KQ2ZT5RW9MB"
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")

KEY = ec_key()


def _p12(
    *,
    not_before: dt.datetime = NOW - dt.timedelta(days=100),
    not_after: dt.datetime = NOW + dt.timedelta(days=365),
    password: str = PASSWORD,
) -> bytes:
    certificate = make_certificate(KEY, not_before=not_before, not_after=not_after)
    return make_pkcs12(password, key=KEY, certificate=certificate)


GOOD_P12 = _p12()


def _settings(
    cert_file_path: str = r"C:\MIM\Service\MfaCerts\cert_key.p12", **changes: object
) -> MfaSettings:
    settings = MfaSettings.for_sdk(
        SdkCredentials(LICENSE_KEY, GROUP_KEY, PASSWORD),
        cert_file_path=cert_file_path,
        username="pyampam",
        default_country_code=1,
    )
    return attrs.evolve(settings, **changes)  # type: ignore[arg-type]


def _private_file(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _by_code(findings: list[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.code, []).append(finding)
    return grouped


def _only(findings: list[Finding], code: str) -> Finding:
    (finding,) = _by_code(findings)[code]
    return finding


def _text(findings: list[Finding]) -> str:
    return "\n".join(f"{f.code} {f.element} {f.message}" for f in findings)


@POSIX_ONLY
def test_clean_settings_pass_every_check_in_a_stable_order(tmp_path: Path) -> None:
    """Good settings, certificate and file modes give one OK finding per check, in order."""
    cert = _private_file(tmp_path / "cert_key.p12", GOOD_P12)
    xml = tmp_path / "MfaSettings.xml"
    settings_obj = _settings(str(cert))
    _private_file(xml, settings_obj.to_xml())
    findings = check_settings(settings_obj, settings_path=xml, now=NOW)
    assert [f.code for f in findings] == [
        "required-element",
        "placeholder",
        "value-shape",
        "cert-path",
        "default-country-code",
        "cert-file",
        "cert-opens",
        "cert-key-match",
        "cert-validity",
        "cert-file-mode",
        "settings-file-mode",
    ]
    assert {f.severity for f in findings} == {Severity.OK}, _text(findings)
    assert check_settings(settings_obj, settings_path=xml, now=NOW) == findings


def test_missing_elements_are_errors_naming_each_element() -> None:
    """Every element the SDK mode needs and lacks is one ERROR naming it."""
    findings = check_settings(MfaSettings(mode=MfaMode.SDK), now=NOW)
    missing = _by_code(findings)["required-element"]
    assert {f.element for f in missing} == {
        "LICENSE_KEY",
        "GROUP_KEY",
        "CERT_PASSWORD",
        "CertFilePath",
        "Username",
        "DefaultCountryCode",
    }
    assert all(f.severity is Severity.ERROR for f in missing)
    assert "pf_auth.cs" in next(f.message for f in missing if f.element == "LICENSE_KEY")
    assert _only(findings, "cert-file").severity is Severity.WARNING
    assert "cert-opens" not in _by_code(findings)


@pytest.mark.parametrize(
    ("element", "field", "value"),
    [
        ("LICENSE_KEY", "license_key", "YOUR_LICENSE_KEY"),
        ("LICENSE_KEY", "license_key", "<Enter key here>"),
        ("LICENSE_KEY", "license_key", "LICENSE_KEY"),
        ("GROUP_KEY", "group_key", "your group key"),
        ("GROUP_KEY", "group_key", "[GROUP KEY]"),
        ("GROUP_KEY", "group_key", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("CERT_PASSWORD", "cert_password", "PUT_PASSWORD_HERE"),
        ("CERT_PASSWORD", "cert_password", "changeme"),
        ("CertFilePath", "cert_file_path", r"C:\path\to\cert_key.p12"),
        ("Username", "username", "<user name>"),
    ],
)
def test_placeholders_are_errors(element: str, field: str, value: str) -> None:
    """A value left as a placeholder is an ERROR naming the element, without echoing it."""
    findings = check_settings(_settings(**{field: value}), now=NOW)
    placeholder = _only(findings, "placeholder")
    assert placeholder.severity is Severity.ERROR
    assert placeholder.element == element
    if value != element:  # an element's own name as its value shows up as the element name
        assert value not in _text(findings)
    assert all(
        f.element != element
        for f in _by_code(findings)["value-shape"]
        if f.severity is not Severity.OK
    )


@settings(max_examples=50)
@given(
    license_key=st.text(string.ascii_uppercase + string.digits, min_size=12, max_size=12),
    group_key=st.text("0123456789abcdefABCDEF", min_size=32, max_size=32),
    password=st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16),
)
def test_published_shapes_are_never_placeholders(
    license_key: str, group_key: str, password: str
) -> None:
    """Values in the published SDK's shapes pass the placeholder and shape checks."""
    findings = check_settings(
        _settings(license_key=license_key, group_key=group_key, cert_password=password), now=NOW
    )
    assert _only(findings, "placeholder").severity is Severity.OK
    assert _only(findings, "value-shape").severity is Severity.OK


@pytest.mark.parametrize(
    ("field", "value", "element"),
    [
        ("license_key", "q7rk2m9xt4bw", "LICENSE_KEY"),
        ("license_key", "Q7RK2M9XT4BW77", "LICENSE_KEY"),
        ("group_key", "6f1c9e2a-4b7d-8e0f-3a5c-7b9d1e2f4a6c", "GROUP_KEY"),
        ("cert_password", "H3NX8KQ2ZT5RW9M", "CERT_PASSWORD"),
        ("cert_password", "h3nx8kq2zt5rw9mb", "CERT_PASSWORD"),
        ("cert_password", " H3NX8KQ2ZT5RW9MB", "CERT_PASSWORD"),
    ],
)
def test_unusual_value_shapes_are_warnings_only(field: str, value: str, element: str) -> None:
    """A key or password unlike the published SDK's is a WARNING (forks exist), not an ERROR."""
    findings = check_settings(_settings(**{field: value}), now=NOW)
    shape = _only(findings, "value-shape")
    assert shape.severity is Severity.WARNING
    assert shape.element == element
    assert value.strip() not in _text(findings)


def test_cert_path_that_is_not_local_is_a_warning_that_it_was_not_checked() -> None:
    """A Windows CertFilePath absent here gives a WARNING and no certificate findings."""
    findings = check_settings(_settings(), now=NOW)
    assert _only(findings, "cert-path").severity is Severity.OK
    not_here = _only(findings, "cert-file")
    assert not_here.severity is Severity.WARNING
    assert "could not be checked from here" in not_here.message
    assert not {"cert-opens", "cert-validity", "cert-file-mode"} & set(_by_code(findings))


@pytest.mark.parametrize(
    ("path", "severity"),
    [
        ("MfaCerts\\cert_key.p12", Severity.WARNING),
        ("'C:\\MIM\\Service\\MfaCerts\\cert_key.p12'", Severity.ERROR),
        ("\\\\server\\share\\cert_key.p12", Severity.OK),
        ("/srv/mim/MfaCerts/cert_key.p12", Severity.OK),
    ],
)
def test_cert_path_shape(path: str, severity: Severity) -> None:
    """CertFilePath must be a full path and unquoted (MIM: 'Illegal characters in path')."""
    finding = _only(check_settings(_settings(path), now=NOW), "cert-path")
    assert finding.severity is severity
    assert finding.element == "CertFilePath"


@pytest.mark.parametrize(
    ("code", "severity", "text"),
    [
        (1, Severity.OK, "US"),
        (44, Severity.OK, "GB"),
        (999, Severity.WARNING, "not an assigned"),
        (800, Severity.WARNING, "non-geographic"),
    ],
)
def test_default_country_code(code: int, severity: Severity, text: str) -> None:
    """DefaultCountryCode must be an assigned, geographic country calling code."""
    finding = _only(
        check_settings(_settings(default_country_code=code), now=NOW), "default-country-code"
    )
    assert finding.severity is severity
    assert text in finding.message


def test_certificate_given_as_bytes_is_checked_without_a_file_mode() -> None:
    """`cert=` bytes are opened and judged; there is no file whose mode could be checked."""
    findings = check_settings(_settings(), cert=GOOD_P12, now=NOW)
    codes = _by_code(findings)
    assert codes["cert-opens"][0].severity is Severity.OK
    assert codes["cert-validity"][0].severity is Severity.OK
    assert "cert-file-mode" not in codes


def test_certificate_given_as_path_overrides_cert_file_path(tmp_path: Path) -> None:
    """`cert=` a path is read instead of CertFilePath (which need not exist here)."""
    cert = _private_file(tmp_path / "copy.p12", GOOD_P12)
    findings = check_settings(_settings(), cert=cert, now=NOW)
    assert str(cert) in _only(findings, "cert-file").message
    assert _only(findings, "cert-opens").severity is Severity.OK


def test_unreadable_certificate_path_is_an_error(tmp_path: Path) -> None:
    """A `cert=` path that cannot be read is an ERROR, and nothing further is tried."""
    findings = check_settings(_settings(), cert=tmp_path / "missing.p12", now=NOW)
    assert _only(findings, "cert-file").severity is Severity.ERROR
    assert "cert-opens" not in _by_code(findings)


def test_wrong_password_is_an_error_without_the_password() -> None:
    """A certificate the password does not open is an ERROR; neither password is shown."""
    other = _p12(password="ZZZZ9999YYYY8888")
    findings = check_settings(_settings(), cert=other, now=NOW)
    opens = _only(findings, "cert-opens")
    assert opens.severity is Severity.ERROR
    assert opens.element == "CERT_PASSWORD"
    assert "check CERT_PASSWORD in pf_auth.cs" in opens.message
    assert PASSWORD not in _text(findings)
    assert "ZZZZ9999YYYY8888" not in _text(findings)
    assert not {"cert-key-match", "cert-validity"} & set(_by_code(findings))


def test_data_that_is_not_pkcs12_is_an_error() -> None:
    """Bytes that are no PKCS#12 at all give an ERROR at cert-opens."""
    finding = _only(check_settings(_settings(), cert=b"not a certificate", now=NOW), "cert-opens")
    assert finding.severity is Severity.ERROR
    assert "not a PKCS#12" in finding.message


def test_empty_password_means_the_certificate_cannot_be_tried() -> None:
    """With CERT_PASSWORD empty the certificate is not tried (a WARNING next to the ERROR)."""
    findings = check_settings(_settings(cert_password=""), cert=GOOD_P12, now=NOW)
    assert _only(findings, "cert-opens").severity is Severity.WARNING
    assert any(f.element == "CERT_PASSWORD" for f in _by_code(findings)["required-element"])


def test_key_not_matching_the_certificate_is_an_error() -> None:
    """A key that belongs to no certificate in the file is an ERROR at cert-key-match."""
    stranger = make_certificate(
        ec_key(), not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=400)
    )
    mismatched = make_pkcs12(PASSWORD, key=KEY, certificate=None, additional=(stranger,))
    findings = check_settings(_settings(), cert=mismatched, now=NOW)
    assert _only(findings, "cert-opens").severity is Severity.OK
    assert _only(findings, "cert-key-match").severity is Severity.ERROR


@pytest.mark.parametrize(
    ("not_before", "not_after", "severity", "text"),
    [
        (NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=1), Severity.ERROR, "expired on"),
        (NOW - dt.timedelta(days=400), NOW, Severity.ERROR, "expired on"),
        (NOW - dt.timedelta(days=300), NOW + dt.timedelta(days=10), Severity.WARNING, "in 10 days"),
        (
            NOW - dt.timedelta(days=300),
            NOW + dt.timedelta(days=29, hours=23),
            Severity.WARNING,
            "in 29 days",
        ),
        (NOW - dt.timedelta(days=300), NOW + dt.timedelta(days=30), Severity.OK, "valid until"),
        (
            NOW + dt.timedelta(days=2),
            NOW + dt.timedelta(days=400),
            Severity.ERROR,
            "not valid before",
        ),
    ],
)
def test_certificate_validity(
    not_before: dt.datetime, not_after: dt.datetime, severity: Severity, text: str
) -> None:
    """Expired or not yet valid is an ERROR; expiring within 30 days is a WARNING."""
    data = _p12(not_before=not_before, not_after=not_after)
    finding = _only(check_settings(_settings(), cert=data, now=NOW), "cert-validity")
    assert finding.severity is severity
    assert text in finding.message


def test_now_defaults_to_the_current_time() -> None:
    """Without `now`, validity is judged at the current time (this certificate has expired)."""
    data = _p12(not_before=NOW.replace(year=2001), not_after=NOW.replace(year=2002))
    assert _only(check_settings(_settings(), cert=data), "cert-validity").severity is Severity.ERROR


def test_naive_now_is_refused() -> None:
    """A naive `now` is refused rather than guessed at."""
    with pytest.raises(InvalidValueError, match="timezone-aware"):
        check_settings(_settings(), now=dt.datetime(2030, 1, 1))


@POSIX_ONLY
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o010])
def test_certificate_readable_by_others_is_an_error(tmp_path: Path, mode: int) -> None:
    """A certificate file others may use is an ERROR whose fix is `chmod 600`."""
    cert = _private_file(tmp_path / "cert key.p12", GOOD_P12, mode)
    finding = _only(check_settings(_settings(str(cert)), now=NOW), "cert-file-mode")
    assert finding.severity is Severity.ERROR
    assert f"chmod 600 '{cert}'" in finding.message
    assert f"{mode:04o}" in finding.message


@POSIX_ONLY
def test_settings_file_readable_by_others_is_an_error(tmp_path: Path) -> None:
    """An MfaSettings.xml others may read is an ERROR; an owner-only one is OK."""
    xml = _private_file(tmp_path / "MfaSettings.xml", b"<MfaSettings/>", 0o644)
    finding = _only(check_settings(_settings(), settings_path=xml, now=NOW), "settings-file-mode")
    assert finding.severity is Severity.ERROR
    assert "chmod 600" in finding.message
    assert finding.element is None
    xml.chmod(0o600)
    finding = _only(
        check_settings(_settings(), settings_path=str(xml), now=NOW), "settings-file-mode"
    )
    assert finding.severity is Severity.OK


@POSIX_ONLY
def test_missing_settings_file_is_an_error(tmp_path: Path) -> None:
    """A settings_path that does not exist cannot be judged: an ERROR saying so."""
    finding = _only(
        check_settings(_settings(), settings_path=tmp_path / "nope.xml", now=NOW),
        "settings-file-mode",
    )
    assert finding.severity is Severity.ERROR
    assert "Cannot check" in finding.message


@pytest.mark.parametrize(
    ("url", "severity"),
    [
        ("https://mfa.example.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx", Severity.OK),
        ("http://mfa.example.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx", Severity.WARNING),
        ("https://mfa.example.com/somewhere/else", Severity.WARNING),
    ],
)
def test_mfa_server_mode_checks_the_url_and_not_the_certificate(
    url: str, severity: Severity
) -> None:
    """In MFA Server mode LOCMFASRV is judged; SDK-only checks do not run."""
    findings = check_settings(
        MfaSettings.for_mfa_server(username="svc-mim@corp.example", server_url=url),
        cert=GOOD_P12,
        now=NOW,
    )
    codes = _by_code(findings)
    assert max(f.severity for f in codes["mfa-server-url"]) is severity
    assert codes["required-element"][0].severity is Severity.OK
    assert not {"cert-opens", "value-shape", "default-country-code"} & set(codes)


def test_mfa_server_url_is_never_echoed() -> None:
    """LOCMFASRV may hold credentials, so no finding repeats it."""
    url = "http://admin:Hunter2Secret@mfa.example.com/PfWsSdk.asmx"
    findings = check_settings(MfaSettings.for_mfa_server(username="svc", server_url=url), now=NOW)
    assert "Hunter2Secret" not in _text(findings)


def test_custom_provider_mode_checks_elements_only() -> None:
    """In custom provider mode only the elements and placeholders are checked."""
    findings = check_settings(MfaSettings.for_custom_provider(r"C:\MIM\Provider.dll"), now=NOW)
    assert [f.code for f in findings] == ["required-element", "placeholder"]
    assert {f.severity for f in findings} == {Severity.OK}


def test_severity_orders_ok_warning_error() -> None:
    """Severities are ordered, so max() of the findings gives the verdict."""
    assert Severity.OK < Severity.WARNING < Severity.ERROR
    assert max([Severity.WARNING, Severity.ERROR, Severity.OK]) is Severity.ERROR
    assert sorted([Severity.ERROR, Severity.OK]) == [Severity.OK, Severity.ERROR]
    assert [s.value for s in Severity] == ["ok", "warning", "error"]


def test_finding_is_a_validated_frozen_value() -> None:
    """A Finding is immutable and refuses codes that are not short lower-case ids."""
    finding = Finding(Severity.OK, "cert-opens", "fine")
    assert finding.element is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        finding.code = "x"  # type: ignore[misc]
    with pytest.raises(InvalidValueError):
        Finding(Severity.OK, "Cert Opens", "fine")
    with pytest.raises(TypeError):
        Finding("ok", "cert-opens", "fine")  # type: ignore[arg-type]


_SECRETS = st.text(
    string.ascii_uppercase + string.digits + string.ascii_lowercase, min_size=10, max_size=40
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(license_key=_SECRETS, group_key=_SECRETS, password=_SECRETS, wrong=st.booleans())
def test_secrets_never_appear_in_findings(
    tmp_path: Path, license_key: str, group_key: str, password: str, wrong: bool
) -> None:
    """Whatever the keys and password, no finding's message or element contains them."""
    cert = _private_file(
        tmp_path / "cert_key.p12", GOOD_P12 if wrong else _p12(password=password), 0o644
    )
    findings = check_settings(
        _settings(str(cert), license_key=license_key, group_key=group_key, cert_password=password),
        now=NOW,
    )
    text = _text(findings) + repr(findings)
    for secret in (license_key, group_key, password):
        assert secret not in text


def test_importing_check_and_install_stays_light() -> None:
    """The check and install modules load neither cryptography nor phonenumbers on import."""
    code = (
        "import sys, json, pyampam.settings._check, pyampam.settings._install; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert not {"cryptography", "phonenumbers"} & set(json.loads(out.stdout))


def test_value_shape_judges_nothing_when_no_credential_is_set() -> None:
    """A file as MIM ships it (all empty) gets no value-shape finding, not a false OK."""
    findings = check_settings(MfaSettings(mode=MfaMode.SDK), now=NOW)
    assert [f for f in findings if f.code == "value-shape"] == []
    assert any(f.code == "required-element" and f.severity is Severity.ERROR for f in findings)
