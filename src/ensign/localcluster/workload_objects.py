"""The objects the deployment, replicaset and daemonset controllers and the kubelet create:
ReplicaSets, Pods and the simulated Nodes. Used by `WorkloadSimulator`; no I/O.

What a real cluster shows, and so what this writes:

* a Deployment owns one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`,
  labelled (and selecting) `pod-template-hash`, with an ownerReference `controller: true`
  and the annotations `deployment.kubernetes.io/revision` (1, 2, ... per new template),
  `desired-replicas` and `max-replicas`; the Deployment carries the revision of its newest
  ReplicaSet. Replicas of older templates stay in the previous ReplicaSet during a rolling
  update; every other old ReplicaSet is scaled to 0 (and kept, as revision history).
* a ReplicaSet owns its Pods, `<replicaset>-<5 random chars>`, with the template's labels
  plus `pod-template-hash`, scheduled on a simulated node, `Running`, and `Ready` as the
  simulator decides (`rollout_status.Pods`).
* a DaemonSet owns one Pod per matching Ready node (`controller-revision-hash`,
  `pod-template-generation` labels). Nodes are `local-node-N`, labelled as
  `rollout_status.node_labels` says.

Everything is written with `Store.put_internal` (no admission: these are controllers' writes)
and only when the wanted counts changed, so a settled workload costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from ensign.localcluster import rollout_status as rs
from ensign.localcluster.rollout_status import JSON, Pods
from ensign.localcluster.store import Store, rfc3339

REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
HASH = "pod-template-hash"


@dataclass(slots=True)
class _Owned:
    """The ReplicaSets of one Deployment (by template hash), or the pods of a DaemonSet."""

    revisions: dict[str, int] = field(default_factory=dict)
    pods: dict[str, list[str]] = field(default_factory=dict)  # owner name -> pod names
    synced: tuple[object, ...] = ()


class WorkloadObjects:
    """Writes the ReplicaSets, Pods and Nodes that mirror the simulator's state."""

    def __init__(self, store: Store, *, node_count: int = 1) -> None:
        self.store = store
        self.node_count = node_count
        self.replicasets = store.type_for("apps", "v1", "replicasets")
        self.pods = store.type_for("", "v1", "pods")
        self.nodes = store.type_for("", "v1", "nodes")
        self._owned: dict[tuple[str, str, str], _Owned] = {}  # (kind, namespace, name)
        # (namespace, pod) -> (workload, owner name): who a pod we made belongs to.
        self._pod_owner: dict[tuple[str, str], tuple[tuple[str, str, str], str]] = {}
        self.writing = False  # our own pod writes are not news to the simulator

    # ----------------------------------------------------------------- nodes

    def ensure_nodes(self) -> None:
        for index in range(1, self.node_count + 1):
            name = rs.node_labels(index)["kubernetes.io/hostname"]
            if self.store.exists(self.nodes, "", name):
                continue
            now = rfc3339(self.store.clock())
            self.store.put_internal(
                self.nodes,
                {
                    "metadata": {"name": name, "labels": rs.node_labels(index)},
                    "spec": {"podCIDR": f"10.244.{index}.0/24"},
                    "status": {
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "True",
                                "reason": "KubeletReady",
                                "message": "kubelet is posting ready status",
                                "lastHeartbeatTime": now,
                                "lastTransitionTime": now,
                            }
                        ],
                        "addresses": [{"type": "InternalIP", "address": f"10.0.0.{index}"}],
                        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                        "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                        "nodeInfo": {"kubeletVersion": "v1.36.0", "operatingSystem": "linux"},
                    },
                },
            )

    def schedulable_nodes(self, template: JSON | None) -> list[str]:
        """Ready nodes whose labels match the pod template's nodeSelector."""
        selector = ((template or {}).get("spec") or {}).get("nodeSelector") or {}
        out = []
        for node in self.store.list(self.nodes, None)[0]:
            labels = node["metadata"].get("labels") or {}
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or []
            )
            if ready and all(labels.get(k) == v for k, v in selector.items()):
                out.append(node["metadata"]["name"])
        return out

    # ----------------------------------------------------------- deployments

    def revision(self, namespace: str, name: str, template_hash: str) -> int:
        """The revision of this template of the Deployment (a new template gets max + 1)."""
        owned = self._owned.setdefault(("Deployment", namespace, name), _Owned())
        current = owned.revisions.get(template_hash)
        latest = max(owned.revisions.values(), default=0)
        if current is None or current != latest:
            owned.revisions[template_hash] = latest + 1
        return owned.revisions[template_hash]

    def sync_deployment(self, deployment: JSON, pods: Pods, template_hash: str) -> None:
        meta = deployment["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        owned = self._owned.setdefault(("Deployment", namespace, name), _Owned())
        wanted = (meta.get("uid"), template_hash, pods, meta.get("generation"))
        if owned.synced == wanted:
            return
        owned.synced = wanted
        if template_hash not in owned.revisions:
            self.revision(namespace, name, template_hash)
        spec = deployment.get("spec") or {}
        desired = rs.desired_replicas(spec)
        by_revision = sorted(owned.revisions.items(), key=lambda kv: kv[1])
        previous = [h for h, _ in by_revision if h != template_hash]
        for h, revision in by_revision:
            if h == template_hash:
                count, ready = pods.updated, pods.new_ready
            elif previous and h == previous[-1]:
                count, ready = pods.old, pods.old_ready
            else:
                count, ready = 0, 0
            rs_name = f"{name}-{h}"
            if count == 0 and not self.store.exists(self.replicasets, namespace, rs_name):
                continue
            replicaset = self._replicaset(deployment, rs_name, h, revision, count, ready, desired)
            stored = self.store.put_internal(self.replicasets, replicaset)
            self._scale_pods(owned, stored, count, ready, {HASH: h})

    def _replicaset(
        self,
        deployment: JSON,
        rs_name: str,
        template_hash: str,
        revision: int,
        count: int,
        ready: int,
        desired: int,
    ) -> JSON:
        meta = deployment["metadata"]
        spec = deployment.get("spec") or {}
        template = _copy(spec.get("template") or {})
        template_meta = template.setdefault("metadata", {})
        labels = dict(template_meta.get("labels") or {}, **{HASH: template_hash})
        template_meta["labels"] = labels
        selector = _copy(spec.get("selector") or {})
        selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{HASH: template_hash})
        status: JSON = {"replicas": count, "observedGeneration": 1}
        if count:
            status["fullyLabeledReplicas"] = count
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        annotations = {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if not k.startswith("kubectl.kubernetes.io/last-applied")
        }
        annotations.update(
            {
                REVISION: str(revision),
                DESIRED: str(desired),
                MAX: str(desired + rs.max_surge(spec, desired)),
            }
        )
        return {
            "metadata": {
                "name": rs_name,
                "namespace": meta.get("namespace", ""),
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [_owner("apps/v1", "Deployment", meta)],
            },
            "spec": {
                "replicas": count,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
            "status": status,
        }

    # ------------------------------------------------------------ daemonsets

    def sync_daemonset(self, daemonset: JSON, pods: Pods, nodes: list[str]) -> None:
        meta = daemonset["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        owned = self._owned.setdefault(("DaemonSet", namespace, name), _Owned())
        wanted = (meta.get("uid"), pods, meta.get("generation"), tuple(nodes))
        if owned.synced == wanted:
            return
        owned.synced = wanted
        template = (daemonset.get("spec") or {}).get("template")
        labels = {
            "controller-revision-hash": rs.pod_template_hash(template),
            "pod-template-generation": str(meta.get("generation", 1)),
        }
        self._scale_pods(owned, daemonset, pods.total, pods.ready, labels, nodes=nodes)

    # ------------------------------------------------------------------ pods

    def forget(self, kind: str, namespace: str, name: str) -> None:
        """The owner is gone: the garbage collector removes its objects."""
        owned = self._owned.pop((kind, namespace, name), None)
        for names in owned.pods.values() if owned is not None else ():
            for pod in names:
                self._pod_owner.pop((namespace, pod), None)

    def pod_lost(self, namespace: str, pod: str, *, deleted: bool) -> tuple[str, str, bool] | None:
        """A pod we made was deleted, or turned unready, by someone else: its workload's
        (kind, name) and whether the pod ran the current template; None when not ours."""
        found = self._pod_owner.get((namespace, pod))
        if found is None:
            return None
        workload, owner_name = found
        owned = self._owned.get(workload)
        if owned is None:
            return None
        owned.synced = ()  # the next sync replaces it / restores its readiness
        if deleted:
            del self._pod_owner[(namespace, pod)]
            names = owned.pods.get(owner_name, [])
            if pod in names:
                names.remove(pod)
        kind, _, name = workload
        current = kind == "DaemonSet" or owner_name == _newest(owned, name)
        return kind, name, current

    def _scale_pods(
        self,
        owned: _Owned,
        owner: JSON,
        count: int,
        ready: int,
        extra_labels: dict[str, str],
        *,
        nodes: list[str] | None = None,
    ) -> None:
        names = owned.pods.setdefault(owner["metadata"]["name"], [])
        workload = self._workload_of(owner)
        self.writing = True
        try:
            self._write_pods(owned, owner, names, workload, count, ready, extra_labels, nodes)
        finally:
            self.writing = False

    def _workload_of(self, owner: JSON) -> tuple[str, str, str]:
        meta = owner["metadata"]
        if owner.get("kind") == "DaemonSet":
            return ("DaemonSet", meta.get("namespace", ""), meta["name"])
        deployment = (meta.get("ownerReferences") or [{}])[0].get("name", "")
        return ("Deployment", meta.get("namespace", ""), str(deployment))

    def _write_pods(
        self,
        owned: _Owned,
        owner: JSON,
        names: list[str],
        workload: tuple[str, str, str],
        count: int,
        ready: int,
        extra_labels: dict[str, str],
        nodes: list[str] | None,
    ) -> None:
        meta = owner["metadata"]
        namespace, owner_name = meta.get("namespace", ""), meta["name"]
        while len(names) > count:
            gone = names.pop()
            self._pod_owner.pop((namespace, gone), None)
            self.store.delete_internal(self.pods, namespace, gone)
        template = (owner.get("spec") or {}).get("template") or {}
        shared_spec: JSON | None = None  # one copy for all pods: stored objects never change
        for index in range(count):
            if index == len(names):
                names.append(f"{owner_name}-{rs.random_suffix()}")
                self._pod_owner[(namespace, names[-1])] = (workload, owner_name)
            current = (
                self.store.get(self.pods, namespace, names[index])
                if self.store.exists(self.pods, namespace, names[index])
                else None
            )
            if current is not None and _ready(current) == (index < ready):
                continue
            node = (
                nodes[index]
                if nodes
                else rs.node_labels(index % self.node_count + 1)["kubernetes.io/hostname"]
            )
            if shared_spec is None:
                shared_spec = _copy(template.get("spec") or {})
            spec = dict(shared_spec, nodeName=node)
            pod = self._pod(owner, names[index], template, spec, extra_labels, index < ready)
            self.store.put_internal(self.pods, pod)

    def _pod(
        self,
        owner: JSON,
        name: str,
        template: JSON,
        spec: JSON,
        extra_labels: dict[str, str],
        ready: bool,
    ) -> JSON:
        meta = owner["metadata"]
        template_meta = template.get("metadata") or {}
        now = rfc3339(self.store.clock())
        flag = "True" if ready else "False"
        containers = spec.get("containers") or []
        pod_meta: JSON = {
            "name": name,
            "namespace": meta.get("namespace", ""),
            "generateName": f"{meta['name']}-",
            "labels": dict(template_meta.get("labels") or {}, **extra_labels),
            "ownerReferences": [_owner(owner.get("apiVersion", "apps/v1"), owner["kind"], meta)],
        }
        if template_meta.get("annotations"):
            pod_meta["annotations"] = dict(template_meta["annotations"])
        return {
            "metadata": pod_meta,
            "spec": spec,
            "status": {
                "phase": "Running",
                "conditions": [
                    _condition("PodScheduled", "True", now),
                    _condition("Initialized", "True", now),
                    _condition("ContainersReady", flag, now),
                    _condition("Ready", flag, now),
                ],
                "hostIP": "10.0.0.1",
                "podIP": "10.244.0.1",
                "startTime": now,
                "qosClass": "BestEffort",
                "containerStatuses": [
                    {
                        "name": c.get("name", ""),
                        "image": c.get("image", ""),
                        "imageID": "",
                        "ready": ready,
                        "started": True,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": now}},
                    }
                    for c in containers
                ],
            },
        }


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _copy(value: Any) -> Any:
    """A deep copy (msgspec's round trip is ~10x faster than copy.deepcopy here)."""
    return _decode(_encode(value))


def _newest(owned: _Owned, deployment: str) -> str:
    """The ReplicaSet name of the Deployment's newest revision."""
    if not owned.revisions:
        return ""
    newest = max(owned.revisions.items(), key=lambda kv: kv[1])[0]
    return f"{deployment}-{newest}"


def _owner(api_version: str, kind: str, meta: JSON) -> JSON:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _condition(kind: str, status: str, now: str) -> JSON:
    return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": now}


def _ready(pod: JSON) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )
