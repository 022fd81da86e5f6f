"""The HTTPRoute `spec` the Gateway API router writes for one split. Pure.

Shapes follow Flagger's Gateway API router (§3.5 of the behaviour notes), field for field:

- `parentRefs` copied from `service.gatewayRefs` (group, kind, namespace, name, sectionName,
  port); `hostnames` from `service.hosts` (omitted when empty, as Go's `omitempty` does);
- `service.match` (Istio `HTTPMatchRequest`s) mapped to Gateway API matches
  (`gatewayapi_matches`), or one `PathPrefix /` match when there is none;
- rule filters in Flagger's order: RequestHeaderModifier and ResponseHeaderModifier from
  `service.headers` (add/set sorted by name then value), URLRewrite from `service.rewrite`,
  one RequestMirror per `service.mirror[]` (its backendRef), then CORS from `corsPolicy`
  (v1 only; only the plain-string `allowOrigin` list is mapped, as in Flagger, which logs and
  ignores the StringMatch form `allowOrigins`);
- `timeouts.request` / `timeouts.backendRequest` from `service.timeout` / `backendTimeout`
  (v1 only) on every rule that carries the service's filters;
- the weighted rule: backendRefs `<apex>-primary` and `<apex>-canary` (group "", kind
  Service, port `service.port`), weights written even when 0.

Variations: A/B (`analysis.match`), Blue/Green mirroring and session affinity, see
`route_spec`.

Where Ensign differs from Flagger:
- Match selectors Gateway API cannot express raise `RouteError` naming the field (see
  `gatewayapi_matches`).
- A/B and session affinity are not combined: with `analysis.match` the A/B rules are
  written (Flagger rewrites the sticky-cookie rule's matches in that case).
- At canary weight 0 without a previous cookie only the weighted rule is written (Flagger
  writes a second, identical copy of it).
- The primary cookie's `Set-Cookie` carries the same attributes (Domain, Path, SameSite,
  HttpOnly, Secure, Partitioned) as the canary cookie's, so both cookies have one scope.
  As in Flagger, the cookie-expiry header (`Max-Age=-1`) carries none, and a sticky rule's
  cookie header replaces the headers of the service match it is merged into.
- The Blue/Green mirror filter carries `percent: analysis.mirrorWeight` when it is > 0;
  Flagger's Gateway API router mirrors 100 % (its Istio router honours `mirrorWeight`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from ensign.engine.affinity import AffinityCookies
from ensign.model.analysis import SessionAffinity
from ensign.model.canary import Canary, ServiceSpec
from ensign.model.durations import parse_duration
from ensign.routers.cookies import cookie_attributes
from ensign.routers.gatewayapi_matches import DEFAULT_MATCH, map_matches, merge_matches
from ensign.routers.protocol import RouteError, Split

JSON: TypeAlias = dict[str, Any]

PARENT_REF_FIELDS: Final = ("group", "kind", "namespace", "name", "sectionName", "port")
MIRROR_REF_FIELDS: Final = ("group", "kind", "namespace", "name", "port")
COOKIE_HEADER: Final = "Cookie"
SET_COOKIE_HEADER: Final = "Set-Cookie"
GATEWAY_REFS_REQUIRED: Final = "GatewayRefs must be specified when using Gateway API as a provider."


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteFeatures:
    """What the API version can express (from the provider's capabilities)."""

    timeouts: bool
    cors: bool
    primary_cookie: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class _Backends:
    primary: str
    canary: str
    port: int

    def refs(self, primary_weight: int, canary_weight: int) -> list[JSON]:
        return [
            backend_ref(self.primary, self.port, primary_weight),
            backend_ref(self.canary, self.port, canary_weight),
        ]


def backend_ref(name: str, port: int, weight: int) -> JSON:
    """A Service backendRef with an explicit weight (0 included, as Flagger writes it)."""
    return {"group": "", "kind": "Service", "name": name, "port": port, "weight": weight}


def route_spec(canary: Canary, split: Split, features: RouteFeatures) -> JSON:
    """The whole HTTPRoute spec for `split`.

    - A/B (`analysis.match`): with `split.matched_only`, rule 0 is the weighted rule whose
      matches are analysis x service matches (headers and queryParams of the analysis entry
      replace the service match's), rule 1 sends the service matches to the primary only
      (weight 100); without it, the plain weighted rule.
    - Blue/Green mirroring: `split.routes.mirrored` with `analysis.iterations > 0` appends a
      RequestMirror filter to `<apex>-canary` to the weighted rule.
    - Session affinity: see `_affinity_rules`.
    """
    service = canary.spec.service
    if service is None or not service.gateway_refs:
        raise RouteError(GATEWAY_REFS_REQUIRED)
    analysis = canary.spec.effective_analysis
    backends = _Backends(
        primary=canary.spec.primary_service_name,
        canary=canary.spec.canary_service_name,
        port=service.port,
    )
    service_matches = map_matches(service.raw.get("match"), "spec.service.match")
    matches = service_matches or [dict(DEFAULT_MATCH)]
    filters = service_filters(service, features)
    timeouts = _timeouts(service) if features.timeouts else None
    routes = split.routes

    weighted_filters = list(filters)
    if routes.mirrored and analysis.iterations > 0:
        weighted_filters.append(_mirror_to_canary(backends, analysis.mirror_weight))
    weighted = _rule(matches, weighted_filters, backends.refs(routes.primary, routes.canary))
    if timeouts:
        weighted["timeouts"] = timeouts

    rules: list[JSON]
    if analysis.match:
        rules = [weighted]
        if split.matched_only:
            ab_matches = map_matches(analysis.match, "spec.analysis.match")
            weighted["matches"] = merge_matches(ab_matches, matches)
            primary_only = _rule(
                matches, filters, [backend_ref(backends.primary, service.port, 100)]
            )
            if timeouts:
                primary_only["timeouts"] = timeouts
            rules.append(primary_only)
    elif analysis.session_affinity is not None:
        rules = _affinity_rules(
            weighted,
            affinity=analysis.session_affinity,
            cookies=split.cookies,
            canary_weight=routes.canary,
            service_matches=service_matches,
            backends=backends,
            interval_seconds=int(analysis.interval_seconds),
            primary_cookie=features.primary_cookie,
        )
    else:
        rules = [weighted]

    spec: JSON = {
        "parentRefs": [_copy_fields(ref, PARENT_REF_FIELDS) for ref in service.gateway_refs]
    }
    if service.hosts:
        spec["hostnames"] = list(service.hosts)
    spec["rules"] = rules
    # A fresh tree: no dict is shared between rules (YAML would write anchors for them).
    fresh: JSON = json.loads(json.dumps(spec))
    return fresh


def _rule(matches: list[JSON], filters: list[JSON], backend_refs: list[JSON]) -> JSON:
    rule: JSON = {"matches": matches}
    if filters:
        rule["filters"] = filters
    rule["backendRefs"] = backend_refs
    return rule


def _timeouts(service: ServiceSpec) -> JSON | None:
    timeouts: JSON = {}
    if service.timeout:
        timeouts["request"] = service.timeout
    if service.backend_timeout:
        timeouts["backendRequest"] = service.backend_timeout
    return timeouts or None


def _mirror_to_canary(backends: _Backends, mirror_weight: int) -> JSON:
    mirror: JSON = {
        "backendRef": {
            "group": "",
            "kind": "Service",
            "name": backends.canary,
            "port": backends.port,
        }
    }
    if mirror_weight > 0:
        mirror["percent"] = mirror_weight
    return {"type": "RequestMirror", "requestMirror": mirror}


# --- session affinity ----------------------------------------------------------------


def _affinity_rules(
    weighted: JSON,
    *,
    affinity: SessionAffinity,
    cookies: AffinityCookies,
    canary_weight: int,
    service_matches: list[JSON],
    backends: _Backends,
    interval_seconds: int,
    primary_cookie: bool,
) -> list[JSON]:
    """Rules for cookie stickiness, in order [sticky canary, (sticky primary), weighted].

    Canary weight > 0 with a canary cookie: responses from the canary backend set the cookie
    (`Max-Age=<maxAge>` and the cookie attributes), requests carrying it go 100 % to the
    canary; with a primary cookie (v1), responses from the primary set it for one interval
    and requests carrying it go 100 % to the primary. Canary weight 0 with a previous cookie:
    a rule for requests still carrying it answers `Set-Cookie: <previous>; Max-Age=-1`."""
    if canary_weight > 0:
        if not cookies.canary:
            return [weighted]
        attributes = cookie_attributes(affinity)
        _set_cookie_on(
            weighted, backends.canary, f"{cookies.canary}; Max-Age={affinity.max_age}{attributes}"
        )
        rules = [_sticky_rule(weighted, cookies.canary, service_matches, backends.refs(0, 100))]
        if primary_cookie and affinity.primary_cookie_name and cookies.primary:
            _set_cookie_on(
                weighted,
                backends.primary,
                f"{cookies.primary}; Max-Age={interval_seconds}{attributes}",
            )
            rules.append(
                _sticky_rule(weighted, cookies.primary, service_matches, backends.refs(100, 0))
            )
        return [*rules, weighted]
    if not cookies.previous:
        return [weighted]
    expiry = _sticky_rule(
        weighted, cookies.previous, service_matches, list(weighted["backendRefs"])
    )
    expiry["filters"] = [
        *expiry.get("filters", ()),
        _add_header("ResponseHeaderModifier", SET_COOKIE_HEADER, f"{cookies.previous}; Max-Age=-1"),
    ]
    return [_ordered_rule(expiry), weighted]


def _set_cookie_on(rule: JSON, backend_name: str, value: str) -> None:
    for ref in rule["backendRefs"]:
        if ref["name"] == backend_name:
            ref["filters"] = [
                *ref.get("filters", ()),
                _add_header("ResponseHeaderModifier", SET_COOKIE_HEADER, value),
            ]


def _sticky_rule(
    weighted: JSON, cookie: str, service_matches: list[JSON], backend_refs: list[JSON]
) -> JSON:
    name, _, value = cookie.partition("=")
    cookie_match: JSON = {
        "headers": [
            {"type": "RegularExpression", "name": COOKIE_HEADER, "value": f".*{name}.*{value}.*"}
        ]
    }
    rule = dict(weighted)
    rule["matches"] = merge_matches([cookie_match], service_matches)
    rule["backendRefs"] = backend_refs
    return rule


def _ordered_rule(rule: JSON) -> JSON:
    order = ("matches", "filters", "backendRefs", "timeouts")
    return {key: rule[key] for key in order if key in rule}


def _add_header(filter_type: str, name: str, value: str) -> JSON:
    field = filter_type[0].lower() + filter_type[1:]
    return {"type": filter_type, field: {"add": [{"name": name, "value": value}]}}


# --- filters -------------------------------------------------------------------------


def service_filters(service: ServiceSpec, features: RouteFeatures) -> list[JSON]:
    """The filters every rule carries, in Flagger's order."""
    raw = service.raw
    filters: list[JSON] = []
    headers = raw.get("headers")
    if isinstance(headers, Mapping):
        for key, filter_type in (
            ("request", "RequestHeaderModifier"),
            ("response", "ResponseHeaderModifier"),
        ):
            block = headers.get(key)
            if isinstance(block, Mapping):
                field = filter_type[0].lower() + filter_type[1:]
                filters.append({"type": filter_type, field: _header_modifier(block)})
    rewrite = raw.get("rewrite")
    if isinstance(rewrite, Mapping):
        filters.append({"type": "URLRewrite", "urlRewrite": _url_rewrite(rewrite)})
    mirrors = raw.get("mirror")
    if isinstance(mirrors, Sequence) and not isinstance(mirrors, str):
        for mirror in mirrors:
            ref = mirror.get("backendRef") if isinstance(mirror, Mapping) else None
            if isinstance(ref, Mapping):
                backend = _copy_fields(ref, MIRROR_REF_FIELDS)
                filters.append({"type": "RequestMirror", "requestMirror": {"backendRef": backend}})
    cors = raw.get("corsPolicy")
    if features.cors and isinstance(cors, Mapping):
        filters.append({"type": "CORS", "cors": _cors(cors)})
    return filters


def _header_modifier(block: Mapping[str, object]) -> JSON:
    modifier: JSON = {}
    for key in ("set", "add"):
        values = block.get(key)
        if isinstance(values, Mapping) and values:
            pairs = sorted((str(name), str(value)) for name, value in values.items())
            modifier[key] = [{"name": name, "value": value} for name, value in pairs]
    remove = block.get("remove")
    if isinstance(remove, Sequence) and not isinstance(remove, str) and remove:
        modifier["remove"] = [str(name) for name in remove]
    return modifier


def _url_rewrite(rewrite: Mapping[str, object]) -> JSON:
    out: JSON = {}
    authority = rewrite.get("authority")
    if isinstance(authority, str) and authority:
        out["hostname"] = authority
    uri = rewrite.get("uri")
    if isinstance(uri, str) and uri:
        if rewrite.get("type") == "ReplacePrefixMatch":
            out["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": uri}
        else:
            out["path"] = {"type": "ReplaceFullPath", "replaceFullPath": uri}
    return out


def _cors(policy: Mapping[str, object]) -> JSON:
    cors: JSON = {}
    origins = _strings(policy.get("allowOrigin"))
    if origins:
        cors["allowOrigins"] = origins
    credentials = policy.get("allowCredentials")
    if isinstance(credentials, bool):
        cors["allowCredentials"] = credentials
    for key in ("allowMethods", "allowHeaders", "exposeHeaders"):
        values = _strings(policy.get(key))
        if values:
            cors[key] = values
    max_age = policy.get("maxAge")
    if isinstance(max_age, str) and max_age:
        try:
            cors["maxAge"] = int(parse_duration(max_age))
        except ValueError as error:
            raise RouteError(
                f"spec.service.corsPolicy.maxAge: {max_age!r} is not a duration"
            ) from error
    return cors


def _strings(raw: object) -> list[str]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return []
    return [item for item in raw if isinstance(item, str)]


def _copy_fields(source: Mapping[str, object], fields: Iterable[str]) -> JSON:
    return {key: source[key] for key in fields if source.get(key) is not None}
