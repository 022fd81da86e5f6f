"""Validation phase 1: OpenAPI keyword checks, worded as kube-openapi does. Pure.

Types, string/number/array/object limits, ``enum`` and the ``allOf``/``anyOf``/
``oneOf``/``not`` junctors; paths are kube-openapi style (``spec.items[0].name``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ensign.localcluster.schema_messages import (
    INVALID,
    NIL,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE_INVALID,
    Cause,
    MapKey,
    go_float,
    go_json,
    go_quote,
    make_cause,
    openapi_field,
    openapi_path,
)
from ensign.localcluster.schema_nodes import SchemaNode, is_num


def _fewest(results: list[list[Cause]]) -> list[Cause]:
    """The failures of the closest alternative (kube-openapi keeps the best match)."""
    best = results[0]
    for result in results[1:]:
        if len(result) < len(best):
            best = result
    return best


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean"}
_JSON_TYPES |= {int: "integer", float: "number"}


def _type_ok(expected: str, actual: str, value: Any) -> bool:
    if expected == actual:
        return True
    if expected == "integer" and actual == "number":
        return bool(math.isfinite(value) and value.is_integer())
    return expected == "number" and actual == "integer"


def _type_error(path: tuple[Any, ...], expected: str, actual: str) -> Cause:
    detail = f"{openapi_path(path)} in body must be of type {expected}: {go_quote(actual)}"
    return make_cause(TYPE_INVALID, openapi_field(path), value=actual, detail=detail)


def _invalid(path: tuple[Any, ...], value: Any, detail: str) -> Cause:
    return make_cause(
        INVALID, openapi_field(path), value=value, detail=f"{openapi_path(path)} in body {detail}"
    )


def _composite(detail: str) -> Cause:
    return make_cause(INVALID, NIL, value="", detail=detail)


def check_keywords(node: SchemaNode, value: Any, path: tuple[Any, ...], out: list[Cause]) -> None:
    if value is None:
        if node.type and not node.nullable:
            out.append(_type_error(path, node.type, "null"))
        return
    kind = _JSON_TYPES.get(type(value), "")
    if node.type and not _type_ok(node.type, kind, value):
        out.append(_type_error(path, node.type, kind or "unknown"))
        return
    if node.junctors:
        _check_junctors(node, value, path, out)
    if kind == "string":
        if node.string_checks:
            _check_string(node, value, path, out)
    elif kind in ("integer", "number"):
        if node.number_checks:
            _check_number(node, value, path, out)
    elif kind == "array":
        _check_array(node, value, path, out)
    if node.enum is not None and not any(_json_equal(value, e) for e in node.enum):
        allowed = [e if isinstance(e, str) else go_json(e) for e in node.enum]
        detail = "supported values: " + ", ".join(go_quote(a) for a in allowed) if allowed else ""
        out.append(make_cause(NOT_SUPPORTED, openapi_field(path), value=value, detail=detail))
    if kind == "object":
        _check_object(node, value, path, out)


def _check_string(node: SchemaNode, value: str, path: tuple[Any, ...], out: list[Cause]) -> None:
    if node.max_len is not None and len(value) > node.max_len:
        unit = "byte" if node.max_len == 1 else "bytes"
        detail = f"may not be more than {int(node.max_len)} {unit}"
        out.append(make_cause(TOO_LONG, openapi_field(path), detail=detail))
    if node.min_len is not None and len(value) < node.min_len:
        out.append(_invalid(path, value, f"should be at least {int(node.min_len)} chars long"))
    if node.pattern is not None and node.pattern.search(value) is None:
        out.append(_invalid(path, value, f"should match '{node.pattern_src}'"))
    if node.format_check is not None and not node.format_check(value):
        detail = f"{openapi_path(path)} in body must be of type {node.format}: {go_quote(value)}"
        out.append(make_cause(TYPE_INVALID, openapi_field(path), value=value, detail=detail))


def _check_number(node: SchemaNode, value: float, path: tuple[Any, ...], out: list[Cause]) -> None:
    is_int = isinstance(value, int)
    shown: Callable[[float], str] = (lambda x: str(int(x))) if is_int else go_float
    if node.format == "int32" and is_int and not -(2**31) <= value < 2**31:
        detail = f"Checked value must be of type integer with format int32 in {openapi_path(path)}"
        out.append(_composite(detail))
    factor = node.multiple_of
    if (
        factor is not None
        and factor > 0
        and (
            (is_int and int(factor) and value % int(factor))
            or (not is_int and not (value / factor).is_integer())
        )
    ):
        out.append(_invalid(path, value, f"should be a multiple of {shown(factor)}"))
    for limit, exclusive, is_max in (
        (node.maximum, node.excl_max, True),
        (node.minimum, node.excl_min, False),
    ):
        if limit is None:
            continue
        bound = int(limit) if is_int else limit
        bad = (
            (value >= bound if exclusive else value > bound)
            if is_max
            else (value <= bound if exclusive else value < bound)
        )
        if bad:
            word = ("less than" if is_max else "greater than") + (
                "" if exclusive else " or equal to"
            )
            out.append(_invalid(path, value, f"should be {word} {shown(limit)}"))


def _check_array(
    node: SchemaNode, value: list[Any], path: tuple[Any, ...], out: list[Cause]
) -> None:
    if node.items is not None:
        for i, item in enumerate(value):
            check_keywords(node.items, item, (*path, i), out)
    size = len(value)
    if node.min_items is not None and size < node.min_items:
        out.append(_invalid(path, size, f"should have at least {int(node.min_items)} items"))
    if node.max_items is not None and size > node.max_items:
        out.append(_too_many(path, size, int(node.max_items)))
    if node.unique and len({go_json(v) for v in value}) != size:
        out.append(_invalid(path, "", "shouldn't contain duplicates"))


def _too_many(path: tuple[Any, ...], actual: int, limit: int) -> Cause:
    detail = f"must have at most {limit} item{'' if limit == 1 else 's'}"
    return make_cause(TOO_MANY, openapi_field(path), value=actual, detail=detail)


def _check_object(
    node: SchemaNode, value: dict[str, Any], path: tuple[Any, ...], out: list[Cause]
) -> None:
    count = len(value)
    if node.min_props is not None and count < node.min_props:
        out.append(_invalid(path, count, f"should have at least {int(node.min_props)} properties"))
        return
    if node.max_props is not None and count > node.max_props:
        out.append(_too_many(path, count, int(node.max_props)))
        return
    props = node.props or {}
    if node.addl_false:
        for key in value:
            if key not in props:
                detail = f"{openapi_path((*path, key))} in body is a forbidden property"
                out.append(make_cause(INVALID, openapi_field(path), value=key, detail=detail))
    elif node.addl is not None:
        for key, item in value.items():
            if key not in props:
                check_keywords(node.addl, item, (*path, MapKey(key)), out)
    for key, sub in props.items():
        if key in value:
            check_keywords(sub, value[key], (*path, key), out)
    for key in node.required:
        if key not in value:
            out.append(make_cause(REQUIRED, openapi_path((*path, key))))


def _check_junctors(node: SchemaNode, value: Any, path: tuple[Any, ...], out: list[Cause]) -> None:
    name = go_quote(openapi_path(path))
    if node.any_of:
        results = [_errors(sub, value, path) for sub in node.any_of]
        if all(results):
            out.append(_composite(f"{name} must validate at least one schema (anyOf)"))
            out.extend(_fewest(results))
    if node.one_of:
        results = [_errors(sub, value, path) for sub in node.one_of]
        valid = sum(not r for r in results)
        if valid != 1:
            extra = "Found none valid" if not valid else f"Found {valid} valid alternatives"
            out.append(_composite(f"{name} must validate one and only one schema (oneOf). {extra}"))
            out.extend(_fewest(results) if not valid else ())
    if node.all_of:
        results = [_errors(sub, value, path) for sub in node.all_of]
        for result in results:
            out.extend(result)
        valid = sum(not r for r in results)
        if valid != len(results):
            extra = ". None validated" if not valid else ""
            out.append(_composite(f"{name} must validate all the schemas (allOf){extra}"))
    if node.not_ is not None and not _errors(node.not_, value, path):
        out.append(_composite(f"{name} must not validate the schema (not)"))


def _errors(node: SchemaNode, value: Any, path: tuple[Any, ...]) -> list[Cause]:
    out: list[Cause] = []
    check_keywords(node, value, path, out)
    return out


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if is_num(a) and is_num(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)
