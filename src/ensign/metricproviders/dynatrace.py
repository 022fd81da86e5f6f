"""Dynatrace metrics API v2 (`GET /api/v2/metrics/query`). Does I/O.

As Flagger: `metricSelector` is the query, `resolution=Inf` folds the range into one point,
the range is [now - 10 x interval, now] in milliseconds, the token travels as
`Authorization: Api-Token <token>`, and the value is `result[0].data[last].values[0]`;
no result, no data entries or a null value is "no data".

For samples the resolution follows the window's step (`30s`, `1m`, `2h`), so every
timestamp of every data entry comes back; nulls (gaps) are skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import httpx2

from ensign.metricproviders.base import NoData, ProviderConfig, ProviderConfigError, Window
from ensign.metricproviders.wire import ProviderHttp, base_url, lookback_start, required_secret
from ensign.model import MetricProviderType

TOKEN = "dynatrace_token"


def resolution(step_seconds: float) -> str:
    """A Dynatrace resolution string for a step: whole hours, minutes, or seconds."""
    seconds = max(1, round(step_seconds))
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


class DynatraceProvider:
    """Dynatrace metric selector queries."""

    type: ClassVar[MetricProviderType] = MetricProviderType.DYNATRACE
    supports_samples: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        if not (config.address or "").strip():
            raise ProviderConfigError(
                "dynatrace endpoint is not set: spec.provider.address is required for dynatrace"
            )
        self._url = base_url(config) + "/api/v2/metrics/query"
        token = required_secret(config.credentials, TOKEN, "dynatrace")
        self._headers = {"Authorization": f"Api-Token {token}", "Accept": "application/json"}
        self._interval = config.interval_seconds
        self._http = ProviderHttp(config, client=client, secrets=(token,))

    async def value(self, query: str, *, now: datetime) -> float:
        results = await self._results(query, lookback_start(now, self._interval), now, "Inf")
        if not results:
            raise NoData("dynatrace returned no result")
        data = self._http.as_list(
            self._http.as_dict(results[0], "result[0]").get("data") or [], "result[0].data"
        )
        if not data:
            raise NoData("dynatrace returned no data")
        values = self._http.as_list(
            self._http.as_dict(data[-1], "result[0].data[last]").get("values") or [], "values"
        )
        value = self._http.as_float(values[0], "result[0].data[last].values[0]") if values else None
        if value is None:
            raise NoData("dynatrace returned no value")
        return value

    async def samples(self, query: str, window: Window) -> list[float]:
        results = await self._results(
            query, window.start, window.end, resolution(window.step_seconds)
        )
        points: list[tuple[float, float]] = []
        for i, raw in enumerate(results):
            result = self._http.as_dict(raw, f"result[{i}]")
            for j, entry in enumerate(
                self._http.as_list(result.get("data") or [], f"result[{i}].data")
            ):
                where = f"result[{i}].data[{j}]"
                data = self._http.as_dict(entry, where)
                stamps = self._http.as_list(data.get("timestamps") or [], f"{where}.timestamps")
                values = self._http.as_list(data.get("values") or [], f"{where}.values")
                for k, raw_value in enumerate(values):
                    value = self._http.as_float(raw_value, f"{where}.values[{k}]")
                    stamp = (
                        self._http.as_float(stamps[k], f"{where}.timestamps[{k}]")
                        if k < len(stamps)
                        else None
                    )
                    if value is not None:
                        points.append((stamp if stamp is not None else 0.0, value))
        if not points:
            raise NoData("dynatrace returned no values in the window")
        return [value for _, value in sorted(points, key=lambda point: point[0])]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _results(
        self, query: str, start: datetime, end: datetime, resolution: str
    ) -> list[object]:
        params = {
            "metricSelector": query,
            "resolution": resolution,
            "from": str(int(start.timestamp() * 1000)),
            "to": str(int(end.timestamp() * 1000)),
        }
        answer = self._http.as_dict(
            await self._http.send_json("GET", self._url, params=params, headers=self._headers),
            "response",
        )
        return self._http.as_list(answer.get("result") or [], "result")
