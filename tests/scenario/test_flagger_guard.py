"""Ensign refuses to act while a Flagger controller looks active (runtime/coexistence.py).

A fake Flagger Deployment with ready replicas (the local cluster's simulator makes it ready)
makes the real controller refuse: no write but its Events (one Warning `FlaggerActive` per
Canary), `/readyz` 503 with the reason, one WARNING log line. Scaling Flagger to 0 lets it
proceed without a restart; `--allow-flagger` proceeds at once. A Canary whose status Flagger
(field manager `flagger`) wrote recently makes it refuse too, until the write ages out.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from ensign.kube import client, kinds
from ensign.kube.client import LightkubeApi
from ensign.runtime.app import Controller, Settings
from ensign.runtime.coexistence import EVENT_REASON, recent_status_writes
from ensign.testing import manifests as m
from ensign.testing.harness import Harness
from tests.leader._support import Replica
from tests.metrics.test_metrics_endpoint import free_port
from tests.scenario.support import NS

FLAGGER_NS = "flagger-system"
REFUSING = "not acting on any Canary"
READS = frozenset({"get", "list", "watch"})


class GuardedHarness(Harness):
    """The Harness, with a controller serving /readyz and the given guard settings."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(start_controller=False)
        self.extra = settings
        self.base = ""

    async def start(self) -> Controller:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.api = LightkubeApi.from_dict(self.cluster.kubeconfig())
        self.controller = Controller(
            self.api,
            Settings(
                metrics_addr=f"127.0.0.1:{port}",
                min_interval=self.min_interval,
                watch_timeout=60,
                leader_election=False,
                **self.extra,
            ),
        )
        await self.controller.start()
        return self.controller

    async def readyz(self) -> tuple[int, str]:
        async with httpx2.AsyncClient() as client:
            response = await client.get(f"{self.base}/readyz")
        return response.status_code, response.text


def guard_events(h: Harness) -> dict[str, int]:
    """FlaggerActive Events per Canary name."""
    items, _, _ = h.cluster.store.list(h.type("", "v1", "events"), NS)
    out: dict[str, int] = {}
    for e in items:
        if e.get("reason") == EVENT_REASON:
            name = str(e["involvedObject"]["name"])
            out[name] = out.get(name, 0) + int(e.get("count") or 1)
    return out


def flagger(replicas: int = 1) -> dict[str, Any]:
    """Flagger as its kustomize base installs it (label `app: flagger`)."""
    return m.deployment(
        "flagger", FLAGGER_NS, image="ghcr.io/fluxcd/flagger:1.44.0", replicas=replicas
    )


def ready(h: Harness, name: str, namespace: str) -> Callable[[], bool]:
    def check() -> bool:
        obj = h.get("Deployment", namespace, name) or {}
        return int((obj.get("status") or {}).get("readyReplicas") or 0) > 0

    return check


def scale(h: Harness, namespace: str, name: str, replicas: int) -> None:
    def change(obj: dict[str, Any]) -> dict[str, Any]:
        new = copy.deepcopy(obj)
        new["spec"]["replicas"] = replicas
        return new

    h.patch("Deployment", namespace, name, change)


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and REFUSING in r.getMessage()
    ]


async def test_a_ready_flagger_refuses_until_scaled_to_zero(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ensign.runtime.coexistence")
    async with GuardedHarness() as h:
        await h.apply(m.namespace(NS), m.namespace(FLAGGER_NS), flagger())
        await h.apply(m.deployment(), m.canary())
        await h.wait_for(ready(h, "flagger", FLAGGER_NS), what="flagger ready")
        controller = await h.start()
        assert h.api is not None

        await h.wait_for(lambda: guard_events(h) == {"podinfo": 1}, what="the Event")
        # a canary created while refusing is told too, once
        await h.apply(m.deployment("other"), m.canary("other"))
        await h.wait_for(lambda: len(guard_events(h)) == 2, what="the second Event")
        status, text = await h.readyz()
        assert status == 503
        assert text == (
            "not acting: Flagger looks active: "
            "Deployment flagger-system/flagger has 1 ready replica"
        )
        await asyncio.sleep(0.5)  # time enough for a tick, had the scheduler started
        writes = {verb: n for verb, n in h.api.requests.items() if verb not in READS}
        assert writes == {"create": 2}  # the two Events, nothing else
        assert guard_events(h) == {"podinfo": 1, "other": 1}
        assert h.get("Deployment", NS, "podinfo-primary") is None
        assert h.get("Service", NS, "podinfo") is None
        assert not h.canary(NS, "podinfo").get("status")
        assert len(refusals(caplog)) == 1
        assert "Deployment flagger-system/flagger has 1 ready replica" in refusals(caplog)[0]

        # Flagger scaled to 0: Ensign proceeds on its own, no restart
        started = time.monotonic()
        scale(h, FLAGGER_NS, "flagger", 0)
        await h.wait_for(lambda: controller.guard.reason is None, what="the guard clears")
        took = time.monotonic() - started
        await h.wait_phase(NS, "podinfo", "Initialized")
        await h.wait_phase(NS, "other", "Initialized")
        print(f"\nscaled to 0 → acting in {took * 1000:.0f} ms")
        assert took < 2.0
        assert (await h.readyz())[0] == 200
        assert guard_events(h) == {"podinfo": 1, "other": 1}
        assert len(refusals(caplog)) == 1


async def test_allow_flagger_acts_at_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ensign.runtime.coexistence")
    async with GuardedHarness(allow_flagger=True) as h:
        await h.apply(m.namespace(NS), m.namespace(FLAGGER_NS), flagger())
        await h.apply(m.deployment(), m.canary())
        await h.wait_for(ready(h, "flagger", FLAGGER_NS), what="flagger ready")
        await h.start()
        await h.wait_phase(NS, "podinfo", "Initialized")
        assert guard_events(h) == {}
        assert (await h.readyz())[0] == 200
        assert refusals(caplog) == []
        assert any("--allow-flagger" in r.getMessage() for r in caplog.records)


async def test_a_recent_status_write_by_flagger_refuses_until_it_ages_out() -> None:
    async with GuardedHarness() as h:
        # interval 1s: the window is 2 x 10 s (Flagger's floor); the write is made 18 s ago
        await h.apply(m.namespace(NS), m.deployment(), m.canary(interval="1s"))
        store = h.cluster.store
        clock = store.clock
        store.clock = lambda: datetime.now(UTC) - timedelta(seconds=18)
        try:
            h.cluster.store.patch(
                h.type("flagger.app", "v1beta1", "canaries"),
                NS,
                "podinfo",
                lambda obj: {**obj, "status": {"phase": "Progressing", "iterations": 1}},
                subresource="status",
                manager="flagger",
            )
        finally:
            store.clock = clock
        controller = await h.start()
        assert controller.guard.reason is not None
        assert "Canary test/podinfo status written by flagger" in controller.guard.reason
        await h.wait_for(lambda: guard_events(h) == {"podinfo": 1}, what="the Event")
        status, text = await h.readyz()
        assert status == 503 and "status written by flagger" in text
        assert h.get("Deployment", NS, "podinfo-primary") is None
        # the write ages out (within ~3 s): Ensign proceeds on its own
        await h.wait_for(lambda: controller.guard.reason is None, timeout=5, what="age out")
        await h.wait_for(
            lambda: h.get("Deployment", NS, "podinfo-primary") is not None, what="the primary"
        )
        assert guard_events(h) == {"podinfo": 1}


async def test_only_the_leader_checks_and_refuses() -> None:
    async with Harness(start_controller=False) as h:
        await h.apply(m.namespace(NS), m.namespace(FLAGGER_NS), flagger())
        await h.apply(m.deployment(), m.canary())
        await h.wait_for(ready(h, "flagger", FLAGGER_NS), what="flagger ready")
        a = await Replica(h, "a_1").start()
        b = await Replica(h, "b_2").start()
        try:
            assert a.leading and not b.leading
            assert a.controller.guard.reason is not None
            assert b.controller.guard.reason is None  # a standby does not act, nor check
            await h.wait_for(lambda: guard_events(h) == {"podinfo": 1}, what="the Event")
            assert {w.kind for w in a.wire.writes()} == {"Event"}
            scale(h, FLAGGER_NS, "flagger", 0)
            await h.wait_phase(NS, "podinfo", "Initialized")
            assert b.wire.writes(leases=True) == []
            assert guard_events(h) == {"podinfo": 1}
        finally:
            await b.stop()
            await a.stop()


async def test_managed_fields_are_listed_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "LIST_PAGE", 2)
    async with Harness(start_controller=False) as h:
        await h.apply(m.namespace(NS), *(m.canary(f"c{i}") for i in range(5)))
        for i in (1, 4):
            h.cluster.store.patch(
                h.type("flagger.app", "v1beta1", "canaries"),
                NS,
                f"c{i}",
                lambda obj: {**obj, "status": {"phase": "Progressing"}},
                subresource="status",
                manager="flagger",
            )
        api = LightkubeApi.from_dict(h.cluster.kubeconfig())
        try:
            pages = [p async for p in api.list_with_managed_fields(kinds.CANARY, namespace=NS)]
            assert [len(p) for p in pages] == [2, 2, 1]
            assert api.requests == {"list": 3}
            writes = recent_status_writes([c for p in pages for c in p], datetime.now(UTC))
            assert sorted(w.name for w in writes) == ["c1", "c4"]
            plain, _ = await api.list(kinds.CANARY, namespace=NS)  # the caches' list: none
            assert all("managedFields" not in c["metadata"] for c in plain)
        finally:
            await api.close()
