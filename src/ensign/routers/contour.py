"""The Contour router (`provider: contour`): one HTTPProxy. Pure.

The router owns the HTTPProxy `<apex>` (`projectcontour.io/v1`) in the canary's namespace
(§3.7 of the behaviour notes). The user's root HTTPProxy includes it (`includes: [{name:
<apex>}]`); Ensign never writes the root.

Spec, field for field as Flagger writes it:

- one route whose conditions are `[{prefix: P}]`, P being the first `service.match[].uri.prefix`
  (else `/`);
- `timeoutPolicy: {response: service.timeout, idle: 5m}` when `service.timeout` is set;
- `retryPolicy: {count: attempts, perTryTimeout, retryOn: [...]}` from `service.retries`
  (`retryOn` split on commas, blanks trimmed, empty entries dropped);
- `services`: `<apex>-primary` and `<apex>-canary` on `service.port` with the split's
  weights, each with the request header `l5d-dst-override:
  <service>.<ns>.svc.cluster.local:<port>` (so Linkerd sees the real destination);
- `ingressClassName` from the controller's `-ingress-class` flag, when set.

A/B (`analysis.match` and `split.matched_only`): the weighted route carries the prefix
condition plus one header condition per analysis header (`exact`; `prefix` and `suffix`
become `contains`, as in Flagger: a looser match), and a second route with the prefix alone
sends everything else to the primary (weights 100/0). Without `matched_only` the single
weighted route is written.

Metadata: labels are `service.apex.labels`; annotations `service.apex.annotations` plus the
Flux opt-out keys, merged over the live annotations (keys Ensign does not set are kept); a
controller owner reference ties a new HTTPProxy to the Canary, so `finalize` has nothing to
do.

Reading back: route 0 must have at least two services (else `HTTPProxy <apex>.<ns>
services not found`); the canary weight is 100 minus the primary's weight there, as in
Flagger. `mirrored` is always False (Contour cannot mirror here).

Where Ensign differs from Flagger, on purpose:

- Status: Flagger pre-fills `status: {currentStatus: valid, description: valid HTTPProxy}` in
  the object it creates. `status` is a subresource of HTTPProxy, so the API server discards
  it on create (Contour writes its own verdict); Ensign sends no status at all, and never
  reads it. A route Contour rejects simply carries no traffic, as with Flagger.
- Flagger puts the prefix into every header condition (`{prefix, header}` per header), which
  Contour refuses as soon as there are two headers ("more than one prefix is not allowed in a
  condition block"); Ensign writes the prefix once, then one `{header}` condition per header.
- Flagger flattens every `analysis.match` entry into one route, so several entries (OR in
  Flagger's docs) must all match (Contour ANDs conditions). Ensign writes one weighted route
  per entry, each with its own headers, before the default route; all weighted routes carry
  the same weights and `read_routes` reads route 0.
- Match conditions Contour cannot get from Flagger's mapping (`uri`, `method`,
  `queryParams`, `sourceLabels`, a `regex` header, a header with no value) raise
  `RouteError` naming the field; Flagger silently drops them.
- Both weights 0 (Flagger: `RoutingRule <apex>.<ns> update failed: no valid weights`) cannot
  reach `render` (a `Routes` always sums to 100); the check is kept as a guard.
- Flagger ignores weights in its diff and resets them to 100/0 on any other spec change;
  Ensign renders at the split in force, so a spec change keeps the weights.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ensign.engine.weights import FULL, Routes
from ensign.kube.kinds import HTTPPROXY, Kind
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

__all__ = [
    "CONTOUR_CAPABILITIES",
    "IDLE_TIMEOUT",
    "LINKERD_HEADER",
    "ContourRouter",
    "contour_match_errors",
    "httpproxy_spec",
    "no_valid_weights",
]

CONTOUR_CAPABILITIES: Final = CAPABILITIES[Provider.CONTOUR]
IDLE_TIMEOUT: Final = "5m"
LINKERD_HEADER: Final = "l5d-dst-override"
HEADER_OPS: Final = (("exact", "exact"), ("prefix", "contains"), ("suffix", "contains"))
"""StringMatch field -> Contour header condition operator (Flagger's mapping)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContourRouter:
    """Router for `provider: contour`; owns the HTTPProxy `<apex>`."""

    ingress_class: str = ""
    name: str = field(default=Provider.CONTOUR.value, init=False)
    capabilities: frozenset[Capability] = field(default=CONTOUR_CAPABILITIES, init=False)
    kinds: tuple[Kind, ...] = field(default=(HTTPPROXY,), init=False)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The HTTPProxy `<apex>` in the canary's namespace."""
        return (
            ObjectRef(
                kind=HTTPPROXY, namespace=canary.namespace or "", name=canary.spec.apex_service_name
            ),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """Canary weight = 100 - the primary's weight in route 0; None without the proxy."""
        namespace = canary.namespace or ""
        apex = canary.spec.apex_service_name
        live = objects.get(HTTPPROXY, namespace, apex)
        if live is None:
            return None
        where = f"HTTPProxy {apex}.{namespace}"
        routes = dicts((live.get("spec") or {}).get("routes"))
        services = dicts(routes[0].get("services")) if routes else []
        if len(services) < 2:
            raise RouteError(f"{where} services not found")
        primary_name = canary.spec.primary_service_name
        weight = next((s.get("weight", 0) for s in services if s.get("name") == primary_name), None)
        if weight is None:
            raise RouteError(f"{where} route 0 has no service {primary_name}")
        if not is_int(weight) or not 0 <= weight <= FULL:
            raise RouteError(f"{where} has a malformed weight for {primary_name}: {weight!r}")
        return Routes(primary=weight, canary=FULL - weight)

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the HTTPProxy, replace it when its spec, labels or annotations differ from
        what `split` and the spec ask for, or nothing when it already matches."""
        spec = httpproxy_spec(canary, split, ingress_class=self.ingress_class)
        return changes(
            apex_object_change(HTTPPROXY, canary, objects, canary_uid=canary_uid, spec=spec)
        )

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the HTTPProxy is owned by the Canary and garbage-collected with it."""
        return ()


def no_valid_weights(canary: Canary, routes: Routes) -> None:
    """Flagger's SetRoutes guard: both weights 0 is refused."""
    if routes.primary == 0 and routes.canary == 0:
        raise RouteError(
            f"RoutingRule {canary.spec.apex_service_name}.{canary.namespace or ''}"
            " update failed: no valid weights"
        )


def require_service(canary: Canary, provider: str) -> ServiceSpec:
    service = canary.spec.service
    if service is None:
        raise RouteError(f"spec.service is required by provider {provider}")
    return service


def httpproxy_spec(canary: Canary, split: Split, *, ingress_class: str = "") -> JSON:
    """The whole HTTPProxy spec for `split`."""
    service = require_service(canary, Provider.CONTOUR.value)
    no_valid_weights(canary, split.routes)
    errors = contour_match_errors(canary.spec.effective_analysis.match)
    if errors:
        path, message = errors[0]
        raise RouteError(f"{path}: {message}")
    prefix = _prefix(service)
    fields = _route_fields(service)
    namespace = canary.namespace or ""

    def services(primary: int, canary_weight: int) -> list[JSON]:
        return [
            _service(canary.spec.primary_service_name, namespace, service.port, primary),
            _service(canary.spec.canary_service_name, namespace, service.port, canary_weight),
        ]

    weights = split.routes
    match = canary.spec.effective_analysis.match
    routes: list[JSON] = []
    if match and split.matched_only:
        for entry in match:
            conditions: list[JSON] = [{"prefix": prefix}, *_header_conditions(entry)]
            routes.append(
                {
                    "conditions": conditions,
                    **copy.deepcopy(fields),
                    "services": services(weights.primary, weights.canary),
                }
            )
        routes.append(
            {
                "conditions": [{"prefix": prefix}],
                **copy.deepcopy(fields),
                "services": services(FULL, 0),
            }
        )
    else:
        routes.append(
            {
                "conditions": [{"prefix": prefix}],
                **fields,
                "services": services(weights.primary, weights.canary),
            }
        )
    spec: JSON = {}
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    spec["routes"] = routes
    return spec


def contour_match_errors(match: Sequence[Mapping[str, object]]) -> tuple[tuple[str, str], ...]:
    """(field path, message) for each part of `analysis.match` the Contour router cannot
    express: anything but `headers` with an `exact`, `prefix` or `suffix` value."""
    out: list[tuple[str, str]] = []
    for index, entry in enumerate(match):
        at = f"spec.analysis.match[{index}]"
        for key in entry:
            if key != "headers":
                out.append(
                    (f"{at}.{key}", f"matching on {key} is not supported by provider contour")
                )
        headers = entry.get("headers")
        if not isinstance(headers, Mapping):
            continue
        for name, cond in headers.items():
            fields = cond if isinstance(cond, Mapping) else {}
            if any(fields.get(key) for key, _ in HEADER_OPS):
                continue
            others = [str(key) for key in fields if fields.get(key)]
            if others:
                out.append(
                    (
                        f"{at}.headers.{name}.{others[0]}",
                        f"a {others[0]} header value is not supported by provider contour"
                        " (exact, prefix or suffix only)",
                    )
                )
            else:
                out.append(
                    (f"{at}.headers.{name}", "a header condition needs an exact, prefix or suffix")
                )
    return tuple(out)


def _header_conditions(entry: Mapping[str, object]) -> list[JSON]:
    headers = entry.get("headers")
    out: list[JSON] = []
    if not isinstance(headers, Mapping):
        return out
    for name, cond in headers.items():
        assert isinstance(cond, Mapping)
        # The first of exact, prefix, suffix that is set (Flagger's last-assignment order
        # makes suffix win over prefix over exact; a StringMatch sets only one).
        for key, op in reversed(HEADER_OPS):
            if cond.get(key):
                out.append({"header": {"name": str(name), op: str(cond[key])}})
                break
    return out


def _prefix(service: ServiceSpec) -> str:
    for entry in dicts(service.raw.get("match")):
        uri = entry.get("uri")
        if isinstance(uri, Mapping) and isinstance(uri.get("prefix"), str) and uri["prefix"]:
            return str(uri["prefix"])
    return "/"


def _route_fields(service: ServiceSpec) -> JSON:
    """timeoutPolicy and retryPolicy, when the spec sets them."""
    out: JSON = {}
    if service.timeout:
        out["timeoutPolicy"] = {"response": service.timeout, "idle": IDLE_TIMEOUT}
    retries = service.raw.get("retries")
    if isinstance(retries, Mapping) and retries:
        policy: JSON = {}
        attempts = retries.get("attempts")
        if is_int(attempts):
            policy["count"] = attempts
        if retries.get("perTryTimeout"):
            policy["perTryTimeout"] = str(retries["perTryTimeout"])
        on = [part.strip() for part in str(retries.get("retryOn") or "").split(",")]
        if any(on):
            policy["retryOn"] = [part for part in on if part]
        if policy:
            out["retryPolicy"] = policy
    return out


def _service(name: str, namespace: str, port: int, weight: int) -> JSON:
    return {
        "name": name,
        "port": port,
        "weight": weight,
        "requestHeadersPolicy": {
            "set": [
                {
                    "name": LINKERD_HEADER,
                    "value": f"{name}.{namespace}.svc.cluster.local:{port}",
                }
            ]
        },
    }
