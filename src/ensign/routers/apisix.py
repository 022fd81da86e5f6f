"""The `apisix` provider: a canary ApisixRoute for the APISIX ingress controller (§3.7). Pure.

The canary names the user's ApisixRoute (`apisix.apache.org/v2`) in `spec.routeRef`. That
route must have an HTTP route (`spec.http[]`) whose backend is the apex Service, and only
that one backend. The user's ApisixRoute is never written. The router owns a second one,
`<routeRef>-<apex>-canary`, holding a copy of that HTTP route only, with

- `priority: 10000`, so APISIX prefers it to the user's route for the same requests
  (Flagger's value: APISIX picks the highest priority among the routes that match, and
  user routes are expected to stay well below it; the default is 0);
- two backends: the user's backend moved to `<apex>-primary` with weight `<p>`, then
  `<apex>-canary` with weight `<c>` and the same `servicePort`, `resolveGranularity` and
  `subset`.

The canary ApisixRoute also carries the user route's `ingressClassName`, so the same
ingress controller picks it up; the user's stream routes and other HTTP routes are not
copied. The split is read back from the primary backend: canary = 100 - its weight. No A/B
matching, no mirroring.

Metadata: labels are the user route's; annotations are the user route's minus
`kubectl.kubernetes.io/last-applied-configuration`, plus the Flux opt-out keys (Flagger
copies the user's annotations as they are); a controller owner reference ties it to the
Canary, so it is garbage-collected with it.

Where Ensign differs from Flagger: Flagger creates the canary route once and then updates
only its spec; Ensign renders spec, labels and annotations at the split read back every tick
(a spec change keeps the weights), and writes nothing when they already match. An HTTP
route with several backends raises `RouteError` naming it, as in Flagger.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ensign.engine.weights import FULL, Routes
from ensign.kube.kinds import APISIXROUTE, Kind
from ensign.model.canary import Canary, Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.metadata import FLUX_OPT_OUT, JSON, owner_reference
from ensign.routers.nginx import LAST_APPLIED
from ensign.routers.objects import changes, dicts, is_int, keep_no_annotation, object_change
from ensign.routers.protocol import (
    Capability,
    ObjectChange,
    ObjectRef,
    ObjectView,
    RouteError,
    Split,
)

__all__ = [
    "APISIX_CAPABILITIES",
    "MAX_PRIORITY",
    "ApisixRouter",
    "apisix_canary_spec",
    "canary_route_name",
]

APISIX_CAPABILITIES: Final = CAPABILITIES[Provider.APISIX]
MAX_PRIORITY: Final = 10000
"""The priority of the canary HTTP route (Flagger's `maxPriority`)."""
_COPIED_BACKEND_KEYS: Final = ("servicePort", "resolveGranularity", "subset")


def canary_route_name(route_ref: str, apex: str) -> str:
    """The ApisixRoute the router owns: `<routeRef>-<apex>-canary`."""
    return f"{route_ref}-{apex}-canary"


def apisix_canary_spec(canary: Canary, user: Mapping[str, Any], split: Split) -> JSON:
    """The canary ApisixRoute spec: the user's HTTP route to the apex, at the top priority,
    with the primary and canary backends weighted by `split`."""
    apex = canary.spec.apex_service_name
    where = f"ApisixRoute {_meta(user).get('name')}.{_meta(user).get('namespace') or ''}"
    user_spec = user.get("spec") or {}
    http = dicts(user_spec.get("http"))
    if not http:
        raise RouteError(f"{where} spec.http is empty")
    chosen: tuple[int, Mapping[str, Any]] | None = None
    for index, route in enumerate(http):
        if any(b.get("serviceName") == apex for b in dicts(route.get("backends"))):
            chosen = (index, route)
            break
    if chosen is None:
        raise RouteError(f"{where} has no http route with backend {apex} (spec.http[].backends)")
    index, route = chosen
    backends = dicts(route.get("backends"))
    if len(backends) != 1:
        label = f" ({route.get('name')})" if route.get("name") else ""
        raise RouteError(
            f"{where} spec.http[{index}]{label}: only one backend is supported"
            f" (found {len(backends)})"
        )
    target: JSON = copy.deepcopy(dict(route))
    target["priority"] = MAX_PRIORITY
    primary: JSON = copy.deepcopy(dict(backends[0]))
    primary["serviceName"] = canary.spec.primary_service_name
    primary["weight"] = split.routes.primary
    canary_backend: JSON = {"serviceName": canary.spec.canary_service_name}
    for key in _COPIED_BACKEND_KEYS:
        if primary.get(key) is not None:
            canary_backend[key] = copy.deepcopy(primary[key])
    canary_backend["weight"] = split.routes.canary
    target["backends"] = [primary, canary_backend]
    spec: JSON = {}
    if user_spec.get("ingressClassName"):
        spec["ingressClassName"] = user_spec["ingressClassName"]
    spec["http"] = [target]
    return spec


@dataclass(frozen=True, slots=True, kw_only=True)
class ApisixRouter:
    """Router for `provider: apisix`; owns the ApisixRoute `<routeRef>-<apex>-canary`."""

    name: str = field(default=Provider.APISIX.value, init=False)
    capabilities: frozenset[Capability] = field(default=APISIX_CAPABILITIES, init=False)
    kinds: tuple[Kind, ...] = field(default=(APISIXROUTE,), init=False)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The user's ApisixRoute and the canary one, in the canary's namespace."""
        ref = canary.spec.route_ref
        if ref is None or not ref.name:
            return ()
        namespace = canary.namespace or ""
        name = canary_route_name(ref.name, canary.spec.apex_service_name)
        return (
            ObjectRef(kind=APISIXROUTE, namespace=namespace, name=ref.name),
            ObjectRef(kind=APISIXROUTE, namespace=namespace, name=name),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """canary = 100 - the weight of the `<apex>-primary` backend of the canary route;
        None when it does not exist yet."""
        namespace = canary.namespace or ""
        name = canary_route_name(_route_ref(canary), canary.spec.apex_service_name)
        live = objects.get(APISIXROUTE, namespace, name)
        if live is None:
            return None
        where = f"ApisixRoute {name}.{namespace}"
        primary_name = canary.spec.primary_service_name
        for route in dicts((live.get("spec") or {}).get("http")):
            for backend in dicts(route.get("backends")):
                if backend.get("serviceName") != primary_name:
                    continue
                weight = backend.get("weight")
                if not (is_int(weight) and 0 <= weight <= FULL):
                    raise RouteError(
                        f"{where} spec.http[].backends weight of {primary_name} is not an"
                        f" integer within 0..100: {weight!r}"
                    )
                return Routes(primary=weight, canary=FULL - weight)
        raise RouteError(f"{where} has no http route with backend {primary_name}")

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the canary ApisixRoute, or replace it when its spec, labels or annotations
        differ from what `split` and the user's route ask for."""
        ref = _route_ref(canary)
        namespace = canary.namespace or ""
        if split.routes.primary == 0 and split.routes.canary == 0:
            raise RouteError(f"ApisixRoute {ref}.{namespace}: no valid weights (both are 0)")
        user = objects.get(APISIXROUTE, namespace, ref)
        if user is None:
            raise RouteError(f"ApisixRoute {ref}.{namespace} not found (spec.routeRef)")
        spec = apisix_canary_spec(canary, user, split)
        user_meta = _meta(user)
        labels = {str(k): str(v) for k, v in (user_meta.get("labels") or {}).items()}
        annotations = {
            str(k): str(v)
            for k, v in (user_meta.get("annotations") or {}).items()
            if k != LAST_APPLIED
        } | dict(FLUX_OPT_OUT)
        name = canary_route_name(ref, canary.spec.apex_service_name)
        change = object_change(
            APISIXROUTE,
            objects.get(APISIXROUTE, namespace, name),
            name=name,
            namespace=namespace,
            spec=spec,
            labels=labels,
            annotations=annotations,
            owner=owner_reference(canary, canary_uid=canary_uid),
            keep_live_annotation=keep_no_annotation,  # the user route's, replaced wholesale
        )
        return changes(change)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the canary ApisixRoute is owned by the Canary; the user's is untouched."""
        return ()


def _route_ref(canary: Canary) -> str:
    ref = canary.spec.route_ref
    if ref is None or not ref.name:
        raise RouteError("apisix route selector is empty (spec.routeRef)")
    return ref.name


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}
