"""Server-side apply and managedFields (kube-apiserver 1.36): one entry per manager and
operation; an Update owns what it changed, an Apply owns what it applied; a field left out of
the next apply is removed; a field another manager owns with another value is a 409
conflict with `FieldManagerConflict` causes, unless `force=true` takes it over."""

from __future__ import annotations

from typing import Any

from tests.contract._support import PAUSE_IMAGE, Kube, assert_status_response

APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}


def cm(data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data}


def owners(obj: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {
        (e["manager"], e["operation"]): e["fieldsV1"]
        for e in obj["metadata"].get("managedFields") or []
    }


async def apply(kube: Kube, body: dict[str, Any], manager: str, *, force: bool = False) -> Any:
    params = {"fieldManager": manager}
    if force:
        params["force"] = "true"
    return await kube.http.patch(
        kube.path("v1", "configmaps", "cfg"), params=params, json=body, headers=APPLY
    )


async def test_managed_fields_per_manager_for_update_and_apply(kube: Kube) -> None:
    created = await kube.http.post(
        kube.path("v1", "configmaps"), params={"fieldManager": "maker"}, json=cm({"a": "1"})
    )
    assert created.status_code == 201, created.text
    entry = created.json()["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == ("maker", "Update", "v1")
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["time"].endswith("Z")
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}} or entry["fieldsV1"] == {
        "f:data": {"f:a": {}}
    }

    applied = await apply(kube, cm({"b": "2"}), "applier")
    assert applied.status_code == 200, applied.text
    got = owners(applied.json())
    assert set(got) == {("maker", "Update"), ("applier", "Apply")}
    assert got[("applier", "Apply")] == {"f:data": {"f:b": {}}}
    assert applied.json()["data"] == {"a": "1", "b": "2"}

    # An Update takes the fields it changes away from their previous owner.
    patched = await kube.http.patch(
        kube.path("v1", "configmaps", "cfg"),
        params={"fieldManager": "editor"},
        json={"data": {"a": "changed"}},
        headers=MERGE,
    )
    got = owners(patched.json())
    assert got[("editor", "Update")] == {"f:data": {"f:a": {}}}
    assert ("maker", "Update") not in got  # it owned nothing else
    assert got[("applier", "Apply")] == {"f:data": {"f:b": {}}}


async def test_a_field_dropped_from_the_applied_config_is_removed(kube: Kube) -> None:
    first = await apply(kube, cm({"a": "1", "b": "2"}), "applier")
    assert first.status_code == 201, first.text
    second = await apply(kube, cm({"a": "1"}), "applier")
    assert second.status_code == 200, second.text
    assert second.json()["data"] == {"a": "1"}
    assert owners(second.json())[("applier", "Apply")] == {"f:data": {"f:a": {}}}


async def test_conflicts_are_409_unless_forced(kube: Kube) -> None:
    await kube.http.post(
        kube.path("v1", "configmaps"), params={"fieldManager": "maker"}, json=cm({"a": "1"})
    )
    # The same value is shared ownership, not a conflict.
    same = await apply(kube, cm({"a": "1"}), "applier")
    assert same.status_code == 200, same.text
    assert set(owners(same.json())) == {("maker", "Update"), ("applier", "Apply")}

    await kube.http.patch(
        kube.path("v1", "configmaps", "cfg"),
        params={"fieldManager": "maker"},
        json={"data": {"c": "3"}},
        headers=MERGE,
    )
    refused = await apply(kube, cm({"a": "1", "c": "other"}), "applier")
    body = assert_status_response(refused, 409, "Conflict")
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "maker" using v1: .data.c'
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "maker" using v1',
            "field": ".data.c",
        }
    ]
    current = (await kube.http.get(kube.path("v1", "configmaps", "cfg"))).json()
    assert current["data"]["c"] == "3"

    forced = await apply(kube, cm({"a": "1", "c": "other"}), "applier", force=True)
    assert forced.status_code == 200, forced.text
    assert forced.json()["data"]["c"] == "other"
    got = owners(forced.json())
    assert got[("applier", "Apply")] == {"f:data": {"f:a": {}, "f:c": {}}}
    assert got[("maker", "Update")] == {"f:data": {"f:a": {}}}


async def test_keyed_list_items_are_owned_by_key(kube: Kube) -> None:
    path = kube.path("apps/v1", "deployments", "web")
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": PAUSE_IMAGE}]},
            },
        },
    }
    created = await kube.http.patch(path, params={"fieldManager": "ci"}, json=config, headers=APPLY)
    assert created.status_code == 201, created.text
    fields = owners(created.json())[("ci", "Apply")]
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:name": {}}}

    await kube.http.patch(
        path,
        params={"fieldManager": "human"},
        json={"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x:2"}]}}}},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    refused = await kube.http.patch(path, params={"fieldManager": "ci"}, json=config, headers=APPLY)
    body = assert_status_response(refused, 409, "Conflict")
    assert [c["field"] for c in body["details"]["causes"]] == [
        '.spec.template.spec.containers[name="app"].image'
    ]
