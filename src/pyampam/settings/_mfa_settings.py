"""MIM's ``MfaSettings.xml``: the settings it holds, their XML form, safe reading and writing."""

from __future__ import annotations

import enum
import os
import pathlib
import re
import urllib.parse
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from pyampam._files import settings_error_from_os_error, write_private_file
from pyampam._secrets import mask
from pyampam.exceptions import SettingsError
from pyampam.settings._credentials import SdkCredentials

__all__ = ["MfaMode", "MfaSettings", "XmlElement", "read_mfa_settings", "write_mfa_settings"]

ROOT = "MfaSettings"
LICENSE_KEY = "LICENSE_KEY"
GROUP_KEY = "GROUP_KEY"
CERT_PASSWORD = "CERT_PASSWORD"  # noqa: S105 - an element name, not a password
CERT_FILE_PATH = "CertFilePath"
USERNAME = "Username"
DEFAULT_COUNTRY_CODE = "DefaultCountryCode"
LOCMFA = "LOCMFA"
LOCMFASRV = "LOCMFASRV"
CUSTOM_PHONE_PROVIDER = "CustomPhoneProvider"
# Microsoft's instructions spell it both ways; both are read, only Username is written.
USERNAME_LOWER = "username"

# Element -> attribute, in the order the elements are written.
_FIELD_OF = {
    LICENSE_KEY: "license_key",
    GROUP_KEY: "group_key",
    CERT_PASSWORD: "cert_password",
    CERT_FILE_PATH: "cert_file_path",
    USERNAME: "username",
    DEFAULT_COUNTRY_CODE: "default_country_code",
    LOCMFA: "locmfa",
    LOCMFASRV: "locmfasrv",
    CUSTOM_PHONE_PROVIDER: "custom_phone_provider",
}
_KNOWN_TAGS = frozenset(_FIELD_OF) | {USERNAME_LOWER}
# Deeper unknown elements would exhaust Python's recursion limit while reading or writing.
_MAX_DEPTH = 64
_SDK_ELEMENTS = (LICENSE_KEY, GROUP_KEY, CERT_PASSWORD, CERT_FILE_PATH)
_SECRET_ELEMENTS = (LICENSE_KEY, GROUP_KEY, CERT_PASSWORD)

# Characters XML 1.0 cannot carry at all, escaped or not.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# C0 and C1 control characters (tab, CR and LF included): no MIM setting has a use for them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

# XML 1.0 (fifth edition) names without a colon, so that namespaces cannot be confused.
_NAME_START = (
    "A-Z_a-z\xc0-\xd6\xd8-\xf6\xf8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_NAME_MORE = "\\-.0-9\xb7\u0300-\u036f\u203f\u2040"
_QUALIFIED_NAME = re.compile(rf"(?:\{{([^{{}}]+)\}})?([{_NAME_START}][{_NAME_START}{_NAME_MORE}]*)")


class MfaMode(enum.Enum):
    """Which phone verification MIM uses, as ``MfaSettings.xml`` selects it."""

    SDK = "sdk"
    """The Azure MFA SDK, with the provider credentials and client certificate."""
    MFA_SERVER = "mfa_server"
    """An on-premises Azure MFA Server (MIM 4.5.202.0 and later): ``LOCMFA`` is true."""
    CUSTOM_PROVIDER = "custom_provider"
    """A custom phone provider DLL (MIM 4.5.202.0 and later): ``CustomPhoneProvider`` is set."""


_REQUIRED = {
    MfaMode.SDK: (*_SDK_ELEMENTS, USERNAME, DEFAULT_COUNTRY_CODE),
    MfaMode.MFA_SERVER: (USERNAME, LOCMFA, LOCMFASRV),
    MfaMode.CUSTOM_PROVIDER: (CUSTOM_PHONE_PROVIDER,),
}
# Written even when empty, so the file shows what is left to fill in (and, for MFA Server, that
# the SDK elements were cleared on purpose).
_ALWAYS_WRITTEN = {
    MfaMode.SDK: _REQUIRED[MfaMode.SDK],
    MfaMode.MFA_SERVER: (*_SDK_ELEMENTS, USERNAME, LOCMFA, LOCMFASRV),
    MfaMode.CUSTOM_PROVIDER: (CUSTOM_PHONE_PROVIDER,),
}


def _describe(elements: Iterable[str]) -> str:
    names = list(elements)
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listed} {'is' if len(names) == 1 else 'are'}"


def _check_characters(value: str, element: str, *, controls: bool) -> None:
    """Refuse characters that cannot be written to XML 1.0 (and, unless allowed, controls)."""
    bad = _NOT_XML.search(value) or (_CONTROL.search(value) if not controls else None)
    if bad is not None:
        # The code point is named, never the value: it may be a secret.
        raise SettingsError(
            f"{element} contains the character U+{ord(bad.group()):04X}, which is a control "
            "character or cannot be stored in XML 1.0; MfaSettings.xml cannot carry it and MIM "
            "has no use for it: remove it",
            key=element,
        )


def _element_of(attribute: attrs.Attribute[Any]) -> str:
    return str(attribute.metadata["element"])


def _check_text(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    element = _element_of(attribute)
    if not isinstance(value, str):
        raise SettingsError(f"{element} must be text, not {type(value).__name__}", key=element)
    _check_characters(value, element, controls=False)


def _check_windows_path(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_text(instance, attribute, value)
    element = _element_of(attribute)
    # .NET refuses '"' in paths ("Illegal characters in path"); Explorer's "Copy as path" adds
    # quotes around the path, which is how they usually get in.
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        raise SettingsError(
            f'{element} is wrapped in double quotes; MIM would fail with "Illegal characters in '
            f'path": remove the quotes and write the path as it is: {value[1:-1]}',
            key=element,
        )
    if '"' in value:
        raise SettingsError(
            f"{element} contains a double quote, which a Windows path cannot hold; MIM would "
            'fail with "Illegal characters in path": remove it',
            key=element,
        )


def _check_country_code(
    instance: object, attribute: attrs.Attribute[int | None], value: object
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 999:
        raise SettingsError(
            f"{DEFAULT_COUNTRY_CODE} must be a country calling code of 1 to 3 digits without '+' "
            f"(e.g. 1 for the US and Canada), not {value!r}",
            key=DEFAULT_COUNTRY_CODE,
        )


def _check_flag(instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise SettingsError(f"{LOCMFA} must be True or False, not {value!r}", key=LOCMFA)


def _check_mode(instance: object, attribute: attrs.Attribute[MfaMode], value: object) -> None:
    if not isinstance(value, MfaMode):
        raise SettingsError(
            f"mode must be an MfaMode ({', '.join(m.name for m in MfaMode)}), not {value!r}"
        )


def _check_name(name: object, what: str) -> None:
    """Refuse a tag or attribute name that ElementTree would write as broken or different XML."""
    match = _QUALIFIED_NAME.fullmatch(name) if isinstance(name, str) else None
    # An attribute named xmlns would be read back as a namespace declaration, not an attribute.
    if match is None or (match.group(1) is None and match.group(2) == "xmlns"):
        raise SettingsError(
            f"{what} {name!r} is not a valid XML name: use letters, digits, '_', '-' and '.', "
            "not starting with a digit, optionally after a namespace as '{uri}'",
            key=name if isinstance(name, str) else None,
        )
    if match.group(1) is not None:
        _check_characters(match.group(1), f"the namespace of {what} {name!r}", controls=False)


def _normalise_newlines(value: str) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"the text of an XmlElement must be a str, not {type(value).__name__}")
    # XML parsers turn CR and CR LF into LF, so a CR could not survive a round trip anyway.
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _to_attribute_pairs(
    value: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((name, text) for name, text in items)


def _to_elements(value: Iterable[XmlElement]) -> tuple[XmlElement, ...]:
    return tuple(value)


def _check_element_text(instance: XmlElement, attribute: attrs.Attribute[str], value: str) -> None:
    _check_characters(value, f"the text of <{instance.tag}>", controls=True)


def _check_attributes(
    instance: XmlElement, attribute: attrs.Attribute[Any], value: tuple[tuple[str, str], ...]
) -> None:
    seen: set[str] = set()
    for name, text in value:
        _check_name(name, f"an attribute of <{instance.tag}>")
        if name in seen:
            raise SettingsError(f"<{instance.tag}> has the attribute {name!r} twice", key=name)
        seen.add(name)
        if not isinstance(text, str):
            raise SettingsError(f"attribute {name!r} of <{instance.tag}> must be a str", key=name)
        _check_characters(text, f"attribute {name!r} of <{instance.tag}>", controls=True)


def _check_children(
    instance: XmlElement, attribute: attrs.Attribute[Any], value: tuple[XmlElement, ...]
) -> None:
    for child in value:
        if not isinstance(child, XmlElement):
            raise SettingsError(
                f"the children of <{instance.tag}> must be XmlElement, not {type(child).__name__}",
                key=instance.tag,
            )


def _check_tag(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_name(value, "the element name")


@attrs.frozen(repr=False)
class XmlElement:
    """An element of ``MfaSettings.xml`` that pyampam does not know, kept for the rewrite.

    Newer MIM versions, or an administrator, may add elements; keeping them means writing the file
    back loses nothing. Names are in ElementTree's ``{namespace}name`` form. Kept: the name,
    attributes (in order), text and child elements. Not kept: comments, and whitespace that only
    indents child elements; text after an element inside another one (mixed content) is dropped.

    ``repr()`` masks the text and leaves out attribute values: they may be a secret under a
    misspelled name (``<license_key>``: XML is case sensitive, so that is not ``LICENSE_KEY``).
    """

    tag: str = attrs.field(validator=_check_tag)
    text: str = attrs.field(
        default="", converter=_normalise_newlines, validator=_check_element_text
    )
    attributes: tuple[tuple[str, str], ...] = attrs.field(
        default=(), converter=_to_attribute_pairs, validator=_check_attributes
    )
    children: tuple[XmlElement, ...] = attrs.field(
        default=(), converter=_to_elements, validator=_check_children
    )

    def __attrs_post_init__(self) -> None:
        if self.children and self.text and not self.text.strip():
            raise SettingsError(
                f"<{self.tag}> has child elements and whitespace-only text, which a reader takes "
                "for indentation: use text='' or text that is not only whitespace",
                key=self.tag,
            )

    def __repr__(self) -> str:
        names = tuple(name for name, _ in self.attributes)
        return (
            f"XmlElement(tag={self.tag!r}, text={mask(self.text)!r}, attributes={names!r}, "
            f"children={self.children!r})"
        )

    def to_etree(self) -> ET.Element:
        """Return this element as a new ElementTree element."""
        element = ET.Element(self.tag, dict(self.attributes))
        element.text = self.text or None
        element.extend(child.to_etree() for child in self.children)
        return element

    @classmethod
    def from_etree(cls, element: ET.Element) -> XmlElement:
        """Build from an ElementTree element, dropping indentation and text between children.

        Raises:
            SettingsError: the element is nested more than 64 levels deep.

        """
        return _element_from_etree(element, depth=0)


def _element_from_etree(element: ET.Element, *, depth: int) -> XmlElement:
    if depth >= _MAX_DEPTH:
        raise SettingsError(
            f"<{element.tag}> is nested more than {_MAX_DEPTH} levels deep; MfaSettings.xml "
            "has no use for such a structure: remove it",
            key=str(element.tag),
        )
    children = tuple(_element_from_etree(child, depth=depth + 1) for child in element)
    text = element.text or ""
    if children and not text.strip():
        text = ""
    return XmlElement(str(element.tag), text, tuple(element.attrib.items()), children)


def _check_unknown(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[XmlElement, ...]
) -> None:
    for element in value:
        if not isinstance(element, XmlElement):
            raise SettingsError(
                f"unknown_elements must hold XmlElement values, not {type(element).__name__}"
            )
        if element.tag in _KNOWN_TAGS:
            raise SettingsError(
                f"<{element.tag}> is a known element: set it through its MfaSettings attribute, "
                "not as an unknown element",
                key=element.tag,
            )


def _locmfa_default(settings: MfaSettings) -> bool:
    return settings.mode is MfaMode.MFA_SERVER


def _require(value: str, element: str, fix: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{element} is empty: {fix}", key=element)


def _check_server_url(url: str) -> None:
    _require(url, LOCMFASRV, "give the URL of the MFA Server's Web Service SDK")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        # The URL is not echoed: it could carry a user name and password.
        raise SettingsError(
            f"{LOCMFASRV} must be the http(s) URL of the MFA Server's Web Service SDK, e.g. "
            "https://mfa.example.com/MultiFactorAuthWebServiceSdk/PfWsSdk.asmx",
            key=LOCMFASRV,
        )


@attrs.frozen(repr=False)
class MfaSettings:
    """The content of MIM's ``MfaSettings.xml``.

    Build it with :meth:`for_sdk`, :meth:`for_mfa_server` or :meth:`for_custom_provider`, or read
    it with :meth:`from_xml` / :func:`read_mfa_settings`. Values are kept exactly as given (MIM
    reads them as they are); :meth:`missing_elements` says what the mode still needs.

    Entries of another mode may hold values (a file half switched over, say): MIM ignores them,
    they are kept and written back, and :meth:`unused_elements` names them. The ``switch_to_*``
    methods clear them as Microsoft's instructions say.

    ``license_key``, ``group_key`` and ``cert_password`` are secrets: ``repr()`` and ``str()``
    mask them, and no error message contains them. ``locmfa`` defaults to true exactly in
    :attr:`MfaMode.MFA_SERVER` mode. ``unknown_elements`` keeps elements pyampam does not know
    (see :class:`XmlElement`); they are written after the known ones.
    """

    mode: MfaMode = attrs.field(validator=_check_mode)
    license_key: str = attrs.field(
        default="", validator=_check_text, metadata={"element": LICENSE_KEY}
    )
    group_key: str = attrs.field(default="", validator=_check_text, metadata={"element": GROUP_KEY})
    cert_password: str = attrs.field(
        default="", validator=_check_text, metadata={"element": CERT_PASSWORD}
    )
    cert_file_path: str = attrs.field(
        default="", validator=_check_windows_path, metadata={"element": CERT_FILE_PATH}
    )
    username: str = attrs.field(default="", validator=_check_text, metadata={"element": USERNAME})
    default_country_code: int | None = attrs.field(default=None, validator=_check_country_code)
    locmfa: bool = attrs.field(
        default=attrs.Factory(_locmfa_default, takes_self=True), validator=_check_flag
    )
    locmfasrv: str = attrs.field(default="", validator=_check_text, metadata={"element": LOCMFASRV})
    custom_phone_provider: str = attrs.field(
        default="", validator=_check_windows_path, metadata={"element": CUSTOM_PHONE_PROVIDER}
    )
    unknown_elements: tuple[XmlElement, ...] = attrs.field(
        default=(), converter=_to_elements, validator=_check_unknown
    )

    def __attrs_post_init__(self) -> None:
        # The mode must be the one from_xml infers from the elements (CustomPhoneProvider first,
        # then LOCMFA), or a written file would read back in another mode.
        mode = self.mode
        if mode is MfaMode.CUSTOM_PROVIDER:
            _require(
                self.custom_phone_provider,
                CUSTOM_PHONE_PROVIDER,
                "give the full path of the phone provider DLL on the MIM server",
            )
        elif self.custom_phone_provider:
            raise SettingsError(
                f"{CUSTOM_PHONE_PROVIDER} is set, which selects a custom provider, not mode "
                f"{mode.value}: use switch_to_custom_provider(), or leave it empty",
                key=CUSTOM_PHONE_PROVIDER,
            )
        if mode is MfaMode.MFA_SERVER and not self.locmfa:
            raise SettingsError(
                f"{LOCMFA} must be true in mode {mode.value}: it is what selects the MFA Server",
                key=LOCMFA,
            )
        if mode is MfaMode.SDK and self.locmfa:
            raise SettingsError(
                f"{LOCMFA} is true, which selects the MFA Server, not the Azure MFA SDK: use "
                "switch_to_mfa_server(), or set locmfa=False",
                key=LOCMFA,
            )

    # -- named constructors and mode switches ------------------------------------------------

    @classmethod
    def for_sdk(
        cls,
        credentials: SdkCredentials,
        *,
        cert_file_path: str,
        username: str,
        default_country_code: int,
    ) -> MfaSettings:
        """Settings for the Azure MFA SDK.

        ``credentials`` come from ``pf_auth.cs``; ``cert_file_path`` is the full path of
        ``cert_key.p12`` on the MIM server (unquoted); ``username`` may be any user name;
        ``default_country_code`` is used for phone numbers without one (1: US and Canada).
        """
        return cls(mode=MfaMode.SDK).switch_to_sdk(
            credentials,
            cert_file_path=cert_file_path,
            username=username,
            default_country_code=default_country_code,
        )

    @classmethod
    def for_mfa_server(cls, *, username: str, server_url: str) -> MfaSettings:
        """Settings for an on-premises Azure MFA Server (MIM 4.5.202.0 and later).

        ``username`` is the UPN of the MIM Service account; ``server_url`` the URL of the
        server's Web Service SDK (``.../MultiFactorAuthWebServiceSdk/PfWsSdk.asmx``).
        """
        return cls(mode=MfaMode.SDK).switch_to_mfa_server(username=username, server_url=server_url)

    @classmethod
    def for_custom_provider(cls, dll_path: str) -> MfaSettings:
        """Settings for a custom phone provider: the full path of its DLL on the MIM server."""
        return cls(mode=MfaMode.SDK).switch_to_custom_provider(dll_path)

    def switch_to_sdk(
        self,
        credentials: SdkCredentials,
        *,
        cert_file_path: str,
        username: str,
        default_country_code: int,
    ) -> MfaSettings:
        """Return these settings switched to the Azure MFA SDK (see :meth:`for_sdk`).

        The MFA Server and custom provider entries are cleared; unknown elements are kept.
        """
        if not isinstance(credentials, SdkCredentials):
            raise SettingsError(
                "credentials must be SdkCredentials (see pyampam.settings.load_pf_auth), not "
                f"{type(credentials).__name__}"
            )
        _require(
            cert_file_path, CERT_FILE_PATH, "give the full path of cert_key.p12 on the MIM server"
        )
        _require(username, USERNAME, "give a user name (any name will do for the SDK)")
        if default_country_code is None:
            raise SettingsError(
                f"{DEFAULT_COUNTRY_CODE} is missing: give the country calling code for numbers "
                "without one, e.g. 1 for the US and Canada",
                key=DEFAULT_COUNTRY_CODE,
            )
        return attrs.evolve(
            self,
            mode=MfaMode.SDK,
            license_key=credentials.license_key,
            group_key=credentials.group_key,
            cert_password=credentials.cert_password,
            cert_file_path=cert_file_path,
            username=username,
            default_country_code=default_country_code,
            locmfa=False,
            locmfasrv="",
            custom_phone_provider="",
        )

    def switch_to_mfa_server(self, *, username: str, server_url: str) -> MfaSettings:
        """Return these settings switched to an MFA Server (see :meth:`for_mfa_server`).

        As Microsoft describes it: the four SDK elements are cleared (and written empty),
        ``Username``, ``LOCMFA`` and ``LOCMFASRV`` are set. Other entries are kept.
        """
        _require(username, USERNAME, "give the UPN of the MIM Service account")
        _check_server_url(server_url)
        return attrs.evolve(
            self,
            mode=MfaMode.MFA_SERVER,
            license_key="",
            group_key="",
            cert_password="",
            cert_file_path="",
            username=username,
            locmfa=True,
            locmfasrv=server_url,
            custom_phone_provider="",
        )

    def switch_to_custom_provider(self, dll_path: str) -> MfaSettings:
        """Return these settings switched to a custom phone provider DLL.

        As Microsoft describes it, every other entry is cleared; unknown elements are kept.
        """
        _require(
            dll_path,
            CUSTOM_PHONE_PROVIDER,
            "give the full path of the phone provider DLL on the MIM server",
        )
        return MfaSettings(
            mode=MfaMode.CUSTOM_PROVIDER,
            custom_phone_provider=dll_path,
            unknown_elements=self.unknown_elements,
        )

    # -- questions ----------------------------------------------------------------------------

    @property
    def credentials(self) -> SdkCredentials:
        """The Azure MFA SDK credentials held here.

        Raises:
            SettingsError: one of them is empty; ``key`` names the first such element.

        """
        empty = [e for e in _SECRET_ELEMENTS if not self._value_of(e).strip()]
        if empty:
            raise SettingsError(
                f"{_describe(empty)} empty in these MFA settings (mode {self.mode.value}): copy "
                "the values from pf_auth.cs in the Azure MFA SDK ZIP",
                key=empty[0],
            )
        return SdkCredentials(self.license_key, self.group_key, self.cert_password)

    def missing_elements(self) -> tuple[str, ...]:
        """The elements (as MIM spells them) that the mode needs and that are still empty."""
        return tuple(e for e in _REQUIRED[self.mode] if not self._is_filled(e))

    def unused_elements(self) -> tuple[str, ...]:
        """The elements that hold a value although the mode does not need them (left over)."""
        required = _REQUIRED[self.mode]
        return tuple(e for e in _FIELD_OF if e not in required and self._is_filled(e))

    def _value_of(self, element: str) -> str:
        value: str = getattr(self, _FIELD_OF[element])
        return value

    def _is_filled(self, element: str) -> bool:
        value = getattr(self, _FIELD_OF[element])
        if isinstance(value, str):
            return bool(value.strip())
        return value is not None and value is not False

    def _is_default(self, element: str) -> bool:
        return getattr(self, _FIELD_OF[element]) in ("", None, False)

    def _text_of(self, element: str) -> str:
        value = getattr(self, _FIELD_OF[element])
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    # -- XML ----------------------------------------------------------------------------------

    def to_xml(self) -> bytes:
        """Return the settings as ``MfaSettings.xml``: UTF-8, indented, elements as MIM spells them.

        The mode's elements are always written (empty ones as ``<X></X>``), entries of other
        modes only if they hold a value, then the unknown elements.
        """
        root = ET.Element(ROOT)
        always = _ALWAYS_WRITTEN[self.mode]
        for element in _FIELD_OF:
            if element in always or not self._is_default(element):
                ET.SubElement(root, element).text = self._text_of(element)
        root.extend(unknown.to_etree() for unknown in self.unknown_elements)
        ET.indent(root, space="  ")
        # The declaration is written by hand: ElementTree's uses single quotes, and the files MIM
        # ships (and Notepad users compare against) use double quotes.
        body: bytes = ET.tostring(root, encoding="utf-8", short_empty_elements=False)
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + body + b"\n"

    @classmethod
    def from_xml(cls, data: bytes | str, *, path: str | None = None) -> MfaSettings:
        """Parse ``MfaSettings.xml`` content, safely; ``path`` is only used in error messages.

        The mode is inferred from the content: a non-empty ``CustomPhoneProvider`` means a custom
        provider, else ``LOCMFA`` true means an MFA Server, else the Azure MFA SDK. Both
        ``Username`` and ``username`` are read. Element names are case sensitive; unknown
        elements are kept. A file with every element empty reads fine.

        Raises:
            SettingsError: the XML is malformed, declares a DTD or entities, has another root,
                or holds a value MIM cannot use; ``line`` says where, when known.

        """
        root, lines = _parse(data, path)
        if root.tag != ROOT:
            raise SettingsError(
                f"the root element is <{root.tag}>, not <{ROOT}>: this is not MIM's "
                "MfaSettings.xml; check the file",
                path=path,
                line=lines.get(id(root)),
            )
        texts, where, unknown = _collect_children(root, lines, path)

        def fail(element: str, message: str) -> SettingsError:
            return SettingsError(message, path=path, line=where.get(element), key=element)

        country_code = _parse_country_code(texts.get(DEFAULT_COUNTRY_CODE, ""), fail)
        locmfa = _parse_flag(texts.get(LOCMFA, ""), fail)
        provider = texts.get(CUSTOM_PHONE_PROVIDER, "")
        if not provider.strip():
            provider = ""
        if provider:
            mode = MfaMode.CUSTOM_PROVIDER
        elif locmfa:
            mode = MfaMode.MFA_SERVER
        else:
            mode = MfaMode.SDK
        try:
            return cls(
                mode=mode,
                license_key=texts.get(LICENSE_KEY, ""),
                group_key=texts.get(GROUP_KEY, ""),
                cert_password=texts.get(CERT_PASSWORD, ""),
                cert_file_path=texts.get(CERT_FILE_PATH, ""),
                username=texts.get(USERNAME, ""),
                default_country_code=country_code,
                locmfa=locmfa,
                locmfasrv=texts.get(LOCMFASRV, ""),
                custom_phone_provider=provider,
                unknown_elements=unknown,
            )
        except SettingsError as exc:
            line = where.get(exc.key) if exc.key is not None else None
            raise SettingsError(exc.message, path=path, line=line, key=exc.key) from exc

    def __repr__(self) -> str:
        unknown = tuple(element.tag for element in self.unknown_elements)
        return (
            f"MfaSettings(mode=MfaMode.{self.mode.name}, "
            f"license_key={mask(self.license_key)!r}, group_key={mask(self.group_key)!r}, "
            f"cert_password={mask(self.cert_password)!r}, "
            f"cert_file_path={self.cert_file_path!r}, username={self.username!r}, "
            f"default_country_code={self.default_country_code!r}, locmfa={self.locmfa!r}, "
            f"locmfasrv={self.locmfasrv!r}, custom_phone_provider={self.custom_phone_provider!r}, "
            f"unknown_elements={unknown!r})"
        )

    __str__ = __repr__


def _collect_children(
    root: ET.Element, lines: dict[int, int], path: str | None
) -> tuple[dict[str, str], dict[str, int | None], list[XmlElement]]:
    """Sort the root's children into known texts (with their lines) and unknown elements."""
    texts: dict[str, str] = {}
    spelling: dict[str, str] = {}
    where: dict[str, int | None] = {}
    unknown: list[XmlElement] = []
    for child in root:
        tag = str(child.tag)
        line = lines.get(id(child))
        if tag not in _KNOWN_TAGS:
            where.setdefault(tag, line)
            try:
                unknown.append(XmlElement.from_etree(child))
            except SettingsError as exc:
                raise SettingsError(exc.message, path=path, line=line, key=exc.key) from exc
            continue
        element = USERNAME if tag == USERNAME_LOWER else tag
        if len(child):
            raise SettingsError(
                f"<{tag}> must hold text only, but it contains <{child[0].tag}>: remove it",
                path=path,
                line=line,
                key=element,
            )
        text = child.text or ""
        if element in texts:
            if spelling[element] == tag:
                raise SettingsError(
                    f"<{tag}> appears twice (first on line {where[element]}): keep one",
                    path=path,
                    line=line,
                    key=element,
                )
            if texts[element] != text:
                raise SettingsError(
                    f"both <{USERNAME}> and <{USERNAME_LOWER}> are present, with different "
                    f"values: keep one, spelled <{USERNAME}>",
                    path=path,
                    line=line,
                    key=USERNAME,
                )
            continue
        texts[element] = text
        spelling[element] = tag
        where[element] = line
    return texts, where, unknown


def _parse_country_code(text: str, fail: Callable[[str, str], SettingsError]) -> int | None:
    # .NET ignores surrounding white space when it parses a number, so do the same.
    digits = text.strip()
    if not digits:
        return None
    if re.fullmatch("[0-9]{1,3}", digits) is None or int(digits) == 0:
        raise fail(
            DEFAULT_COUNTRY_CODE,
            f"{DEFAULT_COUNTRY_CODE} must be a country calling code of 1 to 3 digits without '+' "
            f"or spaces (e.g. 1 for the US and Canada), not {digits!r}",
        )
    return int(digits)


def _parse_flag(text: str, fail: Callable[[str, str], SettingsError]) -> bool:
    # .NET's Boolean.Parse ignores case and surrounding white space.
    value = text.strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise fail(LOCMFA, f"{LOCMFA} must be true or false, not {text.strip()!r}")


class _LineRecorder(ET.TreeBuilder):
    """A tree builder that remembers the line each element starts on, for error messages."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.current_line: Callable[[], int] = lambda: 0

    def start(self, tag: Any, attrs: dict[Any, Any], /) -> ET.Element:
        element = super().start(tag, attrs)
        self.lines[id(element)] = self.current_line()
        return element


def _parse(data: bytes | str, path: str | None) -> tuple[ET.Element, dict[int, int]]:
    """Parse untrusted XML with defusedxml, refusing DTDs, entities and external references."""
    # Imported here so that importing pyampam.settings stays cheap.
    from defusedxml.common import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
    from defusedxml.ElementTree import DefusedXMLParser

    recorder = _LineRecorder()
    parser = DefusedXMLParser(
        target=recorder, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    recorder.current_line = lambda: parser.parser.CurrentLineNumber
    try:
        parser.feed(data)
        root: ET.Element = parser.close()
    except ET.ParseError as exc:
        line, column = exc.position
        raise SettingsError(
            f"not well-formed XML: {xml.parsers.expat.ErrorString(exc.code)} (column {column}); "
            "fix the markup in an editor, or restore a backup",
            path=path,
            line=line,
        ) from exc
    except DTDForbidden as exc:
        external = f" referring to {exc.sysid}" if exc.sysid else ""
        raise SettingsError(
            f"the file has a document type declaration (<!DOCTYPE {exc.name}>){external}; "
            "it is refused because a DTD can declare entities that expand without bound "
            "(billion laughs) or read other files: MfaSettings.xml needs none, remove it",
            path=path,
            line=parser.parser.CurrentLineNumber,
        ) from exc
    except EntitiesForbidden as exc:
        raise SettingsError(
            f"the file declares the entity {exc.name!r}; entities are refused because they can "
            "expand without bound (billion laughs) or read other files: remove the declaration",
            path=path,
            line=parser.parser.CurrentLineNumber,
        ) from exc
    except ExternalReferenceForbidden as exc:
        raise SettingsError(
            f"the file refers to the external resource {exc.sysid!r}, which is refused: "
            "MfaSettings.xml must be self-contained, remove the reference",
            path=path,
            line=parser.parser.CurrentLineNumber,
        ) from exc
    return root, recorder.lines


def read_mfa_settings(path: str | os.PathLike[str]) -> MfaSettings:
    """Read and parse ``MfaSettings.xml`` at ``path`` (see :meth:`MfaSettings.from_xml`).

    Raises:
        SettingsError: the file cannot be read or parsed; ``path`` names it.

    """
    shown = os.fspath(path)
    try:
        data = pathlib.Path(shown).read_bytes()
    except OSError as exc:
        raise settings_error_from_os_error("read the MFA settings", shown, exc) from exc
    return MfaSettings.from_xml(data, path=shown)


def write_mfa_settings(
    settings: MfaSettings, path: str | os.PathLike[str], *, backup: bool = True
) -> pathlib.Path | None:
    """Write ``settings`` to ``path`` owner-only and atomically, backing up the file it replaces.

    MIM reads the file only when it starts: restart the MIM Service afterwards. Returns the
    backup's path, or ``None`` when there was no file or ``backup`` is false.

    Raises:
        SettingsError: the settings lack elements their mode needs (``key`` names the first),
            or the file cannot be written.

    """
    shown = os.fspath(path)
    missing = settings.missing_elements()
    if missing:
        hints = [
            f" (<{unknown.tag}> is not <{element}>: XML is case sensitive)"
            for element in missing
            for unknown in settings.unknown_elements
            if unknown.tag.lower() == element.lower()
        ]
        raise SettingsError(
            f"not written: {_describe(missing)} empty, and MIM needs "
            f"{'it' if len(missing) == 1 else 'them'} in mode {settings.mode.value}"
            f"{''.join(hints)}; fill in the settings first",
            path=shown,
            key=missing[0],
        )
    return write_private_file(shown, settings.to_xml(), backup=backup)
