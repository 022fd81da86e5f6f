"""KEDA ScaledObject as `autoscalerRef` end to end (§2.10), on the local cluster with its
simulated KEDA operator (localcluster/keda.py), which scales a target whose ScaledObject is
not paused back up to `minReplicaCount`: a target that stays at zero replicas shows that
Ensign paused its ScaledObject, as Flagger does.

Two shared runs: a blue/green canary (primary copy with the default query rewrite, pause at
initialisation, resume at a new run, the primary ScaledObject updated only at promotion,
pause after promotion, a rollback), and a skip-analysis canary with `primaryScalerQueries`
and `revertOnDeletion` (pause after its promotion, resume on deletion). Plus the missing CRD.
"""

from __future__ import annotations

import copy
from typing import Any

from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from ensign.workloads.scaledobjects import PAUSED_REPLICAS
from tests.scenario.support import NEW_IMAGE, NEWER_IMAGE, NS, history, replicas

JSON = dict[str, Any]
SO_API = "keda.sh/v1alpha1"
QUERY = 'sum(rate(http_requests_total{app="podinfo-canary"}[1m])) + up{deployment="podinfo"}'
OTHER_QUERY = 'sum(rate(requests{app="podinfo"}[1m]))'


def scaled_object(name: str = "podinfo-so", namespace: str = NS, target: str = "podinfo") -> JSON:
    return {
        "apiVersion": SO_API,
        "kind": "ScaledObject",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": target, "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": {"team": "web"},
        },
        "spec": {
            "scaleTargetRef": {"name": target},
            "pollingInterval": 10,
            "cooldownPeriod": 60,
            "minReplicaCount": 2,
            "maxReplicaCount": 5,
            "advanced": {"horizontalPodAutoscalerConfig": {"name": f"{target}-hpa"}},
            "fallback": {"failureThreshold": 3, "replicas": 2},
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "requests",
                    "metadata": {"serverAddress": "http://prometheus:9090", "query": QUERY},
                },
                {
                    "type": "prometheus",
                    "name": "other",
                    "metadata": {"serverAddress": "http://prometheus:9090", "query": OTHER_QUERY},
                },
            ],
        },
    }


def with_scaler(
    canary: JSON, *, so: str = "podinfo-so", queries: dict[str, str] | None = None
) -> JSON:
    ref: JSON = {"apiVersion": SO_API, "kind": "ScaledObject", "name": so}
    if queries is not None:
        ref["primaryScalerQueries"] = queries
    canary["spec"]["autoscalerRef"] = ref
    return canary


def so(h: Harness, name: str, namespace: str = NS) -> JSON:
    obj = h.get_object(SO_API, "ScaledObject", namespace, name)
    assert obj is not None, f"ScaledObject {namespace}/{name} not found"
    return obj


def paused(h: Harness, name: str, namespace: str = NS) -> str | None:
    annotations = so(h, name, namespace)["metadata"].get("annotations") or {}
    return annotations.get(PAUSED_REPLICAS)


def pause_history(h: Harness, name: str, namespace: str = NS) -> list[str | None]:
    """The paused-replicas values the target's ScaledObject had, repeats collapsed."""
    out: list[str | None] = []
    for obj in history(h, "keda.sh", "scaledobjects", name, namespace):
        value = (obj["metadata"].get("annotations") or {}).get(PAUSED_REPLICAS)
        if not out or out[-1] != value:
            out.append(value)
    return out


def queries(obj: JSON) -> dict[str, str]:
    return {t["name"]: t["metadata"]["query"] for t in obj["spec"]["triggers"]}


def edit_so(h: Harness, name: str, namespace: str, **spec: Any) -> None:
    rt = h.served_type(SO_API, "ScaledObject")
    assert rt is not None

    def change(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        new["spec"].update(spec)
        return new

    h.cluster.store.patch(rt, namespace, name, change)
    h.cluster.api.on_write and h.cluster.api.on_write()


async def test_blue_green_with_a_scaled_object(gate: GateServer) -> None:
    gate.close("promote")
    hooks = [
        m.hook("check", "rollout", gate.url("check")),
        m.hook("promote", "confirm-promotion", gate.url("promote")),
    ]
    async with Harness(crds=("keda",)) as h:
        await h.apply(
            m.namespace(NS),
            m.deployment(),
            scaled_object(),
            with_scaler(m.canary(interval="250ms", iterations=1, threshold=2, webhooks=hooks)),
        )
        await h.wait_phase(NS, "podinfo", "Initialized")

        # The primary copy: scaleTargetRef, copied fields, advanced HPA name, default rewrite.
        primary = so(h, "podinfo-so-primary")
        assert primary["spec"] == {
            "scaleTargetRef": {"name": "podinfo-primary"},
            "pollingInterval": 10,
            "cooldownPeriod": 60,
            "minReplicaCount": 2,
            "maxReplicaCount": 5,
            "advanced": {"horizontalPodAutoscalerConfig": {"name": "podinfo-hpa-primary"}},
            "fallback": {"failureThreshold": 3, "replicas": 2},
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "requests",
                    "metadata": {
                        "serverAddress": "http://prometheus:9090",
                        "query": 'sum(rate(http_requests_total{app="podinfo-primary"}[1m]))'
                        ' + up{deployment="podinfo-primary"}',
                    },
                },
                {
                    "type": "prometheus",
                    "name": "other",
                    "metadata": {
                        "serverAddress": "http://prometheus:9090",
                        "query": 'sum(rate(requests{app="podinfo-primary"}[1m]))',
                    },
                },
            ],
        }
        assert primary["metadata"]["labels"] == {"app": "podinfo"}  # toolkit key dropped
        assert primary["metadata"]["annotations"] == {"team": "web"}
        owner = primary["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Canary", "podinfo", True)
        # Initialisation paused the target's ScaledObject: KEDA leaves the target at zero.
        assert paused(h, "podinfo-so") == "0"
        assert replicas(h, "podinfo") == 0
        assert so(h, "podinfo-so")["status"]["pausedReplicaCount"] == 0
        assert paused(h, "podinfo-so-primary") is None  # the primary keeps scaling
        await h.wait_for(lambda: replicas(h, "podinfo-primary") >= 2, what="primary at min 2")

        # A new run resumes it; the target is scaled up from zero to minReplicaCount.
        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_phase(NS, "podinfo", "WaitingPromotion")
        assert paused(h, "podinfo-so") is None
        assert replicas(h, "podinfo") == 2
        # An edit to the target's ScaledObject reaches the primary only at promotion.
        edit_so(h, "podinfo-so", NS, maxReplicaCount=7)
        await h.wait_for(lambda: so(h, "podinfo-so")["spec"]["maxReplicaCount"] == 7)
        version = so(h, "podinfo-so-primary")["metadata"]["resourceVersion"]
        await h.wait_for(lambda: len(gate.calls_to("promote")) >= 3, what="promotion retries")
        assert so(h, "podinfo-so-primary")["metadata"]["resourceVersion"] == version

        gate.open("promote")
        await h.wait_phase(NS, "podinfo", "Succeeded")
        assert so(h, "podinfo-so-primary")["spec"]["maxReplicaCount"] == 7
        # Paused again after promotion (Finalising): the target stays at zero.
        assert paused(h, "podinfo-so") == "0"
        assert replicas(h, "podinfo") == 0

        # A failing run rolls back: resumed for the run, paused again on rollback.
        gate.close("check")
        h.set_image(NS, "podinfo", NEWER_IMAGE)
        await h.wait_phase(NS, "podinfo", "Failed", timeout=30)
        assert paused(h, "podinfo-so") == "0"
        assert replicas(h, "podinfo") == 0
        assert pause_history(h, "podinfo-so") == [None, "0", None, "0", None, "0"]
        assert so(h, "podinfo-so-primary")["spec"]["maxReplicaCount"] == 7


async def test_skip_analysis_with_primary_scaler_queries_and_revert_on_deletion() -> None:
    canary = with_scaler(
        m.canary(skip_analysis=True), queries={"requests": "sum(up{app='podinfo-primary'})"}
    )
    canary["spec"]["revertOnDeletion"] = True
    async with Harness(crds=("keda",)) as h:
        await h.apply(m.namespace(NS), m.deployment(), scaled_object(), canary)
        await h.wait_phase(NS, "podinfo", "Initialized")
        # primaryScalerQueries: the named trigger gets its query, the other keeps its own.
        assert queries(so(h, "podinfo-so-primary")) == {
            "requests": "sum(up{app='podinfo-primary'})",
            "other": OTHER_QUERY,
        }
        assert paused(h, "podinfo-so") == "0"

        h.set_image(NS, "podinfo", NEW_IMAGE)
        await h.wait_for(
            lambda: (
                h.phase(NS, "podinfo") == "Succeeded"
                and pause_history(h, "podinfo-so") == [None, "0", None, "0"]
            ),
            what="skip-analysis promotion, resumed then paused",
        )
        assert replicas(h, "podinfo") == 0

        # Deletion with revertOnDeletion resumes the target's ScaledObject (finalize).
        h.cluster.store.delete(h.type("flagger.app", "v1beta1", "canaries"), NS, "podinfo")
        h.cluster.api.on_write and h.cluster.api.on_write()
        await h.wait_for(lambda: h.get("Canary", NS, "podinfo") is None, what="canary gone")
        assert paused(h, "podinfo-so") is None
        assert replicas(h, "podinfo") >= 2


def not_ready_with(h: Harness, text: str) -> bool:
    conditions = (h.canary(NS, "podinfo").get("status") or {}).get("conditions") or []
    return any(
        c["type"] == "Ready" and c["status"] == "False" and text in c["message"] for c in conditions
    )


async def test_missing_keda_crd_then_missing_scaled_object_are_named() -> None:
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), with_scaler(m.canary()))
        await h.wait_for(
            lambda: not_ready_with(h, "scaledobjects.keda.sh"), what="Ready=False naming the CRD"
        )
        ready = next(
            c for c in h.canary(NS, "podinfo")["status"]["conditions"] if c["type"] == "Ready"
        )
        assert ready["reason"] == "AutoscalerUnavailable"  # the autoscaler's, not the router's
        assert h.get("Deployment", NS, "podinfo-primary") is None
        # Installed later: picked up without a restart; then the ScaledObject is missing.
        await h.install_crds("keda")
        await h.wait_for(
            lambda: not_ready_with(h, "spec.autoscalerRef: ScaledObject podinfo-so.test not found"),
            what="Ready=False naming the ScaledObject",
        )
        assert h.get("Deployment", NS, "podinfo-primary") is None
        await h.apply(scaled_object())
        await h.wait_phase(NS, "podinfo", "Initialized", timeout=30)
        assert so(h, "podinfo-so-primary")["spec"]["scaleTargetRef"] == {"name": "podinfo-primary"}
