"""Install the Azure MFA SDK ZIP into a MIM Service folder in one step, the article's way.

The ZIP is read in memory and never extracted: only ``pf/pf_auth.cs`` and
``pf/certs/cert_key.p12`` are read, entries with unsafe names are never touched, and every
member is size-capped, so a hostile or damaged ZIP can neither write outside the service folder
nor exhaust memory.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pyampam._files import settings_error_from_os_error, write_private_file
from pyampam.exceptions import SettingsError
from pyampam.settings._certificate import load_pkcs12
from pyampam.settings._mfa_settings import MfaSettings, write_mfa_settings
from pyampam.settings._pf_auth import parse_pf_auth

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pyampam.settings._credentials import SdkCredentials

__all__ = ["install_sdk"]

SETTINGS_FILE_NAME = "MfaSettings.xml"
CERT_DIR_NAME = "MfaCerts"
CERT_FILE_NAME = "cert_key.p12"

# The SDK's pf_auth.cs and cert_key.p12 are a few KiB each; anything near these caps is not the
# SDK, and refusing it early keeps a zip bomb from being inflated into memory.
MAX_MEMBER_SIZE = 4 * 1024 * 1024
MAX_ZIP_SIZE = 64 * 1024 * 1024

_PF_AUTH = ("pf", "pf_auth.cs")
_CERT = ("pf", "certs", "cert_key.p12")
_DOWNLOAD_AGAIN = (
    "download the SDK ZIP again from the MFA provider's portal ('SDK for ASP.net 2.0 C#')"
)
_DRIVE = re.compile(r"^[A-Za-z]:")
# Whatever the zipfile module raises for a damaged archive or member, besides BadZipFile.
_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    ValueError,
    struct.error,
    zlib.error,
    OverflowError,
    NotImplementedError,
    RuntimeError,
    OSError,
)


@attrs.frozen
class _Member:
    """One file read from the ZIP: its name in the ZIP and its bytes."""

    name: str
    data: bytes = attrs.field(repr=False)


def install_sdk(
    zip_path: str | os.PathLike[str],
    service_dir: str | os.PathLike[str],
    *,
    default_country_code: int,
    username: str = "pyampam",
    cert_dir: str | os.PathLike[str] | None = None,
) -> MfaSettings:
    """Install the Azure MFA SDK ZIP into the MIM Service folder ``service_dir``.

    Reads ``pf/pf_auth.cs`` and ``pf/certs/cert_key.p12`` from the ZIP (also when one top-level
    folder wraps them), proves ``CERT_PASSWORD`` by opening the certificate, copies the
    certificate owner-only to ``cert_dir`` (default ``service_dir/MfaCerts``, created ``0700``)
    and writes ``service_dir/MfaSettings.xml`` owner-only, with ``CertFilePath`` set to the
    copy's absolute path. An existing certificate or settings file is backed up first. A missing
    ``service_dir`` is created owner-only if its parent exists (handy for a local try-out; on a
    MIM server the folder is already there).

    Everything is validated before anything is written: if the ZIP, ``pf_auth.cs``, the
    certificate or an argument is wrong, no file is created or changed.

    Raises:
        SettingsError: the ZIP, a member of it or the target folders are unusable; the
            message says what to do, and ``path`` names the ZIP, or ``ZIP!member`` for a
            problem inside ``pf_auth.cs`` or ``cert_key.p12``.

    """
    zip_file = Path(os.fspath(zip_path))
    service = Path(os.fspath(service_dir))
    if service.exists() and not service.is_dir():
        raise SettingsError(
            "the MIM Service folder is a file: give the folder where the MIM Service is installed",
            path=str(service),
        )
    if not service.exists() and not Path(os.path.abspath(service)).parent.is_dir():
        # Only the last folder is ever created: a typo further up should fail, not build a tree.
        raise SettingsError(
            "neither the MIM Service folder nor its parent exists: give the folder where the "
            "MIM Service is installed",
            path=str(service),
        )
    target_dir = Path(os.path.abspath(service / CERT_DIR_NAME if cert_dir is None else cert_dir))
    if target_dir.exists() and not target_dir.is_dir():
        raise SettingsError(
            "the certificate folder is a file: remove it or pass another cert_dir",
            path=str(target_dir),
        )

    pf_auth, p12 = _read_sdk_zip(zip_file)
    credentials = _parse_pf_auth(pf_auth, f"{zip_file}!{pf_auth.name}")
    certificate = load_pkcs12(p12.data, credentials.cert_password, source=f"{zip_file}!{p12.name}")
    if not certificate.key_matches_certificate:
        raise SettingsError(
            f"the private key does not belong to the client certificate: {_DOWNLOAD_AGAIN}",
            path=f"{zip_file}!{p12.name}",
        )
    cert_path = target_dir / CERT_FILE_NAME
    settings = MfaSettings.for_sdk(
        credentials,
        cert_file_path=str(cert_path),
        username=username,
        default_country_code=default_country_code,
    )

    _make_private_dir(service)
    _make_private_dir(target_dir, parents=True)
    write_private_file(cert_path, p12.data)
    write_mfa_settings(settings, service / SETTINGS_FILE_NAME)
    return settings


def _parse_pf_auth(member: _Member, where: str) -> SdkCredentials:
    """Parse ``pf_auth.cs``, locating any error inside the ZIP."""
    try:
        return parse_pf_auth(member.data)
    except SettingsError as error:
        raise SettingsError(error.message, path=where, line=error.line, key=error.key) from error


def _make_private_dir(directory: Path, *, parents: bool = False) -> None:
    """Create ``directory`` owner-only (``0700``); leave an existing folder as it is."""
    if directory.is_dir():
        return
    try:
        directory.mkdir(mode=0o700, parents=parents)
        if os.name == "posix":
            # mkdir's mode passes through the umask; set it exactly.
            directory.chmod(0o700)
    except OSError as error:
        raise settings_error_from_os_error("create the folder", str(directory), error) from error


def _read_sdk_zip(zip_file: Path) -> tuple[_Member, _Member]:
    """Read ``pf_auth.cs`` and ``cert_key.p12`` out of the SDK ZIP, in memory."""
    shown = str(zip_file)
    try:
        size = zip_file.stat().st_size
        if size > MAX_ZIP_SIZE:
            raise SettingsError(
                f"the file is too large to be the Azure MFA SDK ZIP: {_DOWNLOAD_AGAIN}",
                path=shown,
            )
        raw = zip_file.read_bytes()
    except OSError as error:
        raise settings_error_from_os_error("read the SDK ZIP", shown, error) from error
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except _DAMAGED as error:
        raise SettingsError(
            f"not a ZIP file, or the ZIP is damaged: {_DOWNLOAD_AGAIN}", path=shown
        ) from error
    with archive:
        entries = archive.infolist()
        pf_auth_info, cert_info = _locate(entries, shown)
        return _read_member(archive, pf_auth_info, shown), _read_member(archive, cert_info, shown)


def _parts(name: str) -> list[str]:
    """Split a member name into folders and file name, accepting ``/`` and ``\\``."""
    return [part for part in re.split(r"[/\\]", name) if part not in ("", ".")]


def _is_unsafe(name: str) -> bool:
    """Whether extracting ``name`` could land outside the target folder."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    return ".." in re.split(r"[/\\]", name)


def _tail_matches(parts: Sequence[str], target: tuple[str, ...]) -> bool:
    """Whether ``parts`` ends with ``target``, ignoring case as Windows does."""
    if len(parts) < len(target):
        return False
    tail = parts[len(parts) - len(target) :]
    return [part.casefold() for part in tail] == list(target)


_Found = dict[tuple[str, ...], dict[str, list[zipfile.ZipInfo]]]
_Names = dict[tuple[str, ...], list[str]]


def _classify(entries: Sequence[zipfile.ZipInfo]) -> tuple[_Found, _Names, _Names]:
    """Sort the entries that could be the SDK's two files.

    Per target: the safe candidates by root folder (``""`` or one wrapping folder), the names
    that are unsafe to read, and the names nested too deep to be the SDK's.
    """
    found: _Found = {_PF_AUTH: {}, _CERT: {}}
    unsafe: _Names = {_PF_AUTH: [], _CERT: []}
    deep: _Names = {_PF_AUTH: [], _CERT: []}
    for info in entries:
        if info.is_dir():
            continue
        parts = _parts(info.filename)
        for target in (_PF_AUTH, _CERT):
            if not _tail_matches(parts, target):
                continue
            root = parts[: len(parts) - len(target)]
            if _is_unsafe(info.filename):
                unsafe[target].append(info.filename)
            elif len(root) <= 1:
                found[target].setdefault("/".join(root), []).append(info)
            else:
                deep[target].append(info.filename)
    return found, unsafe, deep


def _locate(
    entries: Sequence[zipfile.ZipInfo], shown: str
) -> tuple[zipfile.ZipInfo, zipfile.ZipInfo]:
    """Pick the one ``pf_auth.cs`` and ``cert_key.p12`` of the SDK among the ZIP's entries."""
    found, unsafe, deep = _classify(entries)
    for target in (_PF_AUTH, _CERT):
        if not found[target]:
            raise _missing(target, unsafe[target], deep[target], shown)
    roots = sorted(set(found[_PF_AUTH]) & set(found[_CERT]))
    if not roots:
        raise SettingsError(
            f"{'/'.join(_PF_AUTH)} and {'/'.join(_CERT)} are in different folders of the ZIP "
            f"({_folders(found[_PF_AUTH])} and {_folders(found[_CERT])}); the SDK keeps them "
            f"together: {_DOWNLOAD_AGAIN}",
            path=shown,
        )
    if len(roots) > 1:
        raise SettingsError(
            f"the ZIP holds more than one SDK (in {_folders(dict.fromkeys(roots))}): make a ZIP "
            "with the pf folder of the one you mean",
            path=shown,
        )
    (root,) = roots
    chosen = []
    for target in (_PF_AUTH, _CERT):
        infos = found[target][root]
        if len(infos) > 1:
            names = ", ".join(repr(info.filename) for info in infos)
            raise SettingsError(
                f"the ZIP holds {'/'.join(target)} more than once ({names}), so it is not clear "
                f"which to use: {_DOWNLOAD_AGAIN}",
                path=shown,
            )
        chosen.append(infos[0])
    return chosen[0], chosen[1]


def _folders(by_root: Mapping[str, object]) -> str:
    return " and ".join(repr(root + "/") if root else "the top level" for root in sorted(by_root))


def _missing(
    target: tuple[str, ...], unsafe: list[str], deep: list[str], shown: str
) -> SettingsError:
    """The error for a member that is absent, or present only where it may not be read."""
    wanted = "/".join(target)
    if unsafe:
        names = ", ".join(repr(name) for name in unsafe)
        return SettingsError(
            f"the ZIP's only {wanted} is stored under an unsafe name ({names}) that points "
            f"outside the folder it would be unpacked to; pyampam does not read such entries: "
            f"{_DOWNLOAD_AGAIN}",
            path=shown,
        )
    if deep:
        names = ", ".join(repr(name) for name in deep)
        return SettingsError(
            f"no {wanted} at the top of the ZIP or inside one folder (found only {names}): "
            "make a ZIP whose top level holds the SDK's pf folder",
            path=shown,
        )
    return SettingsError(
        f"the ZIP has no {wanted}, so it is not the Azure MFA SDK: {_DOWNLOAD_AGAIN}",
        path=shown,
    )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str) -> _Member:
    """Read one member, refusing encrypted, oversized or damaged ones."""
    name = info.filename
    where = f"{shown}!{name}"
    if info.flag_bits & 0x1:
        raise SettingsError(
            f"{name} is encrypted inside the ZIP: unpack it with the ZIP's password and make a "
            "ZIP without one, or " + _DOWNLOAD_AGAIN,
            path=shown,
        )
    too_large = SettingsError(
        f"{name} is larger than {MAX_MEMBER_SIZE // (1024 * 1024)} MiB, far larger than the SDK's "
        f"file, so it is not read (a zip bomb guard): {_DOWNLOAD_AGAIN}",
        path=shown,
    )
    if info.file_size > MAX_MEMBER_SIZE:
        raise too_large
    try:
        with archive.open(info) as stream:
            data = stream.read(MAX_MEMBER_SIZE + 1)
    except _DAMAGED as error:
        raise SettingsError(
            f"{name} cannot be read from the ZIP (the ZIP is damaged): {_DOWNLOAD_AGAIN}",
            path=shown,
        ) from error
    if len(data) > MAX_MEMBER_SIZE:
        raise too_large
    if not data:
        raise SettingsError(f"the file is empty: {_DOWNLOAD_AGAIN}", path=where)
    return _Member(name=name, data=data)
