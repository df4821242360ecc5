"""A CORP directory read from a CSV export (``Export-Csv``, Excel, an HR system)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pyampam.directory._directory import (
    DirectoryEntry,
    DirectoryError,
    _FileDirectory,
    check_no_nul,
)
from pyampam.exceptions import InvalidValueError

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["CSV_COLUMNS", "CsvDirectory"]

CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "source_domain": ("Domain", "SourceDomain", "NetBIOSDomain", "NetBIOSName"),
    "source_account_name": ("sAMAccountName", "Account", "AccountName", "SourceAccountName"),
    "phone": (
        "telephoneNumber",
        "Phone",
        "PhoneNumber",
        "Telephone",
        "OfficePhone",
        "SourcePhoneNumber",
    ),
    "mobile": ("mobile", "MobilePhone", "MobileNumber"),
    "display_name": ("displayName", "SourceDisplayName"),
    "email": ("mail", "Email", "EmailAddress", "SourceEmail"),
    "sid": ("objectSid", "SID", "SourceSID"),
}
"""The header names each field is read from; case, spaces, ``_`` and ``-`` do not count.

So ``Account Name``, ``account_name`` and ``ACCOUNTNAME`` all name the account column. When a
header has several names for one field (``Get-ADUser -Properties *`` writes both
``telephoneNumber`` and ``OfficePhone``), the one listed first here is used.
"""

_LABELS = {
    "source_domain": "domain",
    "source_account_name": "account name",
    "phone": "phone number",
    "mobile": "mobile number",
    "display_name": "display name",
    "email": "e-mail address",
    "sid": "SID",
}


def _normal(header: str) -> str:
    return "".join(header.split()).replace("_", "").replace("-", "").casefold()


_BY_NAME = {_normal(name): field for field, names in CSV_COLUMNS.items() for name in names}
_RANK = {_normal(name): rank for names in CSV_COLUMNS.values() for rank, name in enumerate(names)}
_DELIMITERS = (",", ";", "\t")
# Windows PowerShell's Export-Csv writes this line above the header unless told -NoTypeInformation.
_TYPE_LINE = "#TYPE"


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names)


class CsvDirectory(_FileDirectory):
    """A CORP directory exported to CSV, with a header row; loaded whole when made.

    Columns are found by name, ignoring case, spaces, ``_`` and ``-``, in any order; others are
    ignored. See :data:`CSV_COLUMNS` for every accepted name. The account column
    (``sAMAccountName``, ``account``...) and a phone column (``telephoneNumber``, ``phone``,
    ``OfficePhone``... or ``mobile``) are required; so is a domain column (``domain``,
    ``NetBIOSDomain``...) unless ``domain=`` gives the NetBIOS name for rows without one.
    A row's ``mobile`` is used when its phone column is empty.

    The file may be UTF-8 with or without a byte order mark, or UTF-16 with one; fields may be
    quoted. The delimiter is ``,``, ``;`` or tab, found from the header unless ``delimiter=``
    says. A ``#TYPE`` line from Windows PowerShell's ``Export-Csv`` is skipped. Anything else
    wrong, and two rows for one account, raise :class:`DirectoryError` with the line.
    """

    _kind = "CSV export"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        domain: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        super().__init__(path)
        if domain is not None and (not isinstance(domain, str) or not domain.strip()):
            raise InvalidValueError(
                f"domain must be a NetBIOS domain name such as 'CORP', not {domain!r}",
                field="domain",
            )
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise InvalidValueError(
                f"delimiter must be one character such as ',' or ';', not {delimiter!r}",
                field="delimiter",
            )
        self._domain = None if domain is None else domain.strip()
        self._delimiter = delimiter
        self.reload()

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        domain: str | None = None,
        delimiter: str | None = None,
    ) -> CsvDirectory:
        """Read the CSV export at *path*; the same as ``CsvDirectory(path, ...)``."""
        return cls(path, domain=domain, delimiter=delimiter)

    def _fail(self, message: str, line: int | None = None) -> DirectoryError:
        return DirectoryError(message, path=self._path, line=line)

    def _load(self, text: str) -> dict[tuple[str, str], DirectoryEntry]:
        check_no_nul(text, self._path, self._kind)
        stream = io.StringIO(text, newline="")
        first = stream.readline()
        offset = 0
        if first.startswith(_TYPE_LINE):
            offset = 1
        else:
            stream.seek(0)
        lines = text.splitlines()
        header_text = lines[offset] if len(lines) > offset else ""
        delimiter = self._delimiter or _guess_delimiter(header_text)
        reader = csv.reader(stream, delimiter=delimiter, strict=True)
        try:
            return self._read(reader, offset)
        except csv.Error as error:
            raise self._fail(
                f"the CSV is malformed ({error}); check the quotes around this field: a quote "
                'inside a quoted field is written twice ("")',
                offset + reader.line_num,
            ) from None

    def _read(self, reader: Reader, offset: int) -> dict[tuple[str, str], DirectoryEntry]:
        header = next(reader, None)
        if header is None or not any(name.strip() for name in header):
            raise self._fail(
                "the file has no header row; the first line must name the columns, such as "
                "domain,sAMAccountName,telephoneNumber",
                offset + 1,
            )
        header_line = offset + reader.line_num
        columns = self._columns(header, header_line)
        width = len(header)
        index: dict[tuple[str, str], DirectoryEntry] = {}
        lines: dict[tuple[str, str], int] = {}
        line = header_line
        for row in reader:
            start, line = line + 1, offset + reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(row) != width:
                raise self._fail(
                    f"the row has {len(row)} fields but the header has {width}; quote any field "
                    f"that holds the delimiter or a line break",
                    start,
                )
            entry = self._entry(row, columns, start)
            if entry.key in index:
                raise self._fail(
                    f"{entry.source_identity} appears twice, on lines {lines[entry.key]} and "
                    f"{start}; remove one of the rows",
                    start,
                )
            index[entry.key] = entry
            lines[entry.key] = start
        return index

    def _columns(self, header: list[str], line: int) -> dict[str, int]:
        columns: dict[str, int] = {}
        seen: dict[str, int] = {}
        for position, name in enumerate(header):
            normal = _normal(name)
            field = _BY_NAME.get(normal)
            if field is None:
                continue
            if normal in seen:
                raise self._fail(
                    f"columns {seen[normal] + 1} and {position + 1} are both named {name!r}; "
                    "remove or rename one of them",
                    line,
                )
            seen[normal] = position
            chosen = columns.get(field)
            if chosen is None or _RANK[normal] < _RANK[_normal(header[chosen])]:
                columns[field] = position
        missing = [
            field
            for field in ("source_domain", "source_account_name")
            if field not in columns and not (field == "source_domain" and self._domain)
        ]
        if "phone" not in columns and "mobile" not in columns:
            missing.append("phone")
        if missing:
            wants = "; ".join(
                f"the {_LABELS[field]}, named one of {_shown(CSV_COLUMNS[field])}"
                + (f" (or {_shown(CSV_COLUMNS['mobile'])})" if field == "phone" else "")
                for field in missing
            )
            hint = (
                " (or give the domain for every row: domain='CORP' in Python, "
                "--directory-domain CORP on the command line)"
                if "source_domain" in missing
                else ""
            )
            raise self._fail(
                f"the header lacks a required column: {wants}{hint}; the header read was "
                f"{header!r}",
                line,
            )
        return columns

    def _entry(self, row: list[str], columns: dict[str, int], line: int) -> DirectoryEntry:
        def value(field: str) -> str | None:
            position = columns.get(field)
            if position is None:
                return None
            text = row[position].strip()
            return text or None

        domain = value("source_domain") or self._domain
        account = value("source_account_name")
        if domain is None:
            raise self._fail(
                "the domain is empty; fill it in, or give the domain for every row (domain='CORP' "
                "in Python, --directory-domain CORP on the command line)",
                line,
            )
        if account is None:
            raise self._fail("the account name is empty; fill it in", line)
        try:
            return DirectoryEntry(
                source_domain=domain,
                source_account_name=account,
                display_name=value("display_name"),
                email=value("email"),
                phone=value("phone") or value("mobile"),
                sid=value("sid"),
            )
        except InvalidValueError as error:
            label = _LABELS.get(error.field or "", error.field)
            raise self._fail(f"{error}; correct the {label} of this row", line) from None


def _guess_delimiter(header: str) -> str:
    for delimiter in _DELIMITERS:
        try:
            names = next(csv.reader([header], delimiter=delimiter), [])
        except csv.Error:
            continue
        if any(_BY_NAME.get(_normal(name)) == "source_account_name" for name in names):
            return delimiter
    return _DELIMITERS[0]
