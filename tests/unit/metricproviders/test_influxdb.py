"""InfluxDB: the Flux request, annotated CSV over several tables, no data (an Ensign
difference), non-numeric values, in-band errors, credentials."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ensign.metricproviders import NoData, ProviderConfigError, ProviderError, Window
from ensign.metricproviders.influxdb import FluxRecord, InfluxDBProvider, parse_annotated_csv
from ensign.model import MetricProviderType

from .conftest import NOW, SecretsHidden, Serve, config, reply_text

TOKEN = "influx-token-0123456789=="
CREDENTIALS = {"token": TOKEN, "org": "my-org"}
FLUX = 'from(bucket: "app") |> range(start: -5m) |> filter(fn: (r) => r._measurement == "errors")'
ANNOTATIONS = "#datatype,string,long,dateTime:RFC3339,double\r\n#group,false,false,false,false\r\n#default,_result,,,\r\n"
TWO_TABLES = (
    ANNOTATIONS
    + ",result,table,_time,_value\r\n"
    + ",,0,2024-05-01T11:58:00.123456789Z,2.5\r\n"
    + ",,0,2024-05-01T11:56:00Z,1.5\r\n"
    + "\r\n"
    + ANNOTATIONS
    + ",result,table,_time,_value\r\n"
    + ",,1,2024-05-01T11:57:00Z,9\r\n"
    + ",,1,2024-05-01T11:59:00Z,\r\n"
    + "\r\n"
)


def provider(address: str | None, **fields: Any) -> InfluxDBProvider:
    return InfluxDBProvider(config(MetricProviderType.INFLUXDB, address=address, **fields))


def test_parse_reads_every_table_with_or_without_annotations() -> None:
    records, error = parse_annotated_csv(TWO_TABLES)
    assert error is None
    assert [r.value for r in records] == ["2.5", "1.5", "9", ""]
    plain = "result,table,_value,host\n_result,0,4,a\n\nresult,table,_value\n_result,1,5\n"
    assert parse_annotated_csv(plain) == (
        [FluxRecord(value="4", time=None), FluxRecord(value="5", time=None)],
        None,
    )


async def test_value_is_the_first_records_value(serve: Serve) -> None:
    backend = await serve(reply_text(TWO_TABLES, content_type="text/csv"))
    influx = provider(backend.url, credentials=CREDENTIALS)
    try:
        assert await influx.value(FLUX, now=NOW) == 2.5
    finally:
        await influx.aclose()
    [seen] = backend.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/api/v2/query", {"org": "my-org"})
    assert seen.headers["Authorization"] == f"Token {TOKEN}"
    assert seen.headers["Accept"] == "application/csv"
    sent = seen.json()
    assert (sent["query"], sent["type"], sent["now"]) == (FLUX, "flux", "2024-05-01T12:00:00Z")


async def test_samples_are_every_value_ordered_by_time(serve: Serve) -> None:
    backend = await serve(reply_text(TWO_TABLES, content_type="text/csv"))
    influx = provider(backend.url)
    window = Window(
        start=NOW - timedelta(minutes=5), end=NOW - timedelta(seconds=30), step_seconds=60
    )
    try:
        assert await influx.samples(FLUX, window) == [1.5, 9.0, 2.5]
    finally:
        await influx.aclose()
    seen = backend.seen[0]
    assert "Authorization" not in seen.headers and seen.query == {}
    assert seen.json()["now"] == "2024-05-01T11:59:30Z"


@pytest.mark.parametrize("body", ["", "\r\n", ANNOTATIONS + ",result,table,_value\r\n,,0,\r\n\r\n"])
async def test_an_empty_result_is_no_data_not_zero(serve: Serve, body: str) -> None:
    backend = await serve(reply_text(body, content_type="text/csv"))
    influx = provider(backend.url)
    try:
        with pytest.raises(NoData):
            await influx.value(FLUX, now=NOW)
    finally:
        await influx.aclose()


async def test_a_non_numeric_value_is_an_error(serve: Serve) -> None:
    backend = await serve(
        reply_text(",result,table,_value\r\n,,0,oops\r\n", content_type="text/csv")
    )
    influx = provider(backend.url)
    try:
        with pytest.raises(ProviderError, match="_value is not a number: oops"):
            await influx.value(FLUX, now=NOW)
    finally:
        await influx.aclose()


async def test_an_in_band_error_table_is_an_error(serve: Serve) -> None:
    body = ",error,reference\r\n,type error @1:1-1:5: undefined identifier frm,897\r\n"
    backend = await serve(reply_text(body, content_type="text/csv"))
    influx = provider(backend.url)
    try:
        with pytest.raises(ProviderError, match="undefined identifier frm"):
            await influx.value(FLUX, now=NOW)
    finally:
        await influx.aclose()


async def test_http_error_names_the_status_and_hides_the_token(
    serve: Serve, secrets_hidden: SecretsHidden
) -> None:
    body = '{"code":"unauthorized","message":"unauthorized access"}'
    backend = await serve(reply_text(body, status=401, content_type="application/json"))
    influx = provider(backend.url, credentials=CREDENTIALS)
    try:
        with pytest.raises(ProviderError, match=r"HTTP 401.*unauthorized access") as caught:
            await influx.value(FLUX, now=NOW)
    finally:
        await influx.aclose()
    secrets_hidden(TOKEN, errors=[caught.value])


def test_address_is_required() -> None:
    with pytest.raises(
        ProviderConfigError, match=r"spec.provider.address is required for influxdb"
    ):
        provider(None)


def test_a_secret_needs_org_as_well_as_token() -> None:
    with pytest.raises(ProviderConfigError, match="secret key 'org' is missing"):
        provider("http://127.0.0.1:9", credentials={"token": TOKEN})
