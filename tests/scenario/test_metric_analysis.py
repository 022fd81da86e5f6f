"""Metric analysis end to end: the controller on the local cluster, a real Prometheus with
backfilled series, real HTTP receivers for alerts.

Each namespace holds one story: a healthy canary promotes; one with 5% errors against a 99%
minimum rolls back after `threshold` failed checks; a template query with no data fails its
checks with "no data" in the status; the comparative judge promotes a canary like its
primary, rolls back a slower one and holds an inconclusive one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from ensign.testing import manifests as m
from ensign.testing.harness import Harness
from ensign.testing.prometheus import OpenMetrics, PrometheusServer

POD_REGEX = "[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
LATENCY = (
    'request_latency_seconds{namespace="{{ namespace }}",pod=~"{{ target }}-[0-9a-z]+-[0-9a-z]+"}'
)


def traffic(metrics: OpenMetrics, namespace: str, *, ok: float, errors: float) -> None:
    """podinfo's canary pods serving `ok` + `errors` requests per second, all under 100 ms."""
    pod = {"kubernetes_namespace": namespace, "kubernetes_pod_name": "podinfo-6b7c9d-x2k4p"}
    metrics.counter("http_request_duration_seconds_count", {**pod, "status": "200"}, rate=ok)
    if errors:
        metrics.counter(
            "http_request_duration_seconds_count", {**pod, "status": "500"}, rate=errors
        )
    for le in ("0.1", "0.5", "+Inf"):  # buckets only: the _count above carries `status`
        metrics.counter("http_request_duration_seconds_bucket", {**pod, "le": le}, rate=ok + errors)


def latencies(metrics: OpenMetrics, namespace: str, *, canary: float, primary: float) -> None:
    """Five pods per side, each holding a latency around the side's centre."""
    for i, spread in enumerate((-0.02, -0.01, 0.0, 0.01, 0.02)):
        metrics.gauge(
            "request_latency_seconds",
            {"namespace": namespace, "pod": f"podinfo-6b7c9d-p{i}"},
            value=canary + spread,
        )
        metrics.gauge(
            "request_latency_seconds",
            {"namespace": namespace, "pod": f"podinfo-primary-5f6d8c-p{i}"},
            value=primary + spread,
        )


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    metrics = OpenMetrics()
    traffic(metrics, "healthy", ok=10.0, errors=0.0)
    traffic(metrics, "failing", ok=9.5, errors=0.5)
    latencies(metrics, "judged-same", canary=0.10, primary=0.10)
    latencies(metrics, "judged-slower", canary=0.30, primary=0.10)
    latencies(metrics, "judged-few", canary=0.10, primary=0.10)
    with PrometheusServer(metrics) as server:
        yield server


class Receiver:
    """A Slack-compatible incoming webhook on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append(await request.json())
        return web.Response(text="ok")

    def texts(self) -> list[str]:
        return [a["text"] for post in self.posts for a in post.get("attachments", [])]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


def canary(namespace: str, metrics: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = m.canary(namespace=namespace, interval="1s", iterations=3, threshold=2)
    body["spec"]["analysis"]["metrics"] = metrics
    body["spec"]["analysis"].update(extra)
    return body


def template(namespace: str, query: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "latency", "namespace": namespace, "annotations": annotations},
        "spec": {"provider": {"type": "prometheus", "address": "{prom}"}, "query": query},
    }


def checks_of(h: Harness, namespace: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in h.canary(namespace, "podinfo")["status"].get("checks", [])}


def ready_message(h: Harness, namespace: str) -> str:
    conditions = h.canary(namespace, "podinfo")["status"]["conditions"]
    return str(next(c["message"] for c in conditions if c["type"] == "Ready"))


BUILTINS = [
    {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
    {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
]


async def test_healthy_canary_promotes_and_alerts(
    prometheus: PrometheusServer, receiver: Receiver
) -> None:
    provider = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": "chat", "namespace": "healthy"},
        "spec": {"type": "slack", "channel": "deploys", "address": receiver.url},
    }
    alerts = [{"name": "chat", "severity": "info", "providerRef": {"name": "chat"}}]
    async with Harness(settings={"metrics_server": prometheus.url}) as h:
        await h.apply(
            m.namespace("healthy"),
            provider,
            m.deployment(namespace="healthy"),
            canary("healthy", BUILTINS, alerts=alerts),
        )
        await h.wait_phase("healthy", "podinfo", "Initialized")
        h.set_image("healthy", "podinfo", "ghcr.io/stefanprodan/podinfo:6.8.0")
        await h.wait_phase("healthy", "podinfo", "Succeeded", timeout=30)
        found = checks_of(h, "healthy")
        assert found["request-success-rate"]["value"] == pytest.approx(100.0)
        assert found["request-success-rate"]["verdict"] == "passed"
        assert found["request-success-rate"]["threshold"] == "min 99%"
        # p99 inside the 0-100 ms bucket: 99 ms, truncated to whole ms (98 after float noise)
        assert found["request-duration"]["value"] in (98.0, 99.0)
        assert h.canary("healthy", "podinfo")["status"]["failedChecks"] == 0
        assert h.controller is not None
        gauge = h.controller.metrics.registry.get_sample_value
        labels = {"name": "podinfo", "namespace": "healthy"}
        rate = gauge("flagger_canary_metric_analysis", {**labels, "metric": "request-success-rate"})
        assert rate == pytest.approx(100.0)
        seconds = gauge("flagger_canary_metric_analysis", {**labels, "metric": "request-duration"})
        assert seconds in (0.098, 0.099)  # Flagger's unit for durations: seconds
        await h.controller.alerts.drain()
        texts = receiver.texts()
        assert "New revision detected, progressing canary analysis." in texts
        assert "Canary analysis completed successfully, promotion finished." in texts
        assert receiver.posts[0]["channel"] == "deploys"


async def test_five_percent_errors_roll_back_after_threshold_failed_checks(
    prometheus: PrometheusServer, receiver: Receiver
) -> None:
    settings = {
        "metrics_server": prometheus.url,
        "slack_url": receiver.url,  # the global notifier: this canary has no alerts
        "slack_channel": "releases",
        "cluster_name": "prod-eu",
    }
    async with Harness(settings=settings) as h:
        await h.apply(m.namespace("failing"), m.deployment(namespace="failing"))
        await h.apply(canary("failing", BUILTINS))
        await h.wait_phase("failing", "podinfo", "Initialized")
        h.set_image("failing", "podinfo", "ghcr.io/stefanprodan/podinfo:6.8.0")
        await h.wait_phase("failing", "podinfo", "Failed", timeout=30)
        events = h.events("failing")
        halts = [
            e for e in events if e == "Halt podinfo.failing advancement success rate 95.00% < 99%"
        ]
        assert len(halts) >= 2  # threshold 2
        assert any(
            e.startswith("Rolling back podinfo.failing failed checks threshold reached 2")
            for e in events
        )
        primary = h.get("Deployment", "failing", "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith("6.7.0")
        found = checks_of(h, "failing")
        assert found["request-success-rate"]["value"] == pytest.approx(95.0)
        assert found["request-success-rate"]["verdict"] == "failed"
        assert h.controller is not None
        await h.controller.alerts.drain()
        failed = [
            p for p in receiver.posts if p["attachments"][0]["text"].startswith("Failed checks")
        ]
        assert [p["attachments"][0]["text"] for p in failed] == [
            "Failed checks threshold reached 2"
        ]
        assert (
            failed[0]["channel"] == "releases" and failed[0]["attachments"][0]["color"] == "danger"
        )
        fields = {f["title"]: f["value"] for f in failed[0]["attachments"][0]["fields"]}
        assert fields["Cluster"] == "prod-eu"


async def test_a_query_with_no_data_fails_the_check_saying_no_data(
    prometheus: PrometheusServer,
) -> None:
    quiet = template("silent", 'sum(rate(no_such_series{namespace="{{ namespace }}"}[1m]))')
    quiet["spec"]["provider"]["address"] = prometheus.url
    metric = {
        "name": "errors",
        "interval": "1m",
        "templateRef": {"name": "latency"},
        "thresholdRange": {"max": 1},
    }
    async with Harness(settings={"metrics_server": prometheus.url}) as h:
        await h.apply(m.namespace("silent"), quiet, m.deployment(namespace="silent"))
        await h.apply(canary("silent", [metric]))
        await h.wait_phase("silent", "podinfo", "Initialized")
        h.set_image("silent", "podinfo", "ghcr.io/stefanprodan/podinfo:6.8.0")
        await h.wait_for(
            lambda: checks_of(h, "silent").get("errors", {}).get("verdict") == "no data",
            timeout=20,
        )
        assert "no data" in ready_message(h, "silent")
        await h.wait_phase("silent", "podinfo", "Failed", timeout=30)
        assert any(
            e.startswith("Halt advancement no values found for custom metric: errors")
            for e in h.events("silent")
        )


@pytest.mark.parametrize(
    ("namespace", "min_samples", "outcome"),
    [
        ("judged-same", "20", "Succeeded"),
        ("judged-slower", "20", "Failed"),
        ("judged-few", "1000", "Inconclusive"),
    ],
)
async def test_the_judge_compares_canary_with_primary(
    prometheus: PrometheusServer, namespace: str, min_samples: str, outcome: str
) -> None:
    judged = template(
        namespace,
        LATENCY,
        **{"ensign.dev/judge": "mann-whitney", "ensign.dev/judge-min-samples": min_samples},
    )
    judged["spec"]["provider"]["address"] = prometheus.url
    metric = {"name": "latency", "interval": "1m", "templateRef": {"name": "latency"}}
    async with Harness(settings={"metrics_server": prometheus.url}) as h:
        await h.apply(m.namespace(namespace), judged, m.deployment(namespace=namespace))
        await h.apply(canary(namespace, [metric]))
        await h.wait_phase(namespace, "podinfo", "Initialized")
        h.set_image(namespace, "podinfo", "ghcr.io/stefanprodan/podinfo:6.8.0")
        if outcome == "Inconclusive":
            await h.wait_for(
                lambda: checks_of(h, namespace).get("latency", {}).get("verdict") == "inconclusive",
                timeout=20,
            )
            assert "inconclusive" in ready_message(h, namespace)
            status = h.canary(namespace, "podinfo")["status"]
            assert status["phase"] == "Progressing" and status["failedChecks"] == 0
            return
        await h.wait_phase(namespace, "podinfo", outcome, timeout=30)
        found = checks_of(h, namespace)["latency"]
        assert found["samples"] >= 20
        assert "primaryValue" in found
        if outcome == "Failed":
            assert found["verdict"] == "failed"
            assert found["value"] == pytest.approx(0.30)
            assert found["primaryValue"] == pytest.approx(0.10)
            assert any("canary is worse than primary" in e for e in h.events(namespace))
        else:
            assert found["verdict"] == "passed"
