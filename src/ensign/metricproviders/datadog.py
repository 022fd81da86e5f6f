"""Datadog metric queries (`GET /api/v1/query`). Does I/O.

As Flagger: the range is [now - 10 x interval, now] in unix seconds, the keys travel in the
`DD-API-KEY` and `DD-APPLICATION-KEY` headers, and the value is `series[0].pointlist[0][1]`
- the *first* (oldest) point of the first series, not the latest. Ensign keeps that choice
so that a template gives the same number under both controllers; write the query so that it
yields one point (e.g. with `.rollup(avg, <range>)`) when the distinction matters. A null
point, or no series or points at all, is "no data".
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import httpx2

from ensign.metricproviders.base import NoData, ProviderConfig, Window
from ensign.metricproviders.wire import ProviderHttp, base_url, lookback_start, required_secret
from ensign.model import MetricProviderType

DEFAULT_ADDRESS = "https://api.datadoghq.com"
API_KEY = "datadog_api_key"
APPLICATION_KEY = "datadog_application_key"


class DatadogProvider:
    """Datadog's v1 metrics query API; samples are every non-null point in the window."""

    type: ClassVar[MetricProviderType] = MetricProviderType.DATADOG
    supports_samples: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        api_key = required_secret(config.credentials, API_KEY, "datadog")
        application_key = required_secret(config.credentials, APPLICATION_KEY, "datadog")
        self._url = base_url(config, default=DEFAULT_ADDRESS) + "/api/v1/query"
        self._headers = {
            "DD-API-KEY": api_key,
            "DD-APPLICATION-KEY": application_key,
            "Accept": "application/json",
        }
        self._interval = config.interval_seconds
        self._http = ProviderHttp(config, client=client, secrets=(api_key, application_key))

    async def value(self, query: str, *, now: datetime) -> float:
        series = await self._series(query, lookback_start(now, self._interval), now)
        if not series:
            raise NoData("datadog returned no series")
        points = self._http.as_list(
            self._http.as_dict(series[0], "series[0]").get("pointlist"), "series[0].pointlist"
        )
        if not points:
            raise NoData("datadog returned an empty pointlist")
        value = self._http.as_float(
            self._point(points[0], "series[0].pointlist[0]")[1], "series[0].pointlist[0][1]"
        )
        if value is None:
            raise NoData("datadog returned a null point")
        return value

    async def samples(self, query: str, window: Window) -> list[float]:
        series = await self._series(query, window.start, window.end)
        start_ms, end_ms = window.start.timestamp() * 1000, window.end.timestamp() * 1000
        points: list[tuple[float, float]] = []
        for i, entry in enumerate(series):
            pointlist = self._http.as_dict(entry, f"series[{i}]").get("pointlist") or []
            for j, raw in enumerate(self._http.as_list(pointlist, f"series[{i}].pointlist")):
                timestamp, value = self._point(raw, f"series[{i}].pointlist[{j}]")
                number = self._http.as_float(value, f"series[{i}].pointlist[{j}][1]")
                stamp = self._http.as_float(timestamp, f"series[{i}].pointlist[{j}][0]")
                if number is not None and stamp is not None and start_ms <= stamp <= end_ms:
                    points.append((stamp, number))
        if not points:
            raise NoData("datadog returned no points in the window")
        return [value for _, value in sorted(points, key=lambda point: point[0])]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _series(self, query: str, start: datetime, end: datetime) -> list[object]:
        params = {
            "query": query,
            "from": str(int(start.timestamp())),
            "to": str(int(end.timestamp())),
        }
        answer = self._http.as_dict(
            await self._http.send_json("GET", self._url, params=params, headers=self._headers),
            "response",
        )
        if answer.get("status") == "error":
            raise self._http.error(f"query failed: {answer.get('error', 'no error text')}")
        return self._http.as_list(answer.get("series") or [], "series")

    def _point(self, raw: object, what: str) -> tuple[object, object]:
        point = self._http.as_list(raw, what)
        if len(point) < 2:
            raise self._http.error(f"unexpected response: {what} is not a [timestamp, value] pair")
        return point[0], point[1]
