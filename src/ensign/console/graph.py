"""The live object graph of one Canary, built from plain dicts. Pure.

`build_graph(canary, objects)` returns nodes (the router's objects: Ingresses, HTTPRoutes,
VirtualServices and DestinationRules, TrafficSplits, HTTPProxies, RouteTables and Upstreams,
App Mesh virtual services, routers and nodes, ...; the apex, primary and canary Services, both workloads, the HPAs, the
tracked ConfigMaps and Secrets) and the edges between them (`routes`, `configures`,
`selects`, `scales`, `uses`), with which side is live, at what weight,
this revision's analysis history, the last result of each metric check and the next decision. `to_json` is the stable shape that
`ensign describe --output json` prints (documented in `to_json`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ensign.console.routing import Traffic, build_traffic, traffic_json
from ensign.traffic import DEFAULT_PREFIX, service_of

JSON = dict[str, Any]
SCHEMA = "ensign.dev/describe/v1"


@dataclass(frozen=True, slots=True)
class Node:
    id: str  # "<kind>/<name>", unique in a graph
    kind: str  # Ingress, Service, Deployment, DaemonSet, HorizontalPodAutoscaler, ...
    name: str
    role: str  # apex, primary, canary, ingress, autoscaler, config
    present: bool = True
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    relation: str  # routes (Ingress → Service), configures (DestinationRule → Service),
    # selects, scales, uses


@dataclass(frozen=True, slots=True)
class Objects:
    """What the cluster holds around a Canary, all in its namespace."""

    services: Mapping[str, JSON] = field(default_factory=dict)
    workloads: Mapping[str, JSON] = field(default_factory=dict)
    pods: Mapping[str, Sequence[JSON]] = field(default_factory=dict)  # workload name → pods
    ingresses: Sequence[JSON] = ()
    hpas: Mapping[str, JSON] = field(default_factory=dict)
    configs: Mapping[str, JSON | None] = field(default_factory=dict)  # "configmap/x" → obj
    routes: Sequence[JSON] = ()  # HTTPRoutes read (the one named after the apex)
    missing_kinds: frozenset[str] = frozenset()  # kinds the API does not serve: "HTTPRoute"
    virtualservices: Sequence[JSON] = ()  # the one named after the apex
    destination_rules: Sequence[JSON] = ()  # <apex>-primary, <apex>-canary
    trafficsplits: Sequence[JSON] = ()  # the one named after the apex (SMI providers)
    weighted: Sequence[JSON] = ()  # TraefikService, Kuma TrafficRoute, ApisixRoutes
    httpproxies: Sequence[JSON] = ()  # Contour: the one named after the apex
    routetables: Sequence[JSON] = ()  # Gloo: the one named after the apex
    upstreams: Sequence[JSON] = ()  # Gloo: <ns>-<apex>-{primary,canary}upstream-<port>
    appmesh: Sequence[JSON] = ()  # App Mesh virtual services, routers and nodes (apiVersion set)


@dataclass(frozen=True, slots=True)
class Names:
    """The names Flagger derives from a Canary spec."""

    namespace: str
    canary: str
    kind: str
    target: str
    primary: str
    apex: str
    autoscaler: str

    @classmethod
    def of(cls, canary: Mapping[str, Any]) -> Names:
        meta = canary.get("metadata") or {}
        spec = canary.get("spec") or {}
        ref = spec.get("targetRef") or {}
        target = str(ref.get("name") or meta.get("name") or "")
        service = spec.get("service") or {}
        return cls(
            namespace=str(meta.get("namespace") or ""),
            canary=str(meta.get("name") or ""),
            kind=str(ref.get("kind") or "Deployment"),
            target=target,
            primary=f"{target}-primary",
            apex=str(service.get("name") or target),
            autoscaler=str((spec.get("autoscalerRef") or {}).get("name") or ""),
        )


@dataclass(frozen=True, slots=True)
class Graph:
    names: Names
    phase: str
    revision: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    live: str  # primary, canary, split (both serve), none (no apex Service yet)
    weight: int  # status.canaryWeight: the canary's share of traffic, in percent
    history: tuple[Mapping[str, Any], ...]
    checks: tuple[Mapping[str, Any], ...]  # status.checks: each metric's last result, spec order
    next_at: str  # status.nextAnalysisAt, "" when no analysis is scheduled
    next_reason: str
    next_message: str
    traffic: Traffic

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def targets(self, node_id: str, relation: str) -> list[Node]:
        ids = [e.target for e in self.edges if e.source == node_id and e.relation == relation]
        return [n for n in self.nodes if n.id in ids]


def build_graph(
    canary: Mapping[str, Any],
    objects: Objects,
    *,
    default_provider: str = "kubernetes",
    ingress_prefix: str = DEFAULT_PREFIX,
) -> Graph:
    """`default_provider`: the controller's -mesh-provider, for canaries without
    spec.provider; `ingress_prefix`: its -ingress-annotations-prefix."""
    names = Names.of(canary)
    status = canary.get("status") or {}
    nodes: list[Node] = []
    edges: list[Edge] = []
    workloads = _workload_nodes(names, objects)
    services = _service_nodes(names, objects)
    traffic = build_traffic(
        canary,
        routes=objects.routes,
        ingresses=objects.ingresses,
        services=list(objects.services.values()),
        workloads=list(objects.workloads.values()),
        missing_kinds=objects.missing_kinds,
        default_provider=default_provider,
        prefix=ingress_prefix,
        virtualservices=objects.virtualservices,
        destination_rules=objects.destination_rules,
        trafficsplits=objects.trafficsplits,
        weighted=objects.weighted,
        httpproxies=objects.httpproxies,
        routetables=objects.routetables,
        upstreams=objects.upstreams,
        appmesh=objects.appmesh,
    )
    for ing in [*_route_nodes(names, objects, traffic), *_ingress_nodes(names, objects, traffic)]:
        nodes.append(ing)
        edges += [Edge(ing.id, s, "routes") for s in ing.details["services"]]
    for rule in _policy_nodes(names, traffic):
        nodes.append(rule)
        edges += [Edge(rule.id, s, "configures") for s in rule.details["services"]]
    nodes += services + workloads
    for svc in services:
        edges += [Edge(svc.id, w.id, "selects") for w in workloads if _selects(svc, w)]
    for hpa in _hpa_nodes(names, objects):
        nodes.append(hpa)
        edges.append(Edge(hpa.id, f"{names.kind}/{hpa.details['scales']}", "scales"))
    configs = _config_nodes(status.get("trackedConfigs"), objects)
    for cfg in configs:
        nodes.append(cfg)
        owner = names.primary if cfg.name.endswith("-primary") else names.target
        edges.append(Edge(f"{names.kind}/{owner}", cfg.id, "uses"))
    weight = _int(status.get("canaryWeight"))
    apex_targets = [e.target for e in edges if e.source == f"Service/{names.apex}"]
    ready = _condition(status, "Ready")
    return Graph(
        names=names,
        phase=str(status.get("phase") or ""),
        revision=str(status.get("lastAppliedSpec") or ""),
        nodes=tuple(nodes),
        edges=tuple(edges),
        live=live_side(names, apex_targets, weight),
        weight=weight,
        history=tuple(h for h in status.get("history") or [] if isinstance(h, Mapping)),
        checks=_checks(status.get("checks")),
        next_at=str(status.get("nextAnalysisAt") or ""),
        next_reason=str(ready.get("reason") or ""),
        next_message=str(ready.get("message") or ""),
        traffic=traffic,
    )


def live_side(names: Names, apex_targets: Sequence[str], weight: int) -> str:
    """Which workload serves the apex Service's traffic.

    A weight strictly between 0 and 100 means both do (`split`); 100 means the canary; at 0
    the apex Service's selector decides (the `kubernetes` provider always selects the
    primary, so its nominal weights never split traffic)."""
    if 0 < weight < 100:
        return "split"
    if weight >= 100:
        return "canary"
    if f"{names.kind}/{names.primary}" in apex_targets:
        return "primary"
    if f"{names.kind}/{names.target}" in apex_targets:
        return "canary"
    return "none"


def _checks(raw: object) -> tuple[Mapping[str, Any], ...]:
    """The readable entries of status.checks: each needs a name and a verdict.

    Anything else (a hand-edited status, another writer's shape) is skipped rather than
    failing `describe`, which is most needed exactly when something is off."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return ()
    return tuple(
        dict(c)
        for c in raw
        if isinstance(c, Mapping)
        and isinstance(c.get("name"), str)
        and c["name"]
        and isinstance(c.get("verdict"), str)
        and c["verdict"]
    )


def _workload_nodes(names: Names, objects: Objects) -> list[Node]:
    out = []
    for name, role in ((names.primary, "primary"), (names.target, "canary")):
        obj = objects.workloads.get(name)
        details: JSON = {"ready": 0, "desired": 0, "images": [], "labels": {}, "pods": []}
        if obj is not None:
            spec = obj.get("spec") or {}
            template = spec.get("template") or {}
            st = obj.get("status") or {}
            details = {
                "ready": _int(st.get("readyReplicas") or st.get("numberReady")),
                "desired": _int(spec.get("replicas", st.get("desiredNumberScheduled", 1))),
                "images": [
                    str(c.get("image") or "")
                    for c in (template.get("spec") or {}).get("containers") or []
                ],
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "pods": sorted(
                    (_pod(p) for p in objects.pods.get(name, ())), key=lambda p: str(p["name"])
                ),
            }
        out.append(Node(f"{names.kind}/{name}", names.kind, name, role, obj is not None, details))
    return out


def _service_nodes(names: Names, objects: Objects) -> list[Node]:
    out = []
    for name, role in (
        (names.apex, "apex"),
        (f"{names.apex}-primary", "primary"),
        (f"{names.apex}-canary", "canary"),
    ):
        obj = objects.services.get(name)
        spec = (obj or {}).get("spec") or {}
        details = {
            "selector": dict(spec.get("selector") or {}),
            "ports": [_port(p) for p in spec.get("ports") or []],
            "type": str(spec.get("type") or "ClusterIP"),
        }
        out.append(Node(f"Service/{name}", "Service", name, role, obj is not None, details))
    return out


WEIGHTED_KINDS = ("TraefikService", "TrafficRoute", "ApisixRoute")
# Router objects drawn as routing to the Services their rules name.
ROUTE_KINDS = (
    "HTTPRoute",
    "VirtualService",
    "TrafficSplit",
    *WEIGHTED_KINDS,
    "HTTPProxy",
    "RouteTable",
    "VirtualRouter",
)
# Router objects drawn as configuring the Service their host names: Istio's DestinationRules,
# Gloo's Upstreams, App Mesh's VirtualNodes.
POLICY_KINDS = ("DestinationRule", "Upstream", "VirtualNode")


def _route_nodes(names: Names, objects: Objects, traffic: Traffic) -> list[Node]:
    """The router's routing objects (`ROUTE_KINDS`, present or not), routing to the Services
    their rules name (destinations and mirrors)."""
    out = []
    ours = {names.apex, f"{names.apex}-primary", f"{names.apex}-canary"}
    for obj in (o for o in traffic.objects if o.kind in ROUTE_KINDS):
        used = {d.service for r in obj.rules for d in r.routing.destinations}
        used |= {m.service for r in obj.rules for m in r.routing.mirrors}
        details: JSON = {
            "hosts": list(obj.hosts),
            "rules": len(obj.rules),
            "services": [f"Service/{b}" for b in sorted(used & ours)],
        }
        if obj.kind == "VirtualService":
            details["gateways"] = list(obj.gateways)
        if obj.api_version:
            details["apiVersion"] = obj.api_version
            details["policy"] = obj.policy
        if not obj.present:
            details["absent"] = obj.note
        node_id = f"{obj.kind}/{obj.name}"
        out.append(Node(node_id, obj.kind, obj.name, "router", obj.present, details))
    return out


def _policy_nodes(names: Names, traffic: Traffic) -> list[Node]:
    """The DestinationRules (Istio), Upstreams (Gloo) and VirtualNodes (App Mesh) the router
    writes (present or not), configuring the Service their host names."""
    ours = {names.apex, f"{names.apex}-primary", f"{names.apex}-canary"}
    roles = {"DestinationRule": "policy"}
    out = []
    for obj in (o for o in traffic.objects if o.kind in POLICY_KINDS):
        hosts = {service_of(h, names.namespace) for h in obj.hosts}
        details: JSON = {
            "host": obj.hosts[0] if obj.hosts else "",
            "policy": obj.policy,
            "services": [f"Service/{s}" for s in sorted(hosts & ours)],
        }
        if obj.api_version:
            details["apiVersion"] = obj.api_version
        if not obj.present:
            details["absent"] = obj.note
        role = roles.get(obj.kind, obj.role)
        out.append(Node(f"{obj.kind}/{obj.name}", obj.kind, obj.name, role, obj.present, details))
    return out


def _ingress_nodes(names: Names, objects: Objects, traffic: Traffic) -> list[Node]:
    """Ingresses whose backends (default or per path) name one of the canary's Services, and
    the router's Ingresses that are missing."""
    ours = {names.apex, f"{names.apex}-primary", f"{names.apex}-canary"}
    out = []
    for obj in traffic.objects:
        if obj.kind == "Ingress" and not obj.present and obj.name:
            details = {"hosts": [], "class": "", "services": [], "absent": obj.note}
            out.append(Node(f"Ingress/{obj.name}", "Ingress", obj.name, "ingress", False, details))
    for ing in objects.ingresses:
        backends = sorted(set(_ingress_backends(ing)) & ours)
        if not backends:
            continue
        spec = ing.get("spec") or {}
        name = str((ing.get("metadata") or {}).get("name") or "")
        details = {
            "hosts": [str(r.get("host")) for r in spec.get("rules") or [] if r.get("host")],
            "class": str(spec.get("ingressClassName") or ""),
            "services": [f"Service/{b}" for b in backends],
        }
        out.append(Node(f"Ingress/{name}", "Ingress", name, "ingress", True, details))
    return sorted(out, key=lambda n: n.name)


def _ingress_backends(ing: Mapping[str, Any]) -> Iterable[str]:
    spec = ing.get("spec") or {}
    default = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    if default:
        yield str(default)
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            name = ((path.get("backend") or {}).get("service") or {}).get("name")
            if name:
                yield str(name)


def _hpa_nodes(names: Names, objects: Objects) -> list[Node]:
    if not names.autoscaler:
        return []
    out = []
    for name, role in ((f"{names.autoscaler}-primary", "primary"), (names.autoscaler, "canary")):
        obj = objects.hpas.get(name)
        spec = (obj or {}).get("spec") or {}
        scales = str((spec.get("scaleTargetRef") or {}).get("name") or "")
        if not scales:
            scales = names.primary if role == "primary" else names.target
        details = {
            "min": _int(spec.get("minReplicas", 1)),
            "max": _int(spec.get("maxReplicas")),
            "scales": scales,
        }
        node_id = f"HorizontalPodAutoscaler/{name}"
        out.append(Node(node_id, "HorizontalPodAutoscaler", name, role, obj is not None, details))
    return out


def _config_nodes(tracked: object, objects: Objects) -> list[Node]:
    if not isinstance(tracked, Mapping):
        return []
    out = []
    for key, checksum in sorted(tracked.items()):
        prefix, _, name = str(key).partition("/")
        kind = {"configmap": "ConfigMap", "secret": "Secret"}.get(prefix)
        if kind is None:
            continue
        for copy_name, role in ((f"{name}-primary", "primary"), (name, "canary")):
            obj = objects.configs.get(f"{prefix}/{copy_name}")
            details = {"checksum": str(checksum)} if role == "canary" else {}
            node = Node(f"{kind}/{copy_name}", kind, copy_name, role, obj is not None, details)
            out.append(node)
    return out


def _selects(service: Node, workload: Node) -> bool:
    selector: Mapping[str, str] = service.details["selector"]
    labels: Mapping[str, str] = workload.details["labels"]
    return bool(service.present and workload.present and selector) and all(
        labels.get(k) == v for k, v in selector.items()
    )


def _pod(pod: Mapping[str, Any]) -> JSON:
    """A pod in a workload node: its name, phase, and whether it is Ready."""
    status = pod.get("status") or {}
    ready = _condition(status, "Ready").get("status") == "True"
    return {
        "name": str((pod.get("metadata") or {}).get("name") or ""),
        "phase": str(status.get("phase") or "Pending"),
        "ready": ready,
    }


def _port(port: Mapping[str, Any]) -> JSON:
    return {
        "name": str(port.get("name") or ""),
        "port": port.get("port"),
        "targetPort": port.get("targetPort", port.get("port")),
        "protocol": str(port.get("protocol") or "TCP"),
    }


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for cond in status.get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def to_json(graph: Graph) -> JSON:
    """The stable, machine-readable shape of `ensign describe --output json`:

    {"schema": "ensign.dev/describe/v1",
     "canary": {"namespace", "name", "phase", "revision"},
     "nodes": [{"id", "kind", "name", "role", "present", "details": {...}}],
     "edges": [{"from", "to", "relation"}],
     "live": {"side": "primary|canary|split|none", "canaryWeight", "primaryWeight"},
     "history": [status.history entries, oldest first],
     "checks": [{"name", "verdict", "message", "time", "value"?, "primaryValue"?,
                 "threshold"?, "samples"?}],
     "next": {"at": RFC3339 or null, "reason", "message"},
     "traffic": {"provider", "routesTraffic",
                 "objects": [{"kind", "name", "role", "present", "note", "hosts",
                              "gateways", "policy", "apiVersion",
                              "rules": [{"index", "label", "matches": [str],
                                         "backends": [{"service", "weight", "percent",
                                                       "responseHeaders": [{"name", "value"}]}],
                                         "mirrors": [{"service", "percent"}],
                                         "responseHeaders": [...], "status", "reason"}]}],
                 "plain": SPLIT or null, "matched": SPLIT or null, "notes": [str]}}

    Node details by kind: Service {selector, ports: [{name, port, targetPort,
    protocol}], type}; Deployment/DaemonSet {ready,
    desired, images, labels, pods [{name, phase, ready}]}; Ingress {hosts, class, services, absent?}; HTTPRoute {hosts,
    rules (how many), services, absent?}; VirtualService {hosts, gateways, rules (how many
    http/tcp/tls routes), services, absent?}; TrafficSplit {hosts (its root service), rules
    (1: its backends), services, absent?}; DestinationRule {host, policy, services,
    absent?}; TraefikService, TrafficRoute, ApisixRoute {hosts, rules, services, absent?};
    HTTPProxy, RouteTable, VirtualRouter and App Mesh's VirtualService {hosts, rules,
    services, apiVersion, policy, absent?}; Upstream, VirtualNode {host, policy, services,
    apiVersion, absent?}; HorizontalPodAutoscaler
    {min, max, scales}; ConfigMap/Secret {checksum} (on the canary's copy). `absent` says why
    a router object is missing ("not found", "HTTPRoute CRD not installed").

    "traffic" is the routing read from the router objects by the traffic model
    (`ensign.traffic`), as the data plane applies it. provider is spec.provider or the
    controller's default; routesTraffic is false for the kubernetes provider (the apex
    Service's selector decides, nothing is split). objects are the router's objects: the
    HTTPRoute `<apex>` (role route) or the Ingresses `<ingressRef>` (role ingress) and
    `<ingressRef>-canary` (role canary-ingress), or (istio) the VirtualService `<apex>`
    (role route, with its gateways) and the DestinationRules `<apex>-primary` and
    `<apex>-canary` (role destination-rule, policy summarising their trafficPolicy and
    subsets; a missing one is noted but does not hide the split), or (linkerd, osm, smi:*)
    the TrafficSplit `<apex>` (role route, one rule labelled "backends"), or (contour) the
    HTTPProxy `<apex>` (role route, its routes labelled "routes[0]", ...), or (gloo, gloo...)
    the RouteTable `<apex>` (role route) and the Upstreams
    `<ns>-<apex>-primaryupstream-<port>` and `<ns>-<apex>-canaryupstream-<port>` (role
    upstream, policy "kube service <svc>.<ns>:<port>"), or (appmesh, appmesh:v1beta2) the App
    Mesh objects: v1beta2 the VirtualService `<apex>` (role service, policy naming its
    provider) and VirtualRouter `<apex>` (role route, the weighted routes), v1beta1 the
    VirtualService `<apex>.<ns>` (role route, its router embedded); then `<apex>-canary`
    (role canary-route; missing, noted without hiding the split) and the VirtualNodes
    `<apex>-primary`, `<apex>-canary` (role virtual-node, host their DNS name, policy their
    listeners); apiVersion is set for the Contour, Gloo and App Mesh objects; note says why
    one is absent. rules are in evaluation order (a VirtualService's http routes, then tcp, then
    tls; label "http[0]", else "rule <index>"); matches are readable conditions, any one of which selects the rule (a
    canary Ingress's policy is shown as rules: header, cookie, then "any other request" with
    the canary-weight split); percent is the backend's share of the requests the rule
    selects; status is 500 when every backend weighs 0; reason says why a rule answers
    without a backend ("delegated to VirtualService ns/name"). SPLIT is {"request": {host,
    path, method, headers, query, cookies, protocol, port, sourceLabels}, "primary", "canary", "other" (percent), "mirrored",
    "mirrorPercent", "enforcedBy" ("HTTPRoute test/podinfo rule 1"), "status" (200, or the
    data plane's own answer: 404 no rule, 500 no backend), "reason", "setCookies"}: "plain"
    for a request without A/B headers, "matched" for one built from the first
    analysis.match entry (null without one); both null when a router object is missing
    (notes say which). App Mesh's splits are for a request to the apex virtual service by
    its mesh name (service.hosts are ignored).

    "checks" is status.checks as the controller wrote it: the last result of each metric
    check, in spec order, [] before the first analysis. verdict is one of passed, failed,
    no data, error, inconclusive; value is the canary's number (ms for request-duration,
    percent for request-success-rate); primaryValue is the primary's, present only when the
    judge compared the two; threshold is the bounds ("min 99%", "max 500ms") or the judge and
    its settings; samples is how many observations the judge used. Entries without a name
    or a verdict are left out.
    """
    names = graph.names
    return {
        "schema": SCHEMA,
        "canary": {
            "namespace": names.namespace,
            "name": names.canary,
            "phase": graph.phase,
            "revision": graph.revision,
        },
        "nodes": [
            {
                "id": n.id,
                "kind": n.kind,
                "name": n.name,
                "role": n.role,
                "present": n.present,
                "details": dict(n.details),
            }
            for n in graph.nodes
        ],
        "edges": [{"from": e.source, "to": e.target, "relation": e.relation} for e in graph.edges],
        "live": {
            "side": graph.live,
            "canaryWeight": graph.weight,
            "primaryWeight": 100 - graph.weight,
        },
        "history": [dict(h) for h in graph.history],
        "checks": [dict(c) for c in graph.checks],
        "next": {
            "at": graph.next_at or None,
            "reason": graph.next_reason,
            "message": graph.next_message,
        },
        "traffic": traffic_json(graph.traffic),
    }
