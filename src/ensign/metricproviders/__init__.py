"""Metric providers: the backends a MetricTemplate queries (Flagger §5.5). Does I/O.

Build one with `build_provider(ProviderConfig(...))`; every provider answers `value` (one
number, Flagger's contract) and, when `supports_samples`, `samples` over a `Window`. `NoData`
and `ProviderError` keep "the query matched nothing" apart from "the backend failed".
"""

from ensign.metricproviders.base import (
    DEFAULT_TIMEOUT,
    MetricProvider,
    NoData,
    ProviderConfig,
    ProviderConfigError,
    ProviderError,
    Window,
)
from ensign.metricproviders.registry import (
    NOT_IMPLEMENTED,
    UnknownMetricProviderError,
    build_provider,
    known_metric_providers,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "NOT_IMPLEMENTED",
    "MetricProvider",
    "NoData",
    "ProviderConfig",
    "ProviderConfigError",
    "ProviderError",
    "UnknownMetricProviderError",
    "Window",
    "build_provider",
    "known_metric_providers",
]
