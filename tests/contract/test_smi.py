"""SMI CRDs (TrafficSplit): the served versions, the validation users trip over, pruning.

On a real cluster the tests use the TrafficSplit CRD already installed there (Linkerd's SMI
extension or OSM), and install ours only when there is none. Upstream bundles serve different
sets of versions, so tests that need a version skip when the cluster does not serve it, and
the checks that only our schema makes (quantity pattern, matches fields) are local only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from ensign.localcluster.crd_bundles import bundle_crds
from tests.contract._support import Kube, assert_status_response, causes

GROUP = "split.smi-spec.io"
PLURAL = "trafficsplits"
VERSIONS = ("v1alpha1", "v1alpha2", "v1alpha3")
OURS = "our schema; upstream bundles differ in what they check"


@pytest.fixture
async def smi(kube: Kube) -> AsyncIterator[Kube]:
    """The TrafficSplit CRD, served: ours, unless a real cluster already has one."""
    for doc in bundle_crds("smi"):
        if not kube.is_local:
            try:
                await kube.client.get(CustomResourceDefinition, doc["metadata"]["name"])
                continue  # installed upstream: test against it, never modify it
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        await kube.install_crd(doc)
    yield kube


def ts_doc(name: str, version: str = "v1alpha2", **spec: Any) -> dict[str, Any]:
    weights: tuple[object, object] = ("10", "90") if version == "v1alpha1" else (10, 90)
    body: dict[str, Any] = {
        "service": "podinfo",
        "backends": [
            {"service": "podinfo-canary", "weight": weights[0]},
            {"service": "podinfo-primary", "weight": weights[1]},
        ],
    }
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "TrafficSplit",
        "metadata": {"name": name},
        "spec": body,
    }


async def served(kube: Kube, version: str) -> bool:
    response = await kube.http.get(f"/apis/{GROUP}/{version}")
    return response.status_code == 200


async def need(kube: Kube, version: str) -> None:
    if not await served(kube, version):
        pytest.skip(f"{GROUP}/{version} is not served by this cluster")


async def post(kube: Kube, doc: dict[str, Any]) -> Any:
    return await kube.http.post(kube.path(doc["apiVersion"], PLURAL), json=doc)


async def get(kube: Kube, version: str, name: str) -> Any:
    return await kube.http.get(kube.path(f"{GROUP}/{version}", PLURAL, name))


async def rejected(kube: Kube, doc: dict[str, Any]) -> tuple[dict[str, str], str]:
    """POST `doc`, expect 422 Invalid for it; the causes (field -> reason) and the message."""
    response = await post(kube, doc)
    body = assert_status_response(
        response, 422, "Invalid", name=doc["metadata"]["name"], kind="TrafficSplit", group=GROUP
    )
    return causes(body), str(body["message"])


def _names(found: dict[str, str], message: str, field: str) -> bool:
    return any(field in f for f in found) or field in message


# ------------------------------------------------------------ serving


async def test_one_object_served_in_every_version(smi: Kube) -> None:
    for version in VERSIONS:
        await need(smi, version)
    response = await post(smi, ts_doc("podinfo", "v1alpha2"))
    assert response.status_code == 201, response.text
    created = response.json()
    for version in VERSIONS:
        response = await get(smi, version, "podinfo")
        assert response.status_code == 200, response.text
        got = response.json()
        assert got["apiVersion"] == f"{GROUP}/{version}"
        assert got["kind"] == "TrafficSplit"
        assert got["metadata"]["uid"] == created["metadata"]["uid"]
        assert got["spec"]["backends"] == created["spec"]["backends"]


async def test_a_v1alpha1_split_with_quantities_round_trips(smi: Kube) -> None:
    await need(smi, "v1alpha1")
    doc = ts_doc("linkerd", "v1alpha1")
    doc["spec"]["backends"][0]["weight"] = "500m"
    doc["spec"]["backends"][1]["weight"] = 1
    response = await post(smi, doc)
    assert response.status_code == 201, response.text
    assert response.json()["spec"] == doc["spec"]
    again = (await get(smi, "v1alpha1", "linkerd")).json()
    assert again["spec"] == doc["spec"]


async def test_discovery_lists_the_versions(smi: Kube) -> None:
    for version in VERSIONS:
        if not await served(smi, version):
            continue
        response = await smi.http.get(f"/apis/{GROUP}/{version}")
        resources = {r["name"]: r for r in response.json()["resources"]}
        assert PLURAL in resources, sorted(resources)
        assert resources[PLURAL]["kind"] == "TrafficSplit"
        assert resources[PLURAL]["namespaced"] is True


@pytest.mark.local_only("the versions and storage of our CRD (a real cluster's may differ)")
async def test_versions_and_storage(smi: Kube) -> None:
    (doc,) = bundle_crds("smi")
    got = await smi.client.get(CustomResourceDefinition, doc["metadata"]["name"])
    versions = {v.name: (v.served, v.storage) for v in got.spec.versions}
    assert versions == {
        "v1alpha1": (True, False),
        "v1alpha2": (True, True),
        "v1alpha3": (True, False),
    }
    assert got.spec.names.shortNames == ["ts"]
    response = await smi.http.get(f"/apis/{GROUP}")
    assert response.json()["preferredVersion"]["version"] in VERSIONS


async def test_v1alpha3_matches_are_kept(smi: Kube) -> None:
    await need(smi, "v1alpha3")
    matches = [{"kind": "HTTPRouteGroup", "name": "api", "apiGroup": "specs.smi-spec.io"}]
    doc = ts_doc("matched", "v1alpha3", matches=matches)
    response = await post(smi, doc)
    assert response.status_code == 201, response.text
    assert response.json()["spec"] == doc["spec"]


async def test_flagger_metadata_is_kept(smi: Kube) -> None:
    doc = ts_doc("annotated")
    doc["metadata"]["annotations"] = {
        "VirtualService.v1alpha3.networking.istio.io/spec.gateways": '["public","mesh"]',
        "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    }
    response = await post(smi, doc)
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["annotations"] == doc["metadata"]["annotations"]


# ------------------------------------------------------------ validation


@pytest.mark.local_only(OURS)
@pytest.mark.parametrize(
    ("version", "mutate", "field"),
    [
        ("v1alpha2", lambda s: s.pop("service"), "spec.service"),
        ("v1alpha2", lambda s: s.pop("backends"), "spec.backends"),
        ("v1alpha2", lambda s: s.update(backends=[]), "spec.backends"),
        ("v1alpha2", lambda s: s["backends"][0].pop("service"), "spec.backends[0].service"),
        ("v1alpha2", lambda s: s["backends"][0].pop("weight"), "spec.backends[0].weight"),
        ("v1alpha2", lambda s: s["backends"][0].update(weight=-1), "spec.backends[0].weight"),
        ("v1alpha2", lambda s: s["backends"][1].update(weight="90"), "spec.backends[1].weight"),
        ("v1alpha3", lambda s: s["backends"][1].update(weight=9.5), "spec.backends[1].weight"),
        ("v1alpha1", lambda s: s["backends"][0].update(weight="ten"), "spec.backends[0].weight"),
        ("v1alpha1", lambda s: s["backends"][0].update(weight="-10"), "spec.backends[0].weight"),
        ("v1alpha1", lambda s: s["backends"][0].update(weight=-10), "spec.backends[0].weight"),
        ("v1alpha3", lambda s: s.update(matches=[{"name": "api"}]), "spec.matches[0].kind"),
        ("v1alpha3", lambda s: s.update(matches=[{"kind": "HTTPRouteGroup"}]), "spec.matches[0].name"),
    ],
)  # fmt: skip
async def test_invalid_splits_are_rejected(
    smi: Kube, version: str, mutate: Any, field: str
) -> None:
    doc = ts_doc("invalid", version)
    mutate(doc["spec"])
    found, message = await rejected(smi, doc)
    assert _names(found, message, field), (found, message)


@pytest.mark.parametrize("weight", ["0", "100", "500m", "1k", 0, 100])
async def test_v1alpha1_quantities_are_accepted(smi: Kube, weight: object) -> None:
    await need(smi, "v1alpha1")
    doc = ts_doc(smi.name("q"), "v1alpha1")
    doc["spec"]["backends"][0]["weight"] = weight
    response = await post(smi, doc)
    assert response.status_code == 201, response.text


@pytest.mark.local_only("upstream bundles prune or keep undeclared fields by version")
async def test_undeclared_fields_are_pruned(smi: Kube) -> None:
    doc = ts_doc("pruned")
    doc["spec"]["backend"] = [{"service": "typo", "weight": 1}]
    doc["spec"]["matches"] = [{"kind": "HTTPRouteGroup", "name": "api"}]  # v1alpha3 only
    response = await post(smi, doc)
    assert response.status_code == 201, response.text
    assert set(response.json()["spec"]) == {"service", "backends"}


@pytest.mark.local_only("installs the CRDs through the LocalCluster")
async def test_bundle_installed_after_the_cluster_started(kube: Kube) -> None:
    names = [d["metadata"]["name"] for d in bundle_crds("smi")]
    assert kube.cluster.install_crds("smi") == names
    assert kube.cluster.install_crds("smi") == []  # already there: kept
    for doc in bundle_crds("smi"):
        await kube.wait_served(doc)
    response = await post(kube, ts_doc("late", "v1alpha3"))
    assert response.status_code == 201, response.text
