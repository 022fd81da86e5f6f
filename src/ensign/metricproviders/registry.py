"""Provider type → provider class, and the one way to build a provider.

Flagger logs a warning and falls back to Prometheus for a type it does not know
(`pkg/metrics/providers/factory.go`), so a typo queries the wrong backend with the wrong
query language. Ensign refuses: an unknown type, and the Flagger types Ensign does not
implement (`keptn`, `externalmetrics`), raise `UnknownMetricProviderError`, whose message
lists the types this build knows. It is also a `ProviderConfigError`, so callers that report
provider construction failures as events catch it with the rest.

Provider modules are imported when first built, so importing this package stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx2

from ensign.metricproviders.base import MetricProvider, ProviderConfig, ProviderConfigError
from ensign.model import MetricProviderType

NOT_IMPLEMENTED: frozenset[MetricProviderType] = frozenset(
    {MetricProviderType.KEPTN, MetricProviderType.EXTERNALMETRICS}
)
"""Flagger provider types that Ensign does not implement."""

ProviderFactory = Callable[..., MetricProvider]


class UnknownMetricProviderError(LookupError, ProviderConfigError):
    """A provider type with no implementation; `known` lists the available ones, sorted."""

    def __init__(self, provider: str, *, known: Iterable[str]) -> None:
        self.provider = provider
        self.known: tuple[str, ...] = tuple(sorted(known))
        flagger_types = {member.value for member in MetricProviderType}
        why = (
            "is a Flagger provider Ensign does not implement"
            if provider in flagger_types
            else "is not a known metric provider type"
        )
        super().__init__(
            f"metric provider type {provider!r} {why}; known types: {', '.join(self.known)}"
            " (Ensign never falls back to prometheus as Flagger does)"
        )


def known_metric_providers() -> tuple[str, ...]:
    """The provider types this build can query, sorted."""
    return tuple(sorted(t.value for t in MetricProviderType if t not in NOT_IMPLEMENTED))


def _factory(provider: MetricProviderType) -> ProviderFactory:
    """The provider class for a type, imported on first use."""
    match provider:
        case MetricProviderType.PROMETHEUS:
            from ensign.metricproviders.prometheus import PrometheusProvider

            return PrometheusProvider
        case MetricProviderType.DATADOG:
            from ensign.metricproviders.datadog import DatadogProvider

            return DatadogProvider
        case MetricProviderType.CLOUDWATCH:
            from ensign.metricproviders.cloudwatch import CloudWatchProvider

            return CloudWatchProvider
        case MetricProviderType.NEWRELIC:
            from ensign.metricproviders.newrelic import NewRelicProvider

            return NewRelicProvider
        case MetricProviderType.GRAPHITE:
            from ensign.metricproviders.graphite import GraphiteProvider

            return GraphiteProvider
        case MetricProviderType.INFLUXDB:
            from ensign.metricproviders.influxdb import InfluxDBProvider

            return InfluxDBProvider
        case MetricProviderType.DYNATRACE:
            from ensign.metricproviders.dynatrace import DynatraceProvider

            return DynatraceProvider
        case MetricProviderType.STACKDRIVER:
            from ensign.metricproviders.stackdriver import StackdriverProvider

            return StackdriverProvider
        case MetricProviderType.SPLUNK:
            from ensign.metricproviders.splunk import SplunkProvider

            return SplunkProvider
        case _:
            raise UnknownMetricProviderError(provider.value, known=known_metric_providers())


def build_provider(
    config: ProviderConfig, *, client: httpx2.AsyncClient | None = None
) -> MetricProvider:
    """A provider for `config.type`, validated; raises `ProviderConfigError` (naming the
    missing field or Secret key) or `UnknownMetricProviderError`.

    A given `client` is shared and never closed by the provider's `aclose`.
    """
    try:
        provider = MetricProviderType(config.type)
    except ValueError:
        raise UnknownMetricProviderError(str(config.type), known=known_metric_providers()) from None
    return _factory(provider)(config, client=client)
