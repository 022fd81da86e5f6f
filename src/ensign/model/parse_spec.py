"""Parse and check a Canary's `spec`: target, references, service, provider rules. Pure.

Provider rules only fire when `spec.provider` is set: a canary relying on the operator's
default provider is checked against that provider elsewhere, when the default is known.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ensign.model.analysis import Analysis
from ensign.model.canary import (
    DEFAULT_PORT_NAME,
    DEFAULT_PROGRESS_DEADLINE_SECONDS,
    AutoscalerKind,
    AutoscalerRef,
    CanarySpec,
    ObjectRef,
    Provider,
    ScalerReplicas,
    ServiceSpec,
    TargetKind,
    TargetRef,
    TrafficDistribution,
)
from ensign.model.capabilities import capability_errors
from ensign.model.errors import SpecError
from ensign.model.fields import Fields, show
from ensign.model.parse_analysis import parse_analysis

SPEC_FIELDS = frozenset(
    {
        "provider",
        "metricsServer",
        "targetRef",
        "autoscalerRef",
        "ingressRef",
        "routeRef",
        "upstreamRef",
        "service",
        "analysis",
        "canaryAnalysis",
        "progressDeadlineSeconds",
        "skipAnalysis",
        "revertOnDeletion",
        "suspend",
    }
)
SERVICE_FIELDS = frozenset(
    {
        "name",
        "port",
        "portName",
        "targetPort",
        "appProtocol",
        "trafficDistribution",
        "portDiscovery",
        "headless",
        "timeout",
        "backendTimeout",
        "gateways",
        "gatewayRefs",
        "hosts",
        "delegation",
        "trafficPolicy",
        "match",
        "rewrite",
        "retries",
        "headers",
        "mirror",
        "corsPolicy",
        "meshName",
        "backends",
        "apex",
        "primary",
        "canary",
        "unmanagedMetadata",
    }
)
REF_FIELDS = frozenset({"apiVersion", "kind", "name"})
SERVICE_OBJECT_FIELDS = ("trafficPolicy", "rewrite", "retries", "headers", "corsPolicy")
SERVICE_METADATA_FIELDS = ("apex", "primary", "canary", "unmanagedMetadata")
GATEWAY_API = frozenset({Provider.GATEWAYAPI_V1, Provider.GATEWAYAPI_V1BETA1})
MAX_APEX_NAME = 63 - len("-primary")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_spec(spec: Fields) -> CanarySpec | None:
    """Build the `CanarySpec` at `spec`; `None` when the target cannot be identified."""
    spec.known(SPEC_FIELDS)
    target = _target_ref(spec)
    provider = spec.choice("provider", Provider)
    autoscaler = _autoscaler_ref(spec, target=target)
    service = _service(spec, target=target)
    analysis, analysis_ok = _analysis(spec)
    deadline = spec.integer("progressDeadlineSeconds")
    if deadline is not None and deadline <= 0:
        spec.error("progressDeadlineSeconds", f"must be > 0 (got {deadline})")
    result = CanarySpec(
        target_ref=target or TargetRef(api_version="", kind=TargetKind.DEPLOYMENT, name=""),
        provider=provider,
        metrics_server=spec.url("metricsServer"),
        autoscaler_ref=autoscaler,
        ingress_ref=_object_ref(spec, "ingressRef", kind="Ingress"),
        route_ref=_object_ref(spec, "routeRef", kind="ApisixRoute"),
        upstream_ref=_object_ref(spec, "upstreamRef", kind="Upstream", namespaced=True),
        service=service,
        analysis=analysis,
        progress_deadline_seconds=deadline if deadline else DEFAULT_PROGRESS_DEADLINE_SECONDS,
        skip_analysis_requested=spec.boolean("skipAnalysis"),
        revert_on_deletion=spec.boolean("revertOnDeletion"),
        suspend=spec.boolean("suspend"),
    )
    if target is not None:
        _check_knative(spec, target=target, provider=provider)
    if provider is not None:
        _check_provider_refs(spec, provider=provider)
        if analysis is not None and analysis_ok and provider is Provider.KUBERNETES:
            result = replace(result, warnings=_kubernetes_ignored(spec))
        elif analysis_ok:
            _check_provider_analysis(
                spec, provider=provider, analysis=analysis, service=result.service
            )
    return result if target is not None else None


_BLUE_GREEN_ONLY = (
    ("stepWeight", "stepWeight"),
    ("stepWeights", "stepWeights"),
    ("maxWeight", "maxWeight"),
    ("stepWeightPromotion", "stepWeightPromotion"),
    ("match", "match"),
    ("mirror", "mirror"),
    ("mirrorWeight", "mirrorWeight"),
    ("sessionAffinity", "sessionAffinity"),
)


def _kubernetes_ignored(spec: Fields) -> tuple[SpecError, ...]:
    """Fields the kubernetes provider ignores: it runs every canary as Blue/Green.

    As in Flagger, a canary or A/B spec on `provider: kubernetes` still runs (as Blue/Green,
    with 10 iterations when none are set), so existing manifests keep working; unlike
    Flagger, each ignored field is named in a warning.
    """
    key = "analysis" if spec.has("analysis") else "canaryAnalysis"
    body = spec.raw(key)
    if not isinstance(body, dict):
        return ()
    return tuple(
        SpecError(
            spec.at(f"{key}.{field}"),
            "ignored: the kubernetes provider only runs Blue/Green"
            + (
                "; running 10 iterations"
                if field in ("stepWeight", "stepWeights") and not body.get("iterations")
                else ""
            ),
        )
        for field, _ in _BLUE_GREEN_ONLY
        if body.get(field) not in (None, False, 0, [], {})
    )


def _analysis(spec: Fields) -> tuple[Analysis | None, bool]:
    """`analysis`, else the deprecated `canaryAnalysis`; the flag says it parsed cleanly."""
    key = "analysis" if spec.has("analysis") else "canaryAnalysis"
    nested = spec.obj(key)
    if nested is None:
        return None, True
    before = len(spec.errors)
    analysis = parse_analysis(nested)
    return analysis, len(spec.errors) == before


def _target_ref(spec: Fields) -> TargetRef | None:
    nested = spec.obj("targetRef", required=True)
    if nested is None:
        return None
    nested.known(REF_FIELDS)
    api_version = nested.string("apiVersion", required=True)
    kind = nested.choice("kind", TargetKind, required=True)
    name = nested.string("name", required=True)
    if api_version is None or name is None or kind is None:
        return None
    return TargetRef(api_version=api_version, kind=kind, name=name)


def _object_ref(spec: Fields, key: str, *, kind: str, namespaced: bool = False) -> ObjectRef | None:
    nested = spec.obj(key)
    if nested is None:
        return None
    nested.known(REF_FIELDS | {"namespace"} if namespaced else REF_FIELDS)
    api_version = nested.string("apiVersion", required=True)
    got = nested.string("kind", required=True)
    if got is not None and got != kind:
        nested.error("kind", f"must be {kind} (got {got})")
    name = nested.string("name", required=True)
    namespace = nested.string("namespace") if namespaced else None
    if api_version is None or name is None:
        return None
    return ObjectRef(api_version=api_version, kind=kind, name=name, namespace=namespace or None)


def _autoscaler_ref(spec: Fields, *, target: TargetRef | None) -> AutoscalerRef | None:
    nested = spec.obj("autoscalerRef")
    if nested is None:
        return None
    nested.known({"apiVersion", "kind", "name", "primaryScalerQueries", "primaryScalerReplicas"})
    api_version = nested.string("apiVersion", required=True)
    kind = nested.choice("kind", AutoscalerKind, required=True)
    name = nested.string("name", required=True)
    if kind is AutoscalerKind.HPA and api_version is not None and api_version != "autoscaling/v2":
        nested.error(
            "apiVersion",
            f"must be autoscaling/v2 for a HorizontalPodAutoscaler (got {api_version})",
        )
    if target is not None and target.kind is not TargetKind.DEPLOYMENT:
        what = "Knative Service" if target.is_knative else target.kind.value
        spec.error("autoscalerRef", f"cannot be used with a {what} target")
    queries = nested.string_map("primaryScalerQueries")
    replicas = _scaler_replicas(nested)
    if api_version is None or name is None or kind is None:
        return None
    return AutoscalerRef(
        api_version=api_version,
        kind=kind,
        name=name,
        primary_scaler_queries=queries,
        primary_scaler_replicas=replicas,
    )


def _scaler_replicas(autoscaler: Fields) -> ScalerReplicas | None:
    nested = autoscaler.obj("primaryScalerReplicas")
    if nested is None:
        return None
    nested.known({"minReplicas", "maxReplicas"})
    bounds: dict[str, int | None] = {}
    for key in ("minReplicas", "maxReplicas"):
        value = nested.integer(key)
        if value is not None and value < 1:
            nested.error(key, f"must be >= 1 (got {value})")
            value = None
        bounds[key] = value
    low, high = bounds["minReplicas"], bounds["maxReplicas"]
    if low is not None and high is not None and low > high:
        nested.error(None, f"minReplicas ({low}) is greater than maxReplicas ({high})")
    return ScalerReplicas(min_replicas=low, max_replicas=high)


def _service(spec: Fields, *, target: TargetRef | None) -> ServiceSpec | None:
    nested = spec.obj("service")
    if nested is None:
        if target is not None and not target.is_knative and not spec.has("service"):
            spec.error("service.port", "is required unless targetRef is a Knative Service")
        return None
    nested.known(SERVICE_FIELDS)
    port = _port(nested, "port", required=True)
    name = nested.string("name") or None
    if name is not None and not _DNS_1035.match(name):
        nested.error(
            "name",
            "must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter"
            f" (got {show(name)})",
        )
    _check_apex_length(spec, name=name, target=target)
    gateways = nested.strings("gateways")
    hosts = nested.strings("hosts")
    delegation = nested.boolean("delegation")
    if delegation and (gateways or hosts):
        nested.error("delegation", "cannot be combined with hosts or gateways")
    for key in SERVICE_OBJECT_FIELDS + SERVICE_METADATA_FIELDS:
        nested.obj(key)
    nested.objects("match")
    nested.objects("mirror")
    timeout, backend_timeout = nested.duration("timeout"), nested.duration("backendTimeout")
    return ServiceSpec(
        port=port or 0,
        target_port=_target_port(nested) or port or 0,
        name=name,
        port_name=nested.string("portName") or DEFAULT_PORT_NAME,
        app_protocol=nested.string("appProtocol") or None,
        traffic_distribution=nested.choice("trafficDistribution", TrafficDistribution),
        port_discovery=nested.boolean("portDiscovery"),
        headless=nested.boolean("headless"),
        timeout=timeout[0] if timeout else None,
        backend_timeout=backend_timeout[0] if backend_timeout else None,
        gateways=gateways,
        gateway_refs=_gateway_refs(nested),
        hosts=hosts,
        delegation=delegation,
        mesh_name=nested.string("meshName") or None,
        backends=nested.strings("backends"),
        raw=dict(nested.body),
    )


def _check_apex_length(spec: Fields, *, name: str | None, target: TargetRef | None) -> None:
    """`<apex>-primary` must still be a valid Service name (at most 63 characters)."""
    if target is None or target.is_knative:
        return
    apex, key = (name, "service.name") if name else (target.name, "targetRef.name")
    if apex is not None and len(apex) > MAX_APEX_NAME:
        spec.error(
            key,
            f'must be at most {MAX_APEX_NAME} characters so that "<name>-primary" fits in a'
            f" 63-character Service name (got {len(apex)})",
        )


def _port(fields: Fields, key: str, *, required: bool = False) -> int | None:
    value = fields.integer(key, required=required)
    if value is not None and not 1 <= value <= 65535:
        fields.error(key, f"must be between 1 and 65535 (got {value})")
        return None
    return value


def _target_port(service: Fields) -> int | str | None:
    """A port number, or an IANA port name; 0 and "0" mean unset (then `port` is used)."""
    value = service.raw("targetPort")
    if value is None or value in (0, "0"):
        return None
    if isinstance(value, str):
        named = bool(_PORT_NAME.match(value)) and len(value) <= 15 and "--" not in value
        if named and any(char.isalpha() for char in value):
            return value
        service.error(
            "targetPort",
            f"must be a port number or an IANA port name (got {show(value)}); write numbers"
            " without quotes",
        )
        return None
    return _port(service, "targetPort")


def _gateway_refs(service: Fields) -> tuple[dict[str, object], ...]:
    refs: list[dict[str, object]] = []
    for _, ref in service.objects("gatewayRefs"):
        ref.string("name", required=True)
        ref.string("namespace")
        ref.string("sectionName")
        _port(ref, "port")
        refs.append(dict(ref.body))
    return tuple(refs)


def _check_knative(spec: Fields, *, target: TargetRef, provider: Provider | None) -> None:
    """Flagger's rule: a Knative Service target if and only if `spec.provider` is knative."""
    if target.is_knative and provider is not Provider.KNATIVE:
        if provider is None and not spec.has("provider"):
            spec.error("provider", "must be set to knative when targetRef is a Knative Service")
        elif provider is not None:
            spec.error(
                "provider", f"must be knative when targetRef is a Knative Service (got {provider})"
            )
    elif provider is Provider.KNATIVE and not target.is_knative:
        spec.error(
            "targetRef",
            "must be a Knative Service (serving.knative.dev/v1) when provider is knative"
            f" (got {target.api_version} {target.kind})",
        )


def _check_provider_refs(spec: Fields, *, provider: Provider) -> None:
    if provider in (Provider.NGINX, Provider.SKIPPER) and not spec.has("ingressRef"):
        spec.error("ingressRef", f"is required when provider is {provider}")
    if provider is Provider.APISIX and not spec.has("routeRef"):
        spec.error("routeRef", f"is required when provider is {provider}")
    service = spec.raw("service")
    if provider in GATEWAY_API and isinstance(service, dict) and not service.get("gatewayRefs"):
        spec.error("service.gatewayRefs", f"is required when provider is {provider}")


def _check_provider_analysis(
    spec: Fields, *, provider: Provider, analysis: Analysis | None, service: ServiceSpec | None
) -> None:
    """Reject features the provider cannot honour (Flagger ignores or loops on them); the
    capability table in `capabilities.py` says what each provider can do."""
    key = "analysis" if spec.has("analysis") else "canaryAnalysis"
    for path, message in capability_errors(provider, analysis, service, analysis_key=key):
        spec.error(path, message)
