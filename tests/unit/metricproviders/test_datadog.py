"""Datadog: request shape, Flagger's `pointlist[0]` value, samples, no data, errors, secrets."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from ensign.metricproviders import NoData, ProviderConfigError, ProviderError, Window
from ensign.metricproviders.datadog import DatadogProvider
from ensign.model import MetricProviderType

from .conftest import NOW, NOW_S, SecretsHidden, Serve, config, reply

API_KEY = "dd-api-0123456789abcdef"
APP_KEY = "dd-app-fedcba9876543210"
CREDENTIALS = {"datadog_api_key": API_KEY, "datadog_application_key": APP_KEY}


def provider(address: str, **fields: Any) -> DatadogProvider:
    fields.setdefault("credentials", CREDENTIALS)
    return DatadogProvider(config(MetricProviderType.DATADOG, address=address, **fields))


async def test_value_is_the_first_point_of_the_first_series(serve: Serve) -> None:
    series = [
        {"pointlist": [[(NOW_S - 120) * 1000, 1.5], [(NOW_S - 60) * 1000, 9.0]]},
        {"pointlist": [[(NOW_S - 60) * 1000, 7.0]]},
    ]
    backend = await serve(reply({"status": "ok", "series": series}))
    dd = provider(backend.url + "/", interval_seconds=30)
    try:
        assert await dd.value("sum:requests{env:prod}", now=NOW) == 1.5
    finally:
        await dd.aclose()
    [seen] = backend.seen
    assert (seen.method, seen.path) == ("GET", "/api/v1/query")
    assert seen.query == {
        "query": "sum:requests{env:prod}",
        "from": str(NOW_S - 300),
        "to": str(NOW_S),
    }
    assert seen.headers["DD-API-KEY"] == API_KEY
    assert seen.headers["DD-APPLICATION-KEY"] == APP_KEY


async def test_samples_are_non_null_points_of_all_series_in_the_window(serve: Serve) -> None:
    start = NOW - timedelta(minutes=5)
    ms = lambda offset: (NOW_S + offset) * 1000  # noqa: E731
    series = [
        {"pointlist": [[ms(-240), 2.0], [ms(-120), None], [ms(-60), 4.0]]},
        {"pointlist": [[ms(-600), 99.0], [ms(-180), 3.0]]},  # -600 is before the window
    ]
    backend = await serve(reply({"status": "ok", "series": series}))
    dd = provider(backend.url)
    try:
        assert await dd.samples("q", Window(start=start, end=NOW, step_seconds=60)) == [
            2.0,
            3.0,
            4.0,
        ]
    finally:
        await dd.aclose()
    assert backend.seen[0].query["from"] == str(NOW_S - 300)
    assert backend.seen[0].query["to"] == str(NOW_S)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "ok", "series": []},
        {"status": "ok"},
        {"status": "ok", "series": [{"pointlist": []}]},
        {"status": "ok", "series": [{"pointlist": [[1, None]]}]},
    ],
)
async def test_no_values_is_no_data(serve: Serve, body: object) -> None:
    backend = await serve(reply(body))
    dd = provider(backend.url)
    try:
        with pytest.raises(NoData):
            await dd.value("q", now=NOW)
        with pytest.raises(NoData):
            await dd.samples(
                "q", Window(start=NOW - timedelta(minutes=1), end=NOW, step_seconds=60)
            )
    finally:
        await dd.aclose()


async def test_http_error_names_the_status_and_hides_the_keys(
    serve: Serve, secrets_hidden: SecretsHidden
) -> None:
    backend = await serve(reply({"errors": [f"Forbidden: bad key {API_KEY}"]}, status=403))
    dd = provider(backend.url)
    try:
        with pytest.raises(ProviderError) as caught:
            await dd.value("q", now=NOW)
    finally:
        await dd.aclose()
    assert "HTTP 403" in str(caught.value) and "Forbidden" in str(caught.value)
    assert "[redacted]" in str(caught.value)
    secrets_hidden(API_KEY, APP_KEY, errors=[caught.value])


async def test_an_error_status_in_the_body_is_a_provider_error(serve: Serve) -> None:
    backend = await serve(reply({"status": "error", "error": "Rate limit of 300 requests"}))
    dd = provider(backend.url)
    try:
        with pytest.raises(ProviderError, match="Rate limit"):
            await dd.value("q", now=NOW)
    finally:
        await dd.aclose()


async def test_a_slow_backend_times_out(serve: Serve) -> None:
    async def slow(request: web.Request, _: bytes) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response({})

    backend = await serve(slow)
    dd = provider(backend.url, timeout=0.2)
    try:
        with pytest.raises(ProviderError, match=r"timed out after 0.2s"):
            await dd.value("q", now=NOW)
    finally:
        await dd.aclose()


async def test_the_default_address_is_datadogs_api() -> None:
    dd = DatadogProvider(config(MetricProviderType.DATADOG, credentials=CREDENTIALS))
    assert dd._url == "https://api.datadoghq.com/api/v1/query"
    await dd.aclose()


@pytest.mark.parametrize(
    ("credentials", "missing"),
    [
        (None, "datadog_api_key"),
        ({"datadog_api_key": API_KEY}, "datadog_application_key"),
        ({"datadog_application_key": APP_KEY, "datadog_api_key": ""}, "datadog_api_key"),
    ],
)
def test_missing_keys_are_config_errors_naming_the_key(
    credentials: dict[str, str] | None, missing: str, secrets_hidden: SecretsHidden
) -> None:
    with pytest.raises(ProviderConfigError, match=f"secret key '{missing}' is missing") as caught:
        DatadogProvider(config(MetricProviderType.DATADOG, credentials=credentials))
    secrets_hidden(API_KEY, APP_KEY, errors=[caught.value])
