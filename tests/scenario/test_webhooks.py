"""Webhooks end to end over real HTTP: gates, payloads and the order of calls (§4)."""

from __future__ import annotations

import asyncio

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from ensign.workloads.revision import webhook_checksum
from tests.scenario.support import (
    NAME,
    NEW_IMAGE,
    NEWER_IMAGE,
    NS,
    OLD_IMAGE,
    condition,
    image,
    occurrences,
    phases,
    replica_history,
    replicas,
    status,
    statuses,
)


def checksum_of(s: dict[str, object]) -> str:
    return webhook_checksum(
        tracked_configs=s.get("trackedConfigs") or {},  # type: ignore[arg-type]
        last_applied=str(s.get("lastAppliedSpec") or ""),
    )


async def test_failing_pre_rollout_counts_failed_checks_then_run_succeeds(
    gate: GateServer,
) -> None:
    gate.fail_next("pre", 2)  # two failed checks, then the gate opens by itself
    hooks = [m.hook("pre", "pre-rollout", gate.url("pre"))]
    async with Harness() as h:
        await h.apply(
            m.namespace(NS), m.deployment(), m.canary(iterations=1, threshold=5, webhooks=hooks)
        )
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=15)

        progressing = [s for s in statuses(h) if s.get("phase") == "Progressing"]
        assert sorted({s["failedChecks"] for s in progressing}) == [0, 1, 2]
        # no iteration passes a failed pre-rollout: the first statuses at 1 and 2 failures
        first = {n: next(s for s in progressing if s["failedChecks"] == n) for n in (1, 2)}
        assert [first[1]["iterations"], first[2]["iterations"]] == [0, 0]
        halt = (
            f"Halt podinfo.test advancement pre-rollout check pre failed "
            f"HTTP 500 from {gate.url('pre')} (attempt 1): gate closed"
        )
        assert occurrences(h, halt) == {"Warning": 2}
        ready = next(c for c in first[2]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "CheckFailed")
        assert ready["message"] == f"{halt} (2/5)"

        assert image(h, f"{NAME}-primary") == NEW_IMAGE
        assert replicas(h, NAME) == 0
        calls = gate.calls_to("pre")
        assert len(calls) == 3
        assert {c.body["phase"] for c in calls} == {"Progressing"}
        messages = h.events(NS)
        assert "Pre-rollout check pre passed" in messages
        assert messages.index("Pre-rollout check pre passed") < messages.index(
            "Advance podinfo.test canary iteration 1/1"
        )
        assert phases(h) == [
            "Initializing",
            "Initialized",
            "Progressing",
            "Promoting",
            "Finalising",
            "Succeeded",
        ]


async def test_closed_confirm_rollout_waits_without_scaling_up(gate: GateServer) -> None:
    gate.close("confirm")
    hooks = [m.hook("confirm", "confirm-rollout", gate.url("confirm"))]
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(iterations=1, webhooks=hooks))
        await h.wait_phase(NS, NAME, "Initialized")
        assert gate.calls_to("confirm") == []  # asked only once there is something to roll out

        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Waiting")
        await asyncio.sleep(1.2)  # proving that the target is not scaled up while waiting

        assert h.phase(NS, NAME) == "Waiting"
        assert replicas(h, NAME) == 0
        assert replica_history(h, NAME) == [2, 0]
        assert image(h, f"{NAME}-primary") == OLD_IMAGE
        phases_sent = [c.body["phase"] for c in gate.calls_to("confirm")]
        assert len(phases_sent) >= 2  # asked again on later ticks
        assert phases_sent[0] == "Initialized"
        assert set(phases_sent[1:]) == {"Waiting"}
        halt = "Halt podinfo.test advancement waiting for approval confirm"
        assert occurrences(h, halt) == {"Warning": 1}
        assert "New revision detected! Scaling up podinfo.test" not in h.events(NS)
        ready = condition(h)
        assert (ready["status"], ready["reason"]) == ("False", "WaitingForApproval")
        assert ready["message"].startswith(
            f"waiting for confirm-rollout gate {gate.url('confirm')}"
        )

        gate.open("confirm")
        await h.wait_phase(NS, NAME, "Succeeded", timeout=10)
        assert phases(h) == [
            "Initializing",
            "Initialized",
            "Waiting",
            "Progressing",
            "Promoting",
            "Finalising",
            "Succeeded",
        ]
        assert replica_history(h, NAME) == [2, 0, 2, 0]
        assert image(h, f"{NAME}-primary") == NEW_IMAGE
        messages = h.events(NS)
        assert messages.index("Confirm-rollout check confirm passed") < messages.index(
            "New revision detected! Scaling up podinfo.test"
        )


async def test_post_rollout_payload_after_promotion_and_after_rollback(gate: GateServer) -> None:
    hooks = [
        m.hook("check", "rollout", gate.url("check")),
        m.hook("post", "post-rollout", gate.url("post"), metadata={"env": "test", "cmd": "x"}),
    ]
    async with Harness() as h:
        await h.apply(
            m.namespace(NS), m.deployment(), m.canary(iterations=1, threshold=1, webhooks=hooks)
        )
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=10)
        await h.wait_for(lambda: len(gate.calls_to("post")) == 1, what="post-rollout call")
        succeeded = status(h)
        expected = {
            "name": NAME,
            "namespace": NS,
            "phase": "Succeeded",
            "checksum": checksum_of(succeeded),
            "metadata": {"cmd": "x", "env": "test"},
        }
        assert gate.calls_to("post")[0].body == expected
        # The checksum identifies the revision under test: the same on every call of a run.
        assert {c.body["checksum"] for c in gate.calls_to("check")} == {expected["checksum"]}

        gate.close("check")
        h.set_image(NS, NAME, NEWER_IMAGE)
        await h.wait_phase(NS, NAME, "Failed", timeout=10)
        await h.wait_for(lambda: len(gate.calls_to("post")) == 2, what="second post-rollout call")
        failed = status(h)
        second = gate.calls_to("post")[1].body
        assert second == {**expected, "phase": "Failed", "checksum": checksum_of(failed)}
        assert second["checksum"] != expected["checksum"]
        assert list(second) == ["name", "namespace", "phase", "checksum", "metadata"]
        assert image(h, f"{NAME}-primary") == NEW_IMAGE
        assert h.events(NS).count("Post-rollout check post passed") == 2


async def test_post_rollout_payload_omits_empty_metadata(gate: GateServer) -> None:
    hooks = [m.hook("post", "post-rollout", gate.url("post"))]
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(skip_analysis=True, webhooks=hooks))
        await h.wait_phase(NS, NAME, "Initialized")
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=10)
        await h.wait_for(lambda: len(gate.calls_to("post")) == 1, what="post-rollout call")
        assert gate.calls_to("post")[0].body == {
            "name": NAME,
            "namespace": NS,
            "phase": "Succeeded",
            "checksum": checksum_of(status(h)),
        }


async def test_blue_green_webhook_call_order(gate: GateServer) -> None:
    gate.close("rollback")  # asked every analysis tick, never signalling
    types = [
        "confirm-rollout",
        "pre-rollout",
        "rollout",
        "confirm-traffic-increase",
        "confirm-promotion",
        "post-rollout",
        "rollback",
    ]
    hooks = [m.hook(t, t, gate.url(t)) for t in types]
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(iterations=1, webhooks=hooks))
        await h.wait_phase(NS, NAME, "Initialized")
        assert gate.calls == []
        h.set_image(NS, NAME, NEW_IMAGE)
        await h.wait_phase(NS, NAME, "Succeeded", timeout=10)
        await h.wait_for(lambda: len(gate.calls_to("post-rollout")) == 1, what="post-rollout")
        done = "Promotion completed! Scaling down podinfo.test"  # delivered after the hook
        await h.wait_for(lambda: done in h.events(NS), what="the last event")

        # §4.4 adapted to Blue/Green with 1 iteration (§2.12.2 tick trace): t0 confirm-rollout
        # and scale up; t1 pre-rollout + iteration 1; t2 rollout, confirm-promotion, switch;
        # t3 rollout, confirm-promotion, promote; then Finalising → Succeeded: post-rollout.
        # Rollback hooks are asked first on every analysis tick in Progressing.
        assert [(c.path, c.body["phase"]) for c in gate.calls] == [
            ("confirm-rollout", "Initialized"),
            ("rollback", "Progressing"),
            ("pre-rollout", "Progressing"),
            ("rollback", "Progressing"),
            ("rollout", "Progressing"),
            ("confirm-promotion", "Progressing"),
            ("rollback", "Progressing"),
            ("rollout", "Progressing"),
            ("confirm-promotion", "Progressing"),
            ("post-rollout", "Succeeded"),
        ]
        # The checksum names the revision under test, from the status at call time: the
        # confirm-rollout gate is asked before the run starts, so (as in Flagger) it still
        # carries the checksum of the initialised revision.
        initialised = next(s for s in statuses(h) if s.get("phase") == "Initialized")
        run = next(s for s in statuses(h) if s.get("phase") == "Progressing")
        assert gate.calls[0].body["checksum"] == checksum_of(initialised)
        assert {c.body["checksum"] for c in gate.calls[1:]} == {checksum_of(run)}
        assert gate.calls_to("confirm-traffic-increase") == []  # canary strategy only
        flow = [
            "Confirm-rollout check confirm-rollout passed",
            "New revision detected! Scaling up podinfo.test",
            "Starting canary analysis for podinfo.test",
            "Pre-rollout check pre-rollout passed",
            "Advance podinfo.test canary iteration 1/1",
            "Confirm-promotion check confirm-promotion passed",
            "Copying podinfo.test template spec to podinfo-primary.test",
            "Post-rollout check post-rollout passed",
            "Promotion completed! Scaling down podinfo.test",
        ]
        assert list(dict.fromkeys(e for e in h.events(NS) if e in flow)) == flow
        passed = "Confirm-promotion check confirm-promotion passed"
        assert occurrences(h, passed) == {"Normal": 2}  # one aggregated Event, count 2
        assert occurrences(h, "Advance podinfo.test canary iteration 1/1") == {"Normal": 1}
