"""`ensign describe` for Contour (HTTPProxy), Gloo (RouteTable and Upstreams) and App Mesh
(virtual services, routers and nodes): the objects, their rules and the live split, from the
objects the routers' own `render` writes (so the shapes cannot drift), in text, JSON and SVG;
and what is missing, down to a CRD that is not installed."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from rich.console import Console

from ensign.console import describing
from ensign.console.graph import Graph, Objects, build_graph, to_json
from ensign.console.render_svg import render_svg
from ensign.console.render_text import render
from ensign.engine.weights import Routes
from ensign.kube.api import NotFound
from ensign.kube.kinds import (
    APPMESH_V1BETA1_VIRTUALNODE,
    APPMESH_V1BETA1_VIRTUALSERVICE,
    APPMESH_VIRTUALNODE,
    APPMESH_VIRTUALROUTER,
    APPMESH_VIRTUALSERVICE,
    CANARY,
    DEPLOYMENT,
    GLOO_ROUTETABLE,
    GLOO_UPSTREAM,
    HTTPPROXY,
    INGRESS,
    SERVICE,
    Kind,
)
from ensign.model import parse_canary
from ensign.routers.protocol import Split
from ensign.routers.registry import make_router
from tests.unit.routers.golden import Objects as View

JSON = dict[str, Any]
UID = "u"
PROVIDERS = ("contour", "gloo", "appmesh", "appmesh:v1beta2")
# Each provider's object that carries the weights, and every object it writes.
WEIGHTED = {
    "contour": "HTTPProxy/podinfo",
    "gloo": "RouteTable/podinfo",
    "appmesh": "VirtualService/podinfo.test",
    "appmesh:v1beta2": "VirtualRouter/podinfo",
}
WRITTEN = {
    "contour": ["HTTPProxy/podinfo"],
    "gloo": [
        "RouteTable/podinfo",
        "Upstream/test-podinfo-primaryupstream-9898",
        "Upstream/test-podinfo-canaryupstream-9898",
    ],
    "appmesh": [
        "VirtualService/podinfo.test",
        "VirtualService/podinfo-canary.test",
        "VirtualNode/podinfo-primary",
        "VirtualNode/podinfo-canary",
    ],
    "appmesh:v1beta2": [
        "VirtualService/podinfo",
        "VirtualRouter/podinfo",
        "VirtualService/podinfo-canary",
        "VirtualRouter/podinfo-canary",
        "VirtualNode/podinfo-primary",
        "VirtualNode/podinfo-canary",
    ],
}


def service(name: str, app: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 9898}]},
    }


def workload(name: str, app: str) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "podinfo:1"}]},
            },
        },
        "status": {"readyReplicas": 1},
    }


SERVICES = {
    "podinfo": service("podinfo", "podinfo-primary"),
    "podinfo-primary": service("podinfo-primary", "podinfo-primary"),
    "podinfo-canary": service("podinfo-canary", "podinfo"),
}
WORKLOADS = {
    "podinfo-primary": workload("podinfo-primary", "podinfo-primary"),
    "podinfo": workload("podinfo", "podinfo"),
}


def canary(provider: str, **analysis: Any) -> JSON:
    steps = {} if "iterations" in analysis else {"stepWeight": 10}
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": UID},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898, "hosts": ["app.example.com"]},
            "analysis": {"interval": "1m", **steps, **analysis},
        },
        "status": {"phase": "Progressing", "canaryWeight": 10},
    }


def written(body: JSON, primary: int = 90, canary_weight: int = 10) -> list[JSON]:
    """What the provider's router writes for `body` at primary/canary."""
    view = View([*SERVICES.values(), *WORKLOADS.values()])
    split = Split(routes=Routes(primary=primary, canary=canary_weight))
    router = make_router(str(body["spec"]["provider"]))
    for change in router.render(parse_canary(body), view, split, canary_uid=UID):
        view.apply(change)
    return [b for b in view.bodies if b["kind"] not in ("Service", "Deployment")]


def objects(bodies: list[JSON], **extra: Any) -> Objects:
    def of(*kinds: str) -> list[JSON]:
        return [b for b in bodies if b["kind"] in kinds]

    return Objects(
        services=SERVICES,
        workloads=WORKLOADS,
        httpproxies=of("HTTPProxy"),
        routetables=of("RouteTable"),
        upstreams=of("Upstream"),
        appmesh=[b for b in bodies if str(b["apiVersion"]).startswith("appmesh.k8s.aws/")],
        **extra,
    )


def text(graph: Graph) -> str:
    console = Console(width=220, record=True, color_system=None, file=io.StringIO())
    console.print(render(graph))
    return console.export_text()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_describe_shows_the_objects_and_the_split(provider: str) -> None:
    body = canary(provider)
    graph = build_graph(body, objects(written(body)))
    out = text(graph)
    assert "routing: primary 90% / canary 10%" in out, out
    for node_id in WRITTEN[provider]:
        assert f"{node_id} [" in out, (node_id, out)
    # the weighted rule, drawn under its object with the weights the model reads
    assert "podinfo-primary 90 (90%), podinfo-canary 10 (10%)" in out
    assert graph.targets(WEIGHTED[provider], "routes")  # edges to the Services

    doc = to_json(graph)
    assert json.loads(json.dumps(doc)) == doc
    traffic = doc["traffic"]
    assert (traffic["provider"], traffic["routesTraffic"]) == (provider, True)
    assert (traffic["plain"]["primary"], traffic["plain"]["canary"]) == (90.0, 10.0)
    assert traffic["plain"]["status"] == 200 and traffic["notes"] == []
    shown = [f"{o['kind']}/{o['name']}" for o in traffic["objects"]]
    assert sorted(shown) == sorted(WRITTEN[provider])
    assert all(o["present"] and o["apiVersion"] for o in traffic["objects"])
    weighted = next(
        o for o in traffic["objects"] if f"{o['kind']}/{o['name']}" == WEIGHTED[provider]
    )
    percents = {b["service"]: b["percent"] for b in weighted["rules"][0]["backends"]}
    assert percents == {"podinfo-primary": 90.0, "podinfo-canary": 10.0}

    svg = render_svg(graph)
    ET.fromstring(svg)
    for node_id in WRITTEN[provider]:
        assert f'id="{node_id}"' in svg
    assert "primary 90% / canary 10%" in svg


def test_contour_ab_split_and_the_included_proxy() -> None:
    body = canary("contour", iterations=10, match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    graph = build_graph(body, objects(written(body, 0, 100)))
    out = text(graph)
    assert "HTTPProxy/podinfo [router]  fqdn - (included)  2 routes" in out
    assert "routing: primary 100% / canary 0%  ← HTTPProxy test/podinfo route 1" in out
    assert "A/B (header x-canary: insider): primary 0% / canary 100%" in out
    assert "routes[0]: prefix /, header x-canary=insider → podinfo-primary 0 (0%)" in out


def test_gloo_upstreams_configure_their_services() -> None:
    body = canary("gloo")
    graph = build_graph(body, objects(written(body)))
    name = "Upstream/test-podinfo-primaryupstream-9898"
    assert [n.id for n in graph.targets(name, "configures")] == ["Service/podinfo-primary"]
    assert f"{name} [upstream]  host podinfo-primary.test  kube service" in text(graph)
    # any provider string starting "gloo" (the controller's -mesh-provider) is Gloo
    no_provider = canary("gloo")
    del no_provider["spec"]["provider"]
    suffixed = build_graph(no_provider, objects(written(body)), default_provider="gloo:edge")
    assert suffixed.traffic.plain is not None and suffixed.traffic.plain.canary == 10.0


def test_appmesh_virtual_nodes_and_a_missing_canary_router() -> None:
    body = canary("appmesh:v1beta2")
    bodies = written(body)
    graph = build_graph(body, objects(bodies))
    out = text(graph)
    assert (
        "VirtualService/podinfo [router]  name podinfo.test  provider VirtualRouter podinfo" in out
    )
    assert (
        "VirtualNode/podinfo-canary [virtual-node]  host podinfo-canary.test.svc.cluster.local"
        "  listener http 9898" in out
    )
    assert [n.id for n in graph.targets("VirtualNode/podinfo-canary", "configures")] == [
        "Service/podinfo-canary"
    ]
    # the canary's own router missing leaves the apex split readable
    kept = [
        b for b in bodies if b["metadata"]["name"] != "podinfo-canary" or b["kind"] == "VirtualNode"
    ]
    partial = to_json(build_graph(body, objects(kept)))["traffic"]
    assert partial["plain"]["canary"] == 10.0
    assert partial["notes"] == [
        "VirtualService podinfo-canary: not found",
        "VirtualRouter podinfo-canary: not found",
    ]
    # a missing virtual node hides it: App Mesh cannot route to it
    nodeless = [b for b in bodies if b["metadata"]["name"] != "podinfo-primary"]
    assert to_json(build_graph(body, objects(nodeless)))["traffic"]["plain"] is None


@pytest.mark.parametrize(
    ("provider", "missing", "kind", "name"),
    [
        ("contour", {"HTTPProxy"}, "HTTPProxy", "podinfo"),
        ("gloo", {"RouteTable", "Upstream"}, "RouteTable", "podinfo"),
        ("appmesh", {"VirtualService", "VirtualNode"}, "VirtualService", "podinfo.test"),
        (
            "appmesh:v1beta2",
            {"VirtualService", "VirtualRouter", "VirtualNode"},
            "VirtualRouter",
            "podinfo",
        ),
    ],
)
def test_missing_crd_is_reported(provider: str, missing: set[str], kind: str, name: str) -> None:
    note = f"{kind} CRD not installed"
    graph = build_graph(canary(provider), objects([], missing_kinds=frozenset(missing)))
    out = text(graph)
    assert f"{kind}/{name} [" in out and f"({note})" in out
    assert f"routing: no routing ({provider}): " in out and f"{kind} {name}: {note}" in out
    doc = to_json(graph)["traffic"]
    assert doc["plain"] is None and f"{kind} {name}: {note}" in doc["notes"]
    assert not any(o["present"] for o in doc["objects"])
    svg = render_svg(graph)
    ET.fromstring(svg)
    assert note in svg and f'id="{kind}/{name}"' in svg


@pytest.mark.parametrize("provider", PROVIDERS)
def test_missing_objects_are_not_found(provider: str) -> None:
    graph = build_graph(canary(provider), objects([]))
    doc = to_json(graph)["traffic"]
    assert doc["plain"] is None
    assert sorted(f"{o['kind']}/{o['name']}" for o in doc["objects"]) == sorted(WRITTEN[provider])
    assert all(o["note"] == "not found" for o in doc["objects"])


class FakeApi:
    """get/list answering from a dict; kinds absent from `served` answer 404 like a missing
    CRD. The core kinds read_graph needs are always served."""

    def __init__(self, store: dict[tuple[Kind, str], JSON], served: set[Kind]) -> None:
        self.store = store
        self.served = served | {SERVICE, INGRESS, DEPLOYMENT}

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> JSON:
        if (kind, name) not in self.store:
            raise NotFound("404")
        return self.store[(kind, name)]

    async def list(self, kind: Kind, *, namespace: str | None = None) -> tuple[list[JSON], str]:
        if kind not in self.served:
            raise NotFound("404 page not found")
        return [o for (k, _), o in self.store.items() if k == kind], "1"


KINDS = {
    "contour": {"HTTPProxy": HTTPPROXY},
    "gloo": {"RouteTable": GLOO_ROUTETABLE, "Upstream": GLOO_UPSTREAM},
    "appmesh": {
        "VirtualService": APPMESH_V1BETA1_VIRTUALSERVICE,
        "VirtualNode": APPMESH_V1BETA1_VIRTUALNODE,
    },
    "appmesh:v1beta2": {
        "VirtualService": APPMESH_VIRTUALSERVICE,
        "VirtualRouter": APPMESH_VIRTUALROUTER,
        "VirtualNode": APPMESH_VIRTUALNODE,
    },
}


def _stripped(obj: JSON) -> JSON:
    """As a fake API might answer: without apiVersion and kind (read_graph adds them)."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("state", ["present", "not found", "no CRD"])
async def test_read_graph_reads_the_router_objects(provider: str, state: str) -> None:
    body = canary(provider)
    kinds = KINDS[provider]
    store: dict[tuple[Kind, str], JSON] = {(CANARY, "podinfo"): body}
    store.update({(SERVICE, n): s for n, s in SERVICES.items()})
    store.update({(DEPLOYMENT, n): w for n, w in WORKLOADS.items()})
    if state == "present":
        for obj in written(body):
            store[(kinds[obj["kind"]], obj["metadata"]["name"])] = _stripped(obj)
    served = set() if state == "no CRD" else set(kinds.values())
    graph = await describing.read_graph(FakeApi(store, served), "test", "podinfo")  # type: ignore[arg-type]
    traffic = graph.traffic
    found = sorted(f"{o.kind}/{o.name}" for o in traffic.objects)
    assert found == sorted(WRITTEN[provider])
    if state == "present":
        assert traffic.plain is not None
        assert (traffic.plain.primary, traffic.plain.canary) == (90.0, 10.0)
        assert all(o.present for o in traffic.objects)
    else:
        assert traffic.plain is None
        notes = {o.note for o in traffic.objects}
        expected = (
            {"not found"} if state == "not found" else {f"{k} CRD not installed" for k in kinds}
        )
        assert notes == expected
