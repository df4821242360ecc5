"""PhoneNumber: the forms MIM and Azure MFA use, MIM's rules for numbers, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

import attrs
import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.strategies import extensions, phone_number_texts, phone_numbers

from pyampam import PhoneNumber
from pyampam.exceptions import InvalidValueError, PhoneNumberError


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("12135551212", 1, (1, "2135551212", None)),  # the MIM doc's stored form
        ("2135551212", 1, (1, "2135551212", None)),
        ("+1 2135551212", 1, (1, "2135551212", None)),
        ("+1 4251234567", 1, (1, "4251234567", None)),
        ("+44 20 7946 0958", 1, (44, "2079460958", None)),
        ("+1 4251234567X12345", 1, (1, "4251234567", "12345")),
        ("+1 4251234567x12345", 1, (1, "4251234567", "12345")),
        ("+1 (425) 123-4567 ext. 12345", 1, (1, "4251234567", "12345")),
        ("+1 425.123.4567 EXT 9", 1, (1, "4251234567", "9")),
        ("1 (213) 555-1212", 1, (1, "2135551212", None)),
        ("  +1 213 555 1212  ", 1, (1, "2135551212", None)),
        ("+1 4251234567X@12,,#*", 1, (1, "4251234567", "@12,,#*")),
        ("020 7946 0958", 44, (44, "2079460958", None)),
        ("2079460958", 44, (44, "2079460958", None)),
        ("+39 06 1234 5678", 1, (39, "0612345678", None)),
        ("12345678", 800, (800, "12345678", None)),
    ],
)
def test_parse_accepts_the_forms_mim_and_azure_use(
    text: str, default: int, expected: tuple[int, str, str | None]
) -> None:
    """Every documented way of writing a number parses to country code, number and extension."""
    number = PhoneNumber.parse(text, default_country_code=default)
    assert (number.country_code, number.national_number, number.extension) == expected


def test_default_country_code_is_one() -> None:
    """Without a default given, a bare national number is read as a US/Canada number."""
    assert PhoneNumber.parse("2135551212") == PhoneNumber(1, "2135551212")


def test_number_impossible_with_default_code_carries_its_own() -> None:
    """A number without '+' that is impossible with the default code is read with its own."""
    assert PhoneNumber.parse("442079460958", default_country_code=1) == PhoneNumber(
        44, "2079460958"
    )


def test_default_code_wins_when_the_number_is_possible_with_it() -> None:
    """The default country code applies to any number that is possible with it."""
    assert PhoneNumber.parse("2135551212", default_country_code=44).country_code == 44


def test_possible_but_unallocated_number_is_accepted() -> None:
    """Lengths are checked, not allocations: the issue's +1 4251234567 parses though not 'valid'."""
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+14251234567"))
    assert PhoneNumber.parse("+1 4251234567").e164 == "+14251234567"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("1-800-FLOWERS", "must be numeric"),
        ("+1 425 CALL NOW", "must be numeric"),
        ("box", "must be numeric"),
        ("+1 4251234567X12a", "must be numeric"),
        ("5551212", "no area code"),
        ("+1 213555121", "too short"),
        ("+1 21355512123", "too long"),
        ("+1 4", "too short"),
        ("+44 1", "too short"),
        ("+999 1234567", "known country code"),
        ("1+2135551212", "'+' only at the start"),
        ("++12135551212", "'+' only at the start"),
        ("213/555/1212", "'/'"),
        ("+1 4251234567X", "no extension after it"),
        ("+1 4251234567X12 34", "extension"),
        ("+1 4251234567X1@2", "extension"),
        ("+1 4251234567X" + "1" * 41, "extension"),
        ("()-. ", "no digits"),
        ("+", "no digits"),
        ("+1\t2135551212", "control character"),
        ("+1 213\x00 5551212", "control character"),
        ("1" * 65, "too long"),
        ("+" + "1" * 30, "too long"),
        ("+1 \uff12\uff11\uff13\uff15\uff15\uff15\uff11\uff12\uff11\uff12", "'\uff12'"),
    ],
)
def test_parse_rejects_bad_numbers_naming_the_problem(text: str, problem: str) -> None:
    """Bad input raises PhoneNumberError saying what is wrong and which forms are accepted."""
    with pytest.raises(PhoneNumberError) as caught:
        PhoneNumber.parse(text)
    message = str(caught.value)
    assert problem in message
    assert "+1 2135551212" in message
    assert "X" in message


@pytest.mark.parametrize("value", [None, 12135551212, b"12135551212", ["12135551212"]])
def test_parse_rejects_non_text(value: object) -> None:
    """Anything but a str raises PhoneNumberError, not TypeError."""
    with pytest.raises(PhoneNumberError, match="must be given as a str"):
        PhoneNumber.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("default", [0, 1000, -1, True, "1", 1.0])
def test_parse_rejects_a_bad_default_country_code(default: object) -> None:
    """A default country code outside 1..999 (or not an int) is reported against that argument."""
    with pytest.raises(PhoneNumberError, match="default_country_code") as caught:
        PhoneNumber.parse("2135551212", default_country_code=default)  # type: ignore[arg-type]
    assert caught.value.field == "default_country_code"


def test_parse_rejects_an_unassigned_default_country_code() -> None:
    """A default country code no country has (999) is refused, not silently used."""
    with pytest.raises(PhoneNumberError, match="not an assigned country code"):
        PhoneNumber.parse("2135551212", default_country_code=999)


def test_phone_number_error_is_a_value_error() -> None:
    """Callers catching ValueError or InvalidValueError also catch bad phone numbers."""
    with pytest.raises(ValueError, match="must be numeric"):
        PhoneNumber.parse("CALL-ME")
    assert issubclass(PhoneNumberError, InvalidValueError)


def test_forms_of_a_number() -> None:
    """str() is Azure's form, e164 has no spaces or extension, mim_form is MIM's stored form."""
    number = PhoneNumber(1, "4251234567", "12345")
    assert str(number) == number.azure_form == "+1 4251234567X12345"
    assert number.e164 == "+14251234567"
    assert number.mim_form == "14251234567X12345"
    plain = PhoneNumber(1, "2135551212")
    assert str(plain) == "+1 2135551212"
    assert plain.e164 == "+12135551212"
    assert plain.mim_form == "12135551212"


def test_phone_number_is_frozen_and_hashable() -> None:
    """A PhoneNumber is a value: it cannot be changed and can be used as a dict key."""
    number = PhoneNumber(44, "2079460958")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        number.country_code = 1  # type: ignore[misc]
    assert {number: "x"}[PhoneNumber(44, "2079460958")] == "x"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"country_code": 0, "national_number": "2079460958"}, "country_code"),
        ({"country_code": 1000, "national_number": "2079460958"}, "country_code"),
        ({"country_code": True, "national_number": "2135551212"}, "country_code"),
        ({"country_code": "44", "national_number": "2079460958"}, "country_code"),
        ({"country_code": 44, "national_number": "20 7946 0958"}, "national_number"),
        ({"country_code": 44, "national_number": "+442079460958"}, "national_number"),
        ({"country_code": 44, "national_number": ""}, "national_number"),
        ({"country_code": 44, "national_number": "1"}, "national_number"),
        ({"country_code": 44, "national_number": "1" * 18}, "national_number"),
        ({"country_code": 44, "national_number": 2079460958}, "national_number"),
        ({"country_code": 1, "national_number": "5551212"}, "national_number"),
        ({"country_code": 1, "national_number": "12135551212"}, "national_number"),
        ({"country_code": 1, "national_number": "2135551212", "extension": ""}, "extension"),
        ({"country_code": 1, "national_number": "2135551212", "extension": "12a"}, "extension"),
        ({"country_code": 1, "national_number": "2135551212", "extension": "1@"}, "extension"),
        ({"country_code": 1, "national_number": "2135551212", "extension": 12}, "extension"),
    ],
)
def test_constructor_validates_each_part(kwargs: dict[str, object], field: str) -> None:
    """The constructor checks digits, the 1..999 code, NANP's 10 digits and extension characters."""
    with pytest.raises(PhoneNumberError) as caught:
        PhoneNumber(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_import_of_phone_module_does_not_load_phonenumbers() -> None:
    """phonenumbers' large metadata is loaded only when a number is parsed."""
    code = (
        "import sys, json, pyampam\n"
        "pyampam.PhoneNumber(1, '2135551212')\n"
        "before = 'phonenumbers' in sys.modules\n"
        "pyampam.PhoneNumber.parse('2135551212')\n"
        "print(json.dumps([before, 'phonenumbers' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) == [False, True]


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_phone_number_error(text: str) -> None:
    """Random text either yields a PhoneNumber or raises PhoneNumberError, never anything else."""
    try:
        number = PhoneNumber.parse(text)
    except PhoneNumberError:
        return
    assert isinstance(number, PhoneNumber)


@given(st.text("0123456789+-(). xXet@,*#", max_size=30), st.integers(1, 999))
def test_phone_like_text_parses_or_raises_phone_number_error(text: str, default: int) -> None:
    """Text made of phone characters, with any default code, parses or raises PhoneNumberError."""
    try:
        number = PhoneNumber.parse(text, default_country_code=default)
    except PhoneNumberError:
        return
    assert number.national_number.isdigit()
    assert number.country_code != 1 or len(number.national_number) == 10


@given(phone_numbers())
def test_str_round_trips(number: PhoneNumber) -> None:
    """Parsing Azure's form of any valid number gives the same number back."""
    assert PhoneNumber.parse(str(number)) == number


@given(phone_numbers(with_extension=False))
def test_e164_round_trips(number: PhoneNumber) -> None:
    """Parsing the E.164 form gives the same number back."""
    assert PhoneNumber.parse(number.e164) == number


@given(phone_numbers())
def test_national_number_with_its_country_as_default_round_trips(number: PhoneNumber) -> None:
    """A national number plus extension, parsed with its own country as default, comes back."""
    text = number.national_number + ("" if number.extension is None else f"X{number.extension}")
    assert PhoneNumber.parse(text, default_country_code=number.country_code) == number


@given(phone_numbers().filter(lambda number: number.country_code == 1))
def test_mim_form_round_trips_for_north_american_numbers(number: PhoneNumber) -> None:
    """MIM's stored form (country code and number, no '+') parses back with the default code 1."""
    assert PhoneNumber.parse(number.mim_form) == number


@given(phone_number_texts())
def test_written_forms_parse_to_the_number(case: tuple[str, PhoneNumber]) -> None:
    """Spaces, dashes, dots, parentheses and X/ext markers do not change the number."""
    text, number = case
    assert PhoneNumber.parse(text) == number


@given(st.from_regex(r"[0-9]{0,7}[A-WYZa-wyz][0-9A-WYZa-wyz]*", fullmatch=True))
def test_letters_in_the_number_are_refused(text: str) -> None:
    """A number containing letters other than an X/ext marker is always refused."""
    with pytest.raises(PhoneNumberError):
        PhoneNumber.parse("+1 425" + text)


@given(extensions())
def test_every_allowed_extension_is_kept_verbatim(extension: str) -> None:
    """Digits, commas, '*', '#' and a leading '@' survive parsing exactly as written."""
    assert PhoneNumber.parse(f"+1 4251234567X{extension}").extension == extension
