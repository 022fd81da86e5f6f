"""CRD registration checks on schema keywords, list types and validation rules. Pure.

Mirrors apiextensions' ``ValidateCustomResourceDefinitionOpenAPISchema``: unknown or
unsupported keywords, ``default`` placement, ``x-kubernetes-list-*``/``map-type`` usage,
``x-kubernetes-validations`` fields and CEL compilation (``oldSelf`` correlatability).
Also home of :func:`sub_schemas`, the sub-schema walk shared with :mod:`crd_structure`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ensign.localcluster.cel import UnsupportedRule, compile_rule
from ensign.localcluster.schema_messages import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    Cause,
    go_quote,
    make_cause,
)
from ensign.localcluster.schema_nodes import SchemaNode, is_map, is_str, rule_field_path
from ensign.localcluster.schema_pruning import ROOT_META

_KNOWN_KEYWORDS = frozenset(
    {
        "id", "$schema", "$ref", "description", "type", "format", "title", "default",
        "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
        "pattern", "maxItems", "minItems", "uniqueItems", "multipleOf", "enum",
        "maxProperties", "minProperties", "required", "items", "allOf", "oneOf", "anyOf",
        "not", "properties", "additionalProperties", "patternProperties", "dependencies",
        "additionalItems", "definitions", "externalDocs", "example", "nullable",
        "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
        "x-kubernetes-map-type", "x-kubernetes-validations",
    }
)  # fmt: skip
_UNSUPPORTED_KEYWORDS: tuple[str, ...] = ("id", "additionalItems", "patternProperties")
_UNSUPPORTED_KEYWORDS += ("definitions", "dependencies", "$ref")
_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_REASONS = (DUPLICATE, FORBIDDEN, INVALID, REQUIRED)
JUNCTORS = ("allOf", "anyOf", "oneOf")


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Where a schema node sits, for the context-dependent registration checks."""

    root: bool = False
    meta: bool = False  # inside root/embedded apiVersion, kind or metadata
    no_defaults: str = ""  # reason defaults are forbidden here
    uncorrelatable: str = ""  # path that makes oldSelf unusable here


def sub_schemas(raw: Mapping[str, Any], path: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(kind, path, schema) for every sub-schema of ``raw``."""
    kids: list[tuple[str, str, Mapping[str, Any]]] = []
    for name, sub in (raw.get("properties") or {}).items() if is_map(raw.get("properties")) else ():
        if is_map(sub):
            kids.append(("property", f"{path}.properties[{name}]", sub))
    for key in ("additionalProperties", "items", "not"):
        if is_map(raw.get(key)):
            kids.append((key, f"{path}.{key}", raw[key]))
    for key in JUNCTORS:
        subs = raw.get(key)
        for i, sub in enumerate(subs if isinstance(subs, list) else ()):
            if is_map(sub):
                kids.append((key, f"{path}.{key}[{i}]", sub))
    return kids


def check_api(raw: Mapping[str, Any], path: str, ctx: CheckContext, out: list[Cause]) -> None:
    _check_keywords(raw, path, ctx, out)
    _check_list_keywords(raw, path, out)
    _check_rule_fields(raw, path, out)
    list_type = raw.get("x-kubernetes-list-type")
    for kind, sub_path, sub in sub_schemas(raw, path):
        sub_ctx = CheckContext(uncorrelatable=ctx.uncorrelatable)
        if kind == "property":
            name = sub_path[len(path) + 12 : -1]
            resource = ctx.root or raw.get("x-kubernetes-embedded-resource") is True
            meta = ctx.meta or (resource and name in ROOT_META)
            reason = f"in top-level {name}" if ctx.root and name in ROOT_META else ctx.no_defaults
            atomic = raw.get("x-kubernetes-map-type") == "atomic"
            sub_ctx = CheckContext(
                False, meta, reason, ctx.uncorrelatable or (path if atomic else "")
            )
        elif kind == "items" and list_type != "map":
            sub_ctx = CheckContext(
                uncorrelatable=ctx.uncorrelatable or path, no_defaults=ctx.no_defaults
            )
        elif kind == "additionalProperties" and ctx.meta:
            sub_ctx = CheckContext(
                False, True, "inside additionalProperties applying to object metadata"
            )
        check_api(sub, sub_path, sub_ctx, out)


def _check_keywords(raw: Mapping[str, Any], path: str, ctx: CheckContext, out: list[Cause]) -> None:
    for key in raw:
        if key not in _KNOWN_KEYWORDS:
            out.append(
                make_cause(FORBIDDEN, f"{path}.{key}", detail=f"unknown field {go_quote(key)}")
            )
    kind = raw.get("type")
    if kind == "null":
        detail = "type cannot be set to null, use nullable as an alternative"
        out.append(make_cause(FORBIDDEN, f"{path}.type", detail=detail))
    elif kind is not None and kind not in _TYPES:
        detail = "supported values: " + ", ".join(go_quote(t) for t in _TYPES)
        out.append(make_cause(NOT_SUPPORTED, f"{path}.type", value=kind, detail=detail))
    if "default" in raw and (ctx.no_defaults or ctx.root):
        detail = "must not be set" + (f" {ctx.no_defaults}" if ctx.no_defaults else "")
        out.append(make_cause(FORBIDDEN, f"{path}.default", detail=detail))
    for key in _UNSUPPORTED_KEYWORDS:
        if raw.get(key) not in (None, "", {}, []):
            out.append(make_cause(FORBIDDEN, f"{path}.{key}", detail=f"{key} is not supported"))
    if isinstance(raw.get("items"), list):
        detail = "items must be a schema object and not an array"
        out.append(make_cause(FORBIDDEN, f"{path}.items", detail=detail))
    if raw.get("uniqueItems") is True:
        detail = "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        out.append(make_cause(FORBIDDEN, f"{path}.uniqueItems", detail=detail))
    addl = raw.get("additionalProperties")
    if addl is not None and raw.get("properties") and (addl is False or is_map(addl)):
        detail = "additionalProperties and properties are mutual exclusive"
        out.append(make_cause(FORBIDDEN, f"{path}.additionalProperties", detail=detail))
    if raw.get("x-kubernetes-preserve-unknown-fields") is False:
        field = f"{path}.x-kubernetes-preserve-unknown-fields"
        out.append(make_cause(INVALID, field, value=False, detail="must be true or undefined"))
    if ctx.meta and raw.get("x-kubernetes-embedded-resource") is True:
        field = f"{path}.x-kubernetes-embedded-resource"
        out.append(make_cause(FORBIDDEN, field, detail="must not be used inside of resource meta"))


def type_required(raw: Mapping[str, Any], path: str, detail: str, out: list[Cause]) -> None:
    kind = raw.get("type") or ""
    if kind:
        out.append(make_cause(INVALID, f"{path}.type", value=kind, detail=detail))
    else:
        out.append(make_cause(REQUIRED, f"{path}.type", detail=detail))


def _check_list_keywords(raw: Mapping[str, Any], path: str, out: list[Cause]) -> None:
    list_type, keys = raw.get("x-kubernetes-list-type"), raw.get("x-kubernetes-list-map-keys") or []
    map_type = raw.get("x-kubernetes-map-type")
    if map_type is not None and raw.get("type") != "object":
        type_required(raw, path, "must be object if x-kubernetes-map-type is specified", out)
    if map_type is not None and map_type not in ("atomic", "granular"):
        detail = 'supported values: "atomic", "granular"'
        field = f"{path}.x-kubernetes-map-type"
        out.append(make_cause(NOT_SUPPORTED, field, value=map_type, detail=detail))
    if list_type is not None and raw.get("type") != "array":
        type_required(raw, path, "must be array if x-kubernetes-list-type is specified", out)
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        detail = 'supported values: "atomic", "set", "map"'
        field = f"{path}.x-kubernetes-list-type"
        out.append(make_cause(NOT_SUPPORTED, field, value=list_type, detail=detail))
    if keys and list_type != "map":
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        field = f"{path}.x-kubernetes-list-type"
        out.append(
            make_cause(INVALID, field, value=list_type, detail=detail)
            if list_type
            else make_cause(REQUIRED, field, detail=detail)
        )
    items = raw.get("items") if is_map(raw.get("items")) else None
    if list_type in ("set", "map") and items is not None and items.get("nullable") is True:
        detail = f"cannot be nullable when x-kubernetes-list-type is {list_type}"
        out.append(make_cause(FORBIDDEN, f"{path}.items.nullable", detail=detail))
    if list_type == "map":
        _check_map_list(raw, path, list(keys), items, out)


def _check_map_list(
    raw: Mapping[str, Any], path: str, keys: list[Any], items: Any, out: list[Cause]
) -> None:
    if not keys:
        detail = "must not be empty if x-kubernetes-list-type is map"
        out.append(make_cause(REQUIRED, f"{path}.x-kubernetes-list-map-keys", detail=detail))
    if items is None:
        detail = "must have a schema if x-kubernetes-list-type is map"
        out.append(make_cause(REQUIRED, f"{path}.items", detail=detail))
        return
    if items.get("type") != "object":
        detail = "must be object if parent array's x-kubernetes-list-type is map"
        out.append(
            make_cause(INVALID, f"{path}.items.type", value=items.get("type"), detail=detail)
        )
        return
    props, required = items.get("properties") or {}, items.get("required") or []
    field = f"{path}.x-kubernetes-list-map-keys"
    for i, key in enumerate(keys):
        prop = props.get(key)
        if not is_map(prop):
            detail = "entries must all be names of item properties"
            out.append(make_cause(INVALID, field, value=keys, detail=detail))
            continue
        prop_path = f"{path}.items.properties[{key}]"
        if prop.get("type") in ("array", "object"):
            detail = "must be a scalar type if parent array's x-kubernetes-list-type is map"
            out.append(make_cause(INVALID, f"{prop_path}.type", value="object", detail=detail))
        if key in keys[:i]:
            detail = "must not contain duplicate entries"
            out.append(make_cause(INVALID, field, value=keys, detail=detail))
        if key not in required and "default" not in prop:
            detail = (
                "this property is in x-kubernetes-list-map-keys, so it must have a default "
                "or be a required property"
            )
            out.append(make_cause(REQUIRED, f"{prop_path}.default", detail=detail))
        if prop.get("nullable") is True:
            detail = "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"
            out.append(make_cause(FORBIDDEN, f"{prop_path}.nullable", detail=detail))


def _check_rule_fields(raw: Mapping[str, Any], path: str, out: list[Cause]) -> None:
    rules = raw.get("x-kubernetes-validations")
    node: SchemaNode | None = None
    for i, rule in enumerate(rules if isinstance(rules, list) else ()):
        where = f"{path}.x-kubernetes-validations[{i}]"
        rule = rule if is_map(rule) else {}
        text, message = rule.get("rule"), rule.get("message")
        if not is_str(text) or not text.strip():
            out.append(make_cause(REQUIRED, f"{where}.rule", detail="rule is not specified"))
        elif is_str(message) and message and not message.strip():
            detail = "message must be non-empty if specified"
            out.append(make_cause(INVALID, f"{where}.message", value=message, detail=detail))
        elif is_str(message) and re.search(r"[\n\r]", message.strip()):
            detail = "message must not contain line breaks"
            out.append(make_cause(INVALID, f"{where}.message", value=message, detail=detail))
        elif re.search(r"[\n\r]", text.strip()) and not (message or "").strip():
            detail = "message must be specified if rule contains line breaks"
            out.append(make_cause(REQUIRED, f"{where}.message", detail=detail))
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS:
            detail = "supported values: " + ", ".join(go_quote(r) for r in _REASONS)
            out.append(make_cause(NOT_SUPPORTED, f"{where}.reason", value=reason, detail=detail))
        field_path = rule.get("fieldPath")
        if field_path not in (None, ""):
            node = node or SchemaNode(
                {k: v for k, v in raw.items() if k != "x-kubernetes-validations"}, path
            )
            if rule_field_path(node, field_path) is None:
                detail = "fieldPath must be a valid path"
                out.append(
                    make_cause(INVALID, f"{where}.fieldPath", value=field_path, detail=detail)
                )


def check_rules_compile(
    raw: Mapping[str, Any], path: str, ctx: CheckContext, out: list[Cause]
) -> None:
    rules = raw.get("x-kubernetes-validations")
    for i, rule in enumerate(rules if isinstance(rules, list) else ()):
        where = f"{path}.x-kubernetes-validations[{i}]"
        shown = {
            k: rule[k] for k in ("rule", "message", "messageExpression", "reason") if k in rule
        }
        for key in ("rule", "messageExpression"):
            if not is_str(rule.get(key)):
                continue
            try:
                program = compile_rule(rule[key])
            except UnsupportedRule as err:
                detail = f"compilation failed: {err}"
                out.append(
                    Cause(
                        INVALID, f"{where}.{key}", f"Invalid value: {json.dumps(shown)}: {detail}"
                    )
                )
                continue
            if key == "rule" and program.uses_old_self and ctx.uncorrelatable:
                detail = f"oldSelf cannot be used on the uncorrelatable portion of the schema within {ctx.uncorrelatable}"
                out.append(make_cause(INVALID, f"{where}.rule", value=rule[key], detail=detail))
    list_type = raw.get("x-kubernetes-list-type")
    for kind, sub_path, sub in sub_schemas(raw, path):
        blocked = ctx.uncorrelatable
        if (kind == "items" and list_type != "map") or (
            kind == "property" and raw.get("x-kubernetes-map-type") == "atomic"
        ):
            blocked = blocked or path
        check_rules_compile(sub, sub_path, CheckContext(uncorrelatable=blocked), out)
