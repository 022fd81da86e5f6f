"""Istio CRDs (VirtualService, DestinationRule): the served versions, the validation users trip
over, and the status subresource.

On a real cluster the tests use the Istio CRDs already installed there (so they double as a check
of ours against upstream), and install ours only when there are none. Checks that upstream Istio
leaves to its validating webhook (route weights, abort status codes, percentages) are local only:
with istiod running a real cluster refuses those with the webhook's 400, not a schema 422.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.types import PatchType

from ensign.localcluster.istio import istio_crds
from tests.contract._support import Kube, VirtualService, assert_status_response, causes

GROUP = "networking.istio.io"
VirtualServiceV1 = create_namespaced_resource(GROUP, "v1", "VirtualService", "virtualservices")
DestinationRule = create_namespaced_resource(
    GROUP, "v1beta1", "DestinationRule", "destinationrules"
)
DestinationRuleV1 = create_namespaced_resource(GROUP, "v1", "DestinationRule", "destinationrules")
WEBHOOK = "upstream Istio checks this in its validating webhook, not in the CRD schema"


@pytest.fixture
async def mesh(kube: Kube) -> AsyncIterator[Kube]:
    """The Istio CRDs, served: ours, unless a real cluster already has them."""
    for doc in istio_crds():
        if not kube.is_local:
            try:
                await kube.client.get(CustomResourceDefinition, doc["metadata"]["name"])
                continue  # installed upstream: test against it, never modify it
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        await kube.install_crd(doc)
    yield kube


def vs_doc(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hosts": ["podinfo"],
        "gateways": ["mesh"],
        "http": [
            {
                "route": [
                    {"destination": {"host": "podinfo-primary"}, "weight": 90},
                    {"destination": {"host": "podinfo-canary"}, "weight": 10},
                ]
            }
        ],
    }
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": body,
    }


def dr_doc(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"host": "podinfo-primary"}
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/v1beta1",
        "kind": "DestinationRule",
        "metadata": {"name": name},
        "spec": body,
    }


async def post(kube: Kube, doc: dict[str, Any], version: str = "v1beta1") -> Any:
    plural = f"{doc['kind'].lower()}s"
    return await kube.http.post(
        kube.path(f"{GROUP}/{version}", plural), json=dict(doc, apiVersion=f"{GROUP}/{version}")
    )


async def rejected(kube: Kube, doc: dict[str, Any]) -> tuple[dict[str, str], str]:
    """POST `doc`, expect 422 Invalid for it; the causes (field -> reason) and the message."""
    response = await post(kube, doc)
    body = assert_status_response(
        response, 422, "Invalid", name=doc["metadata"]["name"], kind=doc["kind"], group=GROUP
    )
    return causes(body), str(body["message"])


def _names(found: dict[str, str], message: str, field: str) -> bool:
    """The error names `field`: as a cause, or in the message (an unmet oneOf names its path
    only there, as the real API server does)."""
    return any(field in f for f in found) or field in message


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target: Any = doc["spec"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


# ------------------------------------------------------------ serving


async def test_virtual_service_served_in_every_version(mesh: Kube) -> None:
    doc = vs_doc("podinfo")
    created = await mesh.client.create(VirtualService.from_dict(doc))
    assert created.spec == doc["spec"]

    v1 = await mesh.client.get(VirtualServiceV1, "podinfo")
    assert v1.apiVersion == f"{GROUP}/v1"
    assert v1.kind == "VirtualService"
    assert v1.metadata.uid == created.metadata.uid
    assert v1.spec == created.spec
    response = await mesh.http.get(mesh.path(f"{GROUP}/v1alpha3", "virtualservices", "podinfo"))
    assert response.status_code == 200, response.text
    assert response.json()["apiVersion"] == f"{GROUP}/v1alpha3"
    listed = [r async for r in mesh.client.list(VirtualServiceV1)]
    assert [r.metadata.name for r in listed] == ["podinfo"]

    # A write through v1 is the same object, seen through v1beta1.
    weights = [{"destination": {"host": "podinfo-primary"}, "weight": 100}]
    await mesh.client.patch(
        VirtualServiceV1,
        "podinfo",
        {"spec": {"http": [{"route": weights}]}},
        patch_type=PatchType.MERGE,
    )
    again = await mesh.client.get(VirtualService, "podinfo")
    assert again.apiVersion == f"{GROUP}/v1beta1"
    assert again.spec["http"] == [{"route": weights}]
    assert again.metadata.generation == 2


async def test_destination_rule_created_as_v1_read_as_v1beta1(mesh: Kube) -> None:
    doc = dr_doc(
        "podinfo-primary",
        trafficPolicy={"loadBalancer": {"simple": "LEAST_REQUEST"}},
        subsets=[{"name": "stable", "labels": {"version": "v1"}}],
    )
    response = await post(mesh, doc, "v1")
    assert response.status_code == 201, response.text
    assert response.json()["apiVersion"] == f"{GROUP}/v1"
    beta = await mesh.client.get(DestinationRule, "podinfo-primary")
    assert beta.spec == doc["spec"]
    v1 = await mesh.client.get(DestinationRuleV1, "podinfo-primary")
    assert v1.metadata.uid == beta.metadata.uid


async def test_discovery_lists_the_versions_with_status(mesh: Kube) -> None:
    for version in ("v1", "v1beta1", "v1alpha3"):
        response = await mesh.http.get(f"/apis/{GROUP}/{version}")
        assert response.status_code == 200, response.text
        resources = {r["name"]: r for r in response.json()["resources"]}
        for plural in ("virtualservices", "destinationrules"):
            assert {plural, f"{plural}/status"} <= set(resources), sorted(resources)
        assert "vs" in resources["virtualservices"].get("shortNames", [])
        assert "dr" in resources["destinationrules"].get("shortNames", [])
    group = (await mesh.http.get(f"/apis/{GROUP}")).json()
    assert group["preferredVersion"]["version"] == "v1"


@pytest.mark.local_only("the storage version of our CRDs (a real cluster's may differ)")
async def test_storage_version_is_v1alpha3_as_in_istio(mesh: Kube) -> None:
    for doc in istio_crds():
        got = await mesh.client.get(CustomResourceDefinition, doc["metadata"]["name"])
        versions = {v.name: (v.served, v.storage) for v in got.spec.versions}
        assert versions == {
            "v1": (True, False),
            "v1alpha3": (True, True),
            "v1beta1": (True, False),
        }


async def test_a_full_virtual_service_is_accepted_unchanged(mesh: Kube) -> None:
    """Every field Flagger's Istio router writes (and the ones users add) is kept."""
    string_matches = {"exact": "insider"}, {"prefix": "/api"}, {"regex": "^v[0-9]+$"}
    http = {
        "name": "podinfo",
        "match": [
            {
                "name": "canary",
                "uri": string_matches[1],
                "scheme": {"exact": "https"},
                "method": {"exact": "GET"},
                "authority": {"regex": ".*example.com"},
                "headers": {"x-canary": string_matches[0], "cookie": {"regex": "^(.*?;)?(c=1)(;.*)?$"}},
                "queryParams": {"version": string_matches[2]},
                "withoutHeaders": {"x-debug": {}},
                "port": 9898,
                "sourceLabels": {"app": "frontend"},
                "gateways": ["mesh"],
                "ignoreUriCase": True,
                "sourceNamespace": "web",
            }
        ],
        "route": [
            {
                "destination": {"host": "podinfo-primary", "subset": "stable", "port": {"number": 9898}},
                "weight": 0,
                "headers": {"response": {"set": {"x-served-by": "primary"}, "remove": ["server"]}},
            },
            {"destination": {"host": "podinfo-canary", "port": {"number": 9898}}, "weight": 100},
        ],
        "rewrite": {"uri": "/", "authority": "podinfo.internal"},
        "timeout": "1m30s",
        "retries": {"attempts": 3, "perTryTimeout": "1.5s", "retryOn": "gateway-error,connect-failure", "retryRemoteLocalities": True},
        "fault": {"delay": {"fixedDelay": "250ms", "percentage": {"value": 0.5}}, "abort": {"httpStatus": 503, "percentage": {"value": 1}}},
        "mirror": {"host": "podinfo-canary", "port": {"number": 9898}},
        "mirrorPercentage": {"value": 100},
        "corsPolicy": {
            "allowOrigins": [{"exact": "https://example.com"}, {"prefix": "https://dev."}],
            "allowMethods": ["GET", "POST"],
            "allowHeaders": ["authorization"],
            "exposeHeaders": ["x-request-id"],
            "maxAge": "24h",
            "allowCredentials": True,
        },
        "headers": {"request": {"set": {"x-forwarded-by": "flagger"}, "add": {"x-trace": "on"}, "remove": ["x-debug"]}},
    }  # fmt: skip
    tcp = {
        "match": [{"port": 9000, "destinationSubnets": ["10.0.0.0/16"], "sourceLabels": {"app": "db-client"}, "gateways": ["mesh"], "sourceNamespace": "web"}],
        "route": [{"destination": {"host": "db-primary", "port": {"number": 9000}}, "weight": 100}],
    }  # fmt: skip
    tls = {
        "match": [{"sniHosts": ["app.example.com"], "port": 443}],
        "route": [{"destination": {"host": "podinfo-primary", "port": {"number": 443}}}],
    }
    doc = vs_doc("full", http=[http], tcp=[tcp], tls=[tls], exportTo=["."])
    response = await post(mesh, doc)
    assert response.status_code == 201, response.text
    assert response.json()["spec"] == doc["spec"]
    # Regex rewrite and a list of mirrors (each with its percentage).
    second = vs_doc("regex")
    second["spec"]["http"][0]["rewrite"] = {
        "uriRegexRewrite": {"match": "^/v1/(.*)$", "rewrite": "/\\1"}
    }
    second["spec"]["http"][0]["mirrors"] = [
        {"destination": {"host": "podinfo-shadow"}, "percentage": {"value": 25}}
    ]
    response = await post(mesh, second)
    assert response.status_code == 201, response.text
    assert response.json()["spec"] == second["spec"]


async def test_a_full_destination_rule_is_accepted_unchanged(mesh: Kube) -> None:
    policy = {
        "loadBalancer": {
            "consistentHash": {"httpCookie": {"name": "user", "path": "/", "ttl": "0s"}},
            "localityLbSetting": {"enabled": True, "failover": [{"from": "us-east", "to": "eu-west"}]},
            "warmupDurationSecs": "60s",
        },
        "connectionPool": {
            "tcp": {"maxConnections": 100, "connectTimeout": "30ms", "tcpKeepalive": {"time": "7200s", "interval": "75s"}},
            "http": {"http1MaxPendingRequests": 1024, "http2MaxRequests": 1000, "maxRequestsPerConnection": 10, "maxRetries": 3, "idleTimeout": "30s", "h2UpgradePolicy": "UPGRADE"},
        },
        "outlierDetection": {"consecutive5xxErrors": 5, "consecutiveGatewayErrors": 3, "interval": "30s", "baseEjectionTime": "3m", "maxEjectionPercent": 50, "minHealthPercent": 10},
        "tls": {"mode": "ISTIO_MUTUAL", "sni": "podinfo.example.com"},
        "portLevelSettings": [{"port": {"number": 9898}, "loadBalancer": {"simple": "ROUND_ROBIN"}}],
    }  # fmt: skip
    doc = dr_doc(
        "podinfo-canary",
        trafficPolicy=policy,
        subsets=[
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "v2", "labels": {"version": "v2"}, "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}},
        ],
        exportTo=["."],
        workloadSelector={"matchLabels": {"app": "frontend"}},
    )  # fmt: skip
    response = await post(mesh, doc)
    assert response.status_code == 201, response.text
    assert response.json()["spec"] == doc["spec"]


# ---------------------------------------------------------- validation

HTTP = ("http", 0)
ROUTE0 = (*HTTP, "route", 0)

INVALID_VIRTUAL_SERVICES = [
    ((*HTTP, "match"), [{"uri": {"exact": "/a", "prefix": "/"}}], "spec.http[0].match[0].uri"),
    ((*HTTP, "match"), [{"headers": {"x-canary": {"exact": "1", "regex": ".*"}}}], "spec.http[0].match[0].headers.x-canary"),
    ((*HTTP, "match"), [{"queryParams": {"v": {"prefix": "1", "regex": ".*"}}}], "spec.http[0].match[0].queryParams.v"),
    ((*HTTP, "match"), [{"method": "GET"}], "spec.http[0].match[0].method"),
    ((*HTTP, "match"), [{"port": 0}], "spec.http[0].match[0].port"),
    ((*HTTP, "match"), [{"port": 65536}], "spec.http[0].match[0].port"),
    ((*ROUTE0, "destination", "port"), {"number": 70000}, "spec.http[0].route[0].destination.port.number"),
    ((*ROUTE0, "destination"), {"subset": "stable"}, "spec.http[0].route[0].destination.host"),
    ((*HTTP, "timeout"), "10 seconds", "spec.http[0].timeout"),
    ((*HTTP, "timeout"), "10", "spec.http[0].timeout"),
    ((*HTTP, "timeout"), "0s", "spec.http[0].timeout"),
    ((*HTTP, "timeout"), "500us", "spec.http[0].timeout"),
    ((*HTTP, "retries"), {"attempts": 3, "perTryTimeout": "2 s"}, "spec.http[0].retries.perTryTimeout"),
    ((*HTTP, "fault"), {"delay": {"fixedDelay": "0s"}}, "spec.http[0].fault.delay.fixedDelay"),
    ((*HTTP, "mirror"), {"host": "shadow", "port": {"number": 0}}, "spec.http[0].mirror.port.number"),
    ((*HTTP, "corsPolicy"), {"allowOrigins": [{"exact": "a", "prefix": "b"}]}, "spec.http[0].corsPolicy.allowOrigins[0]"),
    (("tcp",), [{"match": [{"port": 65536}]}], "spec.tcp[0].match[0].port"),
    (("tcp",), [{"route": [{"destination": {"host": "db"}, "weight": 101}]}], "spec.tcp[0].route[0].weight"),
    (("tls",), [{"match": [{"port": 443}]}], "spec.tls[0].match[0].sniHosts"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field"), INVALID_VIRTUAL_SERVICES)
async def test_invalid_virtual_services_are_rejected(
    mesh: Kube, path: tuple[Any, ...], value: Any, field: str
) -> None:
    if field.startswith("spec.tcp[0].route") and not mesh.is_local:
        pytest.skip(WEBHOOK)
    found, message = await rejected(mesh, _set(vs_doc("invalid"), path, value))
    assert _names(found, message, field), (found, message)


@pytest.mark.local_only(WEBHOOK)
@pytest.mark.parametrize("weight", [-1, 101])
async def test_weight_out_of_range_is_rejected(mesh: Kube, weight: int) -> None:
    doc = vs_doc("weights")
    doc["spec"]["http"][0]["route"][1]["weight"] = weight
    found, _ = await rejected(mesh, doc)
    assert found == {"spec.http[0].route[1].weight": "FieldValueInvalid"}


@pytest.mark.parametrize("weight", [0, 100])
async def test_weight_bounds_are_accepted(mesh: Kube, weight: int) -> None:
    doc = vs_doc(f"w{weight}")
    doc["spec"]["http"][0]["route"][1]["weight"] = weight
    response = await post(mesh, doc)
    assert response.status_code == 201, response.text


@pytest.mark.local_only(WEBHOOK)
@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("fault",), {"abort": {"httpStatus": 700}}, "spec.http[0].fault.abort.httpStatus"),
        (("mirrorPercentage",), {"value": 150}, "spec.http[0].mirrorPercentage.value"),
        (("fault",), {"abort": {"httpStatus": 503, "grpcStatus": "UNAVAILABLE"}}, "spec.http[0].fault.abort"),
        (("rewrite",), {"uri": "/", "uriRegexRewrite": {"match": "^/a", "rewrite": "/"}}, "spec.http[0].rewrite"),
    ],
)  # fmt: skip
async def test_webhook_checks_are_schema_checks_here(
    mesh: Kube, path: tuple[Any, ...], value: Any, field: str
) -> None:
    found, message = await rejected(mesh, _set(vs_doc("webhook"), (*HTTP, *path), value))
    assert _names(found, message, field), (found, message)


@pytest.mark.parametrize("duration", ["1ms", "1.5s", "1m30s", "1h", "250ms", "1000us"])
async def test_valid_durations_are_accepted(mesh: Kube, duration: str) -> None:
    doc = vs_doc(mesh.name("d"))
    doc["spec"]["http"][0]["timeout"] = duration
    response = await post(mesh, doc)
    assert response.status_code == 201, response.text


INVALID_DESTINATION_RULES = [
    (("trafficPolicy",), {"loadBalancer": {"simple": "LEAST_REQUESTS"}}, "spec.trafficPolicy.loadBalancer.simple"),
    (("trafficPolicy",), {"loadBalancer": {"simple": "RANDOM", "consistentHash": {"useSourceIp": True}}}, "spec.trafficPolicy.loadBalancer"),
    (("trafficPolicy",), {"loadBalancer": {"consistentHash": {"httpHeaderName": "x", "useSourceIp": True}}}, "spec.trafficPolicy.loadBalancer.consistentHash"),
    (("trafficPolicy",), {"tls": {"mode": "STRICT"}}, "spec.trafficPolicy.tls.mode"),
    (("trafficPolicy",), {"connectionPool": {"http": {"h2UpgradePolicy": "upgrade"}}}, "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy"),
    (("trafficPolicy",), {"connectionPool": {"tcp": {"connectTimeout": "0s"}}}, "spec.trafficPolicy.connectionPool.tcp.connectTimeout"),
    (("trafficPolicy",), {"outlierDetection": {"interval": "30 s"}}, "spec.trafficPolicy.outlierDetection.interval"),
    (("trafficPolicy",), {"portLevelSettings": [{"port": {"number": 70000}}]}, "spec.trafficPolicy.portLevelSettings[0].port.number"),
    (("subsets",), [{"labels": {"version": "v1"}}], "spec.subsets[0].name"),
    (("subsets",), [{"name": "v1", "trafficPolicy": {"tls": {"mode": "mutual"}}}], "spec.subsets[0].trafficPolicy.tls.mode"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field"), INVALID_DESTINATION_RULES)
async def test_invalid_destination_rules_are_rejected(
    mesh: Kube, path: tuple[Any, ...], value: Any, field: str
) -> None:
    found, message = await rejected(mesh, _set(dr_doc("invalid"), path, value))
    assert _names(found, message, field), (found, message)


async def test_destination_rule_needs_a_host(mesh: Kube) -> None:
    doc = dr_doc("hostless")
    del doc["spec"]["host"]
    found, message = await rejected(mesh, doc)
    assert _names(found, message, "spec.host"), (found, message)


@pytest.mark.local_only(WEBHOOK)
async def test_ejection_percent_out_of_range_is_rejected(mesh: Kube) -> None:
    doc = dr_doc("eject", trafficPolicy={"outlierDetection": {"maxEjectionPercent": 101}})
    found, _ = await rejected(mesh, doc)
    assert "spec.trafficPolicy.outlierDetection.maxEjectionPercent" in found


@pytest.mark.local_only("upstream Istio prunes or keeps undeclared fields by version")
async def test_undeclared_fields_are_pruned(mesh: Kube) -> None:
    doc = vs_doc("pruned")
    doc["spec"]["http"][0]["routes"] = [{"destination": {"host": "typo"}}]
    response = await post(mesh, doc)
    assert response.status_code == 201, response.text
    assert "routes" not in response.json()["spec"]["http"][0]


# ------------------------------------------------------------- status


async def test_status_is_a_subresource(mesh: Kube) -> None:
    created = await mesh.client.create(VirtualService.from_dict(vs_doc("sub")))
    status = {
        "observedGeneration": 1,
        "conditions": [{"type": "Reconciled", "status": "True", "message": "ok"}],
    }
    path = mesh.path(f"{GROUP}/v1beta1", "virtualservices", "sub")
    # The main resource ignores status changes ...
    response = await mesh.http.patch(
        path, json={"status": status}, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert response.status_code == 200, response.text
    assert not (response.json().get("status") or {}).get("conditions")
    # ... the status subresource stores them, and the spec is left alone.
    response = await mesh.http.patch(
        f"{path}/status",
        json={"status": status, "spec": {"hosts": ["ignored"]}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["status"]["conditions"] == status["conditions"]
    assert got["spec"]["hosts"] == ["podinfo"]
    assert got["metadata"]["generation"] == created.metadata.generation == 1


@pytest.mark.local_only("installs the CRDs through the LocalCluster")
async def test_crds_installed_after_the_cluster_started(kube: Kube) -> None:
    assert kube.cluster.install_istio() == [d["metadata"]["name"] for d in istio_crds()]
    assert kube.cluster.install_istio() == []  # already there: kept
    for doc in istio_crds():
        await kube.wait_served(doc)
    created = await kube.client.create(VirtualService.from_dict(vs_doc("late")))
    again = copy.deepcopy(vs_doc("late"))
    assert created.spec == again["spec"]
