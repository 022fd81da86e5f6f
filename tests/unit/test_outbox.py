"""Outbox entries: deterministic ids per decision, Flagger's payload fields, order."""

from __future__ import annotations

from ensign.engine.actions import AlertKind, RecordEvent, RunHooks, SendAlert, SetRoutes
from ensign.engine.weights import Routes
from ensign.model import HookType
from ensign.runtime.outbox import entries_for, is_effect, pending
from ensign.runtime.own_writes import OwnWrites

BODY = {
    "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1", "resourceVersion": "41"},
    "status": {"phase": "Progressing", "lastAppliedSpec": "abc", "trackedConfigs": {}},
}
EFFECTS = (
    RecordEvent(warning=False, message="Promotion completed! Scaling down podinfo.test"),
    RunHooks(hook_type=HookType.POST_ROLLOUT, phase="Succeeded"),
    SendAlert(kind=AlertKind.SUCCEEDED),
)


def _entries(body: dict[str, object], phase: str = "Succeeded") -> dict[str, dict[str, object]]:
    return entries_for(EFFECTS, body=body, new_phase=phase, target_kind="Deployment")


def test_a_replayed_decision_gets_the_same_ids_another_decision_others() -> None:
    first = _entries(BODY)
    assert first == _entries(BODY)  # replayed from the same state: same ids, same entries
    assert all(len(i) == 10 and int(i, 16) >= 0 for i in first)
    moved = {**BODY, "metadata": {**BODY["metadata"], "resourceVersion": "42"}}  # type: ignore[dict-item]
    assert set(_entries(moved)).isdisjoint(first)
    assert set(_entries(BODY, phase="Failed")).isdisjoint(first)


def test_entries_carry_what_delivery_needs_in_order() -> None:
    entries = _entries(BODY)
    ordered = [e for _, e in pending({"outbox": entries})]
    assert [e["effect"] for e in ordered] == ["event", "hooks", "alert"]
    assert ordered[0]["phase"] == "Progressing"  # the phase the decision was made in
    assert ordered[1]["hookType"] == "post-rollout"
    assert ordered[2] == {
        "seq": 3,
        "effect": "alert",
        "alert": "succeeded",
        "detail": "",
        "targetKind": "Deployment",
    }
    # a later decision's entries come after the pending ones
    later = entries_for(
        (RecordEvent(warning=True, message="x"),),
        body={**BODY, "status": {**BODY["status"], "outbox": entries}},  # type: ignore[dict-item]
        new_phase="Succeeded",
        target_kind="Deployment",
    )
    assert [e["seq"] for e in later.values()] == [4]


def test_only_side_effects_go_through_the_outbox() -> None:
    assert all(is_effect(a) for a in EFFECTS)
    assert not is_effect(SetRoutes(routes=Routes(primary=100, canary=0)))


def test_own_writes_are_recognised_by_version() -> None:
    own = OwnWrites()
    obj = {"metadata": {"name": "a", "namespace": "n", "resourceVersion": "7"}}
    assert not own.is_own("Service", obj)
    own.record("Service", obj)
    assert own.is_own("Service", obj)
    assert not own.is_own("Deployment", obj)
    assert not own.is_own("Service", {"metadata": {**obj["metadata"], "resourceVersion": "8"}})
