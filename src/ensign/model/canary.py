"""The Canary resource as typed, defaulted, immutable values. Pure.

Shapes follow Flagger's `flagger.app/v1beta1` Canary (§1.1 of the behaviour notes); derived
names and the release strategy are properties here so every layer computes them one way.
Fields Ensign does not interpret (Istio traffic policy, header rewrites, ...) stay available
as read-only mappings in `ServiceSpec.raw` and `Canary.raw`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ensign.model.analysis import Analysis, Strategy
from ensign.model.errors import SpecError

API_VERSION = "flagger.app/v1beta1"
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_PORT_NAME = "http"
KNATIVE_API_GROUP = "serving.knative.dev"


class Provider(StrEnum):
    """Routing providers accepted in `spec.provider` (the CRD enum)."""

    APISIX = "apisix"
    APPMESH = "appmesh"
    APPMESH_V1BETA2 = "appmesh:v1beta2"
    CONTOUR = "contour"
    GATEWAYAPI_V1 = "gatewayapi:v1"
    GATEWAYAPI_V1BETA1 = "gatewayapi:v1beta1"
    GLOO = "gloo"
    ISTIO = "istio"
    KNATIVE = "knative"
    KUBERNETES = "kubernetes"
    KUMA = "kuma"
    LINKERD = "linkerd"
    NGINX = "nginx"
    OSM = "osm"
    SKIPPER = "skipper"
    SMI_V1ALPHA1 = "smi:v1alpha1"
    SMI_V1ALPHA2 = "smi:v1alpha2"
    SMI_V1ALPHA3 = "smi:v1alpha3"
    TRAEFIK = "traefik"


class TargetKind(StrEnum):
    """Kinds of workload a canary can target."""

    DEPLOYMENT = "Deployment"
    DAEMONSET = "DaemonSet"
    SERVICE = "Service"


class TrafficDistribution(StrEnum):
    """Values of `Service.spec.trafficDistribution` copied to the generated Services."""

    PREFER_CLOSE = "PreferClose"
    PREFER_SAME_ZONE = "PreferSameZone"
    PREFER_SAME_NODE = "PreferSameNode"


class AutoscalerKind(StrEnum):
    """Kinds of autoscaler cloned for the primary."""

    HPA = "HorizontalPodAutoscaler"
    SCALED_OBJECT = "ScaledObject"


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetRef:
    """The workload under release."""

    api_version: str
    kind: TargetKind
    name: str

    @property
    def is_knative(self) -> bool:
        """A Knative Service (`serving.knative.dev/*`, kind Service), not a Kubernetes one."""
        group = self.api_version.partition("/")[0]
        return self.kind is TargetKind.SERVICE and group == KNATIVE_API_GROUP


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectRef:
    """A reference to another object (ingressRef, routeRef, upstreamRef)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalerReplicas:
    """Replica bounds overriding the target autoscaler's ones on the primary copy."""

    min_replicas: int | None = None
    max_replicas: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscalerRef:
    """HPA (`autoscaling/v2`) or KEDA ScaledObject to clone for the primary."""

    api_version: str
    kind: AutoscalerKind
    name: str
    primary_scaler_queries: Mapping[str, str] = field(default_factory=dict)
    primary_scaler_replicas: ScalerReplicas | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSpec:
    """`spec.service` with defaults applied. `raw` keeps every field, modelled or not.

    `target_port` is the container port number or name; `parse_canary` sets it to `port`
    when the spec leaves it unset (or sets it to 0).
    """

    port: int
    target_port: int | str
    name: str | None = None
    port_name: str = DEFAULT_PORT_NAME
    app_protocol: str | None = None
    traffic_distribution: TrafficDistribution | None = None
    port_discovery: bool = False
    headless: bool = False
    timeout: str | None = None
    backend_timeout: str | None = None
    gateways: tuple[str, ...] = ()
    gateway_refs: tuple[Mapping[str, object], ...] = ()
    hosts: tuple[str, ...] = ()
    delegation: bool = False
    mesh_name: str | None = None
    backends: tuple[str, ...] = ()
    raw: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CanarySpec:
    """`spec` of a Canary. `analysis=None` means neither `analysis` nor `canaryAnalysis` was set."""

    target_ref: TargetRef
    provider: Provider | None = None
    metrics_server: str | None = None
    autoscaler_ref: AutoscalerRef | None = None
    ingress_ref: ObjectRef | None = None
    route_ref: ObjectRef | None = None
    upstream_ref: ObjectRef | None = None
    service: ServiceSpec | None = None
    analysis: Analysis | None = None
    progress_deadline_seconds: int = DEFAULT_PROGRESS_DEADLINE_SECONDS
    skip_analysis_requested: bool = False
    revert_on_deletion: bool = False
    suspend: bool = False
    # Fields that parse but that the chosen provider ignores (reported, never fatal).
    warnings: tuple[SpecError, ...] = ()

    @property
    def blue_green_iterations(self) -> int:
        """Iterations to run when the provider forces Blue/Green: the spec's, else Flagger's 10."""
        analysis = self.effective_analysis
        return analysis.iterations if analysis.iterations > 0 else 10

    @property
    def apex_service_name(self) -> str:
        """`service.name`, or the target's name when unset."""
        if self.service is not None and self.service.name:
            return self.service.name
        return self.target_ref.name

    @property
    def primary_service_name(self) -> str:
        return f"{self.apex_service_name}-primary"

    @property
    def canary_service_name(self) -> str:
        return f"{self.apex_service_name}-canary"

    @property
    def primary_workload_name(self) -> str:
        """Always `<targetRef.name>-primary`, whatever `service.name` says."""
        return f"{self.target_ref.name}-primary"

    @property
    def skip_analysis(self) -> bool:
        """True when requested, and also when the canary has no analysis at all (Flagger rule)."""
        return self.analysis is None or self.skip_analysis_requested

    @property
    def strategy(self) -> Strategy:
        """Flagger's `DeploymentStrategy()`; `canary` when there is no analysis."""
        return Strategy.CANARY if self.analysis is None else self.analysis.strategy

    @property
    def effective_analysis(self) -> Analysis:
        """The analysis, or an all-defaults one when the spec has none."""
        return self.analysis if self.analysis is not None else Analysis()


@dataclass(frozen=True, slots=True, kw_only=True)
class Canary:
    """A parsed Canary. `raw` is a private deep copy of the whole body, including `status`."""

    name: str
    namespace: str | None
    spec: CanarySpec
    raw: Mapping[str, object] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Flagger's cache key `<name>.<namespace>`."""
        return f"{self.name}.{self.namespace or ''}"
