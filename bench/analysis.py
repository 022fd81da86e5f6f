"""Analysis benchmark: one analysis tick with 10 metrics against a real Prometheus, and the
comparative judge's false-positive and false-negative rates at its default settings.

The tick is `MetricAnalyzer.run` exactly as the controller calls it: templates and Secrets
read from watch caches of the local cluster (over the real lightkube client), queries sent
to a real `prometheus` over backfilled series. The 10 metrics: the two builtins, six
threshold templates (one behind a Secret with a bearer token) and two judged templates
(Mann-Whitney over 5 pods x 7 points per side).

Prints the figures and appends them to bench/RESULTS.md with the command that made them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ensign.judge.calibration import (
    DEFAULT_MANN_WHITNEY,
    DEFAULT_TWO_PROPORTION,
    mann_whitney_rates,
    two_proportion_rates,
)
from ensign.kube import kinds
from ensign.kube.client import LightkubeApi
from ensign.model import parse_canary
from ensign.runtime.analysis import MetricAnalyzer
from ensign.runtime.cache import Caches, Informer
from ensign.testing import manifests as m
from ensign.testing.harness import Harness
from ensign.testing.prometheus import OpenMetrics, PrometheusServer

ROOT = Path(__file__).resolve().parents[1]
NS = "bench"
POD = {"kubernetes_namespace": NS, "kubernetes_pod_name": "podinfo-6b7c9d-x2k4p"}


def series() -> OpenMetrics:
    metrics = OpenMetrics(before=900, after=1800, step=10)
    metrics.counter("http_request_duration_seconds_count", {**POD, "status": "200"}, rate=99)
    metrics.counter("http_request_duration_seconds_count", {**POD, "status": "500"}, rate=1)
    for le in ("0.1", "0.5", "+Inf"):
        metrics.counter("http_request_duration_seconds_bucket", {**POD, "le": le}, rate=100)
    for i in range(6):
        metrics.gauge("app_queue_depth", {"namespace": NS, "pod": f"podinfo-6b7c9d-p{i}"}, value=i)
    for i, spread in enumerate((-0.02, -0.01, 0.0, 0.01, 0.02)):
        for pod, centre in ((f"podinfo-6b7c9d-p{i}", 0.1), (f"podinfo-primary-5f6d8c-p{i}", 0.1)):
            metrics.gauge(
                "request_latency_seconds", {"namespace": NS, "pod": pod}, value=centre + spread
            )
    return metrics


def objects(prometheus: str) -> list[dict[str, Any]]:
    def template(name: str, query: str, *, secret: bool = False, **notes: str) -> dict[str, Any]:
        provider: dict[str, Any] = {"type": "prometheus", "address": prometheus}
        if secret:
            provider["secretRef"] = {"name": "prom-auth"}
        return {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "MetricTemplate",
            "metadata": {"name": name, "namespace": NS, "annotations": notes},
            "spec": {"provider": provider, "query": query},
        }

    pods = '{namespace="{{ namespace }}",pod=~"{{ target }}-[0-9a-z]+-[0-9a-z]+"}'
    out: list[dict[str, Any]] = [
        m.namespace(NS),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "prom-auth", "namespace": NS},
            "data": {"token": base64.b64encode(b"bench-token").decode()},
        },
    ]
    for i in range(6):
        query = f"max(app_queue_depth{pods}) + {i}"
        out.append(template(f"queue-{i}", query, secret=i == 0))
    for i in range(2):
        out.append(
            template(
                f"latency-{i}",
                f"request_latency_seconds{pods}",
                **{"ensign.dev/judge": "mann-whitney"},
            )
        )
    return out


def canary() -> dict[str, Any]:
    body = m.canary(namespace=NS, interval="1m", iterations=10, threshold=5)
    metrics: list[dict[str, Any]] = [
        {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
    ]
    metrics += [
        {
            "name": f"queue-{i}",
            "interval": "1m",
            "templateRef": {"name": f"queue-{i}"},
            "thresholdRange": {"max": 100},
        }
        for i in range(6)
    ]
    metrics += [
        {"name": f"latency-{i}", "interval": "1m", "templateRef": {"name": f"latency-{i}"}}
        for i in range(2)
    ]
    body["spec"]["analysis"]["metrics"] = metrics
    return body


async def tick_times(ticks: int) -> dict[str, Any]:
    harness = Harness(start_controller=False, ready_delay=0)
    await harness.__aenter__()
    api = LightkubeApi.from_dict(harness.cluster.kubeconfig())
    started = time.monotonic()
    with PrometheusServer(series()) as prometheus:
        prom_start = time.monotonic() - started
        await harness.apply(*objects(prometheus.url))
        caches = Caches(
            {k.kind: Informer(api, k, namespace=NS) for k in (kinds.METRIC_TEMPLATE, kinds.SECRET)}
        )
        caches.start()
        await caches.wait_synced()
        analyzer = MetricAnalyzer(
            caches, clock=lambda: datetime.now(UTC), metrics_server=prometheus.url
        )
        parsed = parse_canary(canary())
        times: list[float] = []
        verdicts: dict[str, int] = {}
        for _ in range(ticks + 1):  # the first tick opens the connections; not counted
            begun = time.perf_counter()
            outcomes = await analyzer.run(parsed, target_kind="Deployment")
            times.append(time.perf_counter() - begun)
            for o in outcomes:
                verdicts[str(o.verdict)] = verdicts.get(str(o.verdict), 0) + 1
        queries = analyzer.queries
        await analyzer.aclose()
        await caches.stop()
    await api.close()
    await harness.__aexit__(None, None, None)
    warm = sorted(times[1:])
    return {
        "metrics per tick": len(outcomes),
        "ticks measured": ticks,
        "tick p50 ms": statistics.median(warm) * 1000,
        "tick p90 ms": warm[int(len(warm) * 0.9) - 1] * 1000,
        "tick max ms": warm[-1] * 1000,
        "first (cold) tick ms": times[0] * 1000,
        "queries per tick": queries / (ticks + 1),
        "verdicts": ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())),
        "prometheus start (backfill + ready) s": prom_start,
    }


def judge_rates(runs: int) -> dict[str, Any]:
    mw = mann_whitney_rates(DEFAULT_MANN_WHITNEY, runs=runs)
    mw_edge = mann_whitney_rates(
        DEFAULT_MANN_WHITNEY, runs=runs, healthy_factor=1 + DEFAULT_MANN_WHITNEY.tolerance
    )
    tp = two_proportion_rates(DEFAULT_TWO_PROPORTION, runs=runs)
    return {
        "mann-whitney FP (same distribution, n=50/side)": mw.false_positive,
        "mann-whitney FP (canary +10%, the tolerance edge)": mw_edge.false_positive,
        "mann-whitney FN (canary +50% median)": mw.false_negative,
        "two-proportion FP (1% vs 1%, 2000 requests/side)": tp.false_positive,
        "two-proportion FN (5% vs 1%)": tp.false_negative,
        "runs per rate": runs,
    }


def write_results(command: str, figures: dict[str, Any]) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    lines = [
        "",
        f"## analysis — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}` ({os.cpu_count()} cores; Prometheus {prometheus_version()})",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for key, value in figures.items():
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    lines += [
        "",
        "- one tick = `MetricAnalyzer.run` with 10 metrics (2 builtins, 6 threshold templates, "
        "2 Mann-Whitney judged templates, each judge asking for canary and primary samples "
        "with a range query), checks concurrent, one shared HTTP connection pool;",
        "- judge rates: `ensign.judge.calibration` at the defaults (confidence 0.95, tolerance "
        "10%, min samples 20 / 100), log-normal latencies and binomial errors, seed 1.",
    ]
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def prometheus_version() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["prometheus", "--version"], capture_output=True, text=True, check=False
        )
        return (out.stdout or out.stderr).split()[2]
    except (OSError, IndexError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1000, help="Synthetic analyses per rate")
    parser.add_argument("--no-write", action="store_true", help="Do not append to RESULTS.md")
    args = parser.parse_args()
    figures = asyncio.run(tick_times(args.ticks))
    figures.update(judge_rates(args.runs))
    for key, value in figures.items():
        print(f"{key:55} {value:,.3f}" if isinstance(value, float) else f"{key:55} {value}")
    if not args.no_write:
        write_results("python " + " ".join(["bench/analysis.py", *sys.argv[1:]]), figures)


if __name__ == "__main__":
    main()
