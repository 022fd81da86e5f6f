"""The Gateway API router (`gatewayapi:v1`, `gatewayapi:v1beta1`): one HTTPRoute. Pure.

The router owns the HTTPRoute `<apex>` in the canary's namespace (§3.5 of the behaviour
notes). `render` builds the whole route for a split (`gatewayapi_rules.route_spec`) and
compares it with the live one; `read_routes` reads the split back. The two API versions
differ only as data: the HTTPRoute kind, and the capabilities of the provider's row in
`ensign.model.capabilities` (v1beta1 has no timeouts, no CORS, no primary cookie and no
parent-status check, as in Flagger).

Metadata: labels are `service.apex.labels`; annotations are `service.apex.annotations` plus
the Flux opt-out keys, merged over the annotations already on the live route (keys Ensign
does not set are kept); a controller owner reference ties a new route to the Canary.

Comparison: the caller renders at the split in force, so no weight-ignoring diff is needed
(Flagger ignores weights in its diff and, on any other spec change, resets them to 100/0;
Ensign keeps them). The live spec is compared after filling in the defaults the API server
adds to an HTTPRoute (parentRef group/kind, match path and type, backendRef group/kind/
weight) and dropping empty lists and maps, so a route read back from a real cluster is not
rewritten on every tick.

Reading back (v1 only: capability `parent-status`): every parent that has reported on the
route (an entry in `status.parents` matching a parentRef by name, namespace, sectionName and
kind) must have condition `Accepted` True observed at the route's current generation, else
`RouteError` with Flagger's message `HTTPRoute <apex>.<ns> parent <name> is not ready
(status: <status>, observed generation: <g>, current generation: <g>)`. `status` is the
condition's status, or `missing` when the entry has no `Accepted` condition. A parentRef
with no entry at all has not been seen by its controller yet and is not checked (a route
that was just created or replaced carries no verdict to wait for). A condition without
`observedGeneration` is not treated as stale (Ensign; Flagger reads it as 0 and halts for
ever behind implementations that omit it, e.g. Linkerd's policy controller).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from ensign.engine.weights import Routes
from ensign.kube.kinds import HTTPROUTE_V1, HTTPROUTE_V1BETA1, Kind
from ensign.model.canary import Canary, Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.gatewayapi_rules import JSON, RouteFeatures, route_spec
from ensign.routers.objects import apex_object_change, changes, dicts, drop_empty, is_int
from ensign.routers.protocol import (
    Capability,
    ObjectChange,
    ObjectRef,
    ObjectView,
    RouteError,
    Split,
)

HTTPROUTE_KINDS: Final[Mapping[Provider, Kind]] = MappingProxyType(
    {
        Provider.GATEWAYAPI_V1: HTTPROUTE_V1,
        Provider.GATEWAYAPI_V1BETA1: HTTPROUTE_V1BETA1,
    }
)
"""The API version table: the HTTPRoute kind each provider string writes."""

GATEWAY_GROUP: Final = "gateway.networking.k8s.io"
MISSING: Final = "missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayApiRouter:
    """Router for `provider: gatewayapi:v1` and `gatewayapi:v1beta1`."""

    name: str
    kind: Kind
    capabilities: frozenset[Capability]

    @classmethod
    def for_provider(cls, provider: Provider) -> GatewayApiRouter:
        return cls(
            name=provider.value,
            kind=HTTPROUTE_KINDS[provider],
            capabilities=CAPABILITIES[provider],
        )

    @classmethod
    def v1(cls) -> GatewayApiRouter:
        return cls.for_provider(Provider.GATEWAYAPI_V1)

    @classmethod
    def v1beta1(cls) -> GatewayApiRouter:
        return cls.for_provider(Provider.GATEWAYAPI_V1BETA1)

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return (self.kind,)

    @property
    def features(self) -> RouteFeatures:
        return RouteFeatures(
            timeouts=Capability.TIMEOUTS in self.capabilities,
            cors=Capability.CORS in self.capabilities,
            primary_cookie=Capability.PRIMARY_COOKIE in self.capabilities,
        )

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The HTTPRoute `<apex>` in the canary's namespace."""
        return (
            ObjectRef(
                kind=self.kind,
                namespace=canary.namespace or "",
                name=canary.spec.apex_service_name,
            ),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """Weights from the last rule with exactly two backendRefs (with session affinity,
        from the last rule whose backendRefs carry filters, when there is one); mirrored when
        some rule mirrors to `<apex>-canary`. None when the route does not exist."""
        (ref,) = self.refs(canary)
        live = objects.get(ref.kind, ref.namespace, ref.name)
        if live is None:
            return None
        where = f"HTTPRoute {ref.name}.{ref.namespace}"
        if Capability.PARENT_STATUS in self.capabilities:
            check_parents(live, where=where, namespace=ref.namespace)
        rules = dicts((live.get("spec") or {}).get("rules"))
        weighted = None
        for rule in rules:
            if len(dicts(rule.get("backendRefs"))) == 2:
                weighted = rule
        if canary.spec.effective_analysis.session_affinity is not None:
            for rule in rules:
                if any(ref_.get("filters") for ref_ in dicts(rule.get("backendRefs"))):
                    weighted = rule
        primary_name = canary.spec.primary_service_name
        canary_name = canary.spec.canary_service_name
        if weighted is None:
            raise RouteError(
                f"{where} does not contain a rule routing to {primary_name} and {canary_name}"
            )
        weights = {
            ref_.get("name"): ref_.get("weight") for ref_ in dicts(weighted.get("backendRefs"))
        }
        primary, canary_weight = weights.get(primary_name), weights.get(canary_name)
        if not (is_int(primary) and is_int(canary_weight)):
            raise RouteError(
                f"{where} has malformed weights for {primary_name} and {canary_name}"
                f" (got {primary!r} and {canary_weight!r})"
            )
        try:
            return Routes(
                primary=primary,
                canary=canary_weight,
                mirrored=_mirrors_to(rules, canary_name),
            )
        except ValueError as error:
            raise RouteError(f"{where} has malformed weights: {error}") from error

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the route, replace it when its spec, labels or annotations differ from what
        `split` and the spec ask for, or nothing when it already matches."""
        spec = route_spec(canary, split, self.features)  # raises without spec.service
        change = apex_object_change(
            self.kind,
            canary,
            objects,
            canary_uid=canary_uid,
            spec=spec,
            spec_matches=same_route_spec,
        )
        return changes(change)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the route is owned by the Canary and garbage-collected with it."""
        return ()


def check_parents(live: Mapping[str, Any], *, where: str, namespace: str) -> None:
    """Raise `RouteError` unless every parent accepted the route at its current generation
    (a parent that has not reported yet has not accepted it: its status is "missing")."""
    generation = (live.get("metadata") or {}).get("generation")
    generation = generation if is_int(generation) else 0
    status = live.get("status")
    reported = dicts(status.get("parents")) if isinstance(status, Mapping) else []
    for parent in dicts((live.get("spec") or {}).get("parentRefs")):
        entry = _status_entry(reported, parent, namespace)
        conditions = dicts(entry.get("conditions")) if entry is not None else []
        accepted = next((c for c in conditions if c.get("type") == "Accepted"), None)
        state = str(accepted.get("status")) if accepted is not None else MISSING
        observed = accepted.get("observedGeneration") if accepted is not None else None
        stale = is_int(observed) and observed < generation
        if state != "True" or stale:
            raise RouteError(
                f"{where} parent {parent.get('name')} is not ready (status: {state},"
                f" observed generation: {observed if is_int(observed) else 0},"
                f" current generation: {generation})"
            )


def _status_entry(
    reported: list[Mapping[str, Any]], parent: Mapping[str, Any], namespace: str
) -> Mapping[str, Any] | None:
    def key(ref: Mapping[str, Any]) -> tuple[object, ...]:
        return (
            ref.get("name"),
            ref.get("namespace") or namespace,
            ref.get("sectionName") or "",
            ref.get("kind") or "Gateway",
        )

    wanted = key(parent)
    for entry in reported:
        ref = entry.get("parentRef")
        if isinstance(ref, Mapping) and key(ref) == wanted:
            return entry
    return None


def _mirrors_to(rules: list[Mapping[str, Any]], backend: str) -> bool:
    for rule in rules:
        for filter_ in dicts(rule.get("filters")):
            mirror = filter_.get("requestMirror")
            if filter_.get("type") == "RequestMirror" and isinstance(mirror, Mapping):
                target = mirror.get("backendRef")
                if isinstance(target, Mapping) and target.get("name") == backend:
                    return True
    return False


def same_route_spec(live: object, rendered: JSON) -> bool:
    """The live HTTPRoute spec equals the rendered one, both normalized."""
    return normalized_spec(live if isinstance(live, Mapping) else {}) == normalized_spec(rendered)


def normalized_spec(spec: Mapping[str, Any]) -> JSON:
    """The spec with the API server's HTTPRoute defaults filled in and empty values dropped,
    for comparing a rendered spec with a live one (a new copy: `spec` is not changed)."""
    out: JSON = drop_empty(spec)
    for parent in out.get("parentRefs", ()):
        parent.setdefault("group", GATEWAY_GROUP)
        parent.setdefault("kind", "Gateway")
    rules = out.setdefault("rules", [{}])
    for rule in rules:
        matches = rule.setdefault("matches", [{}])
        for match in matches:
            path = match.setdefault("path", {})
            path.setdefault("type", "PathPrefix")
            path.setdefault("value", "/")
            for named in (*match.get("headers", ()), *match.get("queryParams", ())):
                named.setdefault("type", "Exact")
        for backend in rule.get("backendRefs", ()):
            backend.setdefault("group", "")
            backend.setdefault("kind", "Service")
            backend.setdefault("weight", 1)
        for filter_ in rule.get("filters", ()):
            target = (filter_.get("requestMirror") or {}).get("backendRef")
            if isinstance(target, dict):
                target.setdefault("group", "")
                target.setdefault("kind", "Service")
    return out
