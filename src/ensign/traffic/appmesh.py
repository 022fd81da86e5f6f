"""AWS App Mesh objects read as the Envoy sidecars read them. Pure.

Semantics from the App Mesh API (appmesh.k8s.aws v1beta2; the v1beta1 shapes Flagger's
`appmesh` provider writes are read the same way):

- A request is addressed to a VirtualService: v1beta2 by its `awsName` (else `<name>.<ns>`),
  v1beta1 by its object name; `<name>.<ns>`, `<name>.<ns>.svc`, the full cluster name and
  the short `<name>` (from the same namespace) all reach it. A request without a host goes to
  the apex VirtualService.
- The VirtualService's provider is a VirtualRouter (`virtualRouterRef`; v1beta1 embeds the
  router and its routes) or a VirtualNode (all traffic to it).
- Routes are tried by ascending `priority` (routes without one after, in list order); the
  first whose match holds wins; none is a 404. An HTTP match needs the path to start with
  `prefix` (or equal `path.exact`, or fully match `path.regex`), every `headers` entry
  (`exact`, `prefix`, `suffix`, `regex` full match, `range` for integers; no method means
  presence; `invert` negates), every `queryParameters` entry (exact), and `method`/`scheme`
  when set. A gRPC route's `metadata` is read as headers.
- Weighted targets share by weight; all 0 is a 500. A target's virtual node is reached
  through the Service its DNS service discovery names (`hostname`, v1beta1 `hostName`), so a
  destination is a Service name; a node that is not found is reported by its own name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ensign.traffic.manifest import (
    dicts,
    fullmatch,
    object_name,
    object_namespace,
    qualified_name,
)
from ensign.traffic.request import Destination, Request, Routing, Rule
from ensign.traffic.virtualservice import service_of

__all__ = ["GROUP", "is_appmesh", "route_appmesh", "rules_of_appmesh"]

JSON = Mapping[str, Any]
GROUP = "appmesh.k8s.aws"
ROUTE_KEYS = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute", "http", "tcp")
CLUSTER = ".svc.cluster.local"


def is_appmesh(obj: JSON) -> bool:
    """Whether `obj` is an App Mesh object (by its apiVersion)."""
    return str(obj.get("apiVersion") or "").startswith(f"{GROUP}/")


def route_appmesh(objects: Iterable[JSON], request: Request, *, apex: str) -> Routing:
    """Where `request` goes through the App Mesh objects (see the module doc)."""
    mesh = [o for o in objects if is_appmesh(o)]
    vs = _choose(mesh, request, apex)
    if vs is None:
        host = request.hostname or apex
        return Routing(status=404, reason=f"no App Mesh VirtualService for {host}")
    provider = (vs.get("spec") or {}).get("provider") or {}
    node_ref = (provider.get("virtualNode") or {}).get("virtualNodeRef") or {}
    if node_ref.get("name"):
        service = _node_service(mesh, str(node_ref["name"]), object_namespace(vs))
        return Routing(
            (Destination(service, 100.0, 100),), enforced_by=f"VirtualService {qualified_name(vs)}"
        )
    router, where = _router(mesh, vs)
    if router is None:
        return Routing(enforced_by=f"VirtualService {qualified_name(vs)}", status=503, reason=where)
    for index, route in _ordered(router):
        body = _body(route)
        if _matches(body, request):
            return _apply(mesh, router, index, route, where)
    return Routing(enforced_by=where, status=404, reason=f"no route of {where} matches the request")


def rules_of_appmesh(router: JSON, objects: Iterable[JSON] = ()) -> tuple[Rule, ...]:
    """The routes of a VirtualRouter (or a v1beta1 VirtualService) for display, in the
    order they are tried."""
    mesh = [o for o in objects if is_appmesh(o)]
    where = f"{router.get('kind') or 'VirtualRouter'} {qualified_name(router)}"
    out = []
    for index, route in _ordered(router):
        label = f"route {index} ({route.get('name')})" if route.get("name") else ""
        match = describe_appmesh_match(_body(route))
        out.append(Rule(index, (match,), _apply(mesh, router, index, route, where), label))
    return tuple(out)


def describe_appmesh_match(body: JSON) -> str:
    """`prefix /, header x-canary=insider`."""
    match = body.get("match") or {}
    parts = []
    if match.get("prefix"):
        parts.append(f"prefix {match['prefix']}")
    path = match.get("path") or {}
    for kind in ("exact", "regex"):
        if path.get(kind):
            parts.append(f"path {kind} {path[kind]}")
    for key in ("method", "scheme", "serviceName", "methodName"):
        if match.get(key):
            parts.append(f"{key} {match[key]}")
    for label, key in (
        ("header", "headers"),
        ("metadata", "metadata"),
        ("query", "queryParameters"),
    ):
        for entry in dicts(match.get(key)):
            method = entry.get("match") or {}
            text = next((f"{k} {v}" for k, v in method.items()), "present")
            neg = "not " if entry.get("invert") else ""
            parts.append(f"{label} {entry.get('name')} {neg}{text}")
    return ", ".join(parts) or "any request"


# ------------------------------------------------------------------ choosing


def _choose(mesh: list[JSON], request: Request, apex: str) -> JSON | None:
    services = [o for o in mesh if o.get("kind") == "VirtualService"]
    host = request.hostname
    for vs in services:
        if host and host in _aliases(_dns_name(vs), object_namespace(vs)):
            return vs
    if host and host != apex:
        return None
    for vs in services:
        name = object_name(vs)
        if name in (apex, f"{apex}.{object_namespace(vs)}"):
            return vs
    return None


def _dns_name(vs: JSON) -> str:
    spec = vs.get("spec") or {}
    name = object_name(vs)
    if str(vs.get("apiVersion") or "").endswith("/v1beta1") or "virtualRouter" in spec:
        return name
    return str(spec.get("awsName") or f"{name}.{object_namespace(vs)}")


def _aliases(dns: str, ns: str) -> set[str]:
    dns = dns.lower()
    out = {dns, f"{dns}.svc", f"{dns}{CLUSTER}"}
    short, _, rest = dns.partition(".")
    if rest == ns or not rest:
        out.add(short)
    return out


def _router(mesh: list[JSON], vs: JSON) -> tuple[JSON | None, str]:
    spec = vs.get("spec") or {}
    if "routes" in spec or "virtualRouter" in spec:
        return vs, f"VirtualService {qualified_name(vs)}"  # v1beta1: the routes are embedded
    ref = ((spec.get("provider") or {}).get("virtualRouter") or {}).get("virtualRouterRef") or {}
    name, ns = str(ref.get("name") or ""), str(ref.get("namespace") or object_namespace(vs))
    for obj in mesh:
        if obj.get("kind") == "VirtualRouter" and _meta(obj) == (ns, name):
            return obj, f"VirtualRouter {qualified_name(obj)}"
    return None, f"VirtualRouter {name} not found"


def _ordered(router: JSON) -> list[tuple[int, JSON]]:
    routes = list(enumerate(dicts((router.get("spec") or {}).get("routes"))))

    def key(item: tuple[int, JSON]) -> tuple[int, int]:
        priority = item[1].get("priority")
        if isinstance(priority, int) and not isinstance(priority, bool):
            return (priority, item[0])
        return (1001, item[0])

    return sorted(routes, key=key)


def _body(route: JSON) -> JSON:
    for key in ROUTE_KEYS:
        if isinstance(route.get(key), Mapping):
            return dict(route[key], _kind=key)
    return {}


# ------------------------------------------------------------------ matching


def _matches(body: JSON, request: Request) -> bool:
    if not body:
        return False
    if body.get("_kind") in ("tcpRoute", "tcp"):
        return True
    match = body.get("match") or {}
    if match.get("prefix") and not request.path.startswith(str(match["prefix"])):
        return False
    path = match.get("path") or {}
    if path.get("exact") and request.path != path["exact"]:
        return False
    if path.get("regex") and not fullmatch(str(path["regex"]), request.path):
        return False
    if match.get("method") and request.method.upper() != str(match["method"]).upper():
        return False
    if match.get("scheme") and request.scheme != match["scheme"]:
        return False
    for entry in [*dicts(match.get("headers")), *dicts(match.get("metadata"))]:
        held = _method(entry.get("match"), request.header(str(entry.get("name") or "")))
        if held == bool(entry.get("invert")):
            return False
    for entry in dicts(match.get("queryParameters")):
        value = request.query.get(str(entry.get("name") or ""))
        wanted = (entry.get("match") or {}).get("exact")
        if value is None or (wanted is not None and value != wanted):
            return False
    return True


def _method(method: object, actual: str | None) -> bool:
    if actual is None:
        return False
    if not isinstance(method, Mapping) or not method:
        return True
    if "exact" in method:
        return actual == str(method["exact"])
    if "prefix" in method:
        return actual.startswith(str(method["prefix"]))
    if "suffix" in method:
        return actual.endswith(str(method["suffix"]))
    if "regex" in method:
        return fullmatch(str(method["regex"]), actual)
    if isinstance(method.get("range"), Mapping):
        try:
            number = int(actual)
        except ValueError:
            return False
        bounds = method["range"]
        return int(bounds.get("start", 0)) <= number < int(bounds.get("end", 0))
    return True


# ------------------------------------------------------------------ routing


def _apply(mesh: list[JSON], router: JSON, index: int, route: JSON, where: str) -> Routing:
    named = f" ({route['name']})" if route.get("name") else ""
    enforced = f"{where} route {index}{named}"
    body = _body(route)
    targets = dicts((body.get("action") or {}).get("weightedTargets"))
    weights = [_weight(t) for t in targets]
    total = sum(weights)
    if not targets or total == 0:
        return Routing(enforced_by=enforced, status=500, reason="every weighted target weighs 0")
    ns = object_namespace(router)
    out = []
    for target, weight in zip(targets, weights, strict=True):
        ref = target.get("virtualNodeRef") or {}
        node = str(ref.get("name") or target.get("virtualNodeName") or "")
        service = _node_service(mesh, node, str(ref.get("namespace") or ns))
        out.append(Destination(service, 100.0 * weight / total, weight))
    return Routing(tuple(out), enforced_by=enforced)


def _node_service(mesh: list[JSON], node: str, ns: str) -> str:
    for obj in mesh:
        if obj.get("kind") == "VirtualNode" and _meta(obj) == (ns, node):
            dns = ((obj.get("spec") or {}).get("serviceDiscovery") or {}).get("dns") or {}
            host = str(dns.get("hostname") or dns.get("hostName") or "")
            if host:
                return service_of(host, ns)
    return node


def _weight(target: JSON) -> int:
    weight = target.get("weight", 0)
    return weight if isinstance(weight, int) and not isinstance(weight, bool) and weight > 0 else 0


def _meta(obj: JSON) -> tuple[str, str]:
    return object_namespace(obj), object_name(obj)
