"""The `skipper` provider: a canary Ingress for the Skipper ingress controller (§3.7). Pure.

The user's Ingress (`spec.ingressRef`) keeps pointing at the apex Service and is never
written. The router owns a second Ingress, `<ingressRef>-canary`: a copy of the user's in
which every HTTP path whose backend is the apex Service is pointed at `<apex>-primary`, and
a duplicate of that path, pointed at `<apex>-canary`, is appended to the rule's paths.
Skipper merges the two backends of one host and path into one route and splits it by the
annotation

    zalando.org/backend-weights: '{"<apex>-primary":<p>,"<apex>-canary":<c>}'

The annotation `zalando.org/skipper-predicate` gets `Weight(100)` in front of the user's own
predicates, so the canary Ingress's routes win over the user Ingress's identical ones; while
the canary weight is 0 it gets `False()` instead, which disables the canary Ingress's routes
altogether (all traffic then takes the user's Ingress to the apex Service). A previous
`Weight(100)` or `False()` is dropped from the user's predicates first.

The split is read back from `zalando.org/backend-weights`. No A/B matching, no mirroring.

Metadata: annotations are the user Ingress's minus `kubectl.kubernetes.io/last-applied-
configuration`, plus the Flux opt-out keys and the two Skipper annotations above; labels
are copied when the canary Ingress is created; a controller owner reference ties it to the
Canary, so it is garbage-collected with it (`finalize` does nothing; Flagger deletes it).

Where Ensign differs from Flagger:

- Flagger never reports a user Ingress without an apex backend (its check compares two
  pointers, so it is never true) and writes a canary Ingress that routes nothing; Ensign
  raises `RouteError` (`backend <apex> not found in ingress <name>`).
- Flagger copies kubectl's last-applied annotation onto the canary Ingress, and updates its
  annotations only when it sets routes; Ensign renders spec and annotations at the split
  read back every tick, and writes nothing when they already match.
- Flagger accepts any JSON in the weights annotation and reads a missing key as 0; Ensign
  raises `RouteError` unless both weights are integers summing to 100.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ensign.engine.weights import Routes
from ensign.kube.kinds import INGRESS, Kind
from ensign.model.canary import Canary, Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.metadata import FLUX_OPT_OUT, JSON
from ensign.routers.nginx import LAST_APPLIED, canary_ingress_change, canary_ingress_name
from ensign.routers.objects import annotations_of, changes
from ensign.routers.protocol import (
    Capability,
    ObjectChange,
    ObjectRef,
    ObjectView,
    RouteError,
    Split,
)

__all__ = [
    "BACKEND_WEIGHTS",
    "DISABLE",
    "PREDICATE",
    "SKIPPER_CAPABILITIES",
    "WEIGHT",
    "SkipperRouter",
    "backend_weights",
    "canary_predicate",
    "skipper_canary_spec",
]

SKIPPER_CAPABILITIES: Final = CAPABILITIES[Provider.SKIPPER]
BACKEND_WEIGHTS: Final = "zalando.org/backend-weights"
PREDICATE: Final = "zalando.org/skipper-predicate"
WEIGHT: Final = "Weight(100)"
DISABLE: Final = "False()"


def canary_predicate(user: str, canary_weight: int) -> str:
    """The user's predicates (without `Weight(100)` or `False()`) behind `Weight(100)`, or
    behind `False()` when the canary weight is 0."""
    kept = [p.strip() for p in user.split("&&")]
    kept = [p for p in kept if p and p not in (WEIGHT, DISABLE)]
    return " && ".join([DISABLE if canary_weight == 0 else WEIGHT, *kept])


def backend_weights(primary: str, canary: str, routes: Routes) -> str:
    """The `zalando.org/backend-weights` JSON (compact, primary first)."""
    return json.dumps({primary: routes.primary, canary: routes.canary}, separators=(",", ":"))


def skipper_canary_spec(user: Mapping[str, Any], *, apex: str, ingress_name: str) -> JSON:
    """The user's Ingress spec with every apex path moved to `<apex>-primary` and a
    duplicate of it to `<apex>-canary` appended to the rule's paths."""
    spec: JSON = copy.deepcopy(dict(user.get("spec") or {}))
    found = False
    for rule in spec.get("rules") or ():
        http = rule.get("http") if isinstance(rule, dict) else None
        paths = http.get("paths") if isinstance(http, dict) else None
        if not isinstance(paths, list):
            continue
        for path in list(paths):
            backend = path.get("backend") if isinstance(path, dict) else None
            service = backend.get("service") if isinstance(backend, dict) else None
            if isinstance(service, dict) and service.get("name") == apex:
                service["name"] = f"{apex}-primary"
                twin = copy.deepcopy(path)
                twin["backend"]["service"]["name"] = f"{apex}-canary"
                paths.append(twin)
                found = True
    if not found:
        raise RouteError(f"backend {apex} not found in ingress {ingress_name}")
    return spec


@dataclass(frozen=True, slots=True, kw_only=True)
class SkipperRouter:
    """Router for `provider: skipper`; owns the Ingress `<ingressRef.name>-canary`."""

    name: str = field(default=Provider.SKIPPER.value, init=False)
    capabilities: frozenset[Capability] = field(default=SKIPPER_CAPABILITIES, init=False)
    kinds: tuple[Kind, ...] = field(default=(INGRESS,), init=False)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The user's Ingress and the canary Ingress, in the canary's namespace."""
        ref = canary.spec.ingress_ref
        if ref is None:
            return ()
        namespace = canary.namespace or ""
        return (
            ObjectRef(kind=INGRESS, namespace=namespace, name=ref.name),
            ObjectRef(kind=INGRESS, namespace=namespace, name=canary_ingress_name(ref.name)),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """From the canary Ingress's `zalando.org/backend-weights`; None when it does not
        exist yet."""
        namespace = canary.namespace or ""
        name = canary_ingress_name(_ingress(canary))
        live = objects.get(INGRESS, namespace, name)
        if live is None:
            return None
        where = f"ingress {name}.{namespace} annotation {BACKEND_WEIGHTS}"
        raw = annotations_of(live).get(BACKEND_WEIGHTS)
        if raw is None:
            raise RouteError(f"{where} not found")
        try:
            weights = json.loads(str(raw))
        except ValueError:
            raise RouteError(f"{where} is not valid JSON: {raw!r}") from None
        if not isinstance(weights, Mapping):
            raise RouteError(f"{where} is not a JSON object: {raw!r}")
        found = []
        for service in (canary.spec.primary_service_name, canary.spec.canary_service_name):
            weight = weights.get(service)
            if not isinstance(weight, int) or isinstance(weight, bool):
                raise RouteError(f"{where} has no integer weight for {service}: {raw!r}")
            found.append(weight)
        try:
            return Routes(primary=found[0], canary=found[1])
        except ValueError as error:
            raise RouteError(f"{where}: {error}") from None

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the canary Ingress, or replace its annotations and spec when they differ."""
        ingress_name = _ingress(canary)
        namespace = canary.namespace or ""
        user = objects.get(INGRESS, namespace, ingress_name)
        if user is None:
            raise RouteError(f"ingress {ingress_name}.{namespace} not found")
        apex = canary.spec.apex_service_name
        spec = skipper_canary_spec(user, apex=apex, ingress_name=ingress_name)
        name = canary_ingress_name(ingress_name)
        live = objects.get(INGRESS, namespace, name)
        annotations = self.annotations(canary, user, split, live)
        change = canary_ingress_change(
            canary,
            live,
            name=name,
            user=user,
            spec=spec,
            annotations=annotations,
            canary_uid=canary_uid,
        )
        return changes(change)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the canary Ingress is owned by the Canary and the user's is untouched."""
        return ()

    def annotations(
        self,
        canary: Canary,
        user: Mapping[str, Any],
        split: Split,
        live: Mapping[str, Any] | None,
    ) -> dict[str, str]:
        """The canary Ingress's annotations for `split`. The live weights annotation is kept
        as written when it says the same weights (Flagger writes its keys sorted)."""
        user_annotations = annotations_of(user)
        out = {str(k): str(v) for k, v in user_annotations.items() if k != LAST_APPLIED}
        out |= dict(FLUX_OPT_OUT)
        primary, canary_name = canary.spec.primary_service_name, canary.spec.canary_service_name
        weights = backend_weights(primary, canary_name, split.routes)
        live_weights = annotations_of(live).get(BACKEND_WEIGHTS) if live is not None else None
        if live_weights is not None and _same_json(str(live_weights), weights):
            weights = str(live_weights)
        out[BACKEND_WEIGHTS] = weights
        out[PREDICATE] = canary_predicate(
            str(user_annotations.get(PREDICATE) or ""), split.routes.canary
        )
        return out


def _same_json(left: str, right: str) -> bool:
    try:
        return bool(json.loads(left) == json.loads(right))
    except ValueError:
        return False


def _ingress(canary: Canary) -> str:
    ref = canary.spec.ingress_ref
    if ref is None or not ref.name:
        raise RouteError("ingress selector is empty (spec.ingressRef)")
    return ref.name
