"""`ensign sandbox`: local cluster + controller in one process; kubectl can use it."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from pathlib import Path

import pytest


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
async def test_sandbox_serves_kubectl_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ensign",
        "sandbox",
        "--port=0",
        f"--kubeconfig={kubeconfig}",
        "--ready-delay=0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        while not any(line.startswith("export KUBECONFIG=") for line in lines):
            raw = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
            assert raw, f"sandbox exited early: {lines}"
            lines.append(raw.decode().strip())
        exported = next(line for line in lines if line.startswith("export KUBECONFIG="))
        assert exported == f"export KUBECONFIG={kubeconfig.resolve()}"

        kubectl = await asyncio.create_subprocess_exec(
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "canaries",
            "-A",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(kubectl.communicate(), timeout=20)
        assert kubectl.returncode == 0, err.decode()
        assert "No resources found" in (out + err).decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=15)
    rest = (await proc.stdout.read()).decode()
    assert code == 0, rest
    assert "sandbox stopped" in rest
