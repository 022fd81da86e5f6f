"""The status and scale subresources: spec/status isolation and replica changes via /scale."""

from __future__ import annotations

from lightkube import ApiError
from lightkube.models.autoscaling_v1 import ScaleSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.types import PatchType

from tests.contract._support import Kube, deployment, install_widgets, widget


async def test_status_patch_keeps_generation_and_ignores_spec(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    c = kube.client
    await c.create(widget(Widget, "w", size=1))
    patched = await c.patch(
        Widget.Status,
        "w",
        {"spec": {"size": 99}, "status": {"phase": "Progressing", "canaryWeight": 10}},
        patch_type=PatchType.MERGE,
    )
    assert patched.spec["size"] == 1
    assert patched.status == {"phase": "Progressing", "canaryWeight": 10}
    assert patched.metadata.generation == 1
    got = await c.get(Widget, "w")
    assert got.spec["size"] == 1
    assert got.status["phase"] == "Progressing"


async def test_status_replace_ignores_spec(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    c = kube.client
    await c.create(widget(Widget, "w", size=1))
    current = (await c.get(Widget, "w")).to_dict()
    current["spec"]["size"] = 50
    current["status"] = {"phase": "Succeeded"}
    response = await kube.http.put(
        kube.path(Widget._api_info.resource.api_version, "widgets", "w", sub="status"),
        json=current,
    )
    assert response.status_code == 200, response.text
    got = await c.get(Widget, "w")
    assert got.spec["size"] == 1
    assert got.status == {"phase": "Succeeded"}
    assert got.metadata.generation == 1


async def test_main_resource_writes_ignore_status(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    c = kube.client
    await c.create(widget(Widget, "w", size=1))
    await c.patch(
        Widget.Status, "w", {"status": {"phase": "Initialized"}}, patch_type=PatchType.MERGE
    )
    patched = await c.patch(
        Widget,
        "w",
        {"spec": {"size": 2}, "status": {"phase": "Failed"}},
        patch_type=PatchType.MERGE,
    )
    assert patched.spec["size"] == 2
    assert patched.status == {"phase": "Initialized"}
    current = (await c.get(Widget, "w")).to_dict()
    current["status"] = {"phase": "Failed"}
    replaced = await c.replace(Widget.from_dict(current))
    assert replaced.status == {"phase": "Initialized"}


async def test_deployment_status_patch_ignores_spec(kube: Kube) -> None:
    c = kube.client
    await c.create(deployment("st", replicas=1))
    patched = await c.patch(
        Deployment.Status,
        "st",
        {"spec": {"replicas": 9}, "status": {"observedGeneration": 1}},
        patch_type=PatchType.MERGE,
    )
    assert patched.spec.replicas == 1
    assert patched.metadata.generation == 1
    main = await c.patch(
        Deployment,
        "st",
        {"status": {"replicas": 42, "readyReplicas": 42}},
        patch_type=PatchType.MERGE,
    )
    assert (main.status.replicas if main.status else None) != 42
    assert (await c.get(Deployment, "st")).spec.replicas == 1


async def test_deployment_scale_subresource(kube: Kube) -> None:
    c = kube.client
    await c.create(deployment("sc", replicas=1))
    scale = await c.get(Deployment.Scale, "sc")
    assert scale.kind == "Scale"
    assert scale.apiVersion == "autoscaling/v1"
    assert scale.metadata.name == "sc"
    assert scale.metadata.namespace == kube.namespace
    assert scale.spec.replicas == 1

    patched = await c.patch(
        Deployment.Scale, "sc", {"spec": {"replicas": 3}}, patch_type=PatchType.MERGE
    )
    assert patched.kind == "Scale"
    assert patched.spec.replicas == 3
    dep = await c.get(Deployment, "sc")
    assert dep.spec.replicas == 3
    assert dep.metadata.generation == 2

    # Strategic merge (lightkube's default) works on Scale as well.
    patched = await c.patch(Deployment.Scale, "sc", {"spec": {"replicas": 2}})
    assert patched.spec.replicas == 2

    # PUT on /scale (what `kubectl scale` and HPAs do), with the read resourceVersion as the
    # precondition; a controller's status write may race it, so retry on 409 like clients do.
    for _ in range(5):
        current = await c.get(Deployment.Scale, "sc")
        try:
            replaced = await c.replace(
                Deployment.Scale(
                    metadata=ObjectMeta(
                        name="sc",
                        namespace=kube.namespace,
                        resourceVersion=current.metadata.resourceVersion,
                    ),
                    spec=ScaleSpec(replicas=4),
                ),
                "sc",
            )
            break
        except ApiError as exc:
            if exc.status.code != 409:
                raise
    assert replaced.spec.replicas == 4
    assert (await c.get(Deployment, "sc")).spec.replicas == 4


async def test_scale_status_selector(kube: Kube) -> None:
    await kube.client.create(deployment("sel", replicas=1))

    async def selector() -> str | None:
        scale = await kube.client.get(Deployment.Scale, "sel")
        return scale.status.selector if scale.status else None

    assert await kube.eventually(selector, what="scale status.selector") == "app=sel"


async def test_custom_resource_scale_subresource(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    await kube.client.create(widget(Widget, "w", replicas=2))
    response = await kube.http.get(
        kube.path(Widget._api_info.resource.api_version, "widgets", "w", sub="scale")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "Scale"
    assert body["apiVersion"] == "autoscaling/v1"
    assert body["spec"]["replicas"] == 2
    response = await kube.http.patch(
        kube.path(Widget._api_info.resource.api_version, "widgets", "w", sub="scale"),
        content='{"spec": {"replicas": 5}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    assert (await kube.client.get(Widget, "w")).spec["replicas"] == 5
