"""Hypothesis properties of the stepping arithmetic: routes stay valid, canary weights only
rise and reach promotion in a bounded number of steps, promotion never takes traffic away
from the primary."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ensign.engine.weights import (
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
    promotion_shift,
)
from ensign.model import Analysis

percent = st.integers(min_value=0, max_value=100)
mirrored = st.booleans()


@st.composite
def routes(draw: st.DrawFn) -> Routes:
    canary = draw(percent)
    # mirroring only exists at canary weight 0 in practice, but any flag must be handled
    return Routes(primary=100 - canary, canary=canary, mirrored=draw(mirrored))


@st.composite
def canary_analyses(draw: st.DrawFn) -> Analysis:
    """Valid canary-strategy analyses: stepWeight (+ maxWeight) or increasing stepWeights
    (the last one may exceed 100, as Flagger accepts)."""
    mirror = draw(st.booleans())
    if draw(st.booleans()):
        return Analysis(
            step_weight=draw(st.integers(1, 100)),
            max_weight=draw(st.integers(0, 100)),
            mirror=mirror,
        )
    weights = draw(st.lists(st.integers(1, 100), min_size=1, max_size=12, unique=True))
    weights.sort()
    if draw(st.booleans()):
        weights.append(draw(st.integers(weights[-1] + 1, 300)))
    return Analysis(
        step_weights=tuple(weights), max_weight=draw(st.integers(0, 100)), mirror=mirror
    )


@given(st.integers(-300, 300), st.integers(-300, 300), mirrored)
def test_routes_invariant(primary: int, canary: int, is_mirrored: bool) -> None:
    valid = 0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100
    try:
        Routes(primary=primary, canary=canary, mirrored=is_mirrored)
    except ValueError:
        assert not valid
    else:
        assert valid


@given(canary_analyses(), routes())
def test_canary_weight_only_rises_and_promotion_is_reached(
    analysis: Analysis, start: Routes
) -> None:
    current, advances = start, 0
    while isinstance(step := canary_step(analysis, current), Advance):
        assert step.routes.canary >= current.canary
        assert step.weight == step.routes.canary
        assert current.canary < max_weight(analysis)  # stops rising once at the max
        current = step.routes
        advances += 1
        assert advances <= 101
    assert isinstance(step, ReadyToPromote)
    assert current.canary >= max_weight(analysis)


@given(canary_analyses(), routes())
def test_canary_step_is_deterministic(analysis: Analysis, start: Routes) -> None:
    assert canary_step(analysis, start) == canary_step(analysis, start)


@given(st.integers(-100, 100), routes())
def test_canary_without_steps_never_moves(step_weight: int, start: Routes) -> None:
    analysis = Analysis(step_weight=min(step_weight, 0))
    assert canary_step(analysis, start) == NoProgress()


@given(st.integers(0, 100), routes(), st.booleans())
def test_promotion_shift_never_lowers_the_primary(
    step_weight_promotion: int, start: Routes, routes_traffic: bool
) -> None:
    current = start
    for _ in range(102):
        shift = promotion_shift(
            step_weight_promotion=step_weight_promotion,
            routes=current,
            routes_traffic=routes_traffic,
        )
        match shift:
            case Shift(routes=new):
                assert new.primary > current.primary and not new.mirrored
                current = new
            case Finalise(routes=new):
                assert new is None or (new.primary == 100 and new.primary >= current.primary)
                assert routes_traffic == (new is not None)
                return
    raise AssertionError("never finalised")


@given(st.integers(1, 50), st.booleans(), st.booleans())
def test_blue_green_terminates(iterations: int, mirror: bool, routes_traffic: bool) -> None:
    done, is_mirrored, ticks = 0, False, 0
    step = blue_green_step(
        iterations=iterations,
        done=done,
        mirror=mirror,
        mirrored=False,
        routes_traffic=routes_traffic,
    )
    while not isinstance(step, Promote):
        assert isinstance(step, Iterate | SwitchToCanary)
        assert step.done == done + 1
        assert step.needs_promotion_gate == isinstance(step, SwitchToCanary)
        if step.routes is not None:
            assert routes_traffic
            is_mirrored = step.routes.mirrored
        done, ticks = step.done, ticks + 1
        step = blue_green_step(
            iterations=iterations,
            done=done,
            mirror=mirror,
            mirrored=is_mirrored,
            routes_traffic=routes_traffic,
        )
    assert ticks == iterations + 1


@given(st.integers(0, 50), st.integers(0, 60))
def test_ab_promotes_exactly_when_iterations_are_done(iterations: int, done: int) -> None:
    step = ab_step(iterations=iterations, done=done)
    assert isinstance(step, Promote) == (done >= iterations)
