"""PrometheusProvider against the session's real Prometheus: values, errors, samples, health."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from ensign.metricproviders.base import NoData, ProviderConfig, ProviderError, Window
from ensign.metricproviders.prometheus import PrometheusProvider
from ensign.model import MetricProviderType
from ensign.testing.prometheus import OpenMetrics
from tests.prometheus.series import RATE_CHANGE_AT

NOW = datetime(2000, 1, 1, tzinfo=UTC)  # `now` is not sent: the server's clock decides
SUCCESS_RATE = """
    sum(rate(demo_requests_total{namespace="provider", code!~"5.*"}[1m]))
    /
    sum(rate(demo_requests_total{namespace="provider"}[1m])) * 100
"""


async def test_a_multi_line_success_rate_query_answers_exactly_95(
    provider: PrometheusProvider,
) -> None:
    assert await provider.value(SUCCESS_RATE, now=NOW) == 95.0


async def test_a_gauge_and_a_scalar_answer_their_value(provider: PrometheusProvider) -> None:
    assert await provider.value('demo_temperature{room="b"}', now=NOW) == 19.25
    assert await provider.value("scalar(vector(4)) * 2", now=NOW) == 8.0


async def test_several_series_answer_the_last_one(provider: PrometheusProvider) -> None:
    value = await provider.value('sort(demo_temperature{namespace="provider"})', now=NOW)
    assert value == 21.5  # room b (19.25) sorts first, room a last


async def test_a_query_without_series_is_no_data(provider: PrometheusProvider) -> None:
    with pytest.raises(NoData):
        await provider.value('sum(rate(demo_requests_total{namespace="nowhere"}[1m]))', now=NOW)


async def test_nan_is_no_data(provider: PrometheusProvider) -> None:
    with pytest.raises(NoData, match="NaN"):
        await provider.value("vector(0) / 0", now=NOW)


async def test_invalid_promql_is_a_provider_error_with_status_and_reason(
    provider: PrometheusProvider,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.value("sum(rate(demo_requests_total[1m])", now=NOW)
    assert not isinstance(caught.value, NoData)
    message = str(caught.value)
    assert "HTTP 400" in message
    assert "parse error" in message


async def test_a_range_selector_is_a_multiple_values_error(provider: PrometheusProvider) -> None:
    with pytest.raises(ProviderError, match="query returned multiple values"):
        await provider.value('demo_requests_total{namespace="provider"}[1m]', now=NOW)


async def test_samples_return_every_point_of_every_series_in_the_window(
    provider: PrometheusProvider,
) -> None:
    end = datetime.now(UTC) - timedelta(minutes=2)
    window = Window(start=end - timedelta(minutes=4), end=end, step_seconds=60)
    values = await provider.samples('rate(demo_requests_total{namespace="provider"}[1m])', window)
    # rate() over backfilled counters can differ from the exact rate by a rounding error,
    # depending on where the window falls on the samples.
    assert sorted(values) == pytest.approx([1.0] * 5 + [19.0] * 5)


async def test_samples_follow_a_rate_change(
    provider: PrometheusProvider, series: OpenMetrics
) -> None:
    change = datetime.fromtimestamp(series.now + RATE_CHANGE_AT, UTC)
    before = Window(
        start=change - timedelta(minutes=5), end=change - timedelta(minutes=2), step_seconds=30
    )
    after = Window(
        start=change + timedelta(minutes=2), end=change + timedelta(minutes=4), step_seconds=30
    )
    query = 'sum(rate(demo_changing_total{namespace="provider"}[1m]))'
    assert await provider.samples(query, before) == pytest.approx([1.0] * 7)
    assert await provider.samples(query, after) == pytest.approx([3.0] * 5)


async def test_samples_without_series_are_no_data(provider: PrometheusProvider) -> None:
    end = datetime.now(UTC)
    window = Window(start=end - timedelta(minutes=3), end=end, step_seconds=60)
    with pytest.raises(NoData):
        await provider.samples('demo_requests_total{namespace="nowhere"}', window)


async def test_a_live_prometheus_is_healthy(provider: PrometheusProvider) -> None:
    await provider.healthy()


async def test_an_unreachable_prometheus_is_unhealthy_and_errors_are_provider_errors() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed once the block ends
    provider = PrometheusProvider(
        ProviderConfig(type=MetricProviderType.PROMETHEUS, address=address, timeout=2.0)
    )
    try:
        with pytest.raises(ProviderError, match="prometheus not available"):
            await provider.healthy()
        with pytest.raises(ProviderError) as caught:
            await provider.value("vector(1)", now=NOW)
        assert not isinstance(caught.value, NoData)
    finally:
        await provider.aclose()
