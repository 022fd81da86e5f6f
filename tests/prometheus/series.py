"""The series backfilled into the session's Prometheus, and the answers they must give.

Each observer gets its own namespace (`ns-<observer>`) and a canary whose service, ingress
and route names all differ from the target's, so a query that reads the wrong variable or
label finds nothing. Next to the canary's series sit decoys a correct query must ignore
(the primary, other reporters, other request types); they carry very different numbers, so
a query that matches them too returns a wrong value rather than the expected one.

Expected values repeat Prometheus' float arithmetic (`ok / (ok + err) * 100`, the
histogram_quantile interpolation), so the tests compare for exact equality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ensign.queries import Observer, QueryModel
from ensign.testing.prometheus import OpenMetrics

TARGET = "podinfo"
SERVICE = "podinfo-svc"
INGRESS = "podinfo-ing"
ROUTE = "podinfo-00002"


@dataclass(frozen=True, slots=True)
class Traffic:
    """One workload's traffic: request rates and where its latencies fall.

    Latencies all fall in (`low`, `high`] of the observer's histogram unit (ms, or seconds
    for the HTTP and Traefik exporters); the mean-based exporters (NGINX, Skipper) use
    `mean_sum`, the per-second growth of the `_sum` in seconds.
    """

    ok: float
    err: float
    low: float
    high: float
    mean_sum: float

    @property
    def total(self) -> float:
        return self.ok + self.err

    @property
    def success_rate(self) -> float:
        return self.ok / (self.ok + self.err) * 100

    @property
    def p99(self) -> float:
        """Prometheus' bucketQuantile for one populated bucket (`low`, `high`]."""
        return self.low + (self.high - self.low) * ((0.99 * self.total) / self.total)

    @property
    def mean_ms(self) -> float:
        return self.mean_sum / self.total * 1000


def canary_traffic(index: int, *, seconds: bool) -> Traffic:
    """Distinct numbers per observer: (index + 1) % errors, latencies shifted by index."""
    low, high = (0.1, 0.2 + 0.01 * index) if seconds else (100.0, 200.0 + 10 * index)
    return Traffic(ok=99 - index, err=1 + index, low=low, high=high, mean_sum=25 + index)


def primary_traffic(*, seconds: bool) -> Traffic:
    """The decoy primary: half the requests fail and it is much slower."""
    low, high = (2.5, 5.0) if seconds else (2500.0, 5000.0)
    return Traffic(ok=50, err=50, low=low, high=high, mean_sum=400)


SECONDS_OBSERVERS = frozenset({Observer.HTTP, Observer.TRAEFIK})
"""Observers whose histograms count seconds (the others count milliseconds)."""


def namespace(observer: Observer) -> str:
    return f"ns-{observer.value}"


def model(observer: Observer, *, primary: bool = False) -> QueryModel:
    """The canary's template model for an observer's namespace."""
    suffix = "-primary" if primary else ""
    return QueryModel(
        name=TARGET,
        namespace=namespace(observer),
        target=TARGET + suffix,
        service=SERVICE + suffix,
        ingress=INGRESS,
        route=ROUTE,
        interval="1m",
        variables={},
    )


def expected_traffic(observer: Observer) -> Traffic:
    return canary_traffic(list(Observer).index(observer), seconds=observer in SECONDS_OBSERVERS)


def expected_duration(observer: Observer) -> float:
    """What the observer's duration query answers, in the query's own unit."""
    traffic = expected_traffic(observer)
    if observer in (Observer.NGINX, Observer.SKIPPER):
        return traffic.mean_ms
    if observer is Observer.TRAEFIK:
        return 1000 * traffic.p99
    return traffic.p99


def _requests(
    om: OpenMetrics, name: str, labels: dict[str, str], t: Traffic, label: str, ok: str, err: str
) -> None:
    om.counter(name, {**labels, label: ok}, rate=t.ok)
    om.counter(name, {**labels, label: err}, rate=t.err)


def _latency(om: OpenMetrics, name: str, labels: dict[str, str], t: Traffic) -> None:
    om.histogram(name, labels, buckets={t.low: 0.0, t.high: t.total})


def _istio(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    for workload, t in ((TARGET, canary), (f"{TARGET}-primary", primary)):
        labels = {
            "reporter": "destination",
            "destination_workload_namespace": ns,
            "destination_workload": workload,
        }
        _requests(om, "istio_requests_total", labels, t, "response_code", "200", "503")
        _latency(om, "istio_request_duration_milliseconds", labels, t)
    source = {
        "reporter": "source",
        "destination_workload_namespace": ns,
        "destination_workload": TARGET,
    }
    om.counter("istio_requests_total", {**source, "response_code": "500"}, rate=1000)


def _linkerd(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    for deployment, t in ((TARGET, canary), (f"{TARGET}-primary", primary)):
        labels = {"namespace": ns, "deployment": deployment, "direction": "inbound"}
        _requests(om, "response_total", labels, t, "classification", "success", "failure")
        _latency(om, "response_latency_ms", labels, t)
    outbound = {"namespace": ns, "deployment": TARGET, "direction": "outbound"}
    om.counter("response_total", {**outbound, "classification": "failure"}, rate=1000)


def _pods(
    om: OpenMetrics,
    canary: Traffic,
    primary: Traffic,
    ns_label: str,
    ns: str,
    code: str,
    requests: str,
    latency: str,
) -> None:
    """Per-pod exporters (App Mesh, the generic HTTP one): pod names `<target>-<rs>-<id>`."""
    for pod, t in (
        (f"{TARGET}-7d9c8b6f5-x2x4z", canary),
        (f"{TARGET}-primary-6b8f9d7c4-abcde", primary),
    ):
        labels = {ns_label: ns, "kubernetes_pod_name": pod}
        _requests(om, requests, labels, t, code, "200", "503")
        _latency(om, latency, labels, t)


def _appmesh(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    _pods(
        om,
        canary,
        primary,
        "kubernetes_namespace",
        ns,
        "envoy_response_code",
        "envoy_cluster_upstream_rq",
        "envoy_cluster_upstream_rq_time",
    )


def _http(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    for pod, t in (
        (f"{TARGET}-7d9c8b6f5-x2x4z", canary),
        (f"{TARGET}-primary-6b8f9d7c4-abcde", primary),
    ):
        labels = {"kubernetes_namespace": ns, "kubernetes_pod_name": pod}
        for status, rate in (("200", t.ok), ("503", t.err)):
            # One histogram per status: `_count` carries the success rate, buckets the latency.
            om.histogram(
                "http_request_duration_seconds",
                {**labels, "status": status},
                buckets={t.low: 0.0, t.high: rate},
            )


def _envoy_cluster(
    label: str, canary_name: str, primary_name: str
) -> Callable[[OpenMetrics, str, Traffic, Traffic], None]:
    """Envoy-based exporters told apart by one cluster/service label (Contour, Gloo, Kuma, Knative)."""

    def add(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
        for value, t in ((canary_name, canary), (primary_name, primary)):
            labels = {label: value.format(ns=ns)}
            _requests(
                om, "envoy_cluster_upstream_rq", labels, t, "envoy_response_code", "200", "503"
            )
            _latency(om, "envoy_cluster_upstream_rq_time", labels, t)

    return add


def _nginx(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    for canary_label, t in (("podinfo-canary", canary), ("", primary)):
        labels = {"namespace": ns, "ingress": INGRESS, "canary": canary_label}
        _requests(om, "nginx_ingress_controller_requests", labels, t, "status", "200", "503")
        om.counter(
            "nginx_ingress_controller_response_duration_seconds_sum", labels, rate=t.mean_sum
        )
        om.counter("nginx_ingress_controller_response_duration_seconds_count", labels, rate=t.total)


def _skipper(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    ns_ = ns.replace("-", "_")
    canary_route = f"kube_{ns_}__podinfo_ing_canary__podinfo_example_com____podinfo_svc_canary"
    primary_route = f"kube_{ns_}__podinfo_ing__podinfo_example_com____podinfo_svc_primary"
    for route, t in ((canary_route, canary), (primary_route, primary)):
        for code, rate in (("200", t.ok), ("503", t.err)):
            om.histogram(
                "skipper_response_duration_seconds",
                {"route": route, "code": code},
                buckets={0.1: rate},
            )
        om.counter("skipper_serve_route_duration_seconds_sum", {"route": route}, rate=t.mean_sum)
        om.counter("skipper_serve_route_duration_seconds_count", {"route": route}, rate=t.total)


def _traefik(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    for service, t in (
        (f"{ns}-{TARGET}-canary-80@kubernetescrd", canary),
        (f"{ns}-{TARGET}-primary-80@kubernetescrd", primary),
    ):
        for code, rate in (("200", t.ok), ("503", t.err)):
            om.histogram(
                "traefik_service_request_duration_seconds",
                {"service": service, "code": code},
                buckets={t.low: 0.0, t.high: rate},
            )


def _osm(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    for name, t in ((TARGET, canary), (f"{TARGET}-primary", primary)):
        labels = {
            "destination_namespace": ns,
            "destination_kind": "Deployment",
            "destination_name": name,
        }
        _requests(om, "osm_request_total", labels, t, "response_code", "200", "503")
        _latency(om, "osm_request_duration_ms", labels, t)


def _apisix(om: OpenMetrics, ns: str, canary: Traffic, primary: Traffic) -> None:
    for route, t in (
        (f"{ns}_{ROUTE}-{TARGET}-canary_0", canary),
        (f"{ns}_{ROUTE}-{TARGET}-primary_0", primary),
    ):
        _requests(om, "apisix_http_status", {"route": route}, t, "code", "200", "503")
        _latency(om, "apisix_http_latency", {"route": route, "type": "request"}, t)
    upstream = {"route": f"{ns}_{ROUTE}-{TARGET}-canary_0", "type": "upstream"}
    om.histogram("apisix_http_latency", upstream, buckets={1.0: 1000.0})


SERIES: dict[Observer, Callable[[OpenMetrics, str, Traffic, Traffic], None]] = {
    Observer.ISTIO: _istio,
    Observer.LINKERD: _linkerd,
    Observer.APPMESH: _appmesh,
    Observer.CONTOUR: _envoy_cluster(
        "envoy_cluster_name", "{ns}_podinfo-svc-canary_80", "{ns}_podinfo-svc-primary_80"
    ),
    Observer.GLOO: _envoy_cluster(
        "envoy_cluster_name",
        "{ns}-podinfo-canaryupstream-9898_gloo-system",
        "{ns}-podinfo-primaryupstream-9898_gloo-system",
    ),
    Observer.NGINX: _nginx,
    Observer.HTTP: _http,
    Observer.SKIPPER: _skipper,
    Observer.TRAEFIK: _traefik,
    Observer.OSM: _osm,
    Observer.KUMA: _envoy_cluster(
        "service", "podinfo-canary_{ns}_svc_9898", "podinfo-primary_{ns}_svc_9898"
    ),
    Observer.APISIX: _apisix,
    Observer.KNATIVE: _envoy_cluster("envoy_cluster_name", "{ns}/" + ROUTE, "{ns}/podinfo-00001"),
}
"""How each observer's exporter spells the canary's (and the decoys') series."""

SPAN_BEFORE = 900.0
SPAN_AFTER = 1800.0
STEP = 10.0
"""The session's series cover [now - 15 min, now + 30 min] every 10 s: enough for every
`rate(...[1m])` the tests ask for, small enough to backfill in a fraction of a second."""

PROVIDER_NAMESPACE = "provider"
RATE_CHANGE_AT = -300.0
"""Offset from the dataset's `now` at which `demo_changing_total` goes from 1/s to 3/s."""


def dataset() -> OpenMetrics:
    """Every series of the session: each observer's, plus plain ones for provider tests."""
    om = OpenMetrics(before=SPAN_BEFORE, after=SPAN_AFTER, step=STEP)
    for index, observer in enumerate(Observer):
        seconds = observer in SECONDS_OBSERVERS
        SERIES[observer](
            om,
            namespace(observer),
            canary_traffic(index, seconds=seconds),
            primary_traffic(seconds=seconds),
        )
    labels = {"namespace": PROVIDER_NAMESPACE}
    om.counter("demo_requests_total", {**labels, "code": "200"}, rate=19)
    om.counter("demo_requests_total", {**labels, "code": "500"}, rate=1)
    om.counter("demo_changing_total", labels, rate=1, changes={RATE_CHANGE_AT: 3})
    om.gauge("demo_temperature", {**labels, "room": "a"}, value=21.5)
    om.gauge("demo_temperature", {**labels, "room": "b"}, value=19.25)
    return om
