"""The three PATCH flavours a kube-apiserver accepts, applied to plain JSON values.

* :func:`apply_merge_patch` -- ``application/merge-patch+json`` (RFC 7386).
* :func:`apply_json_patch` -- ``application/json-patch+json`` (RFC 6902).
* :func:`apply_strategic_merge_patch` -- ``application/strategic-merge-patch+json``.

Inputs are never mutated.  Results share unchanged sub-trees with the inputs (structural
sharing instead of deep copies), so every JSON value must be treated as immutable.

Errors carry the HTTP status the real apiserver answers with (``exc.http_status``):

* A JSON-patch body that is not a list is rejected while decoding: 400 BadRequest.
* Every failure while *applying* a JSON patch -- a missing path, an index out of range, a
  failed ``test``, even an unknown ``op`` or a missing ``path`` member (the Go decoder does
  not validate operations) -- is 422 Invalid with the message "the server rejected our
  request due to an error in our request".  :class:`PatchConflict` (missing path / bad
  index), :class:`PatchTestFailed` and :class:`InvalidPatchOperation` all use 422.
* More than 10,000 JSON-patch operations: 413 (:class:`PatchTooLarge`).
* Malformed strategic merge patches: 400 (:class:`PatchError`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

from ensign.localcluster.patch_schema import (
    PatchError,
    PatchSchema,
    apply_strategic_merge_patch,
    patch_schema_for,
)

__all__ = [
    "InvalidPatchOperation",
    "PatchConflict",
    "PatchError",
    "PatchSchema",
    "PatchTestFailed",
    "PatchTooLarge",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "json_equal",
    "patch_schema_for",
]

JSON: TypeAlias = Any
MAX_JSON_PATCH_OPERATIONS: Final = 10_000


class InvalidPatchOperation(PatchError):
    """A malformed JSON-patch operation (unknown op, missing member, bad pointer)."""

    http_status = 422


class PatchConflict(PatchError):
    """A JSON-patch operation whose path does not exist in the target document."""

    http_status = 422


class PatchTestFailed(PatchConflict):
    """A JSON-patch ``test`` operation that did not match."""


class PatchTooLarge(PatchError):
    """More JSON-patch operations than the apiserver allows."""

    http_status = 413


# --------------------------------------------------------------------------- RFC 7386


def apply_merge_patch(target: JSON, patch: JSON) -> JSON:
    """Apply a JSON merge patch: objects merge recursively, null deletes, rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------- RFC 6902

_INDEX_RE: Final = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE_RE: Final = re.compile(r"~(?![01])")
_JSON_TYPE_NAMES: Final = {dict: "object", str: "string", bool: "bool", int: "number"}


def apply_json_patch(target: JSON, operations: JSON) -> JSON:
    """Apply an RFC 6902 JSON patch (a list of operation objects) to ``target``."""
    if operations is None:  # Go decodes `null` into an empty patch
        return target
    if not isinstance(operations, list):
        kind = _JSON_TYPE_NAMES.get(type(operations), "number")
        raise PatchError(f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchTooLarge(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}"
        )
    doc = target
    for operation in operations:
        doc = _apply_operation(doc, operation)
    return doc


def _apply_operation(doc: JSON, operation: JSON) -> JSON:
    if not isinstance(operation, dict):
        raise InvalidPatchOperation(f"invalid JSON patch operation: {operation!r}")
    kind = operation.get("op")
    if kind not in ("add", "remove", "replace", "move", "copy", "test"):
        raise InvalidPatchOperation(f"Unexpected kind: {kind}")
    path = _pointer(operation, "path", kind)
    if kind == "remove":
        return _remove(doc, path)
    if kind in ("move", "copy"):
        source = _pointer(operation, "from", kind)
        value = _get(doc, source)
        if kind == "move":
            if source == path:
                return doc
            if path[: len(source)] == source:
                raise InvalidPatchOperation("move operation: 'from' is a prefix of 'path'")
            doc = _remove(doc, source)
        return _add(doc, path, value)
    if "value" not in operation:
        raise InvalidPatchOperation(f"{kind} operation is missing 'value'")
    value = operation["value"]
    if kind == "add":
        return _add(doc, path, value)
    if kind == "replace":
        return _replace(doc, path, value)
    if not json_equal(_get(doc, path), value):
        raise PatchTestFailed(f"testing value {_render(path)} failed: test failed")
    return doc


def _pointer(operation: Mapping[str, JSON], member: str, kind: str) -> tuple[str, ...]:
    text = operation.get(member)
    if not isinstance(text, str):
        raise InvalidPatchOperation(f"{kind} operation is missing '{member}'")
    if text == "":
        return ()
    if not text.startswith("/") or _BAD_ESCAPE_RE.search(text):
        raise InvalidPatchOperation(f"invalid JSON pointer: {text!r}")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in text[1:].split("/"))


def _render(path: Sequence[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in path)


def _index(container: list[JSON], token: str, path: Sequence[str], *, append: bool) -> int:
    if append and token == "-":
        return len(container)
    if not _INDEX_RE.fullmatch(token):
        raise PatchConflict(f"invalid array index {token!r} in {_render(path)}")
    index = int(token)
    if index > len(container) or (index == len(container) and not append):
        raise PatchConflict(f"Unable to access invalid index: {index} in {_render(path)}")
    return index


def _child(node: JSON, token: str, path: Sequence[str]) -> JSON:
    if isinstance(node, dict):
        if token not in node:
            raise PatchConflict(f"doc is missing path: {_render(path)!r}")
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, path, append=False)]
    raise PatchConflict(f"doc is missing path: {_render(path)!r}")


def _get(doc: JSON, path: Sequence[str]) -> JSON:
    node = doc
    for token in path:
        node = _child(node, token, path)
    return node


def _set(doc: JSON, path: Sequence[str], edit: Callable[[JSON, str], JSON]) -> JSON:
    """Copy the containers along ``path`` and let ``edit`` rebuild the last parent."""
    if not path:
        raise PatchConflict("operation does not apply to the document root")
    trail = [doc]
    for depth, token in enumerate(path[:-1]):
        trail.append(_child(trail[-1], token, path[: depth + 1]))
    replacement = edit(trail[-1], path[-1])
    for parent, token in zip(reversed(trail[:-1]), reversed(path[:-1]), strict=True):
        replacement = _with_member(parent, token, replacement)
    return replacement


def _with_member(container: JSON, token: str, value: JSON) -> JSON:
    if isinstance(container, dict):
        return {**container, token: value}
    updated = list(container)
    updated[int(token)] = value
    return updated


def _add(doc: JSON, path: Sequence[str], value: JSON) -> JSON:
    if not path:
        return value

    def edit(parent: JSON, token: str) -> JSON:
        if isinstance(parent, dict):
            return {**parent, token: value}
        if isinstance(parent, list):
            index = _index(parent, token, path, append=True)
            return [*parent[:index], value, *parent[index:]]
        raise PatchConflict(f"add operation does not apply: doc is missing path: {_render(path)}")

    return _set(doc, path, edit)


def _remove(doc: JSON, path: Sequence[str]) -> JSON:
    def edit(parent: JSON, token: str) -> JSON:
        _child(parent, token, path)  # existence check
        if isinstance(parent, dict):
            return {k: v for k, v in parent.items() if k != token}
        index = int(token)
        return [*parent[:index], *parent[index + 1 :]]

    return _set(doc, path, edit)


def _replace(doc: JSON, path: Sequence[str], value: JSON) -> JSON:
    if not path:
        return value

    def edit(parent: JSON, token: str) -> JSON:
        _child(parent, token, path)  # existence check
        return _with_member(parent, token, value)

    return _set(doc, path, edit)


def json_equal(left: JSON, right: JSON) -> bool:
    """JSON value equality (unlike ``==``, ``true`` differs from ``1``)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(json_equal(v, right[k]) for k, v in left.items())
        )
    if isinstance(left, list):
        return (
            isinstance(right, list)
            and len(left) == len(right)
            and all(map(json_equal, left, right))
        )
    if isinstance(left, int | float):
        return isinstance(right, int | float) and left == right
    return type(left) is type(right) and bool(left == right)
