"""Specs the model corrects or rejects, end to end: a canary spec on the kubernetes provider,
and an invalid Canary beside a valid one."""

from __future__ import annotations

from ensign.testing import manifests as m
from ensign.testing.harness import Harness
from tests.scenario.support import (
    NAME,
    NEW_IMAGE,
    NS,
    condition,
    image,
    occurrences,
    phases,
    replicas,
    status,
)


async def test_kubernetes_provider_runs_canary_spec_as_blue_green_with_10_iterations() -> None:
    # 10 iterations at a 250 ms interval: this run takes about 3 s.
    spec = m.with_analysis(m.canary(interval="250ms"), iterations=None, stepWeight=10, maxWeight=50)
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), spec)
        await h.wait_phase(NS, NAME, "Initialized")
        ignored = [
            "spec.analysis.stepWeight: ignored: the kubernetes provider only runs Blue/Green; "
            "running 10 iterations",
            "spec.analysis.maxWeight: ignored: the kubernetes provider only runs Blue/Green",
        ]
        for warning in ignored:
            assert occurrences(h, warning) == {"Warning": 1}

        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=25)

        assert image(h, f"{NAME}-primary") == NEW_IMAGE
        assert replicas(h, NAME) == 0
        messages = h.events(NS)
        iterations = [e for e in messages if e.startswith("Advance podinfo.test canary")]
        assert iterations == [f"Advance podinfo.test canary iteration {i}/10" for i in range(1, 11)]
        assert not any("canary weight" in e for e in messages)
        assert status(h)["canaryWeight"] == 0
        # The apex Service always selects the primary: the kubernetes provider never routes.
        apex = h.get("Service", NS, NAME)
        assert apex is not None and apex["spec"]["selector"] == {"app": "podinfo-primary"}
        assert phases(h)[-4:] == ["Progressing", "Promoting", "Finalising", "Succeeded"]
        for warning in ignored:  # warned once, at initialisation, not per run or tick
            assert occurrences(h, warning) == {"Warning": 1}


async def test_invalid_canary_reports_field_and_does_not_block_others() -> None:
    broken = m.with_analysis(m.canary(name="broken"), iterations=None, stepWeights=[20, 10])
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(name="broken"), broken)
        await h.wait_for(
            lambda: bool(status(h, "broken").get("conditions")), what="broken canary condition"
        )
        ready = condition(h, "Ready", "broken")
        assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
        assert ready["message"] == (
            "invalid spec: spec.analysis.stepWeights[1]: must be greater than the previous "
            "step (got 10 after 20)"
        )

        await h.apply(m.deployment(), m.canary(iterations=1))
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=10)
        assert image(h, f"{NAME}-primary") == NEW_IMAGE

        # The broken canary was never acted on: no primary, target untouched, no phase.
        assert h.get("Deployment", NS, "broken-primary") is None
        assert h.get("Service", NS, "broken") is None
        assert replicas(h, "broken") == 2
        assert status(h, "broken").get("phase", "") == ""
        assert condition(h, "Ready", "broken")["reason"] == "InvalidSpec"
