"""`ensign migrate --check` as a subprocess against namespaces Flagger left behind.

No controller runs: the report is read-only (the local cluster's resourceVersion does not
move), exit 0 when every canary can be taken over without a traffic write, 1 otherwise."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from tests.cli.support import ensign
from tests.scenario.flagger_left import NAME, fixture_docs, load


async def test_migrate_check_reports_and_writes_nothing(tmp_path: Path) -> None:
    gate = await GateServer().start()
    try:
        async with Harness(gateway_api=True, start_controller=False) as h:
            await load(h, fixture_docs("succeeded", gate))
            await load(h, fixture_docs("progressing", gate))
            broken = fixture_docs("progressing", gate, namespace="flagger-broken")
            for doc in broken:
                if doc["kind"] == "Deployment" and doc["metadata"]["name"] == NAME:
                    annotations = {"localcluster.ensign.dev/ready-after": "never"}
                    doc["spec"]["template"]["metadata"]["annotations"] = annotations
            await load(h, broken)
            await asyncio.sleep(0.5)  # the workload simulator's status writes settle
            kubeconfig = f"--kubeconfig={h.cluster.write_kubeconfig(tmp_path / 'kubeconfig')}"
            rv = h.cluster.store.resource_version

            one = await ensign("migrate", "--check", kubeconfig, "-n", "flagger-succeeded")
            every = await ensign("migrate", "--check", kubeconfig, "-A", "--output", "json")
            text = await ensign("migrate", "--check", kubeconfig, "-A")

            assert h.cluster.store.resource_version == rv  # nothing written
    finally:
        await gate.stop()

    assert one.code == 0, one.err
    header, row = one.out.splitlines()
    assert header.split()[:5] == ["NAMESPACE", "NAME", "PHASE", "VERDICT", "WRITES"]
    assert row.split()[:4] == ["flagger-succeeded", NAME, "Succeeded", "adopt"]

    assert every.code == 1, every.err  # flagger-broken needs a traffic write
    reports = {r["namespace"]: r for r in json.loads(every.out)}
    assert {ns: r["verdict"] for ns, r in reports.items()} == {
        "flagger-broken": "restart",
        "flagger-progressing": "resume",
        "flagger-succeeded": "adopt",
    }
    broken_report = reports["flagger-broken"]
    assert "router objects (100% to the primary)" in broken_report["writes"]
    assert "canary is not ready" in broken_report["reasons"][0]
    assert broken_report["status"]["canaryWeight"] == 0
    resumed = reports["flagger-progressing"]
    assert resumed["writes"] == [f"Canary {NAME}.flagger-progressing status"]
    assert resumed["status"]["canaryWeight"] == 20
    left = next(d for d in fixture_docs("progressing", gate) if d["kind"] == "Canary")["status"]
    assert resumed["flagger"] == {k: left[k] for k in ("lastAppliedSpec", "lastPromotedSpec")}
    assert text.code == 1 and "restart" in text.out
