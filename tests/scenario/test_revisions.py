"""Revisions end to end: a change during the analysis, skipAnalysis, suspend, tracked
ConfigMaps (§2.6, §2.8.5, §2.15)."""

from __future__ import annotations

import asyncio
import hashlib
import json

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from tests.scenario.support import (
    NAME,
    NEW_IMAGE,
    NEWER_IMAGE,
    NS,
    OLD_IMAGE,
    condition,
    deployment,
    image,
    occurrences,
    phases,
    replica_history,
    replicas,
    set_spec,
    status,
    statuses,
)

SUSPENDED = "skipping canary run as object is suspended"


async def test_new_revision_during_analysis_restarts_it(gate: GateServer) -> None:
    hooks = [m.hook("pre", "pre-rollout", gate.url("pre"))]
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(iterations=2, webhooks=hooks))
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_for(lambda: status(h).get("iterations") == 1, what="iteration 1 of the run")
        first_run = status(h)
        assert first_run["phase"] == "Progressing"

        h.set_image(NS, NAME, NEWER_IMAGE)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=15)

        assert image(h, f"{NAME}-primary") == NEWER_IMAGE
        assert replicas(h, NAME) == 0
        messages = h.events(NS)
        restart = "New revision detected! Restarting analysis for podinfo.test"
        assert occurrences(h, restart) == {"Normal": 1}
        # The restart came after iteration 1 of the first run, and the analysis began again.
        assert messages.index("Advance podinfo.test canary iteration 1/2") < messages.index(restart)
        assert occurrences(h, "Starting canary analysis for podinfo.test") == {"Normal": 2}
        assert len(gate.calls_to("pre")) == 2
        # The target was not scaled down and up again, and confirm-rollout was not re-run.
        assert occurrences(h, "New revision detected! Scaling up podinfo.test") == {"Normal": 1}
        assert replica_history(h, NAME) == [2, 0, 2, 0]
        # The restart reset the counters and recorded the newest revision.
        after = [
            s
            for s in statuses(h)
            if s.get("phase") == "Progressing"
            and s.get("lastAppliedSpec") != first_run["lastAppliedSpec"]
        ]
        assert after, "no Progressing status for the newest revision"
        assert (after[0]["iterations"], after[0]["failedChecks"], after[0]["canaryWeight"]) == (
            0,
            0,
            0,
        )
        final = status(h)
        assert final["lastPromotedSpec"] == after[0]["lastAppliedSpec"]
        assert gate.calls_to("pre")[1].body["checksum"] != gate.calls_to("pre")[0].body["checksum"]
        assert phases(h) == [
            "Initializing",
            "Initialized",
            "Progressing",
            "Promoting",
            "Finalising",
            "Succeeded",
        ]


async def test_skip_analysis_promotes_without_running_hooks(gate: GateServer) -> None:
    types = ["confirm-rollout", "pre-rollout", "rollout", "confirm-promotion", "post-rollout"]
    hooks = [m.hook(t, t, gate.url(t)) for t in types]
    async with Harness() as h:
        await h.apply(
            m.namespace(NS),
            m.deployment(),
            m.canary(iterations=1, skip_analysis=True, webhooks=hooks),
        )
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=10)
        await h.wait_for(lambda: len(gate.calls_to("post-rollout")) == 1, what="post-rollout")

        assert image(h, f"{NAME}-primary") == NEW_IMAGE
        assert replicas(h, NAME) == 0
        # As Flagger (§4.4 skip-analysis): confirm-rollout still gates the run, no analysis
        # hooks run, post-rollout reports Succeeded.
        assert [(c.path, c.body["phase"]) for c in gate.calls] == [
            ("confirm-rollout", "Initialized"),
            ("post-rollout", "Succeeded"),
        ]
        flow = [
            "Confirm-rollout check confirm-rollout passed",
            "New revision detected! Scaling up podinfo.test",
            "Copying podinfo.test template spec to podinfo-primary.test",
            "Post-rollout check post-rollout passed",
            "Promotion completed! Canary analysis was skipped for podinfo.test",
        ]
        messages = h.events(NS)
        assert [e for e in messages if e in flow] == flow
        assert "Starting canary analysis for podinfo.test" not in messages
        assert not any(e.startswith("Advance podinfo.test") for e in messages)
        # skipAnalysis initialises in one tick, without waiting for the primary (§2.15.1).
        assert phases(h) == ["Initialized", "Progressing", "Succeeded"]
        final = status(h)
        assert final["lastPromotedSpec"] == final["lastAppliedSpec"]


async def test_suspended_canary_ignores_new_revision_until_resumed() -> None:
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(iterations=1))
        await h.wait_phase(NS, NAME, "Initialized")
        set_spec(h, suspend=True)
        await h.wait_for(lambda: SUSPENDED in h.events(NS), what="suspended event")
        before = status(h)

        h.set_image(NS, NAME, NEW_IMAGE)
        await asyncio.sleep(1.2)  # proving that the new image is not picked up

        assert h.phase(NS, NAME) == "Initialized"
        assert replicas(h, NAME) == 0
        assert replica_history(h, NAME) == [2, 0]
        assert image(h, f"{NAME}-primary") == OLD_IMAGE
        assert status(h)["lastAppliedSpec"] == before["lastAppliedSpec"]
        assert "New revision detected! Scaling up podinfo.test" not in h.events(NS)
        assert set(occurrences(h, SUSPENDED)) == {"Normal"}  # Flagger: a Normal event (§2.4)
        ready = condition(h)
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "False",
            "Suspended",
            SUSPENDED,
        )

        set_spec(h, suspend=False)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=10)
        assert image(h, f"{NAME}-primary") == NEW_IMAGE
        assert replicas(h, NAME) == 0
        assert phases(h) == [
            "Initializing",
            "Initialized",
            "Progressing",
            "Promoting",
            "Finalising",
            "Succeeded",
        ]


def data_checksum(data: dict[str, str]) -> str:
    """§2.8.5: first 8 bytes of SHA-256 over the JSON of `data`, as 16 hex characters."""
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).digest()[:8].hex()


async def test_tracked_configmap_change_starts_a_run() -> None:
    old, new = {"color": "blue"}, {"color": "green"}
    async with Harness() as h:
        await h.apply(
            m.namespace(NS),
            m.configmap("podinfo-config", data=old),
            m.deployment(env_from_configmap="podinfo-config"),
            m.canary(iterations=1),
        )
        await h.wait_phase(NS, NAME, "Initialized", timeout=5)

        copy = h.get("ConfigMap", NS, "podinfo-config-primary")
        assert copy is not None, "primary copy not created at initialisation"
        assert copy["data"] == old
        owners = copy["metadata"].get("ownerReferences") or []
        assert [(o["kind"], o["name"], o.get("controller")) for o in owners] == [
            ("Canary", NAME, True)
        ]
        container = deployment(h, f"{NAME}-primary")["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": "podinfo-config-primary"}}]
        target = deployment(h, NAME)["spec"]["template"]["spec"]["containers"][0]
        assert target["envFrom"] == [{"configMapRef": {"name": "podinfo-config"}}]
        assert status(h)["trackedConfigs"] == {"configmap/podinfo-config": data_checksum(old)}
        revision = status(h)["lastAppliedSpec"]

        def change(obj: dict[str, object]) -> dict[str, object]:
            return {**obj, "data": dict(new)}

        h.patch("ConfigMap", NS, "podinfo-config", change)
        await h.wait_phase(NS, NAME, "Progressing")
        # While the canary runs the new data, the primary keeps the old copy.
        assert h.get("ConfigMap", NS, "podinfo-config-primary")["data"] == old  # type: ignore[index]
        await h.wait_phase(NS, NAME, "Succeeded", timeout=10)

        assert h.get("ConfigMap", NS, "podinfo-config-primary")["data"] == new  # type: ignore[index]
        assert h.get("ConfigMap", NS, "podinfo-config")["data"] == new  # type: ignore[index]
        final = status(h)
        assert final["trackedConfigs"] == {"configmap/podinfo-config": data_checksum(new)}
        assert final["lastAppliedSpec"] == revision  # the pod template did not change
        assert image(h, f"{NAME}-primary") == OLD_IMAGE
        container = deployment(h, f"{NAME}-primary")["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": "podinfo-config-primary"}}]
        assert replica_history(h, NAME) == [2, 0, 2, 0]
        assert occurrences(h, "New revision detected! Scaling up podinfo.test") == {"Normal": 1}
