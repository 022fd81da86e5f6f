"""CloudWatch: SigV4 (botocore's) checked by a verifying server, GetMetricData shape,
values, samples with paging, no data, errors, credentials and secrets."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from ensign.metricproviders import NoData, ProviderConfigError, ProviderError, Window
from ensign.metricproviders.cloudwatch import CloudWatchProvider, canonical_queries
from ensign.model import MetricProviderType

from .conftest import NOW, NOW_S, Backend, SecretsHidden, Seen, Serve, config

KEY_ID = "AKIDTESTCLOUDWATCH"
SECRET = "cw/secret+KEY0123456789abcdefghijklmn"
TOKEN = "session-token-FwoGZXIvYXdzEJr"
REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET}
QUERY = json.dumps(
    [
        {"id": "e1", "expression": "m1 / m2", "label": "Error Rate"},
        {
            "Id": "m1",
            "MetricStat": {
                "metric": {
                    "Namespace": "App",
                    "MetricName": "Errors",
                    "dimensions": [{"name": "Svc", "value": "web"}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
    ]
)


def signature_problem(seen: Seen, secrets: Mapping[str, str]) -> str | None:
    """Recompute the request's SigV4 signature as a server would, with the secret of the
    access key it names (`secrets`: access key id -> secret); None when it holds."""
    scheme, _, rest = seen.headers.get("Authorization", "").partition(" ")
    if scheme != "AWS4-HMAC-SHA256":
        return "not a SigV4 Authorization header"
    parts = dict(item.strip().split("=", 1) for item in rest.split(","))
    key_id, day, region, service, terminator = parts["Credential"].split("/")
    if key_id not in secrets:
        return f"unknown access key {key_id}"
    secret = secrets[key_id]
    signed = parts["SignedHeaders"].split(";")
    lower = {name.lower(): value for name, value in seen.headers.items()}
    if not {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(signed):
        return f"required headers not signed: {signed}"
    stamp = datetime.strptime(lower["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs(time.time() - stamp.timestamp()) > 300 or stamp.strftime("%Y%m%d") != day:
        return "stale or inconsistent x-amz-date"
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(seen.query_items)
    )
    canonical = "\n".join(
        [
            seen.method,
            seen.path,
            query,
            "".join(f"{name}:{' '.join(lower[name].split())}\n" for name in signed),
            ";".join(signed),
            hashlib.sha256(seen.body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/{terminator}"
    to_sign = f"AWS4-HMAC-SHA256\n{lower['x-amz-date']}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + secret).encode()
    for piece in (day, region, service, terminator):
        key = hmac.digest(key, piece.encode(), "sha256")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if (region, service) != (REGION, "monitoring"):
        return f"wrong scope {scope}"
    return None if hmac.compare_digest(expected, parts["Signature"]) else "signature mismatch"


async def serve_cloudwatch(
    serve: Serve, pages: list[dict[str, Any]], *, secrets: Mapping[str, str] | None = None
) -> Backend:
    """A GetMetricData server that checks the signature with `secrets` (access key id ->
    secret; the test key by default), then answers `pages` in turn (the request with
    NextToken 'page-i' gets page i+1)."""
    known = {KEY_ID: SECRET} if secrets is None else secrets
    seen_box: list[list[Seen]] = []

    async def handle(request: web.Request, body: bytes) -> web.StreamResponse:
        seen = seen_box[0][-1]
        problem = signature_problem(seen, known)
        if problem:
            return web.json_response(
                {"__type": "SignatureDoesNotMatch", "message": problem}, status=403
            )
        if request.headers.get("X-Amz-Target") != "GraniteServiceVersion20100801.GetMetricData":
            return web.json_response({"__type": "UnknownOperationException"}, status=400)
        token = json.loads(body).get("NextToken")
        index = 0 if token is None else int(token.removeprefix("page-")) + 1
        page = dict(pages[index])
        if index + 1 < len(pages):
            page["NextToken"] = f"page-{index}"
        return web.json_response(page)

    backend = await serve(handle)
    seen_box.append(backend.seen)
    return backend


def provider(address: str, **fields: Any) -> CloudWatchProvider:
    fields.setdefault("credentials", CREDENTIALS)
    fields.setdefault("region", REGION)
    return CloudWatchProvider(config(MetricProviderType.CLOUDWATCH, address=address, **fields))


async def test_value_is_the_first_value_of_the_first_result_of_a_signed_request(
    serve: Serve,
) -> None:
    answer = {
        "MetricDataResults": [
            {
                "Id": "e1",
                "Timestamps": [NOW_S - 60, NOW_S - 120],
                "Values": [0.25, 0.5],
                "StatusCode": "Complete",
            }
        ]
    }
    backend = await serve_cloudwatch(serve, [answer])
    cw = provider(backend.url, interval_seconds=60)
    try:
        assert await cw.value(QUERY, now=NOW) == 0.25
    finally:
        await cw.aclose()
    [seen] = backend.seen
    assert (seen.method, seen.path) == ("POST", "/")
    assert seen.headers["Content-Type"] == "application/x-amz-json-1.0"
    sent = seen.json()
    assert sent["StartTime"] == NOW_S - 600 and sent["EndTime"] == NOW_S
    assert sent["MaxDatapoints"] == 20
    # Field names are canonicalised as Go's case-insensitive decoder would accept them.
    assert sent["MetricDataQueries"][0] == {
        "Id": "e1",
        "Expression": "m1 / m2",
        "Label": "Error Rate",
    }
    metric = sent["MetricDataQueries"][1]["MetricStat"]["Metric"]
    assert metric["Dimensions"] == [{"Name": "Svc", "Value": "web"}]
    assert "X-Amz-Security-Token" not in seen.headers


async def test_a_wrong_secret_fails_with_the_servers_status(
    serve: Serve, secrets_hidden: SecretsHidden
) -> None:
    backend = await serve_cloudwatch(
        serve, [{"MetricDataResults": []}], secrets={KEY_ID: "another-secret"}
    )
    cw = provider(backend.url)
    try:
        with pytest.raises(ProviderError) as caught:
            await cw.value(QUERY, now=NOW)
    finally:
        await cw.aclose()
    assert "HTTP 403" in str(caught.value) and "SignatureDoesNotMatch" in str(caught.value)
    secrets_hidden(SECRET, errors=[caught.value])


async def test_samples_follow_next_token_and_keep_the_window(serve: Serve) -> None:
    pages = [
        {
            "MetricDataResults": [
                {"Id": "a", "Timestamps": [NOW_S - 60, NOW_S - 240], "Values": [4.0, 1.0]}
            ]
        },
        {
            "MetricDataResults": [
                {"Id": "a", "Timestamps": [NOW_S - 120, NOW_S - 9999], "Values": [3.0, 50.0]}
            ]
        },
    ]
    backend = await serve_cloudwatch(serve, pages)
    cw = provider(backend.url)
    window = Window(start=NOW - timedelta(minutes=5), end=NOW, step_seconds=60)
    try:
        assert await cw.samples(QUERY, window) == [1.0, 3.0, 4.0]
    finally:
        await cw.aclose()
    first, second = (seen.json() for seen in backend.seen)
    assert first["StartTime"] == NOW_S - 300 and "MaxDatapoints" not in first
    assert second["NextToken"] == "page-0"


@pytest.mark.parametrize(
    "answer",
    [{"MetricDataResults": []}, {"MetricDataResults": [{"Id": "e1", "Values": []}]}, {}],
)
async def test_no_values_is_no_data(serve: Serve, answer: dict[str, Any]) -> None:
    backend = await serve_cloudwatch(serve, [answer])
    cw = provider(backend.url)
    try:
        with pytest.raises(NoData):
            await cw.value(QUERY, now=NOW)
    finally:
        await cw.aclose()


@pytest.mark.parametrize(
    ("query", "problem"),
    [("not json", "not valid JSON"), ('{"Id": "m1"}', "JSON array"), ("[1]", "item 0")],
)
def test_a_bad_query_is_a_provider_error_naming_the_problem(query: str, problem: str) -> None:
    with pytest.raises(ProviderError, match=problem):
        canonical_queries(query)


async def test_the_default_endpoint_is_regional() -> None:
    cw = CloudWatchProvider(
        config(MetricProviderType.CLOUDWATCH, region="ap-south-1", credentials=CREDENTIALS)
    )
    assert cw._url == "https://monitoring.ap-south-1.amazonaws.com/"
    await cw.aclose()


def test_region_is_required() -> None:
    with pytest.raises(
        ProviderConfigError, match=r"spec.provider.region is required for cloudwatch"
    ):
        CloudWatchProvider(config(MetricProviderType.CLOUDWATCH, credentials=CREDENTIALS))


def test_a_half_secret_names_the_missing_key(secrets_hidden: SecretsHidden) -> None:
    with pytest.raises(ProviderConfigError, match="'aws_secret_access_key' is missing") as caught:
        CloudWatchProvider(
            config(
                MetricProviderType.CLOUDWATCH,
                region=REGION,
                credentials={"aws_access_key_id": KEY_ID},
            )
        )
    secrets_hidden(KEY_ID, errors=[caught.value])
