"""CustomResourceDefinitions: serving, the flagger.app CRDs, validation, pruning, defaulting, and
the third-party routing CRDs Ensign drives (Gateway API HTTPRoute, Istio VirtualService)."""

from __future__ import annotations

import copy
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.types import PatchType

from ensign.crds import load_crds
from tests.contract._support import (
    AlertProvider,
    Canary,
    HTTPRoute,
    HTTPRouteV1beta1,
    Kube,
    MetricTemplate,
    VirtualService,
    assert_api_error,
    assert_status_response,
    causes,
    crd_doc,
    install_widgets,
    widget,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "flagger"
GATEWAY_APPROVAL = {
    "api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"
}
RESOURCES = {"Canary": Canary, "MetricTemplate": MetricTemplate, "AlertProvider": AlertProvider}
FLAGGER_CRDS = load_crds()  # parsed once: the YAML is large


async def _absent_or_skip(kube: Kube, names: list[str]) -> None:
    """On a real cluster, never touch fixed-name CRDs that someone else installed."""
    if kube.is_local:
        return
    for name in names:
        try:
            await kube.client.get(CustomResourceDefinition, name)
        except ApiError as exc:
            if exc.status.code == 404:
                continue
            raise
        pytest.skip(f"CRD {name} already exists on this cluster; the suite won't modify it")


@pytest.fixture
async def flagger(kube: Kube) -> AsyncIterator[Kube]:
    """The flagger.app/v1beta1 CRDs from deploy/crds, created and served."""
    await _absent_or_skip(kube, [d["metadata"]["name"] for d in FLAGGER_CRDS])
    for doc in FLAGGER_CRDS:
        await kube.install_crd(doc)
    yield kube


def canary_doc(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
        },
    }


def _is_subset(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Paths of `expected` that `actual` lacks or changes (extra keys in actual are fine)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [path or "."]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}")
            else:
                out.extend(_is_subset(value, actual[key], f"{path}.{key}"))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [path]
        return [p for i, e in enumerate(expected) for p in _is_subset(e, actual[i], f"{path}[{i}]")]
    return [] if expected == actual else [path]


# ----------------------------------------------------------------- serving


async def test_created_crd_becomes_served_and_established(kube: Kube) -> None:
    group = f"c{secrets.token_hex(4)}.contract.ensign.dev"
    doc = crd_doc(group, "Gadget", "gadgets", scale=True)
    created = await kube.client.create(CustomResourceDefinition.from_dict(doc))
    kube.defer(lambda: kube.client.delete(CustomResourceDefinition, doc["metadata"]["name"]))
    assert created.metadata.uid
    # A real server answers 404 until the CRD is Established (~50 ms): poll, don't assume.
    await kube.wait_served(doc)

    async def established() -> bool:
        crd = await kube.client.get(CustomResourceDefinition, doc["metadata"]["name"])
        conditions = {c.type: c.status for c in (crd.status.conditions or [])}
        return conditions.get("Established") == "True" and (
            conditions.get("NamesAccepted") == "True"
        )

    await kube.eventually(established, what="Established condition")

    body = (await kube.http.get(f"/apis/{group}/v1")).json()
    names = {r["name"]: r for r in body["resources"]}
    assert names["gadgets"]["kind"] == "Gadget"
    assert names["gadgets"]["namespaced"] is True
    assert "gadgets/status" in names
    assert names["gadgets/scale"]["kind"] == "Scale"
    groups = (await kube.http.get("/apis")).json()["groups"]
    assert group in {g["name"] for g in groups}

    Gadget = create_namespaced_resource(group, "v1", "Gadget", "gadgets")
    obj = await kube.client.create(
        Gadget.from_dict(
            {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {}}
        )
    )
    assert obj.metadata.generation == 1
    assert obj.metadata.namespace == kube.namespace


async def test_deleting_a_crd_stops_serving_it(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    await kube.client.create(widget(Widget, "w1", size=1))
    name = f"widgets.{Widget._api_info.resource.group}"
    await kube.client.delete(CustomResourceDefinition, name)

    async def not_served() -> bool:
        response = await kube.http.get(kube.path(Widget._api_info.resource.api_version, "widgets"))
        return response.status_code == 404

    await kube.eventually(not_served, within=kube.timeout(5, 60), what="CR endpoint gone")
    await kube.gone(CustomResourceDefinition, name, within=kube.timeout(5, 60))


async def test_crd_in_protected_group_needs_approval_annotation(kube: Kube) -> None:
    group = f"c{secrets.token_hex(4)}.contract.k8s.io"
    doc = crd_doc(group, "Thing", "things")
    kube.defer(lambda: kube.client.delete(CustomResourceDefinition, doc["metadata"]["name"]))
    with pytest.raises(ApiError) as info:
        await kube.client.create(CustomResourceDefinition.from_dict(doc))
    assert_api_error(info.value, 422, "Invalid")
    fields = {c.field for c in (info.value.status.details.causes or [])}
    assert "metadata.annotations[api-approved.kubernetes.io]" in fields


# ------------------------------------------------------------- flagger.app


async def test_flagger_crds_are_served(flagger: Kube) -> None:
    for doc in FLAGGER_CRDS:
        response = await flagger.http.get(
            flagger.path("flagger.app/v1beta1", doc["spec"]["names"]["plural"])
        )
        assert response.status_code == 200, (doc["metadata"]["name"], response.text)
        assert response.json()["kind"] == f"{doc['spec']['names']['kind']}List"


async def test_valid_canary(flagger: Kube) -> None:
    created = await flagger.client.create(Canary.from_dict(canary_doc("podinfo")))
    assert created.metadata.generation == 1
    assert created.metadata.uid
    got = await flagger.client.get(Canary, "podinfo")
    assert got.spec["targetRef"]["name"] == "podinfo"
    assert got.spec["analysis"]["stepWeight"] == 10
    listed = [c.metadata.name async for c in flagger.client.list(Canary)]
    assert listed == ["podinfo"]
    # The controller writes progress through the status subresource with a merge patch.
    status = {"phase": "Progressing", "canaryWeight": 10, "failedChecks": 0, "iterations": 1}
    patched = await flagger.client.patch(
        Canary.Status, "podinfo", {"status": status}, patch_type=PatchType.MERGE
    )
    assert patched.metadata.generation == 1
    got = await flagger.client.get(Canary, "podinfo")
    assert {k: got.status[k] for k in status} == status


async def test_flagger_fixture_manifests_are_accepted_verbatim(flagger: Kube) -> None:
    """Every Canary/MetricTemplate/AlertProvider in tests/fixtures/flagger is accepted, and
    nothing in it is pruned or changed (schema defaults may add fields)."""
    problems: dict[str, Any] = {}
    for path in sorted(FIXTURES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        doc["metadata"]["namespace"] = flagger.namespace
        doc["metadata"]["name"] = path.stem
        res = RESOURCES[doc["kind"]]
        try:
            await flagger.client.create(res.from_dict(copy.deepcopy(doc)))
        except ApiError as exc:
            problems[path.name] = exc.status.message
            continue
        got = (await flagger.client.get(res, path.stem)).to_dict()
        if lost := _is_subset(doc["spec"], got["spec"]):
            problems[path.name] = lost
    assert problems == {}


INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "negative-step-weight",
        lambda d: d["spec"]["analysis"].__setitem__("stepWeight", -1),
        "spec.analysis.stepWeight",
        "FieldValueInvalid",
    ),
    (
        "unknown-provider",
        lambda d: d["spec"].__setitem__("provider", "carrier-pigeon"),
        "spec.provider",
        "FieldValueNotSupported",
    ),
    (
        "missing-target-ref",
        lambda d: d["spec"].pop("targetRef"),
        "spec.targetRef",
        "FieldValueRequired",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field", "reason"), [i[1:] for i in INVALID], ids=[i[0] for i in INVALID]
)
async def test_invalid_canary_is_422_naming_the_field(
    flagger: Kube, mutate: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    doc = canary_doc("broken")
    mutate(doc)
    response = await flagger.http.post(flagger.path("flagger.app/v1beta1", "canaries"), json=doc)
    body = assert_status_response(
        response, 422, "Invalid", name="broken", kind="Canary", group="flagger.app"
    )
    assert causes(body).get(field) == reason, body
    assert field in body["message"]
    # The same through lightkube.
    with pytest.raises(ApiError) as info:
        await flagger.client.create(Canary.from_dict(doc))
    assert_api_error(info.value, 422, "Invalid")
    assert field in {c.field for c in info.value.status.details.causes}
    response = await flagger.http.get(flagger.path("flagger.app/v1beta1", "canaries", "broken"))
    assert response.status_code == 404


async def test_unknown_fields_are_pruned(flagger: Kube) -> None:
    doc = canary_doc("pruned")
    doc["spec"]["bogusField"] = {"a": 1}
    doc["spec"]["analysis"]["nonsense"] = True
    doc["spec"]["service"]["trafficPolicy"] = {"tls": {"mode": "ISTIO_MUTUAL"}, "anything": [1]}
    doc["topLevelJunk"] = "x"
    response = await flagger.http.post(flagger.path("flagger.app/v1beta1", "canaries"), json=doc)
    assert response.status_code == 201, response.text
    got = (await flagger.client.get(Canary, "pruned")).to_dict()
    assert "bogusField" not in got["spec"]
    assert "nonsense" not in got["spec"]["analysis"]
    assert "topLevelJunk" not in got
    # ...but x-kubernetes-preserve-unknown-fields subtrees are kept as they are.
    assert got["spec"]["service"]["trafficPolicy"] == {
        "tls": {"mode": "ISTIO_MUTUAL"},
        "anything": [1],
    }


async def test_schema_defaults_are_applied(flagger: Kube) -> None:
    doc = canary_doc("defaulted")
    doc["spec"]["provider"] = "gatewayapi:v1"
    doc["spec"]["service"]["gatewayRefs"] = [{"name": "gw", "namespace": "istio-ingress"}]
    doc["spec"]["analysis"]["sessionAffinity"] = {"cookieName": "flagger-cookie"}
    created = await flagger.client.create(Canary.from_dict(doc))
    assert created.spec["analysis"]["sessionAffinity"]["maxAge"] == 86400
    ref = created.spec["service"]["gatewayRefs"][0]
    assert ref["group"] == "gateway.networking.k8s.io"
    assert ref["kind"] == "Gateway"


async def test_status_in_create_body_is_ignored(flagger: Kube) -> None:
    doc = canary_doc("fresh")
    doc["status"] = {"phase": "Succeeded", "canaryWeight": 50}
    created = await flagger.client.create(Canary.from_dict(doc))
    assert not (created.to_dict().get("status") or {}).get("phase")
    got = await flagger.client.get(Canary, "fresh")
    assert not (got.to_dict().get("status") or {}).get("phase")


# ------------------------------------------------- third-party routing CRDs


async def test_gateway_api_httproute_crd(kube: Kube) -> None:
    doc = crd_doc(
        "gateway.networking.k8s.io",
        "HTTPRoute",
        "httproutes",
        versions=("v1", "v1beta1"),
        annotations=GATEWAY_APPROVAL,
    )
    await _absent_or_skip(kube, [doc["metadata"]["name"]])
    await kube.install_crd(doc)
    spec = {
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
    created = await kube.client.create(
        HTTPRoute.from_dict(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": "podinfo"},
                "spec": spec,
            }
        )
    )
    assert created.spec == spec
    # The same object through the other served version (conversion strategy None).
    beta = await kube.client.get(HTTPRouteV1beta1, "podinfo")
    assert beta.apiVersion == "gateway.networking.k8s.io/v1beta1"
    assert beta.spec == spec
    assert beta.metadata.uid == created.metadata.uid


async def test_istio_virtualservice_crd(kube: Kube) -> None:
    doc = crd_doc("networking.istio.io", "VirtualService", "virtualservices", versions=("v1beta1",))
    doc["spec"]["names"]["shortNames"] = ["vs"]
    await _absent_or_skip(kube, [doc["metadata"]["name"]])
    await kube.install_crd(doc)
    spec = {
        "hosts": ["podinfo"],
        "http": [
            {
                "route": [
                    {"destination": {"host": "podinfo-primary"}, "weight": 100},
                    {"destination": {"host": "podinfo-canary"}, "weight": 0},
                ],
                "retries": {"attempts": 3, "perTryTimeout": "1s"},
            }
        ],
    }
    created = await kube.client.create(
        VirtualService.from_dict(
            {
                "apiVersion": "networking.istio.io/v1beta1",
                "kind": "VirtualService",
                "metadata": {"name": "podinfo"},
                "spec": spec,
            }
        )
    )
    assert created.spec == spec
    body = (await kube.http.get("/apis/networking.istio.io/v1beta1")).json()
    vs = next(r for r in body["resources"] if r["name"] == "virtualservices")
    assert vs["shortNames"] == ["vs"]
