"""Stepping arithmetic (§2.12, §2.13, §4.3 of the behaviour notes) as tables and tick traces.

The small simulators below drive the step functions the way the engine does on successive
successful analysis ticks, so every worked sequence of the notes is checked end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ensign.engine.weights import (
    ALL_CANARY,
    ALL_PRIMARY,
    MIRRORED,
    Advance,
    Finalise,
    Iterate,
    NoProgress,
    Promote,
    ReadyToPromote,
    Routes,
    Shift,
    SwitchToCanary,
    ab_step,
    blue_green_step,
    canary_step,
    max_weight,
    next_step_weight,
    promotion_shift,
    waiting_promotion_iterations,
)
from ensign.model import Analysis

P = "P"


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryRun:
    weights: list[int | str]
    primaries: list[int]


def run_canary(analysis: Analysis, start: Routes = ALL_PRIMARY, limit: int = 200) -> CanaryRun:
    """Successful ticks until promotion: canary weight per tick, then "P"; primary weights
    starting with the detection tick's routes."""
    routes = start
    weights: list[int | str] = []
    primaries = [routes.primary]
    for _ in range(limit):
        step = canary_step(analysis, routes)
        match step:
            case Advance(routes=new, weight=weight):
                assert weight == new.canary
                routes = new
                weights.append(weight)
                primaries.append(new.primary)
            case ReadyToPromote():
                weights.append(P)
                return CanaryRun(weights=weights, primaries=primaries)
            case NoProgress():
                raise AssertionError(f"no progress at {routes}")
    raise AssertionError("no promotion")


# -- max_weight / next_step_weight ---------------------------------------------------------


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        (Analysis(step_weight=20, max_weight=50), 50),
        (Analysis(step_weight=20), 100),
        (Analysis(step_weight=20, max_weight=0), 100),
        (Analysis(step_weights=(1, 2, 10, 80)), 80),
        (Analysis(step_weights=(1, 2, 10, 200)), 100),
        (Analysis(step_weights=(10, 20, 30, 40, 50, 60), max_weight=50), 60),
    ],
    ids=["max-weight", "default", "zero-is-100", "last-step", "capped", "step-weights-win"],
)
def test_max_weight(analysis: Analysis, expected: int) -> None:
    assert max_weight(analysis) == expected


STEPS = (1, 2, 10, 80)


@pytest.mark.parametrize(
    ("analysis", "current", "expected"),
    [
        (Analysis(step_weight=20), 0, 20),
        (Analysis(step_weight=20), 90, 20),
        (Analysis(step_weight=20), 100, 20),
        (Analysis(), 0, 0),
        (Analysis(step_weight=30, step_weights=STEPS), 0, 30),
        (Analysis(step_weights=STEPS), 0, 1),
        (Analysis(step_weights=STEPS), 1, 1),
        (Analysis(step_weights=STEPS), 2, 8),
        (Analysis(step_weights=STEPS), 10, 70),
        (Analysis(step_weights=STEPS), 80, 20),
        (Analysis(step_weights=STEPS), 100, 1),
        (Analysis(step_weights=STEPS), 5, 95),
        (Analysis(step_weights=(1, 2, 10, 200)), 10, 90),
        (Analysis(step_weights=(150,)), 0, 100),
    ],
    ids=[
        "step-weight",
        "step-weight-not-capped",
        "step-weight-at-100",
        "nothing-set",
        "step-weight-wins",
        "first-entry",
        "next-entry",
        "gap",
        "gap-large",
        "last-entry-rest",
        "full-forces-1",
        "not-an-entry-jumps",
        "capped-by-what-is-left",
        "first-capped",
    ],
)
def test_next_step_weight(analysis: Analysis, current: int, expected: int) -> None:
    assert next_step_weight(analysis, current) == expected


# -- canary strategy: the worked sequences of §2.12.1 --------------------------------------


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        # Overshoot kept on purpose (Flagger's behaviour, see canary_step's docstring).
        (Analysis(step_weight=20, max_weight=50), [20, 40, 60, P]),
        (Analysis(step_weight=10, max_weight=50), [10, 20, 30, 40, 50, P]),
        (Analysis(step_weights=(1, 2, 10, 80)), [1, 2, 10, 80, P]),
        (Analysis(step_weights=(1, 2, 10, 200)), [1, 2, 10, 100, P]),
        (Analysis(step_weight=50, max_weight=100), [50, 100, P]),
        (
            Analysis(step_weights=(10, 20, 30, 40, 50, 60), max_weight=50),
            [10, 20, 30, 40, 50, 60, P],
        ),
        (Analysis(step_weight=100), [100, P]),
        (Analysis(step_weight=30), [30, 60, 90, 100, P]),
    ],
    ids=[
        "overshoot",
        "step-10-max-50",
        "step-weights",
        "step-weights-overflow",
        "max-weight-100",
        "linkerd-max-weight-ignored",
        "single-step",
        "capped-at-100",
    ],
)
def test_canary_sequences(analysis: Analysis, expected: list[int | str]) -> None:
    assert run_canary(analysis).weights == expected


def test_step_weights_primary_weights() -> None:
    """`TestScheduler_ServicePromotionWithWeightsHappyCase`: 100 (detection), 99, 98, 90, 20."""
    run = run_canary(Analysis(step_weights=(1, 2, 10, 80)))
    assert run.primaries == [100, 99, 98, 90, 20]


def test_overshoot_primary_weights() -> None:
    """`scheduler_svc_test.go`: primary 100, 80, 60, 40 with stepWeight 20 / maxWeight 50."""
    assert run_canary(Analysis(step_weight=20, max_weight=50)).primaries == [100, 80, 60, 40]


def test_mirror_sequence() -> None:
    """Mirroring first (weight 0, mirrored), then the first real step stops mirroring."""
    analysis = Analysis(step_weight=20, max_weight=40, mirror=True)
    first = canary_step(analysis, ALL_PRIMARY)
    assert first == Advance(routes=MIRRORED, weight=0, needs_traffic_gate=True)
    second = canary_step(analysis, MIRRORED)
    assert second == Advance(
        routes=Routes(primary=80, canary=20), weight=20, needs_traffic_gate=False
    )
    assert run_canary(analysis).weights == [0, 20, 40, P]


def test_mirror_step_weights() -> None:
    analysis = Analysis(step_weights=(5, 50), mirror=True)
    assert run_canary(analysis).weights == [0, 5, 50, P]


def test_no_progress_without_a_step() -> None:
    assert canary_step(Analysis(), ALL_PRIMARY) == NoProgress()
    assert canary_step(Analysis(), ALL_CANARY) == NoProgress()  # Flagger's order: step first


def test_gates() -> None:
    analysis = Analysis(step_weight=50)
    advance = canary_step(analysis, ALL_PRIMARY)
    ready = canary_step(analysis, ALL_CANARY)
    assert advance.needs_traffic_gate and not advance.needs_promotion_gate
    assert ready == ReadyToPromote(needs_traffic_gate=True)
    assert ready.needs_promotion_gate
    nothing = canary_step(Analysis(), ALL_PRIMARY)
    assert not nothing.needs_traffic_gate and not nothing.needs_promotion_gate


def test_weight_not_in_step_weights_jumps_to_full() -> None:
    """After a manual edit to 5 % the next step goes to 100 (rule 5 of nextStepWeight)."""
    analysis = Analysis(step_weights=(10, 20, 30))
    assert run_canary(analysis, start=Routes(primary=95, canary=5)).weights == [100, P]


# -- Routes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("primary", "canary"), [(50, 40), (101, -1), (-1, 101), (0, 0), (100, 100)]
)
def test_routes_rejects_bad_weights(primary: int, canary: int) -> None:
    with pytest.raises(ValueError, match="weights must"):
        Routes(primary=primary, canary=canary)


# -- Blue/Green: tick traces of §2.12.2 ----------------------------------------------------


def run_blue_green(
    *, iterations: int, mirror: bool, routes_traffic: bool, limit: int = 50
) -> list[tuple[str, int, Routes, bool]]:
    """Successful ticks with every gate passing: (kind, status.iterations, routes, gate asked)."""
    routes, done = ALL_PRIMARY, 0
    trace: list[tuple[str, int, Routes, bool]] = []
    for _ in range(limit):
        step = blue_green_step(
            iterations=iterations,
            done=done,
            mirror=mirror,
            mirrored=routes.mirrored,
            routes_traffic=routes_traffic,
        )
        match step:
            case Iterate(done=done, routes=new) | SwitchToCanary(done=done, routes=new):
                routes = new or routes
                kind = "iterate" if isinstance(step, Iterate) else "switch"
                trace.append((kind, done, routes, step.needs_promotion_gate))
            case Promote():
                trace.append(("promote", done, routes, step.needs_promotion_gate))
                return trace
    raise AssertionError("no promotion")


def test_blue_green_one_iteration() -> None:
    """`TestScheduler_DeploymentBlueGreenAnalysisPhases`: iterate, switch, promote."""
    assert run_blue_green(iterations=1, mirror=False, routes_traffic=True) == [
        ("iterate", 1, ALL_PRIMARY, False),
        ("switch", 2, ALL_CANARY, True),
        ("promote", 2, ALL_CANARY, True),
    ]


def test_blue_green_three_iterations() -> None:
    assert run_blue_green(iterations=3, mirror=False, routes_traffic=True) == [
        ("iterate", 1, ALL_PRIMARY, False),
        ("iterate", 2, ALL_PRIMARY, False),
        ("iterate", 3, ALL_PRIMARY, False),
        ("switch", 4, ALL_CANARY, True),
        ("promote", 4, ALL_CANARY, True),
    ]


def test_blue_green_mirroring() -> None:
    assert run_blue_green(iterations=3, mirror=True, routes_traffic=True) == [
        ("iterate", 1, MIRRORED, False),
        ("iterate", 2, MIRRORED, False),
        ("iterate", 3, MIRRORED, False),
        ("switch", 4, ALL_CANARY, True),
        ("promote", 4, ALL_CANARY, True),
    ]
    assert run_blue_green(iterations=1, mirror=True, routes_traffic=True)[0][2] == MIRRORED


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("iterations", [1, 3])
def test_blue_green_without_routing(iterations: int, mirror: bool) -> None:
    """Kubernetes provider: no routes ever, but the switch tick still counts."""
    trace = run_blue_green(iterations=iterations, mirror=mirror, routes_traffic=False)
    kinds = ["iterate"] * iterations + ["switch", "promote"]
    assert [entry[0] for entry in trace] == kinds
    assert [entry[1] for entry in trace] == [*range(1, iterations + 2), iterations + 1]
    assert {entry[2] for entry in trace} == {ALL_PRIMARY}


def test_blue_green_branches() -> None:
    step = blue_green_step(iterations=2, done=0, mirror=True, mirrored=False, routes_traffic=True)
    assert step == Iterate(done=1, routes=MIRRORED) and step.mirror_now
    again = blue_green_step(iterations=2, done=1, mirror=True, mirrored=True, routes_traffic=True)
    assert again == Iterate(done=2) and not again.mirror_now
    assert blue_green_step(
        iterations=2, done=2, mirror=True, mirrored=True, routes_traffic=True
    ) == SwitchToCanary(routes=ALL_CANARY, done=3, stops_mirroring=True)
    assert blue_green_step(
        iterations=2, done=2, mirror=True, mirrored=True, routes_traffic=False
    ) == SwitchToCanary(routes=None, done=3)
    assert (
        blue_green_step(iterations=2, done=7, mirror=False, mirrored=False, routes_traffic=True)
        == Promote()
    )


def test_blue_green_waiting_promotion() -> None:
    """§4.3: Flagger's `iterations - 1` makes the next tick iterate without asking
    confirm-promotion; keeping status.iterations (Ensign's fix) asks it on every tick."""

    def next_step(done: int) -> object:
        return blue_green_step(
            iterations=3, done=done, mirror=False, mirrored=False, routes_traffic=True
        )

    flagger = waiting_promotion_iterations(Analysis(iterations=3))
    assert next_step(flagger) == Iterate(done=3)  # quirk: no gate on this tick
    for kept in (3, 4):  # refused on the switch tick / on the promoting tick
        step = next_step(kept)
        assert isinstance(step, SwitchToCanary | Promote) and step.needs_promotion_gate


# -- A/B -----------------------------------------------------------------------------------


def test_ab_trace() -> None:
    """Route and count on ticks 1..N, then promote behind confirm-promotion on tick N+1."""
    done, trace = 0, []
    while not isinstance(step := ab_step(iterations=3, done=done), Promote):
        assert step.routes == ALL_CANARY and not step.needs_promotion_gate
        done = step.done
        trace.append(done)
    assert trace == [1, 2, 3]
    assert step.needs_promotion_gate


def test_ab_past_iterations_promotes() -> None:
    """Fixed Flagger hang: iterations lowered below status.iterations mid-run."""
    assert ab_step(iterations=2, done=5) == Promote()


# -- promotion traffic shift (§2.13) -------------------------------------------------------


def run_promotion(*, step_weight_promotion: int, routes: Routes) -> list[int | str]:
    """Canary weights through Promoting, ending with "F" when Finalising is entered."""
    weights: list[int | str] = [routes.canary]
    for _ in range(102):
        shift = promotion_shift(
            step_weight_promotion=step_weight_promotion, routes=routes, routes_traffic=True
        )
        match shift:
            case Shift(routes=new):
                assert new.primary > routes.primary
                routes = new
                weights.append(new.canary)
            case Finalise(routes=new):
                assert new == ALL_PRIMARY
                return [*weights, new.canary, "F"]
    raise AssertionError("never finalised")


@pytest.mark.parametrize(
    ("step", "routes", "expected"),
    [
        (50, ALL_CANARY, [100, 50, 0, "F"]),  # TestScheduler_DeploymentAnalysisPhases
        (0, ALL_CANARY, [100, 0, "F"]),
        (0, Routes(primary=40, canary=60), [60, 0, "F"]),
        (30, Routes(primary=40, canary=60), [60, 30, 0, "F"]),
        (100, ALL_CANARY, [100, 0, "F"]),
        (50, ALL_PRIMARY, [0, 0, "F"]),  # Flagger stays in Promoting here; Ensign finalises
    ],
    ids=["analysis-phases", "one-shot", "one-shot-partial", "capped", "one-step", "quirk-fixed"],
)
def test_promotion_shift(step: int, routes: Routes, expected: list[int | str]) -> None:
    assert run_promotion(step_weight_promotion=step, routes=routes) == expected


def test_promotion_shift_kinds() -> None:
    half = Routes(primary=50, canary=50)
    assert promotion_shift(
        step_weight_promotion=50, routes=ALL_CANARY, routes_traffic=True
    ) == Shift(routes=half)
    assert promotion_shift(step_weight_promotion=50, routes=half, routes_traffic=True) == Finalise(
        routes=ALL_PRIMARY, by_step=True
    )
    assert promotion_shift(step_weight_promotion=0, routes=half, routes_traffic=True) == Finalise(
        routes=ALL_PRIMARY
    )
    assert promotion_shift(
        step_weight_promotion=50, routes=ALL_PRIMARY, routes_traffic=True
    ) == Finalise(routes=ALL_PRIMARY)
    mirrored_leftover = promotion_shift(
        step_weight_promotion=10, routes=MIRRORED, routes_traffic=True
    )
    assert mirrored_leftover == Finalise(routes=ALL_PRIMARY)
    assert promotion_shift(
        step_weight_promotion=50, routes=ALL_CANARY, routes_traffic=False
    ) == Finalise(routes=None)


# -- WaitingPromotion (§4.3) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        (Analysis(step_weight=10), -1),
        (Analysis(iterations=1), 0),
        (Analysis(iterations=10), 9),
        (Analysis(iterations=3, match=({"headers": {}},)), 2),
    ],
    ids=["canary", "blue-green-1", "blue-green-10", "ab"],
)
def test_waiting_promotion_iterations_is_flaggers(analysis: Analysis, expected: int) -> None:
    assert waiting_promotion_iterations(analysis) == expected
