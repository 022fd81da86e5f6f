"""`/metrics`, `/healthz` and `/readyz` of a running controller on the local cluster.

The seed scenario (blue/green with a confirm-promotion gate) runs against a controller that
serves HTTP on a free port; the scrapes check Flagger's series, Ensign's own, and that a
deleted canary's series go away.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ensign.kube.client import LightkubeApi
from ensign.runtime.app import Controller, Settings
from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness

NS, NAME = "test", "podinfo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServingHarness(Harness):
    """The Harness, with a controller that serves /metrics, /healthz and /readyz."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    async def start(self) -> Controller:
        self.api = LightkubeApi.from_dict(self.cluster.kubeconfig())
        self.controller = Controller(self.api, settings(self.port, self.min_interval))
        await self.controller.start()
        return self.controller


def settings(port: int, min_interval: float = 0.1) -> Settings:
    return Settings(
        serve_http=True,
        metrics_addr=f"127.0.0.1:{port}",
        min_interval=min_interval,
        watch_timeout=60,
        leader_election=False,
    )


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(base: str) -> Samples:
    async with httpx2.AsyncClient() as client:
        response = await client.get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def get(samples: Samples, metric: str, /, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


async def scrape_until(base: str, check: Any, what: str, timeout: float = 10.0) -> Samples:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        samples = await scrape(base)
        if check(samples):
            return samples
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def gate() -> AsyncIterator[GateServer]:
    server = await GateServer().start()
    yield server
    await server.stop()


async def test_seed_scenario_metrics(gate: GateServer) -> None:
    gate.close("promote")
    async with ServingHarness() as h:
        await h.apply(
            m.namespace(NS),
            m.deployment(),
            m.canary(webhooks=[m.hook("gate", "confirm-promotion", gate.url("promote"))]),
        )
        await h.wait_phase(NS, NAME, "Initialized")
        s = await scrape_until(
            h.base,
            lambda s: get(s, "flagger_canary_status", name=NAME, namespace=NS) == 1,
            "status 1 after initialisation",
        )
        assert get(s, "flagger_info", version="0.1.0", mesh_provider="kubernetes") == 1
        assert get(s, "flagger_canary_total", namespace=NS) == 1
        assert get(s, "flagger_canary_weight", workload="podinfo-primary", namespace=NS) == 100
        assert get(s, "flagger_canary_weight", workload="podinfo", namespace=NS) == 0
        assert get(s, "ensign_detection_latency_seconds_count") == 0

        h.set_image(NS, NAME, "ghcr.io/stefanprodan/podinfo:6.8.0")
        await h.wait_phase(NS, NAME, "WaitingPromotion")
        s = await scrape(h.base)
        assert get(s, "ensign_detection_latency_seconds_count") == 1
        assert (get(s, "ensign_detection_latency_seconds_sum") or 0) < 5
        assert (get(s, "flagger_canary_duration_seconds_count", name=NAME, namespace=NS) or 0) >= 1
        assert get(s, "flagger_canary_status", name=NAME, namespace=NS) == 1  # Flagger: 1

        gate.open("promote")
        await h.wait_phase(NS, NAME, "Succeeded")
        s = await scrape_until(
            h.base,
            lambda s: (
                get(
                    s,
                    "flagger_canary_successes_total",
                    name=NAME,
                    namespace=NS,
                    deployment_strategy="blue-green",
                    analysis_status="completed",
                )
                == 1
            ),
            "one success",
        )
        assert get(s, "flagger_canary_status", name=NAME, namespace=NS) == 1
        assert "flagger_canary_failures_total" not in names(s)
        verbs = {dict(labels)["verb"] for name, labels in s if name == "ensign_api_requests_total"}
        assert {"list", "watch", "create", "patch"} <= verbs  # reads come from the caches
        assert verbs <= {"get", "list", "watch", "create", "update", "patch", "delete"}
        assert (get(s, "ensign_api_requests_total", verb="create") or 0) > 0
        for kind in ("Canary", "Deployment", "Service"):
            assert get(s, "ensign_watch_relists_total", kind=kind) == 1, kind
            assert get(s, "ensign_watch_restarts_total", kind=kind) is not None, kind
        assert (get(s, "ensign_tick_duration_seconds_count", outcome="analysed") or 0) >= 1
        assert get(s, "ensign_workqueue_depth", state="queued") is not None
        assert not any(name.endswith("_created") for name in names(s))

        canaries = h.type("flagger.app", "v1beta1", "canaries")
        h.cluster.store.delete(canaries, NS, NAME)
        s = await scrape_until(
            h.base,
            lambda s: get(s, "flagger_canary_status", name=NAME, namespace=NS) is None,
            "the deleted canary's series to go",
        )
        per_canary = [
            (name, labels)
            for name, labels in s
            if name.startswith("flagger_canary_") and not name.startswith("flagger_canary_total")
        ]
        assert per_canary == []
        assert get(s, "flagger_canary_total", namespace=NS) == 0


class SlowLists:
    """A KubeApi whose lists wait for `release`: the caches cannot sync before."""

    def __init__(self, api: LightkubeApi) -> None:
        self.api = api
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    async def list(self, *args: Any, **kwargs: Any) -> Any:
        await self.release.wait()
        return await self.api.list(*args, **kwargs)


async def test_readyz_is_503_until_the_caches_have_synced() -> None:
    async with Harness(start_controller=False) as h:
        api = LightkubeApi.from_dict(h.cluster.kubeconfig())
        slow = SlowLists(api)
        port = free_port()
        controller = Controller(slow, settings(port))  # type: ignore[arg-type]
        base = f"http://127.0.0.1:{port}"
        try:
            # What start() does, with the HTTP server up while the caches are still listing.
            await controller._serve()
            controller.caches.start()
            async with httpx2.AsyncClient() as client:
                assert (await client.get(f"{base}/healthz")).status_code == 200
                not_ready = await client.get(f"{base}/readyz")
                assert not_ready.status_code == 503
                assert not_ready.text == "caches not synced"
                assert (await client.get(f"{base}/metrics")).status_code == 200
                slow.release.set()
                await asyncio.wait_for(controller.caches.wait_synced(), 10)
                ready = await client.get(f"{base}/readyz")
                assert ready.status_code == 200
        finally:
            await controller.stop()
            await api.close()
