"""Splunk Observability: the SignalFlow execute request, the Server-Sent Events answer
(multi-line JSON, control messages), one series vs several, no data, errors, secrets."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from ensign.metricproviders import NoData, ProviderConfigError, ProviderError, Window
from ensign.metricproviders.splunk import SplunkProvider, stream_base
from ensign.model import MetricProviderType

from .conftest import NOW, NOW_S, Handler, SecretsHidden, Serve, config

TOKEN = "sfx-access-token-XYZ987"
PROGRAM = "data('demo.trans.latency', filter=filter('demo_datacenter', 'Tokyo')).mean().publish()"


def event(kind: str, payload: dict[str, Any]) -> str:
    """One SSE message with pretty-printed (multi-line) JSON, as SignalFlow sends it."""
    lines = json.dumps(payload, indent=2).splitlines()
    return f"event: {kind}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def control(name: str, **extra: Any) -> str:
    return event("control-message", {"event": name, "timestampMs": NOW_S * 1000, **extra})


def data(offset_s: int, *values: tuple[str, float | None]) -> str:
    return event(
        "data",
        {
            "data": [{"tsId": ts, "value": v} for ts, v in values],
            "logicalTimestampMs": (NOW_S + offset_s) * 1000,
            "maxDelayMs": 0,
        },
    )


def stream(*messages: str, linger: float = 0.0) -> Handler:
    async def answer(request: web.Request, _: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for message in messages:
            await response.write(message.encode())
        if linger:
            await asyncio.sleep(linger)  # a server that keeps the channel open
        await response.write_eof()
        return response

    return answer


def provider(address: str | None, **fields: Any) -> SplunkProvider:
    fields.setdefault("credentials", {"sf_token_key": TOKEN})
    return SplunkProvider(config(MetricProviderType.SPLUNK, address=address, **fields))


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("https://api.us1.signalfx.com", "https://stream.us1.signalfx.com"),
        ("https://api.signalfx.com", "https://stream.signalfx.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_stream_base_rewrites_api_hosts(address: str, expected: str) -> None:
    assert stream_base(address) == expected


async def test_value_is_the_last_value_of_the_single_series(serve: Serve) -> None:
    messages = [
        control("STREAM_START"),
        control("JOB_START", handle="HAND"),
        event("metadata", {"tsId": "AAAA", "properties": {"sf_metric": "demo.trans.latency"}}),
        data(-120, ("AAAA", 1.0)),
        data(-60, ("AAAA", None)),
        data(0, ("AAAA", 2.5)),
        control("END_OF_CHANNEL"),
    ]
    backend = await serve(stream(*messages))
    sf = provider(backend.url, interval_seconds=30)
    try:
        assert await sf.value(PROGRAM, now=NOW) == 2.5
    finally:
        await sf.aclose()
    [seen] = backend.seen
    assert (seen.method, seen.path) == ("POST", "/v2/signalflow/execute")
    assert seen.query == {
        "start": str((NOW_S - 300) * 1000),
        "stop": str(NOW_S * 1000),
        "immediate": "true",
    }
    assert seen.headers["X-SF-Token"] == TOKEN
    assert seen.headers["Content-Type"] == "text/plain"
    assert seen.body.decode() == PROGRAM


async def test_reading_stops_at_end_of_channel(serve: Serve) -> None:
    backend = await serve(stream(data(0, ("AAAA", 4.0)), control("END_OF_CHANNEL"), linger=5.0))
    sf = provider(backend.url)
    started = time.monotonic()
    try:
        assert await sf.value(PROGRAM, now=NOW) == 4.0
    finally:
        await sf.aclose()
    assert time.monotonic() - started < 2.0


async def test_several_series_are_multiple_values(serve: Serve) -> None:
    backend = await serve(stream(data(0, ("AAAA", 1.0), ("BBBB", 2.0)), control("END_OF_CHANNEL")))
    sf = provider(backend.url)
    try:
        with pytest.raises(ProviderError, match="query returned multiple values"):
            await sf.value(PROGRAM, now=NOW)
    finally:
        await sf.aclose()


async def test_samples_are_every_value_of_every_series_in_order(serve: Serve) -> None:
    messages = [
        data(-120, ("AAAA", 1.0), ("BBBB", 2.0)),
        data(-60, ("AAAA", 3.0)),
        data(0, ("BBBB", 4.0)),
    ]
    backend = await serve(stream(*messages))  # the stream just ends: also fine
    sf = provider(backend.url)
    window = Window(start=NOW - timedelta(minutes=3), end=NOW, step_seconds=60)
    try:
        assert await sf.samples(PROGRAM, window) == [1.0, 2.0, 3.0, 4.0]
    finally:
        await sf.aclose()
    assert backend.seen[0].query["start"] == str((NOW_S - 180) * 1000)


async def test_no_data_messages_is_no_data(serve: Serve) -> None:
    backend = await serve(stream(control("STREAM_START"), control("END_OF_CHANNEL")))
    sf = provider(backend.url)
    try:
        with pytest.raises(NoData):
            await sf.value(PROGRAM, now=NOW)
    finally:
        await sf.aclose()


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (
            event("error", {"error": 400, "errors": [{"code": "ANALYTICS_PROGRAM_NAME_ERROR"}]}),
            "ANALYTICS_PROGRAM_NAME_ERROR",
        ),
        (control("CHANNEL_ABORT", abortInfo={"sf_job_abortState": "FAILED"}), "aborted.*FAILED"),
    ],
)
async def test_error_and_abort_messages_are_provider_errors(
    serve: Serve, message: str, text: str
) -> None:
    backend = await serve(stream(data(0, ("AAAA", 1.0)), message))
    sf = provider(backend.url)
    try:
        with pytest.raises(ProviderError, match=text):
            await sf.value(PROGRAM, now=NOW)
    finally:
        await sf.aclose()


async def test_http_error_names_the_status_and_hides_the_token(
    serve: Serve, secrets_hidden: SecretsHidden
) -> None:
    async def unauthorized(request: web.Request, _: bytes) -> web.StreamResponse:
        return web.json_response(
            {"code": 401, "message": f"token {TOKEN} is not authorized"}, status=401
        )

    backend = await serve(unauthorized)
    sf = provider(backend.url)
    try:
        with pytest.raises(ProviderError, match="HTTP 401") as caught:
            await sf.value(PROGRAM, now=NOW)
    finally:
        await sf.aclose()
    secrets_hidden(TOKEN, errors=[caught.value])


def test_address_and_token_are_required() -> None:
    with pytest.raises(ProviderConfigError, match=r"spec.provider.address is required for splunk"):
        provider(None)
    with pytest.raises(ProviderConfigError, match="secret key 'sf_token_key' is missing"):
        provider("https://api.us1.signalfx.com", credentials={})
