"""Istio VirtualServices read as the Envoy sidecars and gateways read them. Pure.

Semantics from the Istio API (networking.istio.io VirtualService, HTTPMatchRequest,
L4MatchAttributes, HTTPRouteDestination):

- `hosts`: a VirtualService applies when the request's host (port ignored, lower case)
  matches one of them. A short name (no dot) means `<name>.<namespace>.svc.cluster.local`,
  the namespace being the VirtualService's; a cluster name is reached as `<name>`,
  `<name>.<ns>`, `<name>.<ns>.svc` or the full name. `*.example.com` matches any name
  below example.com, `*` every host. A VirtualService without hosts (a delegate) never
  applies by itself (`route_delegate` reads its routes as its parent hands it requests).
  When several apply: an exact host beats a wildcard, a longer wildcard
  a shorter one, then the oldest VirtualService, then namespace/name order.
- `http` routes (`tcp` routes for a TCP connection) are tried in list order; the first one
  with a matching `match` entry wins (no `match` matches everything); no match is a 404.
- An HTTPMatchRequest needs every condition it sets: `uri` (the path without the query),
  `scheme`, `method`, `authority` (the Host header), `headers` (names lower case),
  `queryParams`, as StringMatches (`exact`, `prefix`, `regex` as a full match; `suffix` as
  older Istio had it; an empty one asks for presence); no `withoutHeaders` entry may match;
  `ignoreUriCase` makes exact and prefix uri matches case-insensitive; `sourceLabels` and
  `sourceNamespace` are the sending workload's (`Request.source_labels`,
  `Request.source_namespace`), `port` the destination port. `gateways` is not modelled: the
  request is taken to arrive through one the route is bound to. A TCP match
  (L4MatchAttributes) checks `port`, `sourceLabels`, `sourceNamespace` and
  `destinationSubnets` (the host, when it is an IP address).
- `route` destinations share by weight; a single destination takes 100 % whatever its
  weight; when every weight of several is 0 the data plane answers 500. A destination
  `host` names a Service: `podinfo-primary`, `podinfo-primary.test` or the full cluster
  name all mean Service podinfo-primary of the VirtualService's namespace. A `subset` that
  no DestinationRule of that host defines answers 503 (when the DestinationRules are given).
- `mirror` + `mirrorPercentage.value` (or the older integer `mirrorPercent`; 100 % when
  neither is set) and the `mirrors` list copy requests. `headers.response.set/add`, on the
  route and on each destination, are the response headers (Set-Cookie).
- `delegate`, `redirect` and `directResponse` routes answer without a destination: a
  delegation is reported (`delegated to VirtualService <ns>/<name>`), not resolved.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ensign.traffic.manifest import fullmatch, integer, object_namespace, qualified_name
from ensign.traffic.request import Destination, Header, Mirror, Request, Routing, Rule

__all__ = [
    "applies",
    "describe_istio_match",
    "route_delegate",
    "route_virtualservice",
    "rules_of_virtualservice",
    "service_of",
]

JSON = Mapping[str, Any]
CLUSTER = ".svc.cluster.local"
STRING_KINDS = ("exact", "prefix", "suffix", "regex")


def route_virtualservice(
    services: Iterable[JSON],
    request: Request,
    *,
    destination_rules: Iterable[JSON] | None = None,
) -> Routing:
    """Where `request` goes through `services` (VirtualServices). 404 when none applies to
    its host or none of the chosen one's routes matches it."""
    vs = choose(services, request)
    if vs is None:
        return Routing(status=404, reason=f"no VirtualService for host {request.hostname}")
    return route_delegate(vs, request, destination_rules=destination_rules)


def route_delegate(
    vs: JSON, request: Request, *, destination_rules: Iterable[JSON] | None = None
) -> Routing:
    """Where `request` goes through the routes of `vs`, whatever its hosts: how a delegate
    VirtualService (no hosts) treats what its parent's delegating route hands it."""
    kind = "tcp" if request.protocol == "tcp" else "http"
    for index, route in enumerate(_routes(vs, kind)):
        matches = _matches(route)
        if not matches or any(_match(m, request, kind) for m in matches):
            rules = None if destination_rules is None else list(destination_rules)
            return _apply(vs, kind, index, rules)
    return Routing(
        enforced_by=f"VirtualService {qualified_name(vs)}",
        status=404,
        reason=f"no {kind} route of VirtualService {qualified_name(vs)} matches the request",
    )


def choose(services: Iterable[JSON], request: Request) -> JSON | None:
    """The VirtualService that applies to the request's host (see the module doc)."""
    best: tuple[tuple[Any, ...], JSON] | None = None
    for vs in services:
        rank = _host_rank(vs, request.hostname)
        if rank is None:
            continue
        meta = vs.get("metadata") or {}
        key = (*rank, str(meta.get("creationTimestamp") or "~"), qualified_name(vs))
        if best is None or key < best[0]:
            best = (key, vs)
    return None if best is None else best[1]


def applies(vs: JSON, request: Request) -> bool:
    """Whether one of the VirtualService's hosts matches the request's."""
    return _host_rank(vs, request.hostname) is not None


def rules_of_virtualservice(
    vs: JSON, *, destination_rules: Iterable[JSON] | None = None
) -> tuple[Rule, ...]:
    """The routes of a VirtualService for display, `http` then `tcp`, each in list order
    (labels `http[0]`, `tcp[0]`)."""
    rules = None if destination_rules is None else list(destination_rules)
    out = []
    for kind in ("http", "tcp", "tls"):
        for index, route in enumerate(_routes(vs, kind)):
            matches = tuple(describe_istio_match(m, kind) for m in _matches(route))
            routing = (
                _apply(vs, kind, index, rules)
                if kind != "tls"
                else Routing(enforced_by=_where(vs, kind, index, route), reason="TLS not modelled")
            )
            out.append(Rule(index, matches or ("any request",), routing, f"{kind}[{index}]"))
    return tuple(out)


def describe_istio_match(match: JSON, kind: str = "http") -> str:
    """`uri prefix /api, header cookie ~ .*canary.*, sourceLabels app=web, port 9898`."""
    parts = []
    if kind == "http":
        any_case = " (any case)" if match.get("ignoreUriCase") else ""
        for field in ("uri", "scheme", "method", "authority"):
            if isinstance(match.get(field), Mapping):
                parts.append(f"{field}{_string_text(match[field])}{any_case * (field == 'uri')}")
        for label, key in (
            ("header", "headers"),
            ("without header", "withoutHeaders"),
            ("query", "queryParams"),
        ):
            for name, cond in (match.get(key) or {}).items():
                parts.append(f"{label} {name}{_string_text(cond)}")
    else:
        subnets = [str(s) for s in match.get("destinationSubnets") or []]
        if subnets:
            parts.append(f"destination in {','.join(subnets)}")
    labels = match.get("sourceLabels") or {}
    if labels:
        parts.append("sourceLabels " + ",".join(f"{k}={v}" for k, v in labels.items()))
    if match.get("sourceNamespace"):
        parts.append(f"sourceNamespace {match['sourceNamespace']}")
    if match.get("port"):
        parts.append(f"port {match['port']}")
    if match.get("gateways"):
        parts.append("gateways " + ",".join(str(g) for g in match["gateways"]))
    return ", ".join(parts) or "any request"


def service_of(host: str, namespace: str) -> str:
    """The Service a destination host names: the bare name for one of `namespace`,
    `<name>.<ns>` for another namespace's, the host itself for anything else."""
    h = host.lower().rstrip(".")
    for suffix in (CLUSTER, ".svc"):
        if h.endswith(suffix):
            name, _, ns = h[: -len(suffix)].partition(".")
            return name if not ns or not namespace or ns == namespace else f"{name}.{ns}"
    name, dot, rest = h.partition(".")
    return name if not dot or rest == namespace else host


# ------------------------------------------------------------------ matching


def _host_rank(vs: JSON, hostname: str) -> tuple[int, int] | None:
    ns = object_namespace(vs)
    ranks = []
    for raw in (vs.get("spec") or {}).get("hosts") or []:
        host = str(raw).lower()
        if host == "*":
            ranks.append((2, 0))
        elif host.startswith("*."):
            if hostname.endswith(host[1:]) and len(hostname) > len(host) - 1:
                ranks.append((1, -len(host)))
        elif hostname in _aliases(host, ns):
            ranks.append((0, 0))
    return min(ranks) if ranks else None


def _aliases(host: str, ns: str) -> set[str]:
    fqdn = f"{host}.{ns}{CLUSTER}" if "." not in host and ns else host
    if not fqdn.endswith(CLUSTER):
        return {fqdn}
    name, _, rest = fqdn[: -len(CLUSTER)].partition(".")
    return {name, f"{name}.{rest}", f"{name}.{rest}.svc", fqdn}


def _match(match: JSON, request: Request, kind: str) -> bool:
    if kind == "http" and not _http_match(match, request):
        return False
    if kind == "tcp" and not _subnet_match(match, request):
        return False
    labels = match.get("sourceLabels") or {}
    if any(request.source_labels.get(str(k)) != str(v) for k, v in labels.items()):
        return False
    if match.get("sourceNamespace") and match["sourceNamespace"] != request.source_namespace:
        return False
    port = match.get("port")
    return not port or request.target_port == integer(port)


def _http_match(match: JSON, request: Request) -> bool:
    any_case = bool(match.get("ignoreUriCase"))
    fields = {
        "uri": request.path,
        "scheme": request.scheme,
        "method": request.method,
        "authority": request.host,
    }
    for field, actual in fields.items():
        cond = match.get(field)
        if isinstance(cond, Mapping) and not _string(
            cond, actual, any_case=any_case and field == "uri"
        ):
            return False
    for name, cond in (match.get("headers") or {}).items():
        if not _string(cond, request.header(str(name))):
            return False
    for name, cond in (match.get("withoutHeaders") or {}).items():
        if _string(cond, request.header(str(name))):
            return False
    for name, cond in (match.get("queryParams") or {}).items():
        if not _string(cond, request.query.get(str(name))):
            return False
    return True


def _subnet_match(match: JSON, request: Request) -> bool:
    subnets = [str(s) for s in match.get("destinationSubnets") or []]
    if not subnets:
        return True
    try:
        address = ipaddress.ip_address(request.hostname.strip("[]"))
        return any(address in ipaddress.ip_network(s, strict=False) for s in subnets)
    except ValueError:
        return False


def _string(cond: object, actual: str | None, *, any_case: bool = False) -> bool:
    """A StringMatch; an empty one (or one of no kind we know) asks only for presence."""
    if actual is None:
        return False
    if not isinstance(cond, Mapping):
        return True
    for kind in STRING_KINDS:
        if kind in cond and cond[kind] is not None:
            wanted = str(cond[kind])
            if kind == "regex":
                return fullmatch(wanted, actual)
            if any_case:
                wanted, actual = wanted.lower(), actual.lower()
            if kind == "exact":
                return actual == wanted
            if kind == "prefix":
                return actual.startswith(wanted)
            return actual.endswith(wanted)
    return True


def _string_text(cond: object) -> str:
    if not isinstance(cond, Mapping):
        return " present"
    ops = {"exact": "=", "prefix": " prefix ", "suffix": " suffix ", "regex": " ~ "}
    for kind in STRING_KINDS:
        if kind in cond and cond[kind] is not None:
            return f"{ops[kind]}{cond[kind]}"
    return " present"


# ------------------------------------------------------------------ routing


def _apply(vs: JSON, kind: str, index: int, rules: Sequence[JSON] | None) -> Routing:
    route = _routes(vs, kind)[index]
    where = _where(vs, kind, index, route)
    ns = object_namespace(vs)
    headers = _response_headers(route)
    delegate = route.get("delegate")
    if isinstance(delegate, Mapping) and delegate.get("name"):
        target = f"{delegate.get('namespace') or ns}/{delegate['name']}".lstrip("/")
        return Routing(
            enforced_by=where, reason=f"delegated to VirtualService {target}", status=200
        )
    redirect = route.get("redirect")
    if isinstance(redirect, Mapping):
        to = f"{redirect.get('authority') or ''}{redirect.get('uri') or ''}" or "the same URL"
        code = integer(redirect.get("redirectCode")) or 301
        return Routing(
            enforced_by=where, status=code, reason=f"redirect to {to}", response_headers=headers
        )
    direct = route.get("directResponse")
    if isinstance(direct, Mapping):
        code = integer(direct.get("status")) or 200
        return Routing(
            enforced_by=where, status=code, reason="direct response", response_headers=headers
        )
    dests = [d for d in route.get("route") or [] if isinstance(d, Mapping)]
    mirrors = _mirrors(route, ns)
    if not dests:
        return Routing(
            mirrors=mirrors,
            enforced_by=where,
            status=500,
            reason="the route has no destinations",
            response_headers=headers,
        )
    weights = [100] if len(dests) == 1 else [_weight(d) for d in dests]
    total = sum(weights)
    if total == 0:
        return Routing(
            mirrors=mirrors,
            enforced_by=where,
            status=500,
            reason="every destination weighs 0",
            response_headers=headers,
        )
    destinations = []
    for dest, weight in zip(dests, weights, strict=True):
        ref = dest.get("destination") or {}
        service = service_of(str(ref.get("host") or ""), ns)
        subset = str(ref.get("subset") or "")
        if weight and subset and rules is not None and not _has_subset(rules, service, subset, ns):
            return Routing(
                enforced_by=where,
                status=503,
                reason=f"no DestinationRule of {service} defines subset {subset}",
                response_headers=headers,
            )
        share = 100.0 * weight / total
        raw_weight = _weight(dest) if len(dests) > 1 else (_weight(dest) or 100)
        destinations.append(Destination(service, share, raw_weight, _response_headers(dest)))
    return Routing(
        destinations=tuple(destinations),
        mirrors=mirrors,
        enforced_by=where,
        response_headers=headers,
    )


def _where(vs: JSON, kind: str, index: int, route: JSON) -> str:
    named = f" ({route['name']})" if route.get("name") else ""
    return f"VirtualService {qualified_name(vs)} {kind} route {index}{named}"


def _has_subset(rules: Sequence[JSON], service: str, subset: str, ns: str) -> bool:
    for rule in rules:
        spec = rule.get("spec") or {}
        if service_of(str(spec.get("host") or ""), object_namespace(rule) or ns) != service:
            continue
        if any(s.get("name") == subset for s in spec.get("subsets") or []):
            return True
    return False


def _mirrors(route: JSON, ns: str) -> tuple[Mirror, ...]:
    out = []
    mirror = route.get("mirror")
    if isinstance(mirror, Mapping) and mirror.get("host"):
        percent = _percent(route.get("mirrorPercentage"), route.get("mirrorPercent"))
        out.append(Mirror(service_of(str(mirror["host"]), ns), percent))
    for entry in route.get("mirrors") or []:
        target = entry.get("destination") or {}
        if target.get("host"):
            percent = _percent(entry.get("percentage"), None)
            out.append(Mirror(service_of(str(target["host"]), ns), percent))
    return tuple(out)


def _percent(percentage: object, legacy: object) -> float:
    if isinstance(percentage, Mapping):
        value = percentage.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return min(max(float(value), 0.0), 100.0)
        return 0.0  # a percentage without a value is 0
    if isinstance(legacy, int) and not isinstance(legacy, bool):
        return min(max(float(legacy), 0.0), 100.0)
    return 100.0


def _response_headers(obj: JSON) -> tuple[Header, ...]:
    response = ((obj.get("headers") or {}).get("response")) or {}
    out = []
    for op in ("set", "add"):
        for name, value in (response.get(op) or {}).items():
            out.append(Header(str(name), str(value)))
    return tuple(out)


def _weight(dest: JSON) -> int:
    weight = dest.get("weight", 0)
    return weight if isinstance(weight, int) and not isinstance(weight, bool) and weight > 0 else 0


def _routes(vs: JSON, kind: str) -> Sequence[JSON]:
    return [r for r in (vs.get("spec") or {}).get(kind) or [] if isinstance(r, Mapping)]


def _matches(route: JSON) -> Sequence[JSON]:
    return [m for m in route.get("match") or [] if isinstance(m, Mapping)]
