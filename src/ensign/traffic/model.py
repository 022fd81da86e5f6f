"""The live split of a canary, read from the objects the way the data plane reads them. Pure.

`live_split(canary, *objects)` takes the Canary and whatever was read from the cluster
(HTTPRoutes, Ingresses, VirtualServices, DestinationRules, TrafficSplits, Services,
Deployments, DaemonSets; plain dicts, in any order) and
answers, for a plain request and for a request that matches `analysis.match`, the shares
the primary and the canary get, whether the canary is mirrored, and which object and rule
enforce it:

    live = live_split(canary, route, *services, *deployments)
    live.plain    == Split(primary=90.0, canary=10.0, enforced_by="HTTPRoute test/podinfo rule 0")
    live.matched  == Split(primary=0.0, canary=100.0, ...)   # None without analysis.match

Which side a backend is: `<apex>-primary` is the primary, `<apex>-canary` the canary, any
other Service is the side its selector picks (the apex selects the primary's pods), from the
workload bodies when given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ensign.traffic.appmesh import is_appmesh, route_appmesh
from ensign.traffic.endpoints import endpoints
from ensign.traffic.gloo import route_routetable
from ensign.traffic.httpproxy import route_httpproxy
from ensign.traffic.httproute import route_http
from ensign.traffic.ingress import DEFAULT_PREFIX, route_ingress
from ensign.traffic.manifest import object_name, object_namespace, qualified_name
from ensign.traffic.request import Destination, Request, Routing
from ensign.traffic.skipper import route_skipper
from ensign.traffic.trafficsplit import claims, route_trafficsplit
from ensign.traffic.virtualservice import applies, route_delegate, route_virtualservice
from ensign.traffic.weighted import (
    APISIX_KIND,
    KUMA_KIND,
    TRAEFIK_KIND,
    route_apisix,
    route_kuma,
    route_traefik,
    weighted_hosts,
)

__all__ = [
    "Live",
    "Objects",
    "Split",
    "live_split",
    "matching_request",
    "plain_request",
    "route",
    "to_split",
]

JSON = Mapping[str, Any]
GATEWAY_PROVIDERS = ("gatewayapi:v1", "gatewayapi:v1beta1")
NGINX = "nginx"
ISTIO = "istio"
CONTOUR = "contour"
GLOO = "gloo"  # and suffixed -mesh-provider values (gloo...)
APPMESH = "appmesh"  # and appmesh:v1beta2...
SMI_PROVIDERS = ("linkerd", "osm", "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3")
SKIPPER = "skipper"
TRAEFIK = "traefik"
APISIX = "apisix"
KUMA = "kuma"
WORKLOAD_KINDS = ("Deployment", "DaemonSet")


@dataclass(frozen=True, slots=True)
class Objects:
    """Cluster objects sorted by kind."""

    routes: tuple[JSON, ...] = ()
    ingresses: tuple[JSON, ...] = ()
    services: tuple[JSON, ...] = ()
    workloads: tuple[JSON, ...] = ()
    virtualservices: tuple[JSON, ...] = ()
    destination_rules: tuple[JSON, ...] = ()
    trafficsplits: tuple[JSON, ...] = ()
    httpproxies: tuple[JSON, ...] = ()
    routetables: tuple[JSON, ...] = ()
    upstreams: tuple[JSON, ...] = ()
    weighted: tuple[JSON, ...] = ()  # TraefikServices, Kuma TrafficRoutes, ApisixRoutes
    appmesh: tuple[JSON, ...] = ()  # every appmesh.k8s.aws object

    @classmethod
    def of(cls, objects: Iterable[JSON]) -> Objects:
        """Sort by `kind`, or by shape for list items that carry no kind."""
        keys = {
            "HTTPRoute": "routes",
            "Ingress": "ingresses",
            "Service": "services",
            "VirtualService": "vs",
            "DestinationRule": "dr",
            "TrafficSplit": "ts",
            "HTTPProxy": "proxies",
            "RouteTable": "tables",
            "Upstream": "upstreams",
            TRAEFIK_KIND: "weighted",
            KUMA_KIND: "weighted",
            APISIX_KIND: "weighted",
            **{kind: "w" for kind in WORKLOAD_KINDS},
        }
        found: dict[str, list[JSON]] = {key: [] for key in keys.values()}
        found["appmesh"] = []
        for obj in objects:
            if is_appmesh(obj):  # App Mesh's VirtualService is not Istio's
                found["appmesh"].append(obj)
                continue
            key = keys.get(str(obj.get("kind") or _kind_by_shape(obj)))
            if key is not None:
                found[key].append(obj)
        return cls(
            tuple(found["routes"]),
            tuple(found["ingresses"]),
            tuple(found["services"]),
            tuple(found["w"]),
            tuple(found["vs"]),
            tuple(found["dr"]),
            trafficsplits=tuple(found["ts"]),
            httpproxies=tuple(found["proxies"]),
            routetables=tuple(found["tables"]),
            upstreams=tuple(found["upstreams"]),
            weighted=tuple(found["weighted"]),
            appmesh=tuple(found["appmesh"]),
        )

    def service(self, name: str) -> JSON | None:
        return next((s for s in self.services if object_name(s) == name), None)


def _kind_by_shape(obj: JSON) -> str:
    spec = obj.get("spec") or {}
    rules = spec.get("rules") or []
    if "backends" in spec and "service" in spec:
        return "TrafficSplit"
    if any(key in spec for key in ("http", "tcp", "tls", "gateways", "hosts")):
        return "VirtualService"
    if "host" in spec and any(key in spec for key in ("trafficPolicy", "subsets")):
        return "DestinationRule"
    if spec.get("parentRefs") is not None or any("backendRefs" in r for r in rules):
        return "HTTPRoute"
    if "defaultBackend" in spec or any("http" in r or "host" in r for r in rules):
        return "Ingress"
    if "template" in spec:
        return "Deployment"
    if "ports" in spec or "selector" in spec:
        return "Service"
    return ""


@dataclass(frozen=True, slots=True)
class Split:
    """Shares in percent of one kind of request. `other`: the share sent to Services that
    are neither side; `status` is not 200 when the data plane answers itself (404, 500)."""

    primary: float
    canary: float
    mirrored: bool = False
    mirror_percent: float = 0.0
    enforced_by: str = ""
    status: int = 200
    reason: str = ""
    other: float = 0.0
    set_cookies: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Live:
    provider: str
    request: Request
    plain: Split
    matched_request: Request | None = None
    matched: Split | None = None


def route(
    provider: str,
    objects: Objects,
    request: Request,
    *,
    apex: str,
    prefix: str = DEFAULT_PREFIX,
) -> Routing:
    """Where `request` goes under `provider` (Gateway API: the HTTPRoutes; nginx: the
    Ingresses; istio: the VirtualServices (the delegate `<apex>` when none claims the
    host), and the apex Service for a mesh request to the apex that no VirtualService
    claims; SMI (linkerd, osm, smi:*): the TrafficSplit whose root service the request
    addresses, else the apex Service; anything else: the apex Service, as the kubernetes
    provider leaves it)."""
    if provider in GATEWAY_PROVIDERS:
        return route_http(objects.routes, request)
    if provider == NGINX:
        return route_ingress(objects.ingresses, request, prefix=prefix)
    if provider == CONTOUR:
        return route_httpproxy(objects.httpproxies, request)
    if provider.startswith(APPMESH):
        return route_appmesh(objects.appmesh, request, apex=apex)
    if provider.startswith(GLOO):
        return route_routetable(objects.routetables, request, upstreams=objects.upstreams)
    if provider == SKIPPER:
        return route_skipper(objects.ingresses, request)
    if provider == TRAEFIK:
        return route_traefik(objects.weighted, request, apex=apex)
    if provider == APISIX:
        return route_apisix(objects.weighted, request)
    kuma = route_kuma(objects.weighted, request, apex=apex) if provider == KUMA else None
    if kuma is not None:
        return kuma  # else Kuma's default route: the apex Service
    if provider == ISTIO:
        rules = objects.destination_rules or None
        claimed = any(applies(vs, request) for vs in objects.virtualservices)
        delegate = next(
            (
                vs
                for vs in objects.virtualservices
                if object_name(vs) == apex and not (vs.get("spec") or {}).get("hosts")
            ),
            None,
        )
        if not claimed and delegate is not None:
            # Flagger's delegate VirtualService (`delegation: true`): its routes apply to
            # what the user's parent VirtualService hands it.
            return route_delegate(delegate, request, destination_rules=rules)
        if claimed or not _names_apex(request, apex, objects):
            return route_virtualservice(objects.virtualservices, request, destination_rules=rules)
    if is_smi(provider) and claims(objects.trafficsplits, request):
        return route_trafficsplit(objects.trafficsplits, request)
    svc = objects.service(apex)
    if svc is None:
        return Routing(status=503, reason=f"Service {apex} not found")
    selector = ((svc.get("spec") or {}).get("selector")) or {}
    shown = ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>"
    where = f"Service {qualified_name(svc)} selector {shown}"
    if provider == ISTIO:
        where += " (no VirtualService for this host)"
    if is_smi(provider):
        where += " (no TrafficSplit for this host)"
    return Routing((Destination(apex, 100.0, 100),), enforced_by=where)


def is_smi(provider: str) -> bool:
    """Whether `provider` writes a TrafficSplit (`linkerd`, `osm`, `smi:v1alphaN[:<mesh>]`)."""
    return provider in SMI_PROVIDERS or provider.startswith(
        tuple(f"{p}:" for p in SMI_PROVIDERS if p.startswith("smi:"))
    )


def _names_apex(request: Request, apex: str, objects: Objects) -> bool:
    """Whether the request's host is one of the apex Service's cluster names."""
    ns = object_namespace(objects.service(apex))
    host = request.hostname
    names = {apex, f"{apex}.{ns}", f"{apex}.{ns}.svc", f"{apex}.{ns}.svc.cluster.local"}
    return host in names if ns else host == apex


def live_split(
    canary: JSON,
    *objects: JSON,
    provider: str | None = None,
    default_provider: str = "kubernetes",
    request: Request | None = None,
    matched: Request | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> Live:
    """The split in force for `canary` (see the module doc). `provider` overrides
    `spec.provider`, which overrides `default_provider` (the controller's -mesh-provider).
    `request` defaults to `plain_request`, `matched` to `matching_request`."""
    spec = canary.get("spec") or {}
    chosen = provider or str(spec.get("provider") or "") or default_provider
    sorted_objects = Objects.of(objects)
    names = _Names.of(canary)
    plain = request or plain_request(canary, sorted_objects, provider=chosen)
    ab = matched or matching_request(canary, plain, chosen)

    def split(req: Request) -> Split:
        routing = route(chosen, sorted_objects, req, apex=names.apex, prefix=prefix)
        return to_split(routing, lambda svc: _side(svc, names, sorted_objects))

    return Live(chosen, plain, split(plain), ab, split(ab) if ab is not None else None)


def to_split(routing: Routing, side: Callable[[str], str]) -> Split:
    """Fold a Routing into primary/canary shares; `side(service)` names the side."""
    shares = {"primary": 0.0, "canary": 0.0, "other": 0.0}
    cookies: list[str] = []
    for d in routing.destinations:
        shares[side(d.service)] += d.percent
        if d.percent > 0:
            cookies += routing.set_cookies(d.service)
    if not routing.destinations:
        cookies += [h.value for h in routing.response_headers if h.name.lower() == "set-cookie"]
    mirrored = sum(m.percent for m in routing.mirrors if side(m.service) == "canary")
    return Split(
        primary=shares["primary"],
        canary=shares["canary"],
        mirrored=mirrored > 0,
        mirror_percent=mirrored,
        enforced_by=routing.enforced_by,
        status=routing.status,
        reason=routing.reason,
        other=shares["other"],
        set_cookies=tuple(dict.fromkeys(cookies)),
    )


@dataclass(frozen=True, slots=True)
class _Names:
    apex: str
    primary_workload: str
    canary_workload: str

    @classmethod
    def of(cls, canary: JSON) -> _Names:
        spec = canary.get("spec") or {}
        target = str((spec.get("targetRef") or {}).get("name") or object_name(canary))
        apex = str((spec.get("service") or {}).get("name") or target)
        return cls(apex, f"{target}-primary", target)


def _side(service: str, names: _Names, objects: Objects) -> str:
    if service == f"{names.apex}-primary":
        return "primary"
    if service == f"{names.apex}-canary":
        return "canary"
    svc = objects.service(service)
    if svc is not None and objects.workloads:
        picked = set(endpoints(svc, objects.workloads).workloads)
        if picked == {names.primary_workload}:
            return "primary"
        if picked == {names.canary_workload}:
            return "canary"
        if picked:
            return "other"
    return "primary" if service == names.apex else "other"


def plain_request(canary: JSON, objects: Objects, *, provider: str = "") -> Request:
    """A request with no A/B header: the first host of `service.hosts` (else of the
    HTTPRoute, the Ingress or the VirtualService; else, for istio, the apex), the path of
    the first `service.match` uri (else `/`). For istio, a TCP connection when
    `service.appProtocol` is tcp, to the port of the first `service.match` entry that has
    one, else `service.port`; else a request that the first `service.match` entry selects
    (its uri, method, headers, query parameters, sourceLabels)."""
    service = (canary.get("spec") or {}).get("service") or {}
    hosts = [str(h) for h in service.get("hosts") or [] if h and h != "*"]
    for route_obj in objects.routes:
        hosts += [str(h) for h in (route_obj.get("spec") or {}).get("hostnames") or []]
    for ing in objects.ingresses:
        hosts += [
            str(r["host"]) for r in (ing.get("spec") or {}).get("rules") or [] if r.get("host")
        ]
    for vs in objects.virtualservices:
        hosts += [str(h) for h in (vs.get("spec") or {}).get("hosts") or [] if h and h != "*"]
    for obj in objects.weighted:
        hosts += weighted_hosts(obj)
    if provider == ISTIO or is_smi(provider):
        hosts.append(_Names.of(canary).apex)
    host = next(iter(hosts), "")
    if host.startswith("*."):
        host = "www" + host[1:]
    path = "/"
    for match in service.get("match") or []:
        uri = match.get("uri") or {}
        if uri.get("exact") or uri.get("prefix"):
            path = str(uri.get("exact") or uri.get("prefix"))
            break
    if provider != ISTIO:
        return Request(host=host, path=path)
    ports = [m.get("port") for m in service.get("match") or [] if isinstance(m, Mapping)]
    port = next((p for p in ports if isinstance(p, int) and p > 0), None)
    if str(service.get("appProtocol") or "").lower() == "tcp":
        fallback = service.get("port")
        port = port or (fallback if isinstance(fallback, int) else None)
        return Request(host=host, path=path, protocol="tcp", port=port)
    # The VirtualService's routes only take what `service.match` selects: satisfy its first
    # entry (conditions without a sample value we can derive are left out).
    first = next((m for m in service.get("match") or [] if isinstance(m, Mapping)), {})
    headers = {str(k): v for k, c in (first.get("headers") or {}).items() if (v := _sample(c))}
    query = {str(k): v for k, c in (first.get("queryParams") or {}).items() if (v := _sample(c))}
    labels = {str(k): str(v) for k, v in (first.get("sourceLabels") or {}).items()}
    return Request(
        host=host,
        path=path,
        method=str((first.get("method") or {}).get("exact") or "GET"),
        headers=headers,
        query=query,
        port=port,
        source_labels=labels,
        source_namespace=str(first.get("sourceNamespace") or ""),
    )


def matching_request(canary: JSON, plain: Request, provider: str) -> Request | None:
    """`plain` plus what the first `analysis.match` entry asks for; None without one, or when
    a regex condition has no sample value we can derive."""
    matches = ((canary.get("spec") or {}).get("analysis") or {}).get("match") or []
    if not matches:
        return None
    first = matches[0] if isinstance(matches[0], Mapping) else {}
    path, method = plain.path, plain.method
    if provider == ISTIO:
        uri = first.get("uri") or {}
        path = str(uri.get("exact") or uri.get("prefix") or path)
        method = str((first.get("method") or {}).get("exact") or method)
    headers: dict[str, str] = dict(plain.headers)
    cookies: dict[str, str] = dict(plain.cookies)
    query: dict[str, str] = dict(plain.query)
    for name, cond in (first.get("headers") or {}).items():
        if provider == NGINX and str(name).lower() == "cookie" and cond.get("exact"):
            cookies[str(cond["exact"])] = "always"
            continue
        value = _sample(cond)
        if value is None:
            return None
        headers[str(name)] = value
    for name, cond in (first.get("queryParams") or {}).items():
        value = _sample(cond)
        if value is None:
            return None
        query[str(name)] = value
    labels = {str(k): str(v) for k, v in (first.get("sourceLabels") or {}).items()}
    return Request(
        host=plain.host,
        path=path,
        method=method,
        headers=headers,
        query=query,
        cookies=cookies,
        scheme=plain.scheme,
        protocol=plain.protocol,
        port=plain.port,
        source_labels={**plain.source_labels, **labels},
        source_namespace=plain.source_namespace,
    )


def _sample(cond: Any) -> str | None:
    """A value satisfying a StringMatch: exact, prefix, suffix, or a simple regex."""
    if not isinstance(cond, Mapping):
        return None
    if cond.get("exact"):
        return str(cond["exact"])
    if cond.get("prefix"):
        return str(cond["prefix"])
    if cond.get("suffix"):
        return "x" + str(cond["suffix"])
    pattern = str(cond.get("regex") or "")
    if not pattern:
        return None
    literal = re.sub(r"\(\.\*\??[^)]*\)\??|\.\*\??|[\^$()?]", "", pattern)
    for candidate in (literal, literal.strip(";"), literal.replace("\\", "")):
        try:
            if re.fullmatch(pattern, candidate):
                return candidate
        except re.error:
            return None
    return None
