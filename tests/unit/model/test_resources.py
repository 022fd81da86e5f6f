"""MetricTemplate and AlertProvider parsing: defaults, and every problem reported."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.model.errors import InvalidSpec
from ensign.model.parse import parse_alert_provider, parse_metric_template
from ensign.model.resources import AlertProviderType, MetricProviderType


def template(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "error-rate", "namespace": "flagger"},
        "spec": spec,
    }


def alert_provider(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": "on-call"},
        "spec": spec,
    }


def test_metric_template_is_parsed() -> None:
    parsed = parse_metric_template(
        template(
            provider={
                "type": "prometheus",
                "address": "http://prometheus.monitoring:9090",
                "headers": {"X-Scope-OrgID": ["tenant-a"]},
                "secretRef": {"name": "prom-auth"},
                "insecureSkipVerify": True,
            },
            query='sum(rate(http_requests_total{namespace="{{ namespace }}"}[{{ interval }}]))',
        )
    )
    assert parsed.name == "error-rate"
    assert parsed.namespace == "flagger"
    assert parsed.provider.type is MetricProviderType.PROMETHEUS
    assert parsed.provider.headers == {"X-Scope-OrgID": ("tenant-a",)}
    assert parsed.provider.secret_ref == "prom-auth"
    assert parsed.provider.insecure_skip_verify is True
    assert "{{ namespace }}" in parsed.query


def test_datadog_template_needs_no_address() -> None:
    parsed = parse_metric_template(
        template(provider={"type": "datadog", "secretRef": {"name": "dd"}}, query="avg:x{*}")
    )
    assert parsed.provider.address is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, ["spec.provider: is required", "spec.query: is required"]),
        (
            {"provider": {"type": "graphana"}, "query": "x"},
            [
                "spec.provider.type: must be one of prometheus, influxdb, datadog,"
                " externalmetrics, stackdriver, cloudwatch, newrelic, graphite, dynatrace, keptn,"
                " splunk (got graphana)"
            ],
        ),
        (
            {"provider": {"type": "prometheus"}, "query": "up"},
            ["spec.provider.address: is required for provider type prometheus"],
        ),
        (
            {"provider": {"type": "cloudwatch"}, "query": "[]"},
            ["spec.provider.region: is required for provider type cloudwatch"],
        ),
        (
            {"provider": {"type": "prometheus", "address": "prometheus:9090"}, "query": "up"},
            ['spec.provider.address: must be an absolute http(s) URL (got "prometheus:9090")'],
        ),
        (
            {
                "provider": {
                    "type": "prometheus",
                    "address": "http://prom:9090",
                    "headers": {"X-Org": "a"},
                    "secretRef": {},
                },
                "query": "",
            },
            [
                'spec.provider.headers.X-Org: must be a list of strings (got "a")',
                "spec.provider.secretRef.name: is required",
                "spec.query: is required",
            ],
        ),
    ],
)
def test_metric_template_problems(spec: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_metric_template(template(**spec))
    assert sorted(raised.value.messages) == sorted(expected)
    assert raised.value.kind == "MetricTemplate"


def test_alert_provider_defaults() -> None:
    parsed = parse_alert_provider(
        alert_provider(type="slack", address="https://hooks.slack.com/services/T/B/X")
    )
    assert parsed.type is AlertProviderType.SLACK
    assert parsed.channel == "general"
    assert parsed.username == "flagger"
    assert parsed.namespace is None
    assert parsed.secret_ref is None


def test_alert_provider_with_secret() -> None:
    parsed = parse_alert_provider(
        alert_provider(type="msteams", secretRef={"name": "teams-url"}, channel="ops")
    )
    assert parsed.secret_ref == "teams-url"
    assert parsed.address is None
    assert parsed.channel == "ops"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"type": "pagerduty", "address": "https://events.pagerduty.com"},
            ["spec.type: must be one of slack, msteams, discord, rocket, gchat (got pagerduty)"],
        ),
        ({"type": "slack"}, ["spec: set exactly one of address or secretRef"]),
        (
            {"type": "slack", "address": "https://hooks.slack.com/x", "secretRef": {"name": "s"}},
            ["spec: set exactly one of address or secretRef"],
        ),
        (
            {"address": "hooks.slack.com", "proxy": "squid:3128"},
            [
                "spec.type: is required",
                'spec.address: must be an absolute http(s) URL (got "hooks.slack.com")',
                'spec.proxy: must be an absolute http(s) URL (got "squid:3128")',
            ],
        ),
    ],
)
def test_alert_provider_problems(spec: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_alert_provider(alert_provider(**spec))
    assert sorted(raised.value.messages) == sorted(expected)


def test_wrong_kind_is_reported_for_templates() -> None:
    body = template(provider={"type": "keptn"}, query="keptnmetric/ns/name")
    body["kind"] = "Canary"
    with pytest.raises(InvalidSpec) as raised:
        parse_metric_template(body)
    assert raised.value.messages == ("kind: must be MetricTemplate (got Canary)",)
