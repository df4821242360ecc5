"""install_sdk: real SDK ZIPs made in tmp_path, hostile ones included, and the shipped example."""

from __future__ import annotations

import importlib.util
import io
import os
import stat
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pki import ec_key, make_client_pkcs12
from pyampam.exceptions import SettingsError
from pyampam.settings import (
    MfaSettings,
    Severity,
    check_settings,
    install_sdk,
    load_pkcs12,
    parse_pf_auth,
    read_mfa_settings,
)

LICENSE_KEY = "T8WQ3ZK5MV2N"
GROUP_KEY = "c4a9e1f07b3d5a8c2e6f9b1d4a7c0e3f"
PASSWORD = "R2JD7XK9QW4NT6PB"
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _pf_auth(license_key: str = LICENSE_KEY, password: str = PASSWORD) -> bytes:
    return (
        "public static class pf_auth\r\n{\r\n"
        f'    private const string LICENSE_KEY = "{license_key}";\r\n'
        f'    private const string GROUP_KEY = "{GROUP_KEY}";\r\n'
        f'    private const string CERT_PASSWORD = "{password}";\r\n'
        "}\r\n"
    ).encode()


P12 = make_client_pkcs12(PASSWORD, key=ec_key())
GOOD = {"pf/pf_auth.cs": _pf_auth(), "pf/certs/cert_key.p12": P12}


def _zip(
    path: Path,
    members: dict[str, bytes] | Iterable[tuple[str, bytes]],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    items = members.items() if isinstance(members, dict) else members
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are made on purpose
        with zipfile.ZipFile(path, "w", compression) as archive:
            for name, data in items:
                archive.writestr(name, data)
    return path


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under root, with file contents."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def service(tmp_path: Path) -> Path:
    folder = tmp_path / "mim" / "Service"
    folder.mkdir(parents=True)
    return folder


def _install(zip_path: Path, service: Path, **options: str) -> MfaSettings:
    return install_sdk(zip_path, service, default_country_code=1, **options)


def _refused(zip_path: Path, service: Path, match: str) -> SettingsError:
    """Install must fail with `match` and leave the service folder empty."""
    with pytest.raises(SettingsError, match=match) as raised:
        _install(zip_path, service)
    assert list(service.iterdir()) == []
    assert PASSWORD not in str(raised.value)
    return raised.value


# --- the normal procedure ----------------------------------------------------------------------


def test_installs_certificate_and_settings(tmp_path: Path, service: Path) -> None:
    """The certificate goes to MfaCerts and MfaSettings.xml is written from pf_auth.cs."""
    settings_obj = install_sdk(
        str(_zip(tmp_path / "sdk.zip", GOOD)), str(service), default_country_code=44, username="svc"
    )
    cert = service / "MfaCerts" / "cert_key.p12"
    assert cert.read_bytes() == P12
    assert settings_obj.cert_file_path == str(cert)
    assert Path(settings_obj.cert_file_path).is_absolute()
    credentials = settings_obj.credentials
    assert (credentials.license_key, credentials.group_key, credentials.cert_password) == (
        LICENSE_KEY,
        GROUP_KEY,
        PASSWORD,
    )
    assert (settings_obj.username, settings_obj.default_country_code) == ("svc", 44)
    assert read_mfa_settings(service / "MfaSettings.xml") == settings_obj
    assert sorted(p.name for p in service.iterdir()) == ["MfaCerts", "MfaSettings.xml"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@POSIX_ONLY
def test_written_files_are_owner_only(tmp_path: Path, service: Path) -> None:
    """The certificate and MfaSettings.xml are 0600 and the new MfaCerts folder is 0700."""
    _install(_zip(tmp_path / "sdk.zip", GOOD), service)
    assert _mode(service / "MfaCerts") == 0o700
    assert _mode(service / "MfaCerts" / "cert_key.p12") == 0o600
    assert _mode(service / "MfaSettings.xml") == 0o600


def test_default_username(tmp_path: Path, service: Path) -> None:
    """Without a username the SDK's 'any user name' is pyampam."""
    assert _install(_zip(tmp_path / "sdk.zip", GOOD), service).username == "pyampam"


def test_one_wrapping_folder_is_tolerated(tmp_path: Path, service: Path) -> None:
    """pf/ inside one top-level folder (a re-zipped download) installs the same."""
    wrapped = {f"AzureMfaSdk/{name}": data for name, data in GOOD.items()}
    wrapped["AzureMfaSdk/readme.txt"] = b"hello"
    _install(_zip(tmp_path / "sdk.zip", wrapped), service)
    assert (service / "MfaCerts" / "cert_key.p12").read_bytes() == P12


def test_names_match_case_insensitively_and_with_backslashes(tmp_path: Path, service: Path) -> None:
    """Windows-made ZIPs with other case or backslash separators are understood."""
    members = {"PF\\PF_AUTH.CS": _pf_auth(), "Pf\\Certs\\Cert_Key.P12": P12}
    _install(_zip(tmp_path / "sdk.zip", members), service)
    assert (service / "MfaCerts" / "cert_key.p12").read_bytes() == P12


def test_existing_files_are_backed_up(tmp_path: Path, service: Path) -> None:
    """An existing MfaSettings.xml and certificate are kept as owner-only backups."""
    (service / "MfaSettings.xml").write_bytes(b"<MfaSettings>old</MfaSettings>")
    (service / "MfaCerts").mkdir()
    (service / "MfaCerts" / "cert_key.p12").write_bytes(b"old certificate")
    _install(_zip(tmp_path / "sdk.zip", GOOD), service)
    (xml_backup,) = service.glob("MfaSettings.xml.*.bak")
    (cert_backup,) = (service / "MfaCerts").glob("cert_key.p12.*.bak")
    assert xml_backup.read_bytes() == b"<MfaSettings>old</MfaSettings>"
    assert cert_backup.read_bytes() == b"old certificate"
    assert read_mfa_settings(service / "MfaSettings.xml").license_key == LICENSE_KEY
    if os.name == "posix":
        assert stat.S_IMODE(xml_backup.stat().st_mode) == 0o600


def test_cert_dir_option_gives_an_absolute_cert_file_path(
    tmp_path: Path, service: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative cert_dir is used as given and CertFilePath records its absolute path."""
    monkeypatch.chdir(tmp_path)
    settings_obj = _install(_zip(tmp_path / "sdk.zip", GOOD), service, cert_dir="certs/mfa")
    expected = tmp_path / "certs" / "mfa" / "cert_key.p12"
    assert settings_obj.cert_file_path == str(expected)
    assert expected.read_bytes() == P12
    assert not (service / "MfaCerts").exists()


def test_installed_settings_check_clean(tmp_path: Path, service: Path) -> None:
    """What install writes passes every check of check_settings."""
    settings_obj = install_sdk(_zip(tmp_path / "sdk.zip", GOOD), service, default_country_code=1)
    findings = check_settings(settings_obj, settings_path=service / "MfaSettings.xml")
    assert {f.severity for f in findings} == {Severity.OK}, findings


# --- hostile and broken ZIPs -------------------------------------------------------------------


def test_unsafe_entries_are_never_read_or_written(tmp_path: Path, service: Path) -> None:
    """Entries with '..' or absolute names are ignored: the safe pf/ is used, nothing escapes."""
    decoy_p12 = make_client_pkcs12("DECOYDECOYDECOY1")
    decoy = _pf_auth(license_key="DECOY0000000", password="DECOYDECOYDECOY1")
    members = [
        ("../evil.txt", b"evil"),
        ("../pf/pf_auth.cs", decoy),
        ("../pf/certs/cert_key.p12", decoy_p12),
        ("/etc/pf/pf_auth.cs", decoy),
        ("C:\\pf\\pf_auth.cs", decoy),
        ("..\\pf\\certs\\cert_key.p12", decoy_p12),
        ("MfaCerts/../../evil.txt", b"evil"),
        *GOOD.items(),
    ]
    zip_path = _zip(tmp_path / "zips" / "sdk.zip", members)
    before = _tree(tmp_path)
    settings_obj = _install(zip_path, service)
    assert settings_obj.license_key == LICENSE_KEY
    assert (service / "MfaCerts" / "cert_key.p12").read_bytes() == P12
    after = _tree(tmp_path)
    changed = {name for name in after if before.get(name, b"") != after[name]}
    service_prefix = str(service.relative_to(tmp_path))
    assert changed, "install wrote nothing"
    assert all(name.startswith(service_prefix) for name in changed), changed
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "zips" / "evil.txt").exists()


@pytest.mark.parametrize(
    "unsafe_name",
    [
        "../pf/pf_auth.cs",
        "..\\pf\\pf_auth.cs",
        "/pf/pf_auth.cs",
        "\\pf\\pf_auth.cs",
        "C:\\pf\\pf_auth.cs",
        "C:/pf/pf_auth.cs",
        "sdk/../pf/pf_auth.cs",
    ],
)
def test_only_candidate_with_unsafe_name_is_refused(
    tmp_path: Path, service: Path, unsafe_name: str
) -> None:
    """If the only pf_auth.cs has an unsafe name, install refuses and says why."""
    members = {unsafe_name: _pf_auth(), "pf/certs/cert_key.p12": P12}
    error = _refused(_zip(tmp_path / "sdk.zip", members), service, "unsafe name")
    assert repr(unsafe_name) in error.message
    assert error.path == str(tmp_path / "sdk.zip")


def test_declared_size_over_the_cap_is_refused(tmp_path: Path, service: Path) -> None:
    """A member declaring more than a few MiB (a zip bomb) is refused before it is inflated."""
    bomb = _pf_auth() + b"//" + b" " * (5 * 1024 * 1024)
    members = {"pf/pf_auth.cs": bomb, "pf/certs/cert_key.p12": P12}
    zip_path = _zip(tmp_path / "sdk.zip", members)
    assert zip_path.stat().st_size < 100_000
    error = _refused(zip_path, service, "zip bomb")
    assert "pf/pf_auth.cs" in error.message


def _patch_member(zip_path: Path, name: str, *, size: int | None = None, flags: int = 0) -> None:
    """Change a member's declared size and/or flag bits in both of its ZIP headers."""
    data = bytearray(zip_path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        local = archive.getinfo(name).header_offset
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    # (header offset, offset of the flag bits, offset of the uncompressed size) per header
    for header, flag_at, size_at in ((local, 6, 22), (central, 8, 24)):
        if size is not None:
            struct.pack_into("<I", data, header + size_at, size)
        old = struct.unpack_from("<H", data, header + flag_at)[0]
        struct.pack_into("<H", data, header + flag_at, old | flags)
    zip_path.write_bytes(bytes(data))


def test_declared_size_alone_is_enough_to_refuse(tmp_path: Path, service: Path) -> None:
    """A member is refused on its declared size alone, before any of it is inflated."""
    zip_path = _zip(tmp_path / "sdk.zip", GOOD)
    _patch_member(zip_path, "pf/certs/cert_key.p12", size=64 * 1024 * 1024)
    error = _refused(zip_path, service, "zip bomb")
    assert "pf/certs/cert_key.p12" in error.message


def test_member_larger_than_declared_is_refused(tmp_path: Path, service: Path) -> None:
    """A member whose data inflates past its declared size is not trusted: refused as damaged."""
    zip_path = _zip(tmp_path / "sdk.zip", GOOD)
    _patch_member(zip_path, "pf/pf_auth.cs", size=10)
    error = _refused(zip_path, service, "damaged")
    assert "pf/pf_auth.cs" in error.message


def test_encrypted_member_is_refused(tmp_path: Path, service: Path) -> None:
    """A member marked as encrypted is refused with a message naming it."""
    zip_path = _zip(tmp_path / "sdk.zip", GOOD)
    _patch_member(zip_path, "pf/certs/cert_key.p12", flags=0x1)
    _refused(zip_path, service, "pf/certs/cert_key.p12 is encrypted")


def test_corrupt_member_data_is_refused(tmp_path: Path, service: Path) -> None:
    """A member whose bytes fail the CRC check is refused, naming the ZIP and the member."""
    zip_path = _zip(tmp_path / "sdk.zip", GOOD, compression=zipfile.ZIP_STORED)
    data = bytearray(zip_path.read_bytes())
    at = data.index(P12[100:140])
    data[at] ^= 0xFF
    zip_path.write_bytes(bytes(data))
    error = _refused(zip_path, service, "cert_key.p12 cannot be read")
    assert error.path == str(zip_path)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a zip", b"PK\x03\x04" + b"\x00" * 40],
)
def test_not_a_zip_is_refused(tmp_path: Path, service: Path, content: bytes) -> None:
    """A file that is not a ZIP is refused, naming the file."""
    zip_path = tmp_path / "sdk.zip"
    zip_path.write_bytes(content)
    assert _refused(zip_path, service, "not a ZIP file").path == str(zip_path)


def test_truncated_zip_is_refused(tmp_path: Path, service: Path) -> None:
    """A download cut short is refused as not a ZIP or damaged."""
    zip_path = _zip(tmp_path / "sdk.zip", GOOD)
    zip_path.write_bytes(zip_path.read_bytes()[:-30])
    _refused(zip_path, service, "damaged")


def test_missing_zip_file_is_refused(tmp_path: Path, service: Path) -> None:
    """A ZIP path that does not exist is a SettingsError naming it."""
    error = _refused(tmp_path / "nope.zip", service, "cannot read the SDK ZIP")
    assert error.path == str(tmp_path / "nope.zip")


@pytest.mark.parametrize(
    ("members", "missing"),
    [
        ({"pf/certs/cert_key.p12": P12}, "pf/pf_auth.cs"),
        ({"pf/pf_auth.cs": _pf_auth()}, "pf/certs/cert_key.p12"),
        ({"pf/pf_auth.cs": _pf_auth(), "certs/cert_key.p12": P12}, "pf/certs/cert_key.p12"),
        ({"readme.txt": b"hi"}, "pf/pf_auth.cs"),
    ],
)
def test_missing_members_are_refused(
    tmp_path: Path, service: Path, members: dict[str, bytes], missing: str
) -> None:
    """A ZIP without pf_auth.cs or cert_key.p12 is refused, naming the missing member."""
    assert missing in _refused(_zip(tmp_path / "sdk.zip", members), service, "has no").message


def test_too_deeply_nested_sdk_is_refused(tmp_path: Path, service: Path) -> None:
    """pf/ two folders deep is not taken for the SDK, and the message says where it was seen."""
    members = {f"a/b/{name}": data for name, data in GOOD.items()}
    error = _refused(_zip(tmp_path / "sdk.zip", members), service, "inside one folder")
    assert "a/b/pf/pf_auth.cs" in error.message


@pytest.mark.parametrize(
    ("roots", "match"),
    [
        (("one/", "two/"), "more than one SDK"),
        (("", "copy/"), "more than one SDK"),
        (("", ""), "more than once"),
    ],
)
def test_ambiguous_zip_is_refused(
    tmp_path: Path, service: Path, roots: tuple[str, str], match: str
) -> None:
    """Two SDKs, or one member stored twice, is ambiguous: refused rather than guessed."""
    members = [(root + name, data) for root in roots for name, data in GOOD.items()]
    _refused(_zip(tmp_path / "sdk.zip", members), service, match)


def test_members_in_different_folders_are_refused(tmp_path: Path, service: Path) -> None:
    """pf_auth.cs and cert_key.p12 under different wrapping folders do not belong together."""
    members = {"a/pf/pf_auth.cs": _pf_auth(), "b/pf/certs/cert_key.p12": P12}
    _refused(_zip(tmp_path / "sdk.zip", members), service, "different folders")


def test_wrong_password_writes_nothing(tmp_path: Path, service: Path) -> None:
    """If CERT_PASSWORD does not open the certificate, no file or folder is created."""
    members = {"pf/pf_auth.cs": _pf_auth(password="W7W7W7W7W7W7W7W7"), "pf/certs/cert_key.p12": P12}
    error = _refused(_zip(tmp_path / "sdk.zip", members), service, "CERT_PASSWORD")
    assert error.key == "CERT_PASSWORD"
    assert error.path == f"{tmp_path / 'sdk.zip'}!pf/certs/cert_key.p12"
    assert "W7W7W7W7W7W7W7W7" not in str(error)


def test_broken_pf_auth_is_located_inside_the_zip(tmp_path: Path, service: Path) -> None:
    """A pf_auth.cs without LICENSE_KEY is refused with the ZIP member as its path."""
    members = {"pf/pf_auth.cs": b"public static class pf_auth { }", "pf/certs/cert_key.p12": P12}
    error = _refused(_zip(tmp_path / "sdk.zip", members), service, "LICENSE_KEY")
    assert error.path == f"{tmp_path / 'sdk.zip'}!pf/pf_auth.cs"


def test_certificate_without_key_is_refused(tmp_path: Path, service: Path) -> None:
    """A cert_key.p12 that holds no private key is refused and nothing is written."""
    from pki import make_certificate, make_pkcs12

    only_cert = make_pkcs12(PASSWORD, key=None, certificate=make_certificate(ec_key()))
    members = {"pf/pf_auth.cs": _pf_auth(), "pf/certs/cert_key.p12": only_cert}
    _refused(_zip(tmp_path / "sdk.zip", members), service, "no private key")


def test_key_not_matching_certificate_is_refused(tmp_path: Path, service: Path) -> None:
    """A cert_key.p12 whose key belongs to none of its certificates is refused."""
    from pki import make_certificate, make_pkcs12

    mismatched = make_pkcs12(
        PASSWORD, key=ec_key(), certificate=None, additional=(make_certificate(ec_key()),)
    )
    members = {"pf/pf_auth.cs": _pf_auth(), "pf/certs/cert_key.p12": mismatched}
    _refused(_zip(tmp_path / "sdk.zip", members), service, "does not belong")


@pytest.mark.parametrize("code", [0, 1000, -1])
def test_invalid_country_code_writes_nothing(tmp_path: Path, service: Path, code: int) -> None:
    """A country code MIM cannot use is refused before anything is written."""
    with pytest.raises(SettingsError, match="DefaultCountryCode"):
        install_sdk(_zip(tmp_path / "sdk.zip", GOOD), service, default_country_code=code)
    assert list(service.iterdir()) == []


def test_missing_service_folder_is_created_owner_only(tmp_path: Path) -> None:
    """A missing service folder whose parent exists is created (0700 on POSIX)."""
    service = tmp_path / "mim-service"
    _install(_zip(tmp_path / "sdk.zip", GOOD), service)
    assert (service / "MfaSettings.xml").is_file()
    if os.name == "posix":
        assert _mode(service) == 0o700


def test_service_folder_without_parent_is_refused(tmp_path: Path) -> None:
    """Only the last folder is created: a missing parent (a typo further up) is refused."""
    with pytest.raises(SettingsError, match="nor its parent exists"):
        _install(_zip(tmp_path / "sdk.zip", GOOD), tmp_path / "no" / "Service")
    assert not (tmp_path / "no").exists()


def test_service_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """A service_dir that is a file is refused."""
    (tmp_path / "Service").write_bytes(b"")
    with pytest.raises(SettingsError, match="is a file"):
        _install(_zip(tmp_path / "sdk.zip", GOOD), tmp_path / "Service")


def test_nothing_is_created_when_validation_fails(tmp_path: Path) -> None:
    """A missing service folder is not created when the ZIP is refused."""
    members = {
        "pf/pf_auth.cs": _pf_auth(password="W7W7W7W7W7W7W7W7"),
        "pf/certs/cert_key.p12": P12,
    }
    with pytest.raises(SettingsError):
        _install(_zip(tmp_path / "sdk.zip", members), tmp_path / "mim-service")
    assert not (tmp_path / "mim-service").exists()


def test_cert_dir_that_is_a_file_is_refused(tmp_path: Path, service: Path) -> None:
    """A cert_dir that is a file is refused before anything is written."""
    (service / "MfaCerts").write_bytes(b"")
    with pytest.raises(SettingsError, match="is a file"):
        _install(_zip(tmp_path / "sdk.zip", GOOD), service)
    assert sorted(p.name for p in service.iterdir()) == ["MfaCerts"]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=1024) | st.binary(max_size=600).map(lambda b: b"PK\x03\x04" + b))
def test_random_bytes_as_zip_raise_settings_error_only(
    tmp_path: Path, service: Path, data: bytes
) -> None:
    """Arbitrary bytes given as the SDK ZIP give a SettingsError, never another exception."""
    zip_path = tmp_path / "random.zip"
    zip_path.write_bytes(data)
    with pytest.raises(SettingsError):
        _install(zip_path, service)
    assert list(service.iterdir()) == []


_SEGMENTS = st.sampled_from(
    ["pf", "certs", "cert_key.p12", "pf_auth.cs", "..", ".", "", "C:", "x", "PF"]
)


@settings(max_examples=40, deadline=None)
@given(
    extra=st.lists(
        st.tuples(st.lists(_SEGMENTS, min_size=1, max_size=5), st.sampled_from(["/", "\\"])),
        max_size=6,
    )
)
def test_random_member_names_never_escape(extra: list[tuple[list[str], str]]) -> None:
    """Whatever names surround the SDK, install succeeds or refuses, and writes only in service."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        service = root / "a" / "Service"
        service.mkdir(parents=True)
        names = [sep.join(parts) for parts, sep in extra]
        members = [(name, _pf_auth()) for name in names if name] + list(GOOD.items())
        zip_path = _zip(root / "a" / "sdk.zip", members)
        before = _tree(root)
        try:
            _install(zip_path, service)
        except SettingsError:
            assert list(service.iterdir()) == []
        changed = {n for n, v in _tree(root).items() if before.get(n, b"") != v}
        assert all(n.startswith(str(Path("a", "Service"))) for n in changed), changed


# --- the shipped example -----------------------------------------------------------------------


def _make_examples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_zip_installs_and_checks_clean(tmp_path: Path) -> None:
    """examples/azure-mfa-sdk.zip installs and the result passes every check."""
    service = tmp_path / "Service"
    service.mkdir()
    settings_obj = install_sdk(EXAMPLES / "azure-mfa-sdk.zip", service, default_country_code=1)
    findings = check_settings(settings_obj, settings_path=service / "MfaSettings.xml")
    assert {f.severity for f in findings} == {Severity.OK}, findings
    made_up = _make_examples()
    assert settings_obj.license_key == made_up.LICENSE_KEY
    assert settings_obj.group_key == made_up.GROUP_KEY
    assert settings_obj.cert_password == made_up.CERT_PASSWORD


def test_committed_examples_are_what_the_script_produces() -> None:
    """pf_auth.cs and the ZIP equal the script's output; the certificate is one it would keep."""
    made_up = _make_examples()
    pf_auth = (EXAMPLES / "sdk" / "pf" / "pf_auth.cs").read_bytes()
    p12 = (EXAMPLES / "sdk" / "pf" / "certs" / "cert_key.p12").read_bytes()
    assert pf_auth == made_up.render_pf_auth().encode()
    assert made_up.certificate_is_current(p12)
    assert (EXAMPLES / "azure-mfa-sdk.zip").read_bytes() == made_up.build_zip(pf_auth, p12)
    assert "made up" in pf_auth.decode().lower()


def test_example_certificate_looks_like_the_sdk_one() -> None:
    """The example cert_key.p12 is an RSA client certificate, valid for years, that opens."""
    made_up = _make_examples()
    credentials = parse_pf_auth((EXAMPLES / "sdk" / "pf" / "pf_auth.cs").read_bytes())
    loaded = load_pkcs12(
        (EXAMPLES / "sdk" / "pf" / "certs" / "cert_key.p12").read_bytes(), credentials.cert_password
    )
    assert loaded.key_matches_certificate
    assert isinstance(loaded.private_key, rsa.RSAPrivateKey)
    assert loaded.private_key.key_size == 2048
    assert loaded.not_valid_after == made_up.NOT_VALID_AFTER
    assert loaded.not_valid_after.year >= 2035
    example_settings = MfaSettings.for_sdk(
        credentials,
        cert_file_path=r"C:\MIM\Service\MfaCerts\cert_key.p12",
        username="pyampam",
        default_country_code=1,
    )
    findings = check_settings(
        example_settings, cert=(EXAMPLES / "sdk" / "pf" / "certs" / "cert_key.p12").read_bytes()
    )
    assert {f.severity for f in findings} == {Severity.OK}, findings
