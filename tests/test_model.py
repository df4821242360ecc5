"""The PAM domain objects and the activation policy: validation, secrets and decisions."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.strategies import (
    activation_requests,
    aware_datetimes,
    pam_configurations,
    phone_numbers,
    pins,
    roles,
    ttls,
    users,
)

from pyampam import (
    ActivationPolicy,
    ActivationRequest,
    PamConfiguration,
    PhoneNumber,
    PolicyDecision,
    RequestStatus,
    Requirement,
    Role,
    User,
    Violation,
)
from pyampam.exceptions import ActivationDeniedError, InvalidValueError

UTC = dt.timezone.utc
PARIS = ZoneInfo("Europe/Paris")
HOUR = dt.timedelta(hours=1)
NOON = dt.datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
PHONE = PhoneNumber(1, "2135551212")


def make_user(**changes: object) -> User:
    fields: dict[str, object] = {
        "source_domain": "CONTOSO",
        "source_account_name": "jen",
        "phone": PHONE,
    }
    fields.update(changes)
    return User(**fields)  # type: ignore[arg-type]


def make_role(*candidates: User, **changes: object) -> Role:
    fields: dict[str, object] = {
        "display_name": "SQL admins",
        "candidates": candidates,
        "ttl": HOUR,
    }
    fields.update(changes)
    return Role(**fields)  # type: ignore[arg-type]


def window(start: dt.time, end: dt.time, **changes: object) -> dict[str, object]:
    return {
        "availability_window_enabled": True,
        "available_from": start,
        "available_to": end,
        **changes,
    }


# --- RequestStatus ---------------------------------------------------------------------------


def test_request_status_values_are_mims_spellings() -> None:
    """Each status's value is exactly how MIM spells it."""
    assert [status.value for status in RequestStatus] == [
        "Processing",
        "PendingApproval",
        "PendingMFA",
        "Scheduled",
        "Active",
        "Closing",
        "Closed",
        "Expired",
        "Rejected",
    ]
    assert RequestStatus("PendingMFA") is RequestStatus.PENDING_MFA
    assert str(RequestStatus.PENDING_APPROVAL) == "PendingApproval"


def test_request_status_groups() -> None:
    """Pending, authorized and final statuses are the documented ones and do not overlap."""
    pending = {status for status in RequestStatus if status.is_pending}
    authorized = {status for status in RequestStatus if status.is_authorized}
    final = {status for status in RequestStatus if status.is_final}
    assert pending == {
        RequestStatus.PROCESSING,
        RequestStatus.PENDING_APPROVAL,
        RequestStatus.PENDING_MFA,
    }
    assert authorized == {RequestStatus.SCHEDULED, RequestStatus.ACTIVE, RequestStatus.CLOSING}
    assert final == {RequestStatus.CLOSED, RequestStatus.EXPIRED, RequestStatus.REJECTED}
    assert pending | authorized | final == set(RequestStatus)


# --- User ------------------------------------------------------------------------------------


def test_user_defaults() -> None:
    """A new user gets a random GUID, the 'priv.' account name and an active PRIV account."""
    user = User(source_domain="CONTOSO", source_account_name="jen")
    assert user.object_id.version == 4
    assert user.object_id != User(source_domain="CONTOSO", source_account_name="jen").object_id
    assert user.privileged_account_name == "priv.jen"
    assert user.privileged_account_active is True
    assert user.phone is None
    assert user.pin is None
    assert user.source_identity == "CONTOSO\\jen"


@pytest.mark.parametrize("field", ["source_domain", "source_account_name"])
@pytest.mark.parametrize("value", ["", "   ", None, 42, "je\nn"])
def test_user_requires_domain_and_account_name(field: str, value: object) -> None:
    """An empty, blank, non-text or multi-line domain or account name is refused by field."""
    with pytest.raises(InvalidValueError) as caught:
        make_user(**{field: value})
    assert caught.value.field == field
    assert field in str(caught.value)


def test_empty_domain_message_says_what_to_give() -> None:
    """The message for a missing domain gives an example of a good value."""
    with pytest.raises(InvalidValueError, match="NetBIOS name of the CORP domain"):
        make_user(source_domain="")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("object_id", "6f1c0a0e-3f39-4a53-9f5b-6a1d0b7c8e9f"),
        ("display_name", ""),
        ("email", "not-an-address"),
        ("email", "a@b@c"),
        ("sid", "S-1"),
        ("sid", "1-5-21"),
        ("phone", "12135551212"),
        ("privileged_account_name", ""),
        ("privileged_account_active", 1),
    ],
)
def test_user_rejects_bad_optional_fields(field: str, value: object) -> None:
    """Wrongly typed or malformed optional fields raise InvalidValueError naming the field."""
    with pytest.raises(InvalidValueError) as caught:
        make_user(**{field: value})
    assert caught.value.field == field


def test_user_accepts_a_well_formed_sid_and_email() -> None:
    """A Windows SID and an e-mail address are kept as given."""
    user = make_user(sid="S-1-5-21-1004336348-1177238915-682003330-512", email="jen@contoso.com")
    assert user.sid == "S-1-5-21-1004336348-1177238915-682003330-512"
    assert user.email == "jen@contoso.com"


@pytest.mark.parametrize("pin", ["1234", "0000", "1234567890"])
def test_user_accepts_pins_of_four_to_ten_digits(pin: str) -> None:
    """PINs of 4 to 10 digits are accepted and kept."""
    assert make_user(pin=pin).pin == pin


@pytest.mark.parametrize(
    "pin", ["", "123", "12345678901", "12a4", "12 34", "\uff11\uff12\uff13\uff14", "*123", 1234]
)
def test_user_rejects_bad_pins_without_echoing_them(pin: object) -> None:
    """A malformed PIN is refused, and the message does not contain the PIN."""
    with pytest.raises(InvalidValueError) as caught:
        make_user(pin=pin)
    assert caught.value.field == "pin"
    if str(pin):
        assert str(pin) not in str(caught.value)


def test_pin_is_masked_in_repr_and_str() -> None:
    """repr() and str() show that a PIN is set but never the PIN itself."""
    user = make_user(object_id=uuid.UUID(int=0), pin="8675309")
    for text in (repr(user), str(user)):
        assert "8675309" not in text
        assert "pin='********'" in text
    assert "pin='<unset>'" in repr(make_user())


@given(users(pin=pins()), pins())
def test_repr_does_not_depend_on_the_pin(user: User, other_pin: str) -> None:
    """repr() and str() of a user are identical whatever their PIN, so they cannot reveal it."""
    same_but_pin = attrs.evolve(user, pin=other_pin)
    assert repr(same_but_pin) == repr(user)
    assert str(same_but_pin) == str(user)


@given(st.from_regex(r"9[0-9]{9}", fullmatch=True))
def test_random_pins_never_appear_in_repr(pin: str) -> None:
    """A random ten-digit PIN is never found in repr() or str() of its user."""
    user = make_user(object_id=uuid.UUID(int=0), pin=pin)
    assert pin not in repr(user)
    assert pin not in str(user)


def test_user_is_frozen() -> None:
    """A user cannot be changed in place; attrs.evolve makes a changed copy."""
    user = make_user()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        user.pin = "1234"  # type: ignore[misc]
    assert attrs.evolve(user, pin="1234").pin == "1234"


# --- Role ------------------------------------------------------------------------------------


def test_role_converts_users_and_ids_to_id_sets() -> None:
    """Candidates and approvers accept users or ids and keep a frozenset of ids."""
    jen, sam = make_user(), make_user(source_account_name="sam")
    role = make_role(jen, approvers=[sam.object_id, sam])
    assert role.candidates == frozenset({jen.object_id})
    assert role.approvers == frozenset({sam.object_id})
    assert role.role_id.version == 4


@pytest.mark.parametrize("field", ["candidates", "approvers"])
@pytest.mark.parametrize(
    "value",
    [
        "6f1c0a0e-3f39-4a53-9f5b-6a1d0b7c8e9f",
        uuid.UUID(int=1),
        User(source_domain="CONTOSO", source_account_name="jen"),
        ["jen"],
        [1],
        5,
    ],
)
def test_role_rejects_bad_member_collections(field: str, value: object) -> None:
    """A single id, a single user, a str or foreign elements are refused, naming the field."""
    with pytest.raises(InvalidValueError) as caught:
        make_role(**{field: value})
    assert caught.value.field == field


def test_role_privileges_are_a_tuple_of_group_names_without_repeats() -> None:
    """Privileges keep their order and drop repeated group names."""
    role = make_role(privileges=["SQL-Admins", "Backup-Ops", "SQL-Admins"])
    assert role.privileges == ("SQL-Admins", "Backup-Ops")


@pytest.mark.parametrize("value", ["SQL-Admins", [""], [None], ["a\tb"]])
def test_role_rejects_bad_privileges(value: object) -> None:
    """A bare string, an empty or non-text group name is refused."""
    with pytest.raises(InvalidValueError) as caught:
        make_role(privileges=value)
    assert caught.value.field == "privileges"


@pytest.mark.parametrize("ttl", [dt.timedelta(0), -HOUR, 3600, None])
def test_role_ttl_must_be_a_positive_timedelta(ttl: object) -> None:
    """A zero, negative or non-timedelta TTL is refused."""
    with pytest.raises(InvalidValueError) as caught:
        make_role(ttl=ttl)
    assert caught.value.field == "ttl"


def test_role_ttl_is_required() -> None:
    """A role without a TTL cannot be built."""
    with pytest.raises(TypeError, match="ttl"):
        Role(display_name="SQL admins")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "field", ["mfa_enabled", "approval_enabled", "availability_window_enabled"]
)
def test_role_flags_must_be_booleans(field: str) -> None:
    """Flags take True or False; PowerShell's 1 and 0 are refused."""
    with pytest.raises(InvalidValueError) as caught:
        make_role(**{field: 1})
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (window(dt.time(17), dt.time(9)), "available_to"),
        (window(dt.time(9), dt.time(9)), "available_to"),
        ({"availability_window_enabled": True, "available_to": dt.time(17)}, "available_from"),
        ({"availability_window_enabled": True, "available_from": dt.time(9)}, "available_to"),
        (window(dt.time(9, tzinfo=PARIS), dt.time(17)), "available_to"),
        (window(dt.time(9), "17:00"), "available_to"),  # type: ignore[arg-type]
        ({"available_from": dt.time(17), "available_to": dt.time(9)}, "available_to"),
    ],
)
def test_role_window_needs_both_ends_in_order(changes: dict[str, object], field: str) -> None:
    """An enabled window needs From and To, To after From, in one time zone."""
    with pytest.raises(InvalidValueError) as caught:
        make_role(**changes)
    assert caught.value.field == field


def test_role_without_window_is_always_available() -> None:
    """With the window disabled, any moment is fine, even with times stored."""
    role = make_role(available_from=dt.time(9), available_to=dt.time(10))
    assert role.is_available_at(NOON.replace(hour=3))


def test_naive_window_is_read_in_utc_and_half_open() -> None:
    """A naive window is UTC; From is inside it and To is not."""
    role = make_role(**window(dt.time(9), dt.time(17)))
    assert role.is_available_at(NOON.replace(hour=9))
    assert role.is_available_at(NOON.replace(hour=16, minute=59, second=59))
    assert not role.is_available_at(NOON.replace(hour=17))
    assert not role.is_available_at(NOON.replace(hour=8, minute=59))
    # 10:00 in New York is 15:00 UTC: inside.
    assert role.is_available_at(dt.datetime(2024, 1, 15, 10, tzinfo=ZoneInfo("America/New_York")))


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset to change the local zone")
def test_naive_window_ignores_the_machines_local_zone() -> None:
    """Naive window times mean UTC even on a machine whose local zone is not UTC."""
    role = make_role(**window(dt.time(9), dt.time(17)))
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        assert role.is_available_at(NOON.replace(hour=10))
        assert not role.is_available_at(NOON.replace(hour=3))
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_zoned_window_follows_the_zone_and_daylight_saving() -> None:
    """A zoned window is read in its zone: 9:00 Paris is 8:00 UTC in winter, 7:00 in summer."""
    role = make_role(**window(dt.time(9, tzinfo=PARIS), dt.time(17, tzinfo=PARIS)))
    assert role.is_available_at(dt.datetime(2024, 1, 15, 8, tzinfo=UTC))
    assert not role.is_available_at(dt.datetime(2024, 1, 15, 7, 30, tzinfo=UTC))
    assert role.is_available_at(dt.datetime(2024, 7, 15, 7, 30, tzinfo=UTC))
    assert not role.is_available_at(dt.datetime(2024, 7, 15, 15, 30, tzinfo=UTC))


def test_is_available_at_refuses_naive_moments() -> None:
    """Asking about a naive datetime is an error, not a guess."""
    role = make_role(**window(dt.time(9), dt.time(17)))
    with pytest.raises(InvalidValueError, match="no time zone"):
        role.is_available_at(dt.datetime(2024, 1, 15, 12))


def test_candidates_without_phone() -> None:
    """Candidates lacking a phone, or unknown among the users given, block enabling MFA."""
    jen, sam, kim = make_user(), make_user(source_account_name="sam", phone=None), make_user()
    role = make_role(jen, sam, kim)
    assert role.candidates_without_phone([jen, sam]) == {sam.object_id, kim.object_id}
    assert role.candidates_without_phone([jen, kim]) == {sam.object_id}


# --- ActivationRequest -----------------------------------------------------------------------


def make_request(**changes: object) -> ActivationRequest:
    fields: dict[str, object] = {
        "requestor_id": uuid.uuid4(),
        "role_id": uuid.uuid4(),
        "justification": "patch night",
        "requested_ttl": HOUR,
        "creation_time": NOON,
    }
    fields.update(changes)
    return ActivationRequest(**fields)  # type: ignore[arg-type]


def test_request_defaults() -> None:
    """A new request is Processing, has a random id and no expiration yet."""
    request = make_request()
    assert request.status is RequestStatus.PROCESSING
    assert request.request_id.version == 4
    assert request.expiration_time is None
    assert request.requested_time is None


@pytest.mark.parametrize("field", ["creation_time", "requested_time", "expiration_time"])
def test_request_refuses_naive_datetimes(field: str) -> None:
    """Every datetime must carry a time zone; the message says how to make one."""
    naive = dt.datetime(2024, 1, 15, 13)
    changes: dict[str, object] = {field: naive}
    if field == "expiration_time":
        changes["status"] = RequestStatus.CLOSED
    with pytest.raises(InvalidValueError, match="no time zone") as caught:
        make_request(**changes)
    assert caught.value.field == field
    assert "timezone.utc" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"requested_ttl": dt.timedelta(0)}, "requested_ttl"),
        ({"requested_ttl": 3600}, "requested_ttl"),
        ({"status": "Active"}, "status"),
        ({"justification": None}, "justification"),
        ({"requestor_id": "jen"}, "requestor_id"),
        ({"creation_method": ""}, "creation_method"),
        ({"status": RequestStatus.ACTIVE}, "expiration_time"),
        ({"status": RequestStatus.PENDING_MFA, "expiration_time": NOON + HOUR}, "expiration_time"),
        ({"status": RequestStatus.CLOSED, "expiration_time": NOON - HOUR}, "expiration_time"),
    ],
)
def test_request_validation(changes: dict[str, object], field: str) -> None:
    """Bad TTLs, types, and an expiration time that does not fit the status are refused."""
    with pytest.raises(InvalidValueError) as caught:
        make_request(**changes)
    assert caught.value.field == field


def test_active_request_carries_its_expiration() -> None:
    """An Active request is built with its expiration time (activation + TTL)."""
    request = make_request(status=RequestStatus.ACTIVE, expiration_time=NOON + HOUR)
    assert request.expiration_time == NOON + HOUR


@given(activation_requests())
def test_generated_requests_are_consistent(request: ActivationRequest) -> None:
    """Pending requests never have an expiration time and Active ones always do."""
    if request.status.is_pending:
        assert request.expiration_time is None
    if request.status is RequestStatus.ACTIVE:
        assert request.expiration_time is not None


# --- PamConfiguration ------------------------------------------------------------------------


def test_configuration_defaults() -> None:
    """The defaults are pyampam's documented choices: 1 h, 5 min to 8 h, 30 days, 20 chars."""
    configuration = PamConfiguration()
    assert configuration.privileged_user_prefix == "priv."
    assert configuration.role_default_duration == HOUR
    assert configuration.role_minimal_duration == dt.timedelta(minutes=5)
    assert configuration.role_maximal_duration == dt.timedelta(hours=8)
    assert configuration.request_expiration_in_days == 30
    assert configuration.request_retention == dt.timedelta(days=30)
    assert configuration.default_ad_container is None
    assert configuration.admin_password_length == 20


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"role_default_duration": dt.timedelta(minutes=1)}, "role_default_duration"),
        ({"role_default_duration": dt.timedelta(hours=9)}, "role_default_duration"),
        ({"role_minimal_duration": dt.timedelta(hours=2)}, "role_default_duration"),
        ({"role_maximal_duration": dt.timedelta(minutes=30)}, "role_default_duration"),
        ({"role_minimal_duration": dt.timedelta(0)}, "role_minimal_duration"),
        ({"request_expiration_in_days": 0}, "request_expiration_in_days"),
        ({"request_expiration_in_days": True}, "request_expiration_in_days"),
        ({"admin_password_length": 8}, "admin_password_length"),
        ({"admin_password_length": 20.0}, "admin_password_length"),
        ({"privileged_user_prefix": "priv "}, "privileged_user_prefix"),
        ({"default_ad_container": ""}, "default_ad_container"),
    ],
)
def test_configuration_validation(changes: dict[str, object], field: str) -> None:
    """Durations must satisfy minimal <= default <= maximal; counts and names are checked."""
    with pytest.raises(InvalidValueError) as caught:
        PamConfiguration(**changes)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_configuration_names_privileged_accounts_and_bounds_role_ttls() -> None:
    """The prefix makes PRIV account names; role TTLs default and are bounded by the config."""
    configuration = PamConfiguration(privileged_user_prefix="adm-")
    assert configuration.privileged_account_name_for("jen") == "adm-jen"
    assert configuration.check_role_ttl(None) == HOUR
    assert configuration.check_role_ttl(dt.timedelta(minutes=5)) == dt.timedelta(minutes=5)
    with pytest.raises(InvalidValueError, match="0:05:00 to 8:00:00"):
        configuration.check_role_ttl(dt.timedelta(minutes=4))
    with pytest.raises(InvalidValueError, match="timedelta"):
        configuration.check_role_ttl(60)  # type: ignore[arg-type]


@given(pam_configurations())
def test_generated_configurations_order_their_durations(configuration: PamConfiguration) -> None:
    """Every valid configuration accepts its own default duration as a role TTL."""
    assert configuration.check_role_ttl(None) == configuration.role_default_duration
    assert (
        configuration.check_role_ttl(configuration.role_default_duration)
        == configuration.role_default_duration
    )


# --- Requirement, Violation, PolicyDecision --------------------------------------------------


@pytest.mark.parametrize(
    ("approval", "mfa", "expected", "gates"),
    [
        (False, False, Requirement.NONE, ()),
        (True, False, Requirement.APPROVAL, (RequestStatus.PENDING_APPROVAL,)),
        (False, True, Requirement.MFA, (RequestStatus.PENDING_MFA,)),
        (
            True,
            True,
            Requirement.APPROVAL_AND_MFA,
            (RequestStatus.PENDING_MFA, RequestStatus.PENDING_APPROVAL),
        ),
    ],
)
def test_requirement_from_flags(
    approval: bool, mfa: bool, expected: Requirement, gates: tuple[RequestStatus, ...]
) -> None:
    """The role's flags map to a requirement; MFA is always checked before approval."""
    requirement = Requirement.from_flags(approval=approval, mfa=mfa)
    assert requirement is expected
    assert requirement.needs_approval is approval
    assert requirement.needs_mfa is mfa
    assert requirement.gates == gates


def test_every_violation_says_what_to_change() -> None:
    """Each violation has its own message with a remedy after the semicolon."""
    messages = [violation.message for violation in Violation]
    assert len(set(messages)) == len(messages)
    for violation in Violation:
        problem, _, remedy = violation.message.partition("; ")
        assert problem
        assert remedy
        assert str(violation) == violation.message


def test_decision_without_violations_is_allowed() -> None:
    """No violations: allowed, raise_for_violations returns the decision."""
    decision = PolicyDecision(requirement=Requirement.NONE, ttl=HOUR)
    assert decision.allowed
    assert decision.raise_for_violations() is decision
    assert decision.initial_status is RequestStatus.ACTIVE


def test_decision_raises_listing_every_violation() -> None:
    """ActivationDeniedError names every violation and carries them as values."""
    found = (Violation.NOT_A_CANDIDATE, Violation.TTL_ABOVE_ROLE)
    decision = PolicyDecision(violations=found, requirement=Requirement.MFA, ttl=HOUR)
    assert not decision.allowed
    assert decision.initial_status is None
    with pytest.raises(ActivationDeniedError, match=r"2 problems") as caught:
        decision.raise_for_violations()
    assert caught.value.violations == found
    for violation in found:
        assert violation.message in str(caught.value)


def test_decision_refuses_foreign_violations() -> None:
    """Only Violation values may be listed as violations."""
    with pytest.raises(InvalidValueError, match="Violation"):
        PolicyDecision(violations=["late"], requirement=Requirement.NONE, ttl=HOUR)  # type: ignore[list-item]


# Whole-policy properties draw a role, a user and times per example: fewer examples keep the
# suite fast; fifty still hit each combination of the three role flags several times.
POLICY_EXAMPLES = settings(max_examples=50)

# --- ActivationPolicy ------------------------------------------------------------------------


def test_policy_for_role_reads_the_flags() -> None:
    """The policy's requirement follows the role's ApprovalEnabled and MFAEnabled."""
    role = make_role(approval_enabled=True)
    policy = ActivationPolicy.for_role(role)
    assert policy.role is role
    assert policy.requirement is Requirement.APPROVAL


def test_candidate_without_checks_is_activated_at_once() -> None:
    """With neither check enabled a candidate is allowed and goes straight to Active."""
    jen = make_user()
    decision = ActivationPolicy.for_role(make_role(jen)).evaluate(jen, at=NOON)
    assert decision.allowed
    assert decision.violations == ()
    assert decision.ttl == HOUR
    assert decision.start_time is None
    assert decision.initial_status is RequestStatus.ACTIVE


def test_checks_decide_the_initial_status() -> None:
    """MFA first, then approval: the first gate is the request's first status."""
    jen = make_user()
    for changes, status in [
        ({"mfa_enabled": True}, RequestStatus.PENDING_MFA),
        ({"approval_enabled": True}, RequestStatus.PENDING_APPROVAL),
        ({"mfa_enabled": True, "approval_enabled": True}, RequestStatus.PENDING_MFA),
    ]:
        decision = ActivationPolicy.for_role(make_role(jen, **changes)).evaluate(jen, at=NOON)
        assert decision.initial_status is status
        assert decision.authorized_status is RequestStatus.ACTIVE


def test_non_candidate_is_refused() -> None:
    """Only candidates may request a role."""
    decision = ActivationPolicy.for_role(make_role()).evaluate(make_user(), at=NOON)
    assert decision.violations == (Violation.NOT_A_CANDIDATE,)


def test_ttl_defaults_to_the_role_and_may_be_shorter() -> None:
    """Without a requested TTL the role's applies; a shorter one is kept."""
    jen = make_user()
    policy = ActivationPolicy.for_role(make_role(jen))
    assert policy.evaluate(jen, at=NOON).ttl == HOUR
    shorter = policy.evaluate(jen, at=NOON, requested_ttl=dt.timedelta(minutes=10))
    assert shorter.allowed
    assert shorter.ttl == dt.timedelta(minutes=10)


@pytest.mark.parametrize(
    ("ttl", "violation"),
    [
        (HOUR + dt.timedelta(seconds=1), Violation.TTL_ABOVE_ROLE),
        (dt.timedelta(0), Violation.TTL_NOT_POSITIVE),
        (-HOUR, Violation.TTL_NOT_POSITIVE),
    ],
)
def test_bad_requested_ttl_is_a_violation(ttl: dt.timedelta, violation: Violation) -> None:
    """A TTL above the role's, zero or negative is reported."""
    jen = make_user()
    decision = ActivationPolicy.for_role(make_role(jen)).evaluate(jen, at=NOON, requested_ttl=ttl)
    assert decision.violations == (violation,)


def test_mfa_role_refuses_a_requestor_without_phone() -> None:
    """With MFA enabled, a requestor without a stored phone number is refused."""
    jen = make_user(phone=None)
    decision = ActivationPolicy.for_role(make_role(jen, mfa_enabled=True)).evaluate(jen, at=NOON)
    assert decision.violations == (Violation.MFA_PHONE_MISSING,)
    without_mfa = ActivationPolicy.for_role(make_role(jen)).evaluate(jen, at=NOON)
    assert without_mfa.allowed


def test_request_outside_the_window_is_refused() -> None:
    """A request made outside the availability window, for now, is refused."""
    jen = make_user()
    policy = ActivationPolicy.for_role(make_role(jen, **window(dt.time(9), dt.time(11))))
    assert policy.evaluate(jen, at=NOON).violations == (Violation.OUTSIDE_AVAILABILITY_WINDOW,)
    assert policy.evaluate(jen, at=NOON.replace(hour=10)).allowed


def test_future_start_inside_the_window_is_scheduled() -> None:
    """A delayed start inside the window is allowed and scheduled, even when asked outside it."""
    jen = make_user()
    policy = ActivationPolicy.for_role(make_role(jen, **window(dt.time(9), dt.time(11))))
    tomorrow_ten = NOON + dt.timedelta(hours=22)
    decision = policy.evaluate(jen, at=NOON, requested_time=tomorrow_ten)
    assert decision.allowed
    assert decision.start_time == tomorrow_ten
    assert decision.initial_status is RequestStatus.SCHEDULED
    gated = ActivationPolicy.for_role(attrs.evolve(policy.role, approval_enabled=True))
    pending = gated.evaluate(jen, at=NOON, requested_time=tomorrow_ten)
    assert pending.initial_status is RequestStatus.PENDING_APPROVAL
    assert pending.authorized_status is RequestStatus.SCHEDULED


def test_future_start_outside_the_window_is_refused() -> None:
    """A delayed start outside the window is refused even if asked inside it."""
    jen = make_user()
    policy = ActivationPolicy.for_role(make_role(jen, **window(dt.time(9), dt.time(13))))
    decision = policy.evaluate(jen, at=NOON, requested_time=NOON + dt.timedelta(hours=2))
    assert decision.violations == (Violation.OUTSIDE_AVAILABILITY_WINDOW,)


def test_requested_start_in_the_past_is_refused_and_now_is_immediate() -> None:
    """A start time before 'at' is a violation; a start time equal to 'at' means now."""
    jen = make_user()
    policy = ActivationPolicy.for_role(make_role(jen))
    past = policy.evaluate(jen, at=NOON, requested_time=NOON - dt.timedelta(seconds=1))
    assert past.violations == (Violation.REQUESTED_TIME_IN_PAST,)
    now = policy.evaluate(jen, at=NOON, requested_time=NOON)
    assert now.allowed
    assert now.initial_status is RequestStatus.ACTIVE


def test_every_violation_is_reported_at_once() -> None:
    """All problems are listed together, in a stable order, with the role's limits quoted."""
    stranger = make_user(phone=None)
    role = make_role(mfa_enabled=True, **window(dt.time(9), dt.time(11)))
    decision = ActivationPolicy.for_role(role).evaluate(stranger, at=NOON, requested_ttl=2 * HOUR)
    assert decision.violations == (
        Violation.NOT_A_CANDIDATE,
        Violation.MFA_PHONE_MISSING,
        Violation.TTL_ABOVE_ROLE,
        Violation.OUTSIDE_AVAILABILITY_WINDOW,
    )
    with pytest.raises(ActivationDeniedError) as caught:
        decision.raise_for_violations()
    message = str(caught.value)
    assert "role 'SQL admins'" in message
    assert "asked for 2:00:00, the role allows 1:00:00" in message
    assert "09:00:00 to 11:00:00 UTC" in message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"at": dt.datetime(2024, 1, 15, 12)}, "at"),
        ({"at": NOON, "requested_time": dt.datetime(2024, 1, 15, 13)}, "requested_time"),
        ({"at": NOON, "requested_ttl": 3600}, "requested_ttl"),
        ({"at": "2024-01-15T12:00Z"}, "at"),
    ],
)
def test_evaluate_refuses_naive_or_wrong_inputs(kwargs: dict[str, object], field: str) -> None:
    """A naive or wrongly typed argument raises InvalidValueError naming it."""
    jen = make_user()
    with pytest.raises(InvalidValueError) as caught:
        ActivationPolicy.for_role(make_role(jen)).evaluate(jen, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_evaluate_refuses_a_requestor_that_is_not_a_user() -> None:
    """The requestor must be a User, not an id."""
    jen = make_user()
    with pytest.raises(InvalidValueError, match="requestor must be a User"):
        ActivationPolicy.for_role(make_role(jen)).evaluate(jen.object_id, at=NOON)  # type: ignore[arg-type]


@POLICY_EXAMPLES
@given(roles(), users(), aware_datetimes(), st.none() | ttls())
def test_non_candidate_is_never_allowed(
    role: Role, user: User, at: dt.datetime, ttl: dt.timedelta | None
) -> None:
    """Whatever the role, time and TTL, a user who is not a candidate is refused."""
    assume(user.object_id not in role.candidates)
    decision = ActivationPolicy.for_role(role).evaluate(user, at=at, requested_ttl=ttl)
    assert not decision.allowed
    assert Violation.NOT_A_CANDIDATE in decision.violations
    assert decision.initial_status is None


@POLICY_EXAMPLES
@given(st.data(), users(), aware_datetimes(), ttls())
def test_ttl_above_the_role_is_always_reported(
    data: st.DataObject, user: User, at: dt.datetime, extra: dt.timedelta
) -> None:
    """Any TTL longer than the role's is reported, whatever else is wrong."""
    role = data.draw(roles(candidates=[user]))
    decision = ActivationPolicy.for_role(role).evaluate(user, at=at, requested_ttl=role.ttl + extra)
    assert Violation.TTL_ABOVE_ROLE in decision.violations
    assert not decision.allowed


@POLICY_EXAMPLES
@given(st.data(), users(phone=phone_numbers()), aware_datetimes())
def test_candidate_with_phone_is_allowed_without_a_window(
    data: st.DataObject, user: User, at: dt.datetime
) -> None:
    """A candidate with a phone, asking at most the role's TTL, is allowed if no window applies."""
    role = data.draw(roles(candidates=[user], window=False))
    ttl = data.draw(st.none() | ttls(max_value=role.ttl))
    decision = ActivationPolicy.for_role(role).evaluate(user, at=at, requested_ttl=ttl)
    assert decision.allowed
    assert decision.initial_status in {*role_gates(role), RequestStatus.ACTIVE}


def role_gates(role: Role) -> tuple[RequestStatus, ...]:
    return Requirement.from_flags(approval=role.approval_enabled, mfa=role.mfa_enabled).gates


@POLICY_EXAMPLES
@given(st.data(), users(), aware_datetimes(), st.none() | ttls(), st.none() | aware_datetimes())
def test_decisions_are_pure(
    data: st.DataObject,
    user: User,
    at: dt.datetime,
    ttl: dt.timedelta | None,
    start: dt.datetime | None,
) -> None:
    """The same inputs always give the same decision; allowed means exactly no violations."""
    role = data.draw(roles(candidates=data.draw(st.sampled_from([[user], []]))))
    policy = ActivationPolicy.for_role(role)
    first = policy.evaluate(user, at=at, requested_ttl=ttl, requested_time=start)
    again = policy.evaluate(user, at=at, requested_ttl=ttl, requested_time=start)
    assert first == again
    assert first.allowed is (not first.violations)
    assert (first.initial_status is None) is (not first.allowed)
    if first.allowed and role.availability_window_enabled:
        assert role.is_available_at(first.start_time or at)
