"""Gateway API HTTPRoutes read as the data plane reads them. Pure.

Semantics from the Gateway API specification (HTTPRouteRule, HTTPRouteMatch):

- `hostnames`: none means every host; `*.example.com` matches any name below example.com
  (one label or more), never example.com itself. A port in the Host header is ignored.
- A rule matches when any of its matches does (a rule without matches is `PathPrefix /`);
  a match needs its path, method, every header and every query parameter to match.
  Paths: `Exact`, `PathPrefix` on `/`-separated segments (a trailing `/` in the value is
  ignored), `RegularExpression` as a full match. Headers: name case-insensitive, `Exact` or
  `RegularExpression` (full match). Query parameters: name case-sensitive, same types.
- Among matching rules (of all the routes given): an `Exact` path first, then the longest
  `PathPrefix`, then a method, then the most header matches, then the most query matches;
  ties go to the older route, then to namespace/name order, then to the first rule in list
  order. The spec leaves `RegularExpression` precedence to implementations: it ranks after
  `Exact` and before every prefix here, as in Envoy Gateway and Istio.
- backendRef weights default to 1 and share proportionally; when they are all 0 the data
  plane answers 500 (the spec's "no valid backend").
- `RequestMirror` filters (rule level, or backendRef level scaled by that backend's share)
  copy `percent` or `fraction` of the requests, 100 % when neither is set.
  `ResponseHeaderModifier` add/set entries are the response headers.
- A route whose status lists parents none of which accepted it is not served.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ensign.traffic.manifest import fullmatch, qualified_name
from ensign.traffic.request import Destination, Header, Mirror, Request, Routing, Rule

__all__ = ["Rule", "describe_match", "route_http", "rules_of"]

JSON = Mapping[str, Any]
ROOT_MATCH: JSON = {"path": {"type": "PathPrefix", "value": "/"}}


def route_http(routes: Iterable[JSON], request: Request) -> Routing:
    """Where `request` goes through `routes` (HTTPRoutes, all attached to the same
    listener). 404 when no rule matches."""
    best: tuple[tuple[Any, ...], JSON, int] | None = None
    for route in routes:
        if not _served(route) or not _host_matches(route, request.hostname):
            continue
        for index, rule in enumerate(_rules(route)):
            for match in _matches(rule):
                if not _match(match, request):
                    continue
                key = (*_rank(match), *_age(route), index)
                if best is None or key < best[0]:
                    best = (key, route, index)
    if best is None:
        return Routing(status=404, reason="no HTTPRoute rule matches the request")
    _, route, index = best
    return _apply(route, index)


def rules_of(route: JSON) -> tuple[Rule, ...]:
    """The rules of an HTTPRoute, in list order."""
    return tuple(
        Rule(index, tuple(describe_match(m) for m in _matches(rule)), _apply(route, index))
        for index, rule in enumerate(_rules(route))
    )


def describe_match(match: JSON) -> str:
    """`PathPrefix /api, GET, header x-canary=insider, header Cookie ~ .*c.*, query a=b`."""
    path = match.get("path") or {"type": "PathPrefix", "value": "/"}
    ops = {"Exact": "=", "RegularExpression": " ~ "}
    parts = [f"{path.get('type') or 'PathPrefix'} {path.get('value') or '/'}"]
    if match.get("method"):
        parts.append(str(match["method"]))
    for label, key in (("header", "headers"), ("query", "queryParams")):
        for h in match.get(key) or []:
            op = ops.get(str(h.get("type") or "Exact"), "=")
            parts.append(f"{label} {h.get('name')}{op}{h.get('value')}")
    return ", ".join(parts)


def _rules(route: JSON) -> Sequence[JSON]:
    return list((route.get("spec") or {}).get("rules") or [])


def _matches(rule: JSON) -> Sequence[JSON]:
    return list(rule.get("matches") or []) or [ROOT_MATCH]


def _served(route: JSON) -> bool:
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return True
    return any(
        c.get("type") == "Accepted" and c.get("status") == "True"
        for p in parents
        for c in p.get("conditions") or []
    )


def _host_matches(route: JSON, host: str) -> bool:
    names = [str(h).lower() for h in (route.get("spec") or {}).get("hostnames") or []]
    if not names:
        return True
    return any(host == n or (n.startswith("*.") and host.endswith(n[1:])) for n in names)


def _match(match: JSON, request: Request) -> bool:
    path = match.get("path") or ROOT_MATCH["path"]
    kind, value = str(path.get("type") or "PathPrefix"), str(path.get("value") or "/")
    if not _path_matches(kind, value, request.path):
        return False
    if match.get("method") and str(match["method"]).upper() != request.method.upper():
        return False
    for h in match.get("headers") or []:
        if not _value_matches(h, request.header(str(h.get("name") or ""))):
            return False
    for q in match.get("queryParams") or []:
        if not _value_matches(q, request.query.get(str(q.get("name") or ""))):
            return False
    return True


def _path_matches(kind: str, value: str, path: str) -> bool:
    if kind == "Exact":
        return path == value
    if kind == "RegularExpression":
        return fullmatch(value, path)
    prefix = value.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or not prefix


def _value_matches(spec: JSON, actual: str | None) -> bool:
    if actual is None:
        return False
    if str(spec.get("type") or "Exact") == "RegularExpression":
        return fullmatch(str(spec.get("value") or ""), actual)
    return actual == str(spec.get("value") or "")


def _rank(match: JSON) -> tuple[int, int, int, int, int]:
    """Sort key, smaller first: exact path, regex, longest prefix, method, headers, query."""
    path = match.get("path") or ROOT_MATCH["path"]
    kind = str(path.get("type") or "PathPrefix")
    kind_rank = {"Exact": 0, "RegularExpression": 1}.get(kind, 2)
    length = len(str(path.get("value") or "/").rstrip("/")) if kind == "PathPrefix" else 0
    return (
        kind_rank,
        -length,
        0 if match.get("method") else 1,
        -len(match.get("headers") or []),
        -len(match.get("queryParams") or []),
    )


def _age(route: JSON) -> tuple[str, str]:
    meta = route.get("metadata") or {}
    # RFC 3339 timestamps in UTC sort as text; a route without one sorts last.
    return (str(meta.get("creationTimestamp") or "~"), qualified_name(route))


def _apply(route: JSON, index: int) -> Routing:
    rule = _rules(route)[index]
    where = f"HTTPRoute {qualified_name(route)} rule {index}"
    filters = list(rule.get("filters") or [])
    refs = list(rule.get("backendRefs") or [])
    weights = [_weight(ref) for ref in refs]
    total = sum(weights)
    mirrors = list(_mirrors(filters, 100.0))
    if total == 0:
        reason = "every backendRef weighs 0" if refs else "the rule has no backendRefs"
        return Routing(
            mirrors=tuple(mirrors),
            enforced_by=where,
            status=500,
            reason=reason,
            response_headers=_response_headers(filters),
        )
    destinations = []
    for ref, weight in zip(refs, weights, strict=True):
        share = 100.0 * weight / total
        ref_filters = list(ref.get("filters") or [])
        if weight:
            mirrors += _mirrors(ref_filters, share)
        destinations.append(
            Destination(_service(ref), share, weight, _response_headers(ref_filters))
        )
    return Routing(
        destinations=tuple(destinations),
        mirrors=tuple(mirrors),
        enforced_by=where,
        response_headers=_response_headers(filters),
    )


def _weight(ref: JSON) -> int:
    weight = ref.get("weight", 1)
    return weight if isinstance(weight, int) and not isinstance(weight, bool) and weight > 0 else 0


def _service(ref: JSON) -> str:
    kind = str(ref.get("kind") or "Service")
    name = str(ref.get("name") or "")
    return name if kind == "Service" else f"{kind}/{name}"


def _mirrors(filters: Iterable[JSON], scale: float) -> list[Mirror]:
    out = []
    for f in filters:
        if f.get("type") != "RequestMirror":
            continue
        spec = f.get("requestMirror") or {}
        percent = 100.0
        fraction = spec.get("fraction")
        if isinstance(spec.get("percent"), int):
            percent = float(spec["percent"])
        elif isinstance(fraction, Mapping) and isinstance(fraction.get("numerator"), int):
            denominator = fraction.get("denominator") or 100
            percent = 100.0 * fraction["numerator"] / denominator
        out.append(Mirror(_service(spec.get("backendRef") or {}), percent * scale / 100.0))
    return out


def _response_headers(filters: Iterable[JSON]) -> tuple[Header, ...]:
    out = []
    for f in filters:
        if f.get("type") != "ResponseHeaderModifier":
            continue
        spec = f.get("responseHeaderModifier") or {}
        for entry in [*(spec.get("set") or []), *(spec.get("add") or [])]:
            out.append(Header(str(entry.get("name") or ""), str(entry.get("value") or "")))
    return tuple(out)
