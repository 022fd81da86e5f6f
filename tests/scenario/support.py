"""Helpers for the scenario tests: reading the local cluster's objects precisely."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ensign.testing.harness import Harness

JSON = dict[str, Any]
NS = "test"
NAME = "podinfo"
OLD_IMAGE = "ghcr.io/stefanprodan/podinfo:6.7.0"
NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.8.0"
NEWER_IMAGE = "ghcr.io/stefanprodan/podinfo:6.9.0"
READY_AFTER = "localcluster.ensign.dev/ready-after"


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    message: str
    count: int


def events(h: Harness, namespace: str = NS) -> list[Event]:
    """Every Event in `namespace`, oldest first, with its type."""
    items, _, _ = h.cluster.store.list(h.type("", "v1", "events"), namespace)
    ordered = sorted(items, key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [
        Event(
            type=str(e.get("type")), message=str(e.get("message")), count=int(e.get("count") or 1)
        )
        for e in ordered
    ]


def warnings(h: Harness, namespace: str = NS) -> list[str]:
    return [e.message for e in events(h, namespace) if e.type == "Warning"]


def deployment(h: Harness, name: str, namespace: str = NS) -> JSON:
    obj = h.get("Deployment", namespace, name)
    assert obj is not None, f"deployment {namespace}/{name} not found"
    return obj


def image(h: Harness, name: str, namespace: str = NS) -> str:
    return str(deployment(h, name, namespace)["spec"]["template"]["spec"]["containers"][0]["image"])


def replicas(h: Harness, name: str, namespace: str = NS) -> int:
    return int(deployment(h, name, namespace)["spec"].get("replicas", 1))


def status(h: Harness, name: str = NAME, namespace: str = NS) -> JSON:
    return dict(h.canary(namespace, name).get("status") or {})


def condition(h: Harness, kind: str = "Ready", name: str = NAME, namespace: str = NS) -> JSON:
    found = [c for c in status(h, name, namespace).get("conditions") or [] if c["type"] == kind]
    assert found, f"no {kind} condition on {namespace}/{name}"
    return dict(found[0])


def fingerprint(h: Harness, name: str = f"{NAME}-primary", namespace: str = NS) -> JSON:
    """What must not change on an untouched Deployment: version, generation, spec."""
    dep = deployment(h, name, namespace)
    return {
        "resourceVersion": dep["metadata"]["resourceVersion"],
        "generation": dep["metadata"].get("generation"),
        "spec": copy.deepcopy(dep["spec"]),
    }


def new_version(h: Harness, new_image: str, *, annotations: dict[str, str] | None = None) -> JSON:
    """Roll the target to `new_image`, optionally adding pod-template annotations."""

    def change(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        template = new["spec"]["template"]
        template["spec"]["containers"][0]["image"] = new_image
        if annotations:
            template.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
        return new

    return h.patch("Deployment", NS, NAME, change)


def set_spec(h: Harness, name: str = NAME, namespace: str = NS, **fields: Any) -> JSON:
    """Patch the Canary's spec (None removes a field)."""

    def change(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        for key, value in fields.items():
            if value is None:
                new["spec"].pop(key, None)
            else:
                new["spec"][key] = value
        return new

    return h.patch("Canary", namespace, name, change)


def history(h: Harness, group: str, plural: str, name: str, namespace: str = NS) -> list[JSON]:
    """Every stored version of one object, oldest first (the local cluster keeps them all)."""
    return [
        e.obj
        for e in h.cluster.store.history_since((group, plural), 0)
        if e.namespace == namespace and e.obj["metadata"]["name"] == name
    ]


def statuses(h: Harness, name: str = NAME, namespace: str = NS) -> list[JSON]:
    """Every status the Canary has had, oldest first (without `outbox`: the side effects
    pending delivery are bookkeeping, their done-marks no new status)."""
    seen = [
        {k: v for k, v in (o.get("status") or {}).items() if k != "outbox"}
        for o in history(h, "flagger.app", "canaries", name, namespace)
    ]
    return [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]]


def phases(h: Harness, name: str = NAME, namespace: str = NS) -> list[str]:
    """The phases the Canary went through, consecutive repeats collapsed."""
    out: list[str] = []
    for s in statuses(h, name, namespace):
        phase = str(s.get("phase", ""))
        if phase and (not out or out[-1] != phase):
            out.append(phase)
    return out


def replica_history(h: Harness, name: str, namespace: str = NS) -> list[int]:
    """The `spec.replicas` values a Deployment had, consecutive repeats collapsed."""
    out: list[int] = []
    for obj in history(h, "apps", "deployments", name, namespace):
        value = int(obj["spec"].get("replicas", 1))
        if not out or out[-1] != value:
            out.append(value)
    return out


def ready_conditions(h: Harness, name: str = NAME, namespace: str = NS) -> list[JSON]:
    """Every distinct Ready condition the Canary reported (status, reason, message)."""
    out: list[JSON] = []
    for s in statuses(h, name, namespace):
        for c in s.get("conditions") or []:
            if c["type"] == "Ready":
                item = {"status": c["status"], "reason": c["reason"], "message": c["message"]}
                if not out or out[-1] != item:
                    out.append(item)
    return out


def occurrences(h: Harness, message: str, namespace: str = NS) -> dict[str, int]:
    """How many times an event was recorded, by type (aggregated counts summed)."""
    out: dict[str, int] = {}
    for e in events(h, namespace):
        if e.message == message:
            out[e.type] = out.get(e.type, 0) + e.count
    return out
