"""What the real controller process loads: `python -m ensign controller` against the local
cluster, run until it has initialised a canary, then stopped with SIGTERM; at exit it writes
the names of its loaded modules. None of the local cluster, the test kits, the console, the
load tester, rich or aiohttp may be among them (issue #15: the controller imports only what it
runs), nor a metric provider that no canary uses.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from ensign.testing import manifests as m
from ensign.testing.harness import Harness

# Run the controller exactly as `python -m ensign` does, and dump sys.modules on the way out
# (SIGTERM stops the controller cleanly, so atexit runs).
LAUNCHER = """
import atexit, json, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "ensign"
runpy.run_module("ensign", run_name="__main__", alter_sys=True)
"""

FORBIDDEN = (
    "ensign.localcluster",
    "ensign.testing",
    "ensign.console",
    "ensign.loadtester",
    "ensign.demo",
    "ensign.demo_canary",
    "ensign.migration",
    "rich",
    "aiohttp",
    # metric providers no canary of this test uses (the registry loads them on first use)
    "ensign.metricproviders.prometheus",
    "ensign.metricproviders.datadog",
    "ensign.metricproviders.cloudwatch",
    "ensign.metricproviders.stackdriver",
)


def offenders(modules: list[str]) -> list[str]:
    return [
        name for name in modules if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]


def test_offenders_match_packages_and_their_submodules() -> None:
    assert offenders(["ensign.localcluster.server", "rich", "ensign.runtime.app"]) == [
        "ensign.localcluster.server",
        "rich",
    ]
    assert offenders(["richer", "ensign.testingx", "aiohttp_x"]) == []


async def test_controller_process_loads_no_local_cluster_test_kit_or_console(
    tmp_path: Path,
) -> None:
    async with Harness(start_controller=False) as h:
        kubeconfig = h.cluster.write_kubeconfig(tmp_path / "kubeconfig")
        dump = tmp_path / "modules.json"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LAUNCHER,
            str(dump),
            "controller",
            f"--kubeconfig={kubeconfig}",
            "--metrics-addr=127.0.0.1:0",
            "--log-format=text",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await h.apply(m.namespace("test"), m.deployment(), m.canary())
            await h.wait_phase("test", "podinfo", "Initialized", timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=15)
        output = (await proc.stdout.read()).decode() if proc.stdout else ""
    assert code == 0, output
    modules = json.loads(dump.read_text())
    assert "ensign.runtime.app" in modules and "ensign.observability.server" in modules
    assert offenders(modules) == [], output
