"""The pure parts of the console: graph building, JSON shape, SVG, tables, requests, status."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from ensign.console.graph import Objects, build_graph, to_json
from ensign.console.render_svg import render_svg, wrap
from ensign.console.render_text import render
from ensign.console.requests import audit_entry, new_request, request_patch
from ensign.console.rollout_status import progress, verdict
from ensign.console.tables import Row
from ensign.console.tour import tour
from ensign.workloads.revision import revision_hash

JSON = dict[str, Any]


def workload(name: str, app: str, image: str, *, ready: int = 2, replicas: int = 2) -> JSON:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
        "status": {"readyReplicas": ready},
    }


def service(name: str, app: str) -> JSON:
    return {
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 9898}]},
    }


def canary_body(**status: Any) -> JSON:
    return {
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "podinfo"},
            "autoscalerRef": {"name": "podinfo"},
            "analysis": {"iterations": 3, "threshold": 2},
        },
        "status": {
            "phase": "Progressing",
            "lastAppliedSpec": "abc",
            "trackedConfigs": {"configmap/settings": "123", "secret/token": "456"},
            "history": [
                {"time": "t", "kind": "confirm-promotion", "url": "http://g", "httpStatus": 500}
            ],
            "nextAnalysisAt": "2030-01-01T00:00:00Z",
            "conditions": [{"type": "Ready", "reason": "Progressing", "message": "iteration 1/3"}],
            **status,
        },
    }


def objects() -> Objects:
    ingress = {
        "metadata": {"name": "web"},
        "spec": {
            "rules": [
                {
                    "host": "a.example",
                    "http": {"paths": [{"backend": {"service": {"name": "podinfo"}}}]},
                }
            ]
        },
    }
    unrelated = {
        "metadata": {"name": "other"},
        "spec": {"defaultBackend": {"service": {"name": "x"}}},
    }
    hpa = {"metadata": {"name": "podinfo-primary"}, "spec": {"minReplicas": 2, "maxReplicas": 4}}
    return Objects(
        services={
            "podinfo": service("podinfo", "podinfo-primary"),
            "podinfo-primary": service("podinfo-primary", "podinfo-primary"),
            "podinfo-canary": service("podinfo-canary", "podinfo"),
        },
        workloads={
            "podinfo-primary": workload("podinfo-primary", "podinfo-primary", "img:1"),
            "podinfo": workload("podinfo", "podinfo", "img:2", ready=0),
        },
        ingresses=[ingress, unrelated],
        hpas={"podinfo-primary": hpa},
        configs={"configmap/settings": {}, "configmap/settings-primary": {}},
    )


def test_graph_links_ingress_services_workloads_autoscalers_and_configs() -> None:
    graph = build_graph(canary_body(), objects())
    edges = {(e.source, e.relation, e.target) for e in graph.edges}
    assert edges == {
        ("Ingress/web", "routes", "Service/podinfo"),
        ("Service/podinfo", "selects", "Deployment/podinfo-primary"),
        ("Service/podinfo-primary", "selects", "Deployment/podinfo-primary"),
        ("Service/podinfo-canary", "selects", "Deployment/podinfo"),
        ("HorizontalPodAutoscaler/podinfo-primary", "scales", "Deployment/podinfo-primary"),
        ("HorizontalPodAutoscaler/podinfo", "scales", "Deployment/podinfo"),
        ("Deployment/podinfo-primary", "uses", "ConfigMap/settings-primary"),
        ("Deployment/podinfo", "uses", "ConfigMap/settings"),
        ("Deployment/podinfo-primary", "uses", "Secret/token-primary"),
        ("Deployment/podinfo", "uses", "Secret/token"),
    }
    assert graph.live == "primary" and graph.weight == 0
    missing = {n.id for n in graph.nodes if not n.present}
    assert missing == {"HorizontalPodAutoscaler/podinfo", "Secret/token", "Secret/token-primary"}
    canary = graph.node("Deployment/podinfo")
    assert (
        canary is not None
        and canary.details["ready"] == 0
        and canary.details["images"] == ["img:2"]
    )
    assert graph.next_at == "2030-01-01T00:00:00Z" and graph.next_message == "iteration 1/3"


def test_live_side_follows_the_weight_then_the_apex_selector() -> None:
    assert build_graph(canary_body(canaryWeight=30), objects()).live == "split"
    assert build_graph(canary_body(canaryWeight=100), objects()).live == "canary"
    flipped = objects()
    services = dict(flipped.services, podinfo=service("podinfo", "podinfo"))
    switched = Objects(services=services, workloads=flipped.workloads)
    assert build_graph(canary_body(), switched).live == "canary"
    assert build_graph(canary_body(), Objects()).live == "none"


def test_json_shape_is_stable_and_serialisable() -> None:
    doc = to_json(build_graph(canary_body(canaryWeight=30), objects()))
    assert json.loads(json.dumps(doc)) == doc
    assert list(doc) == [
        "schema",
        "canary",
        "nodes",
        "edges",
        "live",
        "history",
        "checks",
        "next",
        "traffic",
    ]
    assert doc["checks"] == []
    assert doc["live"] == {"side": "split", "canaryWeight": 30, "primaryWeight": 70}
    assert doc["next"] == {
        "at": "2030-01-01T00:00:00Z",
        "reason": "Progressing",
        "message": "iteration 1/3",
    }
    assert doc["edges"][0] == {"from": "Ingress/web", "to": "Service/podinfo", "relation": "routes"}
    ports = next(n for n in doc["nodes"] if n["id"] == "Service/podinfo")["details"]["ports"]
    assert ports == [{"name": "", "port": 80, "targetPort": 9898, "protocol": "TCP"}]


def test_svg_is_well_formed_and_escapes_text() -> None:
    body = canary_body()
    body["status"]["conditions"][0]["message"] = "a <b> & 'c'"
    root = ET.fromstring(render_svg(build_graph(body, objects())).split("\n", 1)[1])
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any("a <b> & 'c'" in t for t in texts)
    assert wrap("selector app=podinfo-primary  ports 80→9898  ClusterIP") == [
        "selector app=podinfo-primary",
        "ports 80→9898  ClusterIP",
    ]


CHECKS: list[Any] = [
    {
        "name": "request-success-rate",
        "verdict": "passed",
        "message": "request-success-rate 99.87% is within min 99%",
        "time": "2030-01-01T00:00:05Z",
        "value": 99.8734,
        "threshold": "min 99%",
    },
    {
        "name": "latency-vs-primary",
        "verdict": "inconclusive",
        "message": "only 12 samples from the canary, the judge needs 30",
        "time": "2030-01-01T00:00:05Z",
        "value": 412.5,
        "primaryValue": 380.25,
        "threshold": "judge mann-whitney: confidence 0.95",
        "samples": 12,
    },
    {
        "name": "error-budget",
        "verdict": "no data",
        "message": "no values",
        "time": "2030-01-01T00:00:04Z",
    },
    {"verdict": "passed"},  # no name
    {"name": "x", "verdict": 3},  # verdict not a string
    "junk",
]


def test_graph_carries_the_readable_metric_checks_into_json() -> None:
    graph = build_graph(canary_body(checks=CHECKS), objects())
    assert [c["name"] for c in graph.checks] == [
        "request-success-rate",
        "latency-vs-primary",
        "error-budget",
    ]
    doc = to_json(graph)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["checks"] == CHECKS[:3]
    assert build_graph(canary_body(checks="nonsense"), objects()).checks == ()


def _text(body: JSON) -> str:
    console = Console(width=100, record=True, force_terminal=True, color_system="truecolor")
    console.print(render(build_graph(body, objects())))
    return console.export_text(styles=False)


def test_text_shows_metric_checks_with_value_vs_primary_and_threshold() -> None:
    out = _text(canary_body(checks=CHECKS))
    section = out.split("Metric checks", 1)[1].split("Next decision", 1)[0]
    lines = section.splitlines()
    assert "(last at 2030-01-01T00:00:05Z)" in lines[0]
    assert lines[1].split() == ["CHECK", "VERDICT", "VALUE", "SAMPLES", "THRESHOLD"]
    assert lines[2].split() == ["request-success-rate", "passed", "99.87%", "-", "min", "99%"]
    assert "request-success-rate 99.87% is within min 99%" in lines[3]
    judged = next(line for line in lines if line.lstrip().startswith("latency-vs-primary"))
    assert "inconclusive" in judged and "412.5 vs 380.25" in judged and " 12 " in judged
    assert "judge mann-whitney: confidence 0.95" in judged
    assert "only 12 samples from the canary, the judge needs 30" in section
    assert "error-budget" in section and "no data" in section
    assert all(len(line.rstrip()) <= 100 for line in out.splitlines())
    # the verdict column lines up across rows despite the messages between them
    rows = [line for line in lines if line.startswith("  ") and not line.startswith("    ")]
    assert (
        len(
            {
                line.index(word)
                for line, word in zip(
                    rows, ["VERDICT", "passed", "inconclusive", "no data"], strict=True
                )
            }
        )
        == 1
    )
    assert "Metric checks" not in _text(canary_body())


def test_text_colours_verdicts() -> None:
    console = Console(width=100, record=True, force_terminal=True, color_system="standard")
    console.print(render(build_graph(canary_body(checks=CHECKS), objects())))
    ansi = console.export_text(styles=True)
    assert "\x1b[32mpassed" in ansi  # green
    assert "\x1b[33minconclusive" in ansi  # yellow
    assert "\x1b[31mno data" in ansi  # red


def test_svg_lists_the_metric_checks() -> None:
    svg = render_svg(build_graph(canary_body(checks=CHECKS), objects()))
    root = ET.fromstring(svg.split("\n", 1)[1])
    texts = {
        (t.text or ""): t.get("class") or "" for t in root.iter("{http://www.w3.org/2000/svg}text")
    }
    checks = {text: css for text, css in texts.items() if text.startswith("  ") and " vs " in text}
    assert len(checks) == 1
    ((judged, css),) = checks.items()
    assert "latency-vs-primary" in judged and "412.5 vs 380.25" in judged and css == "yellow pre"
    assert any("request-success-rate" in t and "min 99%" in t for t in texts)
    assert any("error-budget" in t for t in texts)
    assert any("only 12 samples from the canary" in t for t in texts)
    assert "Metric checks" not in render_svg(build_graph(canary_body(), objects()))


def test_table_row_reads_printer_columns_and_the_ready_message() -> None:
    row = Row.of(canary_body(iterations=1, failedChecks=1, canaryWeight=10))
    assert (row.status, row.weight, row.iteration, row.failed) == ("Progressing", 10, "1/3", "1/2")
    assert row.message == "iteration 1/3"
    assert Row.of({"metadata": {"name": "x"}}).status == "-"


def test_request_annotation_and_patch() -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    request = new_request("pause", "alice", now=now)
    patch = request_patch(request)
    assert patch["spec"] == {"suspend": True}
    data = json.loads(patch["metadata"]["annotations"]["ensign.dev/request"])
    assert data == {
        "id": request.id,
        "verb": "pause",
        "user": "alice",
        "at": "2030-01-02T03:04:05Z",
    }
    assert "spec" not in request_patch(new_request("promote", "alice"))
    body = {"status": {"audit": [{"id": request.id, "action": "pause"}]}}
    assert audit_entry(body, request.id) == {"id": request.id, "action": "pause"}
    assert audit_entry(body, "other") is None


def test_rollout_verdict_waits_for_a_pending_revision() -> None:
    target = workload("podinfo", "podinfo", "img:2")
    current = revision_hash(target, kind="Deployment")
    settled = canary_body(phase="Succeeded", lastAppliedSpec=current, lastPromotedSpec=current)
    assert verdict(progress(settled, target)) == 0
    pending = canary_body(phase="Succeeded", lastAppliedSpec="old", lastPromotedSpec="old")
    assert progress(pending, target).pending == current
    assert verdict(progress(pending, target)) is None
    assert verdict(progress(canary_body(phase="Failed", lastAppliedSpec=current), target)) == 1
    assert verdict(progress(canary_body(phase="Progressing"), None)) is None


def test_tour_lists_curated_and_new_commands() -> None:
    text = tour({"get": "g", "describe": "d", "brandnew": "does new things"})
    assert "ensign get -A --watch" in text and "ensign describe podinfo" in text
    assert "ensign brandnew" in text and "does new things" in text
    assert "ensign promote" not in text  # not registered here
