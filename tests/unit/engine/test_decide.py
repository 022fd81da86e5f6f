"""Trajectory tests of `decide`, driven tick by tick through `ensign.testing.simulate`.

Each test walks a canary through a whole release and pins the phases, Flagger's event
messages (behaviour notes §2.4, §2.12 to §2.15, §2.18), the webhook calls with the phase sent
(§4.3, §4.4) and the effect on the simulated workloads and routes.
"""

from __future__ import annotations

from typing import Any

import pytest

from ensign.engine.actions import EnsurePrimary, ReconcileRouter, ReconcileServices, RecordEvent
from ensign.engine.phases import Phase
from ensign.engine.weights import ALL_CANARY, ALL_PRIMARY, Routes
from ensign.model import HookType
from ensign.testing import manifests
from ensign.testing.simulate import HookQuery, Simulation, TickTrace, not_ready, stuck

P = Phase
H = HookType
NAME = "podinfo.test"
PRIMARY = "podinfo-primary.test"

CONFIRM_ROLLOUT = manifests.hook("cr", "confirm-rollout", "http://gate/cr")
PRE_ROLLOUT = manifests.hook("pre", "pre-rollout", "http://gate/pre")
ROLLOUT = manifests.hook("ro", "rollout", "http://gate/ro")
CONFIRM_TRAFFIC = manifests.hook("cti", "confirm-traffic-increase", "http://gate/cti")
CONFIRM_PROMOTION = manifests.hook("cp", "confirm-promotion", "http://gate/cp")
POST_ROLLOUT = manifests.hook("post", "post-rollout", "http://gate/post")
ROLLBACK = manifests.hook("rb", "rollback", "http://gate/rb")

BG_HOOKS = [CONFIRM_ROLLOUT, PRE_ROLLOUT, ROLLOUT, CONFIRM_PROMOTION, POST_ROLLOUT]
CANARY_HOOKS = [PRE_ROLLOUT, ROLLOUT, CONFIRM_TRAFFIC, CONFIRM_PROMOTION, POST_ROLLOUT]

# Flagger's event texts for the podinfo canary in namespace test.
INITIALIZED = f"Initialization done! {NAME}"
NEW_REVISION = f"New revision detected! Scaling up {NAME}"
RESTART = f"New revision detected! Restarting analysis for {NAME}"
STARTING = f"Starting canary analysis for {NAME}"
COPYING = f"Copying {NAME} template spec to {PRIMARY}"
COMPLETED = f"Promotion completed! Scaling down {NAME}"
CANARY_FAILED = f"Canary failed! Scaling down {NAME}"


def iteration(done: int, total: int) -> str:
    return f"Advance {NAME} canary iteration {done}/{total}"


def weight(canary: int) -> str:
    return f"Advance {NAME} canary weight {canary}"


def passed(kind: str, hook: str) -> str:
    return f"{kind} check {hook} passed"


# ------------------------------------------------------------------ builders


def blue_green(
    *,
    iterations: int = 3,
    threshold: int = 2,
    webhooks: list[dict[str, Any]] | None = None,
    skip_analysis: bool = False,
    **kwargs: Any,
) -> Simulation:
    """Provider kubernetes: Blue/Green without routing."""
    body = manifests.canary(
        iterations=iterations,
        threshold=threshold,
        webhooks=BG_HOOKS if webhooks is None else webhooks,
        skip_analysis=skip_analysis,
    )
    return Simulation(body, **kwargs)


def progressive(
    *,
    step_weight: int = 20,
    max_weight: int = 50,
    threshold: int = 2,
    webhooks: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Simulation:
    """Provider istio, canary strategy (routes traffic)."""
    body = manifests.canary(
        threshold=threshold, webhooks=CANARY_HOOKS if webhooks is None else webhooks
    )
    body["spec"]["provider"] = "istio"
    analysis = body["spec"]["analysis"]
    del analysis["iterations"]
    analysis.update(stepWeight=step_weight, maxWeight=max_weight)
    return Simulation(body, **kwargs)


def ab_testing(*, iterations: int = 2, **kwargs: Any) -> Simulation:
    """Provider istio, A/B testing on a header."""
    body = manifests.canary(
        iterations=iterations, webhooks=[PRE_ROLLOUT, ROLLOUT, CONFIRM_PROMOTION, POST_ROLLOUT]
    )
    body["spec"]["provider"] = "istio"
    body["spec"]["analysis"]["match"] = [{"headers": {"x-canary": {"exact": "insider"}}}]
    return Simulation(body, **kwargs)


def initialised(sim: Simulation, *, revision: str = "rev-2") -> Simulation:
    """Run the initialisation (primary created, then Initialized), then change the target."""
    sim.run_until(P.INITIALIZED, limit=5)
    sim.revision = revision
    return sim


def progressing(sim: Simulation) -> Simulation:
    """Initialise and take the first tick of a run (new revision detected → Progressing)."""
    initialised(sim)
    assert sim.step().phase == P.PROGRESSING
    return sim


def calls(trace: TickTrace | list[TickTrace]) -> list[tuple[str, str]]:
    traces = trace if isinstance(trace, list) else [trace]
    return [(str(c.hook_type), c.phase) for t in traces for c in t.hook_calls]


def messages(traces: list[TickTrace]) -> list[str]:
    return [m for t in traces for m in t.messages]


# ------------------------------------------------------ Blue/Green, kubernetes


def test_blue_green_kubernetes_full_trajectory() -> None:
    sim = blue_green(iterations=3)
    first = sim.step()
    assert first.phase == P.INITIALIZING  # the primary is created by this tick's actions
    assert sim.primary_exists
    assert sim.primary_revision == "rev-1"

    init = sim.step()
    assert init.phase == P.INITIALIZED
    assert init.messages == (INITIALIZED,)
    assert sim.target_replicas == 0  # the target is scaled to zero once the primary serves
    assert sim.status.last_applied_spec == sim.status.last_promoted_spec == "rev-1"

    idle = sim.step()
    assert idle.phase == P.INITIALIZED
    assert idle.messages == () and idle.hook_calls == ()

    sim.revision = "rev-2"
    run = sim.run(7)
    assert [t.phase for t in run] == [
        P.PROGRESSING,  # detection: confirm-rollout, scale up
        P.PROGRESSING,  # pre-rollout + iteration 1
        P.PROGRESSING,  # iteration 2
        P.PROGRESSING,  # iteration 3
        P.PROGRESSING,  # confirm-promotion, (no routing) iteration N+1
        P.PROMOTING,  # confirm-promotion again, copy to primary
        P.FINALISING,  # kubernetes: nothing to shift
    ]
    assert [t.status.iterations for t in run[:6]] == [0, 1, 2, 3, 4, 4]
    assert [list(t.messages) for t in run] == [
        [passed("Confirm-rollout", "cr"), NEW_REVISION],
        [STARTING, passed("Pre-rollout", "pre"), iteration(1, 3)],
        [iteration(2, 3)],
        [iteration(3, 3)],
        [passed("Confirm-promotion", "cp")],
        [passed("Confirm-promotion", "cp"), COPYING],
        [],
    ]
    assert [calls(t) for t in run] == [
        [("confirm-rollout", "Initialized")],
        [("pre-rollout", "Progressing")],
        [("rollout", "Progressing")],
        [("rollout", "Progressing")],
        [("rollout", "Progressing"), ("confirm-promotion", "Progressing")],
        [("rollout", "Progressing"), ("confirm-promotion", "Progressing")],
        [],
    ]
    assert run[0].target_replicas == 2
    assert [t.primary_revision for t in run] == ["rev-1"] * 5 + ["rev-2"] * 2
    assert all(t.routes == ALL_PRIMARY for t in run)  # the kubernetes provider never routes

    done = sim.step()
    assert done.phase == P.SUCCEEDED
    assert done.messages == (passed("Post-rollout", "post"), COMPLETED)
    assert calls(done) == [("post-rollout", "Succeeded")]
    assert sim.target_replicas == 0
    assert sim.status.last_promoted_spec == "rev-2"
    assert (sim.status.iterations, sim.status.canary_weight, sim.status.failed_checks) == (0, 0, 0)

    after = sim.run(3)
    assert all(t.phase == P.SUCCEEDED and not t.events and not t.hook_calls for t in after)


def test_blue_green_promotion_waits_for_the_primary_rollout() -> None:
    sim = progressing(blue_green(iterations=1, webhooks=[], primary_rollout_ticks=2))
    sim.run_until(P.PROMOTING, limit=5)
    waiting = sim.run(2)
    assert [t.phase for t in waiting] == [P.PROMOTING, P.PROMOTING]
    assert [t.decision.reason for t in waiting] == ["WaitingForPrimary"] * 2
    # the readiness message is recorded as a Warning once, not on every waiting tick
    assert [len(t.events) for t in waiting] == [1, 0]
    assert "waiting for rollout to finish" in waiting[0].messages[0]
    assert [t.phase for t in sim.run(2)] == [P.FINALISING, P.SUCCEEDED]


def test_initialisation_waits_for_a_primary_that_starts_slowly() -> None:
    sim = blue_green(primary_startup_ticks=2)
    phases = [t.phase for t in sim.run(4)]
    assert phases == [P.INITIALIZING, P.INITIALIZING, P.INITIALIZING, P.INITIALIZED]
    assert sim.messages.count(INITIALIZED) == 1


# ------------------------------------------------------------ gates


def test_confirm_rollout_closed_waits_once_then_starts() -> None:
    sim = initialised(blue_green(hooks={H.CONFIRM_ROLLOUT: [False, False, True]}))
    ticks = sim.run(3)
    assert [t.phase for t in ticks] == [P.WAITING, P.WAITING, P.PROGRESSING]
    # the phase sent is the current status phase (§4.3)
    assert calls(ticks) == [
        ("confirm-rollout", "Initialized"),
        ("confirm-rollout", "Waiting"),
        ("confirm-rollout", "Waiting"),
    ]
    assert messages(ticks) == [
        f"Halt {NAME} advancement waiting for approval cr",
        passed("Confirm-rollout", "cr"),
        NEW_REVISION,
    ]
    assert sim.target_replicas == 2


def test_confirm_promotion_closed_on_the_promoting_tick_then_first_open_tick_promotes() -> None:
    # N=2: confirm-promotion is asked on the switch tick (open) and the promoting tick (closed)
    answers = [True, False, False, False, True]
    sim = progressing(blue_green(iterations=2, hooks={H.CONFIRM_PROMOTION: answers}))
    sim.run(2)  # iterations 1 and 2
    switch = sim.step()
    assert switch.phase == P.PROGRESSING and switch.status.iterations == 3
    held = sim.run(3)
    assert [t.phase for t in held] == [P.WAITING_PROMOTION] * 3
    assert [t.decision.reason for t in held] == ["WaitingForPromotion"] * 3
    assert [t.status.iterations for t in held] == [3, 3, 3]  # Ensign: not iterations - 1
    assert messages(held) == [f"Halt {NAME} advancement waiting for promotion approval cp"]
    # analysis keeps running while waiting (so the run can still fail)
    assert [c[0] for c in calls(held)] == ["rollout", "confirm-promotion"] * 3
    promoted = sim.step()
    assert promoted.phase == P.PROMOTING
    assert promoted.messages == (passed("Confirm-promotion", "cp"), COPYING)
    assert sim.primary_revision == "rev-2"


def test_confirm_promotion_closed_on_the_switch_tick_blue_green() -> None:
    answers = [False, False, True, True]
    sim = progressing(blue_green(iterations=1, hooks={H.CONFIRM_PROMOTION: answers}))
    assert sim.step().status.iterations == 1
    held = sim.run(2)
    assert [t.phase for t in held] == [P.WAITING_PROMOTION] * 2
    assert [t.status.iterations for t in held] == [1, 1]
    after = sim.run(2)  # open: the switch tick, then the promoting tick
    assert after[-1].phase == P.PROMOTING
    msgs = messages(held + after)
    assert msgs.count(f"Halt {NAME} advancement waiting for promotion approval cp") == 1
    assert iteration(1, 1) not in msgs  # Flagger's quirk re-emits it; Ensign does not


def test_confirm_promotion_closed_canary_strategy_first_open_tick_promotes() -> None:
    sim = progressing(progressive(step_weight=50, max_weight=50))
    sim.answer(H.CONFIRM_PROMOTION, False)
    assert sim.step().status.canary_weight == 50
    held = sim.run(2)
    assert [t.phase for t in held] == [P.WAITING_PROMOTION] * 2
    assert sim.routes == Routes(primary=50, canary=50)  # routes untouched while waiting
    # confirm-traffic-increase is asked on the tick that reaches the max weight, but not in
    # WaitingPromotion (§4.3)
    assert [c[0] for c in calls(held)] == [
        "rollout",
        "confirm-traffic-increase",
        "confirm-promotion",
        "rollout",
        "confirm-promotion",
    ]
    sim.answer(H.CONFIRM_PROMOTION, True)
    assert sim.step().phase == P.PROMOTING


def test_confirm_promotion_closed_ab_testing_first_open_tick_promotes() -> None:
    sim = progressing(ab_testing(iterations=1, hooks={H.CONFIRM_PROMOTION: [False, False]}))
    assert sim.step().status.iterations == 1
    assert [t.phase for t in sim.run(2)] == [P.WAITING_PROMOTION] * 2
    assert sim.step().phase == P.PROMOTING


def test_confirm_traffic_increase_closed_holds_without_counting() -> None:
    sim = progressing(progressive(hooks={H.CONFIRM_TRAFFIC_INCREASE: [True, False, False]}))
    assert sim.step().status.canary_weight == 20
    held = sim.run(2)
    assert [t.phase for t in held] == [P.PROGRESSING] * 2
    assert [t.status.canary_weight for t in held] == [20, 20]
    assert [t.status.failed_checks for t in held] == [0, 0]
    assert sim.routes == Routes(primary=80, canary=20)
    assert sim.step().status.canary_weight == 40


# ------------------------------------------------------------ failures


@pytest.mark.parametrize("failing", [H.ROLLOUT, H.PRE_ROLLOUT])
def test_threshold_rollback_happens_on_the_tick_after_the_threshold_th_failure(
    failing: HookType,
) -> None:
    sim = progressing(blue_green(threshold=2))
    if failing is H.ROLLOUT:
        assert sim.step().status.iterations == 1  # pre-rollout passes on the first tick
    sim.answer(failing, False)
    halt = (
        f"Halt {NAME} advancement external check ro failed"
        if failing is H.ROLLOUT
        else f"Halt {NAME} advancement pre-rollout check pre failed"
    )
    fails = sim.run(2)
    assert [t.phase for t in fails] == [P.PROGRESSING, P.PROGRESSING]
    assert [t.status.failed_checks for t in fails] == [1, 2]
    # a failing first tick starts the analysis again on the next one (iterations still 0)
    expected = (STARTING,) if failing is H.PRE_ROLLOUT else ()
    assert all(t.messages[:-1] == expected for t in fails)
    assert all(t.messages[-1].startswith(halt) and t.events[-1].warning for t in fails)

    rollback = sim.step()
    assert rollback.phase == P.FAILED
    assert rollback.messages == (
        f"Rolling back {NAME} failed checks threshold reached 2",
        CANARY_FAILED,
        passed("Post-rollout", "post"),
    )
    assert calls(rollback) == [("post-rollout", "Failed")]  # no analysis on the rollback tick
    assert (rollback.status.failed_checks, rollback.status.iterations) == (0, 0)
    assert sim.target_replicas == 0
    assert sim.routes == ALL_PRIMARY
    assert sim.primary_revision == "rev-1"  # a rollback never touches the primary
    assert sim.status.last_promoted_spec == "rev-1"


def test_failed_canary_stays_idle_until_a_new_revision_and_ignores_a_revert() -> None:
    sim = progressing(blue_green(threshold=1, hooks={H.PRE_ROLLOUT: [False]}))
    assert [t.phase for t in sim.run(2)] == [P.PROGRESSING, P.FAILED]
    idle = sim.run(2)
    assert all(t.phase == P.FAILED and not t.events and not t.hook_calls for t in idle)
    sim.revision = "rev-1"  # back to what the primary runs: nothing to analyse
    assert sim.step().phase == P.FAILED
    sim.revision = "rev-3"
    retry = sim.step()
    assert retry.phase == P.PROGRESSING
    assert retry.messages == (passed("Confirm-rollout", "cr"), NEW_REVISION)


def test_manual_rollback_webhook() -> None:
    sim = progressing(blue_green(webhooks=[*BG_HOOKS, ROLLBACK]))
    first = sim.step()
    assert first.status.iterations == 1
    assert ("rollback", "Progressing") in calls(first)
    sim.answer(H.ROLLBACK, True)
    tick = sim.step()
    assert tick.phase == P.FAILED
    assert tick.messages[:3] == (
        "Rollback check rb passed",
        f"Rolling back {NAME} manual webhook invoked",
        CANARY_FAILED,
    )
    assert sim.target_replicas == 0


@pytest.mark.parametrize("at", [P.PROMOTING, P.FINALISING])
def test_stuck_primary_during_promotion_fails_the_promotion(at: Phase) -> None:
    sim = progressing(progressive(step_weight=50, max_weight=50))
    sim.run_until(at, limit=10)
    sim.primary = stuck("deadline exceeded")
    tick = sim.step()
    assert tick.phase == P.FAILED
    assert tick.messages[0] == (f"Promotion of {NAME} failed, primary not ready: deadline exceeded")
    assert tick.events[0].warning
    assert sim.routes == ALL_CANARY  # all traffic to the canary, which runs the same version
    assert tick.status.canary_weight == 100
    assert sim.target_replicas == 2  # the canary is not scaled down
    assert calls(tick) == [("post-rollout", "Failed")]


def test_stuck_primary_during_promotion_kubernetes() -> None:
    sim = progressing(blue_green(iterations=1, primary_rollout_ticks=3))
    sim.run_until(P.PROMOTING, limit=10)
    assert sim.step().decision.reason == "WaitingForPrimary"
    sim.primary = stuck("deadline exceeded")
    tick = sim.step()
    assert tick.phase == P.FAILED
    assert tick.status.canary_weight == 100
    assert sim.target_replicas == 2


def test_stuck_primary_while_progressing_rolls_back() -> None:
    sim = progressing(blue_green())
    sim.step()
    sim.primary = stuck("deadline exceeded")
    tick = sim.step()
    assert tick.phase == P.FAILED
    assert CANARY_FAILED in tick.messages
    assert tick.status.canary_weight == 0
    assert sim.target_replicas == 0


@pytest.mark.parametrize("at", [P.PROGRESSING, P.WAITING_PROMOTION, P.PROMOTING])
def test_stuck_target_rolls_back(at: Phase) -> None:
    # the primary is ready: while it is not, its readiness is checked first (§2.4 step 17)
    sim = progressing(progressive(step_weight=50, max_weight=50))
    if at is P.WAITING_PROMOTION:
        sim.answer(H.CONFIRM_PROMOTION, False)
    if at is not P.PROGRESSING:
        sim.run_until(at, limit=10)
    else:
        sim.step()
    sim.target = not_ready("0 of 2 updated replicas are available")
    waiting = sim.run(2)
    assert [t.phase for t in waiting] == [at, at]
    sim.target = stuck("progress deadline exceeded")
    tick = sim.step()
    assert tick.phase == P.FAILED
    assert CANARY_FAILED in tick.messages
    assert sim.routes == ALL_PRIMARY
    assert sim.target_replicas == 0
    assert calls(tick) == [("post-rollout", "Failed")]


def test_stuck_target_records_the_readiness_error_before_rolling_back() -> None:
    sim = progressing(blue_green())
    sim.step()
    sim.target = stuck("podinfo.test progress deadline exceeded")
    tick = sim.step()
    assert tick.messages[:2] == ("podinfo.test progress deadline exceeded", CANARY_FAILED)


# ------------------------------------------------------------ revisions


def test_revision_change_mid_run_restarts_the_analysis() -> None:
    sim = progressing(blue_green(iterations=3))
    sim.run(2)
    assert sim.status.iterations == 2
    sim.revision = "rev-3"
    restart = sim.step()
    assert restart.phase == P.PROGRESSING
    assert restart.messages == (RESTART,)
    assert restart.hook_calls == ()  # no confirm-rollout gate on a restart
    assert (restart.status.iterations, restart.status.failed_checks) == (0, 0)
    assert restart.status.last_applied_spec == "rev-3"
    assert sim.routes == ALL_PRIMARY
    assert sim.target_replicas == 2  # the target stays up
    again = sim.step()
    assert again.messages == (STARTING, passed("Pre-rollout", "pre"), iteration(1, 3))
    sim.run_until(P.SUCCEEDED, limit=10)
    assert sim.primary_revision == "rev-3"
    assert sim.status.last_promoted_spec == "rev-3"


def test_revision_change_while_waiting_for_promotion_restarts() -> None:
    sim = progressing(blue_green(iterations=1, hooks={H.CONFIRM_PROMOTION: False}))
    sim.run_until(P.WAITING_PROMOTION, limit=5)
    sim.revision = "rev-3"
    restart = sim.step()
    assert restart.phase == P.PROGRESSING
    assert restart.messages == (RESTART,)
    assert restart.status.iterations == 0


def test_revision_change_while_promoting_is_analysed_after_success() -> None:
    sim = progressing(blue_green(iterations=1, primary_rollout_ticks=1))
    sim.run_until(P.PROMOTING, limit=5)
    sim.revision = "rev-3"
    tail = sim.run_until(P.SUCCEEDED, limit=5)
    assert RESTART not in messages(tail)
    assert sim.status.last_promoted_spec == "rev-2"
    nxt = sim.step()
    assert nxt.phase == P.PROGRESSING
    assert NEW_REVISION in nxt.messages


def test_config_change_starts_a_run() -> None:
    sim = blue_green(configs={"configmap/podinfo-config": "hash-1"})
    sim.run_until(P.INITIALIZED, limit=5)
    assert sim.step().phase == P.INITIALIZED
    sim.configs["configmap/podinfo-config"] = "hash-2"
    assert sim.step().phase == P.PROGRESSING


# ---------------------------------------------------- skipAnalysis, suspend


def test_skip_analysis_promotes_on_the_tick_after_detection() -> None:
    sim = blue_green(skip_analysis=True, primary_startup_ticks=3)
    # initialisation does not wait for the primary, not even for it to exist (§2.15.1)
    assert sim.step().phase == P.INITIALIZED
    sim.revision = "rev-2"
    detect, promote = sim.run(2)
    assert detect.phase == P.PROGRESSING
    assert detect.messages == (passed("Confirm-rollout", "cr"), NEW_REVISION)
    assert promote.phase == P.SUCCEEDED
    assert promote.messages == (
        COPYING,
        passed("Post-rollout", "post"),
        f"Promotion completed! Canary analysis was skipped for {NAME}",
    )
    assert calls(promote) == [("post-rollout", "Succeeded")]
    assert sim.primary_revision == "rev-2"
    assert sim.target_replicas == 0
    assert sim.status.last_promoted_spec == "rev-2"


def test_turning_skip_analysis_on_mid_run_promotes_next_tick() -> None:
    sim = progressing(blue_green())
    sim.step()
    sim.spec["skipAnalysis"] = True
    tick = sim.step()
    assert tick.phase == P.SUCCEEDED
    assert sim.primary_revision == "rev-2"


def test_suspend_holds_with_the_suspension_message_once() -> None:
    sim = progressing(blue_green(iterations=3))
    sim.step()
    before = sim.status
    sim.spec["suspend"] = True
    first = sim.step()
    assert first.messages == ("skipping canary run as object is suspended",)
    assert all(isinstance(a, RecordEvent) for a in first.actions)
    assert first.hook_calls == ()
    assert (first.phase, first.status.iterations) == (before.phase, before.iterations)
    assert first.decision.reason == "Suspended"
    second = sim.step()
    assert second.messages == ()
    assert second.actions == ()
    assert second.status == first.status  # nothing to write
    sim.spec["suspend"] = False
    resumed = sim.step()
    assert resumed.status.iterations == 2
    assert resumed.messages == (iteration(2, 3),)


# ------------------------------------------------------------ analysis_due


def test_analysis_not_due_never_advances_nor_counts() -> None:
    sim = progressing(blue_green(iterations=2))
    sim.answer(H.PRE_ROLLOUT, False)
    idle = sim.run(4, due=False)
    assert all(t.phase == P.PROGRESSING for t in idle)
    assert all(t.status.iterations == 0 and t.status.failed_checks == 0 for t in idle)
    assert all(not t.decision.analysed and not t.hook_calls and not t.events for t in idle)
    due = sim.step()
    assert due.decision.analysed
    assert due.status.failed_checks == 1
    sim.answer(H.PRE_ROLLOUT, True)
    sim.run(3, due=False)
    assert sim.status.iterations == 0
    assert sim.step().status.iterations == 1


def test_promotion_shift_does_not_wait_for_the_analysis_interval() -> None:
    sim = progressing(blue_green(iterations=1))
    sim.run_until(P.PROMOTING, limit=5)
    assert [t.phase for t in sim.run(2, due=False)] == [P.FINALISING, P.SUCCEEDED]


# ------------------------------------------------------------ canary, A/B


def test_canary_strategy_step_weight_20_max_weight_50() -> None:
    sim = progressing(progressive(step_weight=20, max_weight=50, primary_rollout_ticks=1))
    steps = sim.run(4)
    assert [t.phase for t in steps] == [P.PROGRESSING] * 3 + [P.PROMOTING]
    assert [t.status.canary_weight for t in steps[:3]] == [20, 40, 60]  # overshoot kept
    assert [t.routes for t in steps] == [
        Routes(primary=80, canary=20),
        Routes(primary=60, canary=40),
        Routes(primary=40, canary=60),
        Routes(primary=40, canary=60),
    ]
    assert [list(t.messages) for t in steps] == [
        [
            STARTING,
            passed("Pre-rollout", "pre"),
            passed("Confirm-traffic-increase", "cti"),
            weight(20),
        ],
        [passed("Confirm-traffic-increase", "cti"), weight(40)],
        [passed("Confirm-traffic-increase", "cti"), weight(60)],
        [passed("Confirm-traffic-increase", "cti"), passed("Confirm-promotion", "cp"), COPYING],
    ]
    # confirm-traffic-increase on every step and on the promoting tick (§2.12.1)
    assert [c for c in calls(steps) if c[0] == "confirm-traffic-increase"] == [
        ("confirm-traffic-increase", "Progressing")
    ] * 4
    assert [c for c in calls(steps) if c[0] == "confirm-promotion"] == [
        ("confirm-promotion", "Progressing")
    ]
    assert calls(steps[0])[0] == ("pre-rollout", "Progressing")
    assert sim.primary_revision == "rev-2"

    rest = sim.run_until(P.SUCCEEDED, limit=5)
    assert [t.phase for t in rest] == [P.PROMOTING, P.FINALISING, P.SUCCEEDED]
    assert rest[1].messages == ("Routing all traffic to primary",)
    assert rest[1].routes == ALL_PRIMARY
    assert rest[2].messages == (passed("Post-rollout", "post"), COMPLETED)
    assert sim.target_replicas == 0


def test_canary_strategy_step_weight_promotion() -> None:
    sim = progressive(step_weight=100, max_weight=100)
    sim.analysis["stepWeightPromotion"] = 50
    progressing(sim)
    ticks = sim.run(5)
    # §2.13: Progressing w=100 → Promoting w=100 → Promoting w=50 → Finalising → Succeeded
    assert [(t.phase, t.status.canary_weight) for t in ticks] == [
        (P.PROGRESSING, 100),
        (P.PROMOTING, 100),
        (P.PROMOTING, 50),
        (P.FINALISING, 0),
        (P.SUCCEEDED, 0),
    ]
    assert ticks[2].messages == (f"Advance {NAME} primary weight 50",)
    assert ticks[3].messages == (f"Advance {NAME} primary weight 100",)


def test_ab_testing_with_match() -> None:
    sim = progressing(ab_testing(iterations=2))
    ticks = sim.run_until(P.SUCCEEDED, limit=10)
    assert [t.phase for t in ticks] == [
        P.PROGRESSING,
        P.PROGRESSING,
        P.PROMOTING,
        P.FINALISING,
        P.SUCCEEDED,
    ]
    assert [list(t.messages) for t in ticks[:3]] == [
        [STARTING, passed("Pre-rollout", "pre"), iteration(1, 2)],
        [iteration(2, 2)],
        [passed("Confirm-promotion", "cp"), COPYING],
    ]
    # the matching requests go to the canary on every iteration tick
    assert [t.routes for t in ticks[:3]] == [ALL_CANARY] * 3
    assert calls(ticks[2]) == [("rollout", "Progressing"), ("confirm-promotion", "Progressing")]
    assert ticks[3].messages == ("Routing all traffic to primary",)
    assert sim.routes == ALL_PRIMARY


# ------------------------------------------------------------ idle


@pytest.mark.parametrize("end", [P.SUCCEEDED, P.FAILED, P.INITIALIZED])
def test_idle_ticks_write_nothing(end: Phase) -> None:
    sim = blue_green(iterations=1, threshold=1)
    if end is P.INITIALIZED:
        sim.run_until(P.INITIALIZED, limit=5)
    else:
        progressing(sim)
        if end is P.FAILED:
            sim.answer(H.PRE_ROLLOUT, False)
        sim.run_until(end, limit=10)
    sim.step()  # the first idle tick may rewrite the Ready condition
    for _ in range(3):
        before = sim.status
        tick = sim.step()
        assert tick.status == before
        assert all(
            isinstance(a, ReconcileServices | EnsurePrimary | ReconcileRouter) for a in tick.actions
        )
        assert not tick.hook_calls


def test_hook_script_sees_the_query() -> None:
    seen: list[HookQuery] = []

    def script(query: HookQuery) -> bool:
        seen.append(query)
        return True

    sim = initialised(blue_green(hooks={H.CONFIRM_ROLLOUT: script}))
    sim.step()
    assert [(q.name, q.phase, q.tick) for q in seen] == [("cr", "Initialized", sim.tick)]


def test_blue_green_with_routing_switches_traffic_before_promoting() -> None:
    body = manifests.canary(iterations=1, webhooks=[CONFIRM_PROMOTION])
    body["spec"]["provider"] = "istio"
    sim = progressing(Simulation(body))
    ticks = sim.run_until(P.SUCCEEDED, limit=10)
    assert [t.phase for t in ticks] == [
        P.PROGRESSING,
        P.PROGRESSING,
        P.PROMOTING,
        P.FINALISING,
        P.SUCCEEDED,
    ]
    assert [list(t.messages) for t in ticks[:4]] == [
        [STARTING, iteration(1, 1)],
        [passed("Confirm-promotion", "cp"), "Routing all traffic to canary"],
        [passed("Confirm-promotion", "cp"), COPYING],
        ["Routing all traffic to primary"],
    ]
    assert [t.routes for t in ticks] == [ALL_PRIMARY, ALL_CANARY, ALL_CANARY] + [ALL_PRIMARY] * 2


# ------------------------------------------- known differences from Flagger


def test_closed_confirm_traffic_increase_records_flaggers_halt_event() -> None:
    sim = progressing(progressive(hooks={H.CONFIRM_TRAFFIC_INCREASE: [True, False]}))
    sim.step()
    held = sim.step()
    assert held.decision.reason == "WaitingForTrafficIncrease"
    assert held.messages == (f"Halt {NAME} advancement waiting for traffic increase approval cti",)


def test_suspension_event_is_normal() -> None:
    sim = progressing(blue_green())
    sim.spec["suspend"] = True
    tick = sim.step()
    assert [(e.message, e.warning) for e in tick.events] == [
        ("skipping canary run as object is suspended", False)
    ]


def test_rollback_hook_not_signalling_is_asked_but_records_nothing() -> None:
    # Deliberate difference (docs/compatibility.md): Flagger records "Rollback hook <hook> not
    # signaling a rollback" on every tick; Ensign asks the hook and stays quiet.
    sim = progressing(blue_green(webhooks=[ROLLBACK]))
    tick = sim.step()
    assert [c.hook_type for c in tick.hook_calls if c.hook_type == H.ROLLBACK] == [H.ROLLBACK]
    assert not any("Rollback hook" in message for message in tick.messages)
    assert tick.phase == P.PROGRESSING


@pytest.mark.parametrize("start", [P.INITIALIZED, P.SUCCEEDED, P.WAITING])
def test_stuck_primary_when_a_new_revision_is_detected_rolls_back(start: Phase) -> None:
    sim = blue_green(iterations=1, webhooks=[CONFIRM_ROLLOUT])
    sim.run_until(P.INITIALIZED, limit=5)
    if start is P.SUCCEEDED:
        sim.revision = "rev-2"
        sim.run_until(P.SUCCEEDED, limit=10)
    if start is P.WAITING:
        sim.answer(H.CONFIRM_ROLLOUT, False)
        sim.revision = "rev-2"
        assert sim.step().phase == P.WAITING
    assert sim.phase == start
    sim.revision = "rev-3"
    sim.primary = stuck("podinfo-primary.test progress deadline exceeded")
    tick = sim.step()
    assert tick.phase == P.FAILED
    assert CANARY_FAILED in tick.messages
    assert sim.target_replicas == 0
