"""Splunk Observability (SignalFx) SignalFlow programs. Does I/O.

Flagger runs SignalFlow over the WebSocket API; Ensign uses the equivalent HTTP streaming
endpoint, `POST <stream>/v2/signalflow/execute?start=<ms>&stop=<ms>&immediate=true` with the
program as a `text/plain` body and the `X-SF-Token` header, answered with Server-Sent
Events. `https://api.<realm>.signalfx.com` is rewritten to `https://stream.<realm>...`, as
Flagger does for its WebSocket URL; any other address is used as it is.

Reading stops at the `END_OF_CHANNEL` control message (or the end of the stream). As
Flagger: more than one distinct time series (`tsId`) is the error "query returned multiple
values"; otherwise the last value is the value; none is "no data". Samples are every value
of every series in logical-timestamp order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import httpx2

from ensign.metricproviders.base import NoData, ProviderConfig, Window
from ensign.metricproviders.wire import ProviderHttp, base_url, lookback_start, required_secret
from ensign.model import MetricProviderType

TOKEN = "sf_token_key"
_API_HOST = re.compile(r"^https://api(\.[a-z0-9-]+)?\.signalfx\.com$", re.IGNORECASE)


def stream_base(address: str) -> str:
    """The SignalFlow streaming host for an API address."""
    match = _API_HOST.match(address)
    if match is None:
        return address
    return f"https://stream{match.group(1) or ''}.signalfx.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalFlowPoint:
    ts_id: str
    timestamp: float
    value: float


class SplunkProvider:
    """SignalFlow over HTTP Server-Sent Events."""

    type: ClassVar[MetricProviderType] = MetricProviderType.SPLUNK
    supports_samples: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        address = base_url(config)
        token = required_secret(config.credentials, TOKEN, "splunk")
        self._url = stream_base(address) + "/v2/signalflow/execute"
        self._headers = {
            "X-SF-Token": token,
            "Content-Type": "text/plain",
            "Accept": "text/event-stream",
        }
        self._interval = config.interval_seconds
        self._http = ProviderHttp(config, client=client, secrets=(token,))

    async def value(self, query: str, *, now: datetime) -> float:
        points = await self._execute(query, lookback_start(now, self._interval), now)
        if not points:
            raise NoData("splunk returned no values")
        if len({point.ts_id for point in points}) > 1:
            raise self._http.error("query returned multiple values")
        return points[-1].value

    async def samples(self, query: str, window: Window) -> list[float]:
        points = await self._execute(query, window.start, window.end)
        if not points:
            raise NoData("splunk returned no values")
        return [point.value for point in sorted(points, key=lambda point: point.timestamp)]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _execute(
        self, program: str, start: datetime, stop: datetime
    ) -> list[SignalFlowPoint]:
        params = {
            "start": str(int(start.timestamp() * 1000)),
            "stop": str(int(stop.timestamp() * 1000)),
            "immediate": "true",
        }
        return await self._http.exchange(
            "POST",
            self._url,
            read=self._read_events,
            params=params,
            content=program.encode(),
            headers=self._headers,
        )

    async def _read_events(self, response: httpx2.Response) -> list[SignalFlowPoint]:
        points: list[SignalFlowPoint] = []
        async for event in httpx2.EventSource(response):
            if event.event not in {"data", "control-message", "error"}:
                continue  # metadata, message, expired-tsid: nothing to collect
            try:
                payload: object = json.loads(event.data)
            except ValueError:
                raise self._http.error(f"a {event.event} event is not JSON") from None
            message = self._http.as_dict(payload, f"{event.event} event")
            if event.event == "error":
                raise self._http.error(f"SignalFlow error: {json.dumps(message)[:256]}")
            if event.event == "control-message":
                if message.get("event") == "CHANNEL_ABORT":
                    raise self._http.error(
                        f"SignalFlow channel aborted: {json.dumps(message.get('abortInfo'))[:256]}"
                    )
                if message.get("event") == "END_OF_CHANNEL":
                    break
                continue
            stamp = (
                self._http.as_float(message.get("logicalTimestampMs"), "logicalTimestampMs") or 0.0
            )
            for i, raw in enumerate(self._http.as_list(message.get("data") or [], "data")):
                datum = self._http.as_dict(raw, f"data[{i}]")
                value = self._http.as_float(datum.get("value"), f"data[{i}].value")
                if value is not None:
                    points.append(
                        SignalFlowPoint(
                            ts_id=str(datum.get("tsId", "")), timestamp=stamp, value=value
                        )
                    )
        return points
