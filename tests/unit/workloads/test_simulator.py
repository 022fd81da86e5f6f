"""`WorkloadSimulator` driving Deployment and DaemonSet status through a real `Store`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ensign.localcluster import errors
from ensign.localcluster.rollout_status import READY_AFTER, pod_template_hash
from ensign.localcluster.store import Store
from ensign.localcluster.workloads import WorkloadSimulator

JSON = dict[str, Any]
NS = "default"


@pytest.fixture
async def sim() -> AsyncIterator[WorkloadSimulator]:
    simulator = WorkloadSimulator(Store(), default_ready_delay=0.05, node_count=2)
    simulator.start()
    yield simulator
    simulator.stop()


def template(image: str = "podinfo:6.0.0", annotations: JSON | None = None) -> JSON:
    meta: JSON = {"labels": {"app": "podinfo"}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"containers": [{"name": "podinfo", "image": image}]}}


def create(sim: WorkloadSimulator, plural: str, name: str = "podinfo", **spec: Any) -> JSON:
    spec.setdefault("template", template())
    body = {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": "podinfo"}}, **spec},
    }
    return sim.store.create(sim.store.type_for("apps", "v1", plural), NS, body)


def patch_spec(sim: WorkloadSimulator, plural: str, name: str = "podinfo", **changes: Any) -> JSON:
    def patcher(obj: JSON) -> JSON:
        spec = {k: v for k, v in {**obj["spec"], **changes}.items() if v is not None}
        return {**obj, "spec": spec}

    return sim.store.patch(sim.store.type_for("apps", "v1", plural), NS, name, patcher)


def get(sim: WorkloadSimulator, plural: str = "deployments", name: str = "podinfo") -> JSON:
    return sim.store.get(sim.store.type_for("apps", "v1", plural), NS, name)


def counts(obj: JSON) -> JSON:
    return {
        k: v
        for k, v in obj.get("status", {}).items()
        if k not in ("conditions", "observedGeneration")
    }


def condition(obj: JSON, kind: str) -> tuple[str, str, str]:
    found = next(c for c in obj["status"]["conditions"] if c["type"] == kind)
    return found["status"], found["reason"], found["message"]


async def one_iteration() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_new_deployment_becomes_ready(sim: WorkloadSimulator) -> None:
    create(sim, "deployments", replicas=2)
    await one_iteration()
    first = get(sim)
    assert first["status"]["observedGeneration"] == 1
    assert counts(first) == {"replicas": 2, "updatedReplicas": 2, "unavailableReplicas": 2}
    assert condition(first, "Available")[:2] == ("False", "MinimumReplicasUnavailable")
    rs_name = f"podinfo-{pod_template_hash(first['spec']['template'])}"
    assert condition(first, "Progressing") == (
        "True",
        "NewReplicaSetCreated",
        f'Created new replica set "{rs_name}"',
    )
    await sim.idle(1.0)
    ready = get(sim)
    assert counts(ready) == {
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    assert condition(ready, "Available") == (
        "True",
        "MinimumReplicasAvailable",
        "Deployment has minimum availability.",
    )
    assert condition(ready, "Progressing") == (
        "True",
        "NewReplicaSetAvailable",
        f'ReplicaSet "{rs_name}" has successfully progressed.',
    )


async def test_spec_change_rolls_out(sim: WorkloadSimulator) -> None:
    create(sim, "deployments", replicas=3)
    await sim.idle(1.0)
    patch_spec(sim, "deployments", template=template("podinfo:6.0.1"))
    await one_iteration()
    rolling = get(sim)
    assert rolling["metadata"]["generation"] == rolling["status"]["observedGeneration"] == 2
    assert counts(rolling) == {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    new_rs = f"podinfo-{pod_template_hash(rolling['spec']['template'])}"
    assert condition(rolling, "Progressing") == (
        "True",
        "ReplicaSetUpdated",
        f'ReplicaSet "{new_rs}" is progressing.',
    )
    assert condition(rolling, "Available")[0] == "True"
    await sim.idle(1.0)
    done = get(sim)
    assert counts(done) == {
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    assert condition(done, "Progressing")[1:] == (
        "NewReplicaSetAvailable",
        f'ReplicaSet "{new_rs}" has successfully progressed.',
    )


async def test_ready_after_delays_new_pods(sim: WorkloadSimulator) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    create(sim, "deployments", replicas=1, template=template(annotations={READY_AFTER: "0.2"}))
    await asyncio.sleep(0.1)
    assert "readyReplicas" not in get(sim)["status"]
    await sim.idle(1.0)
    assert get(sim)["status"]["readyReplicas"] == 1
    assert loop.time() - started >= 0.2


async def test_never_ready_exceeds_the_progress_deadline(sim: WorkloadSimulator) -> None:
    create(
        sim,
        "deployments",
        replicas=1,
        template=template(annotations={READY_AFTER: "never"}),
        progressDeadlineSeconds=1,
    )
    await sim.idle(2.0)
    stuck = get(sim)
    rs_name = f"podinfo-{pod_template_hash(stuck['spec']['template'])}"
    assert condition(stuck, "Progressing") == (
        "False",
        "ProgressDeadlineExceeded",
        f'ReplicaSet "{rs_name}" has timed out progressing.',
    )
    assert condition(stuck, "Available")[:2] == ("False", "MinimumReplicasUnavailable")
    assert counts(stuck) == {"replicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1}


async def test_scale_to_zero_and_back(sim: WorkloadSimulator) -> None:
    rt = sim.store.type_for("apps", "v1", "deployments")
    create(sim, "deployments", replicas=2)
    await sim.idle(1.0)
    sim.store.patch(
        rt, NS, "podinfo", lambda s: {**s, "spec": {"replicas": 0}}, subresource="scale"
    )
    await one_iteration()
    zero = get(sim)
    assert zero["status"]["observedGeneration"] == 2
    assert counts(zero) == {}
    assert condition(zero, "Available")[:2] == ("True", "MinimumReplicasAvailable")
    assert condition(zero, "Progressing")[1] == "NewReplicaSetAvailable"
    sim.store.patch(
        rt, NS, "podinfo", lambda s: {**s, "spec": {"replicas": 2}}, subresource="scale"
    )
    await one_iteration()
    up = get(sim)
    assert counts(up) == {"replicas": 2, "updatedReplicas": 2, "unavailableReplicas": 2}
    assert condition(up, "Progressing")[1] == "ReplicaSetUpdated"
    await sim.idle(1.0)
    assert counts(get(sim)) == {
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }


async def test_daemonset_progression_and_scale_to_zero(sim: WorkloadSimulator) -> None:
    create(sim, "daemonsets", name="agent")
    await one_iteration()
    assert get(sim, "daemonsets", "agent")["status"] == {
        "currentNumberScheduled": 2,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 2,
        "numberReady": 0,
        "observedGeneration": 1,
        "updatedNumberScheduled": 2,
        "numberUnavailable": 2,
    }
    await sim.idle(1.0)
    ready = get(sim, "daemonsets", "agent")["status"]
    assert (ready["numberReady"], ready["numberAvailable"], ready["updatedNumberScheduled"]) == (
        2,
        2,
        2,
    )
    asleep = template()
    asleep["spec"] = {**asleep["spec"], "nodeSelector": {"flagger.app/scale-to-zero": "true"}}
    patch_spec(sim, "daemonsets", "agent", template=asleep)
    await sim.idle(1.0)
    assert get(sim, "daemonsets", "agent")["status"] == {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
        "observedGeneration": 2,
    }
    patch_spec(sim, "daemonsets", "agent", template=template())
    await one_iteration()
    assert get(sim, "daemonsets", "agent")["status"]["numberReady"] == 0
    await sim.idle(1.0)
    assert get(sim, "daemonsets", "agent")["status"]["numberReady"] == 2


async def test_daemonset_rollout_waits_for_updated_pods(sim: WorkloadSimulator) -> None:
    create(sim, "daemonsets", name="agent")
    await sim.idle(1.0)
    patch_spec(sim, "daemonsets", "agent", template=template("agent:2"))
    await one_iteration()
    status = get(sim, "daemonsets", "agent")["status"]
    assert status["observedGeneration"] == 2
    assert "updatedNumberScheduled" not in status
    assert status["numberReady"] == 2
    await sim.idle(1.0)
    assert get(sim, "daemonsets", "agent")["status"]["updatedNumberScheduled"] == 2


async def test_no_writes_for_unchanged_objects(sim: WorkloadSimulator) -> None:
    rt = sim.store.type_for("apps", "v1", "deployments")
    create(sim, "deployments", replicas=1)
    await sim.idle(1.0)
    rv = sim.store.resource_version

    def relabel(obj: JSON) -> JSON:
        return {**obj, "metadata": {**obj["metadata"], "labels": {"touched": "yes"}}}

    sim.store.patch(rt, NS, "podinfo", relabel)
    await sim.idle(1.0)
    await asyncio.sleep(0.01)
    assert sim.store.resource_version == rv + 1  # only the label patch itself
    sim.store.patch(rt, NS, "podinfo", lambda o: {**o, "status": {}}, subresource="status")
    await sim.idle(1.0)
    assert sim.store.resource_version == rv + 3  # the wipe and one restoring write
    assert get(sim)["status"]["readyReplicas"] == 1


async def test_delete_cancels_timers(sim: WorkloadSimulator) -> None:
    rt = sim.store.type_for("apps", "v1", "deployments")
    create(sim, "deployments", template=template(annotations={READY_AFTER: "30"}))
    await one_iteration()
    sim.store.delete(rt, NS, "podinfo")
    assert not sim._states
    await asyncio.wait_for(sim.idle(60.0), timeout=1.0)


class FlakyStore(Store):
    """A store whose status writes fail as told: a 409 once, or always with a crash."""

    def __init__(self, failure: str) -> None:
        super().__init__()
        self.failure = failure
        self.status_writes = 0

    def replace(self, *args: Any, **kwargs: Any) -> JSON:
        self.status_writes += kwargs.get("subresource") == "status"
        if self.failure == "crash":
            raise RuntimeError("boom")
        if self.failure == "conflict" and self.status_writes == 1:
            raise errors.conflict(plural="deployments", group="apps", name="podinfo")
        return super().replace(*args, **kwargs)


async def test_conflicting_status_write_is_retried() -> None:
    store = FlakyStore("conflict")
    simulator = WorkloadSimulator(store, default_ready_delay=0.05)
    simulator.start()
    try:
        create(simulator, "deployments", replicas=1)
        await one_iteration()
        assert store.status_writes == 2
        assert get(simulator)["status"]["observedGeneration"] == 1
    finally:
        simulator.stop()


async def test_failing_writes_never_escape() -> None:
    store = FlakyStore("crash")
    simulator = WorkloadSimulator(store, default_ready_delay=0.0)
    simulator.start()
    try:
        create(simulator, "deployments", replicas=1)
        await simulator.idle(1.0)
        assert store.status_writes == 2  # the first sync and the ready pods, both logged
        assert "status" not in get(simulator)
    finally:
        simulator.stop()


async def test_existing_workloads_are_adopted_on_start() -> None:
    store = Store()
    simulator = WorkloadSimulator(store, default_ready_delay=0.0)
    body: Callable[[], JSON] = lambda: {  # noqa: E731
        "metadata": {"name": "early", "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": template(),
        },
    }
    store.create(store.type_for("apps", "v1", "deployments"), NS, body())
    simulator.start()
    try:
        await simulator.idle(1.0)
        status = store.get(store.type_for("apps", "v1", "deployments"), NS, "early")["status"]
        assert status["availableReplicas"] == 1
    finally:
        simulator.stop()
    assert not simulator._states


async def test_held_pods_get_ready_only_when_released() -> None:
    """`default_ready_delay=None`: no timer; each rollout waits for `release`."""
    simulator = WorkloadSimulator(Store(), default_ready_delay=None)
    simulator.start()
    try:
        create(simulator, "deployments", replicas=2)
        await simulator.idle(5.0)  # no timer is armed: nothing is due, ever
        assert get(simulator)["status"].get("readyReplicas", 0) == 0
        assert simulator.release(NS, "podinfo") is True
        await simulator.idle()
        assert get(simulator)["status"]["readyReplicas"] == 2
        assert simulator.release(NS, "podinfo") is False  # nothing waits any more
        assert simulator.release(NS, "absent") is False
        patch_spec(simulator, "deployments", template=template("podinfo:6.1.0"))
        await simulator.idle(5.0)
        assert get(simulator)["status"].get("updatedReplicas", 0) == 0  # the next rollout waits
        assert simulator.release(NS, "podinfo") is True
        await simulator.idle()
        assert get(simulator)["status"]["updatedReplicas"] == 2
    finally:
        simulator.stop()
