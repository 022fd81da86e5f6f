"""Contour HTTPProxies read as the data plane reads them. Pure.

Semantics from Contour's HTTPProxy reference:

- A route matches when every condition does (conditions are ANDed; a route without
  conditions is `prefix: /`). `prefix` is a plain string prefix of the path, `exact` the
  whole path, `regex` a full match. Header conditions: `exact`, `notexact`, `contains`,
  `notcontains`, `present`, `notpresent`, `regex` (full match), names case-insensitive,
  `ignoreCase` for the values.
- Among matching routes (of all the proxies given): an exact path first, then a regex, then
  the longest prefix, then the route with the most header conditions; ties go to list order.
- Services share the requests by weight; when every weight is 0 (or none is set) they share
  them evenly, as Contour does.
- A service with `mirror: true` receives a copy of every request.

Only the proxies given are read (the canary's `<apex>`); the user's root proxy, which
includes it, is assumed to hand it the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ensign.traffic.manifest import fullmatch, qualified_name
from ensign.traffic.request import Destination, Mirror, Request, Routing, Rule

__all__ = ["describe_condition", "route_httpproxy", "rules_of_httpproxy"]

JSON = Mapping[str, Any]


def route_httpproxy(proxies: Iterable[JSON], request: Request) -> Routing:
    """Where `request` goes through `proxies`; 404 when no route matches."""
    best: tuple[tuple[Any, ...], JSON, int] | None = None
    order = 0
    for proxy in proxies:
        for index, route in enumerate(_routes(proxy)):
            order += 1
            if not all(_condition(c, request) for c in _conditions(route)):
                continue
            key = (*_rank(route), order)
            if best is None or key < best[0]:
                best = (key, proxy, index)
    if best is None:
        return Routing(status=404, reason="no HTTPProxy route matches the request")
    _, proxy, index = best
    return _apply(proxy, index)


def rules_of_httpproxy(proxy: JSON) -> tuple[Rule, ...]:
    """The routes of an HTTPProxy, in list order."""
    return tuple(
        Rule(
            index,
            (", ".join(describe_condition(c) for c in _conditions(route)),),
            _apply(proxy, index),
            label=f"routes[{index}]",
        )
        for index, route in enumerate(_routes(proxy))
    )


def describe_condition(condition: JSON) -> str:
    """`prefix /api`, `header x-canary=insider`, `header user-agent contains Mozilla`."""
    for key in ("prefix", "exact", "regex"):
        if condition.get(key):
            return f"{key} {condition[key]}"
    header = condition.get("header") or {}
    name = header.get("name")
    for op, text in (("exact", "="), ("notexact", "!=")):
        if op in header:
            return f"header {name}{text}{header[op]}"
    for op in ("contains", "notcontains", "regex"):
        if op in header:
            return f"header {name} {op} {header[op]}"
    if header.get("notpresent"):
        return f"header {name} absent"
    return f"header {name} present" if name else "prefix /"


def _routes(proxy: JSON) -> Sequence[JSON]:
    return [r for r in (proxy.get("spec") or {}).get("routes") or [] if isinstance(r, Mapping)]


def _conditions(route: JSON) -> Sequence[JSON]:
    found = [c for c in route.get("conditions") or [] if isinstance(c, Mapping)]
    return found or [{"prefix": "/"}]


def _condition(condition: JSON, request: Request) -> bool:
    if condition.get("prefix"):
        return request.path.startswith(str(condition["prefix"]))
    if condition.get("exact"):
        return request.path == str(condition["exact"])
    if condition.get("regex"):
        return fullmatch(str(condition["regex"]), request.path)
    header = condition.get("header")
    if not isinstance(header, Mapping):
        return True
    value = request.header(str(header.get("name") or ""))
    if header.get("notpresent"):
        return value is None
    if value is None:
        return bool(header.get("treatMissingAsEmpty")) and _header_value(header, "")
    return _header_value(header, value)


def _header_value(header: JSON, value: str) -> bool:
    def fold(text: str) -> str:
        return text.lower() if header.get("ignoreCase") else text

    for op in ("exact", "notexact", "contains", "notcontains", "regex"):
        if op not in header:
            continue
        want = str(header[op])
        ok = {
            "exact": fold(value) == fold(want),
            "notexact": fold(value) != fold(want),
            "contains": fold(want) in fold(value),
            "notcontains": fold(want) not in fold(value),
        }.get(op)
        if not (ok if ok is not None else fullmatch(want, value)):
            return False
    return True


def _rank(route: JSON) -> tuple[int, int, int]:
    conditions = _conditions(route)
    path = next((c for c in conditions if any(c.get(k) for k in ("prefix", "exact", "regex"))), {})
    kind = 0 if path.get("exact") else 1 if path.get("regex") else 2
    length = len(str(path.get("prefix") or "/")) if kind == 2 else 0
    headers = sum(1 for c in conditions if isinstance(c.get("header"), Mapping))
    return (kind, -length, -headers)


def _apply(proxy: JSON, index: int) -> Routing:
    route = _routes(proxy)[index]
    where = f"HTTPProxy {qualified_name(proxy)} route {index}"
    services = [s for s in route.get("services") or [] if isinstance(s, Mapping)]
    mirrors = tuple(Mirror(str(s.get("name")), 100.0) for s in services if s.get("mirror"))
    served = [s for s in services if not s.get("mirror")]
    if not served:
        return Routing(mirrors=mirrors, enforced_by=where, status=503, reason="no services")
    weights = [_weight(s) for s in served]
    total = sum(weights)
    if total == 0:  # Contour shares evenly when no weight is set (or all are 0)
        weights, total = [1] * len(served), len(served)
    destinations = tuple(
        Destination(str(s.get("name") or ""), 100.0 * w / total, _weight(s))
        for s, w in zip(served, weights, strict=True)
    )
    return Routing(destinations=destinations, mirrors=mirrors, enforced_by=where)


def _weight(service: JSON) -> int:
    weight = service.get("weight", 0)
    return weight if isinstance(weight, int) and not isinstance(weight, bool) and weight > 0 else 0
