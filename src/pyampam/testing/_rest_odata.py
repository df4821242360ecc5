"""A small OData v3 ``$filter`` reader for the PAM REST test server: parse, type-check, evaluate.

It reads what MIM's PAM REST API documents (``eq ne gt lt ge le and``), plus ``or``, ``not``
and parentheses: comparisons of properties (``FIMRequestID/Value`` for a complex property's
member) with literals: ``'text'`` (``''`` for a quote), ``datetime'2015-06-12T04:49:32.431Z'``,
``datetimeoffset'...'``, ``guid'...'``, ``true``/``false``, ``null``, whole numbers (``L``
suffix allowed) and decimals (``M``/``D`` suffix allowed). A Boolean property alone is a
condition. Anything else (functions, arithmetic, lambda operators) is refused with an
:class:`ODataFilterError` that says where and what to write instead.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
import uuid
from collections.abc import Callable, Mapping
from typing import TypeAlias

import attrs

__all__ = [
    "EdmType",
    "ODataFilter",
    "ODataFilterError",
    "Schema",
    "Value",
]

#: A value a filter compares: what a record holds for a property, or a literal.
Value: TypeAlias = "str | bool | int | decimal.Decimal | uuid.UUID | dt.datetime | None"

UTC = dt.timezone.utc


class EdmType(enum.Enum):
    """The OData (EDM) types of the properties the PAM REST API serves."""

    STRING = "Edm.String"
    GUID = "Edm.Guid"
    DATETIME = "Edm.DateTime"
    INT64 = "Edm.Int64"
    DECIMAL = "Edm.Decimal"
    BOOLEAN = "Edm.Boolean"
    NULL = "null"

    @property
    def is_numeric(self) -> bool:
        """Whether values of the type compare as numbers."""
        return self in (EdmType.INT64, EdmType.DECIMAL)


#: The properties of an entity: a name and its type, or a complex property's own members.
Schema: TypeAlias = Mapping[str, "EdmType | Mapping[str, EdmType]"]


class ODataFilterError(ValueError):
    """A ``$filter`` cannot be read or does not fit the entity; the message says where and why.

    ``position`` is the 0-based character offset of the problem in the filter text, when known.
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        self.position = position
        super().__init__(message)


# -- the syntax tree --------------------------------------------------------------------------


@attrs.frozen
class _Property:
    path: tuple[str, ...]
    position: int

    @property
    def name(self) -> str:
        return "/".join(self.path)


@attrs.frozen
class _Literal:
    value: Value
    kind: EdmType
    position: int


@attrs.frozen
class _Compare:
    operator: str
    left: _Property | _Literal
    right: _Property | _Literal
    position: int


@attrs.frozen
class _Logical:
    operator: str  # "and" or "or"
    left: _Node
    right: _Node


@attrs.frozen
class _Not:
    operand: _Node


@attrs.frozen
class _Truth:
    """A Boolean property used as a condition by itself."""

    operand: _Property


_Node: TypeAlias = "_Compare | _Logical | _Not | _Truth"

_COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
_MAX_DEPTH = 50
_MAX_TOKENS = 1000
_UNSUPPORTED_OPERATORS = ("add", "sub", "mul", "div", "mod", "has", "any", "all", "isof", "cast")
_UNSUPPORTED_FUNCTIONS = (
    "substringof",
    "startswith",
    "endswith",
    "length",
    "indexof",
    "replace",
    "substring",
    "tolower",
    "toupper",
    "trim",
    "concat",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "round",
    "floor",
    "ceiling",
)


# -- reading the text -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<typed>(?:datetimeoffset|datetime|guid|time|binary|X)'(?:[^']|'')*')
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?[LlMmDdFf]?(?![A-Za-z0-9_]))
    | (?P<open>\()
    | (?P<close>\))
    | (?P<comma>,)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)


@attrs.frozen
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            character = text[position]
            hint = (
                "; a text literal needs a closing quote (write '' for a quote inside it)"
                if character == "'"
                else ""
            )
            raise ODataFilterError(
                f"$filter has an unexpected {character!r} at position {position}{hint}",
                position=position,
            )
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(_Token(kind, match.group(), position))
        position = match.end()
    found.append(_Token("end", "", len(text)))
    return found


_DATETIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})T(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,7})?)?)"
    r"(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?"
)


def parse_datetime(text: str) -> dt.datetime:
    """Read an OData/.NET date and time (``2015-06-12T04:49:32.431Z``) as an aware UTC datetime.

    Up to seven fractional digits (.NET ticks) are accepted and cut to microseconds; a time
    without a zone is read as UTC. Raises ValueError when *text* is not such a date.
    """
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a date and time such as 2015-06-12T04:49:32.431Z")
    clock = match["time"]
    if "." in clock:
        whole, fraction = clock.split(".")
        clock = f"{whole}.{fraction[:6].ljust(6, '0')}"
    zone = match["zone"] or "Z"
    moment = dt.datetime.fromisoformat(
        f"{match['date']}T{clock}{'+00:00' if zone == 'Z' else zone}"
    )
    return moment.astimezone(UTC)


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


class _Parser:
    """Recursive descent over the tokens: or < and < not < comparison < primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        if len(self.tokens) > _MAX_TOKENS:
            # Long and/or chains make deep trees; refuse them before anything recurses.
            raise ODataFilterError(
                f"$filter is too long ({len(self.tokens)} words and symbols, at most "
                f"{_MAX_TOKENS}); split the query"
            )
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.current.kind == "name" and self.current.text in words

    def fail(self, message: str, token: _Token | None = None) -> ODataFilterError:
        where = self.current if token is None else token
        return ODataFilterError(
            f"$filter: {message} at position {where.position}", position=where.position
        )

    def parse(self) -> _Node:
        if self.current.kind == "end":
            raise self.fail("the filter is empty; give a condition such as DisplayName eq 'x'")
        node = self.expression()
        if self.current.kind != "end":
            raise self.fail(f"unexpected {self.current.text!r}; join conditions with 'and' or 'or'")
        return node

    def expression(self) -> _Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            # Recursion is bounded here, so a hostile filter gets a 400 and not a crash.
            raise self.fail(f"the filter nests deeper than {_MAX_DEPTH} levels")
        node = self.conjunction()
        while self.at_word("or"):
            self.advance()
            node = _Logical("or", node, self.conjunction())
        self.depth -= 1
        return node

    def conjunction(self) -> _Node:
        node = self.negation()
        while self.at_word("and"):
            self.advance()
            node = _Logical("and", node, self.negation())
        return node

    def negation(self) -> _Node:
        nots = 0
        while self.at_word("not"):
            self.advance()
            nots += 1
        node = self.comparison()
        return _Not(node) if nots % 2 else node

    def comparison(self) -> _Node:
        if self.current.kind == "open":
            opening = self.advance()
            node = self.expression()
            if self.current.kind != "close":
                raise self.fail(
                    f"the parenthesis opened at position {opening.position} is not closed"
                )
            self.advance()
            return node
        left = self.operand()
        if self.current.kind == "name" and self.current.text in _COMPARISONS:
            operator = self.advance()
            right = self.operand()
            return _Compare(operator.text, left, right, operator.position)
        if self.current.kind == "name" and self.current.text in _UNSUPPORTED_OPERATORS:
            raise self.fail(
                f"the operator {self.current.text!r} is not supported; use eq, ne, gt, ge, lt, "
                "le, and, or, not"
            )
        if isinstance(left, _Property):
            return _Truth(left)
        raise self.fail(
            "a literal alone is not a condition; compare it with a property, e.g. "
            "DisplayName eq 'x'",
            self.tokens[self.index - 1],
        )

    def operand(self) -> _Property | _Literal:
        token = self.current
        if token.kind == "name":
            if token.text in ("true", "false"):
                self.advance()
                return _Literal(token.text == "true", EdmType.BOOLEAN, token.position)
            if token.text == "null":
                self.advance()
                return _Literal(None, EdmType.NULL, token.position)
            if self.tokens[self.index + 1].kind == "open":
                hint = (
                    "functions are not supported; compare the whole value with eq instead"
                    if token.text in _UNSUPPORTED_FUNCTIONS
                    else "there are no functions; compare a property with a literal"
                )
                raise self.fail(f"{token.text}(...): {hint}")
            if token.text in (*_COMPARISONS, "and", "or", "not", *_UNSUPPORTED_OPERATORS):
                raise self.fail(f"expected a property or a literal, not {token.text!r}")
            self.advance()
            return _Property(tuple(token.text.split("/")), token.position)
        if token.kind == "string":
            self.advance()
            return _Literal(_unquote(token.text), EdmType.STRING, token.position)
        if token.kind == "typed":
            self.advance()
            return self.typed_literal(token)
        if token.kind == "number":
            self.advance()
            return self.number(token)
        if token.kind == "end":
            raise self.fail("the filter ends where a property or a literal was expected")
        raise self.fail(f"expected a property or a literal, not {token.text!r}")

    def typed_literal(self, token: _Token) -> _Literal:
        prefix, _, rest = token.text.partition("'")
        body = rest[:-1].replace("''", "'")
        if prefix in ("datetime", "datetimeoffset"):
            try:
                moment = parse_datetime(body)
            except ValueError:
                raise self.fail(
                    f"{token.text} is not a date: write {prefix}'2015-06-12T04:49:32.431Z'",
                    token,
                ) from None
            return _Literal(moment, EdmType.DATETIME, token.position)
        if prefix == "guid":
            try:
                return _Literal(uuid.UUID(body), EdmType.GUID, token.position)
            except ValueError:
                raise self.fail(
                    f"{token.text} is not a GUID: write guid'8f5cec1a-ecba-42ec-b76d-e6e0e4bf4c62'",
                    token,
                ) from None
        raise self.fail(f"{prefix}'...' literals are not supported", token)

    def number(self, token: _Token) -> _Literal:
        text = token.text
        suffix = text[-1] if text[-1].isalpha() else ""
        digits = text[:-1] if suffix else text
        if suffix in ("f", "F"):
            raise self.fail(f"{text}: single-precision numbers are not supported", token)
        if suffix in ("", "L", "l") and re.fullmatch(r"-?[0-9]+", digits):
            return _Literal(int(digits), EdmType.INT64, token.position)
        if suffix in ("L", "l"):
            raise self.fail(f"{text}: a whole number with an L suffix has no decimals", token)
        return _Literal(decimal.Decimal(digits), EdmType.DECIMAL, token.position)


# -- checking and evaluating ------------------------------------------------------------------


def _kind_of(operand: _Property | _Literal, schema: Schema, entity: str) -> EdmType:
    if isinstance(operand, _Literal):
        return operand.kind
    first, *rest = operand.path
    declared = schema.get(first)
    if declared is None:
        known = ", ".join(sorted(schema))
        raise ODataFilterError(
            f"$filter: {entity} has no property {first!r} (position {operand.position}); "
            f"choose from {known}",
            position=operand.position,
        )
    if isinstance(declared, EdmType):
        if rest:
            raise ODataFilterError(
                f"$filter: {first} is a {declared.value}, it has no member {rest[0]!r} "
                f"(position {operand.position})",
                position=operand.position,
            )
        return declared
    if len(rest) != 1 or rest[0] not in declared:
        members = ", ".join(f"{first}/{member}" for member in sorted(declared))
        raise ODataFilterError(
            f"$filter: {first} is a complex property; compare one of its members: {members} "
            f"(position {operand.position})",
            position=operand.position,
        )
    return declared[rest[0]]


def _compatible(left: EdmType, right: EdmType) -> bool:
    if EdmType.NULL in (left, right):
        return True
    if left.is_numeric and right.is_numeric:
        return True
    return left is right


_ORDERING: dict[str, Callable[[int], bool]] = {
    "gt": lambda order: order > 0,
    "ge": lambda order: order >= 0,
    "lt": lambda order: order < 0,
    "le": lambda order: order <= 0,
}


def _resolve(operand: _Property | _Literal, record: Mapping[str, object]) -> object:
    if isinstance(operand, _Literal):
        return operand.value
    value: object = record
    for part in operand.path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _order(left: object, right: object) -> int:
    # Only values of one checked type meet here; bool sorts false < true as in .NET.
    if left == right:
        return 0
    return -1 if left < right else 1  # type: ignore[operator]


@attrs.frozen
class ODataFilter:
    """A parsed ``$filter``: :meth:`parse` it, :meth:`check` it against a schema, then test records.

    Records are mappings of property names to Python values: ``str``, ``bool``, ``int``,
    ``decimal.Decimal``, ``uuid.UUID``, aware ``datetime`` or None; a complex property is a
    mapping of its members. Text compares by code point and case-sensitively (OData's
    ordinal comparison); a comparison with null is true only for ``eq null`` / ``ne null``.
    """

    text: str
    _tree: _Node = attrs.field(repr=False, eq=False)

    @classmethod
    def parse(cls, text: str) -> ODataFilter:
        """Read *text*; raises :class:`ODataFilterError` for what it cannot read."""
        return cls(text, _Parser(text).parse())

    def properties(self) -> frozenset[str]:
        """The property paths the filter reads, e.g. ``DisplayName`` or ``FIMRequestID/Value``."""
        found: set[str] = set()

        def walk(node: _Node) -> None:
            if isinstance(node, _Logical):
                walk(node.left)
                walk(node.right)
            elif isinstance(node, _Not):
                walk(node.operand)
            elif isinstance(node, _Truth):
                found.add(node.operand.name)
            else:
                for side in (node.left, node.right):
                    if isinstance(side, _Property):
                        found.add(side.name)

        walk(self._tree)
        return frozenset(found)

    def check(self, schema: Schema, *, entity: str = "the entity") -> ODataFilter:
        """The filter checked against *schema*: every property exists and every type fits.

        Raises :class:`ODataFilterError` otherwise. An Int64 property also compares with a
        text literal of a whole number (``TTL eq '3600'``): MIM serves its TTLs as text and
        does not publish their type, so clients compare them either way; the returned filter
        compares such literals as numbers.
        """
        return ODataFilter(self.text, _checked(self._tree, schema, entity))

    def matches(self, record: Mapping[str, object]) -> bool:
        """Whether *record* satisfies the filter."""
        return _evaluate(self._tree, record)


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")


def _as_number(literal: _Property | _Literal) -> _Property | _Literal:
    if (
        isinstance(literal, _Literal)
        and literal.kind is EdmType.STRING
        and isinstance(literal.value, str)
        and _WHOLE_NUMBER.fullmatch(literal.value.strip())
    ):
        return _Literal(int(literal.value), EdmType.INT64, literal.position)
    return literal


def _checked(node: _Node, schema: Schema, entity: str) -> _Node:
    if isinstance(node, _Logical):
        return _Logical(
            node.operator, _checked(node.left, schema, entity), _checked(node.right, schema, entity)
        )
    if isinstance(node, _Not):
        return _Not(_checked(node.operand, schema, entity))
    if isinstance(node, _Truth):
        kind = _kind_of(node.operand, schema, entity)
        if kind is not EdmType.BOOLEAN:
            raise ODataFilterError(
                f"$filter: {node.operand.name} is a {kind.value}, not a condition; compare it, "
                f"e.g. {node.operand.name} eq ... (position {node.operand.position})",
                position=node.operand.position,
            )
        return node
    left, right = node.left, node.right
    left_kind = _kind_of(left, schema, entity)
    right_kind = _kind_of(right, schema, entity)
    if left_kind is EdmType.INT64 and right_kind is EdmType.STRING:
        right = _as_number(right)
        right_kind = _kind_of(right, schema, entity)
    elif right_kind is EdmType.INT64 and left_kind is EdmType.STRING:
        left = _as_number(left)
        left_kind = _kind_of(left, schema, entity)
    if not _compatible(left_kind, right_kind):
        raise ODataFilterError(
            f"$filter: operator '{node.operator}' is incompatible with operand types "
            f"'{left_kind.value}' and '{right_kind.value}' (position {node.position})",
            position=node.position,
        )
    if node.operator in _ORDERING and EdmType.NULL in (left_kind, right_kind):
        raise ODataFilterError(
            f"$filter: '{node.operator}' cannot compare with null; use eq null or ne null "
            f"(position {node.position})",
            position=node.position,
        )
    return _Compare(node.operator, left, right, node.position)


def _compare(node: _Compare, record: Mapping[str, object]) -> bool:
    left = _resolve(node.left, record)
    right = _resolve(node.right, record)
    if node.operator == "eq":
        return left == right
    if node.operator == "ne":
        return left != right
    if left is None or right is None:
        return False
    return _ORDERING[node.operator](_order(left, right))


def _evaluate(node: _Node, record: Mapping[str, object]) -> bool:
    if isinstance(node, _Logical):
        if node.operator == "and":
            return _evaluate(node.left, record) and _evaluate(node.right, record)
        return _evaluate(node.left, record) or _evaluate(node.right, record)
    if isinstance(node, _Not):
        return not _evaluate(node.operand, record)
    if isinstance(node, _Truth):
        return _resolve(node.operand, record) is True
    return _compare(node, record)
