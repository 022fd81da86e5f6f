"""Graphite render API. Does I/O.

As Flagger: the template's query is a URL query string (`target=...&from=-5min`); runs of
whitespace become one space, `format=json` is added, and the value is the last non-null
datapoint met while walking every returned series in order (`[[value, timestamp], ...]`).
With a Secret, `username` and `password` are both required and sent as HTTP Basic auth.

For samples, `from` and `until` are replaced by the window (unix seconds) and every non-null
datapoint of every series is returned, oldest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from urllib.parse import parse_qsl

import httpx2

from ensign.metricproviders.base import NoData, ProviderConfig, Window
from ensign.metricproviders.wire import (
    ProviderHttp,
    base_url,
    basic_authorization,
    required_secret,
)
from ensign.model import MetricProviderType

USERNAME = "username"
PASSWORD = "password"


def render_params(query: str) -> list[tuple[str, str]]:
    """The query string's parameters, whitespace collapsed, with `format=json`."""
    collapsed = " ".join(query.split())
    pairs = parse_qsl(collapsed, keep_blank_values=True)
    params = [(k.strip(), v.strip()) for k, v in pairs if k.strip() != "format"]
    return [*params, ("format", "json")]


class GraphiteProvider:
    """Graphite `/render` with JSON output."""

    type: ClassVar[MetricProviderType] = MetricProviderType.GRAPHITE
    supports_samples: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        self._url = base_url(config) + "/render"
        self._headers = {"Accept": "application/json"}
        secrets: tuple[str, ...] = ()
        if config.credentials:
            username = required_secret(config.credentials, USERNAME, "graphite")
            password = required_secret(config.credentials, PASSWORD, "graphite")
            header = basic_authorization(username, password)
            self._headers["Authorization"] = header
            secrets = (password, header.removeprefix("Basic "))
        self._http = ProviderHttp(config, client=client, secrets=secrets)

    async def value(self, query: str, *, now: datetime) -> float:
        points = await self._points(render_params(query))
        if not points:
            raise NoData("graphite returned no non-null datapoints")
        return points[-1][1]

    async def samples(self, query: str, window: Window) -> list[float]:
        params = [(k, v) for k, v in render_params(query) if k not in {"from", "until"}]
        params += [
            ("from", str(int(window.start.timestamp()))),
            ("until", str(int(window.end.timestamp()))),
        ]
        points = await self._points(params)
        if not points:
            raise NoData("graphite returned no non-null datapoints in the window")
        return [value for _, value in sorted(points, key=lambda point: point[0])]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _points(self, params: list[tuple[str, str]]) -> list[tuple[float, float]]:
        """Every non-null (timestamp, value) in response order."""
        answer = await self._http.send_json("GET", self._url, params=params, headers=self._headers)
        points: list[tuple[float, float]] = []
        for i, raw in enumerate(self._http.as_list(answer, "response")):
            series = self._http.as_dict(raw, f"[{i}]")
            for j, pair in enumerate(
                self._http.as_list(series.get("datapoints") or [], f"[{i}].datapoints")
            ):
                datapoint = self._http.as_list(pair, f"[{i}].datapoints[{j}]")
                if len(datapoint) < 2:
                    raise self._http.error(
                        f"unexpected response: [{i}].datapoints[{j}] is not a [value, timestamp] pair"
                    )
                value = self._http.as_float(datapoint[0], f"[{i}].datapoints[{j}][0]")
                stamp = self._http.as_float(datapoint[1], f"[{i}].datapoints[{j}][1]")
                if value is not None:
                    points.append((stamp if stamp is not None else 0.0, value))
        return points
