"""Comparing and replacing the live objects a router owns. Pure.

Every router that writes a routing object makes the same decision each render: create the
object when it is missing, replace it when its spec, labels or annotations differ from what
is wanted, or write nothing when it already matches. The pieces of that decision live here:

- `new_object`: the body of a created object (owner reference, labels, annotations, spec);
- `replaced`: the live object with spec, labels and annotations replaced, the rest of its
  metadata (resourceVersion, owner references, ...) kept and its status dropped;
- `drop_empty` / `same_spec`: specs compared without empty values (None, [], {}), which an
  API server may store without;
- `merged_annotations`: wanted annotations merged over the live ones;
- `object_change`: the create-or-replace-or-nothing decision built from them, and
  `apex_object_change` for the common case of the object `<apex>` owned by the Canary with
  the apex metadata.

Where routers differ (which live annotations survive, how a spec is compared, whether labels
are managed at all), the difference is a parameter, so each router states its own rule.
A few type helpers for reading live objects (`dicts`, `is_int`, `annotations_of`) are here
as well.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeGuard

from ensign.kube.kinds import Kind
from ensign.model.canary import Canary
from ensign.routers.metadata import JSON, apex_metadata, owner_reference
from ensign.routers.protocol import CreateObject, ObjectChange, ObjectView, ReplaceObject

__all__ = [
    "SpecComparison",
    "annotations_of",
    "apex_object_change",
    "changes",
    "dicts",
    "drop_empty",
    "is_int",
    "keep_every_annotation",
    "keep_no_annotation",
    "merged_annotations",
    "new_object",
    "object_change",
    "replaced",
    "same_spec",
]

SpecComparison = Callable[[object, JSON], bool]
"""(live spec, rendered spec) -> True when the live spec needs no rewrite."""


def drop_empty(value: Any) -> Any:
    """`value` without empty values (None, [], {}), for comparing rendered and live specs."""
    if isinstance(value, Mapping):
        kept = {str(key): drop_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, [], {})}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [drop_empty(item) for item in value]
    return value


def same_spec(live: object, rendered: JSON) -> bool:
    """The live spec (absent: `{}`) equals the rendered one, empty values dropped."""
    return bool(drop_empty(live or {}) == drop_empty(rendered))


def keep_every_annotation(key: str) -> bool:
    """Merge over every live annotation (keys Ensign does not set are kept)."""
    return True


def keep_no_annotation(key: str) -> bool:
    """Keep no live annotation: the wanted annotations replace them wholesale."""
    return False


def merged_annotations(
    live: Mapping[str, Any] | None,
    annotations: Mapping[str, Any],
    *,
    keep_live: Callable[[str], bool] = keep_every_annotation,
) -> dict[str, Any]:
    """`annotations` over the live object's annotations that `keep_live` accepts."""
    kept = {key: value for key, value in live_annotations(live).items() if keep_live(key)}
    return {**kept, **annotations}


def live_annotations(live: Mapping[str, Any] | None) -> dict[str, Any]:
    """The live object's annotations (keys as strings); `{}` without an object."""
    return {str(key): value for key, value in annotations_of(live).items()}


def live_labels(live: Mapping[str, Any] | None) -> dict[str, Any]:
    """The live object's labels; `{}` without an object."""
    return dict(((live or {}).get("metadata") or {}).get("labels") or {})


def new_object(
    kind: Kind,
    *,
    name: str,
    namespace: str | None,
    spec: JSON,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, Any] | None = None,
    owner: JSON | None = None,
    fields: Mapping[str, Any] | None = None,
) -> JSON:
    """The body of a new object: `namespace` None for a cluster-scoped one, labels only when
    there are some, annotations when not None, the controller `owner` reference when given,
    and `fields` beside the spec (Kuma's top-level `mesh`)."""
    metadata: JSON = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    body: JSON = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": metadata}
    body.update(fields or {})
    body["spec"] = spec
    return body


def replaced(
    live: Mapping[str, Any],
    spec: JSON,
    *,
    kind: Kind | None,
    labels: Mapping[str, str] | None,
    annotations: Mapping[str, Any] | None,
) -> JSON:
    """The live object with `spec`, and `labels` and `annotations` unless None (labels: none
    when empty); the rest of its metadata (resourceVersion, owner references, ...) kept,
    status dropped. `kind` sets apiVersion and kind; None keeps the live ones."""
    body: JSON = {key: copy.deepcopy(value) for key, value in live.items() if key != "status"}
    if kind is not None:
        body["apiVersion"] = kind.api_version
        body["kind"] = kind.kind
    metadata: JSON = dict(body.get("metadata") or {})
    if labels is not None:
        if labels:
            metadata["labels"] = dict(labels)
        else:
            metadata.pop("labels", None)
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    body["metadata"] = metadata
    body["spec"] = spec
    return body


def object_change(
    kind: Kind,
    live: Mapping[str, Any] | None,
    *,
    name: str,
    namespace: str | None,
    spec: JSON,
    labels: Mapping[str, str] | None,
    annotations: Mapping[str, Any],
    owner: JSON | None,
    keep_live_annotation: Callable[[str], bool] = keep_every_annotation,
    spec_matches: SpecComparison = same_spec,
    fields: Mapping[str, Any] | None = None,
) -> ObjectChange | None:
    """Create the object when `live` is None; else replace it when its spec (compared by
    `spec_matches`), its labels (None: not managed, the live ones are kept), its annotations
    (`annotations` merged over the live ones `keep_live_annotation` accepts) or its top-level
    `fields` differ; None when it matches."""
    if live is None:
        body = new_object(
            kind,
            name=name,
            namespace=namespace,
            spec=spec,
            labels=labels,
            annotations=annotations,
            owner=owner,
            fields=fields,
        )
        return CreateObject(kind=kind, body=body)
    merged = merged_annotations(live, annotations, keep_live=keep_live_annotation)
    if (
        all(live.get(key) == value for key, value in (fields or {}).items())
        and spec_matches(live.get("spec"), spec)
        and (labels is None or live_labels(live) == labels)
        and merged == live_annotations(live)
    ):
        return None
    body = replaced(live, spec, kind=kind, labels=labels, annotations=merged)
    body.update(copy.deepcopy(dict(fields or {})))
    return ReplaceObject(kind=kind, body=body)


def changes(*maybe: ObjectChange | None) -> tuple[ObjectChange, ...]:
    """The changes that write something, in order (the Nones of "nothing to do" dropped)."""
    return tuple(change for change in maybe if change is not None)


def annotations_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """`metadata.annotations` when it is a mapping, else `{}`."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def dicts(value: object) -> list[Mapping[str, Any]]:
    """The mappings in a list (nothing when `value` is not a list)."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def is_int(value: object) -> TypeGuard[int]:
    """An integer that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def apex_object_change(
    kind: Kind,
    canary: Canary,
    objects: ObjectView,
    *,
    canary_uid: str,
    spec: JSON,
    annotations: Mapping[str, str] | None = None,
    keep_live_annotation: Callable[[str], bool] = keep_every_annotation,
    spec_matches: SpecComparison = same_spec,
) -> ObjectChange | None:
    """`object_change` for the object `<apex>` in the canary's namespace, owned by the Canary:
    labels `service.apex.labels`, annotations `service.apex.annotations`, the Flux opt-out
    keys and then `annotations`, merged over the live ones."""
    namespace = canary.namespace or ""
    name = canary.spec.apex_service_name
    meta = apex_metadata(canary.spec.service)
    return object_change(
        kind,
        objects.get(kind, namespace, name),
        name=name,
        namespace=namespace,
        spec=spec,
        labels=meta.labels,
        annotations={**meta.annotations, **(annotations or {})},
        owner=owner_reference(canary, canary_uid=canary_uid),
        keep_live_annotation=keep_live_annotation,
        spec_matches=spec_matches,
    )
