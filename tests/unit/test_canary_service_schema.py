"""`spec.service` of the Canary CRD validates as Flagger's does: pinned by fixtures.

Each manifest in `tests/fixtures/canary-service/accepted/` must be created (201) by a local
cluster serving the CRDs from `deploy/crds/`; each one in `rejected/` must be refused with 422
Invalid, and the field path named on its `# expect: <path>` line must appear in the error
(as a cause field or in the message: an unmet oneOf is reported as a message about the path,
as the real API server does). The Flagger-user manifests in `tests/fixtures/flagger/` must
still be created unchanged.
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import pytest_asyncio
import yaml

from ensign.crds import load_crds
from ensign.localcluster.cluster import LocalCluster

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "canary-service"
FLAGGER_FIXTURES = ROOT / "tests" / "fixtures" / "flagger"
CANARIES = "/apis/flagger.app/v1beta1/namespaces/default/canaries"
EXPECT = re.compile(r"^# expect: (?P<field>\S+)\s*$", re.MULTILINE)

JSON = dict[str, Any]


def _canary(path: Path, prefix: str) -> JSON:
    """The Canary of a fixture file, renamed `<prefix>-<file stem>` (one shared cluster)."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    canaries = [d for d in docs if d.get("kind") == "Canary"]
    assert len(canaries) == 1, f"{path.name}: expected exactly one Canary"
    doc: JSON = canaries[0]
    doc["metadata"].pop("namespace", None)
    doc["metadata"]["name"] = f"{prefix}-{path.stem}"[:253]
    return doc


def _expected_field(path: Path) -> str:
    found = EXPECT.findall(path.read_text())
    assert len(found) == 1, f"{path.name}: needs exactly one '# expect: <field path>' line"
    return str(found[0])


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


ACCEPTED = sorted((FIXTURES / "accepted").glob("*.yaml"))
REJECTED = sorted((FIXTURES / "rejected").glob("*.yaml"))
FLAGGER_CANARIES = sorted(
    p
    for p in FLAGGER_FIXTURES.glob("canary-*.yaml")
    if any(d and d.get("kind") == "Canary" for d in yaml.safe_load_all(p.read_text()))
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api() -> AsyncIterator[httpx2.AsyncClient]:
    """A local cluster serving the flagger.app CRDs, and a plain HTTP client to it.

    One for the module: every test creates a Canary of its own name and nothing else.
    """
    async with LocalCluster(simulate_workloads=False, simulate_gateways=False) as cluster:
        crd_type = cluster.store.type_for("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        for crd in load_crds():
            cluster.store.create(crd_type, "", copy.deepcopy(crd))
        async with httpx2.AsyncClient(base_url=cluster.url, timeout=10.0) as client:
            yield client


async def _create(api: httpx2.AsyncClient, doc: JSON) -> httpx2.Response:
    return await api.post(CANARIES, json=doc)


def _fields_and_message(body: JSON) -> tuple[list[str], str]:
    details = body.get("details") or {}
    fields = [str(c.get("field", "")) for c in details.get("causes") or []]
    return fields, str(body.get("message", ""))


def test_there_are_fixtures_on_both_sides() -> None:
    assert len(ACCEPTED) >= 5
    assert len(REJECTED) >= 20
    for path in REJECTED:
        _expected_field(path)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("path", ACCEPTED, ids=_ids(ACCEPTED))
async def test_accepted(api: httpx2.AsyncClient, path: Path) -> None:
    doc = _canary(path, "accepted")
    response = await _create(api, doc)
    assert response.status_code == 201, response.text
    # Nothing the user wrote under spec.service is dropped (defaults may be added).
    stored = response.json()["spec"]["service"]
    assert _contains(stored, doc["spec"]["service"]), (stored, doc["spec"]["service"])


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("path", REJECTED, ids=_ids(REJECTED))
async def test_rejected(api: httpx2.AsyncClient, path: Path) -> None:
    field = _expected_field(path)
    doc = _canary(path, "rejected")
    response = await _create(api, doc)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["reason"] == "Invalid", body
    fields, message = _fields_and_message(body)
    assert any(field in f for f in fields) or field in message, (field, fields, message)
    # Everything the error names lies under spec.service: the fixture breaks one thing only.
    assert all(f.startswith("spec.service") or f == "<nil>" for f in fields), fields


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("path", FLAGGER_CANARIES, ids=_ids(FLAGGER_CANARIES))
async def test_flagger_manifests_still_validate(api: httpx2.AsyncClient, path: Path) -> None:
    response = await _create(api, _canary(path, "flagger"))
    assert response.status_code == 201, response.text


@pytest.mark.asyncio(loop_scope="module")
async def test_traffic_policy_fields_flagger_does_not_declare_are_kept(
    api: httpx2.AsyncClient,
) -> None:
    """Flagger's CRD prunes them; ours keeps them for the DestinationRule (both accept)."""
    doc = _canary(ACCEPTED[0], "kept")
    doc["spec"]["service"]["trafficPolicy"] = {
        "connectionPool": {"tcp": {"maxConnections": 100}, "http": {"useClientProtocol": True}},
        "loadBalancer": {"simple": "ROUND_ROBIN", "warmupDurationSecs": "60s"},
        "portLevelSettings": [{"port": {"number": 9898}, "loadBalancer": {"simple": "RANDOM"}}],
    }
    response = await _create(api, doc)
    assert response.status_code == 201, response.text
    stored = response.json()["spec"]["service"]["trafficPolicy"]
    assert stored == doc["spec"]["service"]["trafficPolicy"]


def _contains(stored: Any, written: Any) -> bool:
    """`written` is a sub-document of `stored` (the server may only add defaults)."""
    if isinstance(written, dict):
        return isinstance(stored, dict) and all(
            k in stored and _contains(stored[k], v) for k, v in written.items()
        )
    if isinstance(written, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(written)
            and all(_contains(s, w) for s, w in zip(stored, written, strict=True))
        )
    return bool(stored == written)
