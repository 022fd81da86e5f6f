"""New Relic: the NRQL request, which result shapes give a value, no data, errors, secrets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ensign.metricproviders import NoData, ProviderConfigError, ProviderError, Window
from ensign.metricproviders.newrelic import NewRelicProvider
from ensign.model import MetricProviderType

from .conftest import NOW, SecretsHidden, Serve, config, reply

QUERY_KEY = "NRIQ-secret-query-key-42"
CREDENTIALS = {"newrelic_account_id": "1234567", "newrelic_query_key": QUERY_KEY}
NRQL = "SELECT filter(sum(requests), WHERE status >= '500') / sum(requests) * 100 FROM Metric"


def provider(address: str, **fields: Any) -> NewRelicProvider:
    fields.setdefault("credentials", CREDENTIALS)
    return NewRelicProvider(config(MetricProviderType.NEWRELIC, address=address, **fields))


async def test_value_reads_results_0_result(serve: Serve) -> None:
    backend = await serve(reply({"results": [{"result": 1.25}], "metadata": {}}))
    nr = provider(backend.url, interval_seconds=30)
    try:
        assert await nr.value(NRQL, now=NOW) == 1.25
    finally:
        await nr.aclose()
    [seen] = backend.seen
    assert (seen.method, seen.path) == ("GET", "/v1/accounts/1234567/query")
    assert seen.query == {"nrql": f"{NRQL} SINCE 300 seconds ago"}
    assert seen.headers["X-Query-Key"] == QUERY_KEY


@pytest.mark.parametrize(
    ("first", "expected"),
    [({"average": 12.5}, 12.5), ({"percentile": {"99": 310}}, 310.0), ({"count": 0}, 0.0)],
)
async def test_a_single_aggregate_under_any_name_is_the_value(
    serve: Serve, first: object, expected: float
) -> None:
    backend = await serve(reply({"results": [first]}))
    nr = provider(backend.url)
    try:
        assert await nr.value("SELECT x FROM Metric", now=NOW) == expected
    finally:
        await nr.aclose()


async def test_several_values_are_ambiguous(serve: Serve) -> None:
    backend = await serve(reply({"results": [{"percentiles": {"95": 1, "99": 2}}]}))
    nr = provider(backend.url)
    try:
        with pytest.raises(ProviderError, match=r"several values \(95, 99\)"):
            await nr.value("q", now=NOW)
    finally:
        await nr.aclose()


@pytest.mark.parametrize(
    "body", [{"results": []}, {"results": [{"result": None}]}, {"results": [{}]}, {}]
)
async def test_no_values_is_no_data(serve: Serve, body: object) -> None:
    backend = await serve(reply(body))
    nr = provider(backend.url)
    try:
        with pytest.raises(NoData):
            await nr.value("q", now=NOW)
    finally:
        await nr.aclose()


async def test_samples_are_not_supported() -> None:
    nr = provider("http://127.0.0.1:9")
    assert nr.supports_samples is False
    with pytest.raises(ProviderError, match="newrelic does not return samples"):
        await nr.samples("q", Window(start=NOW - timedelta(minutes=1), end=NOW, step_seconds=60))
    await nr.aclose()


async def test_http_error_names_the_status_and_hides_the_key(
    serve: Serve, secrets_hidden: SecretsHidden
) -> None:
    backend = await serve(reply({"error": f"Invalid query key {QUERY_KEY}"}, status=401))
    nr = provider(backend.url)
    try:
        with pytest.raises(ProviderError) as caught:
            await nr.value("q", now=NOW)
    finally:
        await nr.aclose()
    assert "HTTP 401" in str(caught.value) and "Invalid query key" in str(caught.value)
    secrets_hidden(QUERY_KEY, errors=[caught.value])


async def test_the_default_address_is_insights() -> None:
    nr = NewRelicProvider(config(MetricProviderType.NEWRELIC, credentials=CREDENTIALS))
    assert nr._url == "https://insights-api.newrelic.com/v1/accounts/1234567/query"
    await nr.aclose()


@pytest.mark.parametrize(
    ("credentials", "missing"),
    [
        ({"newrelic_query_key": QUERY_KEY}, "newrelic_account_id"),
        ({"newrelic_account_id": "1"}, "newrelic_query_key"),
    ],
)
def test_missing_keys_are_config_errors_naming_the_key(
    credentials: dict[str, str], missing: str
) -> None:
    with pytest.raises(ProviderConfigError, match=f"secret key '{missing}' is missing"):
        NewRelicProvider(config(MetricProviderType.NEWRELIC, credentials=credentials))
