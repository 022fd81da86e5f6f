"""Events: one object served by core/v1 and events.k8s.io/v1 with the fields renamed
(involvedObject/regarding, message/note, source/deprecatedSource, reportingComponent/
reportingController...), the field selectors of each view, and eventTime required when an
Event is created through events.k8s.io/v1."""

from __future__ import annotations

from typing import Any

from tests.contract._support import Kube, assert_status_response, causes

V1 = "events.k8s.io/v1"


def new_event(kube: Kube, name: str, target: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": V1,
        "kind": "Event",
        "metadata": {"name": name},
        "eventTime": "2026-12-04T19:45:43.123456Z",
        "reportingController": "ensign.dev/contract",
        "reportingInstance": "contract-1",
        "action": "Promote",
        "reason": "Synced",
        "type": "Normal",
        "note": "promotion started",
        "regarding": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": target,
            "namespace": kube.namespace,
        },
    }
    body.update(overrides)
    return body


async def test_one_event_two_views(kube: Kube) -> None:
    created = await kube.http.post(kube.path(V1, "events"), json=new_event(kube, "e1", "cfg"))
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["apiVersion"] == V1
    assert new["regarding"]["name"] == "cfg"
    assert new["note"] == "promotion started"

    core = (await kube.http.get(kube.path("v1", "events", "e1"))).json()
    assert core["apiVersion"] == "v1"
    assert core["kind"] == "Event"
    assert core["involvedObject"]["name"] == "cfg"
    assert core["message"] == "promotion started"
    assert core["reportingComponent"] == "ensign.dev/contract"
    assert core["reportingInstance"] == "contract-1"
    assert core["eventTime"] == "2026-12-04T19:45:43.123456Z"
    assert core["metadata"]["uid"] == new["metadata"]["uid"]
    assert core["metadata"]["resourceVersion"] == new["metadata"]["resourceVersion"]
    for absent in ("regarding", "note", "reportingController"):
        assert absent not in core

    # A write through the core view is seen through the other one.
    patched = await kube.http.patch(
        kube.path("v1", "events", "e1"),
        json={"message": "promoted"},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    again = (await kube.http.get(kube.path(V1, "events", "e1"))).json()
    assert again["note"] == "promoted"
    assert "message" not in again and "involvedObject" not in again


async def test_field_selectors_of_each_view(kube: Kube) -> None:
    for name, target, kind in (("a", "cfg-a", "Normal"), ("b", "cfg-b", "Warning")):
        response = await kube.http.post(
            kube.path(V1, "events"), json=new_event(kube, name, target, type=kind)
        )
        assert response.status_code == 201, response.text

    async def names(api_version: str, selector: str) -> list[str]:
        response = await kube.http.get(
            kube.path(api_version, "events"), params={"fieldSelector": selector}
        )
        assert response.status_code == 200, response.text
        return sorted(i["metadata"]["name"] for i in response.json()["items"])

    assert await names("v1", "involvedObject.name=cfg-a") == ["a"]
    assert await names("v1", "involvedObject.kind=ConfigMap,type=Warning") == ["b"]
    assert await names("v1", f"involvedObject.namespace={kube.namespace}") == ["a", "b"]
    assert await names(V1, "regarding.name=cfg-b") == ["b"]
    assert await names(V1, "regarding.kind=ConfigMap,type=Normal") == ["a"]
    assert await names(V1, "reportingController=ensign.dev/contract") == ["a", "b"]
    bad = await kube.http.get(
        kube.path(V1, "events"), params={"fieldSelector": "involvedObject.name=cfg-a"}
    )
    assert_status_response(bad, 400, "BadRequest")


async def test_events_v1_requires_event_time(kube: Kube) -> None:
    body = new_event(kube, "late", "cfg")
    del body["eventTime"]
    response = await kube.http.post(kube.path(V1, "events"), json=body)
    status = assert_status_response(
        response, 422, "Invalid", name="late", kind="Event", group="events.k8s.io"
    )
    assert causes(status) == {"eventTime": "FieldValueRequired"}
    # The core view has no such rule.
    core = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "old-style"},
        "involvedObject": {"kind": "ConfigMap", "name": "cfg", "namespace": kube.namespace},
        "reason": "Synced",
        "message": "m",
        "type": "Normal",
    }
    created = await kube.http.post(kube.path("v1", "events"), json=core)
    assert created.status_code == 201, created.text
