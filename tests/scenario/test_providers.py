"""Every provider Flagger accepts, end to end, from one table: a progressive canary to
Succeeded, then a new revision whose checks fail, to Failed, with the real controller on the
local cluster serving the provider's CRDs.

The split is read at every step through the traffic model (`ensign.traffic`), which reads
the router objects as the provider's data plane would, so each row also checks that the
model and `ensign describe` understand that router's objects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ensign.kube import kinds
from ensign.localcluster.errors import ApiError
from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from ensign.traffic import live_split
from tests.scenario.support import NEW_IMAGE, NEWER_IMAGE, OLD_IMAGE

JSON = dict[str, Any]
NS = "test"
CORE = (
    ("", "v1", "services"),
    ("apps", "v1", "deployments"),
    ("networking.k8s.io", "v1", "ingresses"),
)


def apisix_route() -> JSON:
    return {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {"name": "podinfo", "namespace": NS},
        "spec": {
            "http": [
                {
                    "name": "method",
                    "match": {"hosts": ["app.example.com"], "paths": ["/*"]},
                    "backends": [{"serviceName": "podinfo", "servicePort": 80}],
                }
            ]
        },
    }


@dataclass(frozen=True)
class Row:
    """One provider: its CRD bundles, the objects a user has beside the Canary, and the
    Canary fields it needs."""

    provider: str
    crds: tuple[str, ...] = ()
    objects: Callable[[], list[JSON]] = list
    spec: JSON = field(default_factory=dict)
    service: JSON = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    weights: bool = True  # a progressive canary; else Blue/Green
    label: str = ""  # the test id, when one provider has several rows

    @property
    def id(self) -> str:
        return self.label or self.provider

    def canary(self, webhooks: list[JSON], **overrides: Any) -> JSON:
        """The Canary: a 10 → 50 progressive canary (Blue/Green for kubernetes); `overrides`
        replace analysis fields (an A/B run: iterations and match)."""
        body = m.with_spec(
            m.canary(interval="150ms", iterations=0, threshold=1, webhooks=webhooks),
            provider=self.provider,
            **self.spec,
        )
        analysis: JSON = (
            {"iterations": None, "stepWeight": 10, "maxWeight": 50}
            if self.weights
            else {"iterations": 1}
        )
        body = m.with_analysis(body, **{**analysis, **overrides})
        body["spec"]["service"].update(self.service)
        if self.annotations:
            body = m.annotated(body, self.annotations)
        return body


INGRESS_REF = {
    "ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"}
}
GATEWAY = {"hosts": ["app.example.com"], "gatewayRefs": [{"name": "gateway", "namespace": "gw"}]}

ROWS = [
    Row("kubernetes", weights=False),
    Row("istio", crds=("istio",)),
    Row("gatewayapi:v1", crds=("gateway-api",), service=GATEWAY),
    Row("gatewayapi:v1beta1", crds=("gateway-api",), service=GATEWAY),
    # Linkerd's Gateway API (GAMMA) mode: the parent is the apex Service, not a Gateway.
    Row(
        "gatewayapi:v1",
        crds=("gateway-api",),
        service={"gatewayRefs": [{"group": "core", "kind": "Service", "name": "podinfo"}]},
        label="gatewayapi:v1-gamma",
    ),
    Row("nginx", objects=lambda: [m.ingress()], spec=INGRESS_REF),
]
MORE = [
    Row("linkerd", crds=("smi",)),
    Row("smi:v1alpha1", crds=("smi",)),
    Row("smi:v1alpha2", crds=("smi",)),
    Row("smi:v1alpha3", crds=("smi",)),
    Row("osm", crds=("smi",)),
    Row("contour", crds=("contour",)),
    Row("gloo", crds=("gloo",)),
    Row("traefik", crds=("traefik",)),
    Row("skipper", objects=lambda: [m.ingress()], spec=INGRESS_REF),
    Row(
        "apisix",
        crds=("apisix",),
        objects=lambda: [apisix_route()],
        spec={
            "routeRef": {
                "apiVersion": "apisix.apache.org/v2",
                "kind": "ApisixRoute",
                "name": "podinfo",
            }
        },
    ),
    Row("kuma", crds=("kuma",), annotations={"kuma.io/mesh": "default"}),
    Row("appmesh", crds=("appmesh",)),
    Row("appmesh:v1beta2", crds=("appmesh",)),
]


ALL_ROWS = ROWS + MORE
"""Every provider Flagger accepts but `knative`, which needs Knative Service targets
(docs/compatibility.md, "Not yet implemented")."""
AB_PROVIDERS = ("istio", "gatewayapi:v1", "nginx", "contour", "gloo", "appmesh", "appmesh:v1beta2")


def everything(h: Harness) -> list[JSON]:
    """The Services, workloads, Ingresses and router objects of the namespace (and the
    cluster-scoped router objects), with their kinds, as the traffic model takes them."""
    out: list[JSON] = []
    types = [*CORE, *((k.group, k.version, k.plural) for k in kinds.ROUTER_KINDS)]
    for group, version, plural in types:
        try:
            served = h.type(group, version, plural)
        except Exception:
            continue
        try:
            items, _, _ = h.cluster.store.list(served, NS if served.namespaced else "")
        except ApiError:
            continue
        for item in items:
            out.append({"apiVersion": served.api_version, "kind": served.kind, **item})
    return out


def everything_routes(h: Harness) -> list[JSON]:
    return [o for o in everything(h) if o["kind"] not in ("Service", "Deployment")]


@dataclass
class Trace:
    model: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)


@contextlib.asynccontextmanager
async def tracing(h: Harness) -> AsyncIterator[Trace]:
    trace = Trace()

    def sample() -> None:
        canary = h.canary(NS, "podinfo")
        weight = int((canary.get("status") or {}).get("canaryWeight") or 0)
        share = live_split(canary, *everything(h)).plain.canary
        if not trace.model or trace.model[-1] != share:
            trace.model.append(share)
        if not trace.status or trace.status[-1] != weight:
            trace.status.append(weight)

    async def run() -> None:
        while True:
            sample()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(run())
    try:
        yield trace
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sample()  # what is in force once the awaited phase was reached


@pytest.mark.parametrize("row", ALL_ROWS, ids=[r.id for r in ALL_ROWS])
async def test_provider_promotes_then_rolls_back(row: Row, gate: GateServer) -> None:
    hook = m.hook("check", "rollout", gate.url("check"))
    async with Harness(crds=row.crds) as h:
        await h.apply(m.namespace(NS), m.deployment(), *row.objects(), row.canary([hook]))
        await h.wait_phase(NS, "podinfo", "Initialized", timeout=20)
        async with tracing(h) as trace:
            h.set_image(NS, "podinfo", NEW_IMAGE)
            await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        if row.weights:
            assert trace.model == [0, 10, 20, 30, 40, 50, 0], trace
            assert trace.status == [0, 10, 20, 30, 40, 50, 0], trace
        primary = h.get("Deployment", NS, "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE

        gate.close("check")
        async with tracing(h) as trace:
            h.set_image(NS, "podinfo", NEWER_IMAGE)
            await h.wait_phase(NS, "podinfo", "Progressing", timeout=10)
            await h.wait_phase(NS, "podinfo", "Failed", timeout=30)
        assert trace.model[-1] == 0, (trace, everything_routes(h))
        primary = h.get("Deployment", NS, "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
        assert OLD_IMAGE != NEW_IMAGE


AB_ROWS = [r for r in ALL_ROWS if r.provider in AB_PROVIDERS and not r.label]


@pytest.mark.parametrize("row", AB_ROWS, ids=[r.id for r in AB_ROWS])
async def test_provider_ab_testing(row: Row, gate: GateServer) -> None:
    """A/B by header where Flagger supports it: the matching requests reach the canary during
    the iterations, the others stay on the primary, and promotion puts everything back."""
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    body = row.canary([], iterations=2, match=match, stepWeight=None, maxWeight=None)
    async with Harness(crds=row.crds) as h:
        await h.apply(m.namespace(NS), m.deployment(), *row.objects(), body)
        await h.wait_phase(NS, "podinfo", "Initialized", timeout=20)
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_for(
            lambda: (h.canary(NS, "podinfo").get("status") or {}).get("iterations") == 1,
            what="iteration 1",
            timeout=20,
        )
        live = live_split(h.canary(NS, "podinfo"), *everything(h))
        assert live.matched is not None
        assert live.matched.canary == 100, live
        assert live.plain.canary == 0, live
        await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        after = live_split(h.canary(NS, "podinfo"), *everything(h))
        assert after.matched is not None and after.matched.canary == 0


async def test_kuma_traffic_route_is_deleted_with_its_canary() -> None:
    """Kuma's TrafficRoute is cluster-scoped and has no owner reference, so garbage collection
    cannot remove it: the Canary keeps Flagger's finalizer (without revertOnDeletion) and the
    route is deleted when the Canary goes."""
    row = next(r for r in ALL_ROWS if r.provider == "kuma")
    async with Harness(crds=row.crds) as h:
        await h.apply(m.namespace(NS), m.deployment(), row.canary([]))
        await h.wait_phase(NS, "podinfo", "Initialized", timeout=20)
        routes = h.type("kuma.io", "v1alpha1", "trafficroutes")

        def route() -> JSON | None:
            try:
                return h.cluster.store.get(routes, "", "podinfo")
            except ApiError:
                return None

        await h.wait_for(lambda: route() is not None, what="TrafficRoute")
        await h.wait_for(
            lambda: (
                "finalizer.flagger.app"
                in (h.canary(NS, "podinfo")["metadata"].get("finalizers") or [])
            ),
            what="finalizer",
        )
        h.cluster.store.delete(h.type("flagger.app", "v1beta1", "canaries"), NS, "podinfo")
        await h.wait_for(lambda: h.get("Canary", NS, "podinfo") is None, what="Canary gone")
        assert route() is None
