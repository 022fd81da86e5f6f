"""Idle canaries cost nothing: ticks are served from the watch caches."""

from __future__ import annotations

import asyncio

from ensign.testing import manifests as m
from ensign.testing.harness import Harness


async def test_idle_ticks_make_no_api_requests() -> None:
    async with Harness(min_interval=0.1) as h:
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
        await asyncio.sleep(3.2)  # three analysis intervals
        assert h.controller.reconciler.ticks >= ticks_before + 3  # it kept ticking ...
        assert h.api.requests == before  # ... without a single API request
        assert h.canary("test", "podinfo")["metadata"]["resourceVersion"] == rv_before
