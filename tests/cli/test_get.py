"""`ensign get`: the table of canaries, one namespace or all, once or live."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from ensign.testing import manifests as m
from tests.cli.support import NS, canary, cluster, ensign

HEADERS = ("NAME", "STATUS", "WEIGHT", "ITERATION", "FAILED", "LASTTRANSITIONTIME", "MESSAGE")


async def test_get_shows_the_namespace_of_the_context_or_all_namespaces(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(
            m.namespace("other"),
            m.deployment(),
            canary(iterations=5, threshold=3),
            m.deployment("web", "other"),
            m.canary("web", "other"),
        )
        await h.wait_phase(NS, "podinfo", "Initialized")
        await h.wait_phase("other", "web", "Initialized")

        mine = await ensign("get", kubeconfig)  # the context's namespace: test
        assert mine.code == 0, mine.err
        lines = mine.out.splitlines()
        assert all(column in lines[0] for column in HEADERS), lines[0]
        assert "NAMESPACE" not in lines[0]
        row = next(line for line in lines if line.startswith("podinfo"))
        assert row.split()[:5] == ["podinfo", "Initialized", "0", "0/5", "0/3"]
        assert "podinfo-primary.test serves revision" in row
        assert "web" not in mine.out

        every = await ensign("get", "-A", kubeconfig)
        assert every.code == 0, every.err
        rows = [line.split()[:3] for line in every.out.splitlines()[2:] if line.strip()]
        assert rows == [["other", "web", "Initialized"], ["test", "podinfo", "Initialized"]]

        one = await ensign("get", "web", "-n", "other", kubeconfig)
        assert one.code == 0 and "web" in one.out and "podinfo" not in one.out

        missing = await ensign("get", "nope", kubeconfig)
        assert missing.code == 4
        assert "not found" in missing.err


async def test_get_watch_follows_changes_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(m.deployment(), canary())
        await h.wait_phase(NS, "podinfo", "Initialized")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ensign",
            "get",
            "--watch",
            kubeconfig,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=10)
        assert proc.returncode == 0, err.decode()
        assert "podinfo" in out.decode() and "Initialized" in out.decode()
