"""Field selectors: the ``fieldSelector`` grammar, value escapes, field-label checks. Pure.

Follows k8s.io/apimachinery/pkg/fields: ``f=v``, ``f==v`` and ``f!=v`` terms joined by
commas, with ``\\``, ``\\,`` and ``\\=`` escapes in values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ensign.localcluster.label_selectors import SelectorError


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``field=value`` (``==`` is the same term) or ``field!=value``."""

    field: str
    value: str
    negated: bool = False

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Compare the object's field, rendered as the apiserver's field set would."""
        return (field_value(obj, self.field) == self.value) != self.negated

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{'!=' if self.negated else '='}{escaped}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of field requirements (empty selects everything)."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether every term holds for ``obj``."""
        return all(r.matches(obj) for r in self.requirements)

    def is_empty(self) -> bool:
        """True for the select-everything selector."""
        return not self.requirements

    def required_value(self, field: str) -> str | None:
        """The value an ``=`` term pins ``field`` to (lets the store use an index)."""
        return next(
            (r.value for r in self.requirements if r.field == field and not r.negated), None
        )

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of a dotted field (missing -> ``""``, booleans -> true/false)."""
    node: Any = obj
    for step in path.split("."):
        node = node.get(step) if isinstance(node, Mapping) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, float) and node.is_integer():
        return str(int(node))
    return node if isinstance(node, str) else json.dumps(node)


def parse_field_selector(text: str, supported: frozenset[str]) -> FieldSelector:
    """fields.ParseSelector plus the per-kind field-label check; raises SelectorError."""
    requirements: list[FieldRequirement] = []
    for term in filter(None, _split_terms(text)):
        match = _FIELD_OP_RE.search(term)
        if match is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        name, value = term[: match.start()], _unescape(term[match.end() :])
        requirements.append(FieldRequirement(name, value, negated=match.group() == "!="))
    for requirement in requirements:
        if requirement.field not in supported:
            raise SelectorError(f"field label not supported: {requirement.field}")
    return FieldSelector(tuple(sorted(requirements, key=str)))


_FIELD_OP_RE: Final = re.compile("!=|==|=")


def _split_terms(text: str) -> list[str]:
    terms, start, escaped = list[str](), 0, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:i])
            start = i + 1
    return [*terms, text[start:]] if text else []


_ESCAPE_RE: Final = re.compile(r"\\(.?)|([,=])", re.DOTALL)


def _unescape(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(2):
            raise SelectorError(
                f"invalid field selector: unescaped character in value: {match.group(2)}"
            )
        if match.group(1) not in ("\\", ",", "="):
            raise SelectorError(
                f"invalid field selector: invalid escape sequence: \\{match.group(1)}"
            )
        return match.group(1)

    return _ESCAPE_RE.sub(replace, value)
