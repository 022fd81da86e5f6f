"""Targets beyond the plain Deployment: DaemonSets, HPA autoscalers, and event webhooks."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness


@pytest.fixture
async def gate() -> AsyncIterator[GateServer]:
    server = await GateServer().start()
    yield server
    await server.stop()


def daemonset() -> dict[str, Any]:
    dep = m.deployment()
    spec = dep["spec"]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": dep["metadata"],
        "spec": {"selector": spec["selector"], "template": spec["template"]},
    }


async def test_daemonset_blue_green_runs_to_success() -> None:
    async with Harness() as h:
        canary = m.canary(iterations=1)
        canary["spec"]["targetRef"]["kind"] = "DaemonSet"
        ds_type = h.type("apps", "v1", "daemonsets")
        await h.apply(m.namespace("test"))
        h.cluster.store.create(ds_type, "test", daemonset())
        await h.apply(canary)
        await h.wait_phase("test", "podinfo", "Initialized")
        target = h.cluster.store.get(ds_type, "test", "podinfo")
        node_selector = target["spec"]["template"]["spec"]["nodeSelector"]
        assert node_selector == {"flagger.app/scale-to-zero": "true"}  # "scaled to zero"
        primary = h.cluster.store.get(ds_type, "test", "podinfo-primary")
        assert "nodeSelector" not in primary["spec"]["template"]["spec"] or (
            "flagger.app/scale-to-zero" not in primary["spec"]["template"]["spec"]["nodeSelector"]
        )

        def new_image(obj: dict[str, Any]) -> dict[str, Any]:
            out = copy.deepcopy(obj)
            out["spec"]["template"]["spec"]["containers"][0]["image"] = "podinfo:7"
            return out

        h.cluster.store.patch(ds_type, "test", "podinfo", new_image)
        await h.wait_phase("test", "podinfo", "Succeeded")
        primary = h.cluster.store.get(ds_type, "test", "podinfo-primary")
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "podinfo:7"
        target = h.cluster.store.get(ds_type, "test", "podinfo")
        assert target["spec"]["template"]["spec"]["nodeSelector"] == {
            "flagger.app/scale-to-zero": "true"
        }


async def test_hpa_gets_a_primary_copy() -> None:
    async with Harness() as h:
        canary = m.canary()
        canary["spec"]["autoscalerRef"] = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
            "primaryScalerReplicas": {"minReplicas": 3, "maxReplicas": 6},
        }
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "podinfo",
                },
                "minReplicas": 2,
                "maxReplicas": 4,
            },
        }
        hpa_type = h.type("autoscaling", "v2", "horizontalpodautoscalers")
        await h.apply(m.namespace("test"), m.deployment())
        h.cluster.store.create(hpa_type, "test", hpa)
        await h.apply(canary)
        await h.wait_phase("test", "podinfo", "Initialized")
        primary_hpa = h.cluster.store.get(hpa_type, "test", "podinfo-primary")
        assert primary_hpa["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
        assert (primary_hpa["spec"]["minReplicas"], primary_hpa["spec"]["maxReplicas"]) == (3, 6)
        owner = primary_hpa["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Canary", "podinfo", True)


async def test_event_webhook_receives_every_event(gate: GateServer) -> None:
    async with Harness() as h:
        canary = m.canary(webhooks=[m.hook("events", "event", gate.url("events"))])
        await h.apply(m.namespace("test"), m.deployment(), canary)
        await h.wait_phase("test", "podinfo", "Initialized")
        await h.wait_for(lambda: len(gate.calls_to("events")) >= 2, what="event webhook calls")
        messages = [c.body["metadata"]["eventMessage"] for c in gate.calls_to("events")]
        assert "Initialization done! podinfo.test" in messages
        first = gate.calls_to("events")[0].body
        assert first["name"] == "podinfo" and first["namespace"] == "test"
        assert first["metadata"]["eventType"] in ("Normal", "Warning")
        assert first["metadata"]["timestamp"].isdigit()
