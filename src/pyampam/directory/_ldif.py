"""A CORP directory read from an LDIF export (``ldifde -f``, ``ldapsearch``), per RFC 2849."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator

import attrs

from pyampam.directory._directory import (
    DirectoryEntry,
    DirectoryError,
    _FileDirectory,
    check_no_nul,
)
from pyampam.exceptions import InvalidValueError

__all__ = ["LDIF_ATTRIBUTES", "LdifDirectory"]

LDIF_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "source_account_name": ("sAMAccountName",),
    "phone": ("telephoneNumber", "mobile"),
    "display_name": ("displayName",),
    "email": ("mail",),
    "sid": ("objectSid",),
}
"""The attributes each field is read from, in order of preference (names ignore case)."""

_WANTED = frozenset(name.casefold() for names in LDIF_ATTRIBUTES.values() for name in names)
_PERSON_CLASSES = frozenset({"user", "person", "organizationalperson", "inetorgperson"})
# An attribute description: a name or an OID, then options such as ";lang-en" or ";binary".
_DESCRIPTION = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)(?:;[A-Za-z0-9-]+)*")
_DN_SEPARATOR = re.compile(r"(?<!\\),")
_SID = re.compile(r"S-1(?:-[0-9]+)+")


@attrs.frozen
class _Line:
    """One logical (unfolded) line: the attribute, its value and where it starts."""

    number: int
    name: str
    value: str | bytes


@attrs.define
class _Record:
    """The lines of one entry, between blank lines."""

    number: int
    lines: list[_Line] = attrs.Factory(list)


def sid_text(data: bytes) -> str | None:
    """The ``S-1-...`` form of a binary SID, or None when *data* is not one."""
    if len(data) < 8 or data[0] != 1:
        return None
    count = data[1]
    if len(data) != 8 + 4 * count:
        return None
    authority = int.from_bytes(data[2:8], "big")
    parts = [int.from_bytes(data[8 + 4 * i : 12 + 4 * i], "little") for i in range(count)]
    return "-".join(["S", "1", str(authority), *map(str, parts)])


class LdifDirectory(_FileDirectory):
    """A CORP directory exported to LDIF, loaded whole when made.

    Reads RFC 2849 content records: ``dn:``, ``attr: value``, base64 ``attr:: value``, lines
    folded with a leading space, ``#`` comments, blank lines between records, and
    ``changetype: add`` as ``ldifde`` writes it (other change types are refused). For each
    user it reads ``sAMAccountName`` (required), ``telephoneNumber`` (or ``mobile`` when there
    is none), ``displayName``, ``mail`` and ``objectSid`` (a binary SID is turned into
    ``S-1-...``; one that is not a SID is left out). Attribute names ignore case and options
    such as ``;binary``.

    Users are records whose ``objectClass`` holds ``user``, ``person``, ``organizationalPerson``
    or ``inetOrgPerson`` but not ``computer``; records of other classes (groups, OUs) are
    skipped. An export without ``objectClass`` takes every record with a ``sAMAccountName``,
    so groups then come along: export ``objectClass`` too.

    The domain is ``domain=`` (the NetBIOS name, such as ``CORP``) when given, else the first
    ``DC=`` of the entry's dn, upper-cased (``CN=Jen,OU=Staff,DC=corp,DC=contoso,DC=com`` gives
    ``CORP``). That is usually the NetBIOS name but need not be: pass ``domain=`` when it differs.
    Anything malformed, and two records for one account, raise :class:`DirectoryError` with
    the line.
    """

    _kind = "LDIF export"

    def __init__(self, path: str | os.PathLike[str], *, domain: str | None = None) -> None:
        super().__init__(path)
        if domain is not None and (not isinstance(domain, str) or not domain.strip()):
            raise InvalidValueError(
                f"domain must be a NetBIOS domain name such as 'CORP', not {domain!r}",
                field="domain",
            )
        self._domain = None if domain is None else domain.strip()
        self.reload()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, domain: str | None = None) -> LdifDirectory:
        """Read the LDIF export at *path*; the same as ``LdifDirectory(path, ...)``."""
        return cls(path, domain=domain)

    def _fail(self, message: str, line: int | None = None) -> DirectoryError:
        return DirectoryError(message, path=self._path, line=line)

    def _load(self, text: str) -> dict[tuple[str, str], DirectoryEntry]:
        check_no_nul(text, self._path, self._kind)
        index: dict[tuple[str, str], DirectoryEntry] = {}
        lines: dict[tuple[str, str], int] = {}
        for record in self._records(text):
            entry = self._entry(record)
            if entry is None:
                continue
            if entry.key in index:
                raise self._fail(
                    f"{entry.source_identity} appears twice, in the records starting on lines "
                    f"{lines[entry.key]} and {record.number}; remove one of them",
                    record.number,
                )
            index[entry.key] = entry
            lines[entry.key] = record.number
        return index

    # -- lines and records -------------------------------------------------------------------

    def _logical_lines(self, text: str) -> Iterator[tuple[int, str] | None]:
        """Unfolded lines with their first line number; None for a record separator."""
        current: list[str] = []
        start = 0
        after_blank = True
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.removesuffix("\r")
            if line.startswith(" "):
                if after_blank:
                    raise self._fail(
                        "the line starts with a space but follows no line it could continue; "
                        "remove the space, or the blank line before it",
                        number,
                    )
                current.append(line[1:])
                continue
            if current:
                yield start, "".join(current)
                current = []
            if not line:
                after_blank = True
                yield None
                continue
            after_blank = False
            start = number
            current = [line]
        if current:
            yield start, "".join(current)

    def _records(self, text: str) -> Iterator[_Record]:
        record: _Record | None = None
        seen_content = False
        for item in self._logical_lines(text):
            if item is None:
                if record is not None:
                    yield record
                    record = None
                continue
            number, line = item
            if line.startswith("#"):
                continue
            parsed = self._parse(number, line)
            name = parsed.name.casefold()
            if record is None:
                if name == "version" and not seen_content:
                    seen_content = True
                    continue
                if name != "dn":
                    raise self._fail(
                        f"a record must start with 'dn:', not {parsed.name!r}; separate records "
                        "with one blank line and do not break lines without a leading space",
                        number,
                    )
                record = _Record(number)
            seen_content = True
            if name == "changetype":
                # Checked here, before a change record's "-" lines could be blamed instead.
                self._check_change(parsed)
            record.lines.append(parsed)
        if record is not None:
            yield record

    def _parse(self, number: int, line: str) -> _Line:
        name, colon, rest = line.partition(":")
        if not colon or not _DESCRIPTION.fullmatch(name):
            raise self._fail(
                f"the line is not 'attribute: value' ({_clip(line)}); folded lines must start "
                "with one space",
                number,
            )
        if rest.startswith(":"):
            encoded = rest[1:].strip()
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise self._fail(
                    f"the value of {name} is not valid base64 ({_clip(encoded)}); re-export the "
                    "file, or write the value as text after a single ':'",
                    number,
                ) from None
            return _Line(number, name, data)
        if rest.startswith("<"):
            if name.casefold() in _WANTED or name.casefold() == "dn":
                raise self._fail(
                    f"the value of {name} is a URL reference (':<'), which is not read; export "
                    "the value inline",
                    number,
                )
            return _Line(number, name, b"")
        return _Line(number, name, rest.lstrip(" "))

    def _check_change(self, line: _Line) -> None:
        kind = self._text(line).strip().casefold()
        if kind != "add":
            raise self._fail(
                f"the record is a change ('changetype: {kind}'), not an entry; use an export "
                "(ldifde -f, ldapsearch) rather than a change file",
                line.number,
            )

    # -- entries -----------------------------------------------------------------------------

    def _text(self, line: _Line) -> str:
        if isinstance(line.value, str):
            return line.value
        try:
            return line.value.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail(
                f"the base64 value of {line.name} is not UTF-8 text; re-export the file",
                line.number,
            ) from None

    def _entry(self, record: _Record) -> DirectoryEntry | None:
        values: dict[str, list[_Line]] = {}
        for line in record.lines:
            values.setdefault(line.name.partition(";")[0].casefold(), []).append(line)

        classes = {self._text(line).strip().casefold() for line in values.get("objectclass", [])}
        if classes and (not classes & _PERSON_CLASSES or "computer" in classes):
            return None

        def single(attribute: str) -> _Line | None:
            found = values.get(attribute.casefold(), [])
            if len(found) > 1:
                raise self._fail(
                    f"the record has {len(found)} values of {attribute}, which holds one; keep "
                    f"one (lines {', '.join(str(line.number) for line in found)})",
                    found[1].number,
                )
            return found[0] if found else None

        account_line = single("sAMAccountName")
        if account_line is None:
            if classes:
                raise self._fail(
                    "the user record has no sAMAccountName; include it in the export "
                    "(ldifde -l sAMAccountName,telephoneNumber,...)",
                    record.number,
                )
            return None

        def text(attribute: str) -> str | None:
            line = single(attribute)
            if line is None:
                return None
            return self._text(line).strip() or None

        sid: str | None = None
        sid_line = single("objectSid")
        if sid_line is not None:
            if isinstance(sid_line.value, bytes):
                sid = sid_text(sid_line.value)
            elif _SID.fullmatch(sid_line.value.strip()):
                sid = sid_line.value.strip()

        account = self._text(account_line).strip()
        domain = self._domain or self._domain_of(record)
        try:
            return DirectoryEntry(
                source_domain=domain,
                source_account_name=account,
                display_name=text("displayName"),
                email=text("mail"),
                phone=text("telephoneNumber") or text("mobile"),
                sid=sid,
            )
        except InvalidValueError as error:
            raise self._fail(
                f"{error}; correct the {error.field} of the record", record.number
            ) from None

    def _domain_of(self, record: _Record) -> str:
        dn = self._text(record.lines[0])
        for part in _DN_SEPARATOR.split(dn):
            name, equals, value = part.partition("=")
            if equals and name.strip().casefold() == "dc" and value.strip():
                return value.strip().upper()
        raise self._fail(
            f"the dn {_clip(dn)} has no DC= part to take the domain from; pass domain='CORP' "
            "(the NetBIOS name of the domain)",
            record.number,
        )


def _clip(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")
