"""Traffic moved by real routers, end to end: the local cluster, the real controller, and the
router objects it writes (NGINX canary Ingress, Gateway API HTTPRoute), for every strategy.

At every step the weight is read back from the router object (not through the router code)
and must equal `status.canaryWeight`; rollbacks put 100/0 back and never touch the primary.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from ensign.traffic import Request, live_split
from tests.scenario.routing_support import (
    NGINX,
    NS,
    PROVIDERS,
    Recorder,
    harness,
    recording,
    router_object,
)
from tests.scenario.support import NEW_IMAGE, NEWER_IMAGE, OLD_IMAGE

JSON = dict[str, Any]
INTERVAL = "150ms"  # stepWeight 10 → 50 on every provider: tests/scenario/test_providers.py


def setup(provider: str, **analysis: Any) -> list[JSON]:
    canary = m.routed(m.canary(interval=INTERVAL, iterations=0, threshold=1), provider)
    canary = m.with_analysis(canary, **{"iterations": None, **analysis})
    objects = [m.namespace(NS), m.deployment()]
    if provider == "nginx":
        objects.append(m.ingress())
    return [*objects, canary]


async def initialised(h: Harness, provider: str, **analysis: Any) -> None:
    await h.apply(*setup(provider, **analysis))
    await h.wait_phase(NS, "podinfo", "Initialized")
    await h.wait_for(lambda: router_object(h, provider) is not None, what="router object")


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        ({"stepWeights": [5, 25, 60]}, [0, 5, 25, 60, 0]),
        ({"stepWeight": 50, "stepWeightPromotion": 20}, [0, 50, 100, 80, 60, 40, 20, 0]),
    ],
    ids=["stepWeights", "stepWeightPromotion"],
)
async def test_progressive_canary_promotes(
    provider: str, analysis: dict[str, Any], expected: list[int]
) -> None:
    async with harness(provider) as h:
        await initialised(h, provider, **analysis)
        async with recording(h, provider) as rec:
            h.set_image(NS, "podinfo", NEW_IMAGE)
            await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        assert rec.weights() == expected
        assert rec.agreed() == expected  # status.canaryWeight showed each router weight
        assert rec.modelled() == expected  # and the traffic model routes accordingly
        assert_primary_untouched_until_promotion(rec)
        primary = h.get("Deployment", NS, "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE


def assert_primary_untouched_until_promotion(rec: Recorder) -> None:
    """The primary keeps the old image until the analysis reached its last step: the first
    sample showing the new image already shows the highest canary weight of the run."""
    changed = next(i for i, s in enumerate(rec.samples) if s.primary_image != OLD_IMAGE)
    assert rec.samples[changed].router_weight == max(rec.weights())
    assert all(s.primary_image == OLD_IMAGE for s in rec.samples[:changed])


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rollback_at_every_step(provider: str, gate: GateServer) -> None:
    """A failing rollout check at weight 10, then at 20, ... each rolls back to 100/0 with
    the primary untouched."""
    hook = m.hook("check", "rollout", gate.url("check"))
    async with harness(provider) as h:
        await initialised(h, provider, stepWeight=10, maxWeight=50, webhooks=[hook])
        images = [NEW_IMAGE, NEWER_IMAGE]
        for index, fail_at in enumerate((10, 20, 30, 40, 50)):
            gate.open("check")

            def close_at(rec: Recorder, fail_at: int = fail_at) -> None:
                if rec.samples and rec.samples[-1].router_weight == fail_at:
                    gate.close("check")

            async with recording(h, provider, on_sample=close_at) as rec:
                h.set_image(NS, "podinfo", images[index % 2])
                await h.wait_phase(NS, "podinfo", "Progressing", timeout=10)
                await h.wait_phase(NS, "podinfo", "Failed", timeout=30)
                await h.wait_for(lambda: rec.samples[-1].router_weight == 0, what="100/0")
            assert max(rec.weights()) == fail_at
            assert rec.weights()[-1] == 0
            assert all(s.primary_image == OLD_IMAGE for s in rec.samples)
            assert h.get("Deployment", NS, "podinfo")["spec"]["replicas"] == 0  # type: ignore[index]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "match",
    [{"headers": {"cookie": {"exact": "canary"}}}],
    ids=["cookie"],  # by header on every A/B provider: tests/scenario/test_providers.py
)
async def test_ab_testing(provider: str, match: JSON) -> None:
    if provider != "nginx" and "cookie" in match["headers"]:
        match = {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}}
    async with harness(provider) as h:
        await initialised(h, provider, iterations=3, match=[match])
        seen: list[JSON] = []
        async with recording(h, provider) as rec:
            h.set_image(NS, "podinfo", NEW_IMAGE)
            await h.wait_for(
                lambda: (h.canary(NS, "podinfo").get("status") or {}).get("iterations") == 2,
                what="iteration 2",
                timeout=20,
            )
            obj = router_object(h, provider)
            assert obj is not None
            seen.append(obj)
            await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        assert rec.weights() == [0, 100, 0]
        assert rec.modelled() == [0, 100, 0]  # the matching requests reach the canary
        assert_primary_untouched_until_promotion(rec)
        during = seen[0]
        if provider == "nginx":
            annotations = during["metadata"]["annotations"]
            if "x-canary" in match["headers"]:
                assert annotations[f"{NGINX}/canary-by-header"] == "x-canary"
                assert annotations[f"{NGINX}/canary-by-header-value"] == "insider"
            else:
                assert annotations[f"{NGINX}/canary-by-cookie"] == "canary"
            after = router_object(h, provider)
            assert after is not None
            assert not [k for k in after["metadata"]["annotations"] if "canary-by" in k]
        elif provider == "istio":
            routes = during["spec"]["http"]
            assert len(routes) == 2
            assert set(routes[0]["match"][0]["headers"]) <= {"x-canary", "cookie"}
            weights = {d["destination"]["host"]: d["weight"] for d in routes[0]["route"]}
            assert weights == {"podinfo-primary": 0, "podinfo-canary": 100}
            assert [d["destination"]["host"] for d in routes[1]["route"]] == ["podinfo-primary"]
        else:
            rules = during["spec"]["rules"]
            assert len(rules) == 2
            header = rules[0]["matches"][0]["headers"][0]
            assert header["name"].lower() in ("x-canary", "cookie")
            weights = {ref["name"]: ref["weight"] for ref in rules[0]["backendRefs"]}
            assert weights == {"podinfo-primary": 0, "podinfo-canary": 100}
            assert [ref["name"] for ref in rules[1]["backendRefs"]] == ["podinfo-primary"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_blue_green_switch(provider: str) -> None:
    async with harness(provider) as h:
        await initialised(h, provider, iterations=2)
        async with recording(h, provider) as rec:
            h.set_image(NS, "podinfo", NEW_IMAGE)
            await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        assert rec.weights() == [0, 100, 0]
        # all traffic reaches the canary before the primary's rolling update starts
        switched = next(i for i, s in enumerate(rec.samples) if s.router_weight == 100)
        assert rec.samples[switched].primary_image == OLD_IMAGE
        assert_primary_untouched_until_promotion(rec)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_split_is_written_only_when_it_changes(provider: str) -> None:
    """Reconciling at the split in force writes nothing: ticks woken again and again (by the
    gateway controller's status writes, by canary edits) leave the router object alone."""
    async with harness(provider) as h:
        await initialised(h, provider, stepWeight=50)
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        await asyncio.sleep(0.5)
        before = router_object(h, provider)
        assert before is not None
        for value in ("a", "b", "c"):  # each edit wakes the canary for a tick
            h.patch("Canary", NS, "podinfo", lambda c, v=value: m.annotated(c, {"touch": v}))
            await asyncio.sleep(0.3)
        after = router_object(h, provider)
        assert after is not None
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


async def test_missing_router_crd_holds_only_that_canary() -> None:
    """Without the Gateway API CRDs, the Gateway API canary says which CRD is missing and
    touches nothing; a kubernetes canary beside it initialises. Once the CRDs are installed
    the first canary proceeds, without a controller restart."""
    async with Harness(gateway_api=False) as h:
        other = m.canary("other", iterations=2)
        await h.apply(
            m.namespace(NS),
            m.deployment(),
            m.deployment("other"),
            *setup("gatewayapi:v1", stepWeight=10)[2:],
            other,
        )
        await h.wait_phase(NS, "other", "Initialized")

        def ready_message() -> str:
            conditions = (h.canary(NS, "podinfo").get("status") or {}).get("conditions") or []
            ready = next((c for c in conditions if c["type"] == "Ready"), {})
            return str(ready.get("message", ""))

        await h.wait_for(lambda: "CRD" in ready_message(), what="missing CRD condition")
        assert "httproutes.gateway.networking.k8s.io" in ready_message()
        assert "not installed" in ready_message()
        assert h.get("Deployment", NS, "podinfo-primary") is None  # nothing touched
        assert h.get("Deployment", NS, "podinfo")["spec"]["replicas"] == 2  # type: ignore[index]

        await h.install_gateway_api()
        await h.wait_phase(NS, "podinfo", "Initialized", timeout=20)
        assert router_object(h, "gatewayapi:v1") is not None
        assert h.phase(NS, "other") == "Initialized"


# ---------------------------------------------------------------- Gateway API only

GATEWAY = "gatewayapi:v1"
ACCEPTED_KNOB = "localcluster.ensign.dev/accepted"


def route(h: Harness) -> JSON:
    obj = router_object(h, GATEWAY)
    assert obj is not None
    return obj


def mirrors(obj: JSON) -> list[str]:
    return [
        f["requestMirror"]["backendRef"]["name"]
        for rule in obj["spec"]["rules"]
        for f in rule.get("filters") or []
        if f.get("type") == "RequestMirror"
    ]


async def test_blue_green_mirroring() -> None:
    async with harness(GATEWAY) as h:
        await initialised(h, GATEWAY, iterations=3, mirror=True)
        seen: list[JSON] = []
        async with recording(h, GATEWAY) as rec:
            h.set_image(NS, "podinfo", NEW_IMAGE)
            await h.wait_for(
                lambda: (h.canary(NS, "podinfo").get("status") or {}).get("iterations") == 2,
                what="iteration 2",
                timeout=20,
            )
            seen.append(route(h))
            await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        assert mirrors(seen[0]) == ["podinfo-canary"]
        assert rec.weights() == [0, 100, 0]  # mirrored, then switched, then promoted
        assert mirrors(route(h)) == []


async def test_session_affinity_and_the_expiry_of_the_previous_cookie() -> None:
    affinity = {"cookieName": "flagger-cookie", "maxAge": 60}
    async with harness(GATEWAY) as h:
        await initialised(h, GATEWAY, stepWeight=50, sessionAffinity=affinity)
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_for(
            lambda: (h.canary(NS, "podinfo").get("status") or {}).get("canaryWeight") == 50,
            what="weight 50",
            timeout=20,
        )
        status = h.canary(NS, "podinfo")["status"]
        cookie = status["sessionAffinityCookie"]
        assert cookie.startswith("flagger-cookie=")
        during = route(h)
        sticky = during["spec"]["rules"][0]
        assert sticky["matches"][0]["headers"][0]["value"] == ".*flagger-cookie.*" + (
            cookie.split("=", 1)[1] + ".*"
        )
        refs = {ref["name"]: ref["weight"] for ref in sticky["backendRefs"]}
        assert refs == {"podinfo-primary": 0, "podinfo-canary": 100}
        # a client holding the cookie stays on the canary; others get the weighted split
        objects = [during, *services_and_workloads(h)]
        sticky_request = Request(
            host="app.example.com", cookies={"flagger-cookie": cookie_of(cookie)}
        )
        assert (
            live_split(h.canary(NS, "podinfo"), *objects, request=sticky_request).plain.canary
            == 100
        )
        assert live_split(h.canary(NS, "podinfo"), *objects).plain.canary == 50

        await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        status = h.canary(NS, "podinfo")["status"]
        assert "sessionAffinityCookie" not in status
        assert status["previousSessionAffinityCookie"] == cookie
        after = route(h)
        expiring = after["spec"]["rules"][0]
        headers = [
            header
            for f in expiring.get("filters") or []
            if f.get("type") == "ResponseHeaderModifier"
            for header in f["responseHeaderModifier"].get("add") or []
        ]
        assert {"name": "Set-Cookie", "value": f"{cookie}; Max-Age=-1"} in headers


async def test_a_route_its_parent_does_not_accept_halts_the_analysis() -> None:
    async with harness(GATEWAY) as h:
        await initialised(h, GATEWAY, stepWeight=20)
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_for(
            lambda: (h.canary(NS, "podinfo").get("status") or {}).get("canaryWeight") == 20,
            what="weight 20",
            timeout=20,
        )
        group = h.type("gateway.networking.k8s.io", "v1", "httproutes")
        h.cluster.store.patch(
            group, NS, "podinfo", lambda r: m.annotated(r, {ACCEPTED_KNOB: "false"})
        )

        def ready() -> JSON:
            conditions = h.canary(NS, "podinfo")["status"]["conditions"]
            return next(c for c in conditions if c["type"] == "Ready")

        await h.wait_for(lambda: ready()["reason"] == "RoutesUnavailable", what="halt")
        message = ready()["message"]
        assert message.startswith(
            "HTTPRoute podinfo.test parent gateway is not ready (status: False"
        )
        weight = route(h)
        await asyncio.sleep(1.0)  # several intervals: no step while the parent refuses
        assert route(h)["metadata"]["resourceVersion"] == weight["metadata"]["resourceVersion"]
        assert h.phase(NS, "podinfo") == "Progressing"
        assert message in [e for e in h.events(NS)]

        h.cluster.store.patch(
            group, NS, "podinfo", lambda r: m.annotated(r, {ACCEPTED_KNOB: "true"})
        )
        await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)


def services_and_workloads(h: Harness) -> list[JSON]:
    out: list[JSON] = []
    for group, plural in (("", "services"), ("apps", "deployments")):
        items, _, _ = h.cluster.store.list(h.type(group, "v1", plural), NS)
        out += items
    return out


def cookie_of(cookie: str) -> str:
    return cookie.split("=", 1)[1]
