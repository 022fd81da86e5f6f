"""Read a Canary and the objects around it, for `ensign describe`. Does I/O."""

from __future__ import annotations

from typing import Any

from ensign.console.graph import Graph, Names, Objects, build_graph
from ensign.console.routing import (
    CONTOUR,
    WEIGHTED,
    appmesh_refs,
    appmesh_version,
    gloo_upstream_names,
    is_gloo,
    weighted_refs,
)
from ensign.kube import kinds
from ensign.kube.api import JSON, KubeApi, NotFound, Rejected
from ensign.kube.kinds import (
    APISIXROUTE,
    APPMESH_V1BETA1_VIRTUALNODE,
    APPMESH_V1BETA1_VIRTUALSERVICE,
    APPMESH_VIRTUALNODE,
    APPMESH_VIRTUALROUTER,
    APPMESH_VIRTUALSERVICE,
    DESTINATIONRULE,
    GLOO_ROUTETABLE,
    GLOO_UPSTREAM,
    HTTPPROXY,
    HTTPROUTE_V1,
    HTTPROUTE_V1BETA1,
    INGRESS,
    KUMA_TRAFFICROUTE,
    TRAEFIKSERVICE,
    TRAFFICSPLIT_V1ALPHA1,
    TRAFFICSPLIT_V1ALPHA2,
    TRAFFICSPLIT_V1ALPHA3,
    VIRTUALSERVICE,
    Kind,
)
from ensign.traffic.model import is_smi

WORKLOAD_KINDS = {"Deployment": kinds.DEPLOYMENT, "DaemonSet": kinds.DAEMONSET}
# The pods of a workload, found by ownership as the workload controllers set it: a
# Deployment's through its ReplicaSets, a DaemonSet's directly. Read only by describe.
POD = Kind("", "v1", "Pod", "pods")
REPLICASET = Kind("apps", "v1", "ReplicaSet", "replicasets")


GATEWAY_PROVIDERS = ("gatewayapi:v1", "gatewayapi:v1beta1")
ISTIO = "istio"
# Istio serves networking.istio.io v1 since 1.22; describe reads, so no RBAC verbs needed.
VIRTUALSERVICE_V1 = Kind("networking.istio.io", "v1", "VirtualService", "virtualservices")
DESTINATIONRULE_V1 = Kind("networking.istio.io", "v1", "DestinationRule", "destinationrules")
WEIGHTED_KINDS = {
    "TraefikService": TRAEFIKSERVICE,
    "TrafficRoute": KUMA_TRAFFICROUTE,
    "ApisixRoute": APISIXROUTE,
}
# The App Mesh kinds each API version of the router writes.
APPMESH_KINDS = {
    "v1beta1": {
        "VirtualService": APPMESH_V1BETA1_VIRTUALSERVICE,
        "VirtualNode": APPMESH_V1BETA1_VIRTUALNODE,
    },
    "v1beta2": {
        "VirtualService": APPMESH_VIRTUALSERVICE,
        "VirtualRouter": APPMESH_VIRTUALROUTER,
        "VirtualNode": APPMESH_VIRTUALNODE,
    },
}
# The same TrafficSplit is served in every version a mesh installs (Linkerd: v1alpha1 and
# v1alpha2; OSM: v1alpha2 and later): read the first one served.
TRAFFICSPLIT_KINDS = (TRAFFICSPLIT_V1ALPHA2, TRAFFICSPLIT_V1ALPHA1, TRAFFICSPLIT_V1ALPHA3)


async def read_graph(
    api: KubeApi, namespace: str, name: str, *, default_provider: str = "kubernetes"
) -> Graph:
    """The live graph; raises NotFound when the Canary does not exist. `default_provider` is
    the controller's -mesh-provider, for a canary without spec.provider."""
    canary = await api.get(kinds.CANARY, name, namespace=namespace)
    names = Names.of(canary)
    workload_kind = WORKLOAD_KINDS.get(names.kind, kinds.DEPLOYMENT)
    services = await _by_name(api, kinds.SERVICE, namespace)
    workloads = await _by_name(api, workload_kind, namespace)
    pods = await _pods_of(
        api, namespace, workloads, via_replicasets=workload_kind is not kinds.DAEMONSET
    )
    hpas = await _by_name(api, kinds.HPA, namespace) if names.autoscaler else {}
    ingresses: list[JSON] = []
    missing: set[str] = set()
    try:
        ingresses, _ = await api.list(INGRESS, namespace=namespace)
    except NotFound:
        missing.add("Ingress")  # no Ingress API
    except Rejected:
        pass  # not allowed to list
    provider = str((canary.get("spec") or {}).get("provider") or "") or default_provider
    routes: list[JSON] = []
    virtualservices: list[JSON] = []
    destination_rules: list[JSON] = []
    trafficsplits: list[JSON] = []
    weighted: list[JSON] = []
    httpproxies: list[JSON] = []
    routetables: list[JSON] = []
    upstreams: list[JSON] = []
    mesh: list[JSON] = []
    if provider in GATEWAY_PROVIDERS:
        route, served = await read_route(api, namespace, names.apex)
        routes += [route] if route is not None else []
        if not served:
            missing.add("HTTPRoute")
    elif provider == ISTIO:
        vs, served = await read_first(api, namespace, names.apex, VIRTUALSERVICE, VIRTUALSERVICE_V1)
        virtualservices += [vs] if vs is not None else []
        if not served:
            missing.add("VirtualService")
        for side in ("primary", "canary"):
            rule, served = await read_first(
                api, namespace, f"{names.apex}-{side}", DESTINATIONRULE, DESTINATIONRULE_V1
            )
            destination_rules += [rule] if rule is not None else []
            if not served:
                missing.add("DestinationRule")
    elif provider in WEIGHTED:
        spec = canary.get("spec") or {}
        for kind_name, name, _ in weighted_refs(provider, spec, names.apex):
            # The client leaves the namespace out for Kuma's cluster-scoped TrafficRoute.
            kind = WEIGHTED_KINDS[kind_name]
            obj, served = await read_first(api, namespace, name, kind) if name else (None, True)
            weighted += [{"kind": kind_name, **obj}] if obj is not None else []
            if not served:
                missing.add(kind_name)
    elif is_smi(provider):
        split, served = await read_first(api, namespace, names.apex, *TRAFFICSPLIT_KINDS)
        trafficsplits += [split] if split is not None else []
        if not served:
            missing.add("TrafficSplit")
    elif provider == CONTOUR:
        proxy, served = await read_first(api, namespace, names.apex, HTTPPROXY)
        httpproxies += [_typed(HTTPPROXY, proxy)] if proxy is not None else []
        if not served:
            missing.add("HTTPProxy")
    elif is_gloo(provider):
        table, served = await read_first(api, namespace, names.apex, GLOO_ROUTETABLE)
        routetables += [_typed(GLOO_ROUTETABLE, table)] if table is not None else []
        if not served:
            missing.add("RouteTable")
        for upstream_name in gloo_upstream_names(canary):
            upstream, served = await read_first(api, namespace, upstream_name, GLOO_UPSTREAM)
            upstreams += [_typed(GLOO_UPSTREAM, upstream)] if upstream is not None else []
            if not served:
                missing.add("Upstream")
    elif appmesh_version(provider):
        version = appmesh_version(provider)
        for kind_name, name, _ in appmesh_refs(version, names.apex, namespace):
            kind = APPMESH_KINDS[version][kind_name]
            obj, served = await read_first(api, namespace, name, kind)
            mesh += [_typed(kind, obj)] if obj is not None else []
            if not served:
                missing.add(kind_name)
    configs = await _configs(api, namespace, (canary.get("status") or {}).get("trackedConfigs"))
    objects = Objects(
        services=services,
        workloads=workloads,
        pods=pods,
        ingresses=ingresses,
        hpas=hpas,
        configs=configs,
        routes=routes,
        missing_kinds=frozenset(missing),
        virtualservices=virtualservices,
        destination_rules=destination_rules,
        trafficsplits=trafficsplits,
        weighted=weighted,
        httpproxies=httpproxies,
        routetables=routetables,
        upstreams=upstreams,
        appmesh=mesh,
    )
    return build_graph(canary, objects, default_provider=default_provider)


def _typed(kind: Kind, obj: JSON) -> JSON:
    """`obj` with its apiVersion and kind (the traffic model sorts objects by them; an API
    server's get answer has them already)."""
    return {"apiVersion": kind.api_version, "kind": kind.kind, **obj}


async def read_route(api: KubeApi, namespace: str, name: str) -> tuple[JSON | None, bool]:
    """The HTTPRoute `name` (gateway.networking.k8s.io v1, else v1beta1) and whether the API
    serves HTTPRoutes at all."""
    return await read_first(api, namespace, name, HTTPROUTE_V1, HTTPROUTE_V1BETA1)


async def read_first(
    api: KubeApi, namespace: str, name: str, *versions: Kind
) -> tuple[JSON | None, bool]:
    """The object `name` in the first of `versions` that has it, and whether the API serves
    any of them at all. A 404 can mean either a missing object or a missing resource type:
    listing tells them apart."""
    served = False
    for kind in versions:
        try:
            return await api.get(kind, name, namespace=namespace), True
        except NotFound:
            served = served or await _serves(api, kind, namespace)
        except Rejected:
            return None, True  # not allowed to read it: the type exists
    return None, served


async def _serves(api: KubeApi, kind: Kind, namespace: str) -> bool:
    try:
        await api.list(kind, namespace=namespace)
    except NotFound:
        return False
    except Rejected:
        return True
    return True


async def _pods_of(
    api: KubeApi, namespace: str, workloads: dict[str, JSON], *, via_replicasets: bool
) -> dict[str, list[JSON]]:
    """Workload name → its pods (none when pods cannot be listed: not allowed, or an API
    server without them). ReplicaSets are read only for Deployments' pods."""
    try:
        pods, _ = await api.list(POD, namespace=namespace)
        sets = (await api.list(REPLICASET, namespace=namespace))[0] if via_replicasets else []
    except (NotFound, Rejected):
        return {}
    owner_of: dict[str, str] = {}  # owner uid → workload name
    for name, obj in workloads.items():
        owner_of[str(obj["metadata"].get("uid") or "")] = name
    for rs in sets:
        for ref in rs["metadata"].get("ownerReferences") or []:
            if str(ref.get("uid") or "") in owner_of:
                owner_of[str(rs["metadata"].get("uid") or "")] = owner_of[str(ref["uid"])]
    out: dict[str, list[JSON]] = {}
    for pod in pods:
        for ref in pod["metadata"].get("ownerReferences") or []:
            workload = owner_of.get(str(ref.get("uid") or ""))
            if workload is not None and ref.get("controller", True):
                out.setdefault(workload, []).append(pod)
    return out


async def _by_name(api: KubeApi, kind: Any, namespace: str) -> dict[str, JSON]:
    items, _ = await api.list(kind, namespace=namespace)
    return {str(o["metadata"]["name"]): o for o in items}


async def _configs(api: KubeApi, namespace: str, tracked: object) -> dict[str, JSON | None]:
    out: dict[str, JSON | None] = {}
    if not isinstance(tracked, dict):
        return out
    for key in tracked:
        prefix, _, name = str(key).partition("/")
        kind = {"configmap": kinds.CONFIGMAP, "secret": kinds.SECRET}.get(prefix)
        if kind is None:
            continue
        for copy_name in (name, f"{name}-primary"):
            try:
                out[f"{prefix}/{copy_name}"] = await api.get(kind, copy_name, namespace=namespace)
            except (NotFound, Rejected):
                out[f"{prefix}/{copy_name}"] = None
    return out
