"""The gateway simulator: HTTPRoute status.parents written through the status subresource."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ensign.localcluster.gatewayapi import gateway_api_crds, install_gateway_api
from ensign.localcluster.gateways import (
    ACCEPTED_ANNOTATION,
    CONTROLLER_NAME,
    GatewaySimulator,
)
from ensign.localcluster.kinds import ResourceType
from ensign.localcluster.store import Store

JSON = dict[str, Any]
GROUP = "gateway.networking.k8s.io"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(clock: Clock) -> Store:
    s = Store(clock=clock)
    install_gateway_api(s)
    return s


@pytest.fixture
async def sim(store: Store) -> AsyncIterator[GatewaySimulator]:
    simulator = GatewaySimulator(store)
    simulator.start()
    yield simulator
    simulator.stop()


def routes(store: Store, version: str = "v1") -> ResourceType:
    return store.type_for(GROUP, version, "httproutes")


def services(store: Store) -> ResourceType:
    return store.type_for("", "v1", "services")


def route(name: str = "web", **spec: Any) -> JSON:
    body: JSON = {
        "parentRefs": [{"name": "gw", "namespace": "gateways"}],
        "rules": [{"backendRefs": [{"name": "web-primary", "port": 80, "weight": 100}]}],
    }
    body.update(spec)
    return {"metadata": {"name": name}, "spec": body}


def service(name: str) -> JSON:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}


def parents(store: Store, name: str = "web") -> list[JSON]:
    status = store.get(routes(store), "default", name).get("status") or {}
    return list(status.get("parents") or [])


def conditions(parent: JSON) -> dict[str, JSON]:
    return {c["type"]: c for c in parent["conditions"]}


async def test_writes_one_parent_per_parent_ref(store: Store, sim: GatewaySimulator) -> None:
    store.create(services(store), "default", service("web-primary"))
    spec = route(
        parentRefs=[
            {"name": "gw", "namespace": "gateways", "sectionName": "http"},
            {"group": "", "kind": "Service", "name": "web", "port": 80},  # GAMMA
        ]
    )
    created = store.create(routes(store), "default", spec)
    await sim.idle()
    got = parents(store)
    assert [p["parentRef"] for p in got] == created["spec"]["parentRefs"]
    for parent in got:
        assert parent["controllerName"] == CONTROLLER_NAME
        conds = conditions(parent)
        assert [c["type"] for c in parent["conditions"]] == ["Accepted", "ResolvedRefs"]
        assert conds["Accepted"]["status"] == "True"
        assert conds["Accepted"]["reason"] == "Accepted"
        assert conds["ResolvedRefs"]["status"] == "True"
        assert conds["ResolvedRefs"]["reason"] == "ResolvedRefs"
        for cond in conds.values():
            assert cond["observedGeneration"] == 1
            assert cond["lastTransitionTime"] == "2025-01-01T00:00:00Z"


async def test_follows_generation_and_keeps_transition_time(
    store: Store, sim: GatewaySimulator, clock: Clock
) -> None:
    store.create(services(store), "default", service("web-primary"))
    store.create(services(store), "default", service("web-canary"))
    store.create(routes(store), "default", route())
    await sim.idle()
    clock.advance(30)

    def shift(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        new["spec"]["rules"][0]["backendRefs"] = [
            {"name": "web-primary", "port": 80, "weight": 90},
            {"name": "web-canary", "port": 80, "weight": 10},
        ]
        return new

    updated = store.patch(routes(store), "default", "web", shift)
    assert updated["metadata"]["generation"] == 2
    await sim.idle()
    cond = conditions(parents(store)[0])["Accepted"]
    assert cond["observedGeneration"] == 2
    assert cond["lastTransitionTime"] == "2025-01-01T00:00:00Z"  # status did not change


async def test_no_write_when_nothing_changes(store: Store, sim: GatewaySimulator) -> None:
    store.create(routes(store), "default", route())
    await sim.idle()
    rv = store.get(routes(store), "default", "web")["metadata"]["resourceVersion"]

    def label(obj: JSON) -> JSON:
        return dict(obj, metadata=dict(obj["metadata"], labels={"a": "b"}))

    store.patch(routes(store), "default", "web", label)
    await sim.idle()
    after = store.get(routes(store), "default", "web")
    assert int(after["metadata"]["resourceVersion"]) == int(rv) + 1  # only the label patch


async def test_accepted_knob(store: Store, sim: GatewaySimulator, clock: Clock) -> None:
    body = route()
    body["metadata"]["annotations"] = {ACCEPTED_ANNOTATION: "false"}
    store.create(routes(store), "default", body)
    await sim.idle()
    cond = conditions(parents(store)[0])["Accepted"]
    assert (cond["status"], cond["reason"]) == ("False", "NotAllowedByListeners")
    assert cond["message"]
    clock.advance(5)

    def allow(obj: JSON) -> JSON:
        return dict(obj, metadata=dict(obj["metadata"], annotations={}))

    store.patch(routes(store), "default", "web", allow)
    await sim.idle()
    cond = conditions(parents(store)[0])["Accepted"]
    assert (cond["status"], cond["reason"]) == ("True", "Accepted")
    assert cond["lastTransitionTime"] == "2025-01-01T00:00:05Z"


async def test_backend_not_found_until_the_service_exists(
    store: Store, sim: GatewaySimulator
) -> None:
    store.create(routes(store), "default", route())
    await sim.idle()
    cond = conditions(parents(store)[0])["ResolvedRefs"]
    assert (cond["status"], cond["reason"]) == ("False", "BackendNotFound")
    assert "default/web-primary" in cond["message"]
    assert conditions(parents(store)[0])["Accepted"]["status"] == "True"
    store.create(services(store), "default", service("web-primary"))
    await sim.idle()
    cond = conditions(parents(store)[0])["ResolvedRefs"]
    assert (cond["status"], cond["reason"]) == ("True", "ResolvedRefs")
    store.delete(services(store), "default", "web-primary")
    await sim.idle()
    assert conditions(parents(store)[0])["ResolvedRefs"]["status"] == "False"


async def test_keeps_other_controllers_entries_and_restores_its_own(
    store: Store, sim: GatewaySimulator
) -> None:
    store.create(routes(store), "default", route())
    await sim.idle()
    current = store.get(routes(store), "default", "web")
    foreign = {
        "parentRef": {"group": GROUP, "kind": "Gateway", "name": "other"},
        "controllerName": "example.com/other",
        "conditions": [
            {
                "type": "Accepted",
                "status": "True",
                "reason": "Accepted",
                "message": "",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
            }
        ],
    }
    store.replace(
        routes(store),
        "default",
        "web",
        dict(current, status={"parents": [foreign]}),
        subresource="status",
    )
    await sim.idle()
    got = parents(store)
    assert [p["controllerName"] for p in got] == ["example.com/other", CONTROLLER_NAME]


async def test_removed_parent_refs_take_the_entries_back(
    store: Store, sim: GatewaySimulator
) -> None:
    store.create(routes(store), "default", route())
    await sim.idle()
    assert len(parents(store)) == 1

    def detach(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        del new["spec"]["parentRefs"]
        return new

    store.patch(routes(store), "default", "web", detach)
    await sim.idle()
    assert parents(store) == []


async def test_route_without_parent_refs_gets_no_status(
    store: Store, sim: GatewaySimulator
) -> None:
    body = route()
    del body["spec"]["parentRefs"]
    store.create(routes(store), "default", body)
    await sim.idle()
    assert "status" not in store.get(routes(store), "default", "web")


async def test_crds_installed_after_start(clock: Clock) -> None:
    store = Store(clock=clock)
    simulator = GatewaySimulator(store)
    simulator.start()
    try:
        install_gateway_api(store)
        store.create(routes(store, "v1beta1"), "default", route())
        await simulator.idle()
        assert parents(store)[0]["controllerName"] == CONTROLLER_NAME
    finally:
        simulator.stop()


async def test_existing_routes_are_picked_up_on_start(store: Store, clock: Clock) -> None:
    store.create(routes(store), "default", route())
    simulator = GatewaySimulator(store)
    simulator.start()
    try:
        await simulator.idle()
        assert len(parents(store)) == 1
    finally:
        simulator.stop()


async def test_stopped_simulator_writes_nothing(store: Store) -> None:
    simulator = GatewaySimulator(store)
    simulator.start()
    simulator.stop()
    store.create(routes(store), "default", route())
    await simulator.idle()
    assert "status" not in store.get(routes(store), "default", "web")


async def test_deleted_route_is_forgotten(store: Store, sim: GatewaySimulator) -> None:
    store.create(routes(store), "default", route())
    store.delete(routes(store), "default", "web")
    await sim.idle()  # the pending write finds no route and gives up quietly
    store.create(services(store), "default", service("web-primary"))
    await sim.idle()


def test_crds_are_fresh_copies() -> None:
    first, second = gateway_api_crds(), gateway_api_crds()
    assert first == second
    assert [c["spec"]["names"]["kind"] for c in first] == ["GatewayClass", "Gateway", "HTTPRoute"]
    for crd in first:
        versions = {v["name"]: (v["served"], v["storage"]) for v in crd["spec"]["versions"]}
        assert versions == {"v1": (True, True), "v1beta1": (True, False)}
    v1, beta = first[2]["spec"]["versions"]
    assert v1["schema"] == beta["schema"] and v1["schema"] is not beta["schema"]


# ------------------------------------------------------------------ harness


async def test_harness_installs_gateway_api_later_and_applies_any_kind() -> None:
    from ensign.localcluster.errors import ApiError
    from ensign.testing.harness import Harness

    httproute = dict(route("web"), apiVersion=f"{GROUP}/v1", kind="HTTPRoute")
    httproute["metadata"] = {"name": "web", "namespace": "default"}
    async with Harness(start_controller=False) as h:
        assert h.served_type(f"{GROUP}/v1", "HTTPRoute") is None
        assert h.get_object(f"{GROUP}/v1", "HTTPRoute", "default", "web") is None
        with pytest.raises(ApiError):
            await h.apply(httproute)
        assert len(await h.install_gateway_api()) == 3
        assert await h.install_gateway_api() == []  # idempotent
        await h.apply(
            httproute,
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "GatewayClass",  # plural "gatewayclasses", not "gatewayclasss"
                "metadata": {"name": "local"},
                "spec": {"controllerName": CONTROLLER_NAME},
            },
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
            },
        )
        beta = h.get_object(f"{GROUP}/v1beta1", "HTTPRoute", "default", "web")
        assert beta is not None and beta["apiVersion"] == f"{GROUP}/v1beta1"
        assert h.get_object(f"{GROUP}/v1", "GatewayClass", "", "local") is not None
        assert h.get_object("networking.k8s.io/v1", "Ingress", "default", "web") is not None
        assert h.get_object("networking.k8s.io/v1", "Ingress", "default", "nope") is None

        def accepted() -> bool:
            obj = h.get_object(f"{GROUP}/v1", "HTTPRoute", "default", "web") or {}
            return bool((obj.get("status") or {}).get("parents"))

        await h.wait_for(accepted, timeout=5, what="HTTPRoute status.parents")


async def test_harness_gateway_api_flag() -> None:
    from ensign.testing.harness import Harness

    async with Harness(start_controller=False, gateway_api=True) as h:
        assert h.served_type(f"{GROUP}/v1beta1", "HTTPRoute") is not None
        assert h.served_type(f"{GROUP}/v1", "Gateway") is not None
