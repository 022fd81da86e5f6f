"""Amazon CloudWatch `GetMetricData`, signed with AWS Signature Version 4. Does I/O.

Flagger uses the AWS SDK; Ensign speaks the AWS JSON 1.0 protocol directly (`POST /` with
`X-Amz-Target: GraniteServiceVersion20100801.GetMetricData`) and signs with `sign_v4`,
written against AWS's published algorithm and checked against its test suite.

- The query is a JSON array of `MetricDataQuery` objects, as in Flagger. Go's JSON decoder
  matches field names case-insensitively, so Flagger accepts `"id"` for `"Id"`; Ensign
  rewrites the known MetricDataQuery field names to their canonical spelling for the same
  effect.
- The range is [now - 10 x interval, now] with `MaxDatapoints` 20; the value is
  `MetricDataResults[0].Values[0]` (CloudWatch lists the newest point first); no values is
  "no data".
- Credentials: the Secret keys `aws_access_key_id`, `aws_secret_access_key` and optional
  `aws_session_token`, else the environment variables of the same names in upper case.
  Flagger's SDK chain also knows IRSA web identity tokens, profiles and instance roles;
  Ensign does not (a missing credential is a config error that says so).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import quote, unquote_plus, urlsplit

import httpx2

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

ACCESS_KEY_ID = "aws_access_key_id"
SECRET_ACCESS_KEY = "aws_secret_access_key"
SESSION_TOKEN = "aws_session_token"

_CANONICAL_FIELDS = {
    name.lower(): name
    for name in (
        "Id", "Expression", "Label", "MetricStat", "ReturnData", "Period", "AccountId",
        "Metric", "Stat", "Unit", "Namespace", "MetricName", "Dimensions", "Name", "Value",
    )
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def resolve_credentials(
    credentials: Mapping[str, str] | None, environ: Mapping[str, str] | None = None
) -> AwsCredentials:
    """The Secret's keys when it names an access key, else the environment.

    A Secret with only one of the two keys is an error naming the other, rather than a
    silent switch to the environment.
    """
    secret = credentials or {}
    if secret.get(ACCESS_KEY_ID) or secret.get(SECRET_ACCESS_KEY):
        for key in (ACCESS_KEY_ID, SECRET_ACCESS_KEY):
            if not secret.get(key):
                raise ProviderConfigError(f"secret key {key!r} is missing for cloudwatch")
        return AwsCredentials(
            access_key_id=secret[ACCESS_KEY_ID],
            secret_access_key=secret[SECRET_ACCESS_KEY],
            session_token=secret.get(SESSION_TOKEN) or None,
        )
    env = os.environ if environ is None else environ
    key_id, key = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
    if not key_id or not key:
        raise ProviderConfigError(
            "cloudwatch has no AWS credentials: set the secret keys 'aws_access_key_id' and "
            "'aws_secret_access_key' (optional 'aws_session_token'), or the environment "
            "variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return AwsCredentials(
        access_key_id=key_id,
        secret_access_key=key,
        session_token=env.get("AWS_SESSION_TOKEN") or None,
    )


def sign_v4(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: AwsCredentials,
    region: str,
    service: str,
    when: datetime,
) -> dict[str, str]:
    """The headers that sign a request with AWS Signature Version 4.

    `headers` must hold every header to sign except `Host`, `X-Amz-Date` and
    `X-Amz-Security-Token`, which are added here (and returned, with `Authorization`).
    Path segments are encoded once more, as for every service except S3.
    """
    amz_date = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    parts = urlsplit(url)
    signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    added = {"X-Amz-Date": amz_date}
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
        added["X-Amz-Security-Token"] = credentials.session_token
    names = sorted(signed)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [
            method.upper(),
            quote(parts.path or "/", safe="/-_.~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    added["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return added


def _canonical_query(query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for item in query.split("&") if query else []:
        name, _, value = item.partition("=")
        pairs.append((_encode(name), _encode(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _encode(text: str) -> str:
    return quote(unquote_plus(text), safe="-_.~")


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
        self._credentials = resolve_credentials(config.credentials)
        self._url = (
            base_url(config, default=f"https://monitoring.{config.region}.amazonaws.com") + "/"
        )
        self._interval = config.interval_seconds
        secrets = (
            self._credentials.access_key_id,
            self._credentials.secret_access_key,
            self._credentials.session_token or "",
        )
        self._http = ProviderHttp(config, client=client, secrets=secrets)

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
        headers = {
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Target": TARGET,
            "Accept": "application/json",
        }
        headers |= sign_v4(
            method="POST",
            url=self._url,
            headers=headers,
            body=body,
            credentials=self._credentials,
            region=self._region,
            service=SERVICE,
            when=datetime.now(UTC),
        )
        answer = await self._http.send_json("POST", self._url, content=body, headers=headers)
        return self._http.as_dict(answer, "response")
