"""SMI TrafficSplits in the traffic model, on objects in the shapes Flagger writes (§3.7),
and end to end with the SMI router: what it writes is what the model reads."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from rich.console import Console

from ensign.console import describing
from ensign.console.graph import Graph, build_graph, to_json
from ensign.console.graph import Objects as GraphObjects
from ensign.console.render_svg import render_svg
from ensign.console.render_text import render
from ensign.engine.weights import Routes
from ensign.kube.api import NotFound
from ensign.kube.kinds import (
    CANARY,
    DEPLOYMENT,
    INGRESS,
    SERVICE,
    TRAFFICSPLIT_V1ALPHA1,
    TRAFFICSPLIT_V1ALPHA2,
    TRAFFICSPLIT_V1ALPHA3,
    Kind,
)
from ensign.model import parse_canary
from ensign.routers.protocol import CreateObject
from ensign.routers.protocol import Split as RouterSplit
from ensign.routers.registry import make_router
from ensign.traffic import (
    Objects,
    Request,
    Split,
    live_split,
    route,
    route_trafficsplit,
    rules_of_trafficsplit,
)
from ensign.traffic.model import is_smi, plain_request

JSON = dict[str, Any]
UID = "5f1c0e2a-7d2b-4c55-9b1e-0d6a4c1f9e01"


def trafficsplit(
    canary: object = 0,
    primary: object = 100,
    *,
    root: str = "podinfo",
    version: str = "v1alpha2",
    name: str = "podinfo",
    namespace: str = "test",
    **meta: Any,
) -> JSON:
    return {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": {
            "service": root,
            "backends": [
                {"service": "podinfo-canary", "weight": canary},
                {"service": "podinfo-primary", "weight": primary},
            ],
        },
    }


def service(name: str, app: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"selector": {"app": app}, "ports": [{"port": 9898}]},
    }


def canary_body(provider: str | None = "linkerd", **service_fields: Any) -> JSON:
    spec: JSON = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898, **service_fields},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    }
    if provider is not None:
        spec["provider"] = provider
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": spec,
    }


# ------------------------------------------------------------------ route_trafficsplit


@pytest.mark.parametrize(
    ("canary", "primary", "shares"),
    [
        (0, 100, (0.0, 100.0)),
        (10, 90, (10.0, 90.0)),
        ("10", "90", (10.0, 90.0)),
        ("500m", "500m", (50.0, 50.0)),
        (1, 3, (25.0, 75.0)),
        ("1k", "3k", (25.0, 75.0)),
        ("1Ki", "3Ki", (25.0, 75.0)),
        ("1e1", "9e1", (10.0, 90.0)),
        ("bad", 100, (0.0, 100.0)),
        (-5, 100, (0.0, 100.0)),
    ],
)
def test_weights_share_proportionally(
    canary: object, primary: object, shares: tuple[float, float]
) -> None:
    routing = route_trafficsplit([trafficsplit(canary, primary)], Request(host="podinfo"))
    assert (routing.percent("podinfo-canary"), routing.percent("podinfo-primary")) == shares
    assert routing.enforced_by == "TrafficSplit test/podinfo"


def test_all_weights_zero_is_a_503() -> None:
    routing = route_trafficsplit([trafficsplit(0, "0")], Request(host="podinfo"))
    assert routing.status == 503
    assert routing.reason == "TrafficSplit test/podinfo has no backend with a weight"
    assert routing.destinations == ()


@pytest.mark.parametrize(
    ("root", "host", "applies"),
    [
        ("podinfo", "podinfo", True),
        ("podinfo", "podinfo.test", True),
        ("podinfo", "podinfo.test.svc", True),
        ("podinfo", "podinfo.test.svc.cluster.local", True),
        ("podinfo", "PODINFO.test:9898", True),
        ("podinfo", "podinfo.other", False),
        ("podinfo", "frontend", False),
        ("podinfo.test.svc.cluster.local", "podinfo", True),
        ("podinfo.test.svc.cluster.local", "podinfo.test", True),
        ("podinfo.test", "podinfo.test.svc.cluster.local", True),
        ("app.example.com", "app.example.com", True),
        ("app.example.com", "podinfo", False),
    ],
)
def test_root_service_hosts(root: str, host: str, applies: bool) -> None:
    routing = route_trafficsplit([trafficsplit(10, 90, root=root)], Request(host=host))
    assert (routing.status == 200) is applies
    if not applies:
        assert routing.status == 404
        assert routing.reason == f"no TrafficSplit for host {host.lower()}"


def test_the_oldest_split_wins() -> None:
    newer = trafficsplit(100, 0, name="b", creationTimestamp="2025-01-02T00:00:00Z")
    older = trafficsplit(10, 90, name="z", creationTimestamp="2025-01-01T00:00:00Z")
    routing = route_trafficsplit([newer, older], Request(host="podinfo"))
    assert routing.enforced_by == "TrafficSplit test/z"


def test_rules_of_trafficsplit() -> None:
    (rule,) = rules_of_trafficsplit(trafficsplit("100m", "900m", version="v1alpha1"))
    assert rule.label == "backends"
    assert rule.matches == ("service podinfo",)
    weights = [(d.service, d.weight, d.percent) for d in rule.routing.destinations]
    assert weights == [("podinfo-canary", 0, 10.0), ("podinfo-primary", 1, 90.0)]


def test_objects_sorted_by_kind_and_by_shape() -> None:
    with_kind = trafficsplit(10, 90)
    shaped = trafficsplit(20, 80, name="other")
    shaped.pop("kind")
    sorted_objects = Objects.of([with_kind, shaped, service("podinfo", "podinfo-primary")])
    assert sorted_objects.trafficsplits == (with_kind, shaped)
    assert len(sorted_objects.services) == 1


@pytest.mark.parametrize(
    ("provider", "smi"),
    [
        ("linkerd", True),
        ("osm", True),
        ("smi:v1alpha1", True),
        ("smi:v1alpha3:istio", True),
        ("smi", False),
        ("istio", False),
        ("gatewayapi:v1", False),
    ],
)
def test_is_smi(provider: str, smi: bool) -> None:
    assert is_smi(provider) is smi


# ------------------------------------------------------------------ live_split


def test_live_split_linkerd() -> None:
    live = live_split(canary_body(), trafficsplit("10", "90", version="v1alpha1"))
    assert live.request.host == "podinfo"
    assert live.plain == Split(primary=90.0, canary=10.0, enforced_by="TrafficSplit test/podinfo")
    assert live.matched is None


def test_live_split_follows_the_first_host() -> None:
    body = canary_body("osm", hosts=["podinfo.test.svc.cluster.local"])
    ts = trafficsplit(30, 70, root="podinfo.test.svc.cluster.local")
    live = live_split(body, ts)
    assert (live.plain.primary, live.plain.canary) == (70.0, 30.0)


def test_live_split_from_the_mesh_provider_default() -> None:
    live = live_split(
        canary_body(None), trafficsplit(50, 50, version="v1alpha3"),
        default_provider="smi:v1alpha3:istio",
    )  # fmt: skip
    assert (live.provider, live.plain.canary) == ("smi:v1alpha3:istio", 50.0)


def test_without_a_split_the_apex_service_decides() -> None:
    live = live_split(canary_body(), service("podinfo", "podinfo-primary"))
    assert (live.plain.primary, live.plain.canary) == (100.0, 0.0)
    assert live.plain.enforced_by == (
        "Service test/podinfo selector app=podinfo-primary (no TrafficSplit for this host)"
    )


def test_a_split_for_another_root_is_ignored() -> None:
    objects = Objects.of([trafficsplit(100, 0, root="frontend"), service("podinfo", "podinfo")])
    routing = route("linkerd", objects, Request(host="podinfo"), apex="podinfo")
    assert routing.enforced_by.startswith("Service test/podinfo")


def test_plain_request_addresses_the_apex() -> None:
    assert plain_request(canary_body(), Objects(), provider="linkerd").host == "podinfo"
    body = canary_body("linkerd", hosts=["podinfo.test"])
    assert plain_request(body, Objects(), provider="linkerd").host == "podinfo.test"


# ------------------------------------------------------------------ with the router


@pytest.mark.parametrize("provider", ["linkerd", "osm", "smi:v1alpha2", "smi:v1alpha3"])
@pytest.mark.parametrize(("primary", "canary"), [(100, 0), (90, 10), (50, 50), (0, 100)])
def test_what_the_router_writes_is_what_the_model_reads(
    provider: str, primary: int, canary: int
) -> None:
    body = canary_body(provider, hosts=["podinfo.test.svc.cluster.local"])
    router = make_router(provider)
    split = RouterSplit(routes=Routes(primary=primary, canary=canary))
    (change,) = router.render(parse_canary(body), _NoObjects(), split, canary_uid=UID)
    assert isinstance(change, CreateObject)
    live = live_split(body, dict(change.body))
    assert (live.plain.primary, live.plain.canary) == (float(primary), float(canary))


class _NoObjects:
    def get(self, kind: object, namespace: str, name: str) -> None:
        return None


# ------------------------------------------------------------------ ensign describe


def _describe_objects(**extra: Any) -> GraphObjects:
    return GraphObjects(
        services={
            "podinfo": service("podinfo", "podinfo-primary"),
            "podinfo-primary": service("podinfo-primary", "podinfo-primary"),
            "podinfo-canary": service("podinfo-canary", "podinfo"),
        },
        **extra,
    )


def _text(graph: Graph) -> str:
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(render(graph))
    return console.export_text()


def test_describe_draws_the_trafficsplit() -> None:
    ts = trafficsplit("10", "90", version="v1alpha1")
    graph = build_graph(canary_body(), _describe_objects(trafficsplits=[ts]))
    out = _text(graph)
    assert "TrafficSplit/podinfo [router]  root service podinfo" in out
    assert "backends: service podinfo → podinfo-canary 10 (10%), podinfo-primary 90 (90%)" in out
    assert "routing: primary 90% / canary 10%  ← TrafficSplit test/podinfo" in out
    assert {n.id for n in graph.targets("TrafficSplit/podinfo", "routes")} == {
        "Service/podinfo-primary",
        "Service/podinfo-canary",
    }
    doc = to_json(graph)
    traffic = doc["traffic"]
    assert (traffic["provider"], traffic["routesTraffic"]) == ("linkerd", True)
    (obj,) = traffic["objects"]
    assert (obj["kind"], obj["role"], obj["present"], obj["hosts"]) == (
        "TrafficSplit",
        "route",
        True,
        ["podinfo"],
    )
    assert [r["label"] for r in obj["rules"]] == ["backends"]
    svg = render_svg(graph)
    ET.fromstring(svg)
    assert 'id="TrafficSplit/podinfo"' in svg and "TrafficSplit/podinfo rules" in svg


@pytest.mark.parametrize(
    ("missing", "note"),
    [(frozenset(), "not found"), (frozenset({"TrafficSplit"}), "TrafficSplit CRD not installed")],
)
def test_describe_missing_trafficsplit(missing: frozenset[str], note: str) -> None:
    graph = build_graph(canary_body("osm"), _describe_objects(missing_kinds=missing))
    out = _text(graph)
    assert f"TrafficSplit/podinfo [router]  ({note})" in out
    assert to_json(graph)["traffic"]["notes"] == [f"TrafficSplit podinfo: {note}"]


class _Api:
    """The calls `read_graph` makes, over a dict of objects and the kinds served."""

    def __init__(self, objects: dict[tuple[Kind, str], JSON], served: set[Kind]) -> None:
        self.objects, self.served = objects, served

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> JSON:
        if kind not in self.served or (kind, name) not in self.objects:
            raise NotFound(f"{kind.kind} {name}")
        return self.objects[(kind, name)]

    async def list(self, kind: Kind, *, namespace: str | None = None) -> tuple[list[JSON], str]:
        if kind not in self.served:
            raise NotFound(kind.plural)
        return [o for (k, _), o in self.objects.items() if k == kind], "1"


@pytest.mark.parametrize(
    ("provider", "served", "stored", "note"),
    [
        ("linkerd", {TRAFFICSPLIT_V1ALPHA1, TRAFFICSPLIT_V1ALPHA2}, TRAFFICSPLIT_V1ALPHA2, ""),
        ("linkerd", {TRAFFICSPLIT_V1ALPHA1}, TRAFFICSPLIT_V1ALPHA1, ""),
        ("smi:v1alpha3", {TRAFFICSPLIT_V1ALPHA3}, TRAFFICSPLIT_V1ALPHA3, ""),
        ("osm", {TRAFFICSPLIT_V1ALPHA2}, None, "not found"),
        ("osm", set(), None, "TrafficSplit CRD not installed"),
    ],
)
async def test_read_graph_reads_the_trafficsplit(
    provider: str, served: set[Kind], stored: Kind | None, note: str
) -> None:
    store: dict[tuple[Kind, str], JSON] = {(CANARY, "podinfo"): canary_body(provider)}
    if stored is not None:
        store[(stored, "podinfo")] = trafficsplit(20, 80)
    api = _Api(store, served | {CANARY, SERVICE, INGRESS, DEPLOYMENT})
    graph = await describing.read_graph(api, "test", "podinfo")  # type: ignore[arg-type]
    (obj,) = graph.traffic.objects
    assert (obj.kind, obj.present, obj.note) == ("TrafficSplit", stored is not None, note)
    if stored is not None:
        assert graph.traffic.plain is not None and graph.traffic.plain.canary == 20.0
