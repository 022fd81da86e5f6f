"""The registry: every implemented type builds, unimplemented and unknown types are refused
(never a Prometheus fallback), config errors pass through, and client ownership."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

import ensign.metricproviders as package
from ensign.metricproviders import (
    NoData,
    ProviderConfig,
    ProviderConfigError,
    UnknownMetricProviderError,
    build_provider,
    known_metric_providers,
)
from ensign.model import MetricProviderType

from .conftest import NOW, Serve, config, reply

IMPLEMENTED = [
    t
    for t in MetricProviderType
    if t not in {MetricProviderType.KEPTN, MetricProviderType.EXTERNALMETRICS}
]

MINIMAL: dict[MetricProviderType, dict[str, Any]] = {
    MetricProviderType.PROMETHEUS: {"address": "http://127.0.0.1:9090"},
    MetricProviderType.DATADOG: {
        "credentials": {"datadog_api_key": "a", "datadog_application_key": "b"}
    },
    MetricProviderType.CLOUDWATCH: {
        "region": "us-east-1",
        "credentials": {"aws_access_key_id": "a", "aws_secret_access_key": "b"},
    },
    MetricProviderType.NEWRELIC: {
        "credentials": {"newrelic_account_id": "1", "newrelic_query_key": "k"}
    },
    MetricProviderType.GRAPHITE: {"address": "http://127.0.0.1:8080"},
    MetricProviderType.INFLUXDB: {"address": "http://127.0.0.1:8086"},
    MetricProviderType.DYNATRACE: {
        "address": "https://abc.live.dynatrace.com",
        "credentials": {"dynatrace_token": "t"},
    },
    MetricProviderType.STACKDRIVER: {"credentials": {"project": "p"}},
    MetricProviderType.SPLUNK: {
        "address": "https://api.us1.signalfx.com",
        "credentials": {"sf_token_key": "t"},
    },
}


def test_known_providers_are_every_flagger_type_but_keptn_and_externalmetrics() -> None:
    assert known_metric_providers() == tuple(sorted(t.value for t in IMPLEMENTED))
    assert set(MINIMAL) == set(IMPLEMENTED)


@pytest.mark.parametrize("kind", IMPLEMENTED, ids=str)
async def test_every_implemented_type_builds_its_own_provider(kind: MetricProviderType) -> None:
    built = build_provider(config(kind, **MINIMAL[kind]))
    try:
        assert built.type is kind
        assert isinstance(built.supports_samples, bool)
    finally:
        await built.aclose()


@pytest.mark.parametrize(
    "kind", [MetricProviderType.KEPTN, MetricProviderType.EXTERNALMETRICS], ids=str
)
def test_flagger_types_ensign_lacks_are_refused_not_sent_to_prometheus(
    kind: MetricProviderType,
) -> None:
    with pytest.raises(UnknownMetricProviderError) as caught:
        build_provider(config(kind, address="http://127.0.0.1:9090"))
    message = str(caught.value)
    assert f"'{kind.value}' is a Flagger provider Ensign does not implement" in message
    assert "datadog, dynatrace" in message and "never falls back to prometheus" in message
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, ProviderConfigError)


def test_an_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(
        UnknownMetricProviderError,
        match="'promethues' is not a known metric provider type; known types: cloudwatch",
    ):
        build_provider(ProviderConfig(type="promethues", address="http://127.0.0.1:9090"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        (MetricProviderType.DATADOG, {}, "secret key 'datadog_api_key' is missing"),
        (MetricProviderType.GRAPHITE, {}, "spec.provider.address is required for graphite"),
        (MetricProviderType.GRAPHITE, {"address": "graphite:8080"}, "not an absolute http"),
        (
            MetricProviderType.CLOUDWATCH,
            {"credentials": {"aws_access_key_id": "a"}},
            "region is required",
        ),
    ],
)
def test_config_errors_pass_through(
    kind: MetricProviderType, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        build_provider(config(kind, **fields))


async def test_an_injected_client_is_used_and_left_open(serve: Serve) -> None:
    backend = await serve(reply({"status": "ok", "series": []}))
    async with httpx2.AsyncClient() as client:
        built = build_provider(
            config(
                MetricProviderType.DATADOG,
                address=backend.url,
                **MINIMAL[MetricProviderType.DATADOG],
            ),
            client=client,
        )
        with pytest.raises(NoData):
            await built.value("q", now=NOW)
        await built.aclose()
        assert not client.is_closed
        assert len(backend.seen) == 1


def test_the_package_exports_the_public_api() -> None:
    assert set(package.__all__) >= {
        "build_provider",
        "known_metric_providers",
        "UnknownMetricProviderError",
        "MetricProvider",
        "ProviderConfig",
        "Window",
        "NoData",
        "ProviderError",
        "ProviderConfigError",
    }
    assert all(hasattr(package, name) for name in package.__all__)
