"""`ensign status`: wait for the current rollout; 0 Succeeded, 1 Failed, 2 timeout."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from ensign.testing import manifests as m
from tests.cli.support import MANUAL, NS, canary, cluster, ensign, set_image

READY_AFTER = "localcluster.ensign.dev/ready-after"


async def test_status_exits_0_when_the_rollout_succeeds(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(m.deployment(), canary(iterations=2))
        await h.wait_phase(NS, "podinfo", "Initialized")

        idle = await ensign("status", "podinfo", "--timeout", "5s", kubeconfig)
        assert idle.code == 0, idle.out + idle.err
        assert "Initialized" in idle.out and "rollout succeeded" in idle.out

        set_image(h)  # the controller may not have seen it yet: the revision is pending
        result = await ensign("status", "podinfo", "--timeout", "30s", kubeconfig)

        assert result.code == 0, result.out + result.err
        phases = [line.split()[2] for line in result.out.splitlines() if "test/podinfo" in line]
        assert phases[-1] == "Succeeded" and "Progressing" in phases
        assert all(a != b for a, b in itertools.pairwise(phases)), phases
        assert h.phase(NS, "podinfo") == "Succeeded"


async def test_status_exits_1_when_the_rollout_fails(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(
            m.deployment(), canary(iterations=1, progress_deadline=3)
        )  # 1 s flaked under load
        await h.wait_phase(NS, "podinfo", "Initialized")
        set_image(h, annotations={READY_AFTER: "never"})

        result = await ensign("status", "podinfo", "--timeout", "30s", kubeconfig)

        assert result.code == 1, result.out + result.err
        assert "rollout failed" in result.out
        assert h.phase(NS, "podinfo") == "Failed"


async def test_status_exits_2_on_timeout(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(m.deployment(), canary(iterations=1, annotations=MANUAL))
        await h.wait_phase(NS, "podinfo", "Initialized")
        set_image(h)
        await h.wait_phase(NS, "podinfo", "WaitingPromotion")
        loop = asyncio.get_running_loop()
        started = loop.time()

        result = await ensign("status", "podinfo", "--timeout", "1s", kubeconfig)

        assert result.code == 2, result.out + result.err
        assert "timed out after 1s" in result.out and "WaitingPromotion" in result.out
        assert loop.time() - started < 10


async def test_status_rejects_a_bad_duration(tmp_path: Path) -> None:
    result = await ensign("status", "podinfo", "--timeout", "soon", "--kubeconfig", "/nope")
    assert result.code == 2 and "not a duration" in result.err
