"""The CORP source directory: entries, the protocol, an in-memory directory and file loading."""

from __future__ import annotations

import codecs
import os
import re
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from pyampam._phone import PhoneNumber
from pyampam.exceptions import (
    AlreadyExistsError,
    InvalidValueError,
    LocatedError,
    NotFoundError,
)

if TYPE_CHECKING:
    from pyampam.directory._csv import CsvDirectory
    from pyampam.directory._ldif import LdifDirectory

__all__ = [
    "DirectoryEntry",
    "DirectoryError",
    "MemoryDirectory",
    "SourceDirectory",
    "load_directory",
]

# Unicode category Cc: no field of a directory entry may hold one.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class DirectoryError(LocatedError):
    """A directory export cannot be read: unreadable file, bad encoding, malformed line.

    ``path`` and ``line`` locate the problem where that is known; ``str()`` starts with
    ``path:line:`` so editors and terminals can jump to it. Nothing is loaded from a file
    that raises this: a directory is read whole or not at all.
    """


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValueError(f"{name} must be a str, not {type(value).__name__}", field=name)
    if not value.strip():
        raise InvalidValueError(f"{name} must not be blank", field=name)
    if _CONTROL.search(value):
        raise InvalidValueError(f"{name} {value!r} contains a control character", field=name)
    return value


def _required(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    _check_text(attribute.name, value)


def _optional(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None:
        _check_text(attribute.name, value)


def fold(text: str) -> str:
    """The form names are compared in: case folded, so ``CORP\\Jen`` finds ``corp\\jen``."""
    return text.casefold()


@attrs.frozen(kw_only=True)
class DirectoryEntry:
    r"""A user's entry in the CORP directory, as an export holds it.

    ``phone`` is the raw text the directory holds (``+1 (425) 555-0100``, ``4255550100``...):
    MIM copies it once into the PAM user and reads it with MfaSettings' ``DefaultCountryCode``,
    which :meth:`parse_phone` does. ``sid`` is the text form ``S-1-5-21-...``. Blank optional
    values are None; no field holds a control character.
    """

    source_domain: str = attrs.field(validator=_required)
    source_account_name: str = attrs.field(validator=_required)
    display_name: str | None = attrs.field(default=None, validator=_optional)
    email: str | None = attrs.field(default=None, validator=_optional)
    phone: str | None = attrs.field(default=None, validator=_optional)
    sid: str | None = attrs.field(default=None, validator=_optional)

    @property
    def source_identity(self) -> str:
        r"""The CORP logon name, ``DOMAIN\account``."""
        return f"{self.source_domain}\\{self.source_account_name}"

    @property
    def key(self) -> tuple[str, str]:
        """The (domain, account) pair lookups compare, case folded."""
        return fold(self.source_domain), fold(self.source_account_name)

    def parse_phone(self, default_country_code: int = 1) -> PhoneNumber | None:
        """The phone number as MIM would store it, or None when the entry has none.

        Raises :class:`~pyampam.exceptions.PhoneNumberError` when the text is not a number.
        """
        if self.phone is None:
            return None
        return PhoneNumber.parse(self.phone, default_country_code)


@runtime_checkable
class SourceDirectory(Protocol):
    """The CORP directory as the PAM Monitoring Service and ``New-PAMUser`` see it.

    Lookups ignore case in both the domain and the account name.
    """

    def lookup(self, source_domain: str, source_account_name: str) -> DirectoryEntry | None:
        """The entry of ``source_domain\\source_account_name``, or None if there is none."""
        ...

    def entries(self) -> Iterator[DirectoryEntry]:
        """Every entry, in the order the directory holds them."""
        ...


def _name(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValueError(f"{field} must be a str, not {type(value).__name__}", field=field)
    return fold(value)


def _key(source_domain: object, source_account_name: object) -> tuple[str, str]:
    return (
        _name("source_domain", source_domain),
        _name("source_account_name", source_account_name),
    )


class _IndexedDirectory:
    """Lookups and iteration over a dict of entries keyed by (domain, account), case folded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: dict[tuple[str, str], DirectoryEntry] = {}

    def __len__(self) -> int:
        return len(self._index)

    def lookup(self, source_domain: str, source_account_name: str) -> DirectoryEntry | None:
        """The entry of ``source_domain\\source_account_name`` (any case), or None."""
        return self._index.get(_key(source_domain, source_account_name))

    def entries(self) -> Iterator[DirectoryEntry]:
        """Every entry, in the order added or found in the file."""
        with self._lock:
            snapshot = list(self._index.values())
        return iter(snapshot)


class MemoryDirectory(_IndexedDirectory):
    """A directory in a dictionary, for tests and demos; change phones with :meth:`set_phone`.

    Thread safe: a monitor may read while a test changes entries.
    """

    def __init__(self, entries: Iterable[DirectoryEntry] = ()) -> None:
        super().__init__()
        for entry in entries:
            self.add(entry)

    def __repr__(self) -> str:
        return f"MemoryDirectory(entries={len(self._index)})"

    def add(self, entry: DirectoryEntry) -> None:
        """Add *entry*; an entry for the same account (any case) raises AlreadyExistsError."""
        if not isinstance(entry, DirectoryEntry):
            raise InvalidValueError(
                f"entry must be a DirectoryEntry, not {type(entry).__name__}", field="entry"
            )
        with self._lock:
            if entry.key in self._index:
                raise AlreadyExistsError(
                    f"the directory already holds {self._index[entry.key].source_identity}; "
                    "use replace() to change it"
                )
            self._index[entry.key] = entry

    def replace(self, entry: DirectoryEntry) -> DirectoryEntry:
        """Put *entry* in place of the existing entry for its account; return the old one."""
        if not isinstance(entry, DirectoryEntry):
            raise InvalidValueError(
                f"entry must be a DirectoryEntry, not {type(entry).__name__}", field="entry"
            )
        with self._lock:
            old = self._index.get(entry.key)
            if old is None:
                raise NotFoundError(
                    f"the directory holds no {entry.source_identity}; use add() for a new entry"
                )
            self._index[entry.key] = entry
            return old

    def set_phone(
        self, source_domain: str, source_account_name: str, phone: str | None
    ) -> DirectoryEntry:
        """Change the phone text of an entry, as someone editing CORP would; return the new entry.

        MIM does not copy the change: the PAM Monitoring Service notices it (event 825).
        """
        key = _key(source_domain, source_account_name)
        with self._lock:
            old = self._index.get(key)
            if old is None:
                raise NotFoundError(
                    f"the directory holds no {source_domain}\\{source_account_name}; add() it first"
                )
            new = attrs.evolve(old, phone=phone)
            self._index[key] = new
            return new

    def remove(self, source_domain: str, source_account_name: str) -> DirectoryEntry:
        """Remove an entry and return it."""
        key = _key(source_domain, source_account_name)
        with self._lock:
            entry = self._index.pop(key, None)
        if entry is None:
            raise NotFoundError(f"the directory holds no {source_domain}\\{source_account_name}")
        return entry


# --- reading export files --------------------------------------------------------------------


class _FileDirectory(_IndexedDirectory):
    """A directory loaded whole from an export file, and reloaded on demand."""

    _kind = "directory export"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self._path = os.fspath(path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r}, entries={len(self._index)})"

    @property
    def path(self) -> str:
        """The export file the entries come from."""
        return self._path

    def _load(self, text: str) -> dict[tuple[str, str], DirectoryEntry]:
        raise NotImplementedError

    def reload(self) -> None:
        """Read the file again; if it has become unreadable, keep the entries and raise."""
        index = self._load(read_text(self._path, self._kind))
        with self._lock:
            self._index = index


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_text(path: str, kind: str) -> str:
    """The text of an export file: UTF-8 with or without a BOM, or UTF-16 with a BOM."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DirectoryError(
            f"cannot read the {kind}: {reason}; check the path and its permissions", path=path
        ) from error
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        if encoding == "utf-16":
            line = data[: error.start].decode(encoding, "replace").count("\n") + 1
        raise DirectoryError(
            f"the {kind} is not valid {encoding.upper().removesuffix('-SIG')} text (byte "
            f"{error.start}); save it as UTF-8, or as UTF-16 with a byte order mark",
            path=path,
            line=line,
        ) from None


def check_no_nul(text: str, path: str, kind: str) -> None:
    """Refuse text with NUL characters: UTF-16 read as UTF-8, or a binary file."""
    where = text.find("\x00")
    if where >= 0:
        raise DirectoryError(
            f"the {kind} holds NUL characters: it is UTF-16 without a byte order mark, or not "
            "text at all; save it as UTF-8, or as UTF-16 with a byte order mark",
            path=path,
            line=text.count("\n", 0, where) + 1,
        )


def load_directory(
    path: str | os.PathLike[str], *, domain: str | None = None
) -> CsvDirectory | LdifDirectory:
    """Load a directory export, choosing the reader by extension: .csv, or .ldif / .ldf.

    ``domain`` is passed on: the NetBIOS domain name for entries that do not give their own.
    """
    from pyampam.directory._csv import CsvDirectory
    from pyampam.directory._ldif import LdifDirectory

    name = os.fspath(path)
    extension = os.path.splitext(name)[1].casefold()
    if extension == ".csv":
        return CsvDirectory(name, domain=domain)
    if extension in (".ldif", ".ldf"):
        return LdifDirectory(name, domain=domain)
    raise DirectoryError(
        f"cannot tell the format from the extension {extension or '(none)'!r}; name a CSV "
        "export *.csv and an LDIF export *.ldif or *.ldf, or use CsvDirectory or LdifDirectory",
        path=name,
    )
