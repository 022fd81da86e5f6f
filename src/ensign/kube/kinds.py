"""Every Kubernetes kind the controller touches, with the verbs it needs. Pure data.

This table is the single source for the client's resource classes and, later, for the
generated RBAC rules, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    verbs: tuple[str, ...] = ("get", "list", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


_WRITE = ("get", "list", "watch", "create", "update", "patch", "delete")

CANARY = Kind(
    "flagger.app",
    "v1beta1",
    "Canary",
    "canaries",
    verbs=("get", "list", "watch", "update", "patch"),
)
CANARY_STATUS = Kind(
    "flagger.app", "v1beta1", "Canary", "canaries/status", verbs=("get", "update", "patch")
)
METRIC_TEMPLATE = Kind("flagger.app", "v1beta1", "MetricTemplate", "metrictemplates")
ALERT_PROVIDER = Kind("flagger.app", "v1beta1", "AlertProvider", "alertproviders")
DEPLOYMENT = Kind("apps", "v1", "Deployment", "deployments", verbs=_WRITE)
DAEMONSET = Kind("apps", "v1", "DaemonSet", "daemonsets", verbs=_WRITE)
SERVICE = Kind("", "v1", "Service", "services", verbs=_WRITE)
CONFIGMAP = Kind("", "v1", "ConfigMap", "configmaps", verbs=_WRITE)
SECRET = Kind("", "v1", "Secret", "secrets", verbs=_WRITE)
HPA = Kind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", verbs=_WRITE)
EVENT = Kind("", "v1", "Event", "events", verbs=("create", "patch"))
INGRESS = Kind("networking.k8s.io", "v1", "Ingress", "ingresses", verbs=_WRITE)
# Leader election (runtime/leader.py): read, create, and compare-and-swap by replace.
LEASE = Kind("coordination.k8s.io", "v1", "Lease", "leases", verbs=("get", "create", "update"))

# Router kinds (src/ensign/routers): watched only while a canary uses the router.
HTTPROUTE_V1 = Kind("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", verbs=_WRITE)
HTTPROUTE_V1BETA1 = Kind(
    "gateway.networking.k8s.io", "v1beta1", "HTTPRoute", "httproutes", verbs=_WRITE
)
VIRTUALSERVICE = Kind(
    "networking.istio.io", "v1beta1", "VirtualService", "virtualservices", verbs=_WRITE
)
DESTINATIONRULE = Kind(
    "networking.istio.io", "v1beta1", "DestinationRule", "destinationrules", verbs=_WRITE
)
TRAFFICSPLIT_V1ALPHA1 = Kind(
    "split.smi-spec.io", "v1alpha1", "TrafficSplit", "trafficsplits", verbs=_WRITE
)
TRAFFICSPLIT_V1ALPHA2 = Kind(
    "split.smi-spec.io", "v1alpha2", "TrafficSplit", "trafficsplits", verbs=_WRITE
)
TRAFFICSPLIT_V1ALPHA3 = Kind(
    "split.smi-spec.io", "v1alpha3", "TrafficSplit", "trafficsplits", verbs=_WRITE
)
HTTPPROXY = Kind("projectcontour.io", "v1", "HTTPProxy", "httpproxies", verbs=_WRITE)
GLOO_UPSTREAM = Kind("gloo.solo.io", "v1", "Upstream", "upstreams", verbs=_WRITE)
GLOO_ROUTETABLE = Kind("gateway.solo.io", "v1", "RouteTable", "routetables", verbs=_WRITE)
TRAEFIKSERVICE = Kind("traefik.io", "v1alpha1", "TraefikService", "traefikservices", verbs=_WRITE)
APISIXROUTE = Kind("apisix.apache.org", "v2", "ApisixRoute", "apisixroutes", verbs=_WRITE)
KUMA_TRAFFICROUTE = Kind(
    "kuma.io", "v1alpha1", "TrafficRoute", "trafficroutes", namespaced=False, verbs=_WRITE
)
APPMESH_V1BETA1_VIRTUALNODE = Kind(
    "appmesh.k8s.aws", "v1beta1", "VirtualNode", "virtualnodes", verbs=_WRITE
)
APPMESH_V1BETA1_VIRTUALSERVICE = Kind(
    "appmesh.k8s.aws", "v1beta1", "VirtualService", "virtualservices", verbs=_WRITE
)
APPMESH_VIRTUALNODE = Kind(
    "appmesh.k8s.aws", "v1beta2", "VirtualNode", "virtualnodes", verbs=_WRITE
)
APPMESH_VIRTUALROUTER = Kind(
    "appmesh.k8s.aws", "v1beta2", "VirtualRouter", "virtualrouters", verbs=_WRITE
)
APPMESH_VIRTUALSERVICE = Kind(
    "appmesh.k8s.aws", "v1beta2", "VirtualService", "virtualservices", verbs=_WRITE
)
ROUTER_KINDS: tuple[Kind, ...] = (
    HTTPROUTE_V1,
    HTTPROUTE_V1BETA1,
    VIRTUALSERVICE,
    DESTINATIONRULE,
    TRAFFICSPLIT_V1ALPHA1,
    TRAFFICSPLIT_V1ALPHA2,
    TRAFFICSPLIT_V1ALPHA3,
    HTTPPROXY,
    GLOO_UPSTREAM,
    GLOO_ROUTETABLE,
    TRAEFIKSERVICE,
    APISIXROUTE,
    KUMA_TRAFFICROUTE,
    APPMESH_V1BETA1_VIRTUALNODE,
    APPMESH_V1BETA1_VIRTUALSERVICE,
    APPMESH_VIRTUALNODE,
    APPMESH_VIRTUALROUTER,
    APPMESH_VIRTUALSERVICE,
)

# Autoscaler kinds other than the HPA (src/ensign/workloads/autoscalers.py): watched only
# while a canary's autoscalerRef names them (KEDA is an optional add-on).
SCALEDOBJECT = Kind("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects", verbs=_WRITE)
AUTOSCALER_KINDS: tuple[Kind, ...] = (SCALEDOBJECT,)

CORE: tuple[Kind, ...] = (
    CANARY,
    CANARY_STATUS,
    METRIC_TEMPLATE,
    ALERT_PROVIDER,
    DEPLOYMENT,
    DAEMONSET,
    SERVICE,
    CONFIGMAP,
    SECRET,
    HPA,
    EVENT,
    INGRESS,
    LEASE,
)
ALL: tuple[Kind, ...] = CORE + ROUTER_KINDS + AUTOSCALER_KINDS
BY_KIND: dict[str, Kind] = {k.kind: k for k in CORE if "/" not in k.plural}
"""The core kinds by kind name (router kinds may have several versions of one kind)."""


def cache_key(kind: Kind) -> str:
    """The key of a kind's watch cache: its name for a core kind, else kind.version.group."""
    if BY_KIND.get(kind.kind) == kind:
        return kind.kind
    return f"{kind.kind}.{kind.version}.{kind.group}"
