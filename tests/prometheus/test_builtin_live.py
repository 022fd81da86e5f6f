"""Every builtin query of every observer against exporter-shaped series in a real Prometheus.

A query that does not parse fails with HTTP 400; one that reads a wrong label or variable
finds no series (NoData) or a decoy's numbers. Only exact, label-correct PromQL passes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ensign.metricproviders.prometheus import PrometheusProvider
from ensign.queries import (
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    Observer,
    builtin_query,
    duration_to_ms,
)
from tests.prometheus.series import (
    SECONDS_OBSERVERS,
    expected_duration,
    expected_traffic,
    model,
    primary_traffic,
)

NOW = datetime.now(UTC)


@pytest.mark.parametrize("observer", list(Observer))
async def test_success_rate_is_exact(provider: PrometheusProvider, observer: Observer) -> None:
    query = builtin_query(observer, REQUEST_SUCCESS_RATE, model(observer))
    assert await provider.value(query, now=NOW) == expected_traffic(observer).success_rate


@pytest.mark.parametrize("observer", list(Observer))
async def test_duration_is_exact_and_converts_to_whole_ms(
    provider: PrometheusProvider, observer: Observer
) -> None:
    query = builtin_query(observer, REQUEST_DURATION, model(observer))
    value = await provider.value(query, now=NOW)
    assert value == expected_duration(observer)
    scale = 1000 if observer is Observer.HTTP else 1
    assert duration_to_ms(observer, value) == float(int(expected_duration(observer) * scale))


def test_the_expected_numbers_are_distinct_per_observer() -> None:
    """Guards the dataset itself: no two observers (or a decoy) share an answer."""
    rates = [expected_traffic(observer).success_rate for observer in Observer]
    assert len(set(rates)) == len(rates)
    assert primary_traffic(seconds=False).success_rate not in rates
    durations = [expected_duration(o) for o in Observer if o not in SECONDS_OBSERVERS]
    assert len(set(durations)) == len(durations)


@pytest.mark.parametrize(
    "observer", [Observer.ISTIO, Observer.LINKERD, Observer.OSM, Observer.HTTP]
)
async def test_a_primary_model_measures_the_primary(
    provider: PrometheusProvider, observer: Observer
) -> None:
    query = builtin_query(observer, REQUEST_SUCCESS_RATE, model(observer, primary=True))
    assert await provider.value(query, now=NOW) == 50.0
    duration = await provider.value(
        builtin_query(observer, REQUEST_DURATION, model(observer, primary=True)), now=NOW
    )
    assert duration == primary_traffic(seconds=observer in SECONDS_OBSERVERS).p99
