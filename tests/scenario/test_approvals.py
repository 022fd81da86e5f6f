"""Built-in gates and the audit trail: promote, abort, pause and resume requests."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from ensign.testing import manifests as m
from ensign.testing.harness import Harness

NEW = "ghcr.io/stefanprodan/podinfo:6.8.0"


def request(h: Harness, verb: str, user: str) -> str:
    rid = str(uuid.uuid4())

    def annotate(obj: dict[str, Any]) -> dict[str, Any]:
        new = copy.deepcopy(obj)
        annotations = new["metadata"].setdefault("annotations", {})
        annotations["ensign.dev/request"] = json.dumps(
            {"id": rid, "verb": verb, "user": user, "at": "2026-11-26T12:00:00Z"}
        )
        return new

    h.patch("Canary", "test", "podinfo", annotate)
    return rid


def audit(h: Harness) -> list[dict[str, Any]]:
    return list(h.canary("test", "podinfo").get("status", {}).get("audit") or [])


async def test_manual_promotion_waits_for_an_approval_and_records_who_gave_it() -> None:
    async with Harness() as h:
        canary = m.canary(iterations=1)
        canary["metadata"]["annotations"] = {"ensign.dev/manual-promotion": "true"}
        await h.apply(m.namespace("test"), m.deployment(), canary)
        await h.wait_phase("test", "podinfo", "Initialized")
        h.set_image("test", "podinfo", NEW)
        await h.wait_phase("test", "podinfo", "WaitingPromotion")
        ready = next(
            c for c in h.canary("test", "podinfo")["status"]["conditions"] if c["type"] == "Ready"
        )
        assert ready["message"] == "waiting for approval: run `ensign promote podinfo -n test`"
        revision = h.canary("test", "podinfo")["status"]["lastAppliedSpec"]

        rid = request(h, "promote", "alice")
        await h.wait_phase("test", "podinfo", "Succeeded")
        entry = next(a for a in audit(h) if a["id"] == rid)
        assert (entry["action"], entry["user"], entry["revision"]) == ("promote", "alice", revision)
        assert entry["phase"] == "WaitingPromotion"
        assert "Promote by alice: approved revision for promotion" in h.events("test")
        history = h.canary("test", "podinfo")["status"].get("history") or []
        assert any(e["kind"] == "approval" and "alice" in e["message"] for e in history)


async def test_abort_rolls_back_and_is_audited_once() -> None:
    async with Harness() as h:
        await h.apply(m.namespace("test"), m.deployment(), m.canary(iterations=50))
        await h.wait_phase("test", "podinfo", "Initialized")
        h.set_image("test", "podinfo", NEW)
        await h.wait_phase("test", "podinfo", "Progressing")
        rid = request(h, "abort", "bob")
        await h.wait_phase("test", "podinfo", "Failed")
        entries = [a for a in audit(h) if a["id"] == rid]
        assert len(entries) == 1
        assert (entries[0]["action"], entries[0]["user"], entries[0]["outcome"]) == (
            "abort",
            "bob",
            "rolled back",
        )
        primary = h.get("Deployment", "test", "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"].endswith("6.7.0")
        assert h.get("Deployment", "test", "podinfo")["spec"]["replicas"] == 0  # type: ignore[index]
