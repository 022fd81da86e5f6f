"""Gateway API CRDs (GatewayClass, Gateway, HTTPRoute): both served versions, the validation
users trip over, the status subresource, and (local cluster only) the simulated gateway
controller that writes HTTPRoute status.parents.

On a real cluster the tests use the Gateway API CRDs already installed there (so they double as
a check of ours against upstream), and install ours only when there are none.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.types import PatchType

from ensign.localcluster.gatewayapi import gateway_api_crds
from ensign.localcluster.gateways import ACCEPTED_ANNOTATION, CONTROLLER_NAME
from tests.contract._support import (
    HTTPRoute,
    HTTPRouteV1beta1,
    Kube,
    assert_status_response,
    causes,
)

GROUP = "gateway.networking.k8s.io"
Gateway = create_namespaced_resource(GROUP, "v1", "Gateway", "gateways")
GatewayV1beta1 = create_namespaced_resource(GROUP, "v1beta1", "Gateway", "gateways")
GatewayClass = create_global_resource(GROUP, "v1", "GatewayClass", "gatewayclasses")
GatewayClassV1beta1 = create_global_resource(GROUP, "v1beta1", "GatewayClass", "gatewayclasses")
SIMULATOR = "the simulated gateway controller is a LocalCluster feature"


@pytest.fixture
async def gw(kube: Kube) -> AsyncIterator[Kube]:
    """The Gateway API CRDs, served: ours, unless a real cluster already has them."""
    for doc in gateway_api_crds():
        if not kube.is_local:
            try:
                await kube.client.get(CustomResourceDefinition, doc["metadata"]["name"])
                continue  # installed upstream: test against it, never modify it
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        await kube.install_crd(doc)
    yield kube


def route_doc(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "parentRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
        "hostnames": ["app.example.com"],
        "rules": [
            {
                "backendRefs": [
                    {"name": "podinfo-primary", "port": 9898, "weight": 90},
                    {"name": "podinfo-canary", "port": 9898, "weight": 10},
                ]
            }
        ],
    }
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": body,
    }


async def post_route(kube: Kube, doc: dict[str, Any], version: str = "v1") -> Any:
    return await kube.http.post(
        kube.path(f"{GROUP}/{version}", "httproutes"),
        json=dict(doc, apiVersion=f"{GROUP}/{version}"),
    )


async def rejected(kube: Kube, doc: dict[str, Any]) -> dict[str, str]:
    """POST `doc`, expect 422 Invalid for it; the causes as field -> reason."""
    response = await post_route(kube, doc)
    body = assert_status_response(
        response, 422, "Invalid", name=doc["metadata"]["name"], kind="HTTPRoute", group=GROUP
    )
    return causes(body)


async def status_of(kube: Kube, name: str) -> dict[str, Any]:
    got = await kube.client.get(HTTPRoute, name)
    return dict(got.to_dict().get("status") or {})


# ------------------------------------------------------------ serving


async def test_route_created_as_v1_is_served_as_v1beta1(gw: Kube) -> None:
    doc = route_doc("podinfo")
    created = await gw.client.create(HTTPRoute.from_dict(doc))
    spec = created.spec
    # Server-side defaults of the Gateway API schema.
    assert spec["parentRefs"][0]["group"] == GROUP
    assert spec["parentRefs"][0]["kind"] == "Gateway"
    backend = spec["rules"][0]["backendRefs"][0]
    assert (backend["group"], backend["kind"], backend["weight"]) == ("", "Service", 90)
    assert spec["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]

    beta = await gw.client.get(HTTPRouteV1beta1, "podinfo")
    assert beta.apiVersion == f"{GROUP}/v1beta1"
    assert beta.kind == "HTTPRoute"
    assert beta.metadata.uid == created.metadata.uid
    assert beta.spec == spec
    listed = [r async for r in gw.client.list(HTTPRouteV1beta1)]
    assert [r.metadata.name for r in listed] == ["podinfo"]

    # A write through v1beta1 is the same object, seen through v1.
    await gw.client.patch(
        HTTPRouteV1beta1,
        "podinfo",
        {"spec": {"hostnames": ["beta.example.com"]}},
        patch_type=PatchType.MERGE,
    )
    again = await gw.client.get(HTTPRoute, "podinfo")
    assert again.apiVersion == f"{GROUP}/v1"
    assert again.spec["hostnames"] == ["beta.example.com"]
    assert again.metadata.generation == 2


async def test_route_created_as_v1beta1(gw: Kube) -> None:
    response = await post_route(gw, route_doc("beta"), "v1beta1")
    assert response.status_code == 201, response.text
    assert response.json()["apiVersion"] == f"{GROUP}/v1beta1"
    got = await gw.client.get(HTTPRoute, "beta")
    assert got.apiVersion == f"{GROUP}/v1"


async def test_discovery_lists_both_versions_with_status(gw: Kube) -> None:
    for version in ("v1", "v1beta1"):
        response = await gw.http.get(f"/apis/{GROUP}/{version}")
        assert response.status_code == 200, response.text
        names = {r["name"] for r in response.json()["resources"]}
        assert {"httproutes", "httproutes/status", "gateways", "gatewayclasses"} <= names
    group = (await gw.http.get(f"/apis/{GROUP}")).json()
    assert group["preferredVersion"]["version"] == "v1"


async def test_gateway_and_gateway_class(gw: Kube) -> None:
    class_name = gw.name("ensign-contract")
    gw.defer(lambda: gw.client.delete(GatewayClass, class_name))
    await gw.client.create(
        GatewayClass.from_dict(
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "GatewayClass",
                "metadata": {"name": class_name},
                "spec": {"controllerName": "contract.ensign.dev/none"},
            }
        )
    )
    beta_class = await gw.client.get(GatewayClassV1beta1, class_name)
    assert beta_class.spec["controllerName"] == "contract.ensign.dev/none"
    gateway = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw"},
        "spec": {
            "gatewayClassName": class_name,
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
        },
    }
    created = await gw.client.create(Gateway.from_dict(gateway))
    listener = created.spec["listeners"][0]
    assert listener["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    beta = await gw.client.get(GatewayV1beta1, "gw")
    assert beta.metadata.uid == created.metadata.uid

    bad = copy.deepcopy(gateway)
    bad["metadata"]["name"] = "bad"
    bad["spec"]["listeners"][0]["port"] = 70000
    response = await gw.http.post(gw.path(f"{GROUP}/v1", "gateways"), json=bad)
    body = assert_status_response(response, 422, "Invalid", kind="Gateway", group=GROUP)
    assert causes(body) == {"spec.listeners[0].port": "FieldValueInvalid"}


async def test_gateway_class_controller_name_is_immutable(gw: Kube) -> None:
    class_name = gw.name("ensign-contract")
    gw.defer(lambda: gw.client.delete(GatewayClass, class_name))
    await gw.client.create(
        GatewayClass.from_dict(
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "GatewayClass",
                "metadata": {"name": class_name},
                "spec": {"controllerName": "contract.ensign.dev/none"},
            }
        )
    )
    with pytest.raises(ApiError) as caught:
        await gw.client.patch(
            GatewayClass,
            class_name,
            {"spec": {"controllerName": "contract.ensign.dev/other"}},
            patch_type=PatchType.MERGE,
        )
    assert caught.value.status.code == 422
    assert "immutable" in str(caught.value.status.message)


# ---------------------------------------------------------- validation


@pytest.mark.parametrize("weight", [-1, 1000001])
async def test_weight_out_of_range_is_rejected(gw: Kube, weight: int) -> None:
    doc = route_doc("weights")
    doc["spec"]["rules"][0]["backendRefs"][0]["weight"] = weight
    assert await rejected(gw, doc) == {"spec.rules[0].backendRefs[0].weight": "FieldValueInvalid"}


@pytest.mark.parametrize("weight", [0, 1000000])
async def test_weight_bounds_are_accepted(gw: Kube, weight: int) -> None:
    doc = route_doc(f"w{weight}")
    doc["spec"]["rules"][0]["backendRefs"][0]["weight"] = weight
    response = await post_route(gw, doc)
    assert response.status_code == 201, response.text


async def test_unknown_filter_type_is_rejected(gw: Kube) -> None:
    doc = route_doc("filters")
    doc["spec"]["rules"][0]["filters"] = [{"type": "RequestHeaderRewriter"}]
    response = await post_route(gw, doc)
    body = assert_status_response(response, 422, "Invalid", kind="HTTPRoute", group=GROUP)
    assert causes(body).get("spec.rules[0].filters[0].type") == "FieldValueNotSupported"
    assert "spec.rules[0].filters[0].type" in body["message"]
    assert '"RequestHeaderRewriter"' in body["message"]


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target: Any = doc["spec"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


INVALID_ROUTES = [
    (("rules", 0, "backendRefs", 0, "port"), 0, "spec.rules[0].backendRefs[0].port"),
    (("rules", 0, "backendRefs", 0, "port"), 65536, "spec.rules[0].backendRefs[0].port"),
    (("parentRefs", 0, "port"), 65536, "spec.parentRefs[0].port"),
    (("rules", 0, "matches"), [{"path": {"type": "Prefix", "value": "/"}}], "spec.rules[0].matches[0].path.type"),
    (
        ("rules", 0, "matches"),
        [{"headers": [{"name": "x-canary", "value": "1", "type": "Glob"}]}],
        "spec.rules[0].matches[0].headers[0].type",
    ),
    (
        ("rules", 0, "matches"),
        [{"queryParams": [{"name": "canary", "value": "1", "type": "Prefix"}]}],
        "spec.rules[0].matches[0].queryParams[0].type",
    ),
    (("hostnames",), ["App.Example.com"], "spec.hostnames[0]"),
    (("hostnames",), ["app.example.com:8080"], "spec.hostnames[0]"),
    (("parentRefs",), [{"namespace": "istio-ingress"}], "spec.parentRefs[0].name"),
    (("rules", 0, "timeouts"), {"request": "10 seconds"}, "spec.rules[0].timeouts.request"),
    (("rules", 0, "timeouts"), {"backendRequest": "1.5s"}, "spec.rules[0].timeouts.backendRequest"),
    (("rules",), [{}] * 17, "spec.rules"),
    (("rules", 0, "matches"), [{"path": {"value": f"/{i}"}} for i in range(65)], "spec.rules[0].matches"),
    (("rules", 0, "backendRefs"), [{"name": f"b{i}", "port": 80} for i in range(17)], "spec.rules[0].backendRefs"),
    (("rules", 0, "backendRefs"), [{"name": "no-port"}], "spec.rules[0].backendRefs[0]"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field"), INVALID_ROUTES)
async def test_invalid_routes_are_rejected(
    gw: Kube, path: tuple[Any, ...], value: Any, field: str
) -> None:
    doc = _set(route_doc("invalid"), path, value)
    found = await rejected(gw, doc)
    assert field in found, found


async def test_filter_fields_must_match_the_type(gw: Kube) -> None:
    doc = route_doc("mismatch")
    doc["spec"]["rules"][0]["filters"] = [
        {"type": "RequestHeaderModifier", "urlRewrite": {"hostname": "x.example.com"}}
    ]
    response = await post_route(gw, doc)
    body = assert_status_response(response, 422, "Invalid", kind="HTTPRoute", group=GROUP)
    assert "spec.rules[0].filters[0]" in causes(body)
    assert "filter.requestHeaderModifier must be specified" in body["message"]


async def test_valid_filters_and_matches_are_accepted(gw: Kube) -> None:
    doc = route_doc("full")
    rule = doc["spec"]["rules"][0]
    rule["matches"] = [
        {
            "path": {"type": "PathPrefix", "value": "/api"},
            "headers": [{"name": "x-canary", "value": "insider"}],
            "queryParams": [{"type": "RegularExpression", "name": "v", "value": "^2"}],
            "method": "GET",
        }
    ]
    rule["filters"] = [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-a", "value": "1"}]}},
        {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}},
    ]  # fmt: skip
    rule["timeouts"] = {"request": "10s", "backendRequest": "1m30s"}
    response = await post_route(gw, doc)
    assert response.status_code == 201, response.text
    headers = response.json()["spec"]["rules"][0]["matches"][0]["headers"]
    assert headers == [{"name": "x-canary", "value": "insider", "type": "Exact"}]


# ------------------------------------------------------------- status


async def test_status_is_a_subresource(gw: Kube) -> None:
    created = await gw.client.create(HTTPRoute.from_dict(route_doc("sub")))
    parent = {
        "parentRef": {"group": GROUP, "kind": "Gateway", "name": "gateway"},
        "controllerName": "contract.ensign.dev/test",
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
    path = gw.path(f"{GROUP}/v1", "httproutes", "sub")
    # The main resource ignores status changes ...
    response = await gw.http.patch(
        path,
        json={"status": {"parents": [parent]}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    mine = [
        p
        for p in (response.json().get("status") or {}).get("parents") or []
        if p["controllerName"] == "contract.ensign.dev/test"
    ]
    assert mine == []
    # ... the status subresource validates them.
    bad = copy.deepcopy(parent)
    bad["conditions"][0]["status"] = "Yes"
    response = await gw.http.patch(
        f"{path}/status",
        json={"status": {"parents": [bad]}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    body = assert_status_response(response, 422, "Invalid", kind="HTTPRoute", group=GROUP)
    assert "status.parents[0].conditions[0].status" in causes(body)
    assert created.metadata.generation == 1


@pytest.mark.local_only(SIMULATOR)
async def test_simulator_accepts_routes_and_follows_generations(gw: Kube) -> None:
    gamma = {"group": "", "kind": "Service", "name": "podinfo", "port": 9898}
    doc = route_doc("sim", parentRefs=[{"name": "gateway", "namespace": "istio-ingress"}, gamma])
    created = await gw.client.create(HTTPRoute.from_dict(doc))

    async def parents_at(generation: int) -> list[dict[str, Any]] | None:
        parents = (await status_of(gw, "sim")).get("parents") or []
        conds = [c for p in parents for c in p["conditions"]]
        if len(parents) == 2 and all(c["observedGeneration"] == generation for c in conds):
            return list(parents)
        return None

    parents = await gw.eventually(lambda: parents_at(1), what="status.parents at generation 1")
    assert [p["parentRef"] for p in parents] == created.spec["parentRefs"]
    for parent in parents:
        assert parent["controllerName"] == CONTROLLER_NAME
        conds = {c["type"]: c for c in parent["conditions"]}
        assert set(conds) == {"Accepted", "ResolvedRefs"}
        assert (conds["Accepted"]["status"], conds["Accepted"]["reason"]) == ("True", "Accepted")
        # The backends podinfo-primary/-canary do not exist in this namespace.
        resolved = conds["ResolvedRefs"]
        assert (resolved["status"], resolved["reason"]) == ("False", "BackendNotFound")
        assert resolved["lastTransitionTime"]

    await gw.client.patch(
        HTTPRoute,
        "sim",
        {"spec": {"rules": [{"backendRefs": [{"name": "podinfo-primary", "port": 9898}]}]}},
        patch_type=PatchType.MERGE,
    )
    await gw.eventually(lambda: parents_at(2), what="status.parents at generation 2")


@pytest.mark.local_only(SIMULATOR)
async def test_accepted_knob_keeps_the_route_unaccepted(gw: Kube) -> None:
    doc = route_doc("refused")
    doc["metadata"]["annotations"] = {ACCEPTED_ANNOTATION: "false"}
    await gw.client.create(HTTPRoute.from_dict(doc))

    async def accepted(generation: int) -> dict[str, Any] | None:
        parents = (await status_of(gw, "refused")).get("parents") or []
        if not parents:
            return None
        cond = {c["type"]: c for c in parents[0]["conditions"]}["Accepted"]
        return cond if cond["observedGeneration"] == generation else None

    cond = await gw.eventually(lambda: accepted(1), what="Accepted condition")
    assert (cond["status"], cond["reason"]) == ("False", "NotAllowedByListeners")
    assert cond["message"]
    await gw.client.patch(
        HTTPRoute, "refused", {"spec": {"hostnames": ["b.example.com"]}}, patch_type=PatchType.MERGE
    )
    cond = await gw.eventually(lambda: accepted(2), what="Accepted condition at generation 2")
    assert (cond["status"], cond["reason"]) == ("False", "NotAllowedByListeners")


@pytest.mark.local_only(SIMULATOR)
async def test_watch_sees_the_status_update(gw: Kube) -> None:
    response = await gw.http.get(gw.path(f"{GROUP}/v1", "httproutes"))
    rv = response.json()["metadata"]["resourceVersion"]
    await gw.client.create(HTTPRoute.from_dict(route_doc("watched")))
    stream = gw.client.watch(HTTPRoute, resource_version=rv, fields={"metadata.name": "watched"})
    seen: list[tuple[str, Any]] = []
    async with contextlib.aclosing(stream) as events, asyncio.timeout(5):
        async for kind, obj in events:
            seen.append((kind, obj))
            if (obj.status or {}).get("parents"):
                break
    assert [kind for kind, _ in seen] == ["ADDED", "MODIFIED"]
    added, modified = seen[0][1], seen[1][1]
    assert not added.status
    assert modified.status["parents"][0]["controllerName"] == CONTROLLER_NAME
    assert modified.metadata.generation == added.metadata.generation == 1


@pytest.mark.local_only(SIMULATOR)
async def test_crds_installed_after_the_cluster_started(kube: Kube) -> None:
    """The simulator listens before the CRDs exist: routes created later still get status."""
    kube.cluster.install_gateway_api()
    await kube.wait_served(gateway_api_crds()[2])
    await kube.client.create(HTTPRoute.from_dict(route_doc("late")))

    async def accepted() -> bool:
        parents = (await status_of(kube, "late")).get("parents") or []
        return bool(parents) and parents[0]["conditions"][0]["status"] == "True"

    await kube.eventually(accepted, what="late route accepted")
