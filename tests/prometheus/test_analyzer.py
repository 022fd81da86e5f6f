"""`MetricAnalyzer`: what one analysis tick measures, against a real Prometheus (values) and
a flaky local HTTP server (retries), with templates and Secrets in watch caches."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiohttp import web

from ensign.engine.observations import CheckVerdict
from ensign.kube import kinds
from ensign.kube.api import KubeApi
from ensign.model import parse_canary
from ensign.runtime.analysis import MetricAnalyzer
from ensign.runtime.cache import Caches, Informer
from ensign.testing import manifests as m
from ensign.testing.prometheus import OpenMetrics, PrometheusServer

NS = "shop"
PODS = '{namespace="{{ namespace }}",pod=~"{{ target }}-[0-9a-z]+-[0-9a-z]+"}'


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    metrics = OpenMetrics(before=900, after=1800, step=10)
    for side, errors in (("podinfo-6b7c9d-a1", 50.0), ("podinfo-primary-5f6d8c-a1", 10.0)):
        labels = {"namespace": NS, "pod": side}
        metrics.counter("http_requests_total", {**labels, "code": "500"}, rate=errors / 60)
        metrics.counter("http_requests_total", {**labels, "code": "200"}, rate=(1000 - errors) / 60)
    metrics.gauge("queue_depth", {"namespace": NS, "pod": "podinfo-6b7c9d-a1"}, value=7)
    with PrometheusServer(metrics) as server:
        yield server


def caches(*objects: dict[str, Any]) -> Caches:
    """Caches holding `objects`, as synced informers would (no API server needed)."""
    informers = {
        k.kind: Informer(cast(KubeApi, None), k) for k in (kinds.METRIC_TEMPLATE, kinds.SECRET)
    }
    for obj in objects:
        informers[obj["kind"]].store(obj)
    return Caches(informers)


def template(name: str, query: str, address: str, **extra: Any) -> dict[str, Any]:
    annotations = extra.pop("annotations", {})
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": {"provider": {"type": "prometheus", "address": address, **extra}, "query": query},
    }


def canary(*metrics: dict[str, Any]) -> Any:
    body = m.canary(namespace=NS)
    body["spec"]["analysis"]["metrics"] = list(metrics)
    return parse_canary(body)


def metric(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "interval": "1m", "templateRef": {"name": name}, **extra}


def analyzer(objs: Caches, **kwargs: Any) -> MetricAnalyzer:
    return MetricAnalyzer(objs, clock=lambda: datetime.now(UTC), **kwargs)


async def test_a_template_value_is_compared_with_its_bounds(prometheus: PrometheusServer) -> None:
    objs = caches(template("queue", f"max(queue_depth{PODS})", prometheus.url))
    run = analyzer(objs)
    [high] = await run.run(
        canary(metric("queue", thresholdRange={"max": 5})), target_kind="Deployment"
    )
    [ok] = await run.run(
        canary(metric("queue", thresholdRange={"max": 10})), target_kind="Deployment"
    )
    await run.aclose()
    assert high.verdict is CheckVerdict.FAILED and high.value == 7.0
    assert high.event == "Halt podinfo.shop advancement queue 7.00 > 5"
    assert ok.verdict is CheckVerdict.PASSED and ok.threshold == "max 10"


async def test_two_proportion_judge_over_counters(prometheus: PrometheusServer) -> None:
    bad = (
        'sum(increase(http_requests_total{namespace="{{ namespace }}",'
        'pod=~"{{ target }}-[0-9a-z]+-[0-9a-z]+",code="500"}[{{ interval }}]))'
    )
    total = "sum(increase(http_requests_total" + PODS + "[{{ interval }}]))"
    judged = template(
        "errors",
        bad,
        prometheus.url,
        annotations={"ensign.dev/judge": "two-proportion", "ensign.dev/judge-total-query": total},
    )
    run = analyzer(caches(judged))
    [outcome] = await run.run(canary(metric("errors")), target_kind="Deployment")
    await run.aclose()
    # 5% of ~1,000 requests a minute on the canary against 1% on the primary
    assert outcome.verdict is CheckVerdict.FAILED, outcome.message
    assert outcome.value == pytest.approx(0.05, rel=0.05)
    assert outcome.primary_value == pytest.approx(0.01, rel=0.05)
    assert outcome.samples is not None and outcome.samples >= 900
    assert "two-proportion" in outcome.threshold


async def test_missing_bounds_missing_template_and_missing_secret_are_named(
    prometheus: PrometheusServer,
) -> None:
    secured = template("secured", "vector(1)", prometheus.url, secretRef={"name": "creds"})
    run = analyzer(caches(template("queue", "vector(1)", prometheus.url), secured))
    no_bounds, missing, no_secret = await run.run(
        canary(
            metric("queue"),
            metric("absent", thresholdRange={"max": 1}),
            metric("secured", thresholdRange={"max": 1}),
        ),
        target_kind="Deployment",
    )
    await run.aclose()
    assert no_bounds.verdict is CheckVerdict.ERROR
    assert "set thresholdRange" in no_bounds.message and "ensign.dev/judge" in no_bounds.message
    assert missing.verdict is CheckVerdict.ERROR
    assert "Metric template absent.shop error" in missing.event
    assert "secret creds.shop not found" in no_secret.message


async def test_builtins_need_a_metrics_server() -> None:
    run = analyzer(caches(), metrics_server="")
    [outcome] = await run.run(
        canary({"name": "request-success-rate", "thresholdRange": {"min": 99}}),
        target_kind="Deployment",
    )
    assert outcome.verdict is CheckVerdict.ERROR
    assert "--metrics-server" in outcome.message


class Flaky:
    """A Prometheus-shaped server that answers 503 `failures` times, then a value."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.auth: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.auth.append(request.headers.get("Authorization", ""))
        if self.calls <= self.failures:
            return web.Response(status=503, text="overloaded")
        body = {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]},
        }
        return web.json_response(body)


@pytest.fixture
async def flaky_server() -> AsyncIterator[tuple[Flaky, str]]:
    flaky = Flaky(failures=1)
    app = web.Application()
    app.router.add_get("/api/v1/query", flaky.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield flaky, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_provider_error_is_retried_once_within_the_tick(
    flaky_server: tuple[Flaky, str],
) -> None:
    flaky, url = flaky_server
    run = analyzer(caches(template("q", "vector(1)", url)))
    [once] = await run.run(canary(metric("q", thresholdRange={"max": 1})), target_kind="Deployment")
    assert once.verdict is CheckVerdict.PASSED and flaky.calls == 2

    flaky.calls, flaky.failures = 0, 5
    [twice] = await run.run(
        canary(metric("q", thresholdRange={"max": 1})), target_kind="Deployment"
    )
    await run.aclose()
    assert twice.verdict is CheckVerdict.ERROR and flaky.calls == 2
    assert "503" in twice.message and "after 2 attempts" in twice.message
    assert twice.event.startswith("Metric query failed for q:")


async def test_secret_credentials_reach_the_provider_and_never_the_outcome(
    flaky_server: tuple[Flaky, str],
) -> None:
    flaky, url = flaky_server
    flaky.failures = 10
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": NS},
        "data": {"token": base64.b64encode(b"s3cr3t-token").decode()},
    }
    run = analyzer(caches(template("q", "vector(1)", url, secretRef={"name": "creds"}), secret))
    [outcome] = await run.run(
        canary(metric("q", thresholdRange={"max": 1})), target_kind="Deployment"
    )
    await run.aclose()
    assert outcome.verdict is CheckVerdict.ERROR
    assert flaky.auth == ["Bearer s3cr3t-token"] * 2
    assert "s3cr3t-token" not in outcome.message + outcome.event


async def test_the_canary_metrics_server_wins_over_the_flag(prometheus: PrometheusServer) -> None:
    body = m.canary(namespace="healthy-nowhere")
    body["spec"]["metricsServer"] = prometheus.url
    body["spec"]["analysis"]["metrics"] = [
        {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}}
    ]
    run = analyzer(caches(), metrics_server="http://127.0.0.1:9")  # nothing listens there
    [outcome] = await run.run(parse_canary(body), target_kind="Deployment")
    await run.aclose()
    # the canary's own server answered (no series for this namespace): no data, not an error
    assert outcome.verdict is CheckVerdict.NO_DATA, outcome.message
    assert outcome.event.startswith(
        "Halt advancement no values found for kubernetes metric request-success-rate "
        "probably podinfo.healthy-nowhere is not receiving traffic: "
    )
