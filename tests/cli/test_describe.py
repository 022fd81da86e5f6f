"""`ensign describe`: the live object graph as text, JSON and SVG."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from tests.cli.support import NEW_IMAGE, NS, canary, cluster, ensign, set_image

OLD_IMAGE = "ghcr.io/stefanprodan/podinfo:6.7.0"
SVG = "{http://www.w3.org/2000/svg}"


def ingress() -> dict[str, object]:
    backend = {"service": {"name": "podinfo", "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "podinfo", "namespace": NS},
        "spec": {"rules": [{"host": "podinfo.local", "http": {"paths": [path]}}]},
    }


async def test_describe_draws_the_graph_as_text_json_and_svg(tmp_path: Path) -> None:
    gate = await GateServer().start()
    gate.close("gate/check")
    url = gate.url("gate/check")
    hook = m.hook("confirm-promotion", "confirm-promotion", url)
    try:
        async with cluster(tmp_path) as (h, kubeconfig):
            await h.apply(
                m.configmap("podinfo-config", NS, data={"color": "blue"}),
                m.deployment(env_from_configmap="podinfo-config"),
                ingress(),
                canary(iterations=1, webhooks=[hook]),
            )
            await h.wait_phase(NS, "podinfo", "Initialized")
            set_image(h)
            await h.wait_phase(NS, "podinfo", "WaitingPromotion")
            await _check_text(kubeconfig, url)
            await _check_json(kubeconfig, url)
            await _check_svg(kubeconfig, tmp_path)
    finally:
        await gate.stop()


async def _check_text(kubeconfig: str, url: str) -> None:
    text = await ensign("describe", "podinfo", kubeconfig)
    assert text.code == 0, text.err
    out = text.out
    assert "Canary test/podinfo  phase WaitingPromotion" in out
    assert "live: primary (podinfo-primary) at weight 100%" in out
    assert "Ingress/podinfo [ingress]  hosts podinfo.local" in out
    assert "Service/podinfo [apex]  selector app=podinfo-primary  ports 80→9898" in out
    assert "Service/podinfo-primary [primary]  selector app=podinfo-primary" in out
    assert "Service/podinfo-canary [canary]  selector app=podinfo " in out
    assert f"Deployment/podinfo-primary [primary]  2/2 ready  image {OLD_IMAGE}  LIVE 100%" in out
    assert f"Deployment/podinfo [canary]  2/2 ready  image {NEW_IMAGE}  idle" in out
    # The pods under each workload (through its ReplicaSets), as the simulator runs them.
    pods = [line.strip("│├└─ ") for line in out.splitlines() if "Pod/" in line]
    assert len([p for p in pods if p.startswith("Pod/podinfo-primary-")]) == 2
    assert len([p for p in pods if not p.startswith("Pod/podinfo-primary-")]) == 2
    assert all(p.endswith("  Running  ready") for p in pods), pods
    assert "ConfigMap/podinfo-config-primary [primary]" in out
    assert "ConfigMap/podinfo-config [canary]  tracked, checksum" in out
    assert url in out and "HTTP 500" in out and "attempt 1" in out
    assert "Next decision:" in out and "waiting for confirm-promotion gate" in out


async def _check_json(kubeconfig: str, url: str) -> None:
    result = await ensign("describe", "podinfo", "-o", "json", kubeconfig)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert set(doc) == {
        "schema",
        "canary",
        "nodes",
        "edges",
        "live",
        "history",
        "checks",
        "next",
        "traffic",
    }
    assert doc["checks"] == []  # this canary has no metric checks
    assert doc["schema"] == "ensign.dev/describe/v1"
    assert doc["canary"]["phase"] == "WaitingPromotion" and doc["canary"]["revision"]
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert set(nodes) >= {
        "Ingress/podinfo",
        "Service/podinfo",
        "Service/podinfo-primary",
        "Service/podinfo-canary",
        "Deployment/podinfo-primary",
        "Deployment/podinfo",
        "ConfigMap/podinfo-config",
        "ConfigMap/podinfo-config-primary",
    }
    assert all(set(n) == {"id", "kind", "name", "role", "present", "details"} for n in doc["nodes"])
    assert nodes["Service/podinfo"]["details"]["selector"] == {"app": "podinfo-primary"}
    primary = nodes["Deployment/podinfo-primary"]["details"]
    assert (primary["ready"], primary["desired"], primary["images"]) == (2, 2, [OLD_IMAGE])
    assert [(p["phase"], p["ready"]) for p in primary["pods"]] == [("Running", True)] * 2
    assert all(p["name"].startswith("podinfo-primary-") for p in primary["pods"])
    canary_pods = nodes["Deployment/podinfo"]["details"]["pods"]
    assert len(canary_pods) == 2 and not any(
        p["name"].startswith("podinfo-primary-") for p in canary_pods
    )
    edges = {(e["from"], e["relation"], e["to"]) for e in doc["edges"]}
    assert ("Ingress/podinfo", "routes", "Service/podinfo") in edges
    assert ("Service/podinfo", "selects", "Deployment/podinfo-primary") in edges
    assert ("Service/podinfo-canary", "selects", "Deployment/podinfo") in edges
    assert ("Deployment/podinfo-primary", "uses", "ConfigMap/podinfo-config-primary") in edges
    assert doc["live"] == {"side": "primary", "canaryWeight": 0, "primaryWeight": 100}
    gate_checks = [e for e in doc["history"] if e.get("url") == url]
    assert gate_checks and gate_checks[-1]["httpStatus"] == 500
    assert gate_checks[-1]["verdict"] == "failed"
    assert doc["next"]["reason"] == "WaitingForPromotion"


async def _check_svg(kubeconfig: str, tmp_path: Path) -> None:
    target = tmp_path / "graph.svg"
    result = await ensign("describe", "podinfo", "-o", "svg", "--file", str(target), kubeconfig)
    assert result.code == 0, result.err
    root = ET.parse(target).getroot()
    assert root.tag == f"{SVG}svg"
    groups = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert {"Service/podinfo", "Deployment/podinfo-primary", "Deployment/podinfo"} <= groups
    assert len(list(root.iter(f"{SVG}path"))) >= 4  # the arrows (and the arrow head)
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "live: primary" in texts


async def test_describe_svg_defaults_to_name_dot_svg(tmp_path: Path) -> None:
    async with cluster(tmp_path) as (h, kubeconfig):
        await h.apply(m.deployment(), canary())
        await h.wait_phase(NS, "podinfo", "Initialized")
        result = await ensign("describe", "podinfo", "--output", "svg", kubeconfig, cwd=tmp_path)
        assert result.code == 0, result.err
        assert ET.parse(tmp_path / "podinfo.svg").getroot().tag == f"{SVG}svg"
