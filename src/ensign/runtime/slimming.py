"""What a watch cache keeps of an object: only what a reader uses, with shared strings. Pure.

The caches hold every watched object for as long as the controller runs, and Python spends
several times an object's JSON size on it (a dict per mapping, a string object per value),
so at thousands of canaries they are most of the controller's memory. Two things are done
to an object before a cache stores it:

- fields no reader uses are dropped (`UNREAD`): `metadata.managedFields` everywhere (a real
  API server sends it on every object; an update without it keeps the server's copy);
  Service `status` (Services are only rewritten from their metadata and spec, and a PUT
  ignores status); a Canary's kubectl `last-applied-configuration` annotation (a second
  copy of its spec that nothing reads; the annotations Ensign acts on are kept). Workloads
  keep everything else: promotion copies a target's annotations, labels and template, and
  readiness reads their status. A Service's own last-applied annotation stays too: it is
  how the apex Service is handed back on deletion;
- strings are interned (`sys.intern`): keys, and values up to `INTERNED_LENGTH`
  characters, so the label keys, namespace, image, enum values and timestamps repeated in
  every object exist once. The per-object `uid` and `resourceVersion` are left alone: they
  are never shared, and interning them would only grow the interpreter's table.

Dropping copies the affected mappings (the caller's object keeps its fields); interning
replaces values in place with equal strings, which no reader can tell apart.
"""

from __future__ import annotations

import sys
from typing import Any, Final

JSON = dict[str, Any]

LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
# kind → (top-level fields, annotation keys) that no reader of that kind's cache uses.
UNREAD: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "Service": (("status",), ()),
    "Canary": ((), (LAST_APPLIED,)),
}
INTERNED_LENGTH: Final = 128
UNIQUE_VALUES: Final = frozenset({"uid", "resourceVersion"})

_intern = sys.intern


def slim(kind: str, obj: JSON) -> JSON:
    """The form of `obj` a cache of `kind` stores (see the module docstring)."""
    fields, annotations = UNREAD.get(kind, ((), ()))
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        dropped_annotations = _without(meta.get("annotations"), annotations)
        if "managedFields" in meta or dropped_annotations is not None:
            meta = {k: v for k, v in meta.items() if k != "managedFields"}
            if dropped_annotations is not None:
                meta["annotations"] = dropped_annotations
            obj = {**obj, "metadata": meta}
    if any(f in obj for f in fields):
        obj = {k: v for k, v in obj.items() if k not in fields}
    return _interned(obj)


def _without(values: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """`values` without `keys`, or None when there is nothing to drop."""
    if not keys or not isinstance(values, dict) or not any(k in values for k in keys):
        return None
    return {k: v for k, v in values.items() if k not in keys}


def _interned(node: JSON) -> JSON:
    """`node` with every key and short value interned (in place; a mapping whose keys were
    not interned yet is rebuilt, since a dict's keys cannot be swapped)."""
    rebuild = False
    for key, value in node.items():
        kind = type(value)
        if kind is str:
            if len(value) <= INTERNED_LENGTH and key not in UNIQUE_VALUES:
                node[key] = _intern(value)
        elif kind is dict:
            fresh = _interned(value)
            if fresh is not value:
                node[key] = fresh
        elif kind is list:
            _interned_list(value)
        if type(key) is str and _intern(key) is not key:
            rebuild = True
    if rebuild:
        return {_intern(k) if type(k) is str else k: v for k, v in node.items()}
    return node


def _interned_list(items: list[Any]) -> None:
    for i, value in enumerate(items):
        kind = type(value)
        if kind is str:
            if len(value) <= INTERNED_LENGTH:
                items[i] = _intern(value)
        elif kind is dict:
            fresh = _interned(value)
            if fresh is not value:
                items[i] = fresh
        elif kind is list:
            _interned_list(value)
