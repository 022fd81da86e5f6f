"""The primary KEDA ScaledObject (`keda.sh/v1alpha1`, §2.10) and the target's pause. Pure.

`render_primary_scaled_object` builds `<so>-primary` scaling the primary workload: the
source's pollingInterval, cooldownPeriod, idleReplicaCount, min/max replica counts
(overridden by `primaryScalerReplicas`), advanced (its HPA name gets `-primary`), fallback and
triggers, whose `metadata.query` is rewritten for the primary (`primary_queries`).
`scaled_object_update` is Flagger's promotion-time sync; `pause_patch` pauses or resumes the
target's ScaledObject with KEDA's `autoscaling.keda.sh/paused-replicas` annotation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ensign.model.canary import AutoscalerRef
from ensign.workloads.meta import (
    JSON,
    PRIMARY_SUFFIX,
    canary_owner_reference,
    child,
    include_by_prefix,
    name_of,
    namespace_of,
    thaw,
    without_toolkit,
)

SCALED_OBJECT_API_VERSION = "keda.sh/v1alpha1"
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
PAUSED = "autoscaling.keda.sh/paused"
# The spec fields copied from the target's ScaledObject (scaleTargetRef is rewritten).
COPIED = (
    "pollingInterval",
    "cooldownPeriod",
    "idleReplicaCount",
    "minReplicaCount",
    "maxReplicaCount",
    "advanced",
    "fallback",
    "triggers",
)
# KEDA's pause annotations are the target's own state (Flagger's pause of the target), never
# copied to the primary: a primary created while its target is paused would stop scaling.
_NOT_COPIED = (PAUSED_REPLICAS, PAUSED)


def primary_queries(
    triggers: Sequence[Mapping[str, Any]], *, target: str, queries: Mapping[str, str]
) -> list[JSON]:
    """The triggers with their `metadata.query` for the primary.

    With `queries` (`primaryScalerQueries`), a trigger whose `name` is a key gets that query
    and the others are kept as they are; without, every query has `<target>-canary` and
    `<target>` replaced by `<target>-primary` (`<target>-primary` itself is left alone, so
    the rewrite is idempotent).
    """
    pattern = re.compile(
        "|".join(re.escape(f"{target}{suffix}") for suffix in (PRIMARY_SUFFIX, "-canary", ""))
    )
    out: list[JSON] = []
    for trigger in triggers:
        copy: JSON = thaw(trigger)
        metadata = copy.get("metadata")
        if isinstance(metadata, dict):
            if queries:
                name = copy.get("name")
                if isinstance(name, str) and name in queries:
                    metadata["query"] = queries[name]
            elif isinstance(metadata.get("query"), str):
                metadata["query"] = pattern.sub(target + PRIMARY_SUFFIX, metadata["query"])
        out.append(copy)
    return out


def _primary_spec(
    source: Mapping[str, Any], *, target_name: str, primary_name: str, ref: AutoscalerRef
) -> JSON:
    spec = child(source, "spec")
    target_ref = child(spec, "scaleTargetRef")
    scale_target: JSON = {"name": primary_name}
    for key in ("apiVersion", "kind", "envSourceContainerName"):
        if target_ref.get(key) is not None:
            scale_target[key] = target_ref[key]
    out: JSON = {"scaleTargetRef": scale_target}
    for key in COPIED:
        if spec.get(key) is not None:
            out[key] = thaw(spec[key])
    hpa = child(out.get("advanced"), "horizontalPodAutoscalerConfig")
    if hpa.get("name"):
        out["advanced"]["horizontalPodAutoscalerConfig"]["name"] = f"{hpa['name']}{PRIMARY_SUFFIX}"
    if isinstance(out.get("triggers"), list):
        out["triggers"] = primary_queries(
            out["triggers"], target=target_name, queries=ref.primary_scaler_queries
        )
    replicas = ref.primary_scaler_replicas
    if replicas is not None and replicas.min_replicas is not None:
        out["minReplicaCount"] = replicas.min_replicas
    if replicas is not None and replicas.max_replicas is not None:
        out["maxReplicaCount"] = replicas.max_replicas
    return out


def render_primary_scaled_object(
    source: Mapping[str, Any],
    *,
    canary: Mapping[str, Any],
    target_name: str,
    primary_name: str,
    ref: AutoscalerRef,
) -> JSON:
    """`<so>-primary` scaling `primary_name` (the primary of target `target_name`).

    Labels and annotations are the source's minus Flux toolkit keys (and KEDA's pause
    annotations); controller owner reference to the Canary.
    """
    source_meta = child(source, "metadata")
    annotations = without_toolkit(source_meta.get("annotations"))
    for key in _NOT_COPIED:
        annotations.pop(key, None)
    metadata: JSON = {
        "name": name_of(source) + PRIMARY_SUFFIX,
        "namespace": namespace_of(canary, source),
        "labels": without_toolkit(source_meta.get("labels")),
        "ownerReferences": [canary_owner_reference(canary)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": SCALED_OBJECT_API_VERSION,
        "kind": "ScaledObject",
        "metadata": metadata,
        "spec": _primary_spec(source, target_name=target_name, primary_name=primary_name, ref=ref),
    }


def _normal(value: Any) -> Any:
    """Absent, `null` and empty collections compare equal (the API omits empty fields)."""
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def scaled_object_update(
    primary: Mapping[str, Any],
    desired: Mapping[str, Any],
    *,
    include_label_prefixes: Sequence[str],
) -> JSON | None:
    """Flagger's promotion-time sync: when the desired spec differs from the primary's, the
    primary with that spec and its own labels/annotations filtered by the include prefixes;
    None when the specs already agree."""
    if _normal(child(desired, "spec")) == _normal(child(primary, "spec")):
        return None
    result: JSON = thaw(primary)
    result["spec"] = thaw(child(desired, "spec"))
    metadata = result.setdefault("metadata", {})
    metadata["labels"] = include_by_prefix(metadata.get("labels"), include_label_prefixes)
    metadata["annotations"] = include_by_prefix(metadata.get("annotations"), include_label_prefixes)
    return result


def pause_patch(source: Mapping[str, Any], *, paused: bool) -> JSON | None:
    """The merge patch pausing (`paused-replicas: "0"`) or resuming (annotation removed) the
    target's ScaledObject; None when it is already so."""
    current = child(source, "metadata", "annotations").get(PAUSED_REPLICAS)
    if paused:
        return None if current == "0" else {"metadata": {"annotations": {PAUSED_REPLICAS: "0"}}}
    return None if current is None else {"metadata": {"annotations": {PAUSED_REPLICAS: None}}}
