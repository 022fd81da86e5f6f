"""`ControllerMetrics` on its own: Flagger's names, types and labels (behaviour notes §7.1),
the values simulated decisions leave behind, Ensign's own series, and series removal."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ensign.engine.actions import RecordEvent, ScaleTarget, SetRoutes
from ensign.engine.decide import Decision
from ensign.engine.observations import Snapshot
from ensign.engine.phases import Phase
from ensign.engine.status import CanaryStatus
from ensign.engine.weights import Routes
from ensign.model import Canary, parse_canary
from ensign.observability.metrics import (
    GO_DEFAULT_BUCKETS,
    ControllerMetrics,
    status_value,
    target_revision_changed,
    tick_outcome,
)
from ensign.runtime.reconciler import TickResult
from ensign.testing import manifests as m

P = Phase
KEY = ("test", "podinfo")

# Flagger's pkg/metrics/recorder.go, as listed in §7.1: family name → (type, label names).
FLAGGER = {
    "flagger_info": ("gauge", {"version", "mesh_provider"}),
    "flagger_canary_total": ("gauge", {"namespace"}),
    "flagger_canary_status": ("gauge", {"name", "namespace"}),
    "flagger_canary_weight": ("gauge", {"workload", "namespace"}),
    "flagger_canary_duration_seconds": ("histogram", {"name", "namespace"}),
    "flagger_canary_metric_analysis": ("gauge", {"name", "namespace", "metric"}),
    "flagger_canary_successes": (
        "counter",
        {"name", "namespace", "deployment_strategy", "analysis_status"},
    ),
    "flagger_canary_failures": (
        "counter",
        {"name", "namespace", "deployment_strategy", "analysis_status"},
    ),
}
ENSIGN = {
    "ensign_tick_duration_seconds": ("histogram", {"outcome"}),
    "ensign_api_requests": ("counter", {"verb"}),
    "ensign_watch_restarts": ("counter", {"kind"}),
    "ensign_watch_relists": ("counter", {"kind"}),
    "ensign_workqueue_depth": ("gauge", {"state"}),
    "ensign_detection_latency_seconds": ("histogram", set()),
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def canary(
    name: str = "podinfo", target: str | None = None, *, analysis: bool = True, **kw: Any
) -> Canary:
    body = m.canary(name, **kw)
    if not analysis:  # no analysis at all: skipped, and Flagger's `canary` strategy
        del body["spec"]["analysis"]
    if target is not None:
        body["spec"]["targetRef"]["name"] = target
    return parse_canary(body)


def snapshot(c: Canary, phase: Phase, *, revision: str = "r2", applied: str = "r1") -> Snapshot:
    return Snapshot(
        canary=c,
        status=CanaryStatus(phase=phase, last_applied_spec=applied, last_promoted_spec=applied),
        target_kind="Deployment",
        revision=revision,
    )


def decision(
    phase: Phase, *actions: Any, analysed: bool = False, applied: str = "r1", reason: str = ""
) -> Decision:
    return Decision(
        status=CanaryStatus(phase=phase, last_applied_spec=applied),
        actions=tuple(actions),
        reason=reason or str(phase),
        message="",
        analysed=analysed,
    )


def tick(
    metrics: ControllerMetrics,
    c: Canary,
    before: Phase,
    after: Phase,
    *actions: Any,
    analysed: bool = False,
    started: float | None = None,
    revision: str = "r2",
    applied_before: str = "r1",
    applied_after: str = "r1",
) -> None:
    metrics.observe_decision(
        c,
        snapshot(c, before, revision=revision, applied=applied_before),
        decision(after, *actions, analysed=analysed, applied=applied_after),
        started=metrics.clock() if started is None else started,
    )


def families(metrics: ControllerMetrics) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}


def value(metrics: ControllerMetrics, sample: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            if s.name == sample and s.labels == labels:
                return float(s.value)
    return None


def label_names(family: Any) -> set[str]:
    return {k for s in family.samples for k in s.labels if k != "le"}


@pytest.fixture
def metrics() -> ControllerMetrics:
    return ControllerMetrics(
        mesh_provider="kubernetes",
        version="1.2.3",
        api_requests=lambda: {"get": 4, "list": 7, "watch": 7, "patch": 2},
        watch_restarts=lambda: {"Canary": 1, "Deployment": 0},
        watch_relists=lambda: {"Canary": 1, "Deployment": 1},
        queue_depth=lambda: {"queued": 3, "running": 2},
        canary_namespaces=lambda: ["test", "test", "prod"],
        clock=FakeClock(),
    )


# ------------------------------------------------------------------ names, types, labels


def test_every_flagger_metric_is_declared_before_any_data(metrics: ControllerMetrics) -> None:
    text = metrics.exposition().decode()
    for name, (kind, _) in FLAGGER.items():
        exposed = f"{name}_total" if kind == "counter" else name
        assert f"# TYPE {exposed} {kind}\n" in text
    for name, (kind, _) in ENSIGN.items():
        exposed = f"{name}_total" if kind == "counter" else name
        assert f"# TYPE {exposed} {kind}\n" in text
    assert "_created" not in text  # Flagger's Go client exposes no _created series
    assert 'flagger_info{mesh_provider="kubernetes",version="1.2.3"} 1.0' in text


def test_names_types_and_label_names_are_flaggers(metrics: ControllerMetrics) -> None:
    c = canary()
    tick(metrics, c, P.INITIALIZED, P.PROGRESSING, ScaleTarget(up=True))
    tick(metrics, c, P.PROGRESSING, P.PROGRESSING, analysed=True)
    tick(metrics, c, P.FINALISING, P.SUCCEEDED)
    tick(metrics, c, P.PROGRESSING, P.FAILED)
    metrics.set_metric_analysis(c, "request-success-rate", 99.5)
    metrics.observe_tick("ok", 0.01)
    metrics.detection(0.2)
    found = families(metrics)
    for name, (kind, labels) in {**FLAGGER, **ENSIGN}.items():
        assert found[name].type == kind, name
        assert label_names(found[name]) == labels, name
    durations = [s for s in found["flagger_canary_duration_seconds"].samples if "le" in s.labels]
    assert [float(s.labels["le"]) for s in durations] == [*GO_DEFAULT_BUCKETS, float("inf")]


def test_two_controllers_in_one_process_have_separate_registries() -> None:
    a, b = ControllerMetrics(), ControllerMetrics()
    tick(a, canary(), P.INITIALIZED, P.PROGRESSING)
    assert value(a, "flagger_canary_status", name="podinfo", namespace="test") == 0
    assert value(b, "flagger_canary_status", name="podinfo", namespace="test") is None


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (P.PROGRESSING, 0),
        (P.FAILED, 2),
        (P.SUCCEEDED, 1),
        (P.INITIALIZED, 1),
        (P.WAITING, 1),
        (P.WAITING_PROMOTION, 1),
        (P.PROMOTING, 1),
        (P.FINALISING, 1),
        (P.INITIALIZING, 1),
    ],
)
def test_status_gauge_follows_flaggers_mapping(
    metrics: ControllerMetrics, phase: Phase, expected: int
) -> None:
    assert status_value(phase) == expected
    tick(metrics, canary(), phase, phase)
    assert value(metrics, "flagger_canary_status", name="podinfo", namespace="test") == expected


def test_labels_are_the_targets_name(metrics: ControllerMetrics) -> None:
    tick(metrics, canary("my-canary", target="web"), P.INITIALIZED, P.PROGRESSING)
    assert value(metrics, "flagger_canary_status", name="web", namespace="test") == 0
    assert value(metrics, "flagger_canary_weight", workload="web-primary", namespace="test") == 100
    assert value(metrics, "flagger_canary_weight", workload="web", namespace="test") == 0


def test_weights_follow_the_routes_set_by_the_decision(metrics: ControllerMetrics) -> None:
    c = canary()
    tick(metrics, c, P.PROGRESSING, P.PROGRESSING, SetRoutes(routes=Routes(primary=80, canary=20)))
    assert (
        value(metrics, "flagger_canary_weight", workload="podinfo-primary", namespace="test") == 80
    )
    assert value(metrics, "flagger_canary_weight", workload="podinfo", namespace="test") == 20
    tick(metrics, c, P.PROGRESSING, P.PROGRESSING)  # no SetRoutes: the observed routes
    assert value(metrics, "flagger_canary_weight", workload="podinfo", namespace="test") == 0


def test_successes_and_failures_count_transitions_once(metrics: ControllerMetrics) -> None:
    c = canary()  # iterations 2 → Flagger's blue-green strategy
    labels = {"name": "podinfo", "namespace": "test", "deployment_strategy": "blue-green"}
    tick(metrics, c, P.FINALISING, P.SUCCEEDED)
    tick(metrics, c, P.SUCCEEDED, P.SUCCEEDED)  # idle afterwards: not counted again
    assert (
        value(metrics, "flagger_canary_successes_total", analysis_status="completed", **labels) == 1
    )
    tick(metrics, c, P.PROGRESSING, P.FAILED)
    tick(metrics, c, P.FAILED, P.FAILED)
    tick(metrics, c, P.PROMOTING, P.FAILED)  # a failed promotion counts too
    assert (
        value(metrics, "flagger_canary_failures_total", analysis_status="completed", **labels) == 2
    )
    assert value(metrics, "flagger_canary_status", name="podinfo", namespace="test") == 2


def test_skip_analysis_success_is_skipped_and_canary_strategy(metrics: ControllerMetrics) -> None:
    c = canary(analysis=False)
    tick(metrics, c, P.INITIALIZED, P.SUCCEEDED)
    assert (
        value(
            metrics,
            "flagger_canary_successes_total",
            name="podinfo",
            namespace="test",
            deployment_strategy="canary",
            analysis_status="skipped",
        )
        == 1
    )


def test_duration_is_recorded_for_analysis_ticks_only(metrics: ControllerMetrics) -> None:
    c = canary()
    clock = metrics.clock
    assert isinstance(clock, FakeClock)
    tick(metrics, c, P.PROGRESSING, P.PROGRESSING, started=clock.now - 0.3)
    assert (
        value(metrics, "flagger_canary_duration_seconds_count", name="podinfo", namespace="test")
        is None
    )
    tick(metrics, c, P.PROGRESSING, P.PROGRESSING, analysed=True, started=clock.now - 0.3)
    labels = {"name": "podinfo", "namespace": "test"}
    assert value(metrics, "flagger_canary_duration_seconds_count", **labels) == 1
    assert value(metrics, "flagger_canary_duration_seconds_sum", **labels) == pytest.approx(0.3)
    assert value(metrics, "flagger_canary_duration_seconds_bucket", le="0.25", **labels) == 0
    assert value(metrics, "flagger_canary_duration_seconds_bucket", le="0.5", **labels) == 1


# ----------------------------------------------------------------- bounded cardinality


def per_canary_samples(metrics: ControllerMetrics) -> list[Any]:
    per_canary = {n for n in FLAGGER if n not in ("flagger_info", "flagger_canary_total")}
    return [s for name, f in families(metrics).items() if name in per_canary for s in f.samples]


def test_a_deleted_canarys_series_are_removed(metrics: ControllerMetrics) -> None:
    c = canary()
    tick(metrics, c, P.PROGRESSING, P.PROGRESSING, analysed=True)
    tick(metrics, c, P.FINALISING, P.SUCCEEDED)
    tick(metrics, c, P.PROGRESSING, P.FAILED)
    metrics.set_metric_analysis(c, "latency", 0.5)
    other = canary("other")
    tick(metrics, other, P.INITIALIZED, P.INITIALIZED)
    metrics.forget(KEY)
    remaining = per_canary_samples(metrics)
    assert remaining and all(
        s.labels.get("name", s.labels.get("workload", "")).startswith("other") for s in remaining
    )
    metrics.forget(("test", "other"))
    assert per_canary_samples(metrics) == []


def test_series_shared_by_two_canaries_of_one_target_stay_until_both_go(
    metrics: ControllerMetrics,
) -> None:
    tick(metrics, canary("a", target="web"), P.INITIALIZED, P.INITIALIZED)
    tick(metrics, canary("b", target="web"), P.INITIALIZED, P.INITIALIZED)
    metrics.forget(("test", "a"))
    assert value(metrics, "flagger_canary_status", name="web", namespace="test") == 1
    metrics.forget(("test", "b"))
    assert value(metrics, "flagger_canary_status", name="web", namespace="test") is None


def test_a_retargeted_canary_drops_the_old_targets_series(metrics: ControllerMetrics) -> None:
    tick(metrics, canary(target="old"), P.INITIALIZED, P.INITIALIZED)
    tick(metrics, canary(target="new"), P.INITIALIZED, P.INITIALIZED)
    assert value(metrics, "flagger_canary_status", name="old", namespace="test") is None
    assert value(metrics, "flagger_canary_status", name="new", namespace="test") == 1


# ------------------------------------------------------------------- Ensign's own


def test_scrape_time_series(metrics: ControllerMetrics) -> None:
    assert value(metrics, "ensign_api_requests_total", verb="list") == 7
    assert value(metrics, "ensign_watch_restarts_total", kind="Canary") == 1
    assert value(metrics, "ensign_watch_relists_total", kind="Deployment") == 1
    assert value(metrics, "ensign_workqueue_depth", state="queued") == 3
    assert value(metrics, "ensign_workqueue_depth", state="running") == 2
    assert value(metrics, "flagger_canary_total", namespace="test") == 2
    assert value(metrics, "flagger_canary_total", namespace="prod") == 1


def test_canary_total_of_an_emptied_namespace_drops_to_zero() -> None:
    namespaces = ["test", "prod"]
    metrics = ControllerMetrics(canary_namespaces=lambda: list(namespaces))
    assert value(metrics, "flagger_canary_total", namespace="prod") == 1
    namespaces.remove("prod")
    assert value(metrics, "flagger_canary_total", namespace="prod") == 0


def test_tick_outcomes_are_a_closed_set(metrics: ControllerMetrics) -> None:
    assert tick_outcome(None) == "crashed"
    assert tick_outcome(TickResult(interval=1, error="boom", retry_soon=True)) == "error"
    assert tick_outcome(TickResult(interval=1, analysed=True)) == "analysed"
    assert tick_outcome(TickResult(interval=1)) == "ok"
    metrics.observe_tick("analysed", 0.02)
    assert value(metrics, "ensign_tick_duration_seconds_count", outcome="analysed") == 1
    assert value(metrics, "ensign_tick_duration_seconds_count", outcome="ok") == 0  # pre-created
    with pytest.raises(ValueError):
        metrics.observe_tick("podinfo", 0.02)


# --------------------------------------------------------------- detection latency


def deployment(image: str, replicas: int = 1) -> dict[str, Any]:
    body = m.deployment()
    body["spec"]["template"]["spec"]["containers"][0]["image"] = image
    body["spec"]["replicas"] = replicas
    return body


def test_only_a_new_pod_template_of_the_target_is_a_revision_change() -> None:
    body = m.canary()
    old, new = deployment("a:1"), deployment("a:2")
    assert target_revision_changed(body, "Deployment", old, new)
    assert not target_revision_changed(body, "Deployment", old, deployment("a:1", replicas=0))
    assert not target_revision_changed(body, "Deployment", None, new)  # first sight
    assert not target_revision_changed(body, "DaemonSet", old, new)
    assert not target_revision_changed(None, "Deployment", old, new)
    primary_old, primary_new = deployment("a:1"), deployment("a:2")
    primary_old["metadata"]["name"] = primary_new["metadata"]["name"] = "podinfo-primary"
    assert not target_revision_changed(body, "Deployment", primary_old, primary_new)


def test_detection_runs_from_the_change_to_the_scale_up(metrics: ControllerMetrics) -> None:
    clock = metrics.clock
    assert isinstance(clock, FakeClock)
    c = canary()
    metrics.target_changed(KEY, m.canary(), "Deployment", deployment("a:1"), deployment("a:2"))
    clock.now += 0.5
    metrics.target_changed(KEY, m.canary(), "Deployment", deployment("a:2"), deployment("a:3"))
    clock.now += 0.25  # the earliest change not yet scaled up counts
    tick(metrics, c, P.SUCCEEDED, P.PROGRESSING, ScaleTarget(up=True), applied_after="r2")
    assert value(metrics, "ensign_detection_latency_seconds_count") == 1
    assert value(metrics, "ensign_detection_latency_seconds_sum") == pytest.approx(0.75)
    tick(metrics, c, P.FAILED, P.PROGRESSING, ScaleTarget(up=True), applied_after="r2")
    assert value(metrics, "ensign_detection_latency_seconds_count") == 1  # nothing armed


def test_detection_waits_through_a_closed_confirm_rollout_gate(metrics: ControllerMetrics) -> None:
    clock = metrics.clock
    assert isinstance(clock, FakeClock)
    c = canary()
    metrics.target_changed(KEY, m.canary(), "Deployment", deployment("a:1"), deployment("a:2"))
    clock.now += 1
    tick(metrics, c, P.SUCCEEDED, P.WAITING, RecordEvent(warning=True, message="Halt"))
    clock.now += 2
    tick(metrics, c, P.WAITING, P.PROGRESSING, ScaleTarget(up=True), applied_after="r2")
    assert value(metrics, "ensign_detection_latency_seconds_sum") == pytest.approx(3)


def test_a_change_absorbed_without_scale_up_is_not_measured(metrics: ControllerMetrics) -> None:
    clock = metrics.clock
    assert isinstance(clock, FakeClock)
    c = canary()
    metrics.target_changed(KEY, m.canary(), "Deployment", deployment("a:1"), deployment("a:2"))
    clock.now += 1
    # a restart during analysis: the new revision is now the one analysed, target already up
    tick(metrics, c, P.PROGRESSING, P.PROGRESSING, applied_after="r2")
    clock.now += 60
    tick(metrics, c, P.SUCCEEDED, P.PROGRESSING, ScaleTarget(up=True), applied_after="r2")
    assert value(metrics, "ensign_detection_latency_seconds_count") == 0


def test_a_tick_that_started_before_the_change_does_not_disarm(metrics: ControllerMetrics) -> None:
    clock = metrics.clock
    assert isinstance(clock, FakeClock)
    c = canary()
    started = clock.now
    clock.now += 0.1
    metrics.target_changed(KEY, m.canary(), "Deployment", deployment("a:1"), deployment("a:2"))
    # this tick observed the caches before the change: idle on the old revision
    tick(metrics, c, P.SUCCEEDED, P.SUCCEEDED, started=started, revision="r1", applied_after="r1")
    clock.now += 0.1
    tick(metrics, c, P.SUCCEEDED, P.PROGRESSING, ScaleTarget(up=True), applied_after="r2")
    assert value(metrics, "ensign_detection_latency_seconds_sum") == pytest.approx(0.1)


def test_forget_drops_a_pending_detection(metrics: ControllerMetrics) -> None:
    metrics.target_changed(KEY, m.canary(), "Deployment", deployment("a:1"), deployment("a:2"))
    metrics.forget(KEY)
    tick(metrics, canary(), P.SUCCEEDED, P.PROGRESSING, ScaleTarget(up=True), applied_after="r2")
    assert value(metrics, "ensign_detection_latency_seconds_count") == 0
