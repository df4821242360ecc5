"""A small builder for OData v3 ``$filter`` expressions, as the PAM REST API reads them.

``F.DisplayName == "SQL File Access"`` makes a comparison; ``&`` (and ``|``) combine them;
``str()`` renders the expression. Values are written as OData v3 literals: strings quoted with
``'`` doubled, datetimes as ``datetime'2016-06-01T09:00:00'`` in UTC, UUIDs as ``guid'...'``,
``true``/``false``, numbers and ``null``. MIM documents ``eq ne gt lt ge le`` and ``and``.

Python's ``&`` binds tighter than ``==``, so parenthesise each comparison:
``(F.RoleName == "x") & (F.RequestedTTL == "3600")``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import re
import uuid
from typing import TypeAlias

import attrs

from pyampam.exceptions import InvalidValueError

__all__ = [
    "And",
    "Comparison",
    "F",
    "Field",
    "FilterExpression",
    "FilterValue",
    "Or",
    "render_filter",
]

#: What a comparison can hold on its right-hand side.
FilterValue: TypeAlias = str | bool | int | float | dt.datetime | uuid.UUID | enum.Enum | None

OPERATORS = ("eq", "ne", "gt", "lt", "ge", "le")
# Words the filter grammar itself uses: a property named so could not be told apart.
_RESERVED = frozenset(
    {"and", "or", "not", "eq", "ne", "gt", "lt", "ge", "le", "true", "false", "null"}
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)


class FilterExpression:
    """A ``$filter`` condition: a :class:`Comparison`, or an :class:`And`/:class:`Or` of them."""

    __slots__ = ()

    def __and__(self, other: FilterExpression) -> And:
        if not isinstance(other, FilterExpression):
            return NotImplemented
        return And(_flatten(And, self) + _flatten(And, other))

    def __or__(self, other: FilterExpression) -> Or:
        if not isinstance(other, FilterExpression):
            return NotImplemented
        return Or(_flatten(Or, self) + _flatten(Or, other))

    def __bool__(self) -> bool:
        # `a and b` would silently keep only `b`; make the mistake loud instead.
        raise InvalidValueError(
            "a filter expression has no truth value: combine conditions with & and |, "
            "not `and`/`or`, and parenthesise each comparison"
        )

    def render(self) -> str:
        """The expression as OData ``$filter`` text."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render()


def _flatten(
    kind: type[And] | type[Or], expression: FilterExpression
) -> tuple[FilterExpression, ...]:
    if isinstance(expression, kind):
        return expression.operands
    return (expression,)


@attrs.frozen(slots=True)
class Comparison(FilterExpression):
    """``field op value``, e.g. ``DisplayName eq 'SQL File Access'``."""

    field: str
    op: str = attrs.field(validator=attrs.validators.in_(OPERATORS))
    value: FilterValue

    def __attrs_post_init__(self) -> None:
        render_literal(self.value)  # refuse unrepresentable values when built, not when sent

    def render(self) -> str:
        """The comparison as OData text."""
        return f"{self.field} {self.op} {render_literal(self.value)}"


@attrs.frozen(slots=True)
class And(FilterExpression):
    """All of ``operands`` hold (rendered with OData's ``and``)."""

    operands: tuple[FilterExpression, ...]

    def render(self) -> str:
        """The conjunction as OData text; nested ``or`` groups are parenthesised."""
        return " and ".join(_grouped(operand) for operand in self.operands)


@attrs.frozen(slots=True)
class Or(FilterExpression):
    """At least one of ``operands`` holds (OData's ``or``; MIM documents only ``and``)."""

    operands: tuple[FilterExpression, ...]

    def render(self) -> str:
        """The disjunction as OData text; nested ``and`` groups are parenthesised."""
        return " or ".join(_grouped(operand) for operand in self.operands)


def _grouped(operand: FilterExpression) -> str:
    text = operand.render()
    return f"({text})" if isinstance(operand, (And, Or)) else text


class Field:
    """A property to compare, made by ``F.Name``; its comparison operators build conditions."""

    __slots__ = ("name",)
    # Comparisons build expressions rather than answer questions, so fields are not hashable.
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidValueError(
                f"{name!r} is not an OData property name (letters, digits and _ only)",
                field="filter",
            )
        if any(part in _RESERVED for part in name.split("/")):
            raise InvalidValueError(
                f"{name!r} is a word of the filter language, not a property name", field="filter"
            )
        self.name = name

    def __repr__(self) -> str:
        return f"F.{self.name}"

    # The comparison operators return expressions, not bools, as in SQLAlchemy.
    def __eq__(self, value: FilterValue) -> Comparison:  # type: ignore[override]
        return Comparison(self.name, "eq", value)

    def __ne__(self, value: FilterValue) -> Comparison:  # type: ignore[override]
        return Comparison(self.name, "ne", value)

    def __gt__(self, value: FilterValue) -> Comparison:
        return Comparison(self.name, "gt", value)

    def __lt__(self, value: FilterValue) -> Comparison:
        return Comparison(self.name, "lt", value)

    def __ge__(self, value: FilterValue) -> Comparison:
        return Comparison(self.name, "ge", value)

    def __le__(self, value: FilterValue) -> Comparison:
        return Comparison(self.name, "le", value)


class _Fields:
    """The ``F`` object: ``F.DisplayName`` (or ``F["DisplayName"]``) is that property."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Field:
        if name.startswith("__"):
            raise AttributeError(name)
        return Field(name)

    def __getitem__(self, name: str) -> Field:
        return Field(name)

    def __repr__(self) -> str:
        return "F"


#: The start of every filter: ``F.DisplayName == "SQL File Access"``.
F = _Fields()


def render_literal(value: FilterValue) -> str:  # noqa: PLR0911 - one return per kind of literal
    """One value as an OData v3 literal."""
    if value is None:
        return "null"
    if isinstance(value, enum.Enum):
        # RequestStatus.ACTIVE compares as MIM's own spelling, 'Active'.
        return render_literal(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _render_float(value)
    if isinstance(value, str):
        return _render_string(value)
    if isinstance(value, dt.datetime):
        return _render_datetime(value)
    if isinstance(value, uuid.UUID):
        return f"guid'{value}'"
    raise InvalidValueError(
        f"a filter cannot compare with a {type(value).__name__}; use a string, number, bool, "
        "datetime, UUID or None",
        field="filter",
    )


def _render_float(value: float) -> str:
    if not math.isfinite(value):
        raise InvalidValueError(f"{value} cannot be sent in a filter", field="filter")
    # Fixed-point: OData v3 readers differ on exponents (1e-05).
    text = repr(value)
    if "e" in text.lower():
        text = format(decimal.Decimal(text), "f")
    return text if "." in text else text + ".0"


def _render_string(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidValueError(
            "a filter string holds a lone surrogate, which cannot be sent", field="filter"
        ) from error
    return "'" + value.replace("'", "''") + "'"


def _render_datetime(value: dt.datetime) -> str:
    if value.utcoffset() is not None:
        try:
            value = value.astimezone(dt.timezone.utc)
        except OverflowError as error:
            raise InvalidValueError(f"{value} is out of range in UTC", field="filter") from error
    # Naive datetimes are taken as UTC, as MIM reads the literal.
    naive = value.replace(tzinfo=None)
    text = naive.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return f"datetime'{text}'"


def render_filter(value: FilterExpression | str) -> str:
    """The ``$filter`` text for an expression, or a raw filter string unchanged."""
    if isinstance(value, FilterExpression):
        return value.render()
    if isinstance(value, str):
        return value
    raise InvalidValueError(
        f"filter must be an expression built with F or a string, not {type(value).__name__}",
        field="filter",
    )
