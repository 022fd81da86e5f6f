"""Strategic merge patch: the merge-metadata tree and the merge algorithm.

A real kube-apiserver reads ``patchStrategy``/``patchMergeKey`` struct tags from the Go
types in k8s.io/api.  We keep the same information as data: each kind maps to a tuple of
:class:`FieldRule` rows (dotted path, strategy, merge key; the tables live in
:mod:`patch_rules`) that :func:`build_schema` folds into a tree of :class:`PatchSchema`
nodes.

Kinds without a table (custom resources) get ``None`` from :func:`patch_schema_for`; the
server answers those strategic merge patches with 415 Unsupported Media Type.
:func:`apply_strategic_merge_patch` is re-exported by :mod:`ensign.localcluster.patches`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Final, TypeAlias

from ensign.localcluster.patch_rules import KIND_RULES, MERGE, REPLACE, FieldRule, Strategy

__all__ = [
    "KIND_RULES",
    "LEAF",
    "MERGE",
    "REPLACE",
    "FieldRule",
    "PatchError",
    "PatchSchema",
    "Strategy",
    "apply_strategic_merge_patch",
    "build_schema",
    "patch_schema_for",
]


JSON: TypeAlias = Any


@dataclass(frozen=True, slots=True)
class PatchSchema:
    """Patch metadata of one field; ``fields`` describes its (element's) sub-fields.

    ``strategy`` is ``"merge"`` for merging lists (keyed by ``merge_key``, or a set-like
    union of primitives when there is no key), ``"replace"`` for a map replaced as a
    whole, and ``""`` for the defaults: maps merge recursively, lists are replaced.
    """

    strategy: Strategy = ""
    merge_key: str | None = None
    retain_keys: bool = False
    fields: Mapping[str, PatchSchema] = field(default_factory=dict, hash=False, repr=False)

    def child(self, name: str) -> PatchSchema:
        """Metadata for field ``name``; an unknown field gets the default behaviour."""
        return self.fields.get(name, LEAF)


LEAF: Final = PatchSchema()


class PatchError(Exception):
    """A patch that cannot be applied; ``http_status`` is what the apiserver answers."""

    http_status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def build_schema(rules: Iterable[FieldRule]) -> PatchSchema:
    """Fold table rows into a schema tree (intermediate path steps get defaults)."""
    tree: dict[str, _Draft] = {}
    for rule in rules:
        steps = rule.path.split(".")
        level = tree
        for step in steps[:-1]:
            level = level.setdefault(step, _Draft()).children
        draft = level.setdefault(steps[-1], _Draft())
        draft.rule = rule
    return PatchSchema(fields=_freeze(tree))


@dataclass(slots=True)
class _Draft:
    rule: FieldRule | None = None
    children: dict[str, _Draft] = field(default_factory=dict)


def _freeze(tree: Mapping[str, _Draft]) -> dict[str, PatchSchema]:
    frozen: dict[str, PatchSchema] = {}
    for name, draft in tree.items():
        rule = draft.rule or FieldRule(path=name)
        frozen[name] = PatchSchema(
            strategy=rule.strategy,
            merge_key=rule.merge_key,
            retain_keys=rule.retain_keys,
            fields=_freeze(draft.children),
        )
    return frozen


def patch_schema_for(group: str, version: str, kind: str) -> PatchSchema | None:
    """Schema for a built-in kind, or None when strategic merge patch is unsupported (415)."""
    return _schema_for(("" if group == "core" else group, version, kind))


@cache
def _schema_for(gvk: tuple[str, str, str]) -> PatchSchema | None:
    rules = KIND_RULES.get(gvk)
    return None if rules is None else build_schema(rules)


_DIRECTIVE: Final = "$patch"
_RETAIN_KEYS: Final = "$retainKeys"
_SET_ORDER: Final = "$setElementOrder/"
_DELETE_PRIMITIVES: Final = "$deleteFromPrimitiveList/"
_NO_KEY: Final = object()


def apply_strategic_merge_patch(target: JSON, patch: JSON, schema: PatchSchema) -> JSON:
    """Apply a Kubernetes strategic merge patch using the merge metadata in ``schema``.

    Follows apimachinery's ``StrategicMergeMapPatch``: maps merge, ``null`` deletes, lists
    with ``patchStrategy: merge`` merge by their key (or union for primitives), other lists
    are replaced.  Directives ``$patch`` (replace/delete), ``$retainKeys``,
    ``$setElementOrder/<f>`` and ``$deleteFromPrimitiveList/<f>`` are honoured.  As on the
    real server, merged list items present in the patch come in patch order and server-only
    items keep their relative position, so a brand-new item lands *before* the existing
    ones unless ``$setElementOrder`` says otherwise.
    """
    if not isinstance(target, dict) or not isinstance(patch, dict):
        raise PatchError("invalid JSON document")
    return _merge_map(target, patch, schema)


def _merge_map(
    original: Mapping[str, JSON] | None, patch: Mapping[str, JSON], node: PatchSchema
) -> JSON:
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "delete":
            return {}
        if directive != "replace":
            raise PatchError(f"unknown patch type: {directive} in map: {dict(patch)}")
        return _merge_map(None, {k: v for k, v in patch.items() if k != _DIRECTIVE}, node)
    result = dict(original) if original else {}
    plain: list[str] = []
    ordered: list[str] = []
    for key, value in patch.items():
        if not key.startswith("$"):
            plain.append(key)
        elif key.startswith(_DELETE_PRIMITIVES):
            _delete_primitives(result, key[len(_DELETE_PRIMITIVES) :], value)
        elif key.startswith(_SET_ORDER):
            ordered.append(key[len(_SET_ORDER) :])
        elif key != _RETAIN_KEYS:
            raise PatchError(f"unknown strategic merge patch directive: {key}")
    if _RETAIN_KEYS in patch:
        _retain_keys(result, patch)
    for name in ordered:
        _set_element_order(result, patch, name, node.child(name))
    for key in plain:
        value = patch[key]
        if value is None:
            result.pop(key, None)
        elif key not in ordered:
            result[key] = _merge_value(result.get(key), value, node.child(key))
    return result


def _merge_value(original: JSON, value: JSON, node: PatchSchema) -> JSON:
    if isinstance(value, dict):
        keep = isinstance(original, dict) and node.strategy != REPLACE
        return _merge_map(original if keep else None, value, node)
    if isinstance(value, list):
        if node.strategy == MERGE:
            return _merge_list(original if isinstance(original, list) else [], value, node)
        return [_merge_value(None, item, node) for item in value]
    return value


def _merge_list(original: list[JSON], patch: list[JSON], node: PatchSchema) -> list[JSON]:
    if not original and not patch:
        return []
    dicts = sum(isinstance(v, dict) for v in original) + sum(isinstance(v, dict) for v in patch)
    if any(isinstance(v, list) for v in (*original, *patch)):
        raise PatchError("lists of lists are not supported")
    if dicts == 0:
        return _merge_primitives(original, patch)
    if dicts != len(original) + len(patch):
        raise PatchError("list element types are not identical")
    if not node.merge_key:
        raise PatchError("cannot merge lists without merge key")
    return _merge_keyed(original, patch, node, node.merge_key)


def _merge_primitives(original: list[JSON], patch: list[JSON]) -> list[JSON]:
    merged: dict[Hashable, JSON] = {}
    for value in (*original, *patch):
        merged.setdefault(_hkey(value), value)
    in_patch = _positions(patch, _hkey)
    patch_items = sorted((v for k, v in merged.items() if k in in_patch), key=_by(in_patch, _hkey))
    server_only = [v for k, v in merged.items() if k not in in_patch]
    return _interleave(server_only, patch_items, _positions(original, _hkey), _hkey)


def _merge_keyed(
    original: list[JSON], patch: list[JSON], node: PatchSchema, key: str
) -> list[JSON]:
    key_of = _merge_key_fn(key)
    items = list(original)
    plain: list[JSON] = []
    replace = False
    for elem in patch:
        directive = elem.get(_DIRECTIVE)
        if _DIRECTIVE not in elem:
            plain.append(elem)
        elif directive == "delete":
            gone = key_of(_require_key(elem, key))
            items = [item for item in items if key_of(item) != gone]
        elif directive == "replace":
            replace = True
        else:
            raise PatchError(f"unknown patch type: {directive} in map: {elem}")
    if replace:
        return [_merge_map(None, elem, node) for elem in plain]
    server_pos = _positions(items, key_of)
    for elem in plain:
        pos = server_pos.get(key_of(_require_key(elem, key)))
        if pos is None:
            items.append(_merge_map(None, elem, node))
        else:
            items[pos] = _merge_map(items[pos], elem, node)
    in_patch = _positions(plain, key_of)
    patch_items = sorted((i for i in items if key_of(i) in in_patch), key=_by(in_patch, key_of))
    server_only = [i for i in items if key_of(i) not in in_patch]
    return _interleave(server_only, patch_items, server_pos, key_of)


def _set_element_order(
    result: dict[str, JSON], patch: Mapping[str, JSON], name: str, node: PatchSchema
) -> None:
    order, value = patch[_SET_ORDER + name], patch.get(name)
    original: JSON = result.get(name)
    if not isinstance(order, list) or not all(
        isinstance(v, list) for v in (original, value) if v is not None
    ):
        raise PatchError("invalid patch format of setElementOrder list")
    if original is None and value is None:
        return
    merged: list[JSON] = original if value is None else _merge_value(original, value, node)
    key_of = _merge_key_fn(node.merge_key) if node.merge_key else _hkey
    in_order = _positions(order, key_of)
    server_pos = _positions(original or [], key_of)
    patch_items = sorted((i for i in merged if key_of(i) in in_order), key=_by(in_order, key_of))
    rest = [i for i in merged if key_of(i) not in in_order]
    server_only = sorted(rest, key=_by(server_pos, key_of, missing=len(server_pos)))
    result[name] = _interleave(server_only, patch_items, server_pos, key_of)


def _retain_keys(result: dict[str, JSON], patch: Mapping[str, JSON]) -> None:
    keep = patch[_RETAIN_KEYS]
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
        raise PatchError("invalid patch format of retainKeys")
    allowed = set(keep)
    if any(v is not None and not k.startswith("$") and k not in allowed for k, v in patch.items()):
        raise PatchError("invalid patch format of retainKeys")
    for key in [k for k in result if k not in allowed]:
        del result[key]


def _delete_primitives(result: dict[str, JSON], name: str, values: JSON) -> None:
    if not isinstance(values, list):
        raise PatchError("invalid patch format of primitive list")
    current = result.get(name)
    if isinstance(current, list):
        drop = {_hkey(v) for v in values}
        result[name] = [v for v in current if _hkey(v) not in drop]


def _interleave(
    server_only: list[JSON],
    patch_items: list[JSON],
    server_pos: Mapping[Hashable, int],
    key_of: Callable[[JSON], Hashable],
) -> list[JSON]:
    """apimachinery's mergeSortedSlice: a server-only item goes first only when both items
    exist on the server and it came earlier there; otherwise the patch item goes first."""
    out: list[JSON] = []
    i = j = 0
    while i < len(server_only) and j < len(patch_items):
        left = server_pos.get(key_of(server_only[i]))
        right = server_pos.get(key_of(patch_items[j]))
        if left is not None and right is not None and left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(patch_items[j])
            j += 1
    return out + server_only[i:] + patch_items[j:]


def _require_key(elem: Mapping[str, JSON], key: str) -> Mapping[str, JSON]:
    if key not in elem:
        raise PatchError(f"map: {dict(elem)} does not contain declared merge key: {key}")
    return elem


def _merge_key_fn(key: str) -> Callable[[JSON], Hashable]:
    def key_of(item: JSON) -> Hashable:
        if isinstance(item, dict) and key in item:
            return _hkey(item[key])
        return _NO_KEY

    return key_of


def _positions(items: Sequence[JSON], key_of: Callable[[JSON], Hashable]) -> dict[Hashable, int]:
    positions: dict[Hashable, int] = {}
    for index, item in enumerate(items):
        positions.setdefault(key_of(item), index)
    positions.pop(_NO_KEY, None)
    return positions


def _by(
    positions: Mapping[Hashable, int], key_of: Callable[[JSON], Hashable], missing: int = 0
) -> Callable[[JSON], int]:
    return lambda item: positions.get(key_of(item), missing)


def _hkey(value: JSON) -> Hashable:
    """A hashable identity with JSON equality (1 == 1.0, but true != 1)."""
    if isinstance(value, bool):
        return (bool, value)
    if value is None or isinstance(value, str | int | float):
        return value
    return (dict, json.dumps(value, sort_keys=True))
