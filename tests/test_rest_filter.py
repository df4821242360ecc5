"""The OData v3 $filter builder: literals, operators, grouping, and a parse-back round trip."""

from __future__ import annotations

import datetime as dt
import enum
import operator
import re
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyampam import RequestStatus
from pyampam.exceptions import InvalidValueError
from pyampam.rest import And, Comparison, F, FilterExpression, Or, render_filter

UTC = dt.timezone.utc


# -- examples --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        (F.DisplayName == "SQL File Access", "DisplayName eq 'SQL File Access'"),
        (F.RoleName == "O'Brien's role", "RoleName eq 'O''Brien''s role'"),
        (F.RoleName != "", "RoleName ne ''"),
        (
            F.ExpirationTime > dt.datetime(2016, 6, 1, 9),
            "ExpirationTime gt datetime'2016-06-01T09:00:00'",
        ),
        (
            F.CreationTime
            >= dt.datetime(2016, 6, 1, 11, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "CreationTime ge datetime'2016-06-01T09:00:00'",
        ),
        (
            F.CreationTime < dt.datetime(2016, 6, 1, 9, 0, 0, 250000, tzinfo=UTC),
            "CreationTime lt datetime'2016-06-01T09:00:00.250000'",
        ),
        (
            F.RoleId == uuid.UUID("8f5cec1a-ecba-42ec-b76d-e6e0e4bf4c62"),
            "RoleId eq guid'8f5cec1a-ecba-42ec-b76d-e6e0e4bf4c62'",
        ),
        (F.MFAEnabled == True, "MFAEnabled eq true"),  # noqa: E712 - builds a filter
        (F.ApprovalEnabled != False, "ApprovalEnabled ne false"),  # noqa: E712
        (F.TTL <= 3600, "TTL le 3600"),
        (F.Ratio > 0.5, "Ratio gt 0.5"),
        (F.Tiny > 1e-7, "Tiny gt 0.0000001"),
        (F.Huge < 1e16, "Huge lt 10000000000000000.0"),
        (F.Justification == None, "Justification eq null"),  # noqa: E711
        (F.Status != "Closed", "Status ne 'Closed'"),
        (F.RequestStatus == RequestStatus.PENDING_MFA, "RequestStatus eq 'PendingMFA'"),
        (F["FIMRequestID/Value"] == "x", "FIMRequestID/Value eq 'x'"),
    ],
)
def test_comparisons_render_as_odata(expression: FilterExpression, text: str) -> None:
    """Each operator and kind of value renders as MIM's OData v3 $filter reads it."""
    assert str(expression) == text
    assert render_filter(expression) == text


def test_and_or_combine_and_group() -> None:
    """& and | join conditions; a nested group of the other kind is parenthesised."""
    a, b, c = F.A == 1, F.B == 2, F.C == 3
    assert str(a & b & c) == "A eq 1 and B eq 2 and C eq 3"
    assert a & b & c == And((a, b, c))
    assert a & (b & c) == And((a, b, c))
    assert str(a | b) == "A eq 1 or B eq 2"
    assert str((a | b) & c) == "(A eq 1 or B eq 2) and C eq 3"
    assert str(a | (b & c)) == "A eq 1 or (B eq 2 and C eq 3)"
    assert (a | b) | c == Or((a, b, c))


def test_python_and_is_refused() -> None:
    """`a and b` (which would keep only b) raises instead of silently dropping a condition."""
    with pytest.raises(InvalidValueError, match="&"):
        _ = (F.A == 1) and (F.B == 2)


def test_raw_strings_pass_through() -> None:
    """A raw filter string is used as it is."""
    assert render_filter("DisplayName eq 'x'") == "DisplayName eq 'x'"
    with pytest.raises(InvalidValueError, match="filter"):
        render_filter(42)  # type: ignore[arg-type]


NOT_A_NUMBER = float("nan")
INFINITY = float("inf")


class Colour(enum.Enum):
    RED = "Red"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: F.Ratio == NOT_A_NUMBER, "cannot be sent"),
        (lambda: F.Ratio == INFINITY, "cannot be sent"),
        (lambda: F.Name == "\ud800", "surrogate"),
        (lambda: F.Name == b"bytes", "bytes"),
        (lambda: F.Name == dt.timedelta(1), "timedelta"),
        (lambda: F["Display Name"] == "x", "property name"),
        (lambda: F["1st"] == "x", "property name"),
        (lambda: F["and"] == "x", "word of the filter"),
        (lambda: (F.Name == 1) & "raw", "unsupported operand"),  # type: ignore[operator]
    ],
)
def test_unrepresentable_filters_are_refused(build: Any, message: str) -> None:
    """Values and names that cannot be written in OData are refused when the filter is built."""
    with pytest.raises((InvalidValueError, TypeError), match=message):
        build()


def test_enum_values_use_their_value() -> None:
    """Any Enum member compares as its value."""
    assert str(F.Colour == Colour.RED) == "Colour eq 'Red'"


def test_fields_are_not_hashable_and_show_their_name() -> None:
    """F.Name shows as such; a field is not a dict key (its == builds a condition)."""
    assert repr(F.DisplayName) == "F.DisplayName"
    assert repr(F) == "F"
    with pytest.raises(TypeError):
        hash(F.DisplayName)


# -- round trip through a parser written here ------------------------------------------------

_TOKEN = re.compile(
    r"""\s+
    |(?P<typed>(?:datetime|guid)'[^']*')
    |(?P<string>'(?:[^']|'')*')
    |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<lparen>\()|(?P<rparen>\))
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)""",
    re.VERBOSE,
)

Node = tuple[Any, ...]


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None, f"cannot read {text[position:]!r}"
        if match.lastgroup:
            tokens.append((match.lastgroup, match.group()))
        position = match.end()
    return tokens


class _Parser:
    """expr := conj ('or' conj)*; conj := primary ('and' primary)*; primary := (expr) | cmp."""

    def __init__(self, text: str) -> None:
        self.tokens = [*_tokenize(text), ("end", "")]
        self.index = 0

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def peek_word(self, word: str) -> bool:
        return self.tokens[self.index] == ("name", word)

    def parse(self) -> Node:
        node = self.expression()
        assert self.take()[0] == "end"
        return node

    def expression(self) -> Node:
        parts = [self.conjunction()]
        while self.peek_word("or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.primary()]
        while self.peek_word("and"):
            self.take()
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def primary(self) -> Node:
        if self.tokens[self.index][0] == "lparen":
            self.take()
            node = self.expression()
            assert self.take()[0] == "rparen"
            return node
        kind, field = self.take()
        assert kind == "name"
        kind, op = self.take()
        assert kind == "name"
        assert op in ("eq", "ne", "gt", "lt", "ge", "le")
        return ("cmp", field, op, self.literal(*self.take()))

    @staticmethod
    def literal(kind: str, text: str) -> tuple[str, object]:
        if kind == "string":
            return ("str", text[1:-1].replace("''", "'"))
        if kind == "number":
            if re.fullmatch(r"-?\d+", text):
                return ("int", int(text))
            return ("float", float(text))
        if kind == "typed":
            prefix, _, body = text[:-1].partition("'")
            if prefix == "guid":
                return ("UUID", uuid.UUID(body))
            return ("datetime", dt.datetime.fromisoformat(body).replace(tzinfo=UTC))
        assert kind == "name"
        assert text in ("true", "false", "null"), text
        return {"true": ("bool", True), "false": ("bool", False), "null": ("NoneType", None)}[text]


def _expected(expression: FilterExpression) -> Node:
    """The structure a correct rendering parses back to (values as a type-tagged pair)."""
    if isinstance(expression, Comparison):
        return ("cmp", expression.field, expression.op, _value(expression.value))
    assert isinstance(expression, (And, Or))
    kind = "and" if isinstance(expression, And) else "or"
    return (kind, tuple(_expected(operand) for operand in expression.operands))


def _value(value: object) -> tuple[str, object]:
    if isinstance(value, enum.Enum):
        return _value(value.value)
    if isinstance(value, dt.datetime):
        utc = value.astimezone(UTC) if value.utcoffset() is not None else value
        return ("datetime", utc.replace(tzinfo=UTC))
    return (type(value).__name__, value)


_names = st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_]{0,12}(/[A-Za-z_][A-Za-z0-9_]{0,6})?", fullmatch=True
).filter(
    lambda name: (
        not {"and", "or", "not", "eq", "ne", "gt", "lt", "ge", "le", "true", "false", "null"}
        & set(name.split("/"))
    )
)
_values = st.one_of(
    st.text(st.characters(codec="utf-8")),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=dt.datetime(1753, 1, 1), max_value=dt.datetime(9998, 12, 31)),
    st.datetimes(
        min_value=dt.datetime(1753, 1, 1),
        max_value=dt.datetime(9998, 12, 31),
        timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
    ),
    st.uuids(),
    st.none(),
    st.sampled_from(list(RequestStatus)),
)
_comparisons = st.builds(
    lambda name, op, value: op(getattr(F, name) if name.isidentifier() else F[name], value),
    _names,
    st.sampled_from([operator.eq, operator.ne, operator.gt, operator.lt, operator.ge, operator.le]),
    _values,
)
_filters = st.recursive(
    _comparisons,
    lambda children: (
        st.builds(operator.and_, children, children) | st.builds(operator.or_, children, children)
    ),
    max_leaves=8,
)


@settings(max_examples=300)
@given(_filters)
def test_rendered_filters_parse_back_to_the_same_structure(expression: FilterExpression) -> None:
    """Any filter built from random names and values renders to text that parses back to it."""
    assert _Parser(str(expression)).parse() == _expected(expression)
