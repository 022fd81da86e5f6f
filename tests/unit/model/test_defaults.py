"""Flagger's defaults and derived values (§1.1.3-1.1.6), and strategy selection, as tables."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ensign.model.analysis import Alert, Analysis, HookType, ProviderRef, Severity, Strategy
from ensign.model.canary import Canary, Provider, TargetKind, TrafficDistribution
from ensign.model.parse import parse_canary


def manifest(**spec: Any) -> dict[str, Any]:
    """A valid Canary with a Deployment target; keyword arguments replace spec fields."""
    body: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"stepWeight": 10},
        },
    }
    for key, value in spec.items():
        if value is None:
            body["spec"].pop(key, None)
        else:
            body["spec"][key] = value
    return body


def parse(**spec: Any) -> Canary:
    return parse_canary(manifest(**spec))


def analysis_of(**fields: Any) -> Analysis:
    canary = parse(analysis=fields)
    assert canary.spec.analysis is not None
    return canary.spec.analysis


MINIMAL = parse()


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (lambda c: c.name, "podinfo"),
        (lambda c: c.namespace, "test"),
        (lambda c: c.key, "podinfo.test"),
        (lambda c: c.spec.provider, None),
        (lambda c: c.spec.metrics_server, None),
        (lambda c: c.spec.progress_deadline_seconds, 600),
        (lambda c: c.spec.skip_analysis, False),
        (lambda c: c.spec.revert_on_deletion, False),
        (lambda c: c.spec.suspend, False),
        (lambda c: c.spec.target_ref.kind, TargetKind.DEPLOYMENT),
        (lambda c: c.spec.service.port_name, "http"),
        (lambda c: c.spec.service.target_port, 9898),
        (lambda c: c.spec.service.name, None),
        (lambda c: c.spec.service.headless, False),
        (lambda c: c.spec.service.gateways, ()),
        (lambda c: c.spec.analysis.interval, "60s"),
        (lambda c: c.spec.analysis.interval_seconds, 60.0),
        (lambda c: c.spec.analysis.threshold, 1),
        (lambda c: c.spec.analysis.max_weight, 100),
        (lambda c: c.spec.analysis.effective_max_weight, 100),
        (lambda c: c.spec.analysis.iterations, 0),
        (lambda c: c.spec.analysis.step_weight_promotion, 0),
        (lambda c: c.spec.analysis.mirror, False),
        (lambda c: c.spec.analysis.primary_ready_threshold, 100),
        (lambda c: c.spec.analysis.canary_ready_threshold, 100),
        (lambda c: c.spec.analysis.metrics, ()),
        (lambda c: c.spec.analysis.webhooks, ()),
        (lambda c: c.spec.analysis.alerts, ()),
        (lambda c: c.spec.analysis.session_affinity, None),
    ],
)
def test_defaults_of_a_minimal_canary(read: Callable[[Any], object], expected: object) -> None:
    assert read(MINIMAL) == expected


@pytest.mark.parametrize(
    ("analysis", "read", "expected"),
    [
        ({"interval": "1m"}, lambda a: a.interval_seconds, 60.0),
        ({"interval": "15s"}, lambda a: a.interval_seconds, 15.0),
        ({"interval": "1m30s"}, lambda a: a.interval_seconds, 90.0),
        ({"interval": "5s"}, lambda a: a.interval_seconds, 10.0),
        ({"interval": "0s"}, lambda a: a.interval_seconds, 10.0),
        ({"interval": "500ms"}, lambda a: a.interval_seconds, 10.0),
        ({"interval": "1h"}, lambda a: a.interval_seconds, 3600.0),
        ({"interval": "5s"}, lambda a: a.interval, "5s"),
        ({"threshold": 0}, lambda a: a.threshold, 1),
        ({"threshold": 5}, lambda a: a.threshold, 5),
        ({"maxWeight": 0}, lambda a: a.max_weight, 100),
        ({"maxWeight": 50}, lambda a: a.max_weight, 50),
        ({"maxWeight": 50}, lambda a: a.effective_max_weight, 50),
        ({"stepWeight": 0, "stepWeights": [1, 2, 10, 80]}, lambda a: a.effective_max_weight, 80),
        ({"stepWeight": 0, "stepWeights": [10, 60], "maxWeight": 50}, lambda a: a.max_weight, 50),
        (
            {"stepWeight": 0, "stepWeights": [10, 60], "maxWeight": 50},
            lambda a: a.effective_max_weight,
            60,
        ),
        ({"stepWeight": 0, "stepWeights": [5, 10]}, lambda a: a.step_weights, (5, 10)),
        ({"primaryReadyThreshold": 0}, lambda a: a.primary_ready_threshold, 0),
        ({"canaryReadyThreshold": 50}, lambda a: a.canary_ready_threshold, 50),
        ({"mirror": True, "mirrorWeight": 20}, lambda a: a.mirror_weight, 20),
        ({"stepWeightPromotion": 50}, lambda a: a.step_weight_promotion, 50),
    ],
)
def test_analysis_defaults_and_derived_values(
    analysis: dict[str, Any], read: Callable[[Any], object], expected: object
) -> None:
    assert read(analysis_of(**{"stepWeight": 10, **analysis})) == expected


@pytest.mark.parametrize(
    ("service", "target_name", "apex", "primary_svc", "canary_svc", "primary_workload"),
    [
        (
            {"port": 80},
            "podinfo",
            "podinfo",
            "podinfo-primary",
            "podinfo-canary",
            "podinfo-primary",
        ),
        (
            {"port": 80, "name": "frontend"},
            "podinfo",
            "frontend",
            "frontend-primary",
            "frontend-canary",
            "podinfo-primary",
        ),
        ({"port": 80, "name": ""}, "web", "web", "web-primary", "web-canary", "web-primary"),
    ],
)
def test_derived_names(
    service: dict[str, Any],
    target_name: str,
    apex: str,
    primary_svc: str,
    canary_svc: str,
    primary_workload: str,
) -> None:
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": target_name}
    spec = parse(targetRef=target, service=service).spec
    assert spec.apex_service_name == apex
    assert spec.primary_service_name == primary_svc
    assert spec.canary_service_name == canary_svc
    assert spec.primary_workload_name == primary_workload


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        ({"stepWeight": 10}, Strategy.CANARY),
        ({"stepWeights": [10, 50]}, Strategy.CANARY),
        ({"iterations": 10}, Strategy.BLUE_GREEN),
        (
            {"iterations": 10, "match": [{"headers": {"x-canary": {"exact": "1"}}}]},
            Strategy.AB_TESTING,
        ),
        ({"iterations": 1, "match": [{"sourceLabels": {"app": "frontend"}}]}, Strategy.AB_TESTING),
    ],
)
def test_strategy_selection(analysis: dict[str, Any], expected: Strategy) -> None:
    assert parse(analysis=analysis).spec.strategy is expected


@pytest.mark.parametrize(
    ("iterations", "match", "expected"),
    [
        (0, (), Strategy.CANARY),
        (0, ({"headers": {}},), Strategy.CANARY),
        (3, (), Strategy.BLUE_GREEN),
        (3, ({"headers": {}},), Strategy.AB_TESTING),
    ],
)
def test_strategy_rule_on_the_value(
    iterations: int, match: tuple[dict[str, object], ...], expected: Strategy
) -> None:
    assert Analysis(iterations=iterations, match=match).strategy is expected


def test_no_analysis_means_canary_strategy_and_skipped_analysis() -> None:
    spec = parse(analysis=None).spec
    assert spec.analysis is None
    assert spec.skip_analysis is True
    assert spec.strategy is Strategy.CANARY
    assert spec.effective_analysis == Analysis()


def test_deprecated_canary_analysis_is_used_when_analysis_is_missing() -> None:
    spec = parse(analysis=None, canaryAnalysis={"iterations": 5, "interval": "30s"}).spec
    assert spec.analysis is not None
    assert spec.analysis.iterations == 5
    assert spec.strategy is Strategy.BLUE_GREEN
    assert spec.skip_analysis is False


def test_analysis_wins_over_canary_analysis() -> None:
    spec = parse(analysis={"stepWeight": 20}, canaryAnalysis={"iterations": 5}).spec
    assert spec.analysis is not None
    assert spec.analysis.step_weight == 20


@pytest.mark.parametrize("requested", [True, False])
def test_skip_analysis_follows_the_spec_when_analysis_is_set(requested: bool) -> None:
    assert parse(skipAnalysis=requested).spec.skip_analysis is requested


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({"port": 80}, 80),
        ({"port": 80, "targetPort": 0}, 80),
        ({"port": 80, "targetPort": "0"}, 80),
        ({"port": 80, "targetPort": 9898}, 9898),
        ({"port": 80, "targetPort": "http-metrics"}, "http-metrics"),
    ],
)
def test_target_port_defaults_to_port(service: dict[str, Any], expected: int | str) -> None:
    spec_service = parse(service=service).spec.service
    assert spec_service is not None
    assert spec_service.target_port == expected


def test_knative_target_needs_no_service() -> None:
    target = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "podinfo"}
    spec = parse(provider="knative", targetRef=target, service=None).spec
    assert spec.target_ref.is_knative
    assert spec.service is None
    assert spec.apex_service_name == "podinfo"


def test_kubernetes_service_target_is_not_knative() -> None:
    target = {"apiVersion": "v1", "kind": "Service", "name": "podinfo"}
    assert parse(targetRef=target).spec.target_ref.is_knative is False


def test_metric_and_webhook_and_alert_defaults() -> None:
    analysis = analysis_of(
        stepWeight=10,
        metrics=[
            {"name": "request-success-rate", "thresholdRange": {"min": 99}},
            {"name": "latency", "templateRef": {"name": "lat"}, "threshold": 500},
        ],
        webhooks=[
            {"name": "load", "url": "http://loadtester.test/"},
            {"name": "gate", "type": "", "url": "http://gate.test/"},
            {"name": "approve", "type": "confirm-promotion", "url": "https://gate.test/ok"},
        ],
        alerts=[
            {"name": "team", "providerRef": {"name": "slack"}},
            {
                "name": "on-call",
                "severity": "",
                "providerRef": {"name": "teams", "namespace": "ops"},
            },
        ],
    )
    builtin, templated = analysis.metrics
    assert builtin.interval == "1m"
    assert builtin.is_builtin and not templated.is_builtin
    assert templated.interval == "1m"  # Ensign defaults template metrics too (Flagger does not)
    assert templated.threshold == 500.0
    assert [hook.type for hook in analysis.webhooks] == [
        HookType.ROLLOUT,
        HookType.ROLLOUT,
        HookType.CONFIRM_PROMOTION,
    ]
    assert analysis.webhooks[0].timeout is None
    assert analysis.webhooks[0].retries == 0
    assert [hook.name for hook in analysis.webhooks_of(HookType.ROLLOUT)] == ["load", "gate"]
    assert analysis.alerts == (
        Alert(name="team", provider_ref=ProviderRef(name="slack"), severity=Severity.INFO),
        Alert(
            name="on-call",
            provider_ref=ProviderRef(name="teams", namespace="ops"),
            severity=Severity.INFO,
        ),
    )


@pytest.mark.parametrize(
    ("subscribed", "sent", "delivered"),
    [
        (Severity.INFO, Severity.INFO, True),
        (Severity.INFO, Severity.ERROR, True),
        (Severity.WARN, Severity.WARN, True),
        (Severity.WARN, Severity.ERROR, True),
        (Severity.WARN, Severity.INFO, False),
        (Severity.ERROR, Severity.ERROR, True),
        (Severity.ERROR, Severity.WARN, False),
    ],
)
def test_alert_severity_routing(subscribed: Severity, sent: Severity, delivered: bool) -> None:
    alert = Alert(name="a", provider_ref=ProviderRef(name="p"), severity=subscribed)
    assert alert.wants(sent) is delivered


def test_session_affinity_defaults() -> None:
    analysis = analysis_of(stepWeight=10, sessionAffinity={"cookieName": "flagger-cookie"})
    affinity = analysis.session_affinity
    assert affinity is not None
    assert affinity.max_age == 86400
    assert affinity.primary_cookie_name is None
    assert affinity.same_site is None


def test_provider_and_service_fields_are_typed() -> None:
    spec = parse(
        provider="istio",
        service={"port": 80, "trafficDistribution": "PreferClose", "timeout": "30s"},
    ).spec
    assert spec.provider is Provider.ISTIO
    assert spec.service is not None
    assert spec.service.traffic_distribution is TrafficDistribution.PREFER_CLOSE
    assert spec.service.timeout == "30s"


def test_unmodelled_fields_are_kept_raw() -> None:
    traffic_policy = {"tls": {"mode": "ISTIO_MUTUAL"}}
    service = {"port": 80, "trafficPolicy": traffic_policy, "match": [{"uri": {"prefix": "/"}}]}
    canary = parse(service=service)
    assert canary.spec.service is not None
    assert canary.spec.service.raw["trafficPolicy"] == traffic_policy
    assert canary.spec.service.raw["match"] == [{"uri": {"prefix": "/"}}]
    assert canary.raw["spec"]["service"]["trafficPolicy"] == traffic_policy  # type: ignore[index]


def test_parsing_never_mutates_and_never_aliases_the_input() -> None:
    body = manifest(service={"port": 80, "trafficPolicy": {"tls": {"mode": "DISABLE"}}})
    original = copy.deepcopy(body)
    canary = parse_canary(body)
    assert body == original
    body["spec"]["service"]["trafficPolicy"]["tls"]["mode"] = "MUTUAL"
    assert canary.raw == original
    assert canary.spec.service is not None
    assert canary.spec.service.raw["trafficPolicy"] == {"tls": {"mode": "DISABLE"}}


def test_values_are_frozen() -> None:
    with pytest.raises(AttributeError):
        MINIMAL.spec.suspend = True  # type: ignore[misc]
