"""The VirtualService and DestinationRule specs the Istio router writes for one split. Pure.

Shapes follow Flagger's Istio router (§3.6 of the behaviour notes), field for field:

- DestinationRules `<apex>-primary` / `<apex>-canary`: `host` is the rule's name,
  `trafficPolicy` is `service.trafficPolicy` (omitted when unset);
- VirtualService `hosts`: `service.hosts`, plus the apex name unless a host is the apex or
  `*`; `gateways`: `service.gateways`, or `["mesh"]`; with `service.delegation` both are
  written empty (a delegate VirtualService), and setting either is an error;
- HTTP (the default): one route with `match` (`service.match`, Istio's own
  `HTTPMatchRequest`s, copied), `route` (destinations `<apex>-primary` and `<apex>-canary`,
  weights written even when 0), `rewrite` (uri, authority), `timeout`, `retries` (attempts,
  perTryTimeout, retryOn), `corsPolicy` and `headers`;
- TCP (`service.appProtocol: tcp`, any case): one route whose `match` has one L4 match per
  `service.match` entry carrying only its `port`, and the same two destinations;
- destinations name `port.number: service.port` only with `service.portDiscovery` and either
  delegation or a first gateway other than `mesh` (Istio needs the port to pick one of the
  Service's ports then).

Variations: A/B (`analysis.match`), mirroring and session affinity, see `http_routes`.

Where Ensign differs from Flagger:
- A/B matches also take the analysis entry's `queryParams` (besides `headers` and
  `sourceLabels`) over the service match they are merged into; Flagger drops them silently
  when `service.match` is set. The primary-only A/B route has weight 100 (Flagger writes the
  primary's split weight, 0 during an A/B run, which Istio reads as 100 % for a single
  destination).
- A/B and session affinity are not combined: with `analysis.match` the A/B routes are
  written, as the Gateway API router does.
- The primary cookie's `Set-Cookie` carries the same attributes as the canary cookie's
  (Domain, Path, SameSite, HttpOnly, Secure, Partitioned), as in the Gateway API router.
- TCP routes cannot match headers, mirror or set cookies: `analysis.match`,
  `analysis.mirror` and `analysis.sessionAffinity` with `appProtocol: tcp` raise
  `RouteError` (Flagger ignores them, and a mirrored canary then loops at weight 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ensign.engine.affinity import AffinityCookies
from ensign.engine.weights import Routes
from ensign.model.analysis import SessionAffinity
from ensign.model.canary import Canary, ServiceSpec
from ensign.routers.cookies import cookie_attributes
from ensign.routers.metadata import JSON
from ensign.routers.protocol import RouteError, Split

MESH: Final = "mesh"
COOKIE_HEADER: Final = "Cookie"
SET_COOKIE_HEADER: Final = "Set-Cookie"
HTTP_ROUTE_ORDER: Final = (
    "match",
    "route",
    "rewrite",
    "timeout",
    "retries",
    "mirror",
    "mirrorPercentage",
    "corsPolicy",
    "headers",
)
"""Key order of an HTTP route (Istio's `HTTPRoute` field order)."""
MERGED_MATCH_FIELDS: Final = ("headers", "queryParams", "sourceLabels")
"""What an `analysis.match` entry replaces in the service match it is merged into."""
REWRITE_FIELDS: Final = ("uri", "authority")
RETRY_FIELDS: Final = ("attempts", "perTryTimeout", "retryOn")
CORS_FIELDS: Final = (
    "allowOrigin",
    "allowOrigins",
    "allowMethods",
    "allowHeaders",
    "exposeHeaders",
    "maxAge",
    "allowCredentials",
)
HEADER_FIELDS: Final = ("request", "response")


def is_tcp(service: ServiceSpec) -> bool:
    """True when `service.appProtocol` is `tcp` (any case): the router writes TCP routes."""
    return (service.app_protocol or "").lower() == "tcp"


def require_service(canary: Canary) -> ServiceSpec:
    service = canary.spec.service
    if service is None:
        raise RouteError("spec.service is required by provider istio")
    return service


def destination_rule_spec(service: ServiceSpec, host: str) -> JSON:
    """`host` plus `service.trafficPolicy` when set."""
    spec: JSON = {"host": host}
    policy = service.raw.get("trafficPolicy")
    if isinstance(policy, Mapping) and policy:
        spec["trafficPolicy"] = _fresh(policy)
    return spec


@dataclass(frozen=True, slots=True, kw_only=True)
class Destinations:
    """The two destinations, and the port they name (None: no port)."""

    primary: str
    canary: str
    port: int | None

    def one(self, host: str, weight: int) -> JSON:
        target: JSON = {"host": host}
        if self.port is not None:
            target["port"] = {"number": self.port}
        return {"destination": target, "weight": weight}

    def both(self, primary_weight: int, canary_weight: int) -> list[JSON]:
        return [self.one(self.primary, primary_weight), self.one(self.canary, canary_weight)]


def hosts_and_gateways(canary: Canary, service: ServiceSpec) -> tuple[list[str], list[str]]:
    """The VirtualService's `hosts` and `gateways` (both empty for a delegate)."""
    apex = canary.spec.apex_service_name
    if service.delegation:
        if service.hosts or service.gateways:
            raise RouteError(
                f"VirtualService {apex}.{canary.namespace or ''} cannot have hosts and"
                " gateways when delegation is enabled"
            )
        return [], []
    hosts = list(service.hosts)
    if not any(host in (apex, "*") for host in hosts):
        hosts.append(apex)
    return hosts, list(service.gateways) or [MESH]


def destinations(canary: Canary, service: ServiceSpec, gateways: list[str]) -> Destinations:
    named_port = service.port_discovery and (
        service.delegation or bool(gateways and gateways[0] != MESH)
    )
    return Destinations(
        primary=canary.spec.primary_service_name,
        canary=canary.spec.canary_service_name,
        port=service.port if named_port else None,
    )


def virtual_service_spec(canary: Canary, split: Split) -> JSON:
    """The whole VirtualService spec for `split`."""
    service = require_service(canary)
    hosts, gateways = hosts_and_gateways(canary, service)
    dests = destinations(canary, service, gateways)
    spec: JSON = {"hosts": hosts, "gateways": gateways}
    if is_tcp(service):
        _refuse_tcp_features(canary)
        spec["tcp"] = [tcp_route(service, dests, split.routes)]
    else:
        spec["http"] = http_routes(canary, service, split, dests)
    fresh: JSON = _fresh(spec)
    return fresh


def tcp_route(service: ServiceSpec, dests: Destinations, routes: Routes) -> JSON:
    route: JSON = {}
    matches = _match_list(service.raw.get("match"), "spec.service.match")
    if matches:
        route["match"] = [{"port": entry["port"]} if entry.get("port") else {} for entry in matches]
    route["route"] = dests.both(routes.primary, routes.canary)
    return route


def _refuse_tcp_features(canary: Canary) -> None:
    analysis = canary.spec.effective_analysis
    why = "provider istio writes TCP routes for service.appProtocol tcp"
    if analysis.match:
        raise RouteError(f"spec.analysis.match: A/B testing needs HTTP routes ({why})")
    if analysis.mirror:
        raise RouteError(f"spec.analysis.mirror: TCP traffic cannot be mirrored ({why})")
    if analysis.session_affinity is not None:
        raise RouteError(f"spec.analysis.sessionAffinity: cookies need HTTP routes ({why})")


def http_routes(
    canary: Canary, service: ServiceSpec, split: Split, dests: Destinations
) -> list[JSON]:
    """The `http` routes for `split`.

    - The weighted route: service matches and fields, destinations at the split's weights;
      when the split is mirrored it carries `mirror.host: <apex>-canary` and, with
      `analysis.mirrorWeight > 0`, `mirrorPercentage.value` (Blue/Green mirroring and the
      canary strategy's mirror pre-stage alike).
    - A/B (`analysis.match`) with `split.matched_only`: the weighted route matches analysis
      x service matches, then a route sends the service matches to the primary only.
      Without `matched_only`: the weighted route alone.
    - Session affinity: see `_affinity_routes`.
    """
    analysis = canary.spec.effective_analysis
    routes = split.routes
    service_matches = _match_list(service.raw.get("match"), "spec.service.match")
    fields = service_fields(service)
    weighted = _http_route(service_matches, fields, dests.both(routes.primary, routes.canary))
    if routes.mirrored:
        weighted["mirror"] = {"host": dests.canary}
        if analysis.mirror_weight > 0:
            weighted["mirrorPercentage"] = {"value": analysis.mirror_weight}
        weighted = _ordered(weighted)
    if analysis.match:
        if not split.matched_only:
            return [weighted]
        ab_matches = _match_list(list(analysis.match), "spec.analysis.match")
        weighted["match"] = merge_matches(ab_matches, service_matches)
        primary_only = _http_route(service_matches, fields, [dests.one(dests.primary, 100)])
        return [_ordered(weighted), primary_only]
    if analysis.session_affinity is not None:
        return _affinity_routes(
            weighted,
            affinity=analysis.session_affinity,
            cookies=split.cookies,
            canary_weight=routes.canary,
            service_matches=service_matches,
            dests=dests,
            interval_seconds=int(analysis.interval_seconds),
        )
    return [weighted]


def merge_matches(analysis: list[JSON], service: list[JSON]) -> list[JSON]:
    """Cross product: each analysis entry x each service match (a copy), the analysis
    entry's headers, queryParams and sourceLabels replacing the service match's when set."""
    if not service or not analysis:
        return [_fresh(match) for match in analysis or service]
    merged = []
    for extra in analysis:
        for base in service:
            match = _fresh(base)
            for key in MERGED_MATCH_FIELDS:
                if extra.get(key):
                    match[key] = _fresh(extra[key])
            merged.append(match)
    return merged


def service_fields(service: ServiceSpec) -> JSON:
    """rewrite, timeout, retries, corsPolicy and headers: what every HTTP route carries."""
    raw = service.raw
    out: JSON = {}
    rewrite = _pick(raw.get("rewrite"), REWRITE_FIELDS)
    if rewrite:
        out["rewrite"] = rewrite
    if service.timeout:
        out["timeout"] = service.timeout
    retries = _pick(raw.get("retries"), RETRY_FIELDS)
    if retries:
        out["retries"] = retries
    cors = _pick(raw.get("corsPolicy"), CORS_FIELDS)
    if cors:
        out["corsPolicy"] = cors
    headers = _pick(raw.get("headers"), HEADER_FIELDS)
    if headers:
        out["headers"] = headers
    return out


# --- session affinity ----------------------------------------------------------------


def _affinity_routes(
    weighted: JSON,
    *,
    affinity: SessionAffinity,
    cookies: AffinityCookies,
    canary_weight: int,
    service_matches: list[JSON],
    dests: Destinations,
    interval_seconds: int,
) -> list[JSON]:
    """Routes for cookie stickiness, in order [sticky canary, (sticky primary), weighted].

    Canary weight > 0 with a canary cookie: the weighted route's canary destination answers
    `Set-Cookie: <cookie>; Max-Age=<maxAge>` (plus the cookie attributes) and requests
    carrying the cookie go 100 % to the canary; with a primary cookie, the primary
    destination sets it for one interval and requests carrying it go 100 % to the primary.
    Canary weight 0 with a previous cookie: a route for requests still carrying it answers
    `Set-Cookie: <previous>; Max-Age=-1`, then the weighted route."""
    if canary_weight > 0:
        if not cookies.canary:
            return [weighted]
        attributes = cookie_attributes(affinity)
        _set_cookie_on(
            weighted, dests.canary, f"{cookies.canary}; Max-Age={affinity.max_age}{attributes}"
        )
        routes = [_sticky_route(weighted, cookies.canary, service_matches, dests.both(0, 100))]
        if affinity.primary_cookie_name and cookies.primary:
            _set_cookie_on(
                weighted,
                dests.primary,
                f"{cookies.primary}; Max-Age={interval_seconds}{attributes}",
            )
            routes.append(
                _sticky_route(weighted, cookies.primary, service_matches, dests.both(100, 0))
            )
        return [*routes, weighted]
    if not cookies.previous:
        return [weighted]
    expiry = _sticky_route(weighted, cookies.previous, service_matches, _fresh(weighted["route"]))
    headers = _fresh(expiry.get("headers") or {})
    response = headers.setdefault("response", {})
    response["add"] = {
        **(response.get("add") or {}),
        SET_COOKIE_HEADER: f"{cookies.previous}; Max-Age=-1",
    }
    expiry["headers"] = headers
    return [_ordered(expiry), weighted]


def _set_cookie_on(route: JSON, host: str, value: str) -> None:
    for destination in route["route"]:
        if destination["destination"]["host"] == host:
            destination["headers"] = {"response": {"add": {SET_COOKIE_HEADER: value}}}


def _sticky_route(
    weighted: JSON, cookie: str, service_matches: list[JSON], route: list[JSON]
) -> JSON:
    name, _, value = cookie.partition("=")
    cookie_match: JSON = {"headers": {COOKIE_HEADER: {"regex": f".*{name}.*{value}.*"}}}
    sticky = _fresh(weighted)
    sticky["match"] = merge_matches([cookie_match], service_matches)
    sticky["route"] = route
    return _ordered(sticky)


# --- building blocks -----------------------------------------------------------------


def _http_route(matches: list[JSON], fields: JSON, route: list[JSON]) -> JSON:
    out: JSON = {"route": route, **_fresh(fields)}
    if matches:
        out["match"] = _fresh(matches)
    return _ordered(out)


def _ordered(route: JSON) -> JSON:
    known: JSON = {key: route[key] for key in HTTP_ROUTE_ORDER if key in route}
    return {**known, **{key: value for key, value in route.items() if key not in known}}


def _match_list(raw: object, path: str) -> list[JSON]:
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise RouteError(f"{path} must be a list of match objects")
    out = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise RouteError(f"{path}[{index}] must be a match object")
        out.append(_fresh(entry))
    return out


def _pick(raw: object, fields: Sequence[str]) -> JSON:
    if not isinstance(raw, Mapping):
        return {}
    return {key: _fresh(raw[key]) for key in fields if raw.get(key) not in (None, "", [], {})}


def _fresh(value: Any) -> Any:
    """A deep, plain copy (dicts and lists): nothing shared between routes (YAML would
    write anchors for shared dicts) and no read-only mappings from the model."""
    if isinstance(value, Mapping):
        return {str(key): _fresh(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_fresh(item) for item in value]
    return value
