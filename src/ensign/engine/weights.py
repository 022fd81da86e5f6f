"""Weight and iteration arithmetic of the rollout strategies. Pure.

One function per decision Flagger's scheduler makes about traffic: the canary strategy's next
step, Blue/Green and A/B iteration ticks, and the traffic shift back to the primary while
promoting. Each returns a small frozen value saying what to do; the engine turns it into
actions, status and events. Nothing here reads a clock, calls a client or logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ensign.model import Analysis

FULL = 100
"""All the traffic, in percent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Routes:
    """Traffic split between primary and canary, in percent, plus whether the canary is mirrored.

    Invariant: both weights are within 0..100 and sum to 100 (`ValueError` otherwise).
    """

    primary: int
    canary: int
    mirrored: bool = False

    def __post_init__(self) -> None:
        if not (0 <= self.primary <= FULL and 0 <= self.canary <= FULL):
            raise ValueError(f"weights must be within 0..100 (got {self.primary}/{self.canary})")
        if self.primary + self.canary != FULL:
            raise ValueError(f"weights must sum to 100 (got {self.primary}/{self.canary})")


ALL_PRIMARY = Routes(primary=FULL, canary=0)
ALL_CANARY = Routes(primary=0, canary=FULL)
MIRRORED = Routes(primary=FULL, canary=0, mirrored=True)


def max_weight(analysis: Analysis) -> int:
    """Canary weight at which promotion starts (Flagger's `maxWeight`).

    min(100, last of `step_weights`) when they are set (an explicit `max_weight` is then
    ignored), else `max_weight`, else 100.
    """
    if analysis.step_weights:
        return min(FULL, analysis.step_weights[-1])
    return analysis.max_weight if analysis.max_weight > 0 else FULL


def next_step_weight(analysis: Analysis, current: int) -> int:
    """How much canary weight the next step adds from `current` (Flagger's `nextStepWeight`).

    `step_weight` wins when set, and is returned as is even when 0 (no stepping at all). With
    `step_weights`: 1 once the canary holds all traffic (so the caller reaches promotion), the
    first entry from 0, the gap to the following entry when `current` is an entry, and the
    rest up to 100 when `current` is not an entry (e.g. after the routes were edited by hand).
    Every answer from `step_weights` is capped by what is left up to 100.
    """
    weights = analysis.step_weights
    if analysis.step_weight > 0 or not weights:
        return analysis.step_weight
    left = FULL - current
    if left == 0:
        return 1
    if current == 0:
        return min(left, weights[0])
    for index, weight in enumerate(weights[:-1]):
        if weight == current:
            return min(left, weights[index + 1] - current)
    return left


@dataclass(frozen=True, slots=True, kw_only=True)
class Advance:
    """Set `routes` and write `weight` to `status.canaryWeight`.

    `needs_traffic_gate`: Flagger asks the confirm-traffic-increase hooks first, except when
    the canary is currently mirrored (and, decided by the caller, in Promoting,
    WaitingPromotion and Finalising).
    """

    routes: Routes
    weight: int
    needs_traffic_gate: bool
    needs_promotion_gate: ClassVar[bool] = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadyToPromote:
    """The canary reached the max weight: promote once the confirm-promotion hooks pass.

    Flagger also asks confirm-traffic-increase on this tick (`needs_traffic_gate`, same
    exceptions as for `Advance`), because it checks for a next step before it compares the
    weight with the maximum.
    """

    needs_traffic_gate: bool
    needs_promotion_gate: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class NoProgress:
    """Nothing to do: no next step (`step_weight` 0 and no `step_weights`, or `step_weights`
    that do not increase, which the parser rejects)."""

    needs_traffic_gate: ClassVar[bool] = False
    needs_promotion_gate: ClassVar[bool] = False


CanaryStep = Advance | ReadyToPromote | NoProgress


def canary_step(analysis: Analysis, routes: Routes) -> CanaryStep:
    """What one successful analysis tick of the canary strategy does (Flagger's `runCanary`).

    The order is Flagger's: no next step → `NoProgress` (even at the max weight); canary weight
    >= max weight → `ReadyToPromote`; otherwise `Advance`. With `analysis.mirror` and canary
    weight 0 the first step only turns mirroring on (100/0 mirrored) and the next one sends
    the step weight to the canary (100-s/s, no longer mirrored).

    Overshoot, kept on purpose: the step is added while the canary is below the max weight
    and only capped at 100, so stepWeight 20 with maxWeight 50 runs 20, 40, 60, then
    promotes. Flagger's docs describe this and users' dashboards, alerts and run-time
    estimates depend on it, so Ensign does not clamp to the max weight (pinned by the
    `overshoot` table test).
    """
    step = next_step_weight(analysis, routes.canary)
    if step <= 0:
        return NoProgress()
    gate = not routes.mirrored
    if routes.canary >= max_weight(analysis):
        return ReadyToPromote(needs_traffic_gate=gate)
    if analysis.mirror and routes.canary == 0:
        if not routes.mirrored:
            return Advance(routes=MIRRORED, weight=0, needs_traffic_gate=gate)
        canary = min(FULL, step)
        return Advance(
            routes=Routes(primary=FULL - canary, canary=canary),
            weight=canary,
            needs_traffic_gate=gate,
        )
    canary = min(FULL, routes.canary + step)
    primary = max(0, routes.primary - step)
    return Advance(
        routes=Routes(primary=primary, canary=canary), weight=canary, needs_traffic_gate=gate
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Iterate:
    """Count one more iteration: write `done` to `status.iterations`, event `iteration done/N`.

    `routes`, when set, are applied first: Blue/Green turning mirroring on (100/0 mirrored),
    A/B sending the matching requests to the canary (0/100) on every iteration tick.
    No gate is asked.
    """

    done: int
    routes: Routes | None = None
    needs_promotion_gate: ClassVar[bool] = False

    @property
    def mirror_now(self) -> bool:
        """Whether this tick starts traffic mirroring (Blue/Green)."""
        return self.routes is not None and self.routes.mirrored


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchToCanary:
    """Blue/Green after the last iteration: route all traffic to the canary, count one more.

    Asked only once confirm-promotion passed. `routes` is None when the provider does not
    route traffic (kubernetes): then only `done` is written. `stops_mirroring` selects the
    event wording (`Stop traffic mirroring and route all traffic to canary`).
    """

    routes: Routes | None
    done: int
    stops_mirroring: bool = False
    needs_promotion_gate: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Promote:
    """Copy the target to the primary and enter Promoting, once confirm-promotion passed."""

    needs_promotion_gate: ClassVar[bool] = True


BlueGreenStep = Iterate | SwitchToCanary | Promote
ABStep = Iterate | Promote
IterationStep = BlueGreenStep
"""Either strategy's iteration step (A/B never returns `SwitchToCanary`)."""


def blue_green_step(
    *, iterations: int, done: int, mirror: bool, mirrored: bool, routes_traffic: bool
) -> BlueGreenStep:
    """One successful analysis tick of Blue/Green (Flagger's `runBlueGreen`).

    `done` is `status.iterations`. Iterations still to run → `Iterate` (turning mirroring on
    when `mirror`, the provider routes traffic and the canary is not mirrored yet); the last
    iteration done → `SwitchToCanary`; past it → `Promote`. The last two need the
    confirm-promotion gate (`needs_promotion_gate`), so with N iterations confirm-promotion
    is asked on ticks N+1 and N+2.
    """
    if iterations > done:
        start_mirroring = routes_traffic and mirror and not mirrored
        return Iterate(done=done + 1, routes=MIRRORED if start_mirroring else None)
    if iterations == done:
        return SwitchToCanary(
            routes=ALL_CANARY if routes_traffic else None,
            done=done + 1,
            stops_mirroring=routes_traffic and mirror,
        )
    return Promote()


def ab_step(*, iterations: int, done: int) -> ABStep:
    """One successful analysis tick of A/B testing (Flagger's `runAB`).

    Iterations still to run → `Iterate` with routes 0/100 (the router sends the matching
    requests to the canary); otherwise `Promote` behind the confirm-promotion gate.

    Fixed Flagger bug: Flagger promotes only when `iterations == done` and does nothing at
    all when `done` is past `iterations` (iterations lowered mid-run), so the run hangs
    forever. Ensign promotes whenever `done >= iterations`; nobody can depend on a hang.
    """
    if iterations > done:
        return Iterate(done=done + 1, routes=ALL_CANARY)
    return Promote()


@dataclass(frozen=True, slots=True, kw_only=True)
class Shift:
    """Move `step_weight_promotion` of traffic back to the primary; stay in Promoting.

    Event `Advance … primary weight <routes.primary>`; `status.canaryWeight` := routes.canary.
    """

    routes: Routes


@dataclass(frozen=True, slots=True, kw_only=True)
class Finalise:
    """Traffic is (or is now) all on the primary: enter Finalising.

    `routes` is None when the provider does not route traffic (kubernetes). `by_step` tells
    the event wording: True when a `step_weight_promotion` step got the primary to 100
    (`Advance … primary weight 100`), False for the one-shot switch (`Routing all traffic
    to primary`).
    """

    routes: Routes | None
    by_step: bool = False


PromotionShift = Shift | Finalise


def promotion_shift(
    *, step_weight_promotion: int, routes: Routes, routes_traffic: bool
) -> PromotionShift:
    """One Promoting tick's traffic shift back to the primary (Flagger's `runPromotionTrafficShift`).

    No routing (kubernetes provider) → `Finalise(routes=None)`; `step_weight_promotion` 0 →
    all traffic to the primary at once; otherwise primary += s and canary -= s (capped),
    finalising once the primary holds 100. The primary weight never goes down.

    Fixed Flagger quirk: with `step_weight_promotion > 0` and the router already reporting
    canary weight 0, Flagger does nothing and the canary stays in Promoting forever. Ensign
    sets 100/0 and finalises (a hang is not behaviour anyone can rely on).
    """
    if not routes_traffic:
        return Finalise(routes=None)
    if step_weight_promotion <= 0 or routes.canary == 0:
        return Finalise(routes=ALL_PRIMARY)
    primary = min(FULL, routes.primary + step_weight_promotion)
    if primary == FULL:
        return Finalise(routes=ALL_PRIMARY, by_step=True)
    return Shift(routes=Routes(primary=primary, canary=FULL - primary))


def waiting_promotion_iterations(analysis: Analysis) -> int:
    """The `status.iterations` Flagger writes on entering WaitingPromotion: `iterations - 1`.

    Quirk: for Blue/Green and A/B the next tick then runs one more iteration instead of asking
    confirm-promotion (re-emitting `iteration N/N`; B/G re-applies mirroring, even after the
    switch to the canary; with N=1 the count is back to 0, so pre-rollout hooks run again), so
    confirm-promotion is only asked every second tick. For the canary strategy it writes -1,
    which is harmless (iterations is not used for stepping).

    Ensign fixes it (recommended, and what `decide` does): leave `status.iterations` as it is
    on entering WaitingPromotion, so confirm-promotion is asked on every tick and promotion
    follows the first tick it opens. Writing `iterations` instead would not be enough for
    B/G: a refusal on the promoting tick (done N+1) would repeat the switch tick. This function
    pins Flagger's value for tests and docs/compatibility.md. Pass the analysis as the tick
    uses it (kubernetes provider: iterations already forced to 10).
    """
    return analysis.iterations - 1
