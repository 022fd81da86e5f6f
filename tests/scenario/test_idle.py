"""Idle canaries cost nothing: ticks are served from the watch caches."""

from __future__ import annotations

import asyncio

from ensign.testing import manifests as m
from ensign.testing.harness import Harness


async def test_idle_ticks_make_no_api_requests() -> None:
    # A 1 s idle resync instead of the default 300 s, so the idle ticks happen in the test.
    async with Harness(min_interval=0.1, idle_resync=1.0) as h:
        canary = m.canary(interval="1s", iterations=1)
        canary["spec"]["analysis"]["interval"] = "1s"
        await h.apply(m.namespace("test"), m.deployment(), canary)
        await h.wait_phase("test", "podinfo", "Initialized")
        h.set_image("test", "podinfo", "ghcr.io/stefanprodan/podinfo:6.8.0")
        await h.wait_phase("test", "podinfo", "Succeeded")
        await asyncio.sleep(0.5)  # let the last writes' watch events settle
        assert h.api is not None and h.controller is not None
        before = dict(h.api.requests)
        ticks_before = h.controller.reconciler.ticks
        rv_before = h.canary("test", "podinfo")["metadata"]["resourceVersion"]
        await asyncio.sleep(3.2)  # three resync periods
        assert h.controller.reconciler.ticks >= ticks_before + 3  # it kept ticking ...
        assert h.api.requests == before  # ... without a single API request
        assert h.canary("test", "podinfo")["metadata"]["resourceVersion"] == rv_before


async def test_idle_canaries_are_not_ticked_on_a_timer() -> None:
    async with Harness(min_interval=0.1) as h:  # default idle resync: 300 s
        await h.apply(m.namespace("test"), m.deployment(), m.canary(interval="1s"))
        await h.wait_phase("test", "podinfo", "Initialized")
        await asyncio.sleep(0.5)
        assert h.controller is not None
        ticks = h.controller.reconciler.ticks
        await asyncio.sleep(2.5)  # two and a half analysis intervals
        assert h.controller.reconciler.ticks == ticks  # nothing to analyse: no ticks
        h.set_image("test", "podinfo", "ghcr.io/stefanprodan/podinfo:6.8.0")
        await h.wait_phase("test", "podinfo", "Progressing", timeout=2)  # a watch woke it
