"""One real Prometheus per test session, backfilled with `series.dataset()`, and providers
pointed at it.

The server fixture is synchronous (starting takes well under a second) so that it can be
session-scoped whatever the event loop scope of the tests using it. A missing Prometheus
fails these tests with the install command; they are never skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from ensign.metricproviders.base import ProviderConfig
from ensign.metricproviders.prometheus import PrometheusProvider
from ensign.model import MetricProviderType
from ensign.testing.prometheus import OpenMetrics, PrometheusServer
from tests.prometheus.series import dataset


@pytest.fixture(scope="session")
def series() -> OpenMetrics:
    return dataset()


@pytest.fixture(scope="session")
def prometheus(series: OpenMetrics) -> Iterator[PrometheusServer]:
    with PrometheusServer(series) as server:
        yield server


@pytest.fixture
async def provider(prometheus: PrometheusServer) -> AsyncIterator[PrometheusProvider]:
    async with httpx2.AsyncClient(trust_env=False) as client:
        config = ProviderConfig(type=MetricProviderType.PROMETHEUS, address=prometheus.url)
        yield PrometheusProvider(config, client=client)
