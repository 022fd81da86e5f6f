"""Amazon CloudWatch `GetMetricData`, signed with AWS Signature Version 4. Does I/O.

Flagger uses the AWS SDK; Ensign speaks the AWS JSON 1.0 protocol over its own async HTTP
client (`POST /` with `X-Amz-Target: GraniteServiceVersion20100801.GetMetricData`) and
leaves credentials and signing to botocore (`aws_credentials`, the `ensign[aws]` extra).

- The query is a JSON array of `MetricDataQuery` objects, as in Flagger. Go's JSON decoder
  matches field names case-insensitively, so Flagger accepts `"id"` for `"Id"`; Ensign
  rewrites the known MetricDataQuery field names to their canonical spelling for the same
  effect.
- The range is [now - 10 x interval, now] with `MaxDatapoints` 20; the value is
  `MetricDataResults[0].Values[0]` (CloudWatch lists the newest point first); no values is
  "no data".
- Credentials: the Secret keys `aws_access_key_id`, `aws_secret_access_key` and optional
  `aws_session_token`, else the standard AWS chain (environment, IRSA web identity,
  profiles, EKS Pod Identity / container credentials, instance role); see
  `aws_credentials`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import ClassVar

import httpx2

from ensign.metricproviders.aws_credentials import AwsCredentialSource, sign_request
from ensign.metricproviders.base import (
    NoData,
    ProviderConfig,
    ProviderConfigError,
    ProviderError,
    Window,
)
from ensign.metricproviders.wire import ProviderHttp, base_url, lookback_start
from ensign.model import MetricProviderType

SERVICE = "monitoring"
TARGET = "GraniteServiceVersion20100801.GetMetricData"
CONTENT_TYPE = "application/x-amz-json-1.0"
VALUE_MAX_DATAPOINTS = 20
MAX_PAGES = 20
"""Pages of a samples answer followed through `NextToken` before giving up."""

_CANONICAL_FIELDS = {
    name.lower(): name
    for name in (
        "Id", "Expression", "Label", "MetricStat", "ReturnData", "Period", "AccountId",
        "Metric", "Stat", "Unit", "Namespace", "MetricName", "Dimensions", "Name", "Value",
    )
}  # fmt: skip


def canonical_queries(query: str) -> list[dict[str, object]]:
    """The template's query as a list of MetricDataQuery objects with canonical field names;
    raises `ProviderError` naming the problem."""
    try:
        decoded: object = json.loads(query)
    except ValueError as exc:
        raise ProviderError(f"cloudwatch: the query is not valid JSON: {exc}") from None
    if not isinstance(decoded, list) or not decoded:
        raise ProviderError(
            "cloudwatch: the query must be a non-empty JSON array of MetricDataQuery objects"
        )
    queries: list[dict[str, object]] = []
    for i, item in enumerate(decoded):
        if not isinstance(item, dict):
            raise ProviderError(f"cloudwatch: query item {i} is not a MetricDataQuery object")
        queries.append(_canonical(item))
    return queries


def _canonical(item: dict[str, object]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in item.items():
        name = _CANONICAL_FIELDS.get(key.lower(), key)
        if isinstance(value, dict):
            value = _canonical(value)
        elif isinstance(value, list):
            value = [_canonical(v) if isinstance(v, dict) else v for v in value]
        result[name] = value
    return result


class CloudWatchProvider:
    """CloudWatch `GetMetricData` over [now - 10 x interval, now] (value) or a window."""

    type: ClassVar[MetricProviderType] = MetricProviderType.CLOUDWATCH
    supports_samples: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        if not config.region:
            raise ProviderConfigError("spec.provider.region is required for cloudwatch")
        self._region = config.region
        self._credentials = AwsCredentialSource(config.credentials, region=config.region)
        self._url = (
            base_url(config, default=f"https://monitoring.{config.region}.amazonaws.com") + "/"
        )
        self._interval = config.interval_seconds
        self._http = ProviderHttp(config, client=client, secrets=self._credentials.static_secrets)

    async def value(self, query: str, *, now: datetime) -> float:
        queries = canonical_queries(query)
        answer = await self._call(
            queries, lookback_start(now, self._interval), now, max_datapoints=VALUE_MAX_DATAPOINTS
        )
        results = self._http.as_list(answer.get("MetricDataResults") or [], "MetricDataResults")
        if not results:
            raise NoData("cloudwatch returned no MetricDataResults")
        values = self._http.as_list(
            self._http.as_dict(results[0], "MetricDataResults[0]").get("Values") or [],
            "MetricDataResults[0].Values",
        )
        if not values:
            raise NoData("cloudwatch returned no values")
        value = self._http.as_float(values[0], "MetricDataResults[0].Values[0]")
        if value is None:
            raise NoData("cloudwatch returned NaN")
        return value

    async def samples(self, query: str, window: Window) -> list[float]:
        queries = canonical_queries(query)
        points: list[tuple[float, float]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            answer = await self._call(queries, window.start, window.end, next_token=token)
            points += self._points(answer)
            next_token = answer.get("NextToken")
            if not isinstance(next_token, str) or not next_token:
                break
            token = next_token
        start, end = window.start.timestamp(), window.end.timestamp()
        inside = sorted((p for p in points if start <= p[0] <= end), key=lambda p: p[0])
        if not inside:
            raise NoData("cloudwatch returned no values in the window")
        return [value for _, value in inside]

    async def aclose(self) -> None:
        await self._http.aclose()

    def _points(self, answer: dict[str, object]) -> list[tuple[float, float]]:
        points: list[tuple[float, float]] = []
        results = self._http.as_list(answer.get("MetricDataResults") or [], "MetricDataResults")
        for i, raw in enumerate(results):
            result = self._http.as_dict(raw, f"MetricDataResults[{i}]")
            stamps = self._http.as_list(
                result.get("Timestamps") or [], f"MetricDataResults[{i}].Timestamps"
            )
            values = self._http.as_list(
                result.get("Values") or [], f"MetricDataResults[{i}].Values"
            )
            for stamp, raw_value in zip(stamps, values, strict=False):
                when = self._http.as_float(stamp, f"MetricDataResults[{i}].Timestamps")
                value = self._http.as_float(raw_value, f"MetricDataResults[{i}].Values")
                if when is not None and value is not None:
                    points.append((when, value))
        return points

    async def _call(
        self,
        queries: list[dict[str, object]],
        start: datetime,
        end: datetime,
        *,
        max_datapoints: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, object]:
        request: dict[str, object] = {
            "MetricDataQueries": queries,
            "StartTime": int(start.timestamp()),
            "EndTime": int(end.timestamp()),
        }
        if max_datapoints is not None:
            request["MaxDatapoints"] = max_datapoints
        if next_token is not None:
            request["NextToken"] = next_token
        body = json.dumps(request, separators=(",", ":")).encode()
        keys = await self._credentials.keys()
        for secret in keys.secrets:
            self._http.add_secret(secret)
        headers = sign_request(
            url=self._url,
            headers={
                "Content-Type": CONTENT_TYPE,
                "X-Amz-Target": TARGET,
                "Accept": "application/json",
            },
            body=body,
            keys=keys,
            region=self._region,
            service=SERVICE,
        )
        answer = await self._http.send_json("POST", self._url, content=body, headers=headers)
        return self._http.as_dict(answer, "response")
