"""Flagger's builtin metrics as PromQL per "observer" (the mesh or ingress exporting them). Pure.

`request-success-rate` is a percentage (0-100) of non-5xx requests to the canary over the
metric's interval; `request-duration` is its 99th percentile latency (a mean for NGINX and
Skipper, whose exporters have no usable histogram). The queries are templates rendered with
the same model as user queries, so one `render` serves both. Each observer also declares the
unit its duration query answers in; `duration_to_ms` turns it into the whole milliseconds
thresholds are compared with.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from ensign.queries.render import QueryModel, render

REQUEST_SUCCESS_RATE = "request-success-rate"
REQUEST_DURATION = "request-duration"

_INTERVAL = "[{{ interval }}]"
_FIVE_XX = "5.*"
"""Regex for a 5xx status where the label holds the full code (`503`)."""
_FIVE_XX_STRICT = "5.."


class Observer(StrEnum):
    """Whose metrics the builtin queries read (Flagger's `pkg/metrics/observers`)."""

    ISTIO = "istio"
    LINKERD = "linkerd"
    APPMESH = "appmesh"
    CONTOUR = "contour"
    GLOO = "gloo"
    NGINX = "nginx"
    HTTP = "http"
    SKIPPER = "skipper"
    TRAEFIK = "traefik"
    OSM = "osm"
    KUMA = "kuma"
    APISIX = "apisix"
    KNATIVE = "knative"


def _same_model(model: QueryModel) -> QueryModel:
    return model


_NON_WORD = re.compile(r"[^A-Za-z0-9_]")


def _skipper_model(model: QueryModel) -> QueryModel:
    """Skipper route ids spell names with every non-word character as `_`."""

    def encode(value: str) -> str:
        return _NON_WORD.sub("_", value)

    return replace(
        model,
        name=encode(model.name),
        namespace=encode(model.namespace),
        target=encode(model.target),
        service=encode(model.service),
        ingress=encode(model.ingress),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltinQueries:
    """One observer's two query templates.

    `duration_to_ms` is the factor that turns the duration query's answer into
    milliseconds; `model` adapts the template model to the observer's label spelling.
    """

    success_rate: str
    duration: str
    duration_to_ms: float = 1.0
    model: Callable[[QueryModel], QueryModel] = _same_model


def _success_rate(metric: str, selector: str, successful: str) -> str:
    """100 x rate of successful requests / rate of all requests, summed over series."""
    return f"sum(rate({metric}{{{selector},{successful}}}{_INTERVAL})) / sum(rate({metric}{{{selector}}}{_INTERVAL})) * 100"


def _p99(bucket_metric: str, selector: str, scale: str = "") -> str:
    """The 99th percentile of a histogram, optionally scaled (`1000 * ` for seconds)."""
    return f"{scale}histogram_quantile(0.99, sum(rate({bucket_metric}{{{selector}}}{_INTERVAL})) by (le))"


def _mean_ms(sum_metric: str, count_metric: str, selector: str) -> str:
    """Mean latency in ms from a summary's `_sum` (seconds) and `_count`."""
    return f"sum(rate({sum_metric}{{{selector}}}{_INTERVAL})) / sum(rate({count_metric}{{{selector}}}{_INTERVAL})) * 1000"


_ISTIO = 'reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"'
_LINKERD = 'namespace="{{ namespace }}",deployment=~"{{ target }}",direction="inbound"'
_POD = '"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"'
_APPMESH = f'kubernetes_namespace="{{{{ namespace }}}}",kubernetes_pod_name=~{_POD}'
_CONTOUR = 'envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"'
_GLOO = (
    'envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"'
)
_NGINX = 'namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""'
_HTTP = f'kubernetes_namespace="{{{{ namespace }}}}",kubernetes_pod_name=~{_POD}'
_SKIPPER = (
    'route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?"'
)
_TRAEFIK = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"'
_OSM = 'destination_namespace="{{ namespace }}",destination_kind="Deployment",destination_name="{{ target }}"'
_KUMA = 'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"'
_APISIX = 'route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"'
_KNATIVE = 'envoy_cluster_name=~"{{ namespace }}/{{ route }}"'

_ENVOY_OK = f'envoy_response_code!~"{_FIVE_XX}"'

BUILTIN_QUERIES: Mapping[Observer, BuiltinQueries] = MappingProxyType(
    {
        Observer.ISTIO: BuiltinQueries(
            success_rate=_success_rate(
                "istio_requests_total", _ISTIO, f'response_code!~"{_FIVE_XX}"'
            ),
            duration=_p99("istio_request_duration_milliseconds_bucket", _ISTIO),
        ),
        Observer.LINKERD: BuiltinQueries(
            success_rate=_success_rate("response_total", _LINKERD, 'classification!="failure"'),
            duration=_p99("response_latency_ms_bucket", _LINKERD),
        ),
        Observer.APPMESH: BuiltinQueries(
            success_rate=_success_rate("envoy_cluster_upstream_rq", _APPMESH, _ENVOY_OK),
            duration=_p99("envoy_cluster_upstream_rq_time_bucket", _APPMESH),
        ),
        Observer.CONTOUR: BuiltinQueries(
            success_rate=_success_rate("envoy_cluster_upstream_rq", _CONTOUR, _ENVOY_OK),
            duration=_p99("envoy_cluster_upstream_rq_time_bucket", _CONTOUR),
        ),
        Observer.GLOO: BuiltinQueries(
            success_rate=_success_rate("envoy_cluster_upstream_rq", _GLOO, _ENVOY_OK),
            duration=_p99("envoy_cluster_upstream_rq_time_bucket", _GLOO),
        ),
        Observer.NGINX: BuiltinQueries(
            success_rate=_success_rate(
                "nginx_ingress_controller_requests", _NGINX, f'status!~"{_FIVE_XX}"'
            ),
            duration=_mean_ms(
                "nginx_ingress_controller_response_duration_seconds_sum",
                "nginx_ingress_controller_response_duration_seconds_count",
                _NGINX,
            ),
        ),
        Observer.HTTP: BuiltinQueries(
            success_rate=_success_rate(
                "http_request_duration_seconds_count", _HTTP, f'status!~"{_FIVE_XX}"'
            ),
            duration=_p99("http_request_duration_seconds_bucket", _HTTP),
            duration_to_ms=1000.0,
        ),
        Observer.SKIPPER: BuiltinQueries(
            success_rate=_success_rate(
                "skipper_response_duration_seconds_bucket",
                f'{_SKIPPER},le="+Inf"',
                f'code!~"{_FIVE_XX_STRICT}"',
            ),
            duration=_mean_ms(
                "skipper_serve_route_duration_seconds_sum",
                "skipper_serve_route_duration_seconds_count",
                _SKIPPER,
            ),
            model=_skipper_model,
        ),
        Observer.TRAEFIK: BuiltinQueries(
            success_rate=_success_rate(
                "traefik_service_request_duration_seconds_bucket",
                f'{_TRAEFIK},le="+Inf"',
                f'code!~"{_FIVE_XX_STRICT}"',
            ),
            duration=_p99(
                "traefik_service_request_duration_seconds_bucket", _TRAEFIK, scale="1000 * "
            ),
        ),
        Observer.OSM: BuiltinQueries(
            success_rate=_success_rate("osm_request_total", _OSM, f'response_code!~"{_FIVE_XX}"'),
            duration=_p99("osm_request_duration_ms_bucket", _OSM),
        ),
        Observer.KUMA: BuiltinQueries(
            success_rate=_success_rate("envoy_cluster_upstream_rq", _KUMA, _ENVOY_OK),
            duration=_p99("envoy_cluster_upstream_rq_time_bucket", _KUMA),
        ),
        Observer.APISIX: BuiltinQueries(
            success_rate=_success_rate("apisix_http_status", _APISIX, f'code!~"{_FIVE_XX_STRICT}"'),
            duration=_p99("apisix_http_latency_bucket", f'type=~"request",{_APISIX}'),
        ),
        Observer.KNATIVE: BuiltinQueries(
            success_rate=_success_rate("envoy_cluster_upstream_rq", _KNATIVE, _ENVOY_OK),
            duration=_p99("envoy_cluster_upstream_rq_time_bucket", _KNATIVE),
        ),
    }
)
"""Every observer's builtin query templates (Flagger's behaviour notes §5.2)."""

_EXACT: Mapping[str, Observer] = MappingProxyType(
    {
        "linkerd": Observer.LINKERD,
        "istio": Observer.ISTIO,
        "contour": Observer.CONTOUR,
        "nginx": Observer.NGINX,
        "kubernetes": Observer.HTTP,
        "skipper": Observer.SKIPPER,
        "traefik": Observer.TRAEFIK,
        "osm": Observer.OSM,
        "kuma": Observer.KUMA,
        "apisix": Observer.APISIX,
        "knative": Observer.KNATIVE,
    }
)
"""Provider names matched exactly (so `linkerd:service` does not match `linkerd`)."""

_PREFIXES: tuple[tuple[str, Observer], ...] = (
    ("appmesh", Observer.APPMESH),
    ("gloo", Observer.GLOO),
    ("gatewayapi", Observer.HTTP),
)
"""Provider names matched by prefix (`appmesh:v1beta2`, `gatewayapi:v1`, `gloo:service`)."""

_DEFAULT = Observer.ISTIO


def select_observer(
    *,
    mesh_provider: str,
    canary_provider: str | None,
    target_kind: str,
    target_is_knative: bool = False,
) -> Observer:
    """The observer Flagger's builtin metrics use for a canary, quirks included.

    1. Start from the global `-mesh-provider`; any value containing `crossover` becomes
       `crossover`, which no observer claims, so it ends on Istio.
    2. A non-empty `spec.provider` replaces it, except that a global provider containing
       `linkerd` forces `linkerd` whatever the canary says.
    3. A Kubernetes `Service` target (not a Knative Service, `target_is_knative`) gets
       `:service` appended. Only prefix-matched names survive that, so `istio:service`,
       `linkerd:service`, `kubernetes:service`, `nginx:service`... all read Istio's metrics;
       `appmesh*`, `gloo*` and `gatewayapi*` keep their own observer.
    4. Exact names map to their observer, `appmesh*`/`gloo*`/`gatewayapi*` by prefix,
       `kubernetes` and `gatewayapi*` to the generic HTTP observer, and anything else
       (`smi:*`, `crossover`, typos) silently to Istio.
    """
    provider = "crossover" if "crossover" in mesh_provider else mesh_provider
    if canary_provider:
        provider = "linkerd" if "linkerd" in mesh_provider else canary_provider
    if target_kind == "Service" and not target_is_knative:
        provider = f"{provider}:service"
    if provider in _EXACT:
        return _EXACT[provider]
    for prefix, observer in _PREFIXES:
        if provider.startswith(prefix):
            return observer
    return _DEFAULT


def builtin_query(observer: Observer, metric: str, model: QueryModel) -> str:
    """The PromQL for builtin `metric` (`request-success-rate` or `request-duration`)."""
    queries = BUILTIN_QUERIES[observer]
    if metric == REQUEST_SUCCESS_RATE:
        template = queries.success_rate
    elif metric == REQUEST_DURATION:
        template = queries.duration
    else:
        raise ValueError(
            f"{metric!r} is not a builtin metric ({REQUEST_SUCCESS_RATE}, {REQUEST_DURATION})"
        )
    return render(template, queries.model(model))


def duration_to_ms(observer: Observer, value: float) -> float:
    """The duration query's answer as whole milliseconds, truncated like Flagger's `int64()`.

    The HTTP observer answers in seconds; every other duration query already answers in
    milliseconds. An infinite answer (a histogram with only a `+Inf` bucket) stays infinite
    so that any `max` threshold fails rather than overflowing.
    """
    scaled = value * BUILTIN_QUERIES[observer].duration_to_ms
    if not math.isfinite(scaled):
        return scaled
    return float(math.trunc(scaled))
