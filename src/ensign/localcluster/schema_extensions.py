"""Validation phases 2-3: embedded resources, list types and CEL rules. Pure.

These are the ``x-kubernetes-*`` extension checks apiextensions runs after the OpenAPI
keywords; paths are field.Path style (``spec.labels[foo]``, the root is ``<nil>``).
:data:`ABSENT` stands for "no old object" (transition rules are then skipped).
"""

from __future__ import annotations

from typing import Any

from ensign.localcluster.cel import CelError
from ensign.localcluster.schema_messages import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NIL,
    OMIT,
    REQUIRED,
    Cause,
    MapKey,
    fieldpath,
    go_json,
    make_cause,
)
from ensign.localcluster.schema_nodes import Rule, SchemaNode

ABSENT: Any = object()


# --- phase 2: embedded resources and list types ------------------------------------------


def _walk_kids(
    node: SchemaNode, value: Any, path: tuple[Any, ...], flag: str
) -> list[tuple[SchemaNode, Any, tuple[Any, ...]]]:
    """Children of ``value`` whose schema has ``flag`` set somewhere below."""
    kids: list[tuple[SchemaNode, Any, tuple[Any, ...]]] = []
    if isinstance(value, dict):
        props = node.props or {}
        for key, item in value.items():
            sub = props.get(key) if key in props else node.addl
            if sub is not None and getattr(sub, flag):
                kids.append((sub, item, (*path, key if key in props else MapKey(key))))
    elif isinstance(value, list) and node.items is not None and getattr(node.items, flag):
        kids.extend((node.items, item, (*path, i)) for i, item in enumerate(value))
    return kids


def check_embedded(node: SchemaNode, value: Any, path: tuple[Any, ...], out: list[Cause]) -> None:
    if node.embedded and isinstance(value, dict):
        for key in ("apiVersion", "kind"):
            field = fieldpath((*path, key))
            if key not in value:
                out.append(make_cause(REQUIRED, field, detail="must not be empty"))
            elif not isinstance(value[key], str):
                out.append(make_cause(INVALID, field, value=value[key], detail="must be a string"))
            elif not value[key]:
                out.append(make_cause(INVALID, field, value="", detail="must not be empty"))
    for sub, item, sub_path in _walk_kids(node, value, path, "deep_embedded"):
        check_embedded(sub, item, sub_path, out)


def _identity(value: Any) -> Any:
    if isinstance(value, dict | list):
        return ("compound", go_json(value))
    return (type(value).__name__, value)


def check_lists(node: SchemaNode, value: Any, path: tuple[Any, ...], out: list[Cause]) -> None:
    if isinstance(value, list) and node.list_type in ("set", "map"):
        if node.list_type == "set":
            keys = value
        elif any(item is not None and not isinstance(item, dict) for item in value):
            index, bad = next((i, x) for i, x in enumerate(value) if not isinstance(x, dict | None))
            detail = "must be an object for an array of list-type map"
            out.append(make_cause(INVALID, fieldpath((*path, index)), value=bad, detail=detail))
            keys = []
        else:
            keys = [_map_key(node, item) for item in value]
        seen: dict[Any, int] = {}
        for i, key in enumerate(keys):
            ident = _identity(key)
            seen[ident] = seen.get(ident, 0) + 1
            if seen[ident] == 2:
                out.append(make_cause(DUPLICATE, fieldpath((*path, i)), value=key))
    for sub, item, sub_path in _walk_kids(node, value, path, "deep_lists"):
        check_lists(sub, item, sub_path, out)


def _map_key(node: SchemaNode, item: Any) -> dict[str, Any]:
    item = item or {}
    return {k: item[k] for k in node.map_keys if k in item}


# --- phase 3: x-kubernetes-validations ----------------------------------------------------

BLOCKED = make_cause(
    INVALID,
    NIL,
    value=None,
    detail="some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation",
)


def check_rules(
    node: SchemaNode, value: Any, old: Any, path: tuple[Any, ...], out: list[Cause]
) -> None:
    if value is None:
        return
    for rule in node.rules:
        if rule.program.uses_old_self and old is ABSENT:
            continue
        _run_rule(node, rule, value, old, path, out)
    correlated = old if not node.atomic_map else ABSENT
    olds = _old_items(node, old) if isinstance(value, list) else None
    for sub, item, sub_path in _walk_kids(node, value, path, "deep_rules"):
        if olds is not None:
            sub_old = olds.get(_identity(_map_key(node, item)), ABSENT)
        elif isinstance(correlated, dict):
            sub_old = correlated.get(sub_path[-1], ABSENT)
        else:
            sub_old = ABSENT
        check_rules(sub, item, sub_old, sub_path, out)


def _old_items(node: SchemaNode, old: Any) -> dict[Any, Any]:
    """Old list items correlatable with new ones (only ``x-kubernetes-list-type: map``)."""
    if node.list_type != "map" or not isinstance(old, list):
        return {}
    return {_identity(_map_key(node, x)): x for x in old if isinstance(x, dict)}


def _run_rule(
    node: SchemaNode, rule: Rule, value: Any, old: Any, path: tuple[Any, ...], out: list[Cause]
) -> None:
    old_value = None if old is ABSENT else old
    try:
        result = rule.program.evaluate(value, old_value)
    except CelError as err:
        text = str(err)
        if text.startswith("no such overload"):
            detail = (
                f"'{text}': call arguments did not match a supported operator, function or "
                f"macro signature for rule: {rule.error_string}"
            )
        else:
            detail = f"{text} evaluating rule: {rule.error_string}"
        out.append(make_cause(INVALID, fieldpath(path), value=node.type, detail=detail))
        return
    if result is True:
        return
    detail = rule.default_detail
    if rule.message_expr is not None:
        try:
            message = rule.message_expr.evaluate(value, old_value)
        except CelError:
            message = None
        if isinstance(message, str) and message.strip() and "\n" not in message:
            detail = message.strip()
    shown = OMIT if node.type in ("object", "array") else value
    field = fieldpath((*path, *rule.field_path))
    if rule.reason == FORBIDDEN or rule.reason == REQUIRED:
        out.append(make_cause(rule.reason, field, detail=detail))
    elif rule.reason == DUPLICATE:
        out.append(make_cause(DUPLICATE, field, value=shown))
    else:
        out.append(make_cause(INVALID, field, value=shown, detail=detail))
