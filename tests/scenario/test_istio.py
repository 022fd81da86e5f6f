"""Istio end to end: what only the Istio router does, on the local cluster with the real
controller (the strategies every router shares run in test_traffic.py).

The VirtualService is read as the data plane would (`ensign.traffic`), so each test asserts
the traffic in force, not only the object's fields.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.traffic import Request, live_split
from tests.scenario.routing_support import NS, harness, recording, router_object
from tests.scenario.support import NEW_IMAGE, OLD_IMAGE

JSON = dict[str, Any]
ISTIO = "istio"
INTERVAL = "250ms"
VS = ("networking.istio.io", "v1beta1", "virtualservices")


def canary(service: JSON | None = None, **analysis: Any) -> JSON:
    body = m.routed(m.canary(interval=INTERVAL, iterations=0, threshold=1), ISTIO)
    body = m.with_analysis(body, **{"iterations": None, **analysis})
    if service:
        body["spec"]["service"].update(service)
    return body


async def started(h: Any, body: JSON, *extra: JSON) -> None:
    await h.apply(m.namespace(NS), m.deployment(), *extra, body)
    await h.wait_phase(NS, "podinfo", "Initialized")
    await h.wait_for(lambda: router_object(h, ISTIO) is not None, what="VirtualService")


def status(h: Any) -> JSON:
    return dict(h.canary(NS, "podinfo").get("status") or {})


def objects(h: Any) -> list[JSON]:
    out: list[JSON] = []
    for group, version, plural in (("", "v1", "services"), ("apps", "v1", "deployments"), VS):
        items, _, _ = h.cluster.store.list(h.type(group, version, plural), NS)
        out += items
    return out


def split_for(h: Any, request: Request | None = None) -> Any:
    return live_split(h.canary(NS, "podinfo"), *objects(h), request=request).plain


async def test_ab_by_source_labels() -> None:
    match = [{"sourceLabels": {"app": "frontend"}}]
    async with harness(ISTIO) as h:
        await started(h, canary(iterations=3, match=match))
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_for(lambda: status(h).get("iterations") == 2, what="iteration 2", timeout=20)
        frontend = Request(host="podinfo", source_labels={"app": "frontend"})
        assert split_for(h, frontend).canary == 100
        assert split_for(h, Request(host="podinfo")).canary == 0
        vs = router_object(h, ISTIO)
        assert vs is not None
        assert vs["spec"]["http"][0]["match"][0]["sourceLabels"] == {"app": "frontend"}
        await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        assert split_for(h, frontend).canary == 0


async def test_blue_green_mirroring() -> None:
    async with harness(ISTIO) as h:
        await started(h, canary(iterations=3, mirror=True))
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_for(lambda: status(h).get("iterations") == 2, what="iteration 2", timeout=20)
        during = split_for(h, Request(host="podinfo"))
        assert (during.primary, during.canary, during.mirrored) == (100, 0, True)
        await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        after = split_for(h, Request(host="podinfo"))
        assert (after.primary, after.mirrored) == (100, False)


async def test_canary_mirror_pre_stage_at_mirror_weight() -> None:
    async with harness(ISTIO) as h:
        await started(h, canary(stepWeight=20, maxWeight=40, mirror=True, mirrorWeight=30))
        mirrored: list[float] = []

        def watch(rec: Any) -> None:
            split = split_for(h, Request(host="podinfo"))
            if split.mirrored:
                mirrored.append(split.mirror_percent)

        async with recording(h, ISTIO, on_sample=watch) as rec:
            h.set_image(NS, "podinfo", NEW_IMAGE)
            await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        assert rec.weights() == [0, 20, 40, 0]
        assert mirrored and set(mirrored) == {30.0}  # mirrored at 30% before the first step


async def test_session_affinity_rollback_mid_run_expires_the_cookie(gate: GateServer) -> None:
    affinity = {"cookieName": "flagger-cookie", "maxAge": 60}
    hook = m.hook("check", "rollout", gate.url("check"))
    async with harness(ISTIO) as h:
        await started(h, canary(stepWeight=25, sessionAffinity=affinity, webhooks=[hook]))
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_for(lambda: status(h).get("canaryWeight") == 25, what="25", timeout=20)
        cookie = status(h)["sessionAffinityCookie"]
        name, value = cookie.split("=", 1)
        sticky = Request(host="podinfo", cookies={name: value})
        assert split_for(h, sticky).canary == 100  # a client with the cookie stays on it
        assert split_for(h, Request(host="podinfo")).canary == 25
        gate.close("check")
        await h.wait_phase(NS, "podinfo", "Failed", timeout=20)
        after = status(h)
        assert "sessionAffinityCookie" not in after
        assert after["previousSessionAffinityCookie"] == cookie
        routing = split_for(h, sticky)
        assert routing.canary == 0  # back on the primary, and told to drop the cookie
        assert any(c.startswith(f"{cookie}; Max-Age=-1") for c in routing.set_cookies), (
            routing.set_cookies
        )
        primary = h.get("Deployment", NS, "podinfo-primary")
        assert primary is not None
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == OLD_IMAGE


async def test_delegate_virtual_service() -> None:
    async with harness(ISTIO) as h:
        await started(h, canary({"delegation": True}, stepWeight=50))
        vs = router_object(h, ISTIO)
        assert vs is not None
        assert not vs["spec"].get("hosts") and not vs["spec"].get("gateways")
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)


async def test_tcp_service() -> None:
    async with harness(ISTIO) as h:
        await started(h, canary({"appProtocol": "tcp"}, stepWeight=50))
        async with recording(h, ISTIO) as rec:
            h.set_image(NS, "podinfo", NEW_IMAGE)
            await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        vs = router_object(h, ISTIO)
        assert vs is not None and vs["spec"].get("tcp") and not vs["spec"].get("http")
        assert rec.weights() == [0, 50, 100, 0]
        tcp = Request(host="podinfo", protocol="tcp", port=80)
        assert split_for(h, tcp).primary == 100


async def test_a_users_virtual_service_is_taken_over_and_restored() -> None:
    """The user's VirtualService routes podinfo to a legacy Service. Ensign takes it over
    (Flagger's behaviour), and with revertOnDeletion hands it back unchanged on deletion."""
    original_spec = {
        "hosts": ["podinfo"],
        "http": [{"route": [{"destination": {"host": "podinfo-legacy"}}]}],
    }
    users = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": NS},
        "spec": original_spec,
    }
    async with harness(ISTIO) as h:
        body = m.with_spec(canary(stepWeight=50), revertOnDeletion=True)
        await h.apply(m.namespace(NS), m.deployment(), users, body)
        await h.wait_phase(NS, "podinfo", "Initialized")
        vs = router_object(h, ISTIO)
        assert vs is not None
        hosts = [d["destination"]["host"] for d in vs["spec"]["http"][-1]["route"]]
        assert hosts == ["podinfo-primary", "podinfo-canary"]
        saved = vs["metadata"]["annotations"]["flagger.kubernetes.io/original-configuration"]
        assert json.loads(saved) == original_spec
        h.cluster.store.delete(h.type("flagger.app", "v1beta1", "canaries"), NS, "podinfo")
        await h.wait_for(lambda: h.get("Canary", NS, "podinfo") is None, what="deleted")
        await asyncio.sleep(0.2)
        restored = router_object(h, ISTIO)
        assert restored is not None
        assert restored["spec"] == original_spec


async def test_session_affinity_previous_cookie_expired_after_promotion() -> None:
    affinity = {"cookieName": "flagger-cookie", "maxAge": 60}
    async with harness(ISTIO) as h:
        await started(h, canary(stepWeight=50, sessionAffinity=affinity))
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_for(lambda: status(h).get("canaryWeight") == 50, what="50", timeout=20)
        cookie = status(h)["sessionAffinityCookie"]
        name, value = cookie.split("=", 1)
        sticky = Request(host="podinfo", cookies={name: value})
        assert split_for(h, sticky).canary == 100
        await h.wait_phase(NS, "podinfo", "Succeeded", timeout=30)
        assert status(h)["previousSessionAffinityCookie"] == cookie
        routing = split_for(h, sticky)
        assert routing.primary == 100
        assert any(c.startswith(f"{cookie}; Max-Age=-1") for c in routing.set_cookies)
        assert split_for(h, Request(host="podinfo")).set_cookies == ()
