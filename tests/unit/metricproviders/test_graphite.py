"""Graphite: the render request, the last non-null datapoint, samples, auth, errors."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from ensign.metricproviders import NoData, ProviderConfigError, ProviderError, Window
from ensign.metricproviders.graphite import GraphiteProvider, render_params
from ensign.model import MetricProviderType

from .conftest import NOW, NOW_S, SecretsHidden, Serve, config, reply

PASSWORD = "graphite-pa55word"
CREDENTIALS = {"username": "flagger", "password": PASSWORD}
QUERY = """target=summarize(
    sumSeries(app.*.errors), '5min', 'sum')
  &from=-5min"""
SERIES = [
    {"target": "a", "datapoints": [[1.0, NOW_S - 120], [2.0, NOW_S - 60], [None, NOW_S]]},
    {"target": "b", "datapoints": [[5.0, NOW_S - 180], [7.0, NOW_S - 90], [None, NOW_S]]},
]


def provider(address: str | None, **fields: Any) -> GraphiteProvider:
    return GraphiteProvider(config(MetricProviderType.GRAPHITE, address=address, **fields))


def test_render_params_collapse_whitespace_and_ask_for_json() -> None:
    assert render_params(QUERY) == [
        ("target", "summarize( sumSeries(app.*.errors), '5min', 'sum')"),
        ("from", "-5min"),
        ("format", "json"),
    ]


async def test_value_is_the_last_non_null_datapoint_over_all_series(serve: Serve) -> None:
    backend = await serve(reply(SERIES))
    graphite = provider(backend.url + "/graphite", credentials=CREDENTIALS)
    try:
        assert await graphite.value(QUERY, now=NOW) == 7.0
    finally:
        await graphite.aclose()
    [seen] = backend.seen
    assert (seen.method, seen.path) == ("GET", "/graphite/render")
    assert seen.query == {
        "target": "summarize( sumSeries(app.*.errors), '5min', 'sum')",
        "from": "-5min",
        "format": "json",
    }
    assert (
        seen.headers["Authorization"]
        == "Basic " + base64.b64encode(f"flagger:{PASSWORD}".encode()).decode()
    )


async def test_samples_replace_the_range_and_sort_every_point(serve: Serve) -> None:
    backend = await serve(reply(SERIES))
    graphite = provider(backend.url)
    window = Window(start=NOW - timedelta(minutes=5), end=NOW, step_seconds=60)
    try:
        assert await graphite.samples(QUERY + "&until=now", window) == [5.0, 1.0, 7.0, 2.0]
    finally:
        await graphite.aclose()
    seen = backend.seen[0]
    assert seen.query["from"] == str(NOW_S - 300) and seen.query["until"] == str(NOW_S)
    assert [k for k, _ in seen.query_items].count("from") == 1
    assert "Authorization" not in seen.headers


@pytest.mark.parametrize(
    "body", [[], [{"target": "a", "datapoints": [[None, 1], [None, 2]]}], [{"target": "a"}]]
)
async def test_no_non_null_datapoint_is_no_data(serve: Serve, body: object) -> None:
    backend = await serve(reply(body))
    graphite = provider(backend.url)
    try:
        with pytest.raises(NoData):
            await graphite.value("target=a", now=NOW)
    finally:
        await graphite.aclose()


async def test_http_error_names_the_status_and_hides_the_password(
    serve: Serve, secrets_hidden: SecretsHidden
) -> None:
    backend = await serve(reply({"error": "boom"}, status=500))
    graphite = provider(backend.url, credentials=CREDENTIALS)
    try:
        with pytest.raises(ProviderError, match="HTTP 500") as caught:
            await graphite.value("target=a", now=NOW)
    finally:
        await graphite.aclose()
    secrets_hidden(PASSWORD, errors=[caught.value])


def test_address_is_required() -> None:
    with pytest.raises(
        ProviderConfigError, match=r"spec.provider.address is required for graphite"
    ):
        provider(None)


def test_a_secret_needs_both_username_and_password() -> None:
    with pytest.raises(ProviderConfigError, match="secret key 'password' is missing"):
        provider("http://127.0.0.1:9", credentials={"username": "flagger"})
