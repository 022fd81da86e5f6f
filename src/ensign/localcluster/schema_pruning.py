"""Pruning unknown fields and applying schema defaults to JSON values. Pure."""

from __future__ import annotations

from typing import Any

from ensign.localcluster.schema_nodes import SchemaNode

ROOT_META = frozenset({"apiVersion", "kind", "metadata"})


def copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def prune_node(node: SchemaNode, value: Any, *, resource: bool) -> Any:
    if isinstance(value, list):
        if node.items is None:
            return copy_json(value) if node.preserve else value
        return [prune_node(node.items, item, resource=node.items.embedded) for item in value]
    if not isinstance(value, dict):
        return value
    props, out = node.props or {}, {}
    for key, item in value.items():
        if resource and key in ROOT_META:
            out[key] = copy_json(item)
        elif key in props:
            out[key] = prune_node(props[key], item, resource=props[key].embedded)
        elif node.addl is not None:
            out[key] = prune_node(node.addl, item, resource=node.addl.embedded)
        elif node.preserve:
            out[key] = copy_json(item)
    return out


def default_node(node: SchemaNode, value: Any, *, root: bool = False) -> None:
    if isinstance(value, dict):
        props = node.props or {}
        for key, sub in props.items():
            if root and key == "metadata":
                continue
            if key not in value or (value[key] is None and not sub.nullable):
                if sub.has_default:
                    value[key] = copy_json(sub.default)
                elif key in value:
                    del value[key]
        if node.addl is not None:
            for key in [k for k, v in value.items() if v is None and k not in props]:
                if node.addl.has_default and not node.addl.nullable:
                    value[key] = copy_json(node.addl.default)
                elif not node.addl.nullable:
                    del value[key]
        for key, item in value.items():
            child = props.get(key) if key in props else node.addl
            if child is not None and child.deep_defaults and not (root and key == "metadata"):
                default_node(child, item)
    elif isinstance(value, list) and node.items is not None:
        items = node.items
        for i, item in enumerate(value):
            if item is None and items.has_default and not items.nullable:
                value[i] = copy_json(items.default)
            elif items.deep_defaults:
                default_node(items, item)
