"""Flagger's builtin metrics through the routers: the controller on the local cluster, each
provider's router objects, and a real Prometheus holding series shaped as that provider's
exporter writes them.

Each row picks the observer Flagger's builtin queries read for its provider (linkerd's
`response_total`, Contour's `envoy_cluster_upstream_rq`, Traefik's
`traefik_service_request_duration_seconds_bucket`...). The series come from the same
builders as `tests/prometheus/series.py`, decoy primary (half failing, seconds slow) and
all, so a query reading the wrong labels finds no data or the decoy and the check fails.
The canary's service and ingress names differ from the target's where the observer's
query reads them (Contour: `{{ service }}`, NGINX: `{{ ingress }}`), so a query rendered
with the wrong variable finds nothing.

A healthy series (no errors, p99 well under 500 ms) promotes; one provider's canary with
5% errors rolls back after `threshold` failed checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ensign.queries import Observer
from ensign.queries.builtin import select_observer
from ensign.testing import manifests as m
from ensign.testing.harness import Harness
from ensign.testing.prometheus import OpenMetrics, PrometheusServer
from tests.prometheus.series import (
    INGRESS,
    SECONDS_OBSERVERS,
    SERIES,
    SERVICE,
    TARGET,
    Traffic,
    primary_traffic,
)
from tests.scenario.support import NEW_IMAGE, OLD_IMAGE

JSON = dict[str, Any]

BUILTINS = [
    {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
    {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
]


def healthy(observer: Observer) -> Traffic:
    """No errors; every latency in (100, 200] ms (seconds for the seconds exporters), or a
    150 ms mean for the mean-based ones."""
    seconds = observer in SECONDS_OBSERVERS
    low, high = (0.1, 0.2) if seconds else (100.0, 200.0)
    return Traffic(ok=100, err=0, low=low, high=high, mean_sum=15)


def failing(observer: Observer) -> Traffic:
    """5% errors (95.00% success rate), latencies as healthy."""
    good = healthy(observer)
    return Traffic(ok=95, err=5, low=good.low, high=good.high, mean_sum=good.mean_sum)


def expected_ms(observer: Observer) -> float:
    """The healthy series' duration in ms before truncation: the interpolated p99 of the
    (100, 200] ms bucket, 199 ms, or NGINX's mean, 150 ms."""
    traffic = healthy(observer)
    if observer is Observer.NGINX:
        return traffic.mean_ms
    return traffic.p99 * (1000 if observer in SECONDS_OBSERVERS else 1)


@dataclass(frozen=True)
class Row:
    """One provider: the observer its builtin metrics read, its CRD bundles, the objects
    a user has beside the Canary, and the Canary spec fields it needs."""

    provider: str
    observer: Observer
    crds: tuple[str, ...] = ()
    objects: tuple[JSON, ...] = ()
    spec: JSON = field(default_factory=dict)
    service: JSON = field(default_factory=dict)

    def namespace(self, story: str) -> str:
        return f"{self.provider.replace(':', '-')}-{story}"

    def canary(self, namespace: str) -> JSON:
        """A 25 → 50 progressive canary with the two builtin metrics."""
        body = m.with_spec(
            m.canary(TARGET, namespace, interval="250ms", iterations=0, threshold=2),
            provider=self.provider,
            **self.spec,
        )
        body = m.with_analysis(body, iterations=None, stepWeight=25, maxWeight=50, metrics=BUILTINS)
        body["spec"]["service"].update(self.service)
        return body

    def manifests(self, namespace: str) -> list[JSON]:
        objects = [
            {**o, "metadata": {**o["metadata"], "namespace": namespace}} for o in self.objects
        ]
        return [m.namespace(namespace), m.deployment(TARGET, namespace), *objects]


GATEWAY = {"hosts": ["app.example.com"], "gatewayRefs": [{"name": "gateway", "namespace": "gw"}]}
INGRESS_REF = {
    "ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": INGRESS}
}

ROWS = [
    Row("linkerd", Observer.LINKERD, crds=("smi",)),
    Row("contour", Observer.CONTOUR, crds=("contour",), service={"name": SERVICE}),
    Row("traefik", Observer.TRAEFIK, crds=("traefik",)),
    Row("istio", Observer.ISTIO, crds=("istio",)),
    Row("nginx", Observer.NGINX, objects=(m.ingress(INGRESS),), spec=INGRESS_REF),
    Row("gatewayapi:v1", Observer.HTTP, crds=("gateway-api",), service=GATEWAY),
]
FAILING = next(r for r in ROWS if r.provider == "traefik")
"""The provider whose canary also gets 5% errors (its success rate reads histogram buckets)."""


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    """Every row's healthy namespace, and the failing row's failing one. A missing
    Prometheus errors here with the install command; it is never skipped."""
    metrics = OpenMetrics(before=900, after=1800, step=10)
    for row in ROWS:
        seconds = row.observer in SECONDS_OBSERVERS
        decoy = primary_traffic(seconds=seconds)
        SERIES[row.observer](metrics, row.namespace("ok"), healthy(row.observer), decoy)
    decoy = primary_traffic(seconds=FAILING.observer in SECONDS_OBSERVERS)
    SERIES[FAILING.observer](metrics, FAILING.namespace("bad"), failing(FAILING.observer), decoy)
    with PrometheusServer(metrics) as server:
        yield server


def checks_of(h: Harness, namespace: str) -> dict[str, JSON]:
    return {c["name"]: c for c in h.canary(namespace, TARGET)["status"].get("checks", [])}


def primary_image(h: Harness, namespace: str) -> str:
    primary = h.get("Deployment", namespace, f"{TARGET}-primary")
    assert primary is not None
    return str(primary["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.mark.parametrize("row", ROWS, ids=[r.provider for r in ROWS])
async def test_healthy_series_promote_through_the_router(
    row: Row, prometheus: PrometheusServer
) -> None:
    chosen = select_observer(
        mesh_provider="kubernetes", canary_provider=row.provider, target_kind="Deployment"
    )
    assert chosen is row.observer  # the series below are shaped for this observer
    ns = row.namespace("ok")
    async with Harness(crds=row.crds, settings={"metrics_server": prometheus.url}) as h:
        await h.apply(*row.manifests(ns), row.canary(ns))
        await h.wait_phase(ns, TARGET, "Initialized", timeout=20)
        h.set_image(ns, TARGET, NEW_IMAGE)
        await h.wait_phase(ns, TARGET, "Succeeded", timeout=30)
        found = checks_of(h, ns)
        rate, duration = found["request-success-rate"], found["request-duration"]
        assert rate["value"] == pytest.approx(100.0), found
        assert rate["verdict"] == "passed" and rate["threshold"] == "min 99%", found
        # truncated to whole ms like Flagger's int64(): 199 (150 for NGINX), or one less
        # when rate() at an unaligned "now" leaves float noise below the integer
        assert duration["value"] == int(duration["value"]), found
        assert duration["value"] == pytest.approx(expected_ms(row.observer), abs=1.0), found
        assert duration["verdict"] == "passed", found
        assert h.canary(ns, TARGET)["status"]["failedChecks"] == 0
        assert primary_image(h, ns) == NEW_IMAGE


async def test_five_percent_errors_roll_back_through_the_router(
    prometheus: PrometheusServer,
) -> None:
    row, ns = FAILING, FAILING.namespace("bad")
    async with Harness(crds=row.crds, settings={"metrics_server": prometheus.url}) as h:
        await h.apply(*row.manifests(ns), row.canary(ns))
        await h.wait_phase(ns, TARGET, "Initialized", timeout=20)
        h.set_image(ns, TARGET, NEW_IMAGE)
        await h.wait_phase(ns, TARGET, "Failed", timeout=30)
        events = h.events(ns)
        halts = [
            e for e in events if e == f"Halt {TARGET}.{ns} advancement success rate 95.00% < 99%"
        ]
        assert len(halts) >= 2, events  # threshold 2
        assert any(
            e.startswith(f"Rolling back {TARGET}.{ns} failed checks threshold reached 2")
            for e in events
        ), events
        found = checks_of(h, ns)
        assert found["request-success-rate"]["value"] == pytest.approx(95.0), found
        assert found["request-success-rate"]["verdict"] == "failed", found
        assert primary_image(h, ns) == OLD_IMAGE
        status = h.canary(ns, TARGET)["status"]
        assert status["canaryWeight"] == 0, status
