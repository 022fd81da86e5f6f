"""Compiled schema nodes: keywords pre-parsed, patterns and CEL rules compiled. Pure.

A :class:`SchemaNode` is built once per ``openAPIV3Schema`` (sub)tree and caches which
later validation phases have anything to do below it (``deep_*`` flags).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from ensign.localcluster.cel import Program, UnsupportedRule, compile_rule
from ensign.localcluster.schema_formats import FORMATS
from ensign.localcluster.schema_messages import MapKey


@dataclass(frozen=True, slots=True)
class Rule:
    program: Program
    error_string: str  # message if set, else the rule (k8s ruleErrorString)
    default_detail: str
    message_expr: Program | None
    reason: str | None
    field_path: tuple[Any, ...]


class SchemaNode:
    """A schema node with keywords pre-parsed, patterns and rules compiled."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        get = raw.get
        self.raw = raw
        self.type: str = _str_or(get("type"), "")
        self.nullable = get("nullable") is True
        self.int_or_string = get("x-kubernetes-int-or-string") is True
        self.embedded = get("x-kubernetes-embedded-resource") is True
        addl = get("additionalProperties")
        self.addl_false = addl is False
        self.preserve = get("x-kubernetes-preserve-unknown-fields") is True or addl is True
        self.has_default = "default" in raw
        self.default = get("default")
        props = get("properties")
        self.props: dict[str, SchemaNode] | None = (
            {k: SchemaNode(v, f"{where}.properties[{k}]") for k, v in props.items() if is_map(v)}
            if is_map(props)
            else None
        )
        self.required: tuple[str, ...] = tuple(r for r in get("required") or () if is_str(r))
        self.addl = SchemaNode(addl, f"{where}.additionalProperties") if is_map(addl) else None
        items = get("items")
        self.items = SchemaNode(items, f"{where}.items") if is_map(items) else None
        self.list_type = get("x-kubernetes-list-type")
        self.map_keys: tuple[str, ...] = tuple(get("x-kubernetes-list-map-keys") or ())
        self.atomic_map = get("x-kubernetes-map-type") == "atomic"
        self.all_of, self.any_of, self.one_of = (
            tuple(
                SchemaNode(s, f"{where}.{key}[{i}]")
                for i, s in enumerate(get(key) or ())
                if is_map(s)
            )
            for key in ("allOf", "anyOf", "oneOf")
        )
        not_ = get("not")
        self.not_ = SchemaNode(not_, f"{where}.not") if is_map(not_) else None
        self.junctors = bool(self.all_of or self.any_of or self.one_of or self.not_)
        self._scalar_keywords(get)
        self.rules = tuple(_compile_rules(self, get("x-kubernetes-validations") or (), where))
        kids: list[SchemaNode] = [*(self.props or {}).values()]
        kids += [n for n in (self.addl, self.items) if n is not None]
        self.deep_rules: bool = bool(self.rules) or any(k.deep_rules for k in kids)
        self.deep_lists: bool = self.list_type in ("set", "map") or any(k.deep_lists for k in kids)
        self.deep_embedded: bool = self.embedded or any(k.deep_embedded for k in kids)
        self.deep_defaults: bool = any(k.has_default or k.deep_defaults for k in kids)

    def _scalar_keywords(self, get: Callable[[str], Any]) -> None:
        def num(key: str) -> Any:
            return get(key) if is_num(get(key)) else None

        self.enum: list[Any] | None = get("enum") if isinstance(get("enum"), list) else None
        self.minimum, self.maximum, self.multiple_of = (
            num("minimum"),
            num("maximum"),
            num("multipleOf"),
        )
        self.excl_min = get("exclusiveMinimum") is True
        self.excl_max = get("exclusiveMaximum") is True
        self.min_len, self.max_len = num("minLength"), num("maxLength")
        self.min_items, self.max_items = num("minItems"), num("maxItems")
        self.min_props, self.max_props = num("minProperties"), num("maxProperties")
        self.unique = get("uniqueItems") is True
        self.pattern_src: str = get("pattern") if is_str(get("pattern")) else ""
        self.pattern = _compile_pattern(self.pattern_src) if self.pattern_src else None
        fmt = get("format") if is_str(get("format")) else ""
        self.format: str = fmt
        self.format_check = (
            FORMATS.get(fmt.replace("-", "")) if self.type in ("", "string") else None
        )
        self.string_checks = bool(
            self.min_len is not None
            or self.max_len is not None
            or self.pattern
            or self.format_check
        )
        self.number_checks = (
            self.minimum is not None or self.maximum is not None or self.multiple_of is not None
        ) or fmt == "int32"


def is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)


def is_str(value: Any) -> TypeGuard[str]:
    return isinstance(value, str)


def map_of(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if is_map(value) else {}


def _str_or(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) else fallback


def is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compile_pattern(source: str) -> re.Pattern[str] | None:
    try:
        return re.compile(source)
    except re.error:
        return None  # rejected by check_crd_schema; never matches-fails at runtime


def _compile_rules(node: SchemaNode, raw_rules: Any, where: str) -> list[Rule]:
    rules = []
    for i, raw in enumerate(raw_rules if isinstance(raw_rules, list) else ()):
        if not is_map(raw) or not is_str(raw.get("rule")):
            continue
        try:
            program = compile_rule(raw["rule"])
            msg_src = raw.get("messageExpression")
            message_expr = compile_rule(msg_src) if is_str(msg_src) and msg_src.strip() else None
        except UnsupportedRule as err:
            raise UnsupportedRule(f"{where}.x-kubernetes-validations[{i}]: {err}") from None
        message = str(raw.get("message") or "").strip()
        error_string = message or raw["rule"].strip()
        field_path = rule_field_path(node, raw.get("fieldPath"))
        rules.append(
            Rule(
                program=program,
                error_string=error_string,
                default_detail=message or f"failed rule: {error_string}",
                message_expr=message_expr,
                reason=raw.get("reason") if is_str(raw.get("reason")) else None,
                field_path=field_path or (),
            )
        )
    return rules


_FIELD_PATH_TOKEN = re.compile(r"\.([^.\[\]']+)|\['((?:[^'\\]|\\.)*)'\]")


def rule_field_path(node: SchemaNode | None, source: Any) -> tuple[Any, ...] | None:
    """Resolve a rule ``fieldPath`` (``.a.b['c']``) against ``node``; ``None`` if invalid."""
    if not is_str(source) or not source.strip():
        return () if source in (None, "") else None
    segments: list[Any] = []
    pos = 0
    while pos < len(source):
        match = _FIELD_PATH_TOKEN.match(source, pos)
        if match is None or node is None:
            return None
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if node.props is not None:
            node = node.props.get(name)
            segments.append(name)
            if node is None:
                return None
        elif node.addl is not None:
            node = node.addl
            segments.append(MapKey(name))
        else:
            return None
        pos = match.end()
    return tuple(segments)
