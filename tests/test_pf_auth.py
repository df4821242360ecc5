"""Reading the credentials out of ``pf_auth.cs``: syntax, encodings, errors, files."""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import pathlib
import re
import sys
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pyampam.exceptions import SettingsError
from pyampam.settings import SdkCredentials, _pf_auth, load_pf_auth, parse_pf_auth

DATA = pathlib.Path(__file__).parent / "data" / "pf_auth"

LICENSE = "K7QM2XR9TB4D"
GROUP = "9f3c1a7e5b2d4c6e8a0f1b3d5c7e9a2b"
PASSWORD = "HX4P9QK2MZ7RT3WN"


def declarations(
    license_key: str = f'"{LICENSE}"',
    group_key: str = f'"{GROUP}"',
    cert_password: str = f'"{PASSWORD}"',
    *,
    modifiers: str = "private const string",
) -> str:
    """C# declarations of the three keys, each value given as C# source."""
    return (
        f"{modifiers} LICENSE_KEY = {license_key};\n"
        f"{modifiers} GROUP_KEY = {group_key};\n"
        f"{modifiers} CERT_PASSWORD = {cert_password};\n"
    )


def in_class(body: str) -> str:
    return f"public static class pf_auth\n{{\n{body}}}\n"


def sdk_file(**values: str) -> str:
    return in_class(declarations(**values))


def expect_default(creds: SdkCredentials) -> None:
    assert (creds.license_key, creds.group_key, creds.cert_password) == (
        LICENSE,
        GROUP,
        PASSWORD,
    )


def parse_error(source: str | bytes) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        parse_pf_auth(source)
    return info.value


def load_error(path: str | os.PathLike[str]) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        load_pf_auth(path)
    return info.value


# --- realistic files ------------------------------------------------------------------------


def test_sdk_shaped_file_yields_its_three_credentials() -> None:
    """A file shaped like the SDK's pf_auth.cs, decoys and all, parses to its constants."""
    expect_default(load_pf_auth(DATA / "pf_auth.cs"))


def test_sdk_shaped_file_parses_the_same_as_text_and_bytes() -> None:
    """parse_pf_auth gives the same result for the file's str and bytes."""
    raw = (DATA / "pf_auth.cs").read_bytes()
    assert parse_pf_auth(raw) == parse_pf_auth(raw.decode("utf-8"))


def test_notepad_unicode_file_parses() -> None:
    """A UTF-16 LE file with BOM and CRLF, as Notepad saves "Unicode", parses."""
    raw = (DATA / "pf_auth_utf16le.cs").read_bytes()
    assert raw.startswith(codecs.BOM_UTF16_LE)
    expect_default(load_pf_auth(DATA / "pf_auth_utf16le.cs"))


def test_fork_with_file_scoped_namespace_parses() -> None:
    """A fork with a file-scoped namespace, tabs, split and concatenated values parses."""
    creds = load_pf_auth(DATA / "fork_namespace.cs")
    assert creds.license_key == "RT6YB3NK8ZQ2"
    assert creds.group_key == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert creds.cert_password == 'P4SS\\WORD"9QZ'


def test_unfilled_template_is_reported_as_never_filled_in() -> None:
    """The unfilled template fails on LICENSE_KEY's line, telling to download again."""
    error = load_error(DATA / "unfilled.cs")
    assert error.key == "LICENSE_KEY"
    assert error.line == 4
    assert "never filled in" in error.message
    assert "download the SDK again" in error.message
    assert "YOUR_LICENSE_KEY" not in error.message


def test_thumbprint_fork_names_the_thumbprint_line() -> None:
    """A fork with CERT_THUMBPRINT instead of CERT_PASSWORD says so, pointing at its line."""
    error = load_error(DATA / "thumbprint_fork.cs")
    assert error.key == "CERT_PASSWORD"
    assert error.line == 9
    assert "CERT_THUMBPRINT" in error.message
    assert "thumbprint" in error.message


def test_credentials_repr_masks_the_parsed_values() -> None:
    """The parsed credentials never show their values in repr()."""
    text = repr(parse_pf_auth(sdk_file()))
    assert LICENSE not in text
    assert GROUP not in text
    assert PASSWORD not in text


# --- declaration syntax -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "modifiers",
    [
        "private const string",
        "public const string",
        "internal const string",
        "protected const string",
        "protected internal const string",
        "private protected const string",
        "const string",
        "private static string",
        "public static readonly string",
        "static readonly String",
        "private const System.String",
        "internal static readonly global::System.String",
        "public static string?",
        "new private const string",
        "[Obsolete] private const string",
        '[Obsolete("private const string LICENSE_KEY = \\"X\\";")] public const string',
        "string",
    ],
)
def test_any_modifiers_and_string_spelling_are_accepted(modifiers: str) -> None:
    """Every combination of modifiers and spelling of the string type is read."""
    expect_default(parse_pf_auth(in_class(declarations(modifiers=modifiers))))


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda body: body, id="bare-declarations"),
        pytest.param(in_class, id="class"),
        pytest.param(lambda body: f"namespace A.B {{\n{in_class(body)}}}\n", id="namespace"),
        pytest.param(
            lambda body: f"namespace A {{ namespace B {{\n{in_class(body)}}} }}\n",
            id="nested-namespaces",
        ),
        pytest.param(lambda body: f"namespace A.B;\n\n{in_class(body)}", id="file-scoped"),
        pytest.param(
            lambda body: f"class Outer {{\n  private class pf_auth {{\n{body}  }}\n}}\n",
            id="nested-class",
        ),
        pytest.param(
            lambda body: (
                "using System;\n[assembly: CLSCompliant(true)]\nnamespace A\n{\n"
                f"internal sealed class Keys : Base<int>, IKeys where T : class\n{{\n{body}}}\n}}\n"
            ),
            id="attributes-and-base-list",
        ),
        pytest.param(
            lambda body: f"public partial record struct Keys(int A)\n{{\n{body}}}\n",
            id="record-struct",
        ),
    ],
)
def test_declarations_are_found_in_any_namespace_or_type(wrap: Callable[[str], str]) -> None:
    """Declarations are read at top level, in (file-scoped) namespaces and nested types."""
    expect_default(parse_pf_auth(wrap(declarations())))


@pytest.mark.parametrize(
    ("name", "transform"),
    [
        ("LF", lambda text: text),
        ("CRLF", lambda text: text.replace("\n", "\r\n")),
        ("CR", lambda text: text.replace("\n", "\r")),
        ("tabs", lambda text: text.replace("    ", "\t").replace(" ", "\t")),
        ("unicode line separators", lambda text: text.replace("\n", "\u2028")),
        ("BOM in str", lambda text: "\ufeff" + text),
    ],
)
def test_white_space_and_line_ends_do_not_matter(
    name: str, transform: Callable[[str], str]
) -> None:
    """Tabs, CRLF, CR, LF, U+2028 and a leading BOM are all fine."""
    expect_default(parse_pf_auth(transform(sdk_file())))


def test_line_numbers_count_crlf_and_cr_once() -> None:
    """Errors count a CRLF or lone CR as one line end."""
    source = "// one\r\n// two\r// three\n" + sdk_file(group_key="5")
    assert parse_error(source).line == 7


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: text.encode("utf-8"), id="utf-8"),
        pytest.param(lambda text: text.encode("utf-8-sig"), id="utf-8-bom"),
        pytest.param(lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), id="utf-16-le"),
        pytest.param(lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), id="utf-16-be"),
        pytest.param(lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"), id="utf-32-le"),
        pytest.param(lambda text: codecs.BOM_UTF32_BE + text.encode("utf-32-be"), id="utf-32-be"),
    ],
)
def test_bytes_are_decoded_by_their_byte_order_mark(encode: Callable[[str], bytes]) -> None:
    """UTF-8 with or without BOM, and UTF-16/32 LE and BE with BOM, decode exactly."""
    source = "// Überprüfung ✓ 🔑\n" + sdk_file(cert_password='"Pässwört-🔑-ÆØÅ"')
    assert parse_pf_auth(encode(source)).cert_password == "Pässwört-🔑-ÆØÅ"


def test_bytes_that_are_not_utf8_are_read_as_windows_1252() -> None:
    """Bytes without a BOM that are not UTF-8 fall back to Windows-1252 ("ANSI")."""
    source = "// Café \u2013 \u201csmart quotes\u201d\n" + sdk_file(cert_password='"Café€9KQ"')
    assert parse_pf_auth(source.encode("cp1252")).cert_password == "Café€9KQ"


def test_valid_utf8_is_not_misread_as_windows_1252() -> None:
    """Bytes that are valid UTF-8 are decoded as UTF-8, not as Windows-1252."""
    source = sdk_file(cert_password='"Café9KQZ"')
    assert parse_pf_auth(source.encode("utf-8")).cert_password == "Café9KQZ"


def test_declaration_split_over_lines_is_read() -> None:
    """A declaration broken over several lines, around every token, is read."""
    source = in_class(
        'private const string\n  LICENSE_KEY\n = \n "K7QM2XR9TB4D";\n'
        'private\nconst\nstring\nGROUP_KEY\n=\n"9f3c1a7e5b2d4c6e8a0f1b3d5c7e9a2b"\n;\n'
        f'private const string CERT_PASSWORD\n\t=\t"{PASSWORD}"\n\n;\n'
    )
    expect_default(parse_pf_auth(source))


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"K7QM" + "2XR9" + "TB4D"', LICENSE),
        ('("K7QM" + "2XR9TB4D")', LICENSE),
        ('(("K7QM")) + ("2XR9" + ("TB4D"))', LICENSE),
        ('"K7QM"\n    + "2XR9TB4D"', LICENSE),
        ('@"K7QM" + "2XR9" + $"TB4D"', LICENSE),
    ],
)
def test_concatenated_literals_are_joined(literal: str, value: str) -> None:
    """String literals joined with +, in parentheses or not, make one value."""
    assert parse_pf_auth(sdk_file(license_key=literal)).license_key == value


@pytest.mark.parametrize(
    ("escaped", "value"),
    [
        ("\\'", "'"),
        ('\\"', '"'),
        ("\\\\", "\\"),
        ("\\0", "\0"),
        ("\\a", "\a"),
        ("\\b", "\b"),
        ("\\e", "\x1b"),
        ("\\f", "\f"),
        ("\\n", "\n"),
        ("\\r", "\r"),
        ("\\t", "\t"),
        ("\\v", "\v"),
        ("\\u0041", "A"),
        ("\\u00e9", "é"),
        ("\\U0001F511", "🔑"),
        ("\\uD83D\\uDD11", "🔑"),
        ("\\x41", "A"),
        ("\\x041", "A"),
        ("\\x0041", "A"),
        ("\\x4Z", "\x04Z"),
        ("\\xABCDE", "\uabcdE"),
        ("\\\\u0041", "\\u0041"),
    ],
)
def test_every_csharp_escape_is_decoded(escaped: str, value: str) -> None:
    """Each C# escape sequence in a regular string decodes to its character."""
    source = sdk_file(cert_password=f'"PW{escaped}PW"')
    assert parse_pf_auth(source).cert_password == f"PW{value}PW"


def test_verbatim_string_keeps_backslashes_and_doubles_quotes() -> None:
    """@"..." keeps backslashes as written and reads "" as one quote."""
    source = sdk_file(cert_password='@"C:\\pf\\""q""\\n9"')
    assert parse_pf_auth(source).cert_password == 'C:\\pf\\"q"\\n9'


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_verbatim_string_may_span_lines(line_end: str) -> None:
    """A verbatim string keeps its line break, and later line numbers stay right."""
    source = sdk_file(cert_password='@"first\nsecond"').replace("\n", line_end)
    assert parse_pf_auth(source).cert_password == f"first{line_end}second"
    broken = source + "int z = 'unclosed;" + line_end
    assert parse_error(broken).line == 8


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('$"AB{{CD}}EF"', "AB{CD}EF"),
        ('$"A\\tB"', "A\tB"),
        ('$@"A""B{{C}}\\n"', 'A"B{C}\\n'),
        ('@$"A""B"', 'A"B'),
    ],
)
def test_interpolated_strings_without_holes_are_accepted(literal: str, value: str) -> None:
    """$"..." without {holes} is a constant string, with {{ and }} as braces."""
    assert parse_pf_auth(sdk_file(license_key=literal)).license_key == value


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"""K7Q"M2"""', 'K7Q"M2'),
        ('""""K7Q""M2""""', 'K7Q""M2'),
        ('"""\n        K7QM\n          2XR9\n        """', "K7QM\n  2XR9"),
        ('$"""K7{Q"""', None),
        ('$$"""K7{Q}M"""', "K7{Q}M"),
    ],
)
def test_raw_string_literals_are_read(literal: str, value: str | None) -> None:
    """C# 11 raw strings are read, multi-line ones without their indentation."""
    source = sdk_file(license_key=literal)
    if value is None:
        error = parse_error(source)
        assert error.key == "LICENSE_KEY"
        assert "interpolated" in error.message
    else:
        assert parse_pf_auth(source).license_key == value


def test_character_literals_do_not_confuse_the_lexer() -> None:
    """Character literals holding quotes, slashes or backslashes are skipped whole."""
    body = (
        "static char a = '\"', b = '\\'', c = '\\\\', d = '/', e = '*', f = '\\u0022';\n"
        + declarations()
    )
    expect_default(parse_pf_auth(in_class(body)))


@pytest.mark.parametrize(
    "decoy",
    [
        '// private const string LICENSE_KEY = "OLD";',
        '/* private const string LICENSE_KEY = "OLD"; */',
        '/*\n private const string LICENSE_KEY = "OLD";\n*/',
        '/// <summary>private const string LICENSE_KEY = "OLD";</summary>',
        'string s = "LICENSE_KEY = \\"X\\"";',
        'string s = "private const string LICENSE_KEY = \\"X\\";";',
        'string s = @"private const string LICENSE_KEY = ""X"";";',
        'string s = "// not a comment", t = "/* nor this";',
        'string s = $"{(flag ? "LICENSE_KEY = " : "}")}" + $@"{{x}} {y:N2}";',
        'string s = """private const string LICENSE_KEY = "X";""";',
        'string s = """\n    "LICENSE_KEY = X"\n    """;',
        '#region Joe\'s keys: private const string LICENSE_KEY = "X";',
        "#if DEBUG // it's fine",
        'void F() { const string LICENSE_KEY = "LOCAL"; string GROUP_KEY = "LOCAL"; }',
        'string P { get { return "LICENSE_KEY"; } }',
        "enum E { LICENSE_KEY = 1, GROUP_KEY = 2 }",
        'var settings = new Settings { LICENSE_KEY = "X" };',
        'Action a = () => { string LICENSE_KEY = "X"; };',
        "char q = '\"'; string s = \"'\";",
    ],
)
def test_comments_strings_and_code_bodies_are_not_declarations(decoy: str) -> None:
    """Text in comments, other strings, directives and method bodies is never read."""
    expect_default(parse_pf_auth(in_class(f"{decoy}\n{declarations()}{decoy}\n")))


def test_several_declarators_in_one_declaration_are_read() -> None:
    """`const string A = "..", B = "..";` declares each key."""
    source = in_class(
        f'private const string LICENSE_KEY = "{LICENSE}", GROUP_KEY = "{GROUP}",\n'
        f'    OTHER, CERT_PASSWORD = "{PASSWORD}";\n'
    )
    expect_default(parse_pf_auth(source))


def test_properties_with_initializers_are_read() -> None:
    """Auto-property initializers and expression-bodied properties give values."""
    source = in_class(
        f'public static string LICENSE_KEY {{ get; }} = "{LICENSE}";\n'
        f'public static string GROUP_KEY => "{GROUP}";\n'
        f'public static string CERT_PASSWORD {{ get; private set; }} = "{PASSWORD}";\n'
    )
    expect_default(parse_pf_auth(source))


def test_escaped_and_verbatim_identifiers_are_recognised() -> None:
    """`@LICENSE_KEY` and `LICENSE\\u005FKEY` are the same C# name as LICENSE_KEY."""
    source = in_class(
        f'const string @LICENSE_KEY = "{LICENSE}";\n'
        f'const string GROUP\\u005FKEY = "{GROUP}";\n'
        f'const string CERT_PASSWORD = "{PASSWORD}";\n'
    )
    expect_default(parse_pf_auth(source))


def test_the_same_value_defined_twice_is_fine() -> None:
    """A key defined twice with the same value (e.g. in #if branches) is accepted."""
    source = in_class(
        f'#if DEBUG\nconst string LICENSE_KEY = "{LICENSE}";\n'
        f'#else\nconst string LICENSE_KEY = "K7QM" + "2XR9TB4D";\n#endif\n' + declarations()
    )
    expect_default(parse_pf_auth(source))


@pytest.mark.parametrize("value", ["  K7QM2XR9 ", "K", "a b c", "here-and-there", "0000ab"])
def test_values_are_kept_exactly_and_not_validated(value: str) -> None:
    """Unusual values are returned as written; surrounding spaces are kept."""
    assert parse_pf_auth(sdk_file(cert_password=f'"{value}"')).cert_password == value


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["LICENSE_KEY", "GROUP_KEY", "CERT_PASSWORD"])
def test_a_missing_key_is_named(key: str) -> None:
    """A missing key is named, with the declaration the SDK has."""
    lines = [line for line in declarations().splitlines() if f" {key} " not in line]
    error = parse_error(in_class("\n".join(lines) + "\n"))
    assert error.key == key
    assert error.line is None
    assert f"{key} is not defined" in error.message
    assert f"private const string {key}" in error.message


def test_missing_cert_password_mentions_thumbprint_forks() -> None:
    """A missing CERT_PASSWORD explains the forks that use a certificate thumbprint."""
    lines = declarations().splitlines(keepends=True)
    error = parse_error(in_class("".join(lines[:2])))
    assert error.key == "CERT_PASSWORD"
    assert "thumbprint" in error.message
    assert "cert_key.p12" in error.message


def test_a_key_spelled_in_another_case_is_pointed_at() -> None:
    """A declaration of `License_Key` is named as the likely typo, with its line."""
    source = sdk_file().replace("LICENSE_KEY", "License_Key")
    error = parse_error(source)
    assert (error.key, error.line) == ("LICENSE_KEY", 3)
    assert "License_Key" in error.message
    assert "case sensitive" in error.message


def test_a_key_only_in_a_comment_is_pointed_at() -> None:
    """A commented-out declaration is pointed at when the key is otherwise missing."""
    source = sdk_file().replace("private const string LICENSE_KEY", "// const string LICENSE_KEY")
    error = parse_error(source)
    assert (error.key, error.line) == ("LICENSE_KEY", 3)
    assert "comment" in error.message


@pytest.mark.parametrize(
    "declaration",
    [
        "static readonly string GROUP_KEY;",
        "static string GROUP_KEY { get; set; }",
        'static string GROUP_KEY { get { return "9f3c"; } }',
    ],
)
def test_a_key_declared_without_a_value_is_named(declaration: str) -> None:
    """A key declared but given its value elsewhere (constructor, getter) is reported."""
    body = declarations().replace(f'private const string GROUP_KEY = "{GROUP}";', declaration)
    source = in_class(body + 'static pf_auth() { GROUP_KEY = "9f3c"; }\n')
    error = parse_error(source)
    assert (error.key, error.line) == ("GROUP_KEY", 4)
    assert "without a value" in error.message


@pytest.mark.parametrize(
    ("literal", "kind"),
    [
        ('"YOUR_LICENSE_KEY"', "placeholder"),
        ('"YOUR_GROUP_KEY"', "placeholder"),
        ('"YOUR_CERT_PASSWORD"', "placeholder"),
        ('"<Enter key here>"', "placeholder"),
        ('"<insert password here>"', "placeholder"),
        ('"Enter your license key"', "placeholder"),
        ('"your-group-key"', "placeholder"),
        ('"PASTE_KEY_HERE"', "placeholder"),
        ('"License key goes here"', "placeholder"),
        ('"XXXXXXXXXXXX"', "placeholder"),
        ('"000000000000"', "placeholder"),
        ('"********"', "placeholder"),
        ('"..."', "placeholder"),
        ('"TODO"', "placeholder"),
        ('"changeme"', "placeholder"),
        ('"LICENSE_KEY"', "placeholder"),
        ('""', "empty"),
        ('"   "', "empty"),
        ('"\\t"', "empty"),
        ('@""', "empty"),
        ("null", "null"),
        ("default", "null"),
    ],
)
def test_placeholders_are_reported_as_never_filled_in(literal: str, kind: str) -> None:
    """Placeholders, blanks and null fail on their line without echoing the value."""
    source = sdk_file(license_key=literal)
    error = parse_error(source)
    assert (error.key, error.line) == ("LICENSE_KEY", 3)
    assert kind in error.message
    assert "never filled in" in error.message
    assert "download the SDK again from the MFA provider's portal" in error.message
    value = literal.strip('"@')
    if value.strip() and value not in ("LICENSE_KEY", "null", "default"):
        assert value not in str(error)


def test_conflicting_definitions_name_both_lines() -> None:
    """Two different values for one key fail, naming both lines."""
    source = sdk_file() + in_class('const string GROUP_KEY = "0000ffff0000ffff";\n')
    error = parse_error(source)
    assert (error.key, error.line) == ("GROUP_KEY", 9)
    assert "lines 4 and 9" in error.message
    assert GROUP not in str(error)
    assert "0000ffff0000ffff" not in str(error)


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("5", "a number"),
        ("0x1F", "a number"),
        ("'K'", "a character literal"),
        ("OTHER_CONSTANT", "computed"),
        ('ConfigurationManager.AppSettings["LICENSE_KEY"]', "computed"),
        ('string.Concat("K7", "QM")', "computed"),
        ('"K7QM" + OTHER', "computed"),
        ('"K7QM" "2XR9"', "semicolon missing"),
        ('"K7QM"u8', "semicolon missing"),
        ('("K7QM"', "incomplete"),
        ('"K7QM" +', "incomplete"),
        ("", "incomplete"),
        ('$"K7{x}QM"', "interpolated"),
        ('$@"K7{x}QM"', "interpolated"),
        ('"K7\\qM"', "escape"),
        ('"K7\\xZ"', "escape"),
        ('"K7\\u12"', "escape"),
        ('"K7\\U00110000"', "escape"),
        ('"K7\\uD800QM"', "surrogate"),
        ('"""\n  K7QM"""', "lines of their own"),
        ('"""\n  K7QM\n x\n  """', "indented less"),
    ],
)
def test_values_that_are_not_string_literals_are_refused(literal: str, expected: str) -> None:
    """A key whose value is not a string literal fails on its line, saying why."""
    source = sdk_file(license_key=literal)
    error = parse_error(source)
    assert (error.key, error.line) == ("LICENSE_KEY", 3)
    assert expected in error.message


@pytest.mark.parametrize(
    ("declaration", "type_name"),
    [
        ("const int LICENSE_KEY = 5;", "int"),
        ('const char[] LICENSE_KEY = "K7QM";', "char[]"),
        ('static object LICENSE_KEY = "K7QM";', "object"),
        ('static List<string> LICENSE_KEY = new() { "K7QM" };', "List<string>"),
        ("static readonly byte[] LICENSE_KEY = { 1, 2 };", "byte[]"),
    ],
)
def test_keys_declared_with_another_type_are_refused(declaration: str, type_name: str) -> None:
    """`const int LICENSE_KEY = 5;` and other non-string types fail, naming the type."""
    source = in_class(
        declarations().replace(f'private const string LICENSE_KEY = "{LICENSE}";', declaration)
    )
    error = parse_error(source)
    assert (error.key, error.line) == ("LICENSE_KEY", 3)
    assert f"`{type_name}`" in error.message


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ('string s = "never closed;\n', "string literal"),
        ('string s = @"never\nclosed;\n', "verbatim string"),
        ('string s = $"never {closed} ;\n', "interpolated string"),
        ('string s = $"{ "x" \n', "interpolated string"),
        ('string s = """never closed;\n', "raw string"),
        ("char c = 'x;\n", "character literal"),
        ("char c = '';\n", "character literal"),
        ("/* never closed\n\n", "comment"),
    ],
)
def test_unterminated_literals_and_comments_report_their_line(tail: str, expected: str) -> None:
    """Unclosed strings, characters and comments fail on the line they start."""
    source = sdk_file() + tail + "// end\n"
    error = parse_error(source)
    assert error.line == 7
    assert expected in error.message
    assert error.key is None


def test_an_unterminated_value_names_its_key() -> None:
    """An unclosed string that is a key's value gives that key."""
    error = parse_error(sdk_file(group_key='"9f3c1a7e'))
    assert (error.key, error.line) == ("GROUP_KEY", 4)


@pytest.mark.parametrize(
    "source",
    [
        b"",
        "",
        "\ufeff",
        codecs.BOM_UTF8,
        codecs.BOM_UTF16_LE,
        b" \r\n\t\n",
        "   \n\n",
    ],
)
def test_empty_input_is_refused(source: str | bytes) -> None:
    """Empty or blank input fails with "empty"."""
    assert "empty" in parse_error(source).message


@pytest.mark.parametrize(
    ("data", "line", "expected"),
    [
        (b"// one\n// two\nabc\0def", 3, "NUL"),
        (sdk_file().encode("utf-16-le"), 1, "byte-order mark"),
        (b"0\x82\n\x1f\x02\x01\x030\x82\t\xd8\x06\t*\x86H\x86\xf7\r\x01\x07\x05\x00", 3, "NUL"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", None, "ZIP"),
        (b"// ok\n// ok\n// \x81\x8d\x8f\x90\x9d\n" + sdk_file().encode(), 3, "Windows-1252"),
        (codecs.BOM_UTF8 + b"// ok\n\xff\xfe\xfa", 2, "not valid UTF-8"),
        (codecs.BOM_UTF16_LE + "// ok\n".encode("utf-16-le") + b"\x41", 2, "not valid UTF-16"),
        (codecs.BOM_UTF16_BE + b"\xdc\x00\x00\x41", 1, "not valid UTF-16"),
    ],
)
def test_binary_and_undecodable_bytes_are_refused(
    data: bytes, line: int | None, expected: str
) -> None:
    """NUL bytes, ZIP archives and undecodable bytes fail with a line and what to do."""
    error = parse_error(data)
    assert error.line == line
    assert expected in error.message


def test_nul_characters_in_text_are_refused() -> None:
    """A str holding NUL characters is refused as not being C# source."""
    error = parse_error(sdk_file() + "\n\0")
    assert error.line == 8
    assert "NUL" in error.message


def test_oversized_input_is_refused() -> None:
    """Input over 4 MiB is refused before any parsing, as bytes or str."""
    padding = "// " + "x" * (4 * 1024 * 1024) + "\n"
    for source in (sdk_file() + padding, (sdk_file() + padding).encode()):
        assert "4 MiB" in parse_error(source).message


@pytest.mark.parametrize("source", [None, 42, bytearray(b"x"), pathlib.Path("pf_auth.cs")])
def test_a_source_of_another_type_raises_type_error(source: object) -> None:
    """parse_pf_auth takes only str or bytes; anything else is a TypeError."""
    with pytest.raises(TypeError, match="str or bytes"):
        parse_pf_auth(source)  # type: ignore[arg-type]


def test_nested_interpolation_too_deep_is_a_settings_error() -> None:
    """Hostile nesting of interpolated strings fails cleanly, not with RecursionError."""
    source = "string s = " + '$"{' * 200 + "x" + '}"' * 200 + ";\n"
    assert "nested too deeply" in parse_error(source).message


def test_deep_nesting_elsewhere_does_not_recurse() -> None:
    """Deep parentheses in a value and deep braces in code parse without recursion."""
    deep = "(" * 50_000 + f'"{LICENSE}"' + ")" * 50_000
    body = declarations(license_key=deep) + "void F() " + "{" * 50_000 + "}" * 50_000
    expect_default(parse_pf_auth(in_class(body)))


def test_a_large_file_parses() -> None:
    """A 1 MB file of realistic C# parses to the same credentials as the small one.

    (Its parse time is a benchmark figure, not something a test asserts.)
    """
    sample = (DATA / "pf_auth.cs").read_text("utf-8")
    methods = sample[sample.index("    /// <summary>") : sample.rindex("}")]
    source = sample.replace(methods, methods * (1_000_000 // len(methods)))
    assert len(source) > 1_000_000
    expect_default(parse_pf_auth(source))


# --- load_pf_auth -----------------------------------------------------------------------------


def test_load_accepts_str_and_path_objects(tmp_path: pathlib.Path) -> None:
    """load_pf_auth reads a file given as str or as a path object."""
    target = tmp_path / "pf_auth.cs"
    target.write_text(sdk_file(), encoding="utf-8")
    assert load_pf_auth(str(target)) == load_pf_auth(target)
    expect_default(load_pf_auth(target))


def test_parse_errors_from_a_file_carry_its_path(tmp_path: pathlib.Path) -> None:
    """An error in a loaded file has path= and a `path:line:` prefix."""
    target = tmp_path / "pf_auth.cs"
    target.write_bytes(sdk_file(group_key='"YOUR_GROUP_KEY"').encode("utf-8"))
    error = load_error(target)
    assert (error.path, error.line, error.key) == (str(target), 4, "GROUP_KEY")
    assert str(error).startswith(f"{target}:4: GROUP_KEY")


@pytest.mark.parametrize(
    "data",
    [b"", b"abc\0", sdk_file().replace("CERT_PASSWORD", "CERT_PWD").encode(), b"/* x"],
)
def test_every_kind_of_error_from_a_file_carries_its_path(
    tmp_path: pathlib.Path, data: bytes
) -> None:
    """Decoding, lexing and missing-key errors from a file all carry path=."""
    target = tmp_path / "pf_auth.cs"
    target.write_bytes(data)
    assert load_error(target).path == str(target)


def test_load_reports_a_missing_file(tmp_path: pathlib.Path) -> None:
    """A missing file is a SettingsError with path=, chained from the OSError."""
    target = tmp_path / "nope" / "pf_auth.cs"
    error = load_error(target)
    assert error.path == str(target)
    assert "no such file" in error.message
    assert isinstance(error.__cause__, FileNotFoundError)


def test_load_reports_a_path_with_a_nul_character(tmp_path: pathlib.Path) -> None:
    """A path holding a NUL character is a SettingsError, not open()'s ValueError."""
    target = f"{tmp_path}/pf\0auth.cs"
    error = load_error(target)
    assert error.path == target
    assert "NUL" in error.message


def test_load_reports_a_folder(tmp_path: pathlib.Path) -> None:
    """A folder given as the path is reported as a folder."""
    error = load_error(tmp_path)
    assert error.path == str(tmp_path)
    assert "folder" in error.message


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root and Windows ignore mode 000"
)
def test_load_reports_an_unreadable_file(tmp_path: pathlib.Path) -> None:
    """A file without read permission is reported as such (needs a non-root user)."""
    target = tmp_path / "pf_auth.cs"
    target.write_text(sdk_file(), encoding="utf-8")
    target.chmod(0)
    error = load_error(target)
    assert error.path == str(target)
    assert "permission denied" in error.message


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
    ],
)
def test_load_maps_other_os_errors(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: OSError,
    expected: str,
) -> None:
    """Permission and I/O errors on open become SettingsErrors with path= (works as root)."""
    target = tmp_path / "pf_auth.cs"
    target.write_text(sdk_file(), encoding="utf-8")

    def failing_open(*args: object, **kwargs: object) -> object:
        raise failure

    monkeypatch.setattr(_pf_auth, "open", failing_open, raising=False)
    error = load_error(target)
    assert error.path == str(target)
    assert expected in error.message
    assert error.__cause__ is failure


def test_load_refuses_an_oversized_file(tmp_path: pathlib.Path) -> None:
    """A file over 4 MiB is refused, with its path, without reading all of it."""
    target = tmp_path / "pf_auth.cs"
    target.write_bytes(sdk_file().encode() + b"//" + b"x" * (4 * 1024 * 1024))
    error = load_error(target)
    assert error.path == str(target)
    assert "4 MiB" in error.message


# --- properties -------------------------------------------------------------------------------

_FUZZ_PIECES = st.sampled_from(
    [
        '"', "'", "@", "$", "{", "}", "(", ")", "[", "]", ";", ",", "=", "=>", "+", "\\", "/",
        "*", "//", "/*", "*/", "#", "\n", "\r", " ", "\t", '"""', '$"', '@"', '$@"', "u8",
        "\\u0041", "\\U00110000", "\\x", "LICENSE_KEY", "GROUP_KEY", "CERT_PASSWORD",
        "const", "string", "String", "int", "class X", "namespace N", "get;", "null",
        "YOUR_LICENSE_KEY", "K7QM2XR9TB4D", "\x00", "\ud800", "\ufeff", "\u2028",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_parses_or_raises_settings_error(source: str) -> None:
    """Arbitrary text either parses or raises SettingsError, nothing else."""
    with contextlib.suppress(SettingsError):
        parse_pf_auth(source)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_any_bytes_parse_or_raise_settings_error(source: bytes) -> None:
    """Arbitrary bytes either parse or raise SettingsError, nothing else."""
    with contextlib.suppress(SettingsError):
        parse_pf_auth(source)


@settings(max_examples=400, deadline=None)
@given(st.lists(_FUZZ_PIECES, max_size=40).map("".join))
def test_csharp_fragments_parse_or_raise_settings_error(fragments: str) -> None:
    """Random C#-like token soup either parses or raises SettingsError, nothing else."""
    source = sdk_file() + fragments
    for data in (source, source.encode("utf-8", "surrogatepass")):
        with contextlib.suppress(SettingsError):
            parse_pf_auth(data)


_SECRET_CHARS = st.one_of(
    st.sampled_from("\"\\'\n\r\t\0\a\b\f\v{}\x85\u2028\u2029 /*@$#;+"),
    st.characters(exclude_categories=["Cs"]),
)


@st.composite
def secrets(draw: st.DrawFn) -> str:
    """A secret with a random 10-character core, so a leak of it cannot be a coincidence."""
    head = draw(st.text(_SECRET_CHARS, max_size=8))
    core = draw(st.from_regex(r"[A-Z0-9]{10}", fullmatch=True))
    tail = draw(st.text(_SECRET_CHARS, max_size=8))
    secret = head + core + tail
    assume(not _pf_auth._is_placeholder(secret))
    return secret


_SIMPLE = {"'": "\\'", '"': '\\"', "\\": "\\\\", "\0": "\\0", "\a": "\\a", "\b": "\\b",
           "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}  # fmt: skip
_MUST_ESCAPE = set('"\\\0\r\n\x85\u2028\u2029')


def regular_literal(secret: str, styles: list[int], *, interpolated: bool = False) -> str:
    """Write ``secret`` as a C# regular string, escaping each character in a drawn style."""
    out = []
    for char, style in zip(secret, styles[: len(secret)], strict=True):
        code = ord(char)
        if style == 0 and char not in _MUST_ESCAPE:
            out.append(char * 2 if interpolated and char in "{}" else char)
        elif style == 1 and char in _SIMPLE:
            out.append(_SIMPLE[char])
        elif code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            out.append(
                f"\\U{code:08X}" if style % 2 else f"\\u{0xD800 + high:04X}\\u{0xDC00 + low:04x}"
            )
        elif style == 2:
            out.append(f"\\x{code:04x}")
        else:
            out.append(f"\\u{code:04X}")
    return ('$"' if interpolated else '"') + "".join(out) + '"'


@st.composite
def literals(draw: st.DrawFn, secret: str) -> str:
    """Any C# literal syntax (or concatenation of them) whose value is ``secret``."""
    styles = draw(st.lists(st.integers(0, 3), min_size=len(secret), max_size=len(secret)))
    form = draw(st.sampled_from(["regular", "interpolated", "verbatim", "concatenated"]))
    if form == "verbatim" and "\0" not in secret:
        return '@"' + secret.replace('"', '""') + '"'
    if form == "concatenated":
        cut = draw(st.integers(0, len(secret)))
        joiner = draw(st.sampled_from([" + ", "+", "\n    + ", " +\r\n\t"]))
        return (
            regular_literal(secret[:cut], styles[:cut])
            + joiner
            + regular_literal(secret[cut:], styles[cut:])
        )
    return regular_literal(secret, styles, interpolated=form == "interpolated")


_MODIFIER_CHOICES = st.sampled_from(
    [
        "private const string",
        "public static readonly String",
        "internal static System.String",
        "protected internal const string",
        "static readonly global::System.String",
        "[Obsolete] private static string",
    ]
)
_GAPS = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", " /* c */ ", " // c\n", "\n#region x\n"])
_WRAPPERS = st.sampled_from(
    [
        "{body}",
        "public static class pf_auth\n{{\n{body}}}\n",
        "namespace A.B\n{{\n    public static class pf_auth\n    {{\n{body}    }}\n}}\n",
        "namespace A.B;\n\ninternal static class PfAuth {{\n{body}}}\n",
    ]
)
_ENCODINGS = st.sampled_from(["str", "utf-8", "utf-8-sig", "utf-16-le", "utf-16-be"])


def encode(source: str, encoding: str) -> str | bytes:
    if encoding == "str":
        return source
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    return bom + source.encode(encoding)


@st.composite
def valid_files(draw: st.DrawFn) -> tuple[str | bytes, dict[str, str]]:
    """A pf_auth.cs in a random layout and encoding, and the secrets it holds."""
    values = {key: draw(secrets()) for key in _pf_auth._KEYS}
    lines = []
    for key in draw(st.permutations(list(_pf_auth._KEYS))):
        gap = draw(_GAPS)
        lines.append(
            f"{draw(_MODIFIER_CHOICES)}{gap}{key}{draw(_GAPS)}={draw(_GAPS)}"
            f"{draw(literals(values[key]))}{draw(_GAPS)};\n"
        )
        if draw(st.booleans()):
            lines.append('string decoy = "private const string ' + key + ' = \\"X\\";";\n')
    body = "".join(lines)
    source = draw(_WRAPPERS).format(body=body)
    if draw(st.booleans()):
        source = f"// pf_auth.cs\r\nusing System;\r\n{source}"
    return encode(source, draw(_ENCODINGS)), values


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_files())
def test_generated_files_parse_back_to_their_secrets(
    case: tuple[str | bytes, dict[str, str]],
) -> None:
    """Any valid layout, literal syntax and encoding gives back exactly the secrets written."""
    source, values = case
    creds = parse_pf_auth(source)
    assert creds.license_key == values["LICENSE_KEY"]
    assert creds.group_key == values["GROUP_KEY"]
    assert creds.cert_password == values["CERT_PASSWORD"]


def _broken_files(first: str, second: str, styles: list[int]) -> list[str]:
    """Files holding the two secrets that each fail in a different way."""
    one = regular_literal(first, styles)
    two = regular_literal(second, styles)
    good = declarations(one, two, one)
    return (
        [
            in_class(good + f"const string GROUP_KEY = {one};\n"),  # conflicting definitions
            in_class(good.replace("private const string LICENSE_KEY", "const int LICENSE_KEY")),
            in_class(declarations(one + " " + two, two, one)),  # missing semicolon
            in_class(declarations(one[:-1] + '\\q"', two, one)),  # bad escape
            # an interpolation hole, first thing in the string so that a secret ending in "{"
            # cannot turn it into the escaped brace "{{"
            in_class(declarations('$"{x}' + one[1:], two, one)),
            in_class(declarations(one[:-1] + '\\uD800"', two, one)),  # lone surrogate
            in_class(declarations(one + " + OTHER", two, one)),  # computed value
            in_class(good.replace("CERT_PASSWORD", "CERT_THUMBPRINT")),  # missing key
            in_class(good + f"string z = {one[:-1]}"),  # unterminated string
            in_class(good + 'string z = @"' + first.replace('"', '""')),  # unterminated verbatim
            in_class(declarations(one, one, two) + "/*"),  # unterminated comment
        ]
        + (
            # a raw string whose closing quotes are not on a line of their own
            [in_class(declarations('"""\n' + first + '\n x"""', two, one))]
            if '"' not in first
            else []
        )
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secrets(), secrets(), st.lists(st.integers(0, 3), min_size=40, max_size=40))
def test_secrets_never_appear_in_errors(first: str, second: str, styles: list[int]) -> None:
    """No error raised for a broken file shows a secret in its str() or repr()."""
    assume(first != second)
    for source in _broken_files(first, second, styles * 3):
        for data in (source, source.encode("utf-8", "surrogatepass")):
            with pytest.raises(SettingsError) as info:
                parse_pf_auth(data)
            shown = [str(info.value), repr(info.value), info.value.message]
            for secret in (first, second):
                cores = [run[:10] for run in re.findall("[A-Z0-9]{10,}", secret)]
                for text in shown:
                    assert secret not in text
                    assert not any(core in text for core in cores)
