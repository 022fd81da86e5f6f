"""What a watch cache keeps of an object: only what a reader uses, packed as bytes. Pure.

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
- the rest is packed (`pack`): encoded as MessagePack bytes, which take a fifth to a tenth
  of the memory of the decoded dicts (a dict per mapping and an object per string, key and
  number). A read decodes a fresh copy (`unpack`, a few microseconds for a Deployment), so
  no reader can change what the cache holds, and nothing from the bring-up's peak of
  decoded objects stays behind in the interpreter's arenas.

Dropping copies the affected mappings: the caller's object keeps its fields.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

JSON = dict[str, Any]

LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
# kind → (top-level fields, annotation keys) that no reader of that kind's cache uses.
UNREAD: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "Service": (("status",), ()),
    "Canary": ((), (LAST_APPLIED,)),
}
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


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
    return obj


def pack(kind: str, obj: JSON) -> tuple[JSON, bytes]:
    """The slim form of `obj` (see `slim`), and its packed bytes, which a cache keeps."""
    thin = slim(kind, obj)
    return thin, _encode(thin)


def unpack(blob: bytes) -> JSON:
    """A fresh decoded copy of a packed object."""
    out: JSON = _decode(blob)
    return out


def _without(values: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """`values` without `keys`, or None when there is nothing to drop."""
    if not keys or not isinstance(values, dict) or not any(k in values for k in keys):
        return None
    return {k: v for k, v in values.items() if k not in keys}
