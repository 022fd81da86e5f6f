"""Weighted-split router objects read as their data planes read them. Pure.

- Traefik `TraefikService` (`route_traefik`): the user's IngressRoute sends the request to
  the TraefikService named after the apex, whose `weighted.services` share it by weight
  (weighted round robin; an entry without `weight` weighs 1, as in Traefik). No
  TraefikService: 503. All weights 0: 500.
- Kuma `TrafficRoute` (`route_kuma`): a mesh request to the apex Service follows the
  TrafficRoute whose destination tag is the apex's (`kuma.io/service: <apex>_<ns>_svc_<port>`),
  split over `conf.split` by weight (tags `<service>_<ns>_svc_<port>` name the Services).
  None routes the apex: Kuma's default route, the apex Service itself.
- APISIX `ApisixRoute` (`route_apisix`): among every http route whose `match` accepts the
  request (hosts, exact or trailing-`*` paths, methods), the highest `priority` wins (ties:
  the first in name order), and its `backends` share the request by weight (a single
  backend without `weight` takes it all). No route: 404. `exprs` conditions are not
  evaluated (a route with them is shown, never chosen).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ensign.traffic.manifest import dicts, integer, object_name, qualified_name
from ensign.traffic.request import Destination, Request, Routing, Rule

__all__ = [
    "APISIX_KIND",
    "KUMA_KIND",
    "TRAEFIK_KIND",
    "route_apisix",
    "route_kuma",
    "route_traefik",
    "rules_of_weighted",
    "weighted_hosts",
]

JSON = Mapping[str, Any]
TRAEFIK_KIND = "TraefikService"
KUMA_KIND = "TrafficRoute"
APISIX_KIND = "ApisixRoute"
SERVICE_TAG = "kuma.io/service"


def route_traefik(services: Iterable[JSON], request: Request, *, apex: str) -> Routing:
    """Where `request` goes through the TraefikService `<apex>`."""
    found = next((s for s in services if _kind(s) == TRAEFIK_KIND and object_name(s) == apex), None)
    if found is None:
        return Routing(status=503, reason=f"TraefikService {apex} not found")
    return _traefik_routing(found)


def route_kuma(routes: Iterable[JSON], request: Request, *, apex: str) -> Routing | None:
    """Where a mesh request to the apex goes through the TrafficRoute on the apex's tag;
    None when no TrafficRoute routes the apex (the caller falls back to the Service)."""
    for route in routes:
        if _kind(route) != KUMA_KIND:
            continue
        spec = route.get("spec") or {}
        tags = [
            _tag_service((d.get("match") or {}).get(SERVICE_TAG))
            for d in dicts(spec.get("destinations"))
        ]
        if apex in tags:
            return _kuma_routing(route)
    return None


def route_apisix(routes: Iterable[JSON], request: Request) -> Routing:
    """Where `request` goes through these ApisixRoutes (one ingress class)."""
    best: tuple[tuple[int, str, int], JSON, JSON] | None = None
    for route in sorted((r for r in routes if _kind(r) == APISIX_KIND), key=object_name):
        for index, http in enumerate(dicts((route.get("spec") or {}).get("http"))):
            if not _apisix_matches(http, request):
                continue
            key = (-_int(http.get("priority")), object_name(route), index)
            if best is None or key < best[0]:
                best = (key, route, http)
    if best is None:
        return Routing(status=404, reason="no ApisixRoute http route matches the request")
    _, route, http = best
    return _apisix_routing(route, http)


def rules_of_weighted(obj: JSON) -> tuple[Rule, ...]:
    """For display: a TraefikService's weighted services, a TrafficRoute's split, or an
    ApisixRoute's http routes (one rule each, with its priority)."""
    kind = _kind(obj)
    if kind == TRAEFIK_KIND:
        return (Rule(0, ("weighted",), _traefik_routing(obj), label="weighted"),)
    if kind == KUMA_KIND:
        spec = obj.get("spec") or {}
        sources = [
            str((s.get("match") or {}).get(SERVICE_TAG) or "?") for s in dicts(spec.get("sources"))
        ]
        destinations = [
            str((d.get("match") or {}).get(SERVICE_TAG) or "?")
            for d in dicts(spec.get("destinations"))
        ]
        text = f"from {', '.join(sources) or '*'} to {', '.join(destinations) or '?'}"
        mesh = str(obj.get("mesh") or "default")
        return (Rule(0, (f"{text} (mesh {mesh})",), _kuma_routing(obj), label="split"),)
    if kind == APISIX_KIND:
        return tuple(
            Rule(i, (_describe_apisix(http),), _apisix_routing(obj, http), label=f"http[{i}]")
            for i, http in enumerate(dicts((obj.get("spec") or {}).get("http")))
        )
    return ()


def weighted_hosts(obj: JSON) -> tuple[str, ...]:
    """The hosts an ApisixRoute's http routes match (none for the other kinds)."""
    if _kind(obj) != APISIX_KIND:
        return ()
    hosts: list[str] = []
    for http in dicts((obj.get("spec") or {}).get("http")):
        hosts += [str(h) for h in (http.get("match") or {}).get("hosts") or [] if h]
    return tuple(dict.fromkeys(hosts))


# ------------------------------------------------------------------ Traefik


def _traefik_routing(obj: JSON) -> Routing:
    weighted = (obj.get("spec") or {}).get("weighted") or {}
    entries = [
        (str(s.get("name") or ""), _int(s.get("weight"), default=1))
        for s in dicts(weighted.get("services"))
    ]
    return _shares(entries, f"TraefikService {qualified_name(obj)}")


# ------------------------------------------------------------------ Kuma


def _kuma_routing(route: JSON) -> Routing:
    conf = (route.get("spec") or {}).get("conf") or {}
    entries = [
        (_tag_service((s.get("destination") or {}).get(SERVICE_TAG)), _int(s.get("weight")))
        for s in dicts(conf.get("split"))
    ]
    if not entries and isinstance(conf.get("destination"), Mapping):
        entries = [(_tag_service(conf["destination"].get(SERVICE_TAG)), 1)]
    return _shares(entries, f"TrafficRoute {qualified_name(route)}")


def _tag_service(tag: object) -> str:
    """`podinfo-primary_test_svc_80` → `podinfo-primary`."""
    return str(tag or "").split("_")[0]


# ------------------------------------------------------------------ APISIX


def _apisix_matches(http: JSON, request: Request) -> bool:
    match = http.get("match") or {}
    if match.get("exprs"):
        return False
    hosts = [str(h).lower() for h in match.get("hosts") or []]
    if hosts and not any(_host_ok(h, request.hostname) for h in hosts):
        return False
    methods = [str(m).upper() for m in match.get("methods") or []]
    if methods and request.method.upper() not in methods:
        return False
    paths = [str(p) for p in match.get("paths") or []]
    return any(_path_ok(p, request.path) for p in paths)


def _apisix_routing(route: JSON, http: JSON) -> Routing:
    backends = dicts(http.get("backends"))
    default = 1 if len(backends) == 1 else 0
    entries = [
        (str(b.get("serviceName") or ""), _int(b.get("weight"), default=default)) for b in backends
    ]
    where = f"ApisixRoute {qualified_name(route)} http {http.get('name') or '?'}"
    if http.get("priority") is not None:
        where += f" priority {http.get('priority')}"
    return _shares(entries, where)


def _describe_apisix(http: JSON) -> str:
    match = http.get("match") or {}
    parts = [f"name {http.get('name') or '?'}", f"priority {_int(http.get('priority'))}"]
    if match.get("hosts"):
        parts.append("hosts " + ",".join(str(h) for h in match["hosts"]))
    parts.append("paths " + ",".join(str(p) for p in match.get("paths") or []))
    if match.get("methods"):
        parts.append(",".join(str(m) for m in match["methods"]))
    if match.get("exprs"):
        parts.append("exprs (not evaluated)")
    return ", ".join(parts)


def _host_ok(rule: str, host: str) -> bool:
    if rule.startswith("*."):
        return host.endswith(rule[1:]) and host != rule[2:]
    return host == rule


def _path_ok(rule: str, path: str) -> bool:
    if rule.endswith("*"):
        return path.startswith(rule[:-1])
    return path == rule


# ------------------------------------------------------------------ shared


def _shares(entries: Sequence[tuple[str, int]], where: str) -> Routing:
    total = sum(weight for _, weight in entries)
    if total <= 0:
        return Routing(status=500, reason=f"{where}: no backend has a weight", enforced_by=where)
    return Routing(
        tuple(Destination(name, 100.0 * weight / total, weight) for name, weight in entries),
        enforced_by=where,
    )


def _int(value: object, *, default: int = 0) -> int:
    """Weights and priorities: a negative one counts as 0."""
    return max(integer(value, default=default), 0)


def _kind(obj: JSON) -> str:
    return str(obj.get("kind") or "")
