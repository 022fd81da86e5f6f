"""Gloo Edge RouteTables read as the data plane reads them. Pure.

Semantics from Gloo Edge's RouteTable and Matcher references:

- Routes are tried in list order (routes of several tables in the order given); the first
  that matches wins. A route matches when any of its `matchers` does; a route without
  matchers matches every request the delegating VirtualService hands it (its path matcher
  is inherited with `inheritablePathMatchers`).
- A matcher needs its path (`prefix` string prefix, `exact`, `regex` full match; none means
  the inherited path), every header (`value` exact, or a full regex match with `regex:
  true`; no value means "present"; `invertMatch` negates) and, when `methods` is set, one of
  the methods.
- `routeAction.multi.destinations` share the requests by weight; when every weight is 0 the
  route answers 503. A destination names an Upstream; it is shown as the Service of the kube
  Upstream when that Upstream is given, else by Flagger's naming
  (`<ns>-<apex>-primaryupstream-<port>` -> `<apex>-primary`), else by its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ensign.traffic.manifest import fullmatch, object_name, qualified_name
from ensign.traffic.request import Destination, Request, Routing, Rule

__all__ = ["describe_matcher", "route_routetable", "rules_of_routetable"]

JSON = Mapping[str, Any]
FLAGGER_UPSTREAM = re.compile(r"^(?P<ns>[^-]+)-(?P<apex>.+)-(?P<side>primary|canary)upstream-\d+$")


def route_routetable(
    tables: Iterable[JSON], request: Request, *, upstreams: Iterable[JSON] = ()
) -> Routing:
    """Where `request` goes through `tables`; 404 when no route matches."""
    services = _services(upstreams)
    for table in tables:
        for index, route in enumerate(_routes(table)):
            if any(_matcher(m, request) for m in _matchers(route)):
                return _apply(table, index, services)
    return Routing(status=404, reason="no RouteTable route matches the request")


def rules_of_routetable(table: JSON, *, upstreams: Iterable[JSON] = ()) -> tuple[Rule, ...]:
    """The routes of a RouteTable, in list order."""
    services = _services(upstreams)
    return tuple(
        Rule(
            index,
            tuple(describe_matcher(m) for m in _matchers(route)),
            _apply(table, index, services),
            label=f"routes[{index}]",
        )
        for index, route in enumerate(_routes(table))
    )


def describe_matcher(matcher: JSON) -> str:
    """`inherited path, POST, header x-canary=insider, header cookie ~ .*canary.*`."""
    parts = []
    for key in ("prefix", "exact", "regex"):
        if matcher.get(key):
            parts.append(f"{key} {matcher[key]}")
            break
    else:
        parts.append("inherited path")
    methods = [str(m) for m in matcher.get("methods") or []]
    if methods:
        parts.append("|".join(methods))
    for header in matcher.get("headers") or []:
        name, value = header.get("name"), header.get("value")
        op = "!" if header.get("invertMatch") else ""
        if not value:
            parts.append(f"header {name} {op}present")
        else:
            parts.append(f"header {name}{op}{' ~ ' if header.get('regex') else '='}{value}")
    return ", ".join(parts)


def service_of_upstream(name: str, services: Mapping[str, str]) -> str:
    """The Service an Upstream stands for (see the module doc)."""
    if name in services:
        return services[name]
    found = FLAGGER_UPSTREAM.match(name)
    return f"{found['apex']}-{found['side']}" if found else name


def _services(upstreams: Iterable[JSON]) -> dict[str, str]:
    out = {}
    for upstream in upstreams:
        name = object_name(upstream)
        kube = (upstream.get("spec") or {}).get("kube") or {}
        if name and kube.get("serviceName"):
            out[name] = str(kube["serviceName"])
    return out


def _routes(table: JSON) -> Sequence[JSON]:
    return [r for r in (table.get("spec") or {}).get("routes") or [] if isinstance(r, Mapping)]


def _matchers(route: JSON) -> Sequence[JSON]:
    return [m for m in route.get("matchers") or [] if isinstance(m, Mapping)] or [{}]


def _matcher(matcher: JSON, request: Request) -> bool:
    if matcher.get("prefix") and not request.path.startswith(str(matcher["prefix"])):
        return False
    if matcher.get("exact") and request.path != str(matcher["exact"]):
        return False
    if matcher.get("regex") and not fullmatch(str(matcher["regex"]), request.path):
        return False
    methods = [str(m).upper() for m in matcher.get("methods") or []]
    if methods and request.method.upper() not in methods:
        return False
    for header in matcher.get("headers") or []:
        value = request.header(str(header.get("name") or ""))
        want = header.get("value")
        if value is None:
            ok = False
        elif not want:
            ok = True
        elif header.get("regex"):
            ok = fullmatch(str(want), value)
        else:
            ok = value == str(want)
        if ok == bool(header.get("invertMatch")):
            return False
    return True


def _apply(table: JSON, index: int, services: Mapping[str, str]) -> Routing:
    route = _routes(table)[index]
    where = f"RouteTable {qualified_name(table)} route {index}"
    action = route.get("routeAction") or {}
    multi = action.get("multi") or {}
    entries = [d for d in multi.get("destinations") or [] if isinstance(d, Mapping)]
    single = action.get("single")
    if not entries and isinstance(single, Mapping):
        entries = [{"destination": single, "weight": 1}]
    weights = [_weight(d) for d in entries]
    total = sum(weights)
    if total == 0:
        reason = "every destination weighs 0" if entries else "the route has no destinations"
        return Routing(enforced_by=where, status=503, reason=reason)
    destinations = tuple(
        Destination(_upstream(d, services), 100.0 * w / total, w)
        for d, w in zip(entries, weights, strict=True)
    )
    return Routing(destinations=destinations, enforced_by=where)


def _upstream(entry: JSON, services: Mapping[str, str]) -> str:
    upstream = (entry.get("destination") or {}).get("upstream") or {}
    return service_of_upstream(str(upstream.get("name") or ""), services)


def _weight(entry: JSON) -> int:
    weight = entry.get("weight", 0)
    return weight if isinstance(weight, int) and not isinstance(weight, bool) and weight > 0 else 0
