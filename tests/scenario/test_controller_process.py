"""`ensign controller` as a process: talks to a cluster, serves /healthz, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import httpx2

from ensign.testing import manifests as m
from ensign.testing.harness import Harness


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_controller_process_initialises_a_canary_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with Harness(start_controller=False) as h:
        kubeconfig = h.cluster.write_kubeconfig(tmp_path / "kubeconfig")
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ensign",
            "controller",
            f"--kubeconfig={kubeconfig}",
            f"--metrics-addr=127.0.0.1:{port}",
            "--log-format=text",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await h.apply(m.namespace("test"), m.deployment(), m.canary())
            await h.wait_phase("test", "podinfo", "Initialized", timeout=30)
            async with httpx2.AsyncClient() as client:
                health = await client.get(f"http://127.0.0.1:{port}/healthz")
                ready = await client.get(f"http://127.0.0.1:{port}/readyz")
            assert (health.status_code, health.text) == (200, "ok")
            assert ready.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=15)
        output = (await proc.stdout.read()).decode() if proc.stdout else ""
        assert code == 0, output
        assert "Traceback" not in output
