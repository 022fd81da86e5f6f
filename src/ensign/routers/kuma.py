"""The `kuma` provider: one cluster-scoped Kuma TrafficRoute (§3.7 of the behaviour notes). Pure.

The router owns the TrafficRoute `<apex>` (`kuma.io/v1alpha1`, cluster-scoped), in the mesh
named by the Canary's annotation `kuma.io/mesh` (`default` when absent):

    mesh: <mesh>
    spec:
      sources: [{match: {kuma.io/service: "*"}}]
      destinations: [{match: {kuma.io/service: <apex>_<ns>_svc_<port>}}]
      conf:
        split:
          - {weight: <p>, destination: {kuma.io/service: <apex>-primary_<ns>_svc_<port>}}
          - {weight: <c>, destination: {kuma.io/service: <apex>-canary_<ns>_svc_<port>}}

(`<name>_<namespace>_svc_<port>` is the `kuma.io/service` tag Kuma gives a Service's port.)
The split is read back from the primary's entry: canary = 100 - its weight. No A/B matching,
no mirroring.

Naming: the TrafficRoute is named `<apex>`, as Flagger names it, although it is
cluster-scoped, so two canaries with the same apex Service name in two namespaces would
share one name. Flagger silently overwrites the other namespace's route (and a canary then
steers another application's traffic); Ensign refuses: a live TrafficRoute `<apex>` whose
destination is a Service of another namespace raises `RouteError` naming it, and is neither
read, written nor deleted.

Ownership: a cluster-scoped object cannot be owned by a namespaced Canary (Flagger sets an
owner reference that the garbage collector treats as dangling), so Ensign writes none
(capability `unowned-objects`): the controller keeps its finalizer on the Canary and calls
`finalize`, which deletes the TrafficRoute.

Metadata: labels are `service.apex.labels`; annotations are `service.apex.annotations` plus
the Flux opt-out keys, merged over the annotations already on the live object. (Flagger puts
`<port>.service.kuma.io: http` on the route when the apex has no annotations; that key
means something on a Service only, and Ensign leaves it out.)

Where Ensign differs from Flagger, besides the above: the mesh is reconciled too (Flagger
compares the spec only, so a changed `kuma.io/mesh` annotation is never applied), and a
spec change keeps the weights (Flagger rewrites the route at 100/0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ensign.engine.weights import FULL, Routes
from ensign.kube.kinds import KUMA_TRAFFICROUTE, Kind
from ensign.model.canary import Canary, Provider, ServiceSpec
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.metadata import JSON, apex_metadata
from ensign.routers.objects import changes, dicts, is_int, object_change
from ensign.routers.protocol import (
    Capability,
    DeleteObject,
    ObjectChange,
    ObjectRef,
    ObjectView,
    RouteError,
    Split,
)

__all__ = [
    "DEFAULT_MESH",
    "KUMA_CAPABILITIES",
    "MESH_ANNOTATION",
    "SERVICE_TAG",
    "KumaRouter",
    "kuma_service",
    "mesh_of",
    "traffic_route_spec",
]

KUMA_CAPABILITIES: Final = CAPABILITIES[Provider.KUMA]
MESH_ANNOTATION: Final = "kuma.io/mesh"
DEFAULT_MESH: Final = "default"
SERVICE_TAG: Final = "kuma.io/service"


def kuma_service(name: str, namespace: str, port: int) -> str:
    """The `kuma.io/service` tag of a Service port: `<name>_<namespace>_svc_<port>`."""
    return f"{name}_{namespace}_svc_{port}"


def mesh_of(canary: Canary) -> str:
    """The mesh named by the Canary's `kuma.io/mesh` annotation, else `default`."""
    metadata = canary.raw.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    mesh = annotations.get(MESH_ANNOTATION) if isinstance(annotations, Mapping) else None
    return str(mesh) if mesh else DEFAULT_MESH


def traffic_route_spec(canary: Canary, split: Split) -> JSON:
    """The TrafficRoute spec that puts `split` in force."""
    port = _service(canary).port
    namespace = canary.namespace or ""
    spec = canary.spec

    def tag(name: str) -> dict[str, str]:
        return {SERVICE_TAG: kuma_service(name, namespace, port)}

    return {
        "sources": [{"match": {SERVICE_TAG: "*"}}],
        "destinations": [{"match": tag(spec.apex_service_name)}],
        "conf": {
            "split": [
                {"weight": split.routes.primary, "destination": tag(spec.primary_service_name)},
                {"weight": split.routes.canary, "destination": tag(spec.canary_service_name)},
            ]
        },
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class KumaRouter:
    """Router for `provider: kuma`; owns the cluster-scoped TrafficRoute `<apex>`."""

    name: str = field(default=Provider.KUMA.value, init=False)
    capabilities: frozenset[Capability] = field(default=KUMA_CAPABILITIES, init=False)
    kinds: tuple[Kind, ...] = field(default=(KUMA_TRAFFICROUTE,), init=False)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The TrafficRoute `<apex>` (cluster-scoped: namespace "")."""
        return (
            ObjectRef(kind=KUMA_TRAFFICROUTE, namespace="", name=canary.spec.apex_service_name),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """canary = 100 - the weight of the split entry to `<apex>-primary`; None when the
        TrafficRoute does not exist."""
        live = self._live(canary, objects)
        if live is None:
            return None
        apex = canary.spec.apex_service_name
        primary_name = canary.spec.primary_service_name
        conf = (live.get("spec") or {}).get("conf")
        splits = dicts(conf.get("split") if isinstance(conf, Mapping) else None)
        weight: object = None
        for entry in splits:
            destination = entry.get("destination")
            tag = destination.get(SERVICE_TAG) if isinstance(destination, Mapping) else None
            if str(tag or "").split("_")[0] == primary_name:
                weight = entry.get("weight", 0)
        if weight is None:
            raise RouteError(
                f"TrafficRoute {apex} does not contain routes for {primary_name} and"
                f" {canary.spec.canary_service_name} (spec.conf.split)"
            )
        if not (is_int(weight) and 0 <= weight <= FULL):
            raise RouteError(
                f"TrafficRoute {apex} spec.conf.split weight of {primary_name} is not an"
                f" integer within 0..100: {weight!r}"
            )
        return Routes(primary=weight, canary=FULL - weight)

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the TrafficRoute, replace it when its mesh, spec, labels or annotations
        differ from what `split` and the spec ask for, or nothing when it already matches."""
        spec = traffic_route_spec(canary, split)
        meta = apex_metadata(canary.spec.service)
        change = object_change(
            KUMA_TRAFFICROUTE,
            self._live(canary, objects),
            name=canary.spec.apex_service_name,
            namespace=None,  # cluster-scoped
            spec=spec,
            labels=meta.labels,
            annotations=meta.annotations,
            owner=None,  # nothing to be garbage-collected by: `finalize` deletes it
            fields={"mesh": mesh_of(canary)},
        )
        return changes(change)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Delete the TrafficRoute (it has no owner reference to be garbage-collected by);
        nothing when it is gone, or when it routes another namespace's Service."""
        try:
            live = self._live(canary, objects)
        except RouteError:
            return ()
        if live is None:
            return ()
        return (
            DeleteObject(kind=KUMA_TRAFFICROUTE, namespace="", name=canary.spec.apex_service_name),
        )

    def _live(self, canary: Canary, objects: ObjectView) -> Mapping[str, Any] | None:
        """The live TrafficRoute; `RouteError` when it routes another namespace's Service."""
        name = canary.spec.apex_service_name
        live = objects.get(KUMA_TRAFFICROUTE, "", name)
        if live is None:
            return None
        namespace = canary.namespace or ""
        for destination in dicts((live.get("spec") or {}).get("destinations")):
            match = destination.get("match")
            tag = str(match.get(SERVICE_TAG) or "") if isinstance(match, Mapping) else ""
            parts = tag.split("_")
            if len(parts) == 4 and parts[2] == "svc" and parts[1] != namespace:
                raise RouteError(
                    f"TrafficRoute {name} routes {tag}, a Service of namespace {parts[1]}:"
                    f" TrafficRoutes are cluster-scoped and named after the apex Service, so"
                    f" canary {canary.name}.{namespace} cannot use that name (rename"
                    f" spec.service.name)"
                )
        return live


def _service(canary: Canary) -> ServiceSpec:
    service = canary.spec.service
    if service is None:
        raise RouteError("spec.service is required by provider kuma")
    return service
