"""Autoscalers cloned for the primary (`autoscalerRef`, §2.10): one plug-in per kind. Pure.

An `Autoscaler` declares the kind it reads and writes (watch caches and RBAC come from it),
renders the primary copy (created when missing, every tick), says whether promotion must
update it, and gives the pause/resume write for the target's own autoscaler. The plug-in is
chosen by `autoscalerRef.kind` (`autoscaler_for`); the runtime never tests the kind.

* `HorizontalPodAutoscaler` (`autoscaling/v2`): `render_primary_hpa` builds `<hpa>-primary`;
  `hpa_needs_update` and `update_primary_hpa` implement Flagger's promotion-time sync, so
  edits to the target's HPA reach the primary only when a release is promoted. Pause and
  resume are no-ops.
* `ScaledObject` (`keda.sh/v1alpha1`): `workloads/scaledobjects.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ensign.kube import kinds
from ensign.kube.kinds import Kind
from ensign.model.canary import AutoscalerKind, AutoscalerRef, ScalerReplicas
from ensign.workloads import scaledobjects
from ensign.workloads.meta import (
    JSON,
    PRIMARY_SUFFIX,
    canary_owner_reference,
    child,
    include_by_prefix,
    name_of,
    namespace_of,
    string_map,
    thaw,
    without_toolkit,
)

HPA_API_VERSION = "autoscaling/v2"


def _primary_hpa_spec(
    source_hpa: Mapping[str, Any], *, primary_name: str, scaler_replicas: ScalerReplicas | None
) -> JSON:
    source = child(source_hpa, "spec")
    target_ref = child(source, "scaleTargetRef")
    spec: JSON = {
        "scaleTargetRef": {
            "apiVersion": target_ref.get("apiVersion", "apps/v1"),
            "kind": target_ref.get("kind", "Deployment"),
            "name": primary_name,
        },
    }
    for key in ("minReplicas", "maxReplicas", "metrics", "behavior"):
        if source.get(key) is not None:
            spec[key] = thaw(source[key])
    if scaler_replicas is not None and scaler_replicas.min_replicas is not None:
        spec["minReplicas"] = scaler_replicas.min_replicas
    if scaler_replicas is not None and scaler_replicas.max_replicas is not None:
        spec["maxReplicas"] = scaler_replicas.max_replicas
    return spec


def render_primary_hpa(
    source_hpa: Mapping[str, Any],
    *,
    canary: Mapping[str, Any],
    primary_name: str,
    scaler_replicas: ScalerReplicas | None = None,
) -> JSON:
    """`<hpa>-primary` scaling the primary workload `primary_name`.

    min/max/metrics/behavior come from the source HPA, min/max overridden by
    `primaryScalerReplicas`; labels are the source's minus toolkit keys; no annotations;
    controller owner ref to the Canary.
    """
    return {
        "apiVersion": HPA_API_VERSION,
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": name_of(source_hpa) + PRIMARY_SUFFIX,
            "namespace": namespace_of(canary, source_hpa),
            "labels": without_toolkit(child(source_hpa, "metadata").get("labels")),
            "ownerReferences": [canary_owner_reference(canary)],
        },
        "spec": _primary_hpa_spec(
            source_hpa, primary_name=primary_name, scaler_replicas=scaler_replicas
        ),
    }


def _optional(value: Any) -> Any:
    """Absent, `null` and empty collections compare equal (the API omits empty fields)."""
    return None if value in (None, [], {}) else value


def _min_replicas(spec: Mapping[str, Any]) -> Any:
    value = spec.get("minReplicas")
    return 1 if value is None else value


def hpa_needs_update(
    primary_hpa: Mapping[str, Any], desired: Mapping[str, Any], *, source_hpa: Mapping[str, Any]
) -> bool:
    """Flagger's promotion-time diff between the primary HPA and `desired` (`render_primary_hpa`).

    Spec: metrics, behavior, minReplicas (unset = 1), maxReplicas. Metadata: the primary's
    labels and annotations against the *source* HPA's, unfiltered (as Flagger does; an HPA
    with labels outside the include prefixes is therefore rewritten on every promotion).
    """
    want, have = child(desired, "spec"), child(primary_hpa, "spec")
    source_meta, primary_meta = child(source_hpa, "metadata"), child(primary_hpa, "metadata")
    return (
        any(_optional(want.get(key)) != _optional(have.get(key)) for key in ("metrics", "behavior"))
        or _min_replicas(want) != _min_replicas(have)
        or want.get("maxReplicas") != have.get("maxReplicas")
        or string_map(source_meta.get("labels")) != string_map(primary_meta.get("labels"))
        or string_map(source_meta.get("annotations")) != string_map(primary_meta.get("annotations"))
    )


def update_primary_hpa(
    primary_hpa: Mapping[str, Any],
    desired: Mapping[str, Any],
    *,
    source_hpa: Mapping[str, Any],
    include_label_prefixes: Sequence[str],
) -> JSON:
    """`primary_hpa` with min/max/metrics/behavior from `desired` and filtered source metadata.

    Labels and annotations become the source HPA's filtered by the include prefixes; the
    scaleTargetRef and identity of the primary HPA are kept.
    """
    result: JSON = thaw(primary_hpa)
    spec = result.setdefault("spec", {})
    want = child(desired, "spec")
    for key in ("minReplicas", "maxReplicas", "metrics", "behavior"):
        if want.get(key) is not None:
            spec[key] = thaw(want[key])
        else:
            spec.pop(key, None)
    source_meta = child(source_hpa, "metadata")
    metadata = result.setdefault("metadata", {})
    metadata["labels"] = include_by_prefix(source_meta.get("labels"), include_label_prefixes)
    metadata["annotations"] = include_by_prefix(
        source_meta.get("annotations"), include_label_prefixes
    )
    return result


# ------------------------------------------------------------------ the plug-in seam


class Autoscaler(Protocol):
    """One kind of autoscaler Flagger clones for the primary."""

    @property
    def kind(self) -> Kind:
        """The kind (and apiVersion) read from the target and written for the primary."""
        ...

    @property
    def optional(self) -> bool:
        """Whether the kind comes from an add-on CRD (watched only while a canary uses it;
        a missing CRD holds the canary with a message naming it)."""
        ...

    def render_primary(
        self,
        source: Mapping[str, Any],
        *,
        canary: Mapping[str, Any],
        ref: AutoscalerRef,
        target_name: str,
        primary_name: str,
    ) -> JSON:
        """`<autoscalerRef.name>-primary`, scaling `primary_name`."""
        ...

    def promotion_update(
        self,
        primary: Mapping[str, Any],
        desired: Mapping[str, Any],
        *,
        source: Mapping[str, Any],
        include_label_prefixes: Sequence[str],
    ) -> JSON | None:
        """The primary copy as promotion leaves it, or None when it needs no update."""
        ...

    def pause_patch(self, source: Mapping[str, Any], *, paused: bool) -> JSON | None:
        """The merge patch pausing (the target is scaled to zero) or resuming (scaled up for a
        run) the target's autoscaler; None when nothing is to be written."""
        ...


@dataclass(frozen=True, slots=True)
class HpaAutoscaler:
    kind: Kind = kinds.HPA
    optional: bool = False

    def render_primary(
        self,
        source: Mapping[str, Any],
        *,
        canary: Mapping[str, Any],
        ref: AutoscalerRef,
        target_name: str,
        primary_name: str,
    ) -> JSON:
        return render_primary_hpa(
            source,
            canary=canary,
            primary_name=primary_name,
            scaler_replicas=ref.primary_scaler_replicas,
        )

    def promotion_update(
        self,
        primary: Mapping[str, Any],
        desired: Mapping[str, Any],
        *,
        source: Mapping[str, Any],
        include_label_prefixes: Sequence[str],
    ) -> JSON | None:
        if not hpa_needs_update(primary, desired, source_hpa=source):
            return None
        return update_primary_hpa(
            primary, desired, source_hpa=source, include_label_prefixes=include_label_prefixes
        )

    def pause_patch(self, source: Mapping[str, Any], *, paused: bool) -> JSON | None:
        return None  # the target's HPA keeps acting; it never scales up from zero


@dataclass(frozen=True, slots=True)
class ScaledObjectAutoscaler:
    kind: Kind = kinds.SCALEDOBJECT
    optional: bool = True

    def render_primary(
        self,
        source: Mapping[str, Any],
        *,
        canary: Mapping[str, Any],
        ref: AutoscalerRef,
        target_name: str,
        primary_name: str,
    ) -> JSON:
        return scaledobjects.render_primary_scaled_object(
            source, canary=canary, target_name=target_name, primary_name=primary_name, ref=ref
        )

    def promotion_update(
        self,
        primary: Mapping[str, Any],
        desired: Mapping[str, Any],
        *,
        source: Mapping[str, Any],
        include_label_prefixes: Sequence[str],
    ) -> JSON | None:
        return scaledobjects.scaled_object_update(
            primary, desired, include_label_prefixes=include_label_prefixes
        )

    def pause_patch(self, source: Mapping[str, Any], *, paused: bool) -> JSON | None:
        return scaledobjects.pause_patch(source, paused=paused)


AUTOSCALERS: Mapping[AutoscalerKind, Autoscaler] = {
    AutoscalerKind.HPA: HpaAutoscaler(),
    AutoscalerKind.SCALED_OBJECT: ScaledObjectAutoscaler(),
}


def autoscaler_for(ref: AutoscalerRef) -> Autoscaler:
    """The plug-in for `autoscalerRef.kind`."""
    return AUTOSCALERS[AutoscalerKind(ref.kind)]


def optional_kinds(ref: AutoscalerRef | None) -> tuple[Kind, ...]:
    """The add-on kinds a canary's autoscalerRef needs watched (none for an HPA)."""
    if ref is None:
        return ()
    plugin = autoscaler_for(ref)
    return (plugin.kind,) if plugin.optional else ()
