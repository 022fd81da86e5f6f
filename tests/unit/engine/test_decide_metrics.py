"""Metric checks in `decide`: when results are asked for, how they count, what the status says.

And the pure evaluation of a measured value (`ensign.engine.checks`) with Flagger's threshold
semantics and event texts (behaviour notes §5.1).
"""

from __future__ import annotations

from typing import Any

import pytest

from ensign.engine import checks
from ensign.engine.checks import Source
from ensign.engine.observations import CheckVerdict, MetricOutcome
from ensign.engine.phases import Phase
from ensign.model import MetricCheck, TemplateRef, ThresholdRange
from ensign.testing import manifests
from ensign.testing.simulate import Simulation

P = Phase
SR = MetricCheck(name="request-success-rate", threshold_range=ThresholdRange(min=99))
DURATION = MetricCheck(name="request-duration", threshold_range=ThresholdRange(max=500))
TEMPLATE = MetricCheck(
    name="errors", template_ref=TemplateRef(name="errors"), threshold_range=ThresholdRange(max=5)
)


def with_metrics(metrics: list[dict[str, Any]], **kwargs: Any) -> Simulation:
    body = manifests.canary(iterations=3, threshold=2, **kwargs)
    body["spec"]["analysis"]["metrics"] = metrics
    return Simulation(body)


METRICS = [
    {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"},
    {"name": "errors", "templateRef": {"name": "errors"}, "thresholdRange": {"max": 5}},
]


def passed(name: str, value: float = 100.0, *, builtin: bool = False) -> MetricOutcome:
    return MetricOutcome(
        name=name, verdict=CheckVerdict.PASSED, message=f"{name} ok", value=value, builtin=builtin
    )


def start_run(sim: Simulation) -> None:
    sim.run_until(P.INITIALIZED)
    sim.revision = "rev-2"
    sim.run_until(P.PROGRESSING)


def test_no_metric_results_are_asked_for_on_the_pre_rollout_tick_nor_without_metrics() -> None:
    sim = with_metrics(METRICS)
    sim.metric_results.append((passed("request-success-rate", builtin=True), passed("errors")))
    start_run(sim)
    assert sim.metric_requests == 0
    sim.step()  # first analysis tick: pre-rollout only, as in Flagger
    assert sim.metric_requests == 0
    sim.step()
    assert sim.metric_requests == 1

    plain = Simulation(manifests.canary(iterations=2))
    start_run(plain)
    plain.run_until(P.SUCCEEDED)
    assert plain.metric_requests == 0  # nothing scripted, nothing asked


def test_passing_metrics_promote_and_the_status_carries_each_value() -> None:
    sim = with_metrics(METRICS)
    sim.metric_results.append(
        (passed("request-success-rate", 99.5, builtin=True), passed("errors", 1))
    )
    start_run(sim)
    sim.step()
    trace = sim.step()
    checks_status = trace.status.checks
    assert [c["name"] for c in checks_status] == ["request-success-rate", "errors"]
    assert checks_status[0]["value"] == 99.5 and checks_status[0]["verdict"] == "passed"
    sim.run_until(P.SUCCEEDED)
    assert sim.status.failed_checks == 0


def test_a_failing_metric_counts_toward_the_threshold_then_rolls_back() -> None:
    sim = with_metrics(METRICS)
    failing = checks.measured(SR, Source.SUCCESS_RATE, 95.0, name="podinfo", namespace="test")
    sim.metric_results.append((failing, passed("errors")))
    start_run(sim)
    sim.step()
    first = sim.step()
    assert first.status.failed_checks == 1
    assert first.decision.reason == "CheckFailed"
    assert "Halt podinfo.test advancement success rate 95.00% < 99%" in first.messages
    assert "(1/2)" in first.decision.message
    sim.step()
    assert sim.status.failed_checks == 2
    sim.run_until(P.FAILED)
    assert sim.status.condition("Ready") is not None
    assert "failed checks threshold reached 2" in sim.status.condition("Ready").message  # type: ignore[union-attr]
    # the status still shows the value that failed
    assert any(c["verdict"] == "failed" and c["value"] == 95.0 for c in sim.status.checks)


def test_builtin_failures_are_reported_before_template_failures() -> None:
    sim = with_metrics(METRICS)
    template_fail = MetricOutcome(
        name="errors", verdict=CheckVerdict.FAILED, message="errors 9 > 5", event="template event"
    )
    builtin_fail = MetricOutcome(
        name="request-success-rate",
        verdict=CheckVerdict.NO_DATA,
        message="no data",
        event="builtin event",
        builtin=True,
    )
    sim.metric_results.append((template_fail, builtin_fail))  # spec order reversed on purpose
    start_run(sim)
    sim.step()
    trace = sim.step()
    assert "builtin event" in trace.messages and "template event" not in trace.messages


def test_no_data_and_provider_error_fail_the_check_with_different_explanations() -> None:
    no_data = checks.no_data(
        SR,
        Source.SUCCESS_RATE,
        "",
        name="podinfo",
        namespace="test",
        target="podinfo",
        provider="kubernetes",
    )
    error = checks.provider_error(TEMPLATE, Source.TEMPLATE, "HTTP 503: unavailable")
    assert no_data.verdict is CheckVerdict.NO_DATA and no_data.verdict.fails
    assert error.verdict is CheckVerdict.ERROR and error.verdict.fails
    assert "no data" in no_data.message and "no data" not in error.message
    assert "provider error" in error.message
    assert no_data.event == (
        "Halt advancement no values found for kubernetes metric request-success-rate "
        "probably podinfo.test is not receiving traffic"
    )
    assert error.event == "Metric query failed for errors: HTTP 503: unavailable"

    sim = with_metrics(METRICS)
    sim.metric_results.append((no_data, passed("errors")))
    start_run(sim)
    sim.step()
    trace = sim.step()
    assert trace.status.failed_checks == 1
    assert "no data" in trace.decision.message
    assert trace.status.checks[0]["verdict"] == "no data"


def test_an_inconclusive_comparison_holds_without_failing_or_advancing() -> None:
    sim = with_metrics(METRICS)
    inconclusive = MetricOutcome(
        name="errors",
        verdict=CheckVerdict.INCONCLUSIVE,
        message="inconclusive: 7 canary samples < 20 required",
    )
    sim.metric_results.append((passed("request-success-rate", builtin=True), inconclusive))
    start_run(sim)
    sim.step()
    done = sim.status.iterations
    for _ in range(5):
        trace = sim.step()
        assert trace.decision.reason == "Inconclusive"
        assert "7 canary samples < 20 required" in trace.decision.message
    assert sim.status.failed_checks == 0 and sim.status.iterations == done
    assert sim.phase == P.PROGRESSING
    sim.metric_results.clear()
    sim.metric_results.append((passed("request-success-rate", builtin=True), passed("errors")))
    sim.run_until(P.SUCCEEDED)


def test_a_new_run_clears_the_last_checks() -> None:
    sim = with_metrics(METRICS)
    sim.metric_results.append((passed("request-success-rate", builtin=True), passed("errors")))
    start_run(sim)
    sim.run_until(P.SUCCEEDED)
    assert sim.status.checks
    sim.revision = "rev-3"
    trace = sim.step()
    assert trace.phase == P.PROGRESSING and trace.status.checks == ()


# ------------------------------------------------------------ evaluation


@pytest.mark.parametrize(
    ("check", "source", "value", "verdict", "event"),
    [
        (SR, Source.SUCCESS_RATE, 99.0, "passed", ""),  # bounds are inclusive
        (SR, Source.SUCCESS_RATE, 98.999, "failed", "success rate 99.00% < 99%"),
        (DURATION, Source.DURATION, 500.9, "passed", ""),  # truncated to 500 ms
        (DURATION, Source.DURATION, 1515.2, "failed", "request duration 1.515s > 500ms"),
        (TEMPLATE, Source.TEMPLATE, 5.0, "passed", ""),
        (TEMPLATE, Source.TEMPLATE, 7.25, "failed", "errors 7.25 > 5"),
        (
            MetricCheck(
                name="hits",
                template_ref=TemplateRef(name="h"),
                threshold_range=ThresholdRange(min=0.5),
            ),
            Source.TEMPLATE,
            0.25,
            "failed",
            "hits 0.25 < 0.5",
        ),
        # deprecated `threshold`: a minimum for the success rate, a maximum otherwise
        (
            MetricCheck(name="request-success-rate", threshold=99),
            Source.SUCCESS_RATE,
            98.0,
            "failed",
            "success rate 98.00% < 99%",
        ),
        (MetricCheck(name="request-duration", threshold=500), Source.DURATION, 400.0, "passed", ""),
        # a template metric with neither fails on any positive value (threshold defaults to 0)
        (
            MetricCheck(name="q", template_ref=TemplateRef(name="q")),
            Source.TEMPLATE,
            0.1,
            "failed",
            "q 0.10 > 0",
        ),
    ],
)
def test_thresholds(
    check: MetricCheck, source: Source, value: float, verdict: str, event: str
) -> None:
    outcome = checks.measured(check, source, value, name="podinfo", namespace="test")
    assert str(outcome.verdict) == verdict
    if event:
        assert outcome.event == f"Halt podinfo.test advancement {event}"
    else:
        assert outcome.event == ""


def test_duration_gauge_is_in_seconds_and_the_status_value_in_ms() -> None:
    outcome = checks.measured(DURATION, Source.DURATION, 250.7, name="p", namespace="t")
    assert outcome.value == 250.0 and outcome.gauge == 0.25
    assert outcome.threshold == "max 500ms"


def test_comparison_outcomes() -> None:
    fail = checks.compared(
        TEMPLATE,
        outcome="fail",
        canary=212.0,
        primary=180.0,
        samples=40,
        summary="canary median 212 vs primary 180",
        judge="judge mann-whitney",
        name="podinfo",
        namespace="test",
    )
    assert fail.verdict is CheckVerdict.FAILED
    assert fail.event.startswith(
        "Halt podinfo.test advancement errors canary is worse than primary"
    )
    status = fail.as_status("2026-01-01T00:00:00Z")
    assert status["primaryValue"] == 180.0 and status["samples"] == 40
    assert (
        checks.compared(
            TEMPLATE,
            outcome="inconclusive",
            canary=0,
            primary=0,
            samples=3,
            summary="s",
            judge="j",
            name="p",
            namespace="t",
        ).verdict
        is CheckVerdict.INCONCLUSIVE
    )


def test_go_float_spelling() -> None:
    assert [checks.go_float(x) for x in (99.0, 99.5, 0.001, 1e21)] == [
        "99",
        "99.5",
        "0.001",
        "1e+21",
    ]


def test_non_finite_values_are_left_out_of_the_status() -> None:
    nothing = MetricOutcome(
        name="latency",
        verdict=CheckVerdict.INCONCLUSIVE,
        message="inconclusive: 0 canary samples < 20 required",
        value=float("nan"),
        primary_value=float("inf"),
        samples=0,
    )
    status = nothing.as_status("2026-01-01T00:00:00Z")
    assert "value" not in status and "primaryValue" not in status
    assert status["samples"] == 0
