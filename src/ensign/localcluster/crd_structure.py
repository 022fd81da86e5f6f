"""CRD registration checks for structural schemas (apiextensions' structural rules). Pure.

A structural schema specifies a type everywhere, keeps junctors (``allOf``/``anyOf``/
``oneOf``/``not``) to pure value validation, and names inside junctors only fields that
are also specified outside them; root and embedded resources get apiVersion/kind/metadata
checks on top.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ensign.localcluster.crd_keywords import JUNCTORS, sub_schemas, type_required
from ensign.localcluster.schema_messages import (
    FORBIDDEN,
    INVALID,
    REQUIRED,
    Cause,
    make_cause,
)
from ensign.localcluster.schema_nodes import is_map, is_str, map_of

_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def check_structural(raw: Mapping[str, Any], path: str, level: str, out: list[Cause]) -> None:
    kind = raw.get("type") or ""
    embedded = raw.get("x-kubernetes-embedded-resource") is True
    int_or_string = raw.get("x-kubernetes-int-or-string") is True
    preserve = raw.get("x-kubernetes-preserve-unknown-fields") is True
    if kind == "array" and "items" not in raw:
        out.append(make_cause(REQUIRED, f"{path}.items", detail="must be specified"))
    for child, sub_path, sub in sub_schemas(raw, path):
        if child in ("property", "items", "additionalProperties"):
            check_structural(sub, sub_path, "item" if child == "items" else "field", out)
    if "additionalProperties" in raw and level == "root":
        detail = "must not be used at the root"
        out.append(make_cause(FORBIDDEN, f"{path}.additionalProperties", detail=detail))
    for key in ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource"):
        if int_or_string and raw.get(key) is True:
            detail = "must be false if x-kubernetes-int-or-string is true"
            out.append(make_cause(INVALID, f"{path}.{key}", value=True, detail=detail))
    _check_value_validation(raw, path, out, nested=False)
    if embedded and kind != "object":
        type_required(raw, path, "must be object if x-kubernetes-embedded-resource is true", out)
    elif not kind and not int_or_string and not preserve:
        where = {"root": "at the root", "item": "for specified array items"}
        detail = "must not be empty " + where.get(level, "for specified object fields")
        out.append(make_cause(REQUIRED, f"{path}.type", detail=detail))
    if embedded and "additionalProperties" in raw:
        detail = "must not be used if x-kubernetes-embedded-resource is set"
        out.append(make_cause(FORBIDDEN, f"{path}.additionalProperties", detail=detail))
    if level == "root" and kind and kind != "object":
        out.append(
            make_cause(INVALID, f"{path}.type", value=kind, detail="must be object at the root")
        )
    _check_resource_fields(raw, path, level == "root", embedded, out)
    if embedded and not preserve and not raw.get("properties"):
        detail = (
            "must not be empty if x-kubernetes-embedded-resource is true without "
            "x-kubernetes-preserve-unknown-fields"
        )
        out.append(make_cause(REQUIRED, f"{path}.properties", detail=detail))
    for junctor, sub_path, sub in sub_schemas(raw, path):
        if junctor in (*JUNCTORS, "not"):
            _check_complete(sub, raw, path, sub_path, out)


def _check_resource_fields(
    raw: Mapping[str, Any], path: str, root: bool, embedded: bool, out: list[Cause]
) -> None:
    props = map_of(raw, "properties")
    for key in ("kind", "apiVersion"):
        sub = props.get(key)
        if (root or embedded) and is_map(sub) and sub.get("type") != "string":
            field = f"{path}.properties[{key}].type"
            out.append(
                make_cause(INVALID, field, value=sub.get("type") or "", detail="must be string")
            )
    meta = props.get("metadata")
    if not is_map(meta):
        return
    meta_path = f"{path}.properties[metadata]"
    if (root or embedded) and meta.get("type") != "object":
        field = f"{meta_path}.type"
        out.append(
            make_cause(INVALID, field, value=meta.get("type") or "", detail="must be object")
        )
    if root:
        names = set(meta.get("properties") or {})
        extra = set(meta) - {"type", "default", "properties"}
        if extra or not names <= {"name", "generateName"}:
            detail = (
                "must not specify anything other than name and generateName, but metadata is "
                "implicitly specified"
            )
            out.append(make_cause(FORBIDDEN, meta_path, detail=detail))


def _is_int_or_string_any_of(raw: Any) -> bool:
    return is_map(raw) and raw.get("anyOf") == _INT_OR_STRING_ANY_OF


def _check_value_validation(
    raw: Mapping[str, Any], path: str, out: list[Cause], *, nested: bool
) -> None:
    """Junctor contents must only restrict values; mirrors k8s validateValueValidation."""
    skip_any_of = _is_int_or_string_any_of(raw)
    all_of = raw.get("allOf") if isinstance(raw.get("allOf"), list) else []
    for junctor, sub_path, sub in sub_schemas(raw, path):
        if junctor == "anyOf" and skip_any_of:
            continue
        if junctor in (*JUNCTORS, "not"):
            skip_first = junctor == "allOf" and sub_path.endswith("[0]") and bool(all_of)
            _check_nested(
                sub, sub_path, out, skip_any_of=skip_first and _is_int_or_string_any_of(sub)
            )
    pattern = raw.get("pattern")
    if is_str(pattern):
        try:
            re.compile(pattern)
        except re.error as err:
            detail = f"must be a valid regular expression, but isn't: {err}"
            out.append(make_cause(INVALID, f"{path}.pattern", value=pattern, detail=detail))
    del nested


def _check_nested(
    raw: Mapping[str, Any], path: str, out: list[Cause], *, skip_any_of: bool
) -> None:
    for junctor, sub_path, sub in sub_schemas(raw, path):
        if junctor == "anyOf" and skip_any_of:
            continue
        if junctor in ("property", "items", "not", *JUNCTORS):
            _check_nested(sub, sub_path, out, skip_any_of=False)
        if junctor == "additionalProperties":
            continue
    for key, detail in _NESTED_FORBIDDEN:
        if raw.get(key) not in (None, False, "", [], {}):
            out.append(make_cause(FORBIDDEN, f"{path}.{key}", detail=detail))
    if is_map(raw.get("properties")) and "metadata" in raw["properties"]:
        detail = "must not be specified in a nested context"
        out.append(make_cause(FORBIDDEN, f"{path}.properties[metadata]", detail=detail))
    _check_value_validation(raw, path, out, nested=True)


def _check_complete(
    nested: Mapping[str, Any],
    struct: Mapping[str, Any] | None,
    s_path: str,
    v_path: str,
    out: list[Cause],
) -> None:
    """Every field/item named inside a junctor must also be specified structurally."""
    if struct is None:
        out.append(make_cause(REQUIRED, s_path, detail=f"because it is defined in {v_path}"))
        return
    for junctor, sub_path, sub in sub_schemas(nested, v_path):
        if junctor in (*JUNCTORS, "not"):
            _check_complete(sub, struct, s_path, sub_path, out)
    if is_map(nested.get("items")):
        items = struct.get("items") if is_map(struct.get("items")) else None
        _check_complete(nested["items"], items, f"{s_path}.items", f"{v_path}.items", out)
    props, nested_props = map_of(struct, "properties"), map_of(nested, "properties")
    for key, sub in nested_props.items():
        if is_map(sub):
            sub_struct = props.get(key) if is_map(props.get(key)) else None
            sub_s = f"{s_path}.properties[{key}]"
            _check_complete(sub, sub_struct, sub_s, f"{v_path}.properties[{key}]", out)
