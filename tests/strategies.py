"""Hypothesis strategies for pyampam's domain objects, kept in one place for every test module.

Import them as ``from tests.strategies import users, roles, ...``: pytest's importlib mode
registers ``tests`` as a namespace package, so this works without a conftest or ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
import uuid
from collections.abc import Sequence

import phonenumbers
from hypothesis import strategies as st

from pyampam import (
    ActivationRequest,
    PamConfiguration,
    PhoneNumber,
    RequestStatus,
    Role,
    User,
)
from pyampam._model import PIN_MAX_LENGTH, PIN_MIN_LENGTH

__all__ = [
    "activation_requests",
    "aware_datetimes",
    "extensions",
    "names",
    "pam_configurations",
    "phone_number_texts",
    "phone_numbers",
    "pins",
    "roles",
    "times_of_day",
    "ttls",
    "users",
]

UTC = dt.timezone.utc


@functools.cache
def _example_numbers() -> tuple[tuple[int, str], ...]:
    """(country code, national number) of phonenumbers' example number for every region and type.

    Varying the last digits of these keeps a number's length and leading digits, which decide
    whether it is possible, so every variation is a number ``PhoneNumber.parse`` must accept.
    """
    found: set[tuple[int, str]] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and example.country_code is not None:
                found.add((example.country_code, phonenumbers.national_significant_number(example)))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.add((code, phonenumbers.national_significant_number(example)))
    # NANP "examples" include seven-digit local numbers; MIM wants all ten digits.
    return tuple(sorted((code, nsn) for code, nsn in found if code != 1 or len(nsn) == 10))


def extensions() -> st.SearchStrategy[str]:
    """Extensions MIM accepts: digits, commas, '*' and '#', with an optional leading '@'."""
    return st.from_regex(r"@?[0-9,*#]{1,12}", fullmatch=True)


@st.composite
def _numbers_from_examples(draw: st.DrawFn) -> tuple[int, str]:
    code, example = draw(st.sampled_from(_example_numbers()))
    keep = max(2, len(example) - 4)
    tail = draw(st.text(string.digits, min_size=len(example) - keep, max_size=len(example) - keep))
    return code, example[:keep] + tail


@st.composite
def _nanp_numbers(draw: st.DrawFn) -> tuple[int, str]:
    area = draw(st.from_regex(r"[2-9][0-9]{2}", fullmatch=True))
    exchange = draw(st.from_regex(r"[2-9][0-9]{2}", fullmatch=True))
    line = draw(st.text(string.digits, min_size=4, max_size=4))
    return 1, area + exchange + line


def phone_numbers(*, with_extension: bool | None = None) -> st.SearchStrategy[PhoneNumber]:
    """Numbers ``PhoneNumber.parse`` accepts, from every country phonenumbers knows.

    ``with_extension``: True always adds one, False never, None sometimes.
    """
    extension: st.SearchStrategy[str | None]
    if with_extension is None:
        extension = st.none() | extensions()
    elif with_extension:
        extension = extensions()
    else:
        extension = st.none()
    return st.builds(
        lambda parts, ext: PhoneNumber(parts[0], parts[1], ext),
        _nanp_numbers() | _numbers_from_examples(),
        extension,
    )


@st.composite
def phone_number_texts(draw: st.DrawFn) -> tuple[str, PhoneNumber]:
    """A valid number written the way people write it, with the number it must parse to."""
    number = draw(phone_numbers())
    digits = number.national_number
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=3)))
    groups = [digits[i:j] for i, j in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    separator = draw(st.sampled_from([" ", "-", ".", ""]))
    body = separator.join(groups)
    if draw(st.booleans()) and len(groups) > 1:
        body = f"({groups[0]}) " + separator.join(groups[1:])
    text = f"+{number.country_code} {body}"
    if number.extension is not None:
        marker = draw(st.sampled_from(["X", "x", " x ", " ext ", " ext. ", "EXT"]))
        text += marker + number.extension
    return text, number


def pins() -> st.SearchStrategy[str]:
    """PINs a user may have: digits only, within the accepted length."""
    return st.text(string.digits, min_size=PIN_MIN_LENGTH, max_size=PIN_MAX_LENGTH)


def names() -> st.SearchStrategy[str]:
    """Printable, non-blank text, as account names, display names and descriptions are."""
    return st.text(
        st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
        min_size=1,
        max_size=20,
    ).filter(lambda text: text.strip() and text.isprintable())


def aware_datetimes(
    *, min_value: dt.datetime | None = None, max_value: dt.datetime | None = None
) -> st.SearchStrategy[dt.datetime]:
    """Timezone-aware datetimes in UTC or a fixed offset (whole quarter hours up to ±14 h)."""
    zones = st.sampled_from([UTC]) | st.integers(-56, 56).map(
        lambda quarters: dt.timezone(dt.timedelta(minutes=15 * quarters))
    )
    return st.datetimes(
        min_value=(min_value or dt.datetime(2000, 1, 1, tzinfo=UTC)).replace(tzinfo=None),
        max_value=(max_value or dt.datetime(2100, 1, 1, tzinfo=UTC)).replace(tzinfo=None),
        timezones=zones,
    )


def ttls(*, max_value: dt.timedelta = dt.timedelta(days=2)) -> st.SearchStrategy[dt.timedelta]:
    """Positive durations in whole seconds, as MIM stores a TTL."""
    return st.integers(1, int(max_value.total_seconds())).map(lambda s: dt.timedelta(seconds=s))


def times_of_day() -> st.SearchStrategy[dt.time]:
    """Naive times of day, which a role window reads in UTC."""
    return st.times()


_account_names = st.text(string.ascii_lowercase + string.digits + "._-", min_size=1, max_size=20)


@st.composite
def users(
    draw: st.DrawFn,
    *,
    phone: st.SearchStrategy[PhoneNumber | None] | None = None,
    pin: st.SearchStrategy[str | None] | None = None,
) -> User:
    """PAM users; pass ``phone=`` or ``pin=`` strategies to control those two fields."""
    return User(
        object_id=draw(st.uuids()),
        source_domain=draw(
            st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=15)
        ),
        source_account_name=draw(_account_names),
        display_name=draw(st.none() | names()),
        description=draw(st.none() | names()),
        email=draw(st.none() | st.builds("{}@{}.example".format, _account_names, _account_names)),
        phone=draw(phone if phone is not None else st.none() | phone_numbers()),
        pin=draw(pin if pin is not None else st.none() | pins()),
        privileged_account_active=draw(st.booleans()),
    )


@st.composite
def roles(
    draw: st.DrawFn,
    *,
    candidates: Sequence[User | uuid.UUID] | None = None,
    window: bool | None = None,
) -> Role:
    """PAM roles; ``candidates`` fixes the candidate list, ``window`` forces the window on/off."""
    enabled = draw(st.booleans()) if window is None else window
    start = end = None
    if enabled:
        start, end = sorted(draw(st.lists(st.times(), min_size=2, max_size=2, unique=True)))
    return Role(
        role_id=draw(st.uuids()),
        display_name=draw(names()),
        candidates=candidates if candidates is not None else draw(st.lists(st.uuids(), max_size=3)),
        approvers=draw(st.lists(st.uuids(), max_size=3)),
        privileges=draw(st.lists(names(), max_size=3)),
        ttl=draw(ttls()),
        availability_window_enabled=enabled,
        available_from=start,
        available_to=end,
        mfa_enabled=draw(st.booleans()),
        approval_enabled=draw(st.booleans()),
    )


@st.composite
def activation_requests(draw: st.DrawFn) -> ActivationRequest:
    """Requests in any status, with an expiration time exactly when the status allows one."""
    status = draw(st.sampled_from(RequestStatus))
    created = draw(aware_datetimes())
    expiration = None
    if status is RequestStatus.ACTIVE or (not status.is_pending and draw(st.booleans())):
        expiration = created + draw(ttls())
    return ActivationRequest(
        request_id=draw(st.uuids()),
        requestor_id=draw(st.uuids()),
        role_id=draw(st.uuids()),
        justification=draw(st.text(max_size=400)),
        requested_ttl=draw(ttls()),
        requested_time=draw(st.none() | aware_datetimes()),
        creation_time=created,
        expiration_time=expiration,
        status=status,
    )


@st.composite
def pam_configurations(draw: st.DrawFn) -> PamConfiguration:
    """Global configurations with minimal <= default <= maximal durations."""
    low, default, high = sorted(draw(st.lists(ttls(), min_size=3, max_size=3)))
    return PamConfiguration(
        privileged_user_prefix=draw(st.from_regex(r"[a-z]{0,5}[._-]?", fullmatch=True)),
        role_minimal_duration=low,
        role_default_duration=default,
        role_maximal_duration=high,
        request_expiration_in_days=draw(st.integers(1, 3650)),
        admin_password_length=draw(st.integers(12, 256)),
    )
