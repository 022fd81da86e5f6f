"""Which moments of a run produce chat alerts (Flagger's catalogue, behaviour notes §6.3)."""

from __future__ import annotations

from ensign.engine.actions import AlertKind
from ensign.engine.phases import Phase
from ensign.engine.weights import ALL_PRIMARY
from ensign.model import HookType
from ensign.testing import manifests
from ensign.testing.simulate import Simulation, stuck

P = Phase
A = AlertKind


def kinds(sim: Simulation) -> list[AlertKind]:
    return [kind for _, kind, _ in sim.alerts]


def blue_green(**kwargs: object) -> Simulation:
    return Simulation(manifests.canary(iterations=2, threshold=2), **kwargs)  # type: ignore[arg-type]


def test_a_successful_release_alerts_initialized_new_revision_and_succeeded() -> None:
    sim = blue_green()
    sim.run_until(P.INITIALIZED)
    assert kinds(sim) == [A.INITIALIZED]
    sim.revision = "rev-2"
    sim.run_until(P.SUCCEEDED)
    assert kinds(sim) == [A.INITIALIZED, A.NEW_REVISION, A.SUCCEEDED]


def test_skip_analysis_alerts_the_skipped_promotion() -> None:
    body = manifests.canary(iterations=2, skip_analysis=True)
    sim = Simulation(body)
    sim.run_until(P.INITIALIZED)
    sim.revision = "rev-2"
    sim.run_until(P.SUCCEEDED)
    assert kinds(sim)[-1] is A.SKIPPED_SUCCEEDED


def test_threshold_rollback_alert_carries_the_count() -> None:
    body = manifests.canary(
        iterations=5, threshold=2, webhooks=[manifests.hook("ro", "rollout", "http://gate/ro")]
    )
    sim = Simulation(body, hooks={HookType.ROLLOUT: False})
    sim.run_until(P.INITIALIZED)
    sim.revision = "rev-2"
    sim.run_until(P.FAILED)
    assert sim.alerts[-1][1:] == (A.THRESHOLD_ROLLBACK, "2")


def test_waiting_for_promotion_alerts_once_and_mute_alert_silences_it() -> None:
    gate = manifests.hook("cp", "confirm-promotion", "http://gate/cp")
    sim = Simulation(
        manifests.canary(iterations=1, webhooks=[gate]), hooks={HookType.CONFIRM_PROMOTION: False}
    )
    sim.run_until(P.INITIALIZED)
    sim.revision = "rev-2"
    sim.run_until(P.WAITING_PROMOTION)
    sim.run(3)
    assert kinds(sim).count(A.WAITING_PROMOTION) == 1

    muted = manifests.hook("cp", "confirm-promotion", "http://gate/cp", muteAlert=True)
    quiet = Simulation(
        manifests.canary(iterations=1, webhooks=[muted]), hooks={HookType.CONFIRM_PROMOTION: False}
    )
    quiet.run_until(P.INITIALIZED)
    quiet.revision = "rev-2"
    quiet.run_until(P.WAITING_PROMOTION)
    quiet.run(2)
    assert A.WAITING_PROMOTION not in kinds(quiet)


def test_waiting_for_rollout_approval_alerts_once() -> None:
    gate = manifests.hook("cr", "confirm-rollout", "http://gate/cr")
    sim = Simulation(manifests.canary(webhooks=[gate]), hooks={HookType.CONFIRM_ROLLOUT: False})
    sim.run_until(P.INITIALIZED)
    sim.revision = "rev-2"
    sim.run(4)
    assert sim.phase == P.WAITING
    assert kinds(sim).count(A.WAITING_ROLLOUT) == 1


def test_a_stuck_canary_alerts_the_missed_progress_deadline() -> None:
    sim = blue_green()
    sim.run_until(P.INITIALIZED)
    sim.revision = "rev-2"
    sim.step()
    sim.target = stuck("deployment podinfo.test exceeded its progress deadline")
    sim.run_until(P.FAILED)
    assert sim.alerts[-1][1] is A.PROGRESS_DEADLINE
    assert sim.routes == ALL_PRIMARY
