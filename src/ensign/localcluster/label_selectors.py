"""Label selectors: requirements, the ``labelSelector`` grammar, apimachinery messages. Pure.

Follows k8s.io/apimachinery/pkg/labels: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``,
``a notin (x)``, ``a``, ``!a`` plus the numeric ``a>1``/``a<1`` forms, joined by commas.
Also defines :class:`SelectorError`, shared with :mod:`field_selectors`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from ensign.localcluster.builtin_common import label_key, label_value


class SelectorError(ValueError):
    """An unparsable or invalid selector; ``message`` is the apiserver's wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Operator(StrEnum):
    """Label requirement operators (values as in k8s.io/apimachinery/pkg/selection)."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_SET_OPS: Final = frozenset({Operator.IN, Operator.NOT_IN})
_EXACT_OPS: Final = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS})
_UNARY_OPS: Final = frozenset({Operator.EXISTS, Operator.DOES_NOT_EXIST})
_NUMERIC_OPS: Final = frozenset({Operator.GREATER_THAN, Operator.LESS_THAN})
_INT64_RE: Final = re.compile(r"[+-]?[0-9]+")
_INT64_RANGE: Final = range(-(2**63), 2**63)


def _int64(text: str) -> int | None:
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if number in _INT64_RANGE else None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement; ``values`` is sorted and duplicate-free."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this requirement (labels.Requirement.Matches)."""
        op, present = self.operator, self.key in labels
        if op in _UNARY_OPS:
            return present == (op is Operator.EXISTS)
        if op in _NUMERIC_OPS:
            have = _int64(labels[self.key]) if present else None
            want = _int64(self.values[0]) if len(self.values) == 1 else None
            if have is None or want is None:
                return False
            return have > want if op is Operator.GREATER_THAN else have < want
        hit = present and labels[self.key] in self.values
        return not hit if op in (Operator.NOT_IN, Operator.NOT_EQUALS) else hit

    def __str__(self) -> str:
        if self.operator in _UNARY_OPS:
            return ("!" if self.operator is Operator.DOES_NOT_EXIST else "") + self.key
        if self.operator in _SET_OPS:
            return f"{self.key} {self.operator.value} ({','.join(self.values)})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(self.operator)
        return f"{self.key}{symbol or self.operator.value}{','.join(self.values)}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements sorted by key; ``nothing`` matches no label set."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement holds (an empty selector matches everything)."""
        return not self.nothing and all(r.matches(labels) for r in self.requirements)

    def is_empty(self) -> bool:
        """True for the select-everything selector."""
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING: Final = LabelSelector()
NOTHING: Final = LabelSelector(nothing=True)


def _invalid(field: str, value: object, detail: str) -> str:
    if isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
    else:
        shown = "[]string{" + ", ".join(json.dumps(v) for v in _as_seq(value)) + "}"
    return f"{field}: Invalid value: {shown}: {detail}"


def _as_seq(value: object) -> Sequence[object]:
    return value if isinstance(value, list | tuple) else ()


def _aggregate(errors: Sequence[str]) -> str:
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


_ARITY: Final = (  # NewRequirement's value-count rules: (operators, valid count?, message)
    (_SET_OPS, bool, "for 'in', 'notin' operators, values set can't be empty"),
    (_EXACT_OPS, (1).__eq__, "exact-match compatibility requires one single value"),
    (_UNARY_OPS, (0).__eq__, "values set must be empty for exists and does not exist"),
    (_NUMERIC_OPS, (1).__eq__, "for 'Gt', 'Lt' operators, exactly one value is required"),
)


def new_requirement(key: str, operator: Operator, values: Sequence[str]) -> Requirement:
    """labels.NewRequirement: validate and build; raises SelectorError."""
    vals = list(values)
    errors = [_invalid("key", key, "; ".join(p)) for p in [label_key(key)] if p]
    errors += [
        _invalid("values", vals, m)
        for ops, ok, m in _ARITY
        if operator in ops and not ok(len(vals))
    ]
    if operator in _NUMERIC_OPS:
        errors += [
            _invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
            for i, v in enumerate(vals)
            if _int64(v) is None
        ]
    errors += [
        _invalid(f"values[{i}][{key}]", v, "; ".join(p))
        for i, v in enumerate(vals)
        if (p := label_value(v))
    ]
    if errors:
        raise SelectorError(_aggregate(errors))
    return Requirement(key, operator, tuple(sorted(set(vals))))


def _selector(requirements: Sequence[Requirement]) -> LabelSelector:
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


_MATCH_OPERATORS: Final = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def label_selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, ``{}`` selects everything."""
    if sel is None:
        return NOTHING
    match_labels = sel.get("matchLabels") or {}
    expressions = sel.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        raise SelectorError("invalid label selector: matchLabels/matchExpressions malformed")
    requirements = [
        new_requirement(str(k), Operator.EQUALS, [str(v)]) for k, v in match_labels.items()
    ]
    for expr in expressions:
        if not isinstance(expr, Mapping):
            raise SelectorError(f"invalid label selector requirement: {expr!r}")
        operator = _MATCH_OPERATORS.get(expr.get("operator", ""))
        if operator is None:
            raise SelectorError(
                f"{json.dumps(expr.get('operator'))} is not a valid label selector operator"
            )
        values = expr.get("values") or []
        if not isinstance(values, list):
            raise SelectorError(f"invalid values in label selector requirement: {values!r}")
        requirements.append(
            new_requirement(str(expr.get("key", "")), operator, [str(v) for v in values])
        )
    return _selector(requirements)


# ------------------------------------------------------------------ label selector parser

_IDENT, _END, _COMMA, _LPAR, _RPAR, _NOT = "ident", "end", ",", "(", ")", "!"
_SYMBOLS: Final[dict[str, str]] = {
    **{symbol: symbol for symbol in (_NOT, _LPAR, _RPAR, _COMMA)},
    **{op.value: op for op in _EXACT_OPS},
    **{">": Operator.GREATER_THAN, "<": Operator.LESS_THAN},
}
_SPECIAL: Final = frozenset("!=(),<>")
_SPACE: Final = frozenset(" \t\r\n")
_KEYWORDS: Final = {"in": Operator.IN, "notin": Operator.NOT_IN}
_BINARY_OPS: Final = "in, notin, =, ==, !=, gt, lt"
_BINARY: Final = {op.value: op for op in Operator if op not in _UNARY_OPS}


def _lex(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            tokens.append((_END, ""))
            return tokens
        j = i
        if text[i] in _SPECIAL:  # longest symbol, like the Go lexer
            while j < n and text[i : j + 1] in _SYMBOLS:
                j += 1
            tokens.append((_SYMBOLS[text[i:j]], text[i:j]))
        else:
            while j < n and text[j] not in _SPACE and text[j] not in _SPECIAL:
                j += 1
            tokens.append((_KEYWORDS.get(text[i:j], _IDENT), text[i:j]))
        i = j


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, *, values: bool = True) -> tuple[str, str]:
        kind, literal = self.tokens[self.pos]
        return (_IDENT if values and kind in _SET_OPS else kind), literal

    def take(self, *, values: bool = True) -> tuple[str, str]:
        token = self.peek(values=values)
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token


def parse_label_selector(text: str) -> LabelSelector:
    """labels.Parse: the ``?labelSelector=`` text form; raises SelectorError."""
    parser, requirements = _Parser(text), list[Requirement]()
    while True:
        kind, literal = parser.peek()
        if kind == _END:
            return _selector(requirements)
        if kind not in (_IDENT, _NOT):
            raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
        try:
            requirements.append(_parse_requirement(parser))
        except SelectorError as err:
            raise SelectorError(f"unable to parse requirement: {err.message}") from None
        kind, literal = parser.take()
        if kind == _END:
            return _selector(requirements)
        if kind != _COMMA:
            raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
        kind, literal = parser.peek()
        if kind not in (_IDENT, _NOT):
            raise SelectorError(f"found '{literal}', expected: identifier after ','")


def _parse_requirement(parser: _Parser) -> Requirement:
    kind, literal = parser.take()
    negated = kind == _NOT
    if negated:
        kind, literal = parser.take()
    if kind != _IDENT:
        raise SelectorError(f"found '{literal}', expected: identifier")
    if problems := label_key(literal):
        raise SelectorError(_invalid("<nil>", literal, "; ".join(problems)))
    if negated:
        return new_requirement(literal, Operator.DOES_NOT_EXIST, [])
    if parser.peek()[0] in (_END, _COMMA):
        return new_requirement(literal, Operator.EXISTS, [])
    op_kind, op_literal = parser.take(values=False)
    operator = _BINARY.get(op_kind)
    if operator is None:
        raise SelectorError(f"found '{op_literal}', expected: {_BINARY_OPS}")
    values = _parse_set(parser) if operator in _SET_OPS else _parse_exact(parser)
    return new_requirement(literal, operator, values)


def _parse_exact(parser: _Parser) -> list[str]:
    kind, literal = parser.peek()
    if kind in (_END, _COMMA):
        return [""]
    parser.take()
    if kind != _IDENT:
        raise SelectorError(f"found '{literal}', expected: identifier")
    return [literal]


def _parse_set(parser: _Parser) -> list[str]:
    kind, literal = parser.take()
    if kind != _LPAR:
        raise SelectorError(f"found '{literal}' expected: '('")
    kind, literal = parser.peek()
    if kind == _RPAR:
        parser.take()
        return [""]
    if kind not in (_IDENT, _COMMA):
        raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
    values: set[str] = set()
    while True:
        kind, literal = parser.take()
        if kind == _IDENT:
            values.add(literal)
            after, after_literal = parser.peek()
            if after == _RPAR:
                parser.take()
                return sorted(values)
            if after != _COMMA:
                raise SelectorError(f"found '{after_literal}', expected: ',' or ')'")
        elif kind == _COMMA:  # "(,", ",," and ",)" each stand for the empty value
            if not values:
                values.add("")
            after = parser.peek()[0]
            if after == _RPAR:
                parser.take()
                values.add("")
                return sorted(values)
            if after == _COMMA:
                parser.take()
                values.add("")
        else:
            raise SelectorError(f"found '{literal}', expected: ',', or identifier")
