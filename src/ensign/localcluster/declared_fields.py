"""Unknown fields: what `fieldValidation` reports and what decoding drops. Pure.

A real apiserver decodes a built-in kind into its Go struct, so a field the struct does not
declare is dropped (`Ignore`), reported in a `Warning: 299` header (`Warn`, the default) or
refused with 400 (`Strict`: `strict decoding error: unknown field "spec.foo"`). The
declared fields of the built-in kinds come from lightkube's models (generated from the
Kubernetes OpenAPI). Custom resources get the same three policies from their structural
schema: the fields pruning removes are the unknown ones.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import types
from typing import Any, Union, get_args, get_origin

import msgspec

POLICIES = ("Ignore", "Warn", "Strict")


def drop_unknown(api_version: str, kind: str, obj: dict[str, Any]) -> list[str]:
    """Remove the fields the built-in kind does not declare from `obj` (in place); their
    paths, as Go's strict decoder spells them (`spec.containers[0].foo`)."""
    model = _model(api_version, kind)
    if model is None:
        return []
    found: list[str] = []
    _walk(_shape(model), obj, "", found)
    return found


def pruned_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """Paths present in `before` and gone from `after` (what structural pruning removed)."""
    found: list[str] = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key, value in before.items():
            child = f"{path}.{key}" if path else key
            if key not in after:
                found.append(child)
            else:
                found += pruned_paths(value, after[key], child)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            found += pruned_paths(b, a, f"{path}[{i}]")
    return found


def warning_header(path: str) -> str:
    """The value of one `Warning` response header."""
    text = f'unknown field "{path}"'.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{text}"'


def strict_message(paths: list[str], *, builtin: bool) -> str:
    if builtin:
        return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)
    parts = [f".{p}: field not declared in schema" for p in paths]
    return parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"


@functools.cache
def _model(api_version: str, kind: str) -> Any:
    """lightkube's model of a built-in kind (`lightkube.resources.apps_v1.Deployment`)."""
    group, _, version = api_version.rpartition("/")
    prefix = group.removesuffix(".k8s.io").replace(".", "_") if group else "core"
    try:
        module = importlib.import_module(f"lightkube.resources.{prefix}_{version}".lower())
    except ImportError:
        return None
    return getattr(module, kind, None)


# A compiled shape: None (anything: scalars, quantities, free-form JSON), a dict of field
# name -> shape (a struct), or a ("list" | "map", shape) pair.
Shape = Any


_SHAPES: dict[Any, Shape] = {}


def _shape(tp: Any) -> Shape:
    tp = _unwrap(tp)
    try:
        return _SHAPES[tp]  # a struct being compiled is already here (recursive types)
    except (KeyError, TypeError):
        pass
    origin = get_origin(tp)
    shape: Shape = None
    if origin is list:
        (item,) = get_args(tp) or (Any,)
        inner = _shape(item)
        shape = None if inner is None else ("list", inner)
    elif origin is dict:
        args = get_args(tp)
        inner = _shape(args[1]) if len(args) == 2 else None
        shape = None if inner is None else ("map", inner)
    elif isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        fields: dict[str, Shape] = {}
        _SHAPES[tp] = fields
        for f in msgspec.structs.fields(tp):
            fields[f.encode_name] = _shape(f.type)
        return fields
    with contextlib.suppress(TypeError):
        _SHAPES[tp] = shape
    return shape


def _unwrap(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else Any
    return tp


def _walk(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if shape is None:
        return
    if isinstance(shape, tuple):
        kind, inner = shape
        if kind == "list" and isinstance(value, list):
            for i, element in enumerate(value):
                _walk(inner, element, f"{path}[{i}]", found)
        elif kind == "map" and isinstance(value, dict):
            for key, element in value.items():
                _walk(inner, element, f"{path}.{key}", found)
        return
    if not isinstance(value, dict):
        return
    for key in [k for k in value if k not in shape]:
        found.append(f"{path}.{key}" if path else key)
        del value[key]
    for key, element in value.items():
        inner = shape[key]
        if inner is not None:
            _walk(inner, element, f"{path}.{key}" if path else key, found)
