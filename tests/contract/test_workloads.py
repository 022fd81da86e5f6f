"""Workload status as controllers write it: Deployment rollouts, progress deadlines, scaling,
and DaemonSet status. On the local cluster the simulator writes it; the readiness knob is the
pod-template annotation `localcluster.ensign.dev/ready-after`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from lightkube.models.apps_v1 import DaemonSetSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import DaemonSet, Deployment
from lightkube.types import PatchType

from tests.contract._support import PAUSE_IMAGE, READY_AFTER, Kube, deployment


def conditions(obj: Any) -> dict[str, tuple[str, str | None]]:
    return {c.type: (c.status, c.reason) for c in (obj.status.conditions or [])}


def rolled_out(dep: Deployment) -> bool:
    s = dep.status
    if s is None or s.observedGeneration != dep.metadata.generation:
        return False
    want = dep.spec.replicas
    return (
        (s.replicas or 0) == want
        and (s.updatedReplicas or 0) == want
        and (s.readyReplicas or 0) == want
        and (s.availableReplicas or 0) == want
        and conditions(dep).get("Progressing", ("", ""))[1] == "NewReplicaSetAvailable"
    )


async def wait_rolled_out(kube: Kube, name: str) -> Deployment:
    async def probe() -> Deployment | None:
        dep = await kube.client.get(Deployment, name)
        return dep if rolled_out(dep) else None

    return await kube.eventually(probe, within=kube.timeout(5, 180), what=f"{name} rolled out")


async def test_deployment_rollout_completes(kube: Kube) -> None:
    await kube.client.create(deployment("web", replicas=2))
    dep = await wait_rolled_out(kube, "web")
    assert dep.status.observedGeneration == dep.metadata.generation == 1
    assert dep.status.replicas == dep.status.updatedReplicas == 2
    assert dep.status.readyReplicas == dep.status.availableReplicas == 2
    assert not dep.status.unavailableReplicas
    cond = conditions(dep)
    assert cond["Available"] == ("True", "MinimumReplicasAvailable")
    assert cond["Progressing"] == ("True", "NewReplicaSetAvailable")
    progressing = next(c for c in dep.status.conditions if c.type == "Progressing")
    assert "has successfully progressed" in (progressing.message or "")
    assert progressing.lastUpdateTime is not None
    assert progressing.lastTransitionTime is not None


@pytest.mark.local_only("needs the ready-after knob to slow the rollout down")
async def test_new_image_goes_through_partial_updates(kube: Kube) -> None:
    c = kube.client
    await c.create(deployment("roll", replicas=3))
    before = await wait_rolled_out(kube, "roll")
    patch = {
        "spec": {
            "template": {
                "metadata": {"annotations": {READY_AFTER: "0.3"}},
                "spec": {"containers": [{"name": "app", "image": "app:2"}]},
            }
        }
    }
    seen: list[Deployment] = []
    stream = c.watch(
        Deployment,
        resource_version=before.metadata.resourceVersion,
        fields={"metadata.name": "roll"},
    )
    async with contextlib.aclosing(stream) as events, asyncio.timeout(5):
        patched = await c.patch(Deployment, "roll", patch)
        assert patched.metadata.generation == 2
        async for _, dep in events:
            seen.append(dep)
            if rolled_out(dep) and dep.metadata.generation == 2:
                break
    partial = [
        d
        for d in seen
        if d.status
        and d.status.observedGeneration == 2
        and (d.status.updatedReplicas or 0) < d.spec.replicas
    ]
    assert partial, [d.status for d in seen]
    assert conditions(partial[0])["Progressing"] == ("True", "ReplicaSetUpdated")
    final = seen[-1]
    assert conditions(final)["Progressing"] == ("True", "NewReplicaSetAvailable")
    assert final.status.updatedReplicas == 3


@pytest.mark.local_only("needs ready-after: never (a rollout that never becomes ready)")
async def test_progress_deadline_exceeded(kube: Kube) -> None:
    await kube.client.create(
        deployment("stuck", replicas=2, ready_after="never", progress_deadline=1)
    )

    async def exceeded() -> Deployment | None:
        dep = await kube.client.get(Deployment, "stuck")
        if dep.status and conditions(dep).get("Progressing") == (
            "False",
            "ProgressDeadlineExceeded",
        ):
            return dep
        return None

    dep = await kube.eventually(exceeded, within=4, what="ProgressDeadlineExceeded")
    assert dep.status.observedGeneration == 1
    assert not dep.status.readyReplicas
    assert not dep.status.availableReplicas
    assert conditions(dep).get("Available", ("False", None))[0] == "False"


@pytest.mark.needs_ready_pods("waits for pods twice")
async def test_scale_to_zero_and_back(kube: Kube) -> None:
    c = kube.client
    await c.create(deployment("zero", replicas=2))
    await wait_rolled_out(kube, "zero")
    await c.patch(Deployment.Scale, "zero", {"spec": {"replicas": 0}}, patch_type=PatchType.MERGE)

    async def drained() -> Deployment | None:
        dep = await c.get(Deployment, "zero")
        s = dep.status
        if s and s.observedGeneration == dep.metadata.generation and not s.replicas:
            return dep
        return None

    dep = await kube.eventually(drained, within=kube.timeout(5, 120), what="scaled to zero")
    assert dep.spec.replicas == 0
    assert not dep.status.readyReplicas
    assert not dep.status.availableReplicas
    assert not dep.status.updatedReplicas

    await c.patch(Deployment.Scale, "zero", {"spec": {"replicas": 2}}, patch_type=PatchType.MERGE)
    dep = await wait_rolled_out(kube, "zero")
    assert dep.status.readyReplicas == 2


def daemonset(name: str, node_selector: dict[str, str] | None = None) -> DaemonSet:
    return DaemonSet(
        metadata=ObjectMeta(name=name),
        spec=DaemonSetSpec(
            selector=LabelSelector(matchLabels={"app": name}),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels={"app": name}, annotations={READY_AFTER: "0"}),
                spec=PodSpec(
                    nodeSelector=node_selector,
                    terminationGracePeriodSeconds=0,
                    containers=[Container(name="app", image=PAUSE_IMAGE)],
                ),
            ),
        ),
    )


@pytest.mark.needs_ready_pods("waits for a pod on every node")
async def test_daemonset_status(kube: Kube) -> None:
    c = kube.client
    created = await c.create(daemonset("agent"))
    assert created.metadata.generation == 1

    async def ready() -> DaemonSet | None:
        ds = await c.get(DaemonSet, "agent")
        s = ds.status
        if (
            s
            and s.observedGeneration == ds.metadata.generation
            and s.desiredNumberScheduled >= 1
            and s.numberReady == s.desiredNumberScheduled
        ):
            return ds
        return None

    ds = await kube.eventually(ready, within=kube.timeout(5, 180), what="daemonset ready")
    s = ds.status
    assert s.currentNumberScheduled == s.desiredNumberScheduled
    assert s.updatedNumberScheduled == s.desiredNumberScheduled
    assert s.numberAvailable == s.desiredNumberScheduled
    assert s.numberMisscheduled == 0
    assert not s.numberUnavailable

    # Flagger scales a DaemonSet "to zero" with a nodeSelector that matches no node.
    await c.create(daemonset("parked", {"flagger.app/scale-to-zero": "true"}))

    async def parked() -> DaemonSet | None:
        ds = await c.get(DaemonSet, "parked")
        s = ds.status
        if s and s.observedGeneration == 1 and s.desiredNumberScheduled == 0:
            return ds
        return None

    ds = await kube.eventually(parked, within=kube.timeout(5, 60), what="parked daemonset")
    assert not ds.status.numberReady


REVISION = "deployment.kubernetes.io/revision"


async def replicasets_of(kube: Kube, name: str) -> list[dict[str, Any]]:
    response = await kube.http.get(kube.path("apps/v1", "replicasets"))
    return [
        rs
        for rs in response.json()["items"]
        if any(o["name"] == name for o in rs["metadata"].get("ownerReferences") or [])
    ]


async def pods_of(kube: Kube, owner_uids: set[str]) -> list[dict[str, Any]]:
    response = await kube.http.get(kube.path("v1", "pods"))
    return [
        pod
        for pod in response.json()["items"]
        if any(o["uid"] in owner_uids for o in pod["metadata"].get("ownerReferences") or [])
    ]


def ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", [])
    )


@pytest.mark.needs_ready_pods("waits for two rollouts of real pods")
async def test_deployment_owns_replicasets_and_pods_as_the_controllers_make_them(
    kube: Kube,
) -> None:
    c = kube.client
    created = await c.create(deployment("web", replicas=2))
    await wait_rolled_out(kube, "web")

    async def first_pods() -> list[dict[str, Any]] | None:
        [rs] = await replicasets_of(kube, "web")
        pods = await pods_of(kube, {rs["metadata"]["uid"]})
        return pods if len(pods) == 2 and all(ready(p) for p in pods) else None

    pods = await kube.eventually(first_pods, within=kube.timeout(5, 180), what="2 ready pods")
    [rs] = await replicasets_of(kube, "web")
    template_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{template_hash}"
    assert rs["metadata"]["annotations"][REVISION] == "1"
    [owner] = rs["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "Deployment",
        created.metadata.uid,
        True,
    )
    assert rs["spec"]["selector"]["matchLabels"] == {
        "app": "web",
        "pod-template-hash": template_hash,
    }
    assert rs["spec"]["replicas"] == 2
    for pod in pods:
        assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": template_hash}
        assert pod["metadata"]["name"].startswith(f"web-{template_hash}-")
        assert pod["metadata"]["ownerReferences"][0]["controller"] is True
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"]
    dep = await c.get(Deployment, "web")
    assert dep.metadata.annotations[REVISION] == "1"
    assert dep.metadata.generation == 1  # the revision annotation comes through /status

    # A new template: revision 2 in a new ReplicaSet; the old one is scaled to 0 and kept.
    await c.patch(
        Deployment,
        "web",
        {"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}},
        patch_type=PatchType.MERGE,
    )

    async def second() -> list[dict[str, Any]] | None:
        sets = {
            r["metadata"]["annotations"][REVISION]: r for r in await replicasets_of(kube, "web")
        }
        if set(sets) != {"1", "2"} or sets["1"]["spec"]["replicas"] != 0:
            return None
        pods = await pods_of(kube, {r["metadata"]["uid"] for r in sets.values()})
        if len(pods) != 2 or not all(ready(p) for p in pods):
            return None
        return [sets["2"], *pods]

    new_rs, *new_pods = await kube.eventually(
        second, within=kube.timeout(5, 180), what="revision 2 rolled out"
    )
    new_hash = new_rs["metadata"]["labels"]["pod-template-hash"]
    assert new_hash != template_hash
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in new_pods} == {new_hash}
    dep = await c.get(Deployment, "web")
    assert dep.metadata.annotations[REVISION] == "2"


@pytest.mark.needs_ready_pods("waits for a pod on every node")
async def test_daemonset_pods_run_on_the_nodes(kube: Kube) -> None:
    nodes = (await kube.http.get("/api/v1/nodes")).json()["items"]
    assert nodes, "a DaemonSet needs nodes"
    created = await kube.client.create(daemonset("agent"))

    async def placed() -> list[dict[str, Any]] | None:
        pods = await pods_of(kube, {created.metadata.uid})
        return pods if pods and all(ready(p) for p in pods) else None

    pods = await kube.eventually(placed, within=kube.timeout(5, 180), what="daemonset pods")
    assert len({p["spec"]["nodeName"] for p in pods}) == len(pods)
    assert {p["spec"]["nodeName"] for p in pods} <= {n["metadata"]["name"] for n in nodes}
    for pod in pods:
        assert pod["metadata"]["labels"]["app"] == "agent"
        assert "controller-revision-hash" in pod["metadata"]["labels"]


@pytest.mark.local_only("removes the simulated node")
async def test_daemonset_without_schedulable_nodes_wants_no_pods(kube: Kube) -> None:
    c = kube.client
    await c.create(daemonset("agent"))
    node = "local-node-1"
    await kube.http.patch(
        f"/api/v1/nodes/{node}/status",
        json={"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        headers={"Content-Type": "application/merge-patch+json"},
    )

    async def none_wanted() -> DaemonSet | None:
        ds = await c.get(DaemonSet, "agent")
        return ds if ds.status and ds.status.desiredNumberScheduled == 0 else None

    await kube.eventually(none_wanted, what="no schedulable node")
    assert not await pods_of(kube, {(await c.get(DaemonSet, "agent")).metadata.uid})


@pytest.mark.needs_ready_pods("waits for a replacement pod to become ready")
async def test_readiness_follows_the_pods(kube: Kube) -> None:
    """Deleting a pod: the ReplicaSet replaces it, and the Deployment counts it unready until
    the replacement is ready. On the local cluster the ready-after knob (0.3 s here) holds the
    replacement unready long enough to see the dip."""
    c = kube.client
    await c.create(deployment("web", replicas=2, ready_after="0.3"))
    await wait_rolled_out(kube, "web")
    [rs] = await replicasets_of(kube, "web")

    async def two_ready() -> list[dict[str, Any]] | None:
        pods = await pods_of(kube, {rs["metadata"]["uid"]})
        return pods if len(pods) == 2 and all(ready(p) for p in pods) else None

    before = await kube.eventually(two_ready, within=kube.timeout(5, 180), what="2 ready pods")
    victim = before[0]["metadata"]["name"]
    await kube.http.delete(kube.path("v1", "pods", victim))
    if kube.is_local:

        async def dipped() -> Deployment | None:
            dep = await c.get(Deployment, "web")
            return dep if dep.status.readyReplicas == 1 else None

        await kube.eventually(dipped, what="readyReplicas 1 while the replacement starts")
    after = await kube.eventually(two_ready, within=kube.timeout(5, 180), what="replaced")
    assert victim not in {p["metadata"]["name"] for p in after}
    dep = await wait_rolled_out(kube, "web")
    assert dep.status.readyReplicas == 2
