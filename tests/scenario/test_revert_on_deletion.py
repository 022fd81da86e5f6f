"""revertOnDeletion: Flagger's finalizer gives the workload back before the Canary goes."""

from __future__ import annotations

from ensign.testing import manifests as m
from ensign.testing.harness import Harness


async def test_deleting_a_canary_gives_the_target_its_replicas_back() -> None:
    async with Harness() as h:
        canary = m.canary()
        canary["spec"]["revertOnDeletion"] = True
        await h.apply(m.namespace("test"), m.deployment(replicas=3), canary)
        await h.wait_phase("test", "podinfo", "Initialized")
        await h.wait_for(
            lambda: (
                "finalizer.flagger.app"
                in (h.canary("test", "podinfo")["metadata"].get("finalizers") or [])
            ),
            what="finalizer added",
        )
        assert h.get("Deployment", "test", "podinfo")["spec"]["replicas"] == 0  # type: ignore[index]

        canary_type = h.type("flagger.app", "v1beta1", "canaries")
        h.cluster.store.delete(canary_type, "test", "podinfo")
        await h.wait_for(lambda: h.get("Canary", "test", "podinfo") is None, what="canary gone")
        target = h.get("Deployment", "test", "podinfo")
        assert target is not None
        assert target["spec"]["replicas"] == 3  # the primary's replicas
        assert (target.get("status") or {}).get("readyReplicas") == 3
        messages = h.events("test")
        assert "Terminating canary podinfo.test" in messages
        assert "Terminated canary podinfo.test" in messages


async def test_turning_revert_off_removes_the_finalizer() -> None:
    async with Harness() as h:
        canary = m.canary()
        canary["spec"]["revertOnDeletion"] = True
        await h.apply(m.namespace("test"), m.deployment(), canary)
        await h.wait_for(
            lambda: bool(h.canary("test", "podinfo")["metadata"].get("finalizers")),
            what="finalizer added",
        )

        def off(obj: dict) -> dict:  # type: ignore[type-arg]
            new = dict(obj)
            new["spec"] = dict(obj["spec"], revertOnDeletion=False)
            return new

        h.patch("Canary", "test", "podinfo", off)
        await h.wait_for(
            lambda: not h.canary("test", "podinfo")["metadata"].get("finalizers"),
            what="finalizer removed",
        )
