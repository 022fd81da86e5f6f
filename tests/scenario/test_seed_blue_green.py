"""The seed scenario: blue/green on a Deployment with the kubernetes router and a gate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness


@pytest.fixture
async def gate() -> AsyncIterator[GateServer]:
    server = await GateServer().start()
    yield server
    await server.stop()


async def test_initialise_gate_and_promote(gate: GateServer) -> None:
    gate.close("promote")
    async with Harness() as h:
        await h.apply(
            m.namespace("test"),
            m.deployment(),
            m.canary(webhooks=[m.hook("gate", "confirm-promotion", gate.url("promote"))]),
        )
        await h.wait_phase("test", "podinfo", "Initialized")
        primary = h.get("Deployment", "test", "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
        assert h.get("Deployment", "test", "podinfo")["spec"]["replicas"] == 0  # type: ignore[index]
        apex = h.get("Service", "test", "podinfo")
        assert apex is not None and apex["spec"]["selector"] == {"app": "podinfo-primary"}
        assert h.get("Service", "test", "podinfo-canary")["spec"]["selector"] == {"app": "podinfo"}  # type: ignore[index]

        h.set_image("test", "podinfo", "ghcr.io/stefanprodan/podinfo:6.8.0")
        await h.wait_phase("test", "podinfo", "WaitingPromotion")
        primary = h.get("Deployment", "test", "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith("6.7.0")
        condition = next(
            c for c in h.canary("test", "podinfo")["status"]["conditions"] if c["type"] == "Ready"
        )
        assert "confirm-promotion gate" in condition["message"]
        assert "HTTP 500" in condition["message"]

        gate.open("promote")
        await h.wait_phase("test", "podinfo", "Succeeded")
        primary = h.get("Deployment", "test", "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith("6.8.0")
        assert h.get("Deployment", "test", "podinfo")["spec"]["replicas"] == 0  # type: ignore[index]
        messages = h.events("test")
        assert "Initialization done! podinfo.test" in messages
        assert "New revision detected! Scaling up podinfo.test" in messages
        assert "Promotion completed! Scaling down podinfo.test" in messages
