"""Adopting what Flagger left behind (issue #13): one local cluster, one namespace per phase.

The namespaces are loaded from `tests/fixtures/flagger-left/` (as Flagger leaves them) before
the controller starts. `ensign migrate --check` runs first (in process, over the same
cluster); then the real controller adopts every canary. Checked per namespace from the
store's write history: nothing but the Canary status is written (the restart case also
moves traffic), pod templates are byte-identical, no webhook or alert receiver was called,
the status is Ensign's, and it is what `migrate --check` predicted. The mid-analysis canary
resumes at the weight in force, which never sends traffic to a Service without ready pods
(the traffic model, checked after every change).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from ensign.kube.client import LightkubeApi
from ensign.localcluster.store import WatchEvent
from ensign.migration import check, exit_code
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from ensign.traffic import Request, route_http, starved
from tests.scenario.flagger_left import NAME, fixture_docs, load

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")

JSON = dict[str, Any]
PHASES = ("initialized", "succeeded", "failed", "progressing", "waitingpromotion")
# Other targets, left Succeeded: a DaemonSet, and a Deployment with a KEDA ScaledObject.
TARGETS = ("daemonset", "keda")
CASES = PHASES + TARGETS
RESTART = "flagger-restart"  # the progressing fixture, its canary pods never ready
NEWER_IMAGE = "ghcr.io/stefanprodan/podinfo:6.9.0"
ENSIGN_HASH = re.compile(r"[0-9a-f]{16}")
WATCHED = (
    ("", "configmaps"),
    ("", "secrets"),
    ("", "services"),
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("keda.sh", "scaledobjects"),
    ("gateway.networking.k8s.io", "httproutes"),
    ("flagger.app", "canaries"),
)
ROUTES = ("gateway.networking.k8s.io", "httproutes")
CANARIES = ("flagger.app", "canaries")
EXPECTED = {  # phase → (verdict, phase after adoption)
    "flagger-initialized": ("adopt", "Initialized"),
    "flagger-succeeded": ("adopt", "Succeeded"),
    "flagger-failed": ("adopt", "Failed"),
    "flagger-progressing": ("resume", "Progressing"),
    "flagger-waitingpromotion": ("resume", "WaitingPromotion"),
    RESTART: ("restart", "Progressing"),
    "flagger-daemonset": ("adopt", "Succeeded"),
    "flagger-keda": ("adopt", "Succeeded"),
}


@dataclass
class Adopted:
    h: Harness
    gate: GateServer
    reports: dict[str, JSON]  # namespace → migrate --check's JSON for its canary
    migrate_code: int
    migrate_writes: list[str]
    templates: dict[str, tuple[str, str]]  # "ns/name" → (before, after)
    writes: dict[str, list[str]]  # namespace → writes other than the Canary status
    statuses: dict[str, JSON]
    events: dict[str, list[str]]
    calls: list[str]
    starved: list[str] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)


def namespaces() -> list[str]:
    return [f"flagger-{p}" for p in CASES] + [RESTART]


def workload_kind(ns: str) -> str:
    return "DaemonSet" if ns == "flagger-daemonset" else "Deployment"


def without_noise(obj: JSON | None, *drop: str) -> JSON | None:
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    for key in drop:
        out.pop(key, None)
    meta = out.get("metadata") or {}
    for key in ("resourceVersion", "managedFields", "generation"):
        meta.pop(key, None)
    return out


def writes_since(h: Harness, rv: int) -> dict[str, list[str]]:
    """Per namespace, every change since `rv` other than a status write (Deployment and
    DaemonSet status comes from the workload simulator, Canary status from the controller)."""
    out: dict[str, list[str]] = {}
    for key in WATCHED:
        for event in h.cluster.store.history_since(key, rv):
            if event.type == "MODIFIED" and without_noise(event.obj, "status") == without_noise(
                event.old, "status"
            ):
                continue
            what = f"{event.type} {event.obj.get('kind')} {event.obj['metadata']['name']}"
            out.setdefault(event.namespace, []).append(what)
    return out


def templates(h: Harness) -> dict[str, str]:
    out = {}
    for ns in namespaces():
        for name in (NAME, f"{NAME}-primary"):
            body = h.get(workload_kind(ns), ns, name)
            assert body is not None
            out[f"{ns}/{name}"] = json.dumps(body["spec"]["template"], sort_keys=True)
    return out


class TrafficWatch:
    """The split of the resumed canary's HTTPRoute after every change, checked for traffic
    sent to a Service without ready pods (the traffic model)."""

    def __init__(self, h: Harness, namespace: str) -> None:
        self.h = h
        self.ns = namespace
        self.starved: list[str] = []
        self.weights: list[int] = []
        store = h.cluster.store
        keys = (("apps", "deployments"), ("", "services"), ROUTES, CANARIES)
        self.subs = [store.subscribe(key, self.on_event) for key in keys]
        self.check()

    def items(self, group: str, plural: str) -> list[JSON]:
        rt = next(t for t in self.h.cluster.store.types() if t.storage_key == (group, plural))
        return self.h.cluster.store.list(rt, self.ns)[0]

    def on_event(self, event: WatchEvent) -> None:
        if event.namespace == self.ns:
            self.check()

    def check(self) -> None:
        routes = self.items(*ROUTES)
        routing = route_http(routes, Request(host="app.example.com", path="/"))
        share = next((d.percent for d in routing.destinations if d.service.endswith("-canary")), 0)
        if not self.weights or self.weights[-1] != share:
            self.weights.append(share)
        services = self.items("", "services")
        workloads = self.items("apps", "deployments")
        self.starved += starved(routing, services, workloads)

    def stop(self) -> None:
        self.check()
        for sub in self.subs:
            self.h.cluster.store.unsubscribe(sub)


def adopted_yet(h: Harness, ns: str) -> bool:
    status = h.canary(ns, NAME).get("status") or {}
    return bool(ENSIGN_HASH.fullmatch(str(status.get("lastAppliedSpec") or "")))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def adopted() -> AsyncIterator[Adopted]:
    gate = await GateServer().start()
    settings = {"slack_url": gate.url("/alert"), "slack_channel": "general"}
    async with Harness(gateway_api=True, start_controller=False, settings=settings) as h:
        await h.install_crds("keda")
        for case in CASES:
            await load(h, fixture_docs(case, gate))
        restart = fixture_docs("progressing", gate, namespace=RESTART)
        target = next(
            d for d in restart if d["kind"] == "Deployment" and d["metadata"]["name"] == NAME
        )
        target["spec"]["template"]["metadata"]["annotations"] = {
            "localcluster.ensign.dev/ready-after": "never"
        }
        await load(h, restart)

        def ready(ns: str, name: str) -> bool:
            body = h.get(workload_kind(ns), ns, name) or {}
            status = body.get("status") or {}
            if body.get("kind") == "DaemonSet":
                return (
                    0 < int(status.get("desiredNumberScheduled") or 0) == status.get("numberReady")
                )
            return status.get("readyReplicas") == body["spec"]["replicas"]

        await h.wait_for(
            lambda: all(ready(ns, f"{NAME}-primary") for ns in namespaces()),
            what="primaries ready",
        )
        await h.wait_for(
            lambda: ready("flagger-progressing", NAME) and ready("flagger-waitingpromotion", NAME),
            what="canaries ready",
        )
        await asyncio.sleep(0.2)  # the simulator's last status writes
        before = templates(h)

        rv = h.cluster.store.resource_version
        api = LightkubeApi.from_dict(h.cluster.kubeconfig())
        try:
            reports = await check(api, namespace=None)
        finally:
            await api.close()
        migrate_writes = [w for ws in writes_since(h, rv).values() for w in ws]
        migrate_writes += [
            "Canary status" for e in h.cluster.store.history_since(CANARIES, rv) if e.rv > rv
        ]

        watch = TrafficWatch(h, "flagger-progressing")
        rv = h.cluster.store.resource_version
        await h.start()
        await h.wait_for(
            lambda: all(adopted_yet(h, ns) for ns in namespaces()), what="every canary adopted"
        )
        await asyncio.sleep(1.0)  # the ticks after adoption (Services, primary, router)
        watch.stop()
        after = templates(h)
        yield Adopted(
            h=h,
            gate=gate,
            reports={r.namespace: r.as_json() for r in reports},
            migrate_code=exit_code(reports),
            migrate_writes=migrate_writes,
            templates={k: (before[k], after[k]) for k in before},
            writes=writes_since(h, rv),
            statuses={ns: copy.deepcopy(h.canary(ns, NAME)["status"]) for ns in namespaces()},
            events={ns: h.events(ns) for ns in namespaces()},
            calls=[c.path for c in gate.calls],
            starved=watch.starved,
            weights=watch.weights,
        )
    await gate.stop()


@MODULE_LOOP
@pytest.mark.parametrize("namespace", [f"flagger-{p}" for p in CASES])
async def test_adoption_writes_only_the_status(adopted: Adopted, namespace: str) -> None:
    verdict, phase = EXPECTED[namespace]
    assert adopted.writes.get(namespace, []) == []
    for who in (NAME, f"{NAME}-primary"):
        old, new = adopted.templates[f"{namespace}/{who}"]
        assert old == new, f"{who} pod template changed"
    assert adopted.calls == [], "a webhook or alert receiver was called"
    status = adopted.statuses[namespace]
    assert status["phase"] == phase
    assert ENSIGN_HASH.fullmatch(status["lastAppliedSpec"])
    assert ENSIGN_HASH.fullmatch(status["lastPromotedSpec"])
    assert [c["type"] for c in status["conditions"]][:2] == ["Promoted", "Ready"]
    adoption_events = [e for e in adopted.events[namespace] if "adopted from Flagger" in e]
    assert len(adoption_events) == 1, adopted.events[namespace]
    report = adopted.reports[namespace]
    assert report["verdict"] == verdict
    assert report["writes"] == [f"Canary {NAME}.{namespace} status"]


@MODULE_LOOP
@pytest.mark.parametrize("namespace", namespaces())
async def test_migrate_check_predicts_the_controller(adopted: Adopted, namespace: str) -> None:
    """Its JSON is what the controller then did: the verdict and the status it wrote."""
    report = adopted.reports[namespace]
    assert report["verdict"] == EXPECTED[namespace][0]
    assert report["flagger"]["lastAppliedSpec"]  # Flagger's hash, kept for a rollback
    written = adopted.statuses[namespace]
    assert report["status"] == {k: written[k] for k in report["status"]}
    assert adopted.migrate_writes == []  # it wrote nothing
    assert adopted.migrate_code == 1  # the restart moves traffic


def test_idle_phases_keep_their_revisions(adopted: Adopted) -> None:
    """Succeeded/Initialized: the target runs what the primary runs → both hashes equal.
    Failed: the target keeps the failed revision, the primary the promoted one."""
    for ns in ("flagger-initialized", "flagger-succeeded"):
        status = adopted.statuses[ns]
        assert status["lastAppliedSpec"] == status["lastPromotedSpec"]
    failed = adopted.statuses["flagger-failed"]
    assert failed["lastAppliedSpec"] != failed["lastPromotedSpec"]
    # revertOnDeletion: Flagger's finalizer is Ensign's too, kept as it was (no write).
    succeeded = adopted.h.canary("flagger-succeeded", NAME)["metadata"]
    assert succeeded["finalizers"] == ["finalizer.flagger.app"]


def test_mid_analysis_resumes_at_the_weight_in_force(adopted: Adopted) -> None:
    status = adopted.statuses["flagger-progressing"]
    assert status["canaryWeight"] == 20
    assert adopted.weights == [20]  # never moved while adopting ...
    assert adopted.starved == []  # ... and never onto a Service without ready pods
    assert status["nextAnalysisAt"]  # the next step one interval after the adoption
    waiting = adopted.statuses["flagger-waitingpromotion"]
    assert waiting["iterations"] == 2  # Flagger's analysis.iterations - 1 carried over


def test_mid_analysis_without_ready_canary_pods_restarts(adopted: Adopted) -> None:
    """Traffic back to the (ready) primary, the analysis from weight 0; nothing else."""
    h = adopted.h
    assert adopted.writes[RESTART] == ["MODIFIED HTTPRoute podinfo"]
    route = h.cluster.store.get(
        h.type("gateway.networking.k8s.io", "v1", "httproutes"), RESTART, NAME
    )
    routing = route_http([route], Request(host="app.example.com", path="/"))
    shares = {d.service: d.percent for d in routing.destinations if d.percent}
    assert shares == {f"{NAME}-primary": 100}
    services = h.cluster.store.list(h.type("", "v1", "services"), RESTART)[0]
    workloads = h.cluster.store.list(h.type("apps", "v1", "deployments"), RESTART)[0]
    assert starved(routing, services, workloads) == ()
    status = adopted.statuses[RESTART]
    assert (status["canaryWeight"], status["iterations"]) == (0, 0)
    assert any("traffic back to the primary" in e for e in adopted.events[RESTART])


@MODULE_LOOP
async def test_resumed_runs_finish_and_a_later_set_image_promotes_normally(
    adopted: Adopted,
) -> None:
    """The resumed runs go on from where Flagger stopped to a promotion of the revision
    under analysis; then a new image runs a normal analysis everywhere."""
    h = adopted.h
    adopted.gate.status.clear()  # every gate open (the failed fixture's pre-rollout too)

    def faster(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        new["spec"]["analysis"]["interval"] = "1s"
        return new

    def image(ns: str, name: str) -> str:
        body = h.get(workload_kind(ns), ns, name)
        assert body is not None
        return str(body["spec"]["template"]["spec"]["containers"][0]["image"])

    names = [f"flagger-{p}" for p in CASES]
    resumed = ["flagger-progressing", "flagger-waitingpromotion"]
    under_analysis = {ns: image(ns, NAME) for ns in resumed}
    for ns in names:
        h.patch("Canary", ns, NAME, faster)
    await asyncio.gather(*(h.wait_phase(ns, NAME, "Succeeded", timeout=30) for ns in resumed))
    for ns in resumed:
        assert image(ns, f"{NAME}-primary") == under_analysis[ns]
    assert not adopted.gate.calls_to("/pre")  # resumed, not restarted: no pre-rollout again

    def promoted(ns: str) -> bool:
        return image(ns, f"{NAME}-primary") == NEWER_IMAGE and h.phase(ns, NAME) == "Succeeded"

    def newer(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        new["spec"]["template"]["spec"]["containers"][0]["image"] = NEWER_IMAGE
        return new

    for ns in names:
        h.patch(workload_kind(ns), ns, NAME, newer)
    await h.wait_for(lambda: all(promoted(ns) for ns in names), timeout=30, what="promotions")
    assert adopted.gate.calls_to("/pre"), "the new runs called their pre-rollout hook"
