"""Failures end to end: a failing rollout hook, a broken image, a rollback hook, and the
idle Failed state afterwards. The primary must never be touched by a rollback (§2.14.2)."""

from __future__ import annotations

import asyncio

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from ensign.workloads.revision import webhook_checksum
from tests.scenario.support import (
    NAME,
    NEW_IMAGE,
    NS,
    OLD_IMAGE,
    READY_AFTER,
    condition,
    fingerprint,
    image,
    new_version,
    occurrences,
    phases,
    ready_conditions,
    replica_history,
    replicas,
    status,
    statuses,
    warnings,
)

THRESHOLD_EVENT = "Rolling back podinfo.test failed checks threshold reached {}"
FAILED_EVENT = "Canary failed! Scaling down podinfo.test"


async def test_failing_rollout_hook_rolls_back_after_threshold(gate: GateServer) -> None:
    gate.close("check")
    hooks = [
        m.hook("check", "rollout", gate.url("check")),
        m.hook("post", "post-rollout", gate.url("post"), metadata={"team": "web"}),
    ]
    async with Harness() as h:
        await h.apply(
            m.namespace(NS), m.deployment(), m.canary(iterations=2, threshold=2, webhooks=hooks)
        )
        await h.wait_phase(NS, NAME, "Initialized")
        before = fingerprint(h)

        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Failed", timeout=20)
        await h.wait_for(lambda: replicas(h, NAME) == 0, what="target scaled to zero")

        # The target was scaled up for the run, then back to zero; the primary never moved.
        assert replica_history(h, NAME) == [2, 0, 2, 0]
        assert fingerprint(h) == before
        assert image(h, f"{NAME}-primary") == OLD_IMAGE
        assert image(h, NAME) == NEW_IMAGE

        # Exactly `threshold` failed checks, then the rollback on the next analysis tick.
        assert [s.get("failedChecks") for s in statuses(h) if s.get("failedChecks")] == [1, 2]
        assert phases(h) == ["Initializing", "Initialized", "Progressing", "Failed"]
        halt = (
            f"Halt podinfo.test advancement external check check failed "
            f"HTTP 500 from {gate.url('check')} (attempt 1): gate closed"
        )
        assert occurrences(h, halt) == {"Warning": 2}
        assert [c.body["phase"] for c in gate.calls_to("check")] == ["Progressing"] * 2
        tail = warnings(h)[-2:]
        assert tail == [THRESHOLD_EVENT.format(2), FAILED_EVENT]

        # The status said why while rolling back (the condition written by the rollback).
        assert {
            "status": "False",
            "reason": "Failed",
            "message": "rolled back: failed checks threshold reached 2",
        } in ready_conditions(h)
        promoted = condition(h, "Promoted")
        assert (promoted["status"], promoted["reason"]) == ("False", "Failed")
        assert promoted["message"] == "Canary analysis failed, Deployment scaled to zero."
        final = status(h)
        assert (final["failedChecks"], final["iterations"], final["canaryWeight"]) == (0, 0, 0)
        assert final["lastPromotedSpec"] != final["lastAppliedSpec"]

        # post-rollout hook, once, phase Failed, Flagger's payload (§4.2).
        await h.wait_for(lambda: len(gate.calls_to("post")) == 1, what="post-rollout call")
        assert gate.calls_to("post")[0].body == {
            "name": NAME,
            "namespace": NS,
            "phase": "Failed",
            "checksum": webhook_checksum(
                tracked_configs=final["trackedConfigs"], last_applied=final["lastAppliedSpec"]
            ),
            "metadata": {"team": "web"},
        }
        assert "Post-rollout check post passed" in h.events(NS)


async def test_ready_condition_keeps_saying_why_after_rollback(gate: GateServer) -> None:
    gate.close("check")
    hooks = [m.hook("check", "rollout", gate.url("check"))]
    async with Harness() as h:
        await h.apply(
            m.namespace(NS), m.deployment(), m.canary(iterations=1, threshold=1, webhooks=hooks)
        )
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Failed", timeout=20)
        await h.wait_for(lambda: replicas(h, NAME) == 0, what="target scaled to zero")
        await asyncio.sleep(1.2)  # let the idle Failed ticks run

        ready = condition(h)
        assert ready["status"] == "False"
        assert "failed checks threshold reached 1" in ready["message"]


async def test_new_version_never_ready_rolls_back_at_progress_deadline() -> None:
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(iterations=1, progress_deadline=2))
        await h.wait_phase(NS, NAME, "Initialized")
        before = fingerprint(h)

        new_version(h, NEW_IMAGE, annotations={READY_AFTER: "never"})
        await h.wait_phase(NS, NAME, "Failed", timeout=20)
        await h.wait_for(lambda: replicas(h, NAME) == 0, what="target scaled to zero")

        assert fingerprint(h) == before
        assert image(h, f"{NAME}-primary") == OLD_IMAGE
        assert replica_history(h, NAME) == [2, 0, 2, 0]
        assert phases(h) == ["Initializing", "Initialized", "Progressing", "Failed"]
        # No analysis ran: the canary never became ready.
        assert "Starting canary analysis for podinfo.test" not in h.events(NS)
        assert FAILED_EVENT in warnings(h)
        failed = [c for c in ready_conditions(h) if c["reason"] == "Failed"]
        assert len(failed) == 1
        assert failed[0]["status"] == "False"
        message = failed[0]["message"]
        assert message.startswith("rolled back: "), message
        assert "progress deadline" in message, message
        assert "canary deployment podinfo.test not ready: " in message, message


async def test_rollback_webhook_answering_200_rolls_back(gate: GateServer) -> None:
    gate.close("rollback")
    hooks = [m.hook("manual", "rollback", gate.url("rollback"))]
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(iterations=5, webhooks=hooks))
        await h.wait_phase(NS, NAME, "Initialized")
        before = fingerprint(h)

        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_for(
            lambda: status(h).get("iterations", 0) >= 1, what="first iteration of the run"
        )
        assert h.phase(NS, NAME) == "Progressing"
        asked = len(gate.calls_to("rollback"))
        assert asked >= 1
        gate.open("rollback")
        await h.wait_phase(NS, NAME, "Failed", timeout=10)
        await h.wait_for(lambda: replicas(h, NAME) == 0, what="target scaled to zero")

        assert fingerprint(h) == before
        assert image(h, f"{NAME}-primary") == OLD_IMAGE
        assert len(gate.calls_to("rollback")) == asked + 1
        assert {c.body["phase"] for c in gate.calls_to("rollback")} == {"Progressing"}
        assert warnings(h)[-3:] == [
            "Rollback check manual passed",
            "Rolling back podinfo.test manual webhook invoked",
            FAILED_EVENT,
        ]
        assert not any(w.startswith("Rolling back podinfo.test failed checks") for w in warnings(h))
        assert {
            "status": "False",
            "reason": "Failed",
            "message": "rolled back: rollback webhook manual signalled a rollback",
        } in ready_conditions(h)
        assert phases(h) == ["Initializing", "Initialized", "Progressing", "Failed"]


async def test_second_rollback_webhook_can_signal_a_rollback(gate: GateServer) -> None:
    gate.close("first")
    gate.close("second")
    hooks = [
        m.hook("first", "rollback", gate.url("first")),
        m.hook("second", "rollback", gate.url("second")),
    ]
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(iterations=5, webhooks=hooks))
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_for(
            lambda: status(h).get("iterations", 0) >= 1, what="first iteration of the run"
        )
        # Both hooks are asked on every analysis tick while neither signals.
        assert len(gate.calls_to("first")) == len(gate.calls_to("second")) >= 1
        gate.open("second")
        await h.wait_phase(NS, NAME, "Failed", timeout=2.5)
        assert warnings(h)[-3:] == [
            "Rollback check second passed",
            "Rolling back podinfo.test manual webhook invoked",
            FAILED_EVENT,
        ]
        assert len(gate.calls_to("first")) == len(gate.calls_to("second"))


async def test_rollback_webhook_not_signalling_is_asked_quietly(gate: GateServer) -> None:
    # Deliberate difference (docs/compatibility.md): Flagger records "Rollback hook <hook> not
    # signaling a rollback" on every tick; Ensign asks the hook every tick and stays quiet.
    gate.close("manual")
    hooks = [m.hook("manual", "rollback", gate.url("manual"))]
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(iterations=5, webhooks=hooks))
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_for(
            lambda: status(h).get("iterations", 0) >= 1, what="first iteration of the run"
        )
        assert len(gate.calls_to("manual")) >= 1
        assert not occurrences(h, "Rollback hook manual not signaling a rollback")
        assert status(h)["phase"] == "Progressing"


async def test_reverting_target_after_failure_starts_nothing(gate: GateServer) -> None:
    gate.close("check")
    hooks = [
        m.hook("confirm", "confirm-rollout", gate.url("confirm")),
        m.hook("check", "rollout", gate.url("check")),
    ]
    async with Harness() as h:
        await h.apply(
            m.namespace(NS), m.deployment(), m.canary(iterations=1, threshold=1, webhooks=hooks)
        )
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Failed", timeout=20)
        await h.wait_for(lambda: replicas(h, NAME) == 0, what="target scaled to zero")
        failed = status(h)
        confirms = len(gate.calls_to("confirm"))
        assert confirms == 1

        h.set_image(NS, NAME, OLD_IMAGE)  # back to what the primary runs
        await asyncio.sleep(1.2)  # proving that no run starts

        assert h.phase(NS, NAME) == "Failed"
        assert phases(h) == ["Initializing", "Initialized", "Progressing", "Failed"]
        assert replicas(h, NAME) == 0
        assert replica_history(h, NAME) == [2, 0, 2, 0]
        assert len(gate.calls_to("confirm")) == confirms
        assert h.events(NS).count("New revision detected! Scaling up podinfo.test") == 1
        assert status(h)["lastPromotedSpec"] == failed["lastPromotedSpec"]
        assert image(h, f"{NAME}-primary") == OLD_IMAGE
