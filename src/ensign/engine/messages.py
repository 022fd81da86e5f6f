"""Every event and status message the engine writes, in one place (Flagger's wording). Pure."""

from __future__ import annotations


def initialized(name: str, ns: str) -> str:
    return f"Initialization done! {name}.{ns}"


def new_revision(target: str, ns: str) -> str:
    return f"New revision detected! Scaling up {target}.{ns}"


def restart(target: str, ns: str) -> str:
    return f"New revision detected! Restarting analysis for {target}.{ns}"


def starting(target: str, ns: str) -> str:
    return f"Starting canary analysis for {target}.{ns}"


def check_passed(kind: str, hook: str) -> str:
    return f"{kind} check {hook} passed"


def halt_approval(name: str, ns: str, hook: str) -> str:
    return f"Halt {name}.{ns} advancement waiting for approval {hook}"


def halt_promotion(name: str, ns: str, hook: str) -> str:
    return f"Halt {name}.{ns} advancement waiting for promotion approval {hook}"


def halt_traffic(name: str, ns: str, hook: str) -> str:
    return f"Halt {name}.{ns} advancement waiting for traffic increase approval {hook}"


def halt_pre_rollout(name: str, ns: str, hook: str, err: str) -> str:
    return f"Halt {name}.{ns} advancement pre-rollout check {hook} failed {err}"


def halt_external(name: str, ns: str, hook: str, err: str) -> str:
    return f"Halt {name}.{ns} advancement external check {hook} failed {err}"


def advance_iteration(name: str, ns: str, done: int, total: int) -> str:
    return f"Advance {name}.{ns} canary iteration {done}/{total}"


def advance_weight(name: str, ns: str, weight: int) -> str:
    return f"Advance {name}.{ns} canary weight {weight}"


def advance_primary(name: str, ns: str, weight: int) -> str:
    return f"Advance {name}.{ns} primary weight {weight}"


def copying(target: str, ns: str) -> str:
    return f"Copying {target}.{ns} template spec to {target}-primary.{ns}"


def completed(target: str, ns: str) -> str:
    return f"Promotion completed! Scaling down {target}.{ns}"


def completed_skipped(target: str, ns: str) -> str:
    return f"Promotion completed! Canary analysis was skipped for {target}.{ns}"


def threshold_reached(name: str, ns: str, checks: int) -> str:
    return f"Rolling back {name}.{ns} failed checks threshold reached {checks}"


def canary_failed(name: str, ns: str) -> str:
    return f"Canary failed! Scaling down {name}.{ns}"


def manual_rollback(name: str, ns: str) -> str:
    return f"Rolling back {name}.{ns} manual webhook invoked"


def promotion_failed(target: str, ns: str, err: str) -> str:
    return f"Promotion of {target}.{ns} failed, primary not ready: {err}"


def gate_waiting(kind: str, url: str, detail: str) -> str:
    """Ready-condition text for a closed gate: says which gate, where, and what it answered."""
    return f"waiting for {kind} gate {url}: {detail}"
