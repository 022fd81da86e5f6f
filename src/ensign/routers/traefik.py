"""The `traefik` provider: one weighted TraefikService (§3.7 of the behaviour notes). Pure.

The router owns the TraefikService `<apex>` (`traefik.io/v1alpha1`) in the canary's
namespace. The user's IngressRoute sends its traffic to that TraefikService (`kind:
TraefikService`, `name: <apex>`), which splits it by weighted round robin:

    spec:
      weighted:
        services:
          - {name: <apex>-primary, namespace: <ns>, port: <service.port>, weight: <p>}
          - {name: <apex>-canary, namespace: <ns>, port: <service.port>, weight: <c>}

The canary entry is present only while its weight is above 0 (Flagger's layout, so Traefik
never opens connections to an idle canary). The split is read back from the primary entry:
canary = 100 - primary weight. No A/B matching, no mirroring (Traefik's `mirroring`
TraefikService is not used by Flagger either).

Metadata: labels are `service.apex.labels`; annotations are `service.apex.annotations` plus
the Flux opt-out keys, merged over the annotations already on the live object; a controller
owner reference ties a new TraefikService to the Canary (garbage-collected with it).

Where Ensign differs from Flagger: Flagger's reconcile ignores weights and, on any other
spec difference, rewrites the TraefikService at 100/0; Ensign renders at the split read back,
so a spec change (a new `service.port`) keeps the weights. Flagger replaces the annotations
wholesale; Ensign keeps annotations other tools put on the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ensign.engine.weights import FULL, Routes
from ensign.kube.kinds import TRAEFIKSERVICE, Kind
from ensign.model.canary import Canary, Provider, ServiceSpec
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.metadata import JSON
from ensign.routers.objects import apex_object_change, changes, dicts, is_int
from ensign.routers.protocol import (
    Capability,
    ObjectChange,
    ObjectRef,
    ObjectView,
    RouteError,
    Split,
)

__all__ = ["TRAEFIK_CAPABILITIES", "TraefikRouter", "traefik_service_spec"]

TRAEFIK_CAPABILITIES: Final = CAPABILITIES[Provider.TRAEFIK]


def traefik_service_spec(canary: Canary, split: Split) -> JSON:
    """The TraefikService spec that puts `split` in force."""
    service = _service(canary)
    namespace = canary.namespace or ""
    primary, canary_weight = split.routes.primary, split.routes.canary
    where = f"TraefikService {canary.spec.apex_service_name}.{namespace}"
    if primary == 0 and canary_weight == 0:
        raise RouteError(f"{where}: no valid weights (both primary and canary are 0)")

    def entry(name: str, weight: int) -> JSON:
        return {"name": name, "namespace": namespace, "port": service.port, "weight": weight}

    services = [entry(canary.spec.primary_service_name, primary)]
    if canary_weight > 0:
        services.append(entry(canary.spec.canary_service_name, canary_weight))
    return {"weighted": {"services": services}}


@dataclass(frozen=True, slots=True, kw_only=True)
class TraefikRouter:
    """Router for `provider: traefik`; owns the TraefikService `<apex>`."""

    name: str = field(default=Provider.TRAEFIK.value, init=False)
    capabilities: frozenset[Capability] = field(default=TRAEFIK_CAPABILITIES, init=False)
    kinds: tuple[Kind, ...] = field(default=(TRAEFIKSERVICE,), init=False)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The TraefikService `<apex>` in the canary's namespace."""
        return (
            ObjectRef(
                kind=TRAEFIKSERVICE,
                namespace=canary.namespace or "",
                name=canary.spec.apex_service_name,
            ),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """canary = 100 - the weight of the `<apex>-primary` entry; None when the
        TraefikService does not exist."""
        (ref,) = self.refs(canary)
        live = objects.get(ref.kind, ref.namespace, ref.name)
        if live is None:
            return None
        where = f"TraefikService {ref.name}.{ref.namespace}"
        weighted = (live.get("spec") or {}).get("weighted")
        services = dicts(weighted.get("services") if isinstance(weighted, Mapping) else None)
        if not services:
            raise RouteError(f"{where} services not found (spec.weighted.services is empty)")
        primary_name = canary.spec.primary_service_name
        entry = next((s for s in services if s.get("name") == primary_name), None)
        if entry is None:
            raise RouteError(f"{where} spec.weighted.services has no entry for {primary_name}")
        weight = entry.get("weight")
        if not (is_int(weight) and 0 <= weight <= FULL):
            raise RouteError(
                f"{where} spec.weighted.services weight of {primary_name} is not an integer"
                f" within 0..100: {weight!r}"
            )
        return Routes(primary=weight, canary=FULL - weight)

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the TraefikService, replace it when its spec, labels or annotations differ
        from what `split` and the spec ask for, or nothing when it already matches."""
        spec = traefik_service_spec(canary, split)
        return changes(
            apex_object_change(TRAEFIKSERVICE, canary, objects, canary_uid=canary_uid, spec=spec)
        )

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the TraefikService is owned by the Canary and garbage-collected with it."""
        return ()


def _service(canary: Canary) -> ServiceSpec:
    service = canary.spec.service
    if service is None:
        raise RouteError("spec.service is required by provider traefik")
    return service
