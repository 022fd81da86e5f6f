"""InfluxDB 2 Flux queries (`POST /api/v2/query`, annotated CSV answer). Does I/O.

Flagger uses the official Go client; Ensign sends the same request itself: a JSON body
`{"query": <flux>, "type": "flux", "now": <the check's time>}` with `Authorization: Token
<token>` and `?org=<org>` when the Secret gives them (both required then). The answer is
annotated CSV: `#` annotation rows, one header row per table, tables separated by blank
lines. The value is the first record's `_value`; null is "no data", anything not numeric is
an error. InfluxDB's own in-band error table (an `error` column) becomes a `ProviderError`.

Ensign difference: an answer with no records is "no data"; Flagger returns 0 without error,
which can pass a `max` threshold on a query that matched nothing.

Samples are every non-null `_value` of every table, ordered by `_time` when present. The
range is the one the Flux query states; `now` is set to the window's end so that relative
ranges (`range(start: -5m)`) line up with it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import httpx2

from ensign.metricproviders.base import NoData, ProviderConfig, Window
from ensign.metricproviders.wire import ProviderHttp, base_url, required_secret, rfc3339_seconds
from ensign.model import MetricProviderType

TOKEN = "token"
ORG = "org"
DIALECT = {"header": True, "delimiter": ",", "annotations": ["datatype", "group", "default"]}


@dataclass(frozen=True, slots=True, kw_only=True)
class FluxRecord:
    """One CSV record: `_value` as text (empty for null) and `_time` if the table has one."""

    value: str
    time: str | None


def parse_annotated_csv(text: str) -> tuple[list[FluxRecord], str | None]:
    """Records of every table, in order, and InfluxDB's in-band error message if any.

    Each table starts with a header row after its annotations (or after a blank line); the
    first column is the unnamed annotation column.
    """
    records: list[FluxRecord] = []
    header: list[str] | None = None
    for row in csv.reader(text.splitlines()):
        if not row or all(not cell.strip() for cell in row):
            header = None
            continue
        if row[0].startswith("#"):
            header = None
            continue
        if header is None:
            header = row
            continue
        cells = dict(zip(header, row, strict=False))
        if "error" in header:
            return records, cells.get("error") or "unknown error"
        if "_value" in cells:
            records.append(FluxRecord(value=cells["_value"], time=cells.get("_time") or None))
    return records, None


class InfluxDBProvider:
    """InfluxDB 2 (or 1.8+ with the v2 API) Flux queries."""

    type: ClassVar[MetricProviderType] = MetricProviderType.INFLUXDB
    supports_samples: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        self._url = base_url(config) + "/api/v2/query"
        self._headers = {"Accept": "application/csv", "Content-Type": "application/json"}
        self._params: dict[str, str] = {}
        secrets: tuple[str, ...] = ()
        if config.credentials:
            token = required_secret(config.credentials, TOKEN, "influxdb")
            self._params["org"] = required_secret(config.credentials, ORG, "influxdb")
            self._headers["Authorization"] = f"Token {token}"
            secrets = (token,)
        self._http = ProviderHttp(config, client=client, secrets=secrets)

    async def value(self, query: str, *, now: datetime) -> float:
        records = await self._records(query, now)
        if not records:
            raise NoData("influxdb returned no records")
        value = self._number(records[0].value)
        if value is None:
            raise NoData("influxdb returned a null _value")
        return value

    async def samples(self, query: str, window: Window) -> list[float]:
        points: list[tuple[float, float]] = []
        for record in await self._records(query, window.end):
            value = self._number(record.value)
            if value is not None:
                stamp = rfc3339_seconds(record.time) if record.time else None
                points.append((stamp if stamp is not None else 0.0, value))
        if not points:
            raise NoData("influxdb returned no values")
        return [value for _, value in sorted(points, key=lambda point: point[0])]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _records(self, query: str, now: datetime) -> list[FluxRecord]:
        body = {
            "query": query,
            "type": "flux",
            "dialect": DIALECT,
            "now": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
        raw = await self._http.send(
            "POST", self._url, params=self._params, json=body, headers=self._headers
        )
        records, error = parse_annotated_csv(raw.decode("utf-8", errors="replace"))
        if error is not None:
            raise self._http.error(f"query failed: {error}")
        return records

    def _number(self, text: str) -> float | None:
        if not text.strip():
            return None
        return self._http.as_float(text.strip(), "_value")
