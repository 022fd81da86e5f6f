"""Hypothesis properties of `decide` over random scripts of the simulated world.

Each example builds a canary (Blue/Green on kubernetes or with routing, canary strategy, A/B,
skipAnalysis), then runs random ticks: readiness of target and primary (ready, waiting,
stuck), webhook answers, revision changes (new ones and reverts), suspension and whether the
analysis interval is due. Every tick is checked against the engine's invariants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ensign.engine.actions import (
    EnsurePrimary,
    PromotePrimary,
    ReconcileRouter,
    ReconcileServices,
    ScaleTarget,
)
from ensign.engine.decide import decide
from ensign.engine.observations import READY, Readiness
from ensign.engine.phases import IDLE, Phase, allowed
from ensign.engine.status import CanaryStatus
from ensign.model import HookType
from ensign.testing import manifests
from ensign.testing.simulate import HookQuery, Simulation, TickTrace, not_ready, stuck

P = Phase
H = HookType
REPLICAS = 2
REVISIONS = ("rev-1", "rev-2", "rev-3", "rev-4")
GATED = (
    H.CONFIRM_ROLLOUT,
    H.PRE_ROLLOUT,
    H.ROLLOUT,
    H.CONFIRM_TRAFFIC_INCREASE,
    H.CONFIRM_PROMOTION,
    H.POST_ROLLOUT,
    H.ROLLBACK,
)
# hooks that only run as part of an analysis (never on a tick whose analysis is not due)
ANALYSIS_HOOKS = frozenset(
    {H.PRE_ROLLOUT, H.ROLLOUT, H.CONFIRM_TRAFFIC_INCREASE, H.CONFIRM_PROMOTION, H.ROLLBACK}
)
QUIET = (ReconcileServices, EnsurePrimary, ReconcileRouter)


@dataclass(frozen=True)
class Tick:
    target: Readiness
    primary: Readiness
    revision: str | None  # None: unchanged
    due: bool
    suspend: bool
    answers: dict[HookType, bool]


@dataclass(frozen=True)
class World:
    kind: str
    threshold: int
    iterations: int
    rollout_ticks: int
    started: bool  # initialise with a ready primary and change the revision before the script
    ticks: list[Tick]


readiness = st.sampled_from(
    [READY] * 32 + [not_ready("waiting for rollout to finish")] * 5 + [stuck("deadline exceeded")]
)
answers = st.fixed_dictionaries(
    {
        hook_type: (
            st.sampled_from([False] * 30 + [True])  # True means "roll back now"
            if hook_type is H.ROLLBACK
            else st.sampled_from([True] * 12 + [False])
        )
        for hook_type in GATED
    }
)
ticks = st.builds(
    Tick,
    target=readiness,
    primary=readiness,
    revision=st.sampled_from([None] * 12 + list(REVISIONS)),
    due=st.sampled_from([True, True, False]),
    suspend=st.sampled_from([False] * 20 + [True]),
    answers=answers,
)
worlds = st.builds(
    World,
    kind=st.sampled_from(["bg", "bg-routed", "canary", "ab", "skip"]),
    threshold=st.integers(min_value=1, max_value=3),
    iterations=st.integers(min_value=1, max_value=3),
    rollout_ticks=st.integers(min_value=0, max_value=2),
    started=st.booleans(),
    ticks=st.lists(ticks, min_size=8, max_size=40),
)


def manifest(world: World) -> dict[str, Any]:
    hooks = [manifests.hook(f"{t.value}-hook", t.value, f"http://gate/{t.value}") for t in GATED]
    hooks.append(manifests.hook("second-rollout", "rollout", "http://gate/second"))
    body = manifests.canary(
        iterations=world.iterations,
        threshold=world.threshold,
        webhooks=hooks,
        skip_analysis=world.kind == "skip",
    )
    analysis = body["spec"]["analysis"]
    if world.kind != "bg" and world.kind != "skip":
        body["spec"]["provider"] = "istio"
    if world.kind == "canary":
        del analysis["iterations"]
        step = 20 * world.iterations  # stepWeight above maxWeight is refused by the model
        analysis.update(stepWeight=step, maxWeight=max(50, step))
    if world.kind == "ab":
        analysis["match"] = [{"headers": {"x-canary": {"exact": "insider"}}}]
    return body


def simulate(world: World) -> Simulation:
    sim = Simulation(manifest(world), replicas=REPLICAS, primary_rollout_ticks=world.rollout_ticks)
    if world.started:
        sim.run_until(P.INITIALIZED, limit=3)
        sim.revision = "rev-2"
    offset = sim.tick
    script = world.ticks

    def answer(query: HookQuery) -> bool:
        return script[query.tick - offset - 1].answers[query.hook_type]

    for hook_type in GATED:
        sim.answer(hook_type, answer)
    sim.target = lambda n: script[n - offset - 1].target
    for tick in script:
        if tick.revision is not None:
            sim.revision = tick.revision
        sim.spec["suspend"] = tick.suspend
        sim.primary = lambda n: script[n - offset - 1].primary
        sim.step(due=tick.due)
        assert sim.primary_replicas in (0, REPLICAS)
        if sim.primary_exists:
            # nothing ever scales the primary: ScaleTarget is the target's only
            assert sim.primary_replicas == REPLICAS
        if sim.phase == P.SUCCEEDED:
            assert sim.target_replicas == 0
            assert sim.primary_revision == sim.status.last_promoted_spec
    return sim


def _unstuck(readiness: Readiness) -> Readiness:
    return not_ready(readiness.message) if readiness.stuck else readiness


def fields(status: CanaryStatus) -> tuple[Any, ...]:
    """The status content without the conditions (history and audit included)."""
    content = status.content()
    return (*content[:7], *content[8:])


def is_idle(t: TickTrace) -> bool:
    """An idle canary (Initialized/Succeeded/Failed) seeing no new revision or configs."""
    before = t.before
    return (
        before.phase in IDLE
        and not t.snapshot.canary.spec.suspend
        and t.snapshot.revision in (before.last_promoted_spec, before.last_applied_spec)
        and dict(before.tracked_configs or {}) == dict(t.snapshot.configs)
    )


def check_transition_and_determinism(t: TickTrace, world: World) -> None:
    assert allowed(t.phase_before, t.phase), (t.phase_before, t.phase)
    # the same Snapshot and probes give an equal Decision
    assert decide(t.snapshot, t.probes, now=t.now, analysis_due=t.due) == t.decision
    # with threshold T the rollback happens on the tick after the T-th failure, so the count
    # never passes T (a fortiori never T + 1)
    assert 0 <= t.status.failed_checks <= world.threshold
    for action in t.actions:
        if isinstance(action, PromotePrimary):
            assert action.revision == t.snapshot.revision
        if isinstance(action, ScaleTarget) and action.up:
            assert t.phase == P.PROGRESSING


def check_not_due(t: TickTrace) -> None:
    """A tick whose analysis interval has not elapsed never advances nor counts failures."""
    if t.due:
        return
    assert not t.decision.analysed
    assert t.status.iterations <= t.before.iterations
    assert t.status.failed_checks <= t.before.failed_checks
    if t.phase != P.FAILED:  # a failed promotion routes everything to the canary
        assert t.status.canary_weight <= t.before.canary_weight
    assert not {c.hook_type for c in t.hook_calls} & ANALYSIS_HOOKS


def check_idle(t: TickTrace) -> None:
    """Idle ticks write nothing: no actions but the idempotent reconciles, no hook calls, the
    same status content (and, once the Ready condition says Idle, the very same status)."""
    if is_idle(t):
        assert all(isinstance(a, QUIET) for a in t.actions), t.actions
        assert not t.hook_calls
        assert fields(t.status) == fields(t.before)
        ready = t.before.condition("Ready")
        if ready is not None and ready.reason in ("Idle", "Failed"):
            assert t.status == t.before  # not even a timestamp changes
    # an "Idle" decision (or, for a Failed canary, one that keeps saying why it failed) is
    # only ever that, not a pending revision waiting on a hold
    idle_reason = "Failed" if t.status.phase == P.FAILED else "Idle"
    assert (t.decision.reason == idle_reason) == is_idle(t) or (
        t.status.phase == P.FAILED and not is_idle(t)
    ), t.decision


@settings(max_examples=200, deadline=None)
@given(worlds)
def test_random_scripts_keep_the_engine_invariants(world: World) -> None:
    sim = simulate(world)  # decide asserts every phase change: no AssertionError either
    assert sim.trace
    for t in sim.trace:
        check_transition_and_determinism(t, world)
        check_not_due(t)
        check_idle(t)
