"""Server-side apply bookkeeping: `metadata.managedFields`, ownership and conflicts. Pure.

Every write names a field manager (`?fieldManager=`, else the User-Agent's product name, as
kube-apiserver does). The server records, per manager and operation (`Apply` or `Update`),
the set of fields that manager owns, serialised as FieldsV1 (`{"f:spec": {"f:replicas":
{}}}`; items of keyed lists as `k:{"name":"app"}` with a `.` for the item itself; items of
set-like lists as `v:"value"`).

* An Update (create, PUT, non-apply PATCH) gives its manager the fields it changed and takes
  them (and the fields it removed) away from every other manager.
* An Apply owns exactly the fields of the applied configuration. A field another manager
  owns with a different value is a conflict: 409 with one `FieldManagerConflict` cause per
  field, unless `force=true`, which takes the field over. A field the manager applied before,
  left out now and owned by nobody else, is removed from the object.

Lists are keyed, set-like or atomic as the strategic-merge metadata of built-in kinds says
(`patch_schema`); custom-resource lists are atomic. Metadata the server owns (name, uid,
resourceVersion...) is never part of a field set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ensign.localcluster.errors import ApiError, StatusCause
from ensign.localcluster.patch_schema import LEAF, MERGE, PatchSchema

JSON = dict[str, Any]
Path = tuple[str, ...]
_SERVER_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
_ITEM = object()  # the value recorded for a keyed-list item itself


@dataclass(frozen=True, slots=True)
class Scope:
    """What part of an object a write manages: the main resource skips `.status` when status
    is a subresource; a `/status` write manages only `.status`."""

    schema: PatchSchema | None
    status_subresource: bool
    subresource: str = ""

    def keys(self, obj: JSON) -> Iterable[str]:
        for key in obj:
            if key in ("apiVersion", "kind"):
                continue
            if self.subresource == "status":
                if key == "status":
                    yield key
            elif key != "status" or not self.status_subresource:
                yield key


def leaves(obj: JSON, scope: Scope) -> dict[Path, Any]:
    """Every owned path of `obj` with its value (keyed-list items map to a marker)."""
    out: dict[Path, Any] = {}
    root = scope.schema or LEAF
    for key in scope.keys(obj):
        value = obj[key]
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _SERVER_META}
            _walk(meta, ("f:metadata",), root.child("metadata"), out, top=True)
        else:
            _walk(value, (f"f:{key}",), root.child(key), out)
    return out


def _walk(
    value: Any, path: Path, node: PatchSchema, out: dict[Path, Any], top: bool = False
) -> None:
    if isinstance(value, dict):
        if not value and not top:
            out[path] = value
        for key, child in value.items():
            _walk(child, (*path, f"f:{key}"), node.child(key), out)
        return
    if isinstance(value, list) and value and node.strategy == MERGE:
        key = node.merge_key
        if key and all(isinstance(i, dict) and key in i for i in value):
            for item in value:
                item_path = (*path, "k:" + _compact({key: item[key]}))
                out[item_path] = _ITEM
                for name, child in item.items():
                    _walk(child, (*item_path, f"f:{name}"), node.child(name), out)
            return
        if not key and all(not isinstance(i, (dict, list)) for i in value):
            for item in value:
                out[(*path, "v:" + _compact(item))] = _ITEM
            return
    out[path] = value


def fields_tree(obj: JSON, scope: Scope) -> JSON:
    """The FieldsV1 of every owned field of `obj`, built in one walk (what a create owns)."""
    root = scope.schema or LEAF
    out: JSON = {}
    for key in scope.keys(obj):
        value = obj[key]
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _SERVER_META}
            sub = {f"f:{k}": _tree(v, root.child("metadata").child(k)) for k, v in meta.items()}
            if sub:
                out["f:metadata"] = sub
        else:
            out[f"f:{key}"] = _tree(value, root.child(key))
    return out


def _tree(value: Any, node: PatchSchema) -> JSON:
    if isinstance(value, dict):
        return {f"f:{k}": _tree(v, node.child(k)) for k, v in value.items()}
    if isinstance(value, list) and value and node.strategy == MERGE:
        key = node.merge_key
        if key and all(isinstance(i, dict) and key in i for i in value):
            return {
                "k:" + _compact({key: i[key]}): {
                    ".": {},
                    **{f"f:{k}": _tree(v, node.child(k)) for k, v in i.items()},
                }
                for i in value
            }
        if not key and all(not isinstance(i, (dict, list)) for i in value):
            return {"v:" + _compact(i): {} for i in value}
    return {}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# ------------------------------------------------------------------ FieldsV1


def to_fields_v1(paths: Iterable[Path]) -> JSON:
    tree: JSON = {}
    members: list[Path] = []
    for path in paths:
        node = tree
        for elem in path:
            node = node.setdefault(elem, {})
        members.append(path)
    for path in members:  # a member that also has members below it is marked with "."
        node = tree
        for elem in path:
            node = node[elem]
        if node and "." not in node:
            node["."] = {}
    return tree


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return out
    for elem, child in tree.items():
        if elem == ".":
            out.add(prefix)
            continue
        path = (*prefix, elem)
        if not child:
            out.add(path)
        else:
            out |= from_fields_v1(child, path)
    return out


def render(path: Path) -> str:
    """`.spec.template.spec.containers[name="app"].image`, as conflict messages print it."""
    parts = []
    for elem in path:
        kind, text = elem[:1], elem[2:]
        if kind == "f":
            parts.append(f".{text}")
        elif kind == "k":
            keys = json.loads(text)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        else:
            parts.append(f"[={text}]")
    return "".join(parts)


# ------------------------------------------------------------------ entries


@dataclass(slots=True)
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    paths: set[Path]
    subresource: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def to_json(self) -> JSON:
        out: JSON = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(sorted(self.paths)),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def entries_of(obj: JSON) -> list[Entry]:
    raw = (obj.get("metadata") or {}).get("managedFields") or []
    return [
        Entry(
            manager=str(e.get("manager", "")),
            operation=str(e.get("operation", "")),
            api_version=str(e.get("apiVersion", "")),
            time=str(e.get("time", "")),
            paths=from_fields_v1(e.get("fieldsV1")),
            subresource=str(e.get("subresource", "")),
        )
        for e in raw
        if isinstance(e, dict)
    ]


def serialise(entries: list[Entry]) -> list[JSON]:
    return [e.to_json() for e in entries if e.paths]


def after_update(
    old: JSON | None,
    new: JSON,
    *,
    manager: str,
    api_version: str,
    now: str,
    scope: Scope,
) -> list[JSON]:
    """The managedFields of `new` after an Update by `manager` (create when `old` is None).

    Works on the FieldsV1 trees directly and only along the paths that changed, so an
    update costs what it changed, not the size of the object."""
    if old is None:
        tree = fields_tree(new, scope)
        if not tree:
            return []
        entry = Entry(manager, "Update", api_version, now, set(), scope.subresource).to_json()
        return [dict(entry, fieldsV1=tree)]
    changed: set[Path] = set()
    removed: set[Path] = set()
    _diff_object(old, new, scope, changed, removed)
    raw = list((old.get("metadata") or {}).get("managedFields") or [])
    if not changed and not removed:
        return raw
    touched = changed | removed
    out: list[JSON] = []
    mine_seen = False
    for entry in raw:
        mine = (
            entry.get("manager") == manager
            and entry.get("operation") == "Update"
            and entry.get("subresource", "") == scope.subresource
        )
        tree = entry.get("fieldsV1") or {}
        if mine:
            mine_seen = True
            tree = _copy_tree(tree)
            for path in removed:
                _tree_remove(tree, path)
            for path in changed:
                _tree_add(tree, path)
            entry = dict(entry, fieldsV1=tree, time=now, apiVersion=api_version)
        else:
            hits = [p for p in touched if _tree_has(tree, p)]
            if hits:
                tree = _copy_tree(tree)
                for path in hits:
                    _tree_remove(tree, path)
                entry = dict(entry, fieldsV1=tree)
        if tree:
            out.append(entry)
    if not mine_seen and changed:
        out.append(Entry(manager, "Update", api_version, now, changed, scope.subresource).to_json())
    return out


def _diff_object(
    old: JSON, new: JSON, scope: Scope, changed: set[Path], removed: set[Path]
) -> None:
    root = scope.schema or LEAF
    old_keys = set(scope.keys(old))
    new_keys = set(scope.keys(new))
    for key in old_keys | new_keys:
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        if key == "metadata":
            before = _owned_meta(before)
            after = _owned_meta(after)
            if before != after:
                _diff(before, after, ("f:metadata",), root.child(key), changed, removed, top=True)
            continue
        _diff(before, after, (f"f:{key}",), root.child(key), changed, removed)


def _owned_meta(meta: Any) -> JSON:
    if not isinstance(meta, dict):
        return {}
    return {k: v for k, v in meta.items() if k not in _SERVER_META}


_MISSING: Any = object()


def _collect(value: Any, path: Path, node: PatchSchema, top: bool = False) -> set[Path]:
    out: dict[Path, Any] = {}
    _walk(value, path, node, out, top=top)
    return set(out)


def _diff(
    before: Any,
    after: Any,
    path: Path,
    node: PatchSchema,
    changed: set[Path],
    removed: set[Path],
    top: bool = False,
) -> None:
    if before is _MISSING and after is _MISSING:
        return
    if before is _MISSING:
        changed |= _collect(after, path, node, top)
        return
    if after is _MISSING:
        removed |= _collect(before, path, node, top)
        return
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict) and (before or top) and (after or top):
        for key in before.keys() | after.keys():
            _diff(
                before.get(key, _MISSING),
                after.get(key, _MISSING),
                (*path, f"f:{key}"),
                node.child(key),
                changed,
                removed,
            )
        return
    if isinstance(before, list) and isinstance(after, list) and node.strategy == MERGE:
        old_items = _keyed(before, path, node)
        new_items = _keyed(after, path, node)
        if old_items is not None and new_items is not None:
            for item_path in old_items.keys() | new_items.keys():
                b = old_items.get(item_path, _MISSING)
                a = new_items.get(item_path, _MISSING)
                if b is _MISSING:
                    changed.add(item_path)
                elif a is _MISSING:
                    removed.add(item_path)
                if isinstance(b, dict) or isinstance(a, dict):  # a keyed item: its fields
                    b_fields = b if isinstance(b, dict) else {}
                    a_fields = a if isinstance(a, dict) else {}
                    for name in b_fields.keys() | a_fields.keys():
                        _diff(
                            b_fields.get(name, _MISSING),
                            a_fields.get(name, _MISSING),
                            (*item_path, f"f:{name}"),
                            node.child(name),
                            changed,
                            removed,
                        )
            return
    removed |= _collect(before, path, node) - _collect(after, path, node)
    changed |= _collect(after, path, node)


def _keyed(items: list[Any], path: Path, node: PatchSchema) -> dict[Path, Any] | None:
    """Keyed-list items (or set-like values) by their FieldsV1 path; None when atomic."""
    key = node.merge_key
    if key and all(isinstance(i, dict) and key in i for i in items):
        return {(*path, "k:" + _compact({key: i[key]})): i for i in items}
    if not key and all(not isinstance(i, (dict, list)) for i in items):
        return {(*path, "v:" + _compact(i)): True for i in items}
    return None


def _copy_tree(tree: JSON) -> JSON:
    return {k: _copy_tree(v) if v else {} for k, v in tree.items()}


def _tree_has(tree: JSON, path: Path) -> bool:
    node: Any = tree
    for elem in path:
        node = node.get(elem)
        if node is None:
            return False
    return not node or "." in node


def _tree_add(tree: JSON, path: Path) -> None:
    node = tree
    for elem in path:
        if elem not in node:
            node[elem] = {}
        elif not node[elem] and elem is not path[-1]:
            node[elem] = {".": {}}  # a member leaf that now has members below it
        node = node[elem]
    if node and "." not in node:
        node["."] = {}


def _tree_remove(tree: JSON, path: Path) -> None:
    trail: list[tuple[JSON, str]] = []
    node: Any = tree
    for elem in path:
        if not isinstance(node, dict) or elem not in node:
            return
        trail.append((node, elem))
        node = node[elem]
    parent, elem = trail[-1]
    if node and set(node) != {"."}:
        node.pop(".", None)  # still a container of other members
        return
    del parent[elem]
    for parent, elem in reversed(trail[:-1]):
        if parent[elem]:
            break
        del parent[elem]


@dataclass(frozen=True, slots=True)
class ApplyPlan:
    """What an Apply does beyond merging: the paths to remove and the new managedFields."""

    remove: list[Path]
    managed: list[JSON]


def plan_apply(
    live: JSON | None,
    applied: JSON,
    *,
    manager: str,
    force: bool,
    api_version: str,
    now: str,
    scope: Scope,
) -> ApplyPlan:
    """Check ownership (409 on conflicts unless `force`) and plan the Apply of `applied`."""
    entries = entries_of(live) if live is not None else []
    applied_leaves = leaves(applied, scope)
    live_leaves = leaves(live, scope) if live is not None else {}
    conflicts: list[tuple[Entry, Path]] = []
    for entry in entries:
        if entry.manager == manager:
            continue
        for path in entry.paths & applied_leaves.keys():
            if path in live_leaves and live_leaves[path] != applied_leaves[path]:
                conflicts.append((entry, path))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for entry, path in conflicts:
        entry.paths.discard(path)
    key = (manager, "Apply", scope.subresource)
    mine = next((e for e in entries if e.key == key), None)
    before = mine.paths if mine is not None else set()
    others: set[Path] = set()
    for entry in entries:
        if entry is not mine:
            others |= entry.paths
    remove = sorted(p for p in before - applied_leaves.keys() - others if p in live_leaves)
    applied_paths = set(applied_leaves)
    if mine is None:
        entries.append(Entry(manager, "Apply", api_version, now, applied_paths, scope.subresource))
    else:
        mine.paths, mine.time, mine.api_version = applied_paths, now, api_version
    return ApplyPlan(remove=remove, managed=serialise(entries))


def same_owners(left: Any, right: Any) -> bool:
    """Whether two managedFields lists record the same ownership (times aside)."""

    def strip(entries: Any) -> list[JSON]:
        return [{k: v for k, v in e.items() if k != "time"} for e in entries or []]

    return strip(left) == strip(right)


def remove_paths(obj: JSON, paths: Iterable[Path]) -> None:
    """Delete these fields (or list items) from `obj` in place; missing ones are ignored."""
    for path in sorted(paths, key=len, reverse=True):
        parent: Any = obj
        for elem in path[:-1]:
            parent = _step(parent, elem)
            if parent is None:
                break
        else:
            _delete(parent, path[-1])


def _step(node: Any, elem: str) -> Any:
    kind, text = elem[:1], elem[2:]
    if kind == "f":
        return node.get(text) if isinstance(node, dict) else None
    if kind == "k" and isinstance(node, list):
        keys = json.loads(text)
        return next(
            (
                i
                for i in node
                if isinstance(i, dict) and all(i.get(k) == v for k, v in keys.items())
            ),
            None,
        )
    return None


def _delete(parent: Any, elem: str) -> None:
    kind, text = elem[:1], elem[2:]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(text, None)
    elif kind == "k" and isinstance(parent, list):
        item = _step(parent, elem)
        if item is not None:
            parent.remove(item)
    elif kind == "v" and isinstance(parent, list):
        value = json.loads(text)
        if value in parent:
            parent.remove(value)


def _conflict_error(conflicts: list[tuple[Entry, Path]]) -> ApiError:
    n = len(conflicts)
    causes = [
        StatusCause(
            "FieldManagerConflict",
            f'conflict with "{e.manager}"'
            + (f' with subresource "{e.subresource}"' if e.subresource else "")
            + f" using {e.api_version}",
            render(p),
        )
        for e, p in conflicts
    ]
    if n == 1:
        detail = f"{causes[0].message}: {causes[0].field}"
    else:
        by_manager: dict[str, list[str]] = {}
        for cause in causes:
            by_manager.setdefault(
                cause.message.replace("conflict with", "conflicts with"), []
            ).append(cause.field)
        detail = "\n".join(
            f"{head}:\n" + "\n".join(f"- {f}" for f in fields)
            for head, fields in by_manager.items()
        )
    return ApiError(
        409,
        "Conflict",
        f"Apply failed with {n} conflict{'s' if n > 1 else ''}: {detail}",
        causes=tuple(causes),
    )
