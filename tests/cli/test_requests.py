"""`ensign promote|abort|pause|resume`: a request annotation, an audit record, an outcome."""

from __future__ import annotations

from pathlib import Path

from ensign.testing import manifests as m
from tests.cli.support import MANUAL, NS, audit, canary, cluster, ensign, set_image, status

USER = "ensign-admin"  # the user of the Harness kubeconfig's current context


async def test_promote_releases_a_canary_held_for_manual_promotion(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(m.deployment(), canary(iterations=1, annotations=MANUAL))
        await h.wait_phase(NS, "podinfo", "Initialized")
        set_image(h)
        await h.wait_phase(NS, "podinfo", "WaitingPromotion")
        revision = status(h)["lastAppliedSpec"]

        result = await ensign("promote", "podinfo", "--as-user", "alice", kubeconfig)

        assert result.code == 0, result.err
        assert "promote test/podinfo: approved revision for promotion (by alice" in result.out
        await h.wait_phase(NS, "podinfo", "Succeeded")
        [entry] = audit(h, "promote")
        assert entry["user"] == "alice" and entry["revision"] == revision
        assert entry["phase"] == "WaitingPromotion" and entry["id"] in result.out
        assert any("Promote by alice" in e for e in h.events(NS))


async def test_abort_during_progressing_rolls_back(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(m.deployment(), canary(iterations=30))
        await h.wait_phase(NS, "podinfo", "Initialized")
        set_image(h)
        await h.wait_phase(NS, "podinfo", "Progressing")

        result = await ensign("abort", "podinfo", "-n", NS, kubeconfig)

        assert result.code == 0, result.err
        assert "rolled back" in result.out
        await h.wait_phase(NS, "podinfo", "Failed")
        [entry] = audit(h, "abort")
        assert (entry["user"], entry["phase"], entry["outcome"]) == (
            USER,
            "Progressing",
            "rolled back",
        )


async def test_pause_then_resume_toggles_suspend_and_records_both(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(m.deployment(), canary())
        await h.wait_phase(NS, "podinfo", "Initialized")

        paused = await ensign("pause", "podinfo", kubeconfig)
        assert paused.code == 0, paused.err
        assert h.canary(NS, "podinfo")["spec"]["suspend"] is True
        resumed = await ensign("resume", "podinfo", "--as-user", "bob", kubeconfig)
        assert resumed.code == 0, resumed.err
        assert h.canary(NS, "podinfo")["spec"]["suspend"] is False

        assert [(a["action"], a["user"]) for a in status(h)["audit"]] == [
            ("pause", USER),
            ("resume", "bob"),
        ]


async def test_a_request_nobody_records_exits_3(tmp_path: Path) -> None:
    async with cluster(tmp_path, start_controller=False) as (h, kubeconfig):
        await h.apply(m.deployment(), canary())
        result = await ensign("promote", "podinfo", "--timeout", "0.5", kubeconfig)
        assert result.code == 3
        assert "not recorded within 0.5s" in result.err
        request = h.canary(NS, "podinfo")["metadata"]["annotations"]["ensign.dev/request"]
        assert '"verb":"promote"' in request and f'"user":"{USER}"' in request

        sent = await ensign("pause", "podinfo", "--no-wait", kubeconfig)
        assert sent.code == 0 and h.canary(NS, "podinfo")["spec"]["suspend"] is True

        missing = await ensign("abort", "nope", kubeconfig)
        assert missing.code == 4 and "not found" in missing.err
