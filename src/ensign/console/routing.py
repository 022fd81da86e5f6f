"""The routing part of `ensign describe`: the router objects of a canary, their rules and the
live split the traffic model reads from them. Pure.

`build_traffic` takes what `describing` read (plain dicts) and returns a `Traffic`: the
provider in force (`spec.provider`, else the controller's default), the router objects it
expects (HTTPRoute `<apex>`; or Ingress `<ingressRef>` and `<ingressRef>-canary`; or
VirtualService `<apex>` and DestinationRules `<apex>-primary`/`<apex>-canary`; or, for the
SMI providers, TrafficSplit `<apex>`; or Contour's HTTPProxy `<apex>`; or Gloo's RouteTable
`<apex>` and Upstreams `<ns>-<apex>-primaryupstream-<port>`/`...-canaryupstream-<port>`; or App
Mesh's virtual services, routers and nodes, as `appmesh_refs` names them), present or
not and why, each one's rules, and the shares of a plain request and of a request that
matches `analysis.match`, with the object and rule that enforce them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ensign.traffic import (
    DEFAULT_PREFIX,
    Request,
    Routing,
    Rule,
    Split,
    is_canary,
    live_split,
    plain_request,
    rules_of,
    rules_of_appmesh,
    rules_of_httpproxy,
    rules_of_ingress,
    rules_of_routetable,
    rules_of_skipper,
    rules_of_trafficsplit,
    rules_of_virtualservice,
    rules_of_weighted,
    weighted_hosts,
)
from ensign.traffic.model import Objects as TrafficObjects
from ensign.traffic.model import is_smi

JSON = dict[str, Any]
GATEWAY = ("gatewayapi:v1", "gatewayapi:v1beta1")
NGINX = "nginx"
ISTIO = "istio"
SKIPPER = "skipper"
# Providers whose one or two objects are read by `ensign.traffic.weighted`: each object
# as (kind, name, role) from the spec and the apex.
WEIGHTED = ("traefik", "apisix", "kuma")
CONTOUR = "contour"
GLOO = "gloo"  # and the suffixed -mesh-provider values: any string starting "gloo"
APPMESH = "appmesh"  # appmesh.k8s.aws/v1beta1
APPMESH_V1BETA2 = "appmesh:v1beta2"  # and "appmesh:v1beta2..." -mesh-provider values
APPMESH_GROUP = "appmesh.k8s.aws"
ROUTING_PROVIDERS = (
    *GATEWAY,
    NGINX,
    ISTIO,
    SKIPPER,
    *WEIGHTED,
    CONTOUR,
    GLOO,
    APPMESH,
    APPMESH_V1BETA2,
)
# Missing, they leave the split readable: Istio's DestinationRules (policy only) and App
# Mesh's `<apex>-canary` virtual service and router (the canary's own address).
ADVISORY_ROLES = ("destination-rule", "canary-route")


@dataclass(frozen=True, slots=True)
class RouterObject:
    kind: str  # HTTPRoute, Ingress, VirtualService, DestinationRule, TrafficSplit
    name: str
    role: str  # route, ingress (the user's), canary-ingress, destination-rule
    present: bool
    note: str  # why it is absent: "not found", "HTTPRoute CRD not installed"
    hosts: tuple[str, ...]
    rules: tuple[Rule, ...]
    gateways: tuple[str, ...] = ()  # VirtualService
    # What the object is set to, in a few words: a DestinationRule's traffic policy and
    # subsets; a Gloo Upstream's kube service; an App Mesh object's provider or listeners.
    policy: str = ""
    api_version: str = ""  # set for Contour, Gloo and App Mesh objects


@dataclass(frozen=True, slots=True)
class Traffic:
    provider: str
    routes_traffic: bool  # False for the kubernetes provider: the apex Service decides
    objects: tuple[RouterObject, ...]
    request: Request | None
    plain: Split | None  # None when a router object is missing
    matched_request: Request | None
    matched: Split | None  # None without analysis.match
    notes: tuple[str, ...]


def build_traffic(
    canary: Mapping[str, Any],
    *,
    routes: Sequence[Mapping[str, Any]],
    ingresses: Sequence[Mapping[str, Any]],
    services: Iterable[Mapping[str, Any]],
    workloads: Iterable[Mapping[str, Any]],
    missing_kinds: Iterable[str] = (),
    default_provider: str = "kubernetes",
    prefix: str = DEFAULT_PREFIX,
    virtualservices: Sequence[Mapping[str, Any]] = (),
    destination_rules: Sequence[Mapping[str, Any]] = (),
    trafficsplits: Sequence[Mapping[str, Any]] = (),
    weighted: Sequence[Mapping[str, Any]] = (),  # TraefikService, TrafficRoute, ApisixRoute
    httpproxies: Sequence[Mapping[str, Any]] = (),  # Contour
    routetables: Sequence[Mapping[str, Any]] = (),  # Gloo
    upstreams: Sequence[Mapping[str, Any]] = (),  # Gloo
    appmesh: Sequence[Mapping[str, Any]] = (),  # App Mesh objects, with apiVersion and kind
) -> Traffic:
    spec = canary.get("spec") or {}
    target = str((spec.get("targetRef") or {}).get("name") or "")
    apex = str((spec.get("service") or {}).get("name") or target)
    provider = str(spec.get("provider") or "") or default_provider
    missing = set(missing_kinds)
    objects: list[RouterObject] = []
    used: list[Mapping[str, Any]] = []
    request: Request | None = None
    if provider in GATEWAY:
        route = next((r for r in routes if _name(r) == apex), None)
        objects.append(_route_object(apex, route, "HTTPRoute" in missing))
        used += [route] if route is not None else []
    elif provider == NGINX:
        ref = str((spec.get("ingressRef") or {}).get("name") or "")
        by_name = {_name(i): i for i in ingresses}
        main, twin = by_name.get(ref), by_name.get(f"{ref}-canary")
        main_service = _first_backend(main) if main is not None else apex
        objects.append(_ingress_object(ref, main, "ingress", "Ingress" in missing, "", prefix))
        objects.append(
            _ingress_object(
                f"{ref}-canary", twin, "canary-ingress", "Ingress" in missing, main_service, prefix
            )
        )
        used += [i for i in (main, twin) if i is not None]
    elif provider == ISTIO:
        vs = next((v for v in virtualservices if _name(v) == apex), None)
        rules_by_name = {_name(r): r for r in destination_rules}
        drs = [rules_by_name.get(f"{apex}-{side}") for side in ("primary", "canary")]
        present_drs = [r for r in drs if r is not None]
        objects.append(_vs_object(apex, vs, "VirtualService" in missing, present_drs))
        for side, rule in zip(("primary", "canary"), drs, strict=True):
            objects.append(_dr_object(f"{apex}-{side}", rule, "DestinationRule" in missing))
        used += [vs] if vs is not None else []
        used += [{"kind": "DestinationRule", **r} for r in present_drs]
    elif provider == SKIPPER:
        ref = str((spec.get("ingressRef") or {}).get("name") or "")
        by_name = {_name(i): i for i in ingresses}
        for name, role in ((ref, "ingress"), (f"{ref}-canary", "canary-ingress")):
            ing = by_name.get(name)
            objects.append(_skipper_object(name, ing, role, "Ingress" in missing))
            used += [ing] if ing is not None else []
    elif provider in WEIGHTED:
        for kind, name, role in weighted_refs(provider, spec, apex):
            obj = next((o for o in weighted if _name(o) == name and o.get("kind") == kind), None)
            objects.append(_weighted_object(kind, name, role, obj, kind in missing))
            used += [obj] if obj is not None else []
    elif is_smi(provider):
        split = next((t for t in trafficsplits if _name(t) == apex), None)
        objects.append(_ts_object(apex, split, "TrafficSplit" in missing))
        used += [{"kind": "TrafficSplit", **split}] if split is not None else []
    elif provider == CONTOUR:
        proxy = next((p for p in httpproxies if _name(p) == apex), None)
        objects.append(_httpproxy_object(apex, proxy, "HTTPProxy" in missing))
        used += [{"kind": "HTTPProxy", **proxy}] if proxy is not None else []
    elif is_gloo(provider):
        by_name = {_name(u): u for u in upstreams}
        names = gloo_upstream_names(canary)
        found = [by_name.get(name) for name in names]
        ours = [{"kind": "Upstream", **u} for u in found if u is not None]
        table = next((t for t in routetables if _name(t) == apex), None)
        objects.append(_routetable_object(apex, table, "RouteTable" in missing, ours))
        for name, upstream in zip(names, found, strict=True):
            objects.append(_upstream_object(name, upstream, "Upstream" in missing))
        used += [{"kind": "RouteTable", **table}] if table is not None else []
        used += ours
    elif appmesh_version(provider):
        version = appmesh_version(provider)
        mesh = [o for o in appmesh if str(o.get("apiVersion") or "").startswith(APPMESH_GROUP)]
        for kind, name, role in appmesh_refs(version, apex, _namespace(canary)):
            obj = next((o for o in mesh if _name(o) == name and o.get("kind") == kind), None)
            objects.append(_appmesh_object(kind, name, role, obj, kind in missing, version, mesh))
            used += [obj] if obj is not None else []
        # Clients in the mesh call the apex virtual service by its name, whatever
        # service.hosts (an ingress's hosts) say.
        plain = plain_request(canary, TrafficObjects.of(used), provider=provider)
        request = replace(plain, host=apex)
    notes = tuple(f"{o.kind} {o.name}: {o.note}" for o in objects if not o.present)
    blocked = [o for o in objects if not o.present and o.role not in ADVISORY_ROLES]
    routes_traffic = (
        provider in ROUTING_PROVIDERS
        or is_smi(provider)
        or is_gloo(provider)
        or bool(appmesh_version(provider))
    )
    if routes_traffic and (blocked or not used):
        return Traffic(provider, True, tuple(objects), None, None, None, None, notes)
    live = live_split(
        canary,
        *used,
        *services,
        *workloads,
        provider=provider,
        prefix=prefix,
        request=request,
    )
    return Traffic(
        provider,
        routes_traffic,
        tuple(objects),
        live.request,
        live.plain,
        live.matched_request,
        live.matched,
        notes,
    )


def _route_object(name: str, route: Mapping[str, Any] | None, no_crd: bool) -> RouterObject:
    if route is None:
        note = "HTTPRoute CRD not installed" if no_crd else "not found"
        return RouterObject("HTTPRoute", name, "route", False, note, (), ())
    hosts = tuple(str(h) for h in (route.get("spec") or {}).get("hostnames") or [])
    return RouterObject("HTTPRoute", name, "route", True, "", hosts, rules_of(route))


def _vs_object(
    name: str,
    vs: Mapping[str, Any] | None,
    no_crd: bool,
    destination_rules: Sequence[Mapping[str, Any]],
) -> RouterObject:
    if vs is None:
        note = "VirtualService CRD not installed" if no_crd else "not found"
        return RouterObject("VirtualService", name, "route", False, note, (), ())
    spec = vs.get("spec") or {}
    hosts = tuple(str(h) for h in spec.get("hosts") or [])
    gateways = tuple(str(g) for g in spec.get("gateways") or [])
    rules = rules_of_virtualservice(vs, destination_rules=destination_rules or None)
    return RouterObject("VirtualService", name, "route", True, "", hosts, rules, gateways)


def weighted_refs(
    provider: str, spec: Mapping[str, Any], apex: str
) -> tuple[tuple[str, str, str], ...]:
    """(kind, name, role) of the objects a weighted provider reads: TraefikService `<apex>`;
    Kuma's cluster-scoped TrafficRoute `<apex>`; APISIX's user route (`routeRef`) and its
    canary route `<routeRef>-<apex>-canary`."""
    if provider == "traefik":
        return (("TraefikService", apex, "route"),)
    if provider == "kuma":
        return (("TrafficRoute", apex, "route"),)
    ref = str((spec.get("routeRef") or {}).get("name") or "")
    return (("ApisixRoute", ref, "user-route"), ("ApisixRoute", f"{ref}-{apex}-canary", "route"))


def _weighted_object(
    kind: str, name: str, role: str, obj: Mapping[str, Any] | None, no_crd: bool
) -> RouterObject:
    if obj is None:
        note = f"{kind} CRD not installed" if no_crd else "not found"
        if not name or name.startswith("-"):
            note = "spec.routeRef is not set"
        return RouterObject(kind, name, role, False, note, (), ())
    return RouterObject(kind, name, role, True, "", weighted_hosts(obj), rules_of_weighted(obj))


def is_gloo(provider: str) -> bool:
    """`gloo`, and the suffixed -mesh-provider values Flagger accepts (`gloo...`)."""
    return provider.startswith(GLOO)


def appmesh_version(provider: str) -> str:
    """The App Mesh API a provider writes: `v1beta1` for `appmesh`, `v1beta2` for
    `appmesh:v1beta2...`; "" for any other provider."""
    if provider == APPMESH:
        return "v1beta1"
    return "v1beta2" if provider.startswith(APPMESH_V1BETA2) else ""


def gloo_upstream_names(canary: Mapping[str, Any]) -> tuple[str, str]:
    """`<ns>-<apex>-primaryupstream-<port>` and `<ns>-<apex>-canaryupstream-<port>`, the
    port being `service.port`."""
    spec = canary.get("spec") or {}
    target = str((spec.get("targetRef") or {}).get("name") or "")
    service = spec.get("service") or {}
    base = f"{_namespace(canary)}-{service.get('name') or target}"
    port = service.get("port")
    return (f"{base}-primaryupstream-{port}", f"{base}-canaryupstream-{port}")


def appmesh_refs(version: str, apex: str, namespace: str) -> tuple[tuple[str, str, str], ...]:
    """(kind, name, role) of the App Mesh objects the router writes, as
    `ensign.routers.appmesh` names them: v1beta2 the VirtualService `<apex>` (role service)
    and its VirtualRouter `<apex>` (role route, the weighted routes); v1beta1 the
    VirtualService `<apex>.<ns>` (role route, its router embedded); then the canary's own
    address, `<apex>-canary` (role canary-route), and the VirtualNodes `<apex>-primary` and
    `<apex>-canary` (role virtual-node)."""
    nodes = (
        ("VirtualNode", f"{apex}-primary", "virtual-node"),
        ("VirtualNode", f"{apex}-canary", "virtual-node"),
    )
    if version == "v1beta1":
        return (
            ("VirtualService", f"{apex}.{namespace}", "route"),
            ("VirtualService", f"{apex}-canary.{namespace}", "canary-route"),
            *nodes,
        )
    return (
        ("VirtualService", apex, "service"),
        ("VirtualRouter", apex, "route"),
        ("VirtualService", f"{apex}-canary", "canary-route"),
        ("VirtualRouter", f"{apex}-canary", "canary-route"),
        *nodes,
    )


def _httpproxy_object(name: str, proxy: Mapping[str, Any] | None, no_crd: bool) -> RouterObject:
    api = "projectcontour.io/v1"
    if proxy is None:
        note = "HTTPProxy CRD not installed" if no_crd else "not found"
        return RouterObject("HTTPProxy", name, "route", False, note, (), (), api_version=api)
    fqdn = ((proxy.get("spec") or {}).get("virtualhost") or {}).get("fqdn")
    hosts = (str(fqdn),) if fqdn else ()
    rules = rules_of_httpproxy(proxy)
    return RouterObject("HTTPProxy", name, "route", True, "", hosts, rules, api_version=api)


def _routetable_object(
    name: str,
    table: Mapping[str, Any] | None,
    no_crd: bool,
    upstreams: Sequence[Mapping[str, Any]],
) -> RouterObject:
    api = "gateway.solo.io/v1"
    if table is None:
        note = "RouteTable CRD not installed" if no_crd else "not found"
        return RouterObject("RouteTable", name, "route", False, note, (), (), api_version=api)
    rules = rules_of_routetable(table, upstreams=upstreams)
    return RouterObject("RouteTable", name, "route", True, "", (), rules, api_version=api)


def _upstream_object(name: str, upstream: Mapping[str, Any] | None, no_crd: bool) -> RouterObject:
    api = "gloo.solo.io/v1"
    if upstream is None:
        note = "Upstream CRD not installed" if no_crd else "not found"
        return RouterObject("Upstream", name, "upstream", False, note, (), (), api_version=api)
    kube = (upstream.get("spec") or {}).get("kube") or {}
    service = str(kube.get("serviceName") or "")
    ns = str(kube.get("serviceNamespace") or "")
    host = f"{service}.{ns}" if service and ns else service
    policy = f"kube service {host or '-'}:{kube.get('servicePort', '-')}"
    hosts = (host,) if host else ()
    return RouterObject(
        "Upstream", name, "upstream", True, "", hosts, (), (), policy, api_version=api
    )


def _appmesh_object(
    kind: str,
    name: str,
    role: str,
    obj: Mapping[str, Any] | None,
    no_crd: bool,
    version: str,
    mesh: Sequence[Mapping[str, Any]],
) -> RouterObject:
    api = f"{APPMESH_GROUP}/{version}"
    if obj is None:
        note = f"{kind} CRD not installed" if no_crd else "not found"
        return RouterObject(kind, name, role, False, note, (), (), api_version=api)
    api = str(obj.get("apiVersion") or api)
    spec = obj.get("spec") or {}
    if kind == "VirtualNode":
        dns = ((spec.get("serviceDiscovery") or {}).get("dns")) or {}
        host = str(dns.get("hostname") or dns.get("hostName") or "")
        policy = _listeners(spec.get("listeners"), "listener")
        hosts = (host,) if host else ()
        return RouterObject(kind, name, role, True, "", hosts, (), (), policy, api)
    if kind == "VirtualRouter":
        rules = rules_of_appmesh(obj, mesh)
        policy = _listeners(spec.get("listeners"), "listener")
        return RouterObject(kind, name, role, True, "", (), rules, (), policy, api)
    # VirtualService: v1beta2 names its router (or node); v1beta1 embeds the router.
    provider = spec.get("provider") or {}
    router = (provider.get("virtualRouter") or {}).get("virtualRouterRef") or {}
    node = (provider.get("virtualNode") or {}).get("virtualNodeRef") or {}
    embedded = spec.get("virtualRouter") or {}
    if router.get("name"):
        policy = f"provider VirtualRouter {router['name']}"
    elif node.get("name"):
        policy = f"provider VirtualNode {node['name']}"
    elif embedded.get("name"):
        policy = f"router {embedded['name']} (embedded)"
    else:
        policy = "no provider"
    hosts = (str(spec.get("awsName") or name),)
    rules = rules_of_appmesh(obj, mesh) if spec.get("routes") else ()
    return RouterObject(kind, name, role, True, "", hosts, rules, (), policy, api)


def _listeners(raw: object, word: str) -> str:
    """`listener http 9898` from App Mesh `listeners[].portMapping`."""
    entries = raw if isinstance(raw, Sequence) and not isinstance(raw, str) else []
    mappings = [e.get("portMapping") or {} for e in entries if isinstance(e, Mapping)]
    ports = [f"{m.get('protocol', '-')} {m.get('port', '-')}" for m in mappings]
    return f"{word} {', '.join(ports)}" if ports else f"no {word}"


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _skipper_object(
    name: str, ingress: Mapping[str, Any] | None, role: str, no_api: bool
) -> RouterObject:
    if ingress is None:
        note = "Ingress API not available" if no_api else "not found"
        if not name or name == "-canary":
            note = "spec.ingressRef is not set"
        return RouterObject("Ingress", name, role, False, note, (), ())
    hosts = tuple(
        str(r["host"]) for r in (ingress.get("spec") or {}).get("rules") or [] if r.get("host")
    )
    return RouterObject("Ingress", name, role, True, "", hosts, rules_of_skipper(ingress))


def _ts_object(name: str, split: Mapping[str, Any] | None, no_crd: bool) -> RouterObject:
    if split is None:
        note = "TrafficSplit CRD not installed" if no_crd else "not found"
        return RouterObject("TrafficSplit", name, "route", False, note, (), ())
    root = str((split.get("spec") or {}).get("service") or "")
    hosts = (root,) if root else ()
    return RouterObject(
        "TrafficSplit", name, "route", True, "", hosts, rules_of_trafficsplit(split)
    )


def _dr_object(name: str, rule: Mapping[str, Any] | None, no_crd: bool) -> RouterObject:
    role = "destination-rule"
    if rule is None:
        note = "DestinationRule CRD not installed" if no_crd else "not found"
        return RouterObject("DestinationRule", name, role, False, note, (), ())
    spec = rule.get("spec") or {}
    host = (str(spec["host"]),) if spec.get("host") else ()
    return RouterObject("DestinationRule", name, role, True, "", host, (), (), _policy(spec))


def _policy(spec: Mapping[str, Any]) -> str:
    """`trafficPolicy loadBalancer, outlierDetection; subsets v1, v2` (or `no trafficPolicy`)."""
    policy = spec.get("trafficPolicy") or {}
    parts = [f"trafficPolicy {', '.join(str(k) for k in policy)}" if policy else "no trafficPolicy"]
    subsets = [str(s.get("name")) for s in spec.get("subsets") or [] if isinstance(s, Mapping)]
    if subsets:
        parts.append(f"subsets {', '.join(subsets)}")
    return "; ".join(parts)


def _ingress_object(
    name: str,
    ingress: Mapping[str, Any] | None,
    role: str,
    no_api: bool,
    main_service: str,
    prefix: str,
) -> RouterObject:
    if ingress is None:
        note = "Ingress API not available" if no_api else "not found"
        if not name or name == "-canary":
            note = "spec.ingressRef is not set"
        return RouterObject("Ingress", name, role, False, note, (), ())
    hosts = tuple(
        str(r["host"]) for r in (ingress.get("spec") or {}).get("rules") or [] if r.get("host")
    )
    note = "" if role != "canary-ingress" or is_canary(ingress, prefix) else "not a canary"
    rules = rules_of_ingress(ingress, main_service=main_service, prefix=prefix)
    return RouterObject("Ingress", name, role, True, note, hosts, rules)


def _first_backend(ingress: Mapping[str, Any]) -> str:
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            name = ((path.get("backend") or {}).get("service") or {}).get("name")
            if name:
                return str(name)
    return ""


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


# ------------------------------------------------------------------ text


def split_text(split: Split) -> str:
    """`primary 90% / canary 10%, mirrored 100% to the canary` (or the error status)."""
    if split.status != 200:
        return f"HTTP {split.status}: {split.reason}"
    if split.reason and not (split.primary or split.canary or split.other):
        return split.reason  # a delegated route
    text = f"primary {_pct(split.primary)} / canary {_pct(split.canary)}"
    if split.other:
        text += f" / other {_pct(split.other)}"
    if split.mirrored:
        text += f", mirrored {_pct(split.mirror_percent)} to the canary"
    return text


def request_text(request: Request) -> str:
    """What sets a sample request apart: `header x-canary: insider, cookie canary=always`."""
    parts = [f"header {k}: {v}" for k, v in request.headers.items()]
    parts += [f"cookie {k}={v}" for k, v in request.cookies.items()]
    parts += [f"query {k}={v}" for k, v in request.query.items()]
    if request.source_labels:
        labels = ",".join(f"{k}={v}" for k, v in request.source_labels.items())
        parts.append(f"from a pod with {labels}")
    return ", ".join(parts) or f"{request.method} {request.host or '*'}{request.path}"


def rule_text(rule: Rule) -> str:
    """`rule 0: PathPrefix / → podinfo-primary 90 (90%), podinfo-canary 10 (10%)`; a
    VirtualService's routes are `http[0]: ...`, `tcp[0]: ...`."""
    name = rule.label or f"rule {rule.index}"
    return f"{name}: {' | '.join(rule.matches)} → {routing_text(rule.routing)}"


def routing_text(routing: Routing) -> str:
    if routing.status != 200:
        return f"HTTP {routing.status} ({routing.reason})"
    if not routing.destinations and routing.reason:
        return routing.reason  # delegated
    parts = []
    for d in routing.destinations:
        part = f"{d.service} {d.weight} ({_pct(d.percent)})"
        cookies = [h.value for h in d.response_headers if h.name.lower() == "set-cookie"]
        if cookies:
            part += " sets " + "; ".join(c.split(";")[0] for c in cookies)
        parts.append(part)
    text = ", ".join(parts)
    for m in routing.mirrors:
        text += f"; mirror {_pct(m.percent)} to {m.service}"
    cookies = [h.value for h in routing.response_headers if h.name.lower() == "set-cookie"]
    if cookies:
        text += "; Set-Cookie " + ", ".join(cookies)
    return text


def _pct(value: float) -> str:
    return f"{value:.0f}%" if float(value).is_integer() else f"{value:.2f}".rstrip("0") + "%"


# ------------------------------------------------------------------ json


def traffic_json(traffic: Traffic) -> JSON:
    return {
        "provider": traffic.provider,
        "routesTraffic": traffic.routes_traffic,
        "objects": [
            {
                "kind": o.kind,
                "name": o.name,
                "role": o.role,
                "present": o.present,
                "note": o.note,
                "hosts": list(o.hosts),
                "gateways": list(o.gateways),
                "policy": o.policy,
                "apiVersion": o.api_version,
                "rules": [_rule_json(r) for r in o.rules],
            }
            for o in traffic.objects
        ],
        "plain": _split_json(traffic.request, traffic.plain),
        "matched": _split_json(traffic.matched_request, traffic.matched),
        "notes": list(traffic.notes),
    }


def _rule_json(rule: Rule) -> JSON:
    r = rule.routing
    return {
        "index": rule.index,
        "label": rule.label or f"rule {rule.index}",
        "matches": list(rule.matches),
        "backends": [
            {
                "service": d.service,
                "weight": d.weight,
                "percent": d.percent,
                "responseHeaders": [{"name": h.name, "value": h.value} for h in d.response_headers],
            }
            for d in r.destinations
        ],
        "mirrors": [{"service": m.service, "percent": m.percent} for m in r.mirrors],
        "responseHeaders": [{"name": h.name, "value": h.value} for h in r.response_headers],
        "status": r.status,
        "reason": r.reason,
    }


def _split_json(request: Request | None, split: Split | None) -> JSON | None:
    if request is None or split is None:
        return None
    return {
        "request": {
            "host": request.host,
            "path": request.path,
            "method": request.method,
            "headers": dict(request.headers),
            "query": dict(request.query),
            "cookies": dict(request.cookies),
            "protocol": request.protocol,
            "port": request.port,
            "sourceLabels": dict(request.source_labels),
        },
        "primary": split.primary,
        "canary": split.canary,
        "other": split.other,
        "mirrored": split.mirrored,
        "mirrorPercent": split.mirror_percent,
        "enforcedBy": split.enforced_by,
        "status": split.status,
        "reason": split.reason,
        "setCookies": list(split.set_cookies),
    }
