"""coordination.k8s.io/v1 Leases as leader election uses them: MicroTime renew/acquire times
(decoded with Go's `2006-01-02T15:04:05.000000Z07:00` layout, answered in UTC with six
digits), PUT only with a resourceVersion (the lease strategy refuses unconditional updates),
and a PUT to a missing Lease creating it (AllowCreateOnUpdate)."""

from __future__ import annotations

from typing import Any

from tests.contract._support import Kube, assert_status_response, causes


def lease(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, **spec},
    }


async def test_micro_times_are_answered_in_utc_with_six_digits(kube: Kube) -> None:
    response = await kube.http.post(
        kube.path("coordination.k8s.io/v1", "leases"),
        json=lease(
            "clock",
            acquireTime="2026-12-04T21:45:43.123456+02:00",
            renewTime="2026-12-04T19:45:43.000001Z",
        ),
    )
    assert response.status_code == 201, response.text
    spec = response.json()["spec"]
    assert spec["acquireTime"] == "2026-12-04T19:45:43.123456Z"
    assert spec["renewTime"] == "2026-12-04T19:45:43.000001Z"
    stored = (await kube.http.get(kube.path("coordination.k8s.io/v1", "leases", "clock"))).json()
    assert stored["spec"]["acquireTime"] == "2026-12-04T19:45:43.123456Z"


async def test_a_malformed_micro_time_is_400(kube: Kube) -> None:
    for bad in ("yesterday", "2026-12-04 19:45:43.123456Z"):
        response = await kube.http.post(
            kube.path("coordination.k8s.io/v1", "leases"), json=lease("bad", renewTime=bad)
        )
        body = assert_status_response(response, 400, "BadRequest")
        assert body["message"].startswith(
            'Lease in version "v1" cannot be handled as a Lease: parsing time '
        ), body["message"]


async def test_put_without_resource_version_is_422(kube: Kube) -> None:
    path = kube.path("coordination.k8s.io/v1", "leases", "cas")
    created = await kube.http.post(kube.path("coordination.k8s.io/v1", "leases"), json=lease("cas"))
    assert created.status_code == 201, created.text
    response = await kube.http.put(path, json=lease("cas", holderIdentity="b"))
    body = assert_status_response(
        response, 422, "Invalid", name="cas", kind="Lease", group="coordination.k8s.io"
    )
    assert causes(body) == {"metadata.resourceVersion": "FieldValueInvalid"}
    assert body["message"] == (
        'Lease.coordination.k8s.io "cas" is invalid: metadata.resourceVersion: Invalid value: '
        "0x0: must be specified for an update"
    )
    current = (await kube.http.get(path)).json()
    assert current["spec"]["holderIdentity"] == "a"


async def test_put_to_a_missing_lease_creates_it(kube: Kube) -> None:
    path = kube.path("coordination.k8s.io/v1", "leases", "fresh")
    response = await kube.http.put(path, json=lease("fresh", holderIdentity="z"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["metadata"]["resourceVersion"] and body["metadata"]["uid"]
    assert (await kube.http.get(path)).json()["spec"]["holderIdentity"] == "z"
    # ConfigMaps do not allow it: 404.
    missing = await kube.http.put(
        kube.path("v1", "configmaps", "nope"),
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nope"}},
    )
    assert_status_response(missing, 404, "NotFound", name="nope", kind="configmaps")
