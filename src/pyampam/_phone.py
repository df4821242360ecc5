"""Phone numbers as MIM stores them and Azure MFA dials them: country code, number, extension."""

from __future__ import annotations

import re

import attrs

from pyampam.exceptions import PhoneNumberError

__all__ = ["PhoneNumber"]

# The bounds phonenumbers itself uses for a national significant number. E.164 caps the whole
# number at 15 digits, but the metadata knows real numbers (in Germany, for one) that are longer,
# and rejecting what the rules library calls possible would be a surprise.
_NATIONAL_MIN_DIGITS = 2
_NATIONAL_MAX_DIGITS = 17
# Our own bounds: no document gives a maximum, and a phone number longer than this is a paste
# accident, not a number.
_MAX_EXTENSION_LENGTH = 40
_MAX_INPUT_LENGTH = 64
# North American Numbering Plan: area code, exchange and line, always ten digits together.
_NANP_COUNTRY_CODE = 1
_NANP_DIGITS = 10

_NATIONAL_NUMBER = re.compile(r"[0-9]+")
_EXTENSION = re.compile(r"@?[0-9,*#]+")
# Azure writes "X12345"; people also write "x", "ext" and "ext.". Letters are not allowed anywhere
# else, so the first of these is the separator.
_EXTENSION_SEPARATOR = re.compile(r"\s*(?:ext\.?|x)\s*", re.IGNORECASE)
_NUMBER_PART = re.compile(r"\+?[0-9 ().\-]*")

_ACCEPTED_FORMS = (
    "write it as 12135551212 (country code and number), 2135551212 (number only: the default "
    "country code is added), +1 2135551212 or +44 20 7946 0958, with an optional extension "
    "after X (+1 4251234567X12345); spaces, dashes, dots and parentheses are ignored"
)


def _fail(text: object, problem: str) -> PhoneNumberError:
    shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
    return PhoneNumberError(f"phone number {shown} {problem}; {_ACCEPTED_FORMS}")


def _check_country_code(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 999:
        raise PhoneNumberError(
            f"country_code must be an int from 1 to 999 (1 for the US and Canada), not {value!r}",
            field="country_code",
        )


def _check_national_number(
    instance: PhoneNumber, attribute: attrs.Attribute[str], value: str
) -> None:
    if not isinstance(value, str) or not _NATIONAL_NUMBER.fullmatch(value):
        raise PhoneNumberError(
            f"national_number must be a str of digits 0-9 only, not {value!r}; "
            "use PhoneNumber.parse() for text with spaces, dashes or a '+'",
            field="national_number",
        )
    if not _NATIONAL_MIN_DIGITS <= len(value) <= _NATIONAL_MAX_DIGITS:
        raise PhoneNumberError(
            f"national_number must have {_NATIONAL_MIN_DIGITS} to {_NATIONAL_MAX_DIGITS} digits, "
            f"not {len(value)}",
            field="national_number",
        )
    if instance.country_code == _NANP_COUNTRY_CODE and len(value) != _NANP_DIGITS:
        raise PhoneNumberError(
            f"a number with country code 1 (US and Canada) must have exactly {_NANP_DIGITS} "
            f"digits (area code and number), not {len(value)}: {value!r}",
            field="national_number",
        )


def _check_extension(
    instance: object, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is None:
        return
    if (
        not isinstance(value, str)
        or not _EXTENSION.fullmatch(value)
        or len(value) > _MAX_EXTENSION_LENGTH
    ):
        raise PhoneNumberError(
            f"extension {value!r} is not allowed: an extension holds only digits, commas, '*' "
            f"and '#', with an optional leading '@', at most {_MAX_EXTENSION_LENGTH} characters; "
            "use None for no extension",
            field="extension",
        )


@attrs.frozen
class PhoneNumber:
    """A phone number split the way the Azure MFA wire protocol sends it.

    Build one from text with :meth:`parse`; the constructor takes the parts already split and
    checks them. ``str()`` gives Azure's form (``+1 2135551212``, with ``X12345`` for an
    extension), :attr:`mim_form` the form MIM stores (``12135551212``) and :attr:`e164` the
    international form without the extension.
    """

    country_code: int = attrs.field(validator=_check_country_code)
    national_number: str = attrs.field(validator=_check_national_number)
    extension: str | None = attrs.field(default=None, validator=_check_extension)

    @classmethod
    def parse(cls, text: str, default_country_code: int = 1) -> PhoneNumber:
        """Read a phone number in any of the forms MIM and Azure MFA use.

        A number without ``+`` gets *default_country_code* (MfaSettings' ``DefaultCountryCode``)
        unless it is only possible read as carrying its own country code (``442079460958``).
        Lengths are checked against each country's possible lengths, not its allocated ranges,
        so a test number such as ``+1 4251234567`` is accepted.

        Raises :class:`~pyampam.exceptions.PhoneNumberError` for anything else.
        """
        number_part, extension = _split(text)
        digits = re.sub(r"[^0-9]", "", number_part)
        if not digits:
            raise _fail(text, "has no digits")
        if len(digits) > 3 + _NATIONAL_MAX_DIGITS:
            raise _fail(text, f"is too long ({len(digits)} digits)")
        region = _default_region(default_country_code)
        if number_part.startswith("+"):
            attempts: list[tuple[str, str | None]] = [("+" + digits, None)]
        elif region is None:
            attempts = [(f"+{default_country_code}{digits}", None), ("+" + digits, None)]
        else:
            attempts = [(digits, region), ("+" + digits, None)]

        first_problem = ""
        for candidate, candidate_region in attempts:
            problem, parts = _possible(candidate, candidate_region)
            if parts is not None:
                country_code, national_number = parts
                return cls(country_code, national_number, extension)
            first_problem = first_problem or problem
        raise _fail(text, first_problem)

    @property
    def e164(self) -> str:
        """The international form without spaces or extension: ``+12135551212``."""
        return f"+{self.country_code}{self.national_number}"

    @property
    def mim_form(self) -> str:
        """MIM's stored form: ``12135551212``, followed by ``X`` and the extension if any.

        Without a ``+`` this form is ambiguous: :meth:`parse` reads it with the default country
        code whenever that gives a possible number. Prefer :attr:`e164` or ``str()`` to store.
        """
        return f"{self.country_code}{self.national_number}{self._extension_suffix}"

    @property
    def azure_form(self) -> str:
        """Azure MFA's form: ``+1 4251234567``, or ``+1 4251234567X12345`` with an extension."""
        return f"+{self.country_code} {self.national_number}{self._extension_suffix}"

    @property
    def _extension_suffix(self) -> str:
        return "" if self.extension is None else f"X{self.extension}"

    def __str__(self) -> str:
        return self.azure_form


def _split(text: object) -> tuple[str, str | None]:
    """Check the raw text and split it into the number part and the extension."""
    if not isinstance(text, str):
        raise PhoneNumberError(
            f"a phone number must be given as a str, not {type(text).__name__}; {_ACCEPTED_FORMS}"
        )
    stripped = text.strip()
    if not stripped:
        raise _fail(text, "is empty")
    if len(stripped) > _MAX_INPUT_LENGTH:
        raise _fail(text, f"is too long ({len(stripped)} characters)")
    if not stripped.isprintable():
        raise _fail(text, "contains a control character")
    separator = _EXTENSION_SEPARATOR.search(stripped)
    if separator is None:
        number_part, extension = stripped, None
    else:
        number_part, extension = stripped[: separator.start()], stripped[separator.end() :]
    if not _NUMBER_PART.fullmatch(number_part):
        if any(char.isalpha() for char in number_part):
            raise _fail(text, "must be numeric: letters (as in 1-800-FLOWERS) are not accepted")
        if "+" in number_part[1:]:
            raise _fail(text, "may have a '+' only at the start")
        odd = next(char for char in number_part if not _NUMBER_PART.fullmatch(char))
        raise _fail(text, f"contains {odd!r}, which is not part of a phone number")
    if extension is not None and (
        not _EXTENSION.fullmatch(extension) or len(extension) > _MAX_EXTENSION_LENGTH
    ):
        if not extension:
            raise _fail(text, "has an extension marker but no extension after it")
        if any(char.isalpha() for char in extension):
            raise _fail(text, "must be numeric: letters (as in 1-800-FLOWERS) are not accepted")
        raise _fail(
            text,
            f"has the extension {extension!r}: an extension may hold only digits, commas, "
            f"'*' and '#', with an optional leading '@' (at most {_MAX_EXTENSION_LENGTH} "
            "characters)",
        )
    return number_part, extension


def _default_region(default_country_code: object) -> str | None:
    """The region phonenumbers should assume, or None for a non-geographic country code."""
    if (
        isinstance(default_country_code, bool)
        or not isinstance(default_country_code, int)
        or not 1 <= default_country_code <= 999
    ):
        raise PhoneNumberError(
            f"default_country_code must be an int from 1 to 999 (1 for the US and Canada), "
            f"not {default_country_code!r}",
            field="default_country_code",
        )
    # Imported here and not at the top: the metadata is large and `import pyampam` stays cheap.
    import phonenumbers

    region: str = phonenumbers.region_code_for_country_code(default_country_code)
    if region == phonenumbers.UNKNOWN_REGION:
        raise PhoneNumberError(
            f"default_country_code {default_country_code} is not an assigned country code; "
            "use the code for dialing your users, such as 1 for the US and Canada",
            field="default_country_code",
        )
    if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return None
    return region


def _possible(candidate: str, region: str | None) -> tuple[str, tuple[int, str] | None]:
    """Split *candidate* into country code and national number if its length is possible.

    Otherwise return a description of why not, for the error message.
    """
    import phonenumbers

    reasons = phonenumbers.ValidationResult
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return "does not start with a known country code", None
        if error.error_type == phonenumbers.NumberParseException.TOO_LONG:
            return "is too long", None
        return "is too short", None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason == reasons.IS_POSSIBLE and parsed.country_code is not None:
        return "", (parsed.country_code, phonenumbers.national_significant_number(parsed))
    problems = {
        reasons.INVALID_COUNTRY_CODE: "does not start with a known country code",
        reasons.TOO_SHORT: "is too short",
        reasons.TOO_LONG: "is too long",
        reasons.IS_POSSIBLE_LOCAL_ONLY: "has no area code: add the area code",
    }
    problem = problems.get(reason, "has a length no number has")
    return f"{problem} for country code {parsed.country_code}", None
