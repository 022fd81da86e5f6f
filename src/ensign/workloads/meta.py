"""Object-metadata helpers shared by the workload renderers. Pure.

Label/annotation filtering (`includeLabelsByPrefix`, the Flux `toolkit.fluxcd.io` marker),
the primary label map, the controller owner reference to a Canary and a JSON deep copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

TOOLKIT_MARKER = "toolkit.fluxcd.io"
CANARY_API_VERSION = "flagger.app/v1beta1"
CANARY_KIND = "Canary"
PRIMARY_SUFFIX = "-primary"

JSON = dict[str, Any]


def thaw(value: Any) -> Any:
    """Deep copy of a JSON-like value as plain dicts and lists (tuples become lists)."""
    if isinstance(value, Mapping):
        return {str(key): thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value


def child(obj: Mapping[str, Any] | None, *path: str) -> Mapping[str, Any]:
    """The mapping at `path` under `obj`, or an empty mapping when any step is missing."""
    current: Any = obj if obj is not None else {}
    for key in path:
        current = current.get(key) if isinstance(current, Mapping) else None
        if current is None:
            return {}
    return current if isinstance(current, Mapping) else {}


def items(value: Any) -> list[Mapping[str, Any]]:
    """The mapping entries of a JSON list (anything else yields nothing)."""
    if not isinstance(value, list | tuple):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def string_map(value: Any) -> dict[str, str]:
    """A label/annotation map as `dict[str, str]`; `None` or a non-mapping gives `{}`."""
    if not isinstance(value, Mapping):
        return {}
    return {str(key): str(item) for key, item in value.items()}


def without_toolkit(values: Any) -> dict[str, str]:
    """Drop every key containing `toolkit.fluxcd.io` (Flux ownership markers)."""
    return {key: item for key, item in string_map(values).items() if TOOLKIT_MARKER not in key}


def include_by_prefix(values: Any, prefixes: Iterable[str]) -> dict[str, str]:
    """Flagger's `includeLabelsByPrefix`: keep keys matching `*` or a non-empty prefix.

    Keys containing `toolkit.fluxcd.io` are always dropped; the default prefix list `[""]`
    keeps nothing.
    """
    wanted = tuple(prefixes)
    return {
        key: item
        for key, item in without_toolkit(values).items()
        if any(prefix == "*" or (prefix and key.startswith(prefix)) for prefix in wanted)
    }


def primary_labels(labels: Any, *, label: str, value: str) -> dict[str, str]:
    """`labels` minus toolkit keys, with the selector label forced to `value`."""
    result = without_toolkit(labels)
    result[label] = value
    return result


def canary_owner_reference(canary: Mapping[str, Any]) -> JSON:
    """The controller owner reference pointing at `canary` (GC deletes the child with it)."""
    meta = child(canary, "metadata")
    return {
        "apiVersion": CANARY_API_VERSION,
        "kind": CANARY_KIND,
        "name": str(meta.get("name", "")),
        "uid": str(meta.get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def namespace_of(canary: Mapping[str, Any], fallback: Mapping[str, Any]) -> str:
    """The Canary's namespace, else the namespace of `fallback` (an object), else `""`."""
    namespace = child(canary, "metadata").get("namespace") or child(fallback, "metadata").get(
        "namespace"
    )
    return str(namespace or "")


def name_of(obj: Mapping[str, Any]) -> str:
    return str(child(obj, "metadata").get("name", ""))


def copy_keys(source: Mapping[str, Any], target: JSON, *, keys: Sequence[str]) -> None:
    """Set `target[k] = copy(source[k])` for present keys; delete `target[k]` otherwise.

    This is Go's field assignment on a fresh/owned dict: an unset source field clears it.
    """
    for key in keys:
        if source.get(key) is not None:
            target[key] = thaw(source[key])
        else:
            target.pop(key, None)
