"""The CORP source directory: entries, the in-memory directory, and CSV and LDIF exports."""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import pathlib
import pickle
import string
import struct
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyampam import PhoneNumber
from pyampam.directory import (
    CSV_COLUMNS,
    LDIF_ATTRIBUTES,
    CsvDirectory,
    DirectoryEntry,
    DirectoryError,
    LdifDirectory,
    MemoryDirectory,
    SourceDirectory,
    load_directory,
)
from pyampam.exceptions import (
    AlreadyExistsError,
    InvalidValueError,
    NotFoundError,
    PhoneNumberError,
    PyampamError,
)

DATA = pathlib.Path(__file__).parent / "data" / "directory"
JEN_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"
HEADER = "domain,sAMAccountName,telephoneNumber,displayName,mail,objectSid\n"


def jen(**changes: object) -> DirectoryEntry:
    fields: dict[str, object] = {
        "source_domain": "CORP",
        "source_account_name": "jen",
        "display_name": "Jen Smith",
        "phone": "2135551212",
    }
    fields.update(changes)
    return DirectoryEntry(**fields)  # type: ignore[arg-type]


def write(tmp_path: pathlib.Path, name: str, text: str, encoding: str = "utf-8") -> pathlib.Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def binary_sid(authority: int, *parts: int) -> bytes:
    """A SID in its binary form, built from the layout Microsoft documents for SID."""
    return (
        bytes([1, len(parts)])
        + authority.to_bytes(6, "big")
        + b"".join(struct.pack("<I", part) for part in parts)
    )


# --- entries and the in-memory directory --------------------------------------------------------


def test_entry_reads_its_phone_with_the_default_country_code() -> None:
    """parse_phone() reads the raw text as MIM does, with DefaultCountryCode for bare numbers."""
    assert jen().parse_phone() == PhoneNumber(1, "2135551212")
    assert jen(phone="20 7946 0958").parse_phone(44) == PhoneNumber(44, "2079460958")
    assert jen(phone=None).parse_phone() is None
    with pytest.raises(PhoneNumberError):
        jen(phone="call me").parse_phone()


def test_entry_knows_its_identity_and_key() -> None:
    r"""source_identity is DOMAIN\account; key is the case-folded pair lookups compare."""
    entry = jen(source_domain="Corp", source_account_name="Jen")
    assert entry.source_identity == "Corp\\Jen"
    assert entry.key == ("corp", "jen")


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("source_domain", ""),
        ("source_account_name", "  "),
        ("source_account_name", None),
        ("display_name", "tab\there"),
        ("phone", ""),
        ("email", 5),
    ],
)
def test_entry_refuses_blank_and_control_characters(field: str, bad: object) -> None:
    """Domain and account are required; no field may be blank or hold a control character."""
    with pytest.raises(InvalidValueError) as caught:
        jen(**{field: bad})
    assert caught.value.field == field


def test_memory_directory_looks_up_ignoring_case() -> None:
    """lookup() finds an entry whatever the case of domain and account; None when absent."""
    directory = MemoryDirectory([jen()])
    assert directory.lookup("corp", "JEN") == jen()
    assert directory.lookup("CORP", "bob") is None
    assert directory.lookup("FABRIKAM", "jen") is None
    assert isinstance(directory, SourceDirectory)
    assert len(directory) == 1


def test_memory_directory_refuses_a_second_entry_for_an_account() -> None:
    """add() refuses an account already held (in any case); replace() swaps it."""
    directory = MemoryDirectory([jen()])
    with pytest.raises(AlreadyExistsError, match=r"CORP\\jen"):
        directory.add(jen(source_account_name="JEN"))
    old = directory.replace(jen(display_name="Jen Jones"))
    assert old == jen()
    assert directory.lookup("CORP", "jen") == jen(display_name="Jen Jones")
    with pytest.raises(NotFoundError):
        directory.replace(jen(source_account_name="bob"))


def test_set_phone_changes_only_the_directory_entry() -> None:
    """set_phone() returns the changed entry, which later lookups see."""
    directory = MemoryDirectory([jen()])
    changed = directory.set_phone("corp", "jen", "+1 425 555 0100")
    assert changed == jen(phone="+1 425 555 0100")
    assert directory.lookup("CORP", "jen") == changed
    assert directory.set_phone("CORP", "jen", None).phone is None
    with pytest.raises(NotFoundError, match="add"):
        directory.set_phone("CORP", "bob", "2135551212")


def test_memory_directory_entries_and_remove() -> None:
    """entries() yields in the order added; remove() takes one out and returns it."""
    bob = jen(source_account_name="bob")
    directory = MemoryDirectory([jen(), bob])
    assert list(directory.entries()) == [jen(), bob]
    assert directory.remove("corp", "JEN") == jen()
    assert list(directory.entries()) == [bob]
    with pytest.raises(NotFoundError):
        directory.remove("CORP", "jen")


def test_memory_directory_refuses_what_is_not_an_entry() -> None:
    """add() takes DirectoryEntry values; lookup() takes text."""
    with pytest.raises(InvalidValueError, match="DirectoryEntry"):
        MemoryDirectory([{"source_domain": "CORP"}])  # type: ignore[list-item]
    with pytest.raises(InvalidValueError, match="source_domain"):
        MemoryDirectory().lookup(None, "jen")  # type: ignore[arg-type]


# --- CSV -----------------------------------------------------------------------------------------


def test_reads_a_powershell_export_csv() -> None:
    """A Get-ADUser | Export-Csv file: #TYPE line, quoted fields, no domain column."""
    directory = CsvDirectory.load(DATA / "corp-adusers.csv", domain="CORP")
    assert len(directory) == 3
    assert directory.lookup("corp", "jen") == DirectoryEntry(
        source_domain="CORP",
        source_account_name="jen",
        display_name="Smith, Jen",
        email="jen@corp.contoso.com",
        phone="+1 (425) 555-0100",
        sid=JEN_SID,
    )
    bob = directory.lookup("CORP", "bob")
    assert bob is not None
    assert bob.display_name == 'Bob "Bobby" Jones'
    assert bob.phone == "+44 7700 900123"  # telephoneNumber is empty: mobile is used
    ana = directory.lookup("CORP", "ana")
    assert ana is not None
    assert (ana.phone, ana.email) == (None, None)


def test_reads_an_excel_csv_with_bom_semicolons_and_spaced_headers() -> None:
    """UTF-8 with BOM, ';' delimiter, CRLF, 'Account Name' and 'E-Mail' headers, a blank line."""
    directory = load_directory(DATA / "corp-hr.csv")
    assert isinstance(directory, CsvDirectory)
    assert [entry.source_identity for entry in directory.entries()] == [
        "CORP\\jen",
        "CORP\\bob",
        "FABRIKAM\\jen",
    ]
    bob = directory.lookup("corp", "bob")
    assert bob is not None
    assert (bob.display_name, bob.phone) == ("Jones; Bob", "+1 425 555 0199 x123")
    fabrikam = directory.lookup("fabrikam", "JEN")
    assert fabrikam is not None
    assert fabrikam.email is None


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_csv_encodings(tmp_path: pathlib.Path, encoding: str) -> None:
    """UTF-8 with or without BOM and UTF-16 with BOM are all read."""
    path = write(tmp_path, "corp.csv", HEADER + "CORP,zoë,2135551212,Zoë Ångström,,\n", encoding)
    entry = CsvDirectory(path).lookup("CORP", "ZOË")
    assert entry is not None
    assert entry.display_name == "Zoë Ångström"


@pytest.mark.parametrize(
    "header",
    [
        "Domain,SamAccountName,TelephoneNumber",
        " DOMAIN , sam account name , telephone number ",
        "telephone_number,source-account-name,NetBIOS Domain",
        "sAMAccountName;domain;phone",
        "account\tdomain\tOfficePhone",
    ],
)
def test_csv_columns_are_found_by_name(tmp_path: pathlib.Path, header: str) -> None:
    """Column names ignore case, spaces, '_' and '-', may come in any order, with , ; or tab."""
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    names = [name.strip().casefold().replace(" ", "") for name in header.split(delimiter)]
    values = {"domain": "CORP", "netbiosdomain": "CORP"}
    row = [
        values.get(name, "jen" if "account" in name else "2135551212")
        for name in (n.replace("_", "").replace("-", "") for n in names)
    ]
    path = write(tmp_path, "corp.csv", header + "\n" + delimiter.join(row) + "\n")
    assert CsvDirectory(path).lookup("CORP", "jen") == DirectoryEntry(
        source_domain="CORP", source_account_name="jen", phone="2135551212"
    )


def test_csv_prefers_telephone_number_over_office_phone(tmp_path: pathlib.Path) -> None:
    """With several names for one field, the first in CSV_COLUMNS wins; the rest are ignored."""
    path = write(
        tmp_path,
        "corp.csv",
        "OfficePhone,EmailAddress,domain,account,telephoneNumber,mail\n"
        "111,a@x.com,CORP,jen,2135551212,jen@x.com\n",
    )
    entry = CsvDirectory(path).lookup("CORP", "jen")
    assert entry is not None
    assert (entry.phone, entry.email) == ("2135551212", "jen@x.com")
    assert CSV_COLUMNS["phone"][0] == "telephoneNumber"


def test_csv_domain_option_fills_rows_without_one(tmp_path: pathlib.Path) -> None:
    """domain= is used when there is no domain column or a row leaves it empty."""
    path = write(
        tmp_path, "corp.csv", "domain,account,phone\n,jen,2135551212\nFABRIKAM,bob,2135551213\n"
    )
    directory = CsvDirectory(path, domain="CORP")
    assert directory.lookup("CORP", "jen") is not None
    assert directory.lookup("FABRIKAM", "bob") is not None
    with pytest.raises(DirectoryError, match="domain is empty") as caught:
        CsvDirectory(path)
    assert caught.value.line == 2


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("account,phone", "domain"),
        ("domain,phone,displayName", "account name"),
        ("domain,account,displayName", "phone number"),
    ],
)
def test_csv_missing_required_column(tmp_path: pathlib.Path, header: str, missing: str) -> None:
    """A header without the account, domain or a phone column says what to add, on line 1."""
    path = write(tmp_path, "corp.csv", header + "\nx,y,z\n")
    with pytest.raises(DirectoryError, match=f"lacks a required column: the {missing}") as caught:
        CsvDirectory(path)
    assert (caught.value.path, caught.value.line) == (str(path), 1)


def test_csv_header_repeating_a_column_is_an_error(tmp_path: pathlib.Path) -> None:
    """Two columns with the same name cannot be told apart: the error names both."""
    path = write(tmp_path, "corp.csv", "domain,account,phone,Phone\nCORP,jen,1,2\n")
    with pytest.raises(DirectoryError, match="columns 3 and 4 are both named 'Phone'"):
        CsvDirectory(path)


def test_csv_without_header_is_an_error(tmp_path: pathlib.Path) -> None:
    """An empty file has no header row to find columns in."""
    with pytest.raises(DirectoryError, match="no header row"):
        CsvDirectory(write(tmp_path, "corp.csv", ""))


def test_csv_duplicate_account_names_both_lines(tmp_path: pathlib.Path) -> None:
    """Two rows for one account (in any case) raise an error naming both lines."""
    path = write(
        tmp_path,
        "corp.csv",
        'domain,account,phone,description\nCORP,jen,1,"Smith,\nJen"\nCORP,bob,2,\ncorp,JEN,3,\n',
    )
    with pytest.raises(DirectoryError, match="appears twice, on lines 2 and 5") as caught:
        CsvDirectory(path)
    assert caught.value.line == 5


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        ("CORP,jen,1\nCORP,bob,2,extra\n", 3, "has 4 fields but the header has 3"),
        ("CORP,jen\n", 2, "has 2 fields"),
        ('CORP,"jen,1\n', 2, "malformed"),
        ('CORP,"jen"x,1\n', 2, "malformed"),
        ("CORP,,1\n", 2, "account name is empty"),
        ("CORP,j\x07n,1\n", 2, "control character"),
    ],
)
def test_csv_bad_rows_name_their_line(
    tmp_path: pathlib.Path, body: str, line: int, says: str
) -> None:
    """Wrong field counts, broken quotes and bad values raise DirectoryError with the line."""
    path = write(tmp_path, "corp.csv", "domain,account,phone\n" + body)
    with pytest.raises(DirectoryError, match=says) as caught:
        CsvDirectory(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_csv_invalid_utf8_names_the_line(tmp_path: pathlib.Path) -> None:
    """Bytes that are not UTF-8 (a cp1252 export) raise DirectoryError naming the line."""
    path = tmp_path / "corp.csv"
    path.write_bytes(b"domain,account,phone\nCORP,jen,1\nCORP,zo\xeb,2\n")
    with pytest.raises(DirectoryError, match="not valid UTF-8") as caught:
        CsvDirectory(path)
    assert caught.value.line == 3
    assert caught.value.__cause__ is None


def test_csv_utf16_without_bom_is_explained(tmp_path: pathlib.Path) -> None:
    """UTF-16 without a byte order mark shows up as NUL characters, and the error says so."""
    path = write(tmp_path, "corp.csv", "domain,account,phone\n", "utf-16-le")
    with pytest.raises(DirectoryError, match="UTF-16 without a byte order mark"):
        CsvDirectory(path)


def test_unreadable_file_is_a_directory_error(tmp_path: pathlib.Path) -> None:
    """A missing file, or a folder, gives DirectoryError naming the path."""
    with pytest.raises(DirectoryError, match="cannot read the CSV export") as caught:
        CsvDirectory(tmp_path / "missing.csv")
    assert caught.value.path == str(tmp_path / "missing.csv")
    with pytest.raises(DirectoryError, match="cannot read the LDIF export"):
        LdifDirectory(tmp_path)


def test_reload_picks_up_changes_and_keeps_entries_on_error(tmp_path: pathlib.Path) -> None:
    """reload() reads a changed file; if the new file is broken the old entries stay."""
    path = write(tmp_path, "corp.csv", "domain,account,phone\nCORP,jen,2135551212\n")
    directory = CsvDirectory(path)
    write(tmp_path, "corp.csv", "domain,account,phone\nCORP,jen,4255550100\n")
    directory.reload()
    assert directory.lookup("CORP", "jen") == DirectoryEntry(
        source_domain="CORP", source_account_name="jen", phone="4255550100"
    )
    write(tmp_path, "corp.csv", "domain,account\nCORP,jen\n")
    with pytest.raises(DirectoryError):
        directory.reload()
    entry = directory.lookup("CORP", "jen")
    assert entry is not None
    assert entry.phone == "4255550100"


def test_csv_options_are_checked(tmp_path: pathlib.Path) -> None:
    """domain= must be a name and delimiter= one character."""
    path = write(tmp_path, "corp.csv", HEADER)
    with pytest.raises(InvalidValueError, match="domain"):
        CsvDirectory(path, domain=" ")
    with pytest.raises(InvalidValueError, match="delimiter"):
        CsvDirectory(path, delimiter=";;")
    assert len(CsvDirectory(path, delimiter=",")) == 0


def test_csv_of_100k_entries_loads(tmp_path: pathlib.Path) -> None:
    """A 100,000-user export loads whole; any entry is found by account, in any case.

    (Its load time is a benchmark figure, not something a test asserts.)
    """
    lines = [HEADER] + [
        f"CORP,user{n},+1 425 555 {n % 10000:04d},User {n},user{n}@corp.com,S-1-5-21-1-2-3-{n}\n"
        for n in range(100_000)
    ]
    path = write(tmp_path, "big.csv", "".join(lines))
    directory = CsvDirectory(path)
    assert len(directory) == 100_000
    for n in (0, 50_000, 99_999):
        entry = directory.lookup("corp", f"USER{n}")
        assert entry is not None
        assert entry.sid == f"S-1-5-21-1-2-3-{n}"
        assert entry.phone == f"+1 425 555 {n % 10000:04d}"
    assert directory.lookup("CORP", "user100000") is None


_cell = st.text(
    st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from(',;"'), max_size=12
)
_note = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.text(string.ascii_uppercase, min_size=1, max_size=6),
            _cell.filter(str.strip),
            st.none() | _cell.filter(str.strip),
            st.none() | _cell.filter(str.strip),
            _note,
        ),
        max_size=8,
        unique_by=lambda row: (row[0].casefold(), row[1].strip().casefold()),
    )
)
def test_csv_round_trip(rows: list[tuple[str, str, str | None, str | None, str]]) -> None:
    """Whatever csv.writer writes (quotes, delimiters, line breaks elsewhere) is read back."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Domain", "sAMAccountName", "telephoneNumber", "Display Name", "Notes"])
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    with tempfile.TemporaryDirectory() as folder:
        path = write(pathlib.Path(folder), "corp.csv", buffer.getvalue())
        directory = CsvDirectory(path)
    assert [
        (e.source_domain, e.source_account_name, e.phone, e.display_name)
        for e in directory.entries()
    ] == [
        (
            domain,
            account.strip(),
            None if phone is None else phone.strip(),
            None if name is None else name.strip(),
        )
        for domain, account, phone, name, _ in rows
    ]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text()
    | st.lists(st.sampled_from(["CORP", "jen", "1", ",", ";", '"', "\n", "\r", " ", "x"]))
    .map("".join)
    .map(lambda body: "domain,account,phone\n" + body)
)
def test_any_text_as_csv_loads_or_raises_directory_error(text: str) -> None:
    """No input makes the CSV reader fail with anything but DirectoryError."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "any.csv"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        with contextlib.suppress(DirectoryError):
            CsvDirectory(path)


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary())
def test_any_bytes_as_csv_load_or_raise_directory_error(data: bytes) -> None:
    """Random bytes, BOMs included, give entries or a DirectoryError, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "any.csv"
        path.write_bytes(data)
        with contextlib.suppress(DirectoryError):
            CsvDirectory(path, domain="CORP")


# --- LDIF ----------------------------------------------------------------------------------------


def test_reads_an_ldifde_export() -> None:
    """The sample export: folding, base64 dn and values, SIDs, groups and computers skipped."""
    directory = LdifDirectory.load(DATA / "corp.ldif")
    assert [entry.source_account_name for entry in directory.entries()] == ["jen", "zoe", "bob"]
    assert directory.lookup("corp", "JEN") == DirectoryEntry(
        source_domain="CORP",
        source_account_name="jen",
        display_name="Jen Smith",
        email="jen@corp.contoso.com",
        phone="+1 (425) 555-0100",
        sid=JEN_SID,
    )
    zoe = directory.lookup("CORP", "zoe")
    assert zoe is not None
    assert zoe.display_name == "Zoë Ångström"
    assert zoe.phone == "+46 70 123 45 67"  # no telephoneNumber: mobile is used
    assert zoe.sid == "S-1-5-21-1004336348-1177238915-682003330-1106"
    bob = directory.lookup("CORP", "bob")
    assert bob is not None
    assert (bob.phone, bob.sid) == (None, None)
    assert directory.lookup("CORP", "SQL Admins") is None
    assert directory.lookup("CORP", "WS01$") is None


def test_ldif_domain_option_overrides_the_dn(tmp_path: pathlib.Path) -> None:
    """domain= gives the NetBIOS name when it differs from the first DC= of the dn."""
    directory = LdifDirectory(DATA / "corp.ldif", domain="CONTOSO")
    assert directory.lookup("CONTOSO", "jen") is not None
    assert directory.lookup("CORP", "jen") is None


def _ldif(*records: str) -> str:
    return "\n\n".join(record.strip("\n") for record in records) + "\n"


USER = """dn: CN=Jen,DC=corp,DC=com
objectClass: user
sAMAccountName: jen
telephoneNumber: 2135551212
"""


def test_ldif_details(tmp_path: pathlib.Path) -> None:
    """Attribute names ignore case and options; comments fold; CRLF and no version line work."""
    text = (
        "# a comment that is\n  folded\r\n"
        "dn: cn=Jen, dc=Corp , DC=com\r\n"
        "OBJECTCLASS: inetOrgPerson\r\n"
        "samaccountname:jen\r\n"
        "telephoneNumber;lang-en: 213\r\n 555\r\n  1212\r\n"
        "objectSid: S-1-5-21-1-2-3-500\r\n"
        "thumbnailPhoto:: AAEC\r\n"
        "seeAlso:< file:///dev/null\r\n"
    )
    entry = LdifDirectory(write(tmp_path, "corp.ldif", text)).lookup("CORP", "jen")
    assert entry == DirectoryEntry(
        source_domain="CORP",
        source_account_name="jen",
        phone="213555 1212",
        sid="S-1-5-21-1-2-3-500",
    )


@pytest.mark.parametrize(
    ("sid", "expected"),
    [
        (binary_sid(5, 21, 1004336348, 1177238915, 682003330, 1105), JEN_SID),
        (binary_sid(5, 32, 544), "S-1-5-32-544"),
        (binary_sid(1, 0), "S-1-1-0"),
        (binary_sid(5, 21, 1)[:-1], None),
        (b"\x02" + binary_sid(5, 18)[1:], None),
        (b"", None),
    ],
)
def test_ldif_binary_sids(tmp_path: pathlib.Path, sid: bytes, expected: str | None) -> None:
    """A base64 objectSid becomes S-1-...; bytes that are not a SID are left out."""
    encoded = base64.b64encode(sid).decode()
    path = write(tmp_path, "corp.ldif", USER + f"objectSid:: {encoded}\n")
    entry = LdifDirectory(path).lookup("CORP", "jen")
    assert entry is not None
    assert entry.sid == expected


def test_ldif_without_object_class_takes_records_with_an_account(tmp_path: pathlib.Path) -> None:
    """With objectClass not exported, records with sAMAccountName are taken, others skipped."""
    path = write(
        tmp_path,
        "corp.ldif",
        _ldif("dn: OU=Staff,DC=corp,DC=com", "dn: CN=Jen,DC=corp,DC=com\nsAMAccountName: jen"),
    )
    assert [e.source_account_name for e in LdifDirectory(path).entries()] == ["jen"]


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (USER + "telephoneNumber:: not*base64\n", 5, "not valid base64"),
        (USER + "mail:: //79\n", 5, "not UTF-8 text"),
        (USER + "just some words\n", 5, "not 'attribute: value'"),
        (USER + "\n continued\n", 6, "follows no line"),
        (" dn: x\n", 1, "follows no line"),
        ("sAMAccountName: jen\n", 1, "must start with 'dn:'"),
        (_ldif(USER, "objectClass: user\nsAMAccountName: bob"), 6, "must start with 'dn:'"),
        (USER.replace("DC=corp,DC=com", "O=Contoso"), 1, "no DC= part"),
        ("dn: CN=Jen,DC=corp\nobjectClass: user\ndisplayName: Jen\n", 1, "no sAMAccountName"),
        (USER + "telephoneNumber: 2135551213\n", 5, "2 values of telephoneNumber"),
        (USER + "mobile:< file:///etc/passwd\n", 5, "URL reference"),
        (USER + "changetype: modify\n", 5, "changetype: modify"),
        ("dn: CN=Jen,DC=corp\nchangetype: modify\nreplace: mail\nmail: a@b.c\n-\n", 2, "modify"),
        (USER.replace("jen", "j\x07n"), 1, "control character"),
        ("dn: CN=Jen,DC=corp\nsAMAccountName:: \n", 1, "must not be blank"),
    ],
)
def test_ldif_errors_name_their_line(
    tmp_path: pathlib.Path, text: str, line: int, says: str
) -> None:
    """Malformed LDIF raises DirectoryError with the file, the line and what to fix."""
    path = write(tmp_path, "corp.ldif", text)
    with pytest.raises(DirectoryError, match=says) as caught:
        LdifDirectory(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert caught.value.__cause__ is None


def test_ldif_duplicate_account_names_both_records(tmp_path: pathlib.Path) -> None:
    """The same account in two records (any case) is an error naming both starting lines."""
    other = USER.replace("CN=Jen", "CN=Jen2").replace("jen", "JEN")
    path = write(tmp_path, "corp.ldif", _ldif(USER, other))
    with pytest.raises(DirectoryError, match="records starting on lines 1 and 6"):
        LdifDirectory(path)


def test_ldif_in_utf16(tmp_path: pathlib.Path) -> None:
    """An LDIF saved as UTF-16 with a byte order mark (ldifde -u) is read."""
    path = write(tmp_path, "corp.ldf", USER.replace("Jen", "Zoë"), "utf-16")
    directory = load_directory(path)
    assert isinstance(directory, LdifDirectory)
    assert directory.lookup("CORP", "jen") is not None


def test_ldif_attributes_are_documented() -> None:
    """LDIF_ATTRIBUTES lists what is read, telephoneNumber before its mobile fallback."""
    assert LDIF_ATTRIBUTES["phone"] == ("telephoneNumber", "mobile")
    assert LDIF_ATTRIBUTES["source_account_name"] == ("sAMAccountName",)


def _fold(line: str, width: int) -> str:
    parts = [line[:width]] + [line[i : i + width - 1] for i in range(width, len(line), width - 1)]
    return "\n ".join(parts)


_value = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=15).filter(
    str.strip
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.lists(
        st.tuples(
            st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=10),
            st.none() | _value,
            st.none() | _value,
        ),
        max_size=6,
        unique_by=lambda entry: entry[0].casefold(),
    ),
    width=st.integers(8, 76),
    encode=st.booleans(),
)
def test_ldif_round_trip(
    entries: list[tuple[str, str | None, str | None]], width: int, encode: bool
) -> None:
    """Entries written as LDIF, folded at any width, plain or base64, are read back equal."""

    def line(name: str, value: str) -> str:
        if encode or value != value.strip() or value.startswith((":", "<")):
            return _fold(f"{name}:: {base64.b64encode(value.encode()).decode()}", width)
        return _fold(f"{name}: {value}", width)

    records = []
    for account, phone, name in entries:
        lines = [line("dn", f"CN={account},DC=corp,DC=com"), "objectClass: user"]
        lines.append(line("sAMAccountName", account))
        if phone is not None:
            lines.append(line("telephoneNumber", phone))
        if name is not None:
            lines.append(line("displayName", name))
        records.append("\n".join(lines))
    with tempfile.TemporaryDirectory() as folder:
        path = write(pathlib.Path(folder), "corp.ldif", "version: 1\n\n" + _ldif(*records))
        directory = LdifDirectory(path)
    assert [(e.source_account_name, e.phone, e.display_name) for e in directory.entries()] == [
        (account, None if phone is None else phone.strip(), None if name is None else name.strip())
        for account, phone, name in entries
    ]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text()
    | st.lists(
        st.sampled_from(
            [
                "dn: CN=a,DC=x\n",
                "dn:: Q049YSxEQz14\n",
                "sAMAccountName: a\n",
                "objectClass: user\n",
                "objectSid:: AQ==\n",
                "telephoneNumber:: ////\n",
                "changetype: add\n",
                "version: 1\n",
                " folded\n",
                "# note\n",
                "\n",
                "x\n",
                ":\n",
            ]
        )
    ).map("".join)
)
def test_any_text_as_ldif_loads_or_raises_directory_error(text: str) -> None:
    """No input makes the LDIF reader fail with anything but DirectoryError."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "any.ldif"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        with contextlib.suppress(DirectoryError):
            LdifDirectory(path)


# --- choosing a reader, errors, import cost ------------------------------------------------------


def test_load_directory_chooses_by_extension(tmp_path: pathlib.Path) -> None:
    """.csv gives a CsvDirectory, .ldif and .LDF an LdifDirectory, anything else an error."""
    assert isinstance(load_directory(DATA / "corp-hr.csv"), CsvDirectory)
    assert isinstance(load_directory(DATA / "corp.ldif", domain="CORP"), LdifDirectory)
    upper = write(tmp_path, "CORP.LDF", USER)
    assert isinstance(load_directory(upper), LdifDirectory)
    with pytest.raises(DirectoryError, match=r"extension '\.txt'"):
        load_directory(write(tmp_path, "corp.txt", HEADER))


def test_file_directories_are_source_directories() -> None:
    """Both file readers satisfy the SourceDirectory protocol and say what they hold."""
    csv_directory = CsvDirectory(DATA / "corp-adusers.csv", domain="CORP")
    ldif_directory = LdifDirectory(DATA / "corp.ldif")
    assert isinstance(csv_directory, SourceDirectory)
    assert isinstance(ldif_directory, SourceDirectory)
    assert repr(ldif_directory).endswith("corp.ldif', entries=3)")
    assert ldif_directory.path == str(DATA / "corp.ldif")


def test_directory_error_is_a_pyampam_error_that_pickles() -> None:
    """DirectoryError keeps its path and line through pickling and shows them first."""
    error = DirectoryError("bad", path="corp.csv", line=4)
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, made one line above
    assert isinstance(again, DirectoryError)
    assert isinstance(again, PyampamError)
    assert (again.path, again.line, str(again)) == ("corp.csv", 4, "corp.csv:4: bad")
    assert str(DirectoryError("bad", line=2)) == "line 2: bad"
    assert str(DirectoryError("bad")) == "bad"


def test_importing_directory_stays_light() -> None:
    """`import pyampam.directory` loads neither csv, attrs nor the readers until used."""
    code = (
        "import sys, pyampam.directory; "
        "print(sorted(m for m in sys.modules if m in ('csv', 'attrs', 'attr', 'base64') "
        "or m.startswith('pyampam.directory.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"
