"""Write files that hold secrets: owner-only, atomically, keeping a backup of what they replace.

On POSIX the file is created with mode ``0600`` and is never wider, not even for a moment: the
temporary file is made owner-only before a byte is written, then renamed over the target. On
Windows the mode bits mean little; the file takes the ACL of its folder, so keep secrets in a
folder only the service account and administrators can read (MIM's Service folder, for example).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import pathlib
import tempfile

from pyampam.exceptions import SettingsError

__all__ = ["settings_error_from_os_error", "write_private_file"]

_PRIVATE_MODE = 0o600
_POSIX = os.name == "posix"

_FIXES_BY_NAME = {
    "ENOENT": "check the path: the file or its folder does not exist",
    "EACCES": (
        "run as a user allowed to use this path (on the MIM server: an administrator) and make "
        "sure no other program (MIM, an editor) holds the file open"
    ),
    "EPERM": "run as a user allowed to use this path (on the MIM server: an administrator)",
    "ENOSPC": "free some disk space and try again",
    "EDQUOT": "free some space within your disk quota and try again",
    "EROFS": "the file system is read-only: choose a writable location",
    "EISDIR": "the path names a folder: give the path of a file",
    "ENOTDIR": "a part of the path is a file, not a folder: check the path",
    "ENAMETOOLONG": "the path is too long: choose a shorter one",
}
# Not every platform defines every code (Windows lacks some), so look them up by name.
_FIXES = {getattr(errno, name): fix for name, fix in _FIXES_BY_NAME.items() if hasattr(errno, name)}


def settings_error_from_os_error(action: str, path: str, exc: OSError) -> SettingsError:
    """Turn an :class:`OSError` met while doing ``action`` on ``path`` into a SettingsError.

    The message names what failed and why, and suggests a fix; callers ``raise ... from exc``.
    """
    reason = exc.strerror or type(exc).__name__
    fix = _FIXES.get(exc.errno or 0, "check the path and the permissions of its folder")
    return SettingsError(f"cannot {action}: {reason}; {fix}", path=path)


def write_private_file(
    path: str | os.PathLike[str], data: bytes, *, backup: bool = True
) -> pathlib.Path | None:
    """Write ``data`` to ``path`` atomically, readable and writable by the owner only.

    The bytes go to a temporary file in the same folder, which is created owner-only (``0600``),
    flushed to disk, and then renamed over ``path``, so readers see the old file or the new one,
    never a mix; if anything fails, the old file is untouched and the temporary file is removed.

    If a file already exists at ``path`` and ``backup`` is true, its content is first copied to
    an owner-only backup next to it, named ``<name>.<UTC timestamp>.bak`` (with ``-1``, ``-2``,
    ... added when that name is taken), and the backup's path is returned; otherwise the result
    is ``None``. Restoring the backup means renaming it back.

    On Windows this is best effort: there are no mode bits to set, the file takes the ACL of its
    folder, and the folder itself cannot be flushed.

    Raises:
        SettingsError: the file or its backup could not be written; ``path`` names the target.

    """
    target = pathlib.Path(os.fspath(path))
    shown = str(target)
    backup_path: pathlib.Path | None = None
    temp_path: pathlib.Path | None = None
    try:
        temp_path = _write_temporary(target, data)
        if backup:
            backup_path = _back_up(target)
        os.replace(temp_path, target)
        temp_path = None
    except BaseException as exc:
        # Whatever went wrong (including Ctrl-C), leave the folder as it was.
        for leftover in (temp_path, backup_path):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink()
        if isinstance(exc, OSError):
            raise settings_error_from_os_error("write the file", shown, exc) from exc
        raise
    _fsync_directory(target.parent)
    return backup_path


def _write_temporary(target: pathlib.Path, data: bytes) -> pathlib.Path:
    """Write ``data`` to a new owner-only file next to ``target`` and flush it to disk."""
    # mkstemp creates the file with O_EXCL and mode 0600 (less any umask bits), so it is never
    # readable by others, not even between creation and the first write.
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp_path = pathlib.Path(name)
    try:
        _restrict(fd)
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise
    os.close(fd)
    return temp_path


def _back_up(target: pathlib.Path) -> pathlib.Path | None:
    """Copy ``target`` to a new owner-only backup next to it; ``None`` if there is no target."""
    try:
        old = target.read_bytes()
    except FileNotFoundError:
        return None
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    counter = 0
    while True:
        suffix = f"-{counter}" if counter else ""
        candidate = target.with_name(f"{target.name}.{stamp}{suffix}.bak")
        try:
            # O_EXCL: never overwrite an earlier backup (or follow a symlink planted there).
            fd = os.open(candidate, flags, _PRIVATE_MODE)
        except FileExistsError:
            counter += 1
            continue
        break
    try:
        _restrict(fd)
        _write_all(fd, old)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            candidate.unlink()
        raise
    os.close(fd)
    return candidate


def _restrict(fd: int) -> None:
    """Make a freshly created, still empty file exactly owner read/write on POSIX."""
    # A umask stricter than 077 would leave the owner without write access to their own file.
    if _POSIX:
        os.fchmod(fd, _PRIVATE_MODE)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` and flush it to the disk."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _fsync_directory(directory: pathlib.Path) -> None:
    """Flush the folder entry of a renamed file, where the platform allows it."""
    if not _POSIX:
        # Windows cannot open a folder as a file; NTFS journals the rename itself.
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        # Some file systems refuse to flush folders; the new file is already in place.
        pass
    finally:
        os.close(fd)
