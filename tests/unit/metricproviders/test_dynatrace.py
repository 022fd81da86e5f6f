"""Dynatrace: the metrics query request, `data[last].values[0]`, samples by resolution,
no data, errors and credentials."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ensign.metricproviders import NoData, ProviderConfigError, ProviderError, Window
from ensign.metricproviders.dynatrace import DynatraceProvider, resolution
from ensign.model import MetricProviderType

from .conftest import NOW, NOW_S, SecretsHidden, Serve, config, reply

TOKEN = "dt0c01.SECRETTOKEN.ABCDEF"
CREDENTIALS = {"dynatrace_token": TOKEN}
SELECTOR = 'builtin:service.errors.total.rate:filter(eq("dt.entity.service","SERVICE-1"))'


def answer(*data: dict[str, Any]) -> dict[str, Any]:
    return {
        "totalCount": 1,
        "resolution": "Inf",
        "result": [{"metricId": SELECTOR, "data": list(data)}],
    }


def provider(address: str | None, **fields: Any) -> DynatraceProvider:
    fields.setdefault("credentials", CREDENTIALS)
    return DynatraceProvider(config(MetricProviderType.DYNATRACE, address=address, **fields))


@pytest.mark.parametrize(
    ("step", "expected"),
    [(10, "10s"), (60, "1m"), (90, "90s"), (300, "5m"), (7200, "2h"), (0.2, "1s")],
)
def test_resolution_follows_the_step(step: float, expected: str) -> None:
    assert resolution(step) == expected


async def test_value_is_the_last_data_entrys_first_value(serve: Serve) -> None:
    body = answer(
        {"timestamps": [NOW_S * 1000], "values": [4.0]},
        {"timestamps": [NOW_S * 1000], "values": [0.75]},
    )
    backend = await serve(reply(body))
    dt = provider(backend.url + "/e/abc123", interval_seconds=60)
    try:
        assert await dt.value(SELECTOR, now=NOW) == 0.75
    finally:
        await dt.aclose()
    [seen] = backend.seen
    assert (seen.method, seen.path) == ("GET", "/e/abc123/api/v2/metrics/query")
    assert seen.query == {
        "metricSelector": SELECTOR,
        "resolution": "Inf",
        "from": str((NOW_S - 600) * 1000),
        "to": str(NOW_S * 1000),
    }
    assert seen.headers["Authorization"] == f"Api-Token {TOKEN}"


async def test_samples_are_every_non_null_value_oldest_first(serve: Serve) -> None:
    ms = lambda offset: (NOW_S + offset) * 1000  # noqa: E731
    body = answer(
        {"timestamps": [ms(-120), ms(-60), ms(0)], "values": [1.0, None, 3.0]},
        {"timestamps": [ms(-90)], "values": [2.0]},
    )
    backend = await serve(reply(body))
    dt = provider(backend.url)
    window = Window(start=NOW - timedelta(minutes=2), end=NOW, step_seconds=30)
    try:
        assert await dt.samples(SELECTOR, window) == [1.0, 2.0, 3.0]
    finally:
        await dt.aclose()
    query = backend.seen[0].query
    assert (query["resolution"], query["from"], query["to"]) == ("30s", str(ms(-120)), str(ms(0)))


@pytest.mark.parametrize(
    "body",
    [
        {"result": []},
        answer(),
        answer({"timestamps": [1], "values": [None]}),
        answer({"values": []}),
        {},
    ],
)
async def test_no_values_is_no_data(serve: Serve, body: dict[str, Any]) -> None:
    backend = await serve(reply(body))
    dt = provider(backend.url)
    try:
        with pytest.raises(NoData):
            await dt.value(SELECTOR, now=NOW)
    finally:
        await dt.aclose()


async def test_http_error_names_the_status_and_hides_the_token(
    serve: Serve, secrets_hidden: SecretsHidden
) -> None:
    backend = await serve(
        reply({"error": {"code": 401, "message": f"Token {TOKEN} is invalid"}}, status=401)
    )
    dt = provider(backend.url)
    try:
        with pytest.raises(ProviderError, match="HTTP 401") as caught:
            await dt.value(SELECTOR, now=NOW)
    finally:
        await dt.aclose()
    assert "is invalid" in str(caught.value)
    secrets_hidden(TOKEN, errors=[caught.value])


def test_address_is_required() -> None:
    with pytest.raises(
        ProviderConfigError, match=r"dynatrace endpoint is not set: spec.provider.address"
    ):
        provider(None)


def test_the_token_is_required() -> None:
    with pytest.raises(ProviderConfigError, match="secret key 'dynatrace_token' is missing"):
        provider("http://127.0.0.1:9", credentials={})
