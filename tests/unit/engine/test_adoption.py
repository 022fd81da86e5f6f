"""Recognising what Flagger left and planning its adoption (engine/adoption.py,
workloads/flagger_copy.py): pure, table-driven."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from ensign.engine.actions import RecordEvent, ScaleTarget, SetRoutes
from ensign.engine.adoption import FlaggerLeftovers, Verdict, is_flagger_status, plan_adoption
from ensign.engine.decide import Decision, decide
from ensign.engine.observations import Readiness, Snapshot
from ensign.engine.phases import Phase
from ensign.engine.status import parse_status
from ensign.engine.weights import ALL_PRIMARY, Routes
from ensign.model import parse_canary
from ensign.model.capabilities import Capability
from ensign.testing import manifests as m
from ensign.workloads.flagger_copy import comparable_target, leftovers
from ensign.workloads.primary import render_primary_daemonset, render_primary_deployment
from ensign.workloads.revision import revision_hash

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
UUID = "7e551c47-4a90-48a4-9038-510da25743a0"
TRACKED = {("configmap", "podinfo-config")}
CANARY = {**m.canary(), "metadata": {"name": "podinfo", "namespace": "test", "uid": "u1"}}


def target(kind: str = "Deployment") -> dict[str, Any]:
    body = m.deployment(env_from_configmap="podinfo-config")
    body["kind"] = kind
    pod = body["spec"]["template"]["spec"]
    pod["affinity"] = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "podinfo"}}, "topologyKey": "zone"}
            ]
        }
    }
    body["spec"]["template"]["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/x": "1"}
    if kind == "DaemonSet":
        del body["spec"]["replicas"]
    return body


def flagger_primary(source: dict[str, Any]) -> dict[str, Any]:
    """The primary Flagger made from `source`: Ensign renders the same renames; Flagger's
    flagger-id is a random UUID."""
    render = (
        render_primary_deployment if source["kind"] == "Deployment" else render_primary_daemonset
    )
    primary = render(
        source,
        canary=CANARY,
        label="app",
        value="podinfo",
        tracked=TRACKED,
        include_label_prefixes=(),
        revision="whatever",
    )
    primary["spec"]["template"]["metadata"]["annotations"]["flagger-id"] = UUID
    return primary


def found(tgt: dict[str, Any], primary: dict[str, Any] | None) -> FlaggerLeftovers:
    return leftovers(
        tgt,
        primary,
        kind=tgt["kind"],
        label="app",
        value="podinfo",
        tracked=TRACKED,
        selector_labels=("app", "name", "app.kubernetes.io/name"),
    )


def scaled_to_zero(body: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["spec"]["template"]["spec"]["nodeSelector"] = {"flagger.app/scale-to-zero": "true"}
    return out


def new_image(body: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/stefanprodan/podinfo:7"
    return out


@pytest.mark.parametrize(
    ("kind", "change", "same"),
    [
        ("Deployment", lambda b: b, True),
        ("Deployment", new_image, False),
        ("DaemonSet", lambda b: b, True),
        ("DaemonSet", scaled_to_zero, True),  # Flagger's scale to zero is not a revision
        ("DaemonSet", new_image, False),
    ],
    ids=["deployment", "deployment-changed", "daemonset", "daemonset-at-zero", "ds-changed"],
)
def test_the_primary_is_compared_with_its_renames_undone(
    kind: str, change: Any, same: bool
) -> None:
    source = target(kind)
    primary = flagger_primary(source)
    now = change(source)
    result = found(now, primary)
    assert result.target_matches_primary is same
    # What the primary runs hashes like the target it was copied from (when the target
    # changed since, without the toolkit keys Flagger does not copy).
    copied_from = source if same else comparable_target(source)
    assert result.primary_revision == revision_hash(copied_from, kind=kind)


@pytest.mark.parametrize(
    ("applied", "promoted", "phase", "flagger"),
    [
        ("5654db9c49", "6f66c94c86", "Succeeded", True),  # Flagger's safe-encoded FNV
        ("0123456789abcdef", "0123456789abcdef", "Succeeded", False),  # Ensign's
        ("", "", "Initializing", False),
        ("5654db9c49", "", "", False),
    ],
)
def test_flagger_status_is_recognised_by_its_hashes(
    applied: str, promoted: str, phase: str, flagger: bool
) -> None:
    raw = {"phase": phase, "lastAppliedSpec": applied, "lastPromotedSpec": promoted}
    assert is_flagger_status(parse_status(raw)) is flagger


def snapshot(
    phase: str,
    *,
    revision: str = "aaaaaaaaaaaaaaaa",
    primary_revision: str = "aaaaaaaaaaaaaaaa",
    routes: Routes = ALL_PRIMARY,
    target_ready: bool = True,
    primary_ready: bool = True,
    primary_exists: bool = True,
) -> Snapshot:
    raw = {
        "phase": phase,
        "lastAppliedSpec": "5654db9c49",
        "lastPromotedSpec": "6f66c94c86",
        "canaryWeight": routes.canary,
        "iterations": 1,
        "trackedConfigs": {"configmap/podinfo-config": "f234cb93c08ad64e"},
    }
    return Snapshot(
        canary=parse_canary(CANARY),
        status=parse_status(raw),
        target_kind="Deployment",
        revision=revision,
        configs={"configmap/podinfo-config": "f234cb93c08ad64e"},
        primary_exists=primary_exists,
        primary=Readiness(ready=primary_ready, message="" if primary_ready else "primary down"),
        target=Readiness(ready=target_ready, message="" if target_ready else "canary down"),
        routes=routes,
        capabilities=frozenset({Capability.TRAFFIC}),
        flagger=FlaggerLeftovers(
            primary_revision=primary_revision,
            target_matches_primary=revision == primary_revision,
        ),
    )


W20 = Routes(primary=80, canary=20)


@pytest.mark.parametrize(
    ("snap", "verdict", "phase", "applied", "promoted"),
    [
        (snapshot("Succeeded"), Verdict.ADOPT, "Succeeded", "a" * 16, "a" * 16),
        (snapshot("Initialized"), Verdict.ADOPT, "Initialized", "a" * 16, "a" * 16),
        # The target changed while nobody watched: adopted at the primary's revision.
        (snapshot("Succeeded", revision="b" * 16), Verdict.ADOPT, "Succeeded", "a" * 16, "a" * 16),
        (snapshot("Failed", revision="b" * 16), Verdict.ADOPT, "Failed", "b" * 16, "a" * 16),
        (snapshot("Waiting", revision="b" * 16), Verdict.ADOPT, "Waiting", "a" * 16, "a" * 16),
        (snapshot("Promoting", revision="b" * 16, routes=W20, target_ready=False),
         Verdict.RESUME, "Promoting", "b" * 16, "a" * 16),
        (snapshot("Progressing", revision="b" * 16, routes=W20), Verdict.RESUME, "Progressing",
         "b" * 16, "a" * 16),
        (snapshot("WaitingPromotion", revision="b" * 16), Verdict.RESUME, "WaitingPromotion",
         "b" * 16, "a" * 16),
        (snapshot("Progressing", revision="b" * 16, routes=W20, target_ready=False),
         Verdict.RESTART, "Progressing", "b" * 16, "a" * 16),
        (snapshot("Progressing", routes=W20, target_ready=False, primary_ready=False),
         Verdict.REFUSE, "Progressing", "5654db9c49", "6f66c94c86"),
        (snapshot("Succeeded", primary_exists=False), Verdict.REFUSE, "Succeeded", "5654db9c49",
         "6f66c94c86"),
    ],
    ids=["succeeded", "initialized", "succeeded-changed", "failed", "waiting", "promoting",
         "progressing", "waiting-promotion",
         "restart", "refuse-nothing-ready", "refuse-no-primary"],
)  # fmt: skip
def test_plan(snap: Snapshot, verdict: Verdict, phase: str, applied: str, promoted: str) -> None:
    plan = plan_adoption(snap)
    assert plan.verdict is verdict
    decision = decide(snap, {}, now=NOW)
    assert isinstance(decision, Decision)
    assert (str(decision.status.phase), decision.status.last_applied_spec) == (phase, applied)
    assert decision.status.last_promoted_spec == promoted
    # Never a write but the status, an Event, and for a restart the traffic to the primary.
    moved = [a for a in decision.actions if not isinstance(a, RecordEvent)]
    assert moved == (
        [SetRoutes(routes=Routes(primary=100, canary=0))] if verdict is Verdict.RESTART else []
    )
    assert plan.traffic_writes is (verdict is Verdict.RESTART)


def test_a_change_made_while_flagger_was_stopped_is_analysed_next() -> None:
    snap = snapshot("Succeeded", revision="b" * 16)
    adopted = decide(snap, {}, now=NOW)
    assert isinstance(adopted, Decision)
    following = Snapshot(**{**_fields(snap), "status": adopted.status, "flagger": None})
    nxt = decide(following, {}, now=NOW)
    assert isinstance(nxt, Decision)
    assert nxt.status.phase is Phase.PROGRESSING
    assert ScaleTarget(up=True) in nxt.actions


def _fields(snap: Snapshot) -> dict[str, Any]:
    return {name: getattr(snap, name) for name in Snapshot.__dataclass_fields__}
