"""Tests for pyampam._files: owner-only, atomic writes with backups."""

from __future__ import annotations

import datetime
import errno
import os
import pathlib
import re
import stat
from collections.abc import Iterator

import pytest

from pyampam._files import write_private_file
from pyampam.exceptions import SettingsError

posix_only = pytest.mark.skipif(os.name != "posix", reason="mode bits exist on POSIX only")

OLD = b"<MfaSettings>old</MfaSettings>\n"
NEW = b"<MfaSettings>" + b"new-content-" * 1000 + b"</MfaSettings>\n"
BACKUP_NAME = re.compile(r"MfaSettings\.xml\.\d{8}T\d{6}Z(-\d+)?\.bak")


def mode_of(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Run with umask 000, so that any file created wider than 0600 would show it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def existing(tmp_path: pathlib.Path) -> pathlib.Path:
    """A world-readable MfaSettings.xml with old content, as an administrator might leave it."""
    target = tmp_path / "MfaSettings.xml"
    target.write_bytes(OLD)
    target.chmod(0o644)
    return target


def test_writes_new_file_and_returns_none(tmp_path: pathlib.Path) -> None:
    """A new file gets the bytes exactly, and there is no backup to report."""
    target = tmp_path / "MfaSettings.xml"

    assert write_private_file(target, NEW) is None
    assert target.read_bytes() == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MfaSettings.xml"]


def test_accepts_str_path(tmp_path: pathlib.Path) -> None:
    """A plain string path works as well as a Path."""
    target = tmp_path / "MfaSettings.xml"

    write_private_file(str(target), NEW)

    assert target.read_bytes() == NEW


@posix_only
@pytest.mark.usefixtures("permissive_umask")
def test_result_is_owner_only_even_with_permissive_umask(tmp_path: pathlib.Path) -> None:
    """The written file is 0600 whatever the umask."""
    target = tmp_path / "MfaSettings.xml"

    write_private_file(target, NEW)

    assert mode_of(target) == 0o600


@posix_only
@pytest.mark.usefixtures("permissive_umask")
def test_replaced_world_readable_file_becomes_owner_only(existing: pathlib.Path) -> None:
    """Replacing a 0644 file leaves a 0600 file, not the old mode."""
    write_private_file(existing, NEW)

    assert mode_of(existing) == 0o600


@posix_only
@pytest.mark.usefixtures("permissive_umask")
def test_files_are_never_created_wider_than_0600(
    existing: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file and the backup are owner-only from the moment they are created."""
    real_open = os.open
    created: list[tuple[str, int]] = []

    def recording_open(
        path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None
    ) -> int:
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        if flags & os.O_CREAT:
            created.append((os.fspath(path), stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    monkeypatch.setattr(os, "open", recording_open)

    write_private_file(existing, NEW)

    monkeypatch.undo()
    names = [pathlib.Path(path).name for path, _ in created]
    assert any(name.endswith(".tmp") for name in names)
    assert any(name.endswith(".bak") for name in names)
    assert [mode for _, mode in created] == [0o600] * len(created)


@posix_only
def test_backup_holds_old_content_and_is_owner_only(existing: pathlib.Path) -> None:
    """The replaced file is kept as a timestamped 0600 backup whose path is returned."""
    backup = write_private_file(existing, NEW)

    assert backup is not None
    assert backup.parent == existing.parent
    assert BACKUP_NAME.fullmatch(backup.name)
    assert backup.read_bytes() == OLD
    assert mode_of(backup) == 0o600
    assert existing.read_bytes() == NEW


def test_backup_false_keeps_no_copy(existing: pathlib.Path) -> None:
    """With backup=False the old file is replaced without a copy and None is returned."""
    assert write_private_file(existing, NEW, backup=False) is None

    assert [p.name for p in existing.parent.iterdir()] == ["MfaSettings.xml"]
    assert existing.read_bytes() == NEW


def test_backups_in_a_row_are_distinct(existing: pathlib.Path) -> None:
    """Writes in quick succession (same second) each keep their own backup."""
    contents = [b"first", b"second", b"third"]

    backups = [write_private_file(existing, content) for content in contents]

    assert len({b for b in backups if b is not None}) == 3
    assert [b.read_bytes() for b in backups if b is not None] == [OLD, b"first", b"second"]


def test_backup_never_overwrites_a_taken_name(existing: pathlib.Path) -> None:
    """When the timestamped name exists already, a new unique name is used and the other kept."""
    now = datetime.datetime.now(datetime.timezone.utc)
    decoys = []
    for offset in (0, 1):  # the clock may tick between here and the write
        stamp = (now + datetime.timedelta(seconds=offset)).strftime("%Y%m%dT%H%M%SZ")
        decoy = existing.with_name(f"{existing.name}.{stamp}.bak")
        decoy.write_bytes(b"earlier backup")
        decoys.append(decoy)

    backup = write_private_file(existing, NEW)

    assert backup is not None
    assert backup not in decoys
    assert BACKUP_NAME.fullmatch(backup.name)
    assert backup.read_bytes() == OLD
    assert [d.read_bytes() for d in decoys] == [b"earlier backup"] * 2


def test_backup_can_be_restored(existing: pathlib.Path) -> None:
    """Renaming the backup over the file brings the old content back."""
    backup = write_private_file(existing, NEW)
    assert backup is not None

    os.replace(backup, existing)

    assert existing.read_bytes() == OLD


def _fail_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if bytes(data[:20]).startswith(b"<MfaSettings>new"):
            real_write(fd, bytes(data[:100]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


def _fail_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)


def _fail_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize(
    ("inject", "fix"),
    [
        (_fail_half_way, "disk space"),
        (_fail_fsync, "check the path"),
        (_fail_replace, "holds the file open"),
    ],
    ids=["write", "fsync", "replace"],
)
def test_interrupted_write_leaves_old_file_and_no_leftovers(
    existing: pathlib.Path, monkeypatch: pytest.MonkeyPatch, inject: object, fix: str
) -> None:
    """A failure while writing keeps the old file intact and removes temp file and backup."""
    inject(monkeypatch)  # type: ignore[operator]

    with pytest.raises(SettingsError) as caught:
        write_private_file(existing, NEW)

    monkeypatch.undo()
    assert existing.read_bytes() == OLD
    assert [p.name for p in existing.parent.iterdir()] == ["MfaSettings.xml"]
    assert caught.value.path == str(existing)
    assert fix in str(caught.value)
    assert str(caught.value).startswith(f"{existing}: cannot write")


def test_interrupted_new_file_leaves_nothing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed first write leaves neither a truncated target nor a temp file."""
    _fail_half_way(monkeypatch)
    target = tmp_path / "MfaSettings.xml"

    with pytest.raises(SettingsError):
        write_private_file(target, NEW)

    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_cleans_up_and_propagates(
    existing: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the write is not turned into an error, and leaves no temp file."""

    def fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync)

    with pytest.raises(KeyboardInterrupt):
        write_private_file(existing, NEW)

    monkeypatch.undo()
    assert existing.read_bytes() == OLD
    assert [p.name for p in existing.parent.iterdir()] == ["MfaSettings.xml"]


@posix_only
def test_directory_is_flushed_after_rename(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is fsynced too, so the rename survives a crash."""
    real_fsync = os.fsync
    synced_directories: list[bool] = []

    def fsync(fd: int) -> None:
        synced_directories.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    write_private_file(tmp_path / "MfaSettings.xml", NEW)

    assert synced_directories[-1] is True


def test_missing_folder_is_a_settings_error(tmp_path: pathlib.Path) -> None:
    """Writing into a folder that does not exist says so, with the path."""
    target = tmp_path / "no-such-folder" / "MfaSettings.xml"

    with pytest.raises(SettingsError, match="does not exist") as caught:
        write_private_file(target, NEW)

    assert caught.value.path == str(target)
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_folder_as_target_is_a_settings_error(tmp_path: pathlib.Path) -> None:
    """A target that is a folder is refused cleanly and leaves no temp file."""
    target = tmp_path / "MfaSettings.xml"
    target.mkdir()

    with pytest.raises(SettingsError) as caught:
        write_private_file(target, NEW)

    assert caught.value.path == str(target)
    assert [p.name for p in tmp_path.iterdir()] == ["MfaSettings.xml"]
