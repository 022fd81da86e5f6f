"""What PrometheusProvider sends and how it reads odd answers, against a scripted aiohttp
server on 127.0.0.1 that speaks the Prometheus HTTP API: credentials, headers, the address
path, whitespace collapsing, and answers a real Prometheus gives only rarely."""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
from aiohttp import web

from ensign.metricproviders.base import NoData, ProviderConfig, ProviderConfigError, ProviderError
from ensign.metricproviders.prometheus import PrometheusProvider
from ensign.model import MetricProviderType

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TOKEN = "tok-3f9a1c7e-secret"
USERNAME = "prom-reader"
PASSWORD = "pw-8c1d4e2b-secret"


def vector(*values: str) -> dict[str, object]:
    result = [{"metric": {"i": str(i)}, "value": [1.0, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


@dataclass
class FakePrometheus:
    """Records each request; answers `status` with `body` (JSON-encoded unless a str)."""

    url: str = ""
    status: int = 200
    body: object = field(default_factory=lambda: vector("1"))
    echo_authorization: bool = False
    requests: list[web.Request] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if self.echo_authorization:
            return web.Response(
                status=self.status, text=f"denied for {request.headers.get('Authorization')}"
            )
        text = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return web.Response(status=self.status, text=text, content_type="application/json")


@pytest.fixture
async def fake() -> AsyncIterator[FakePrometheus]:
    server = FakePrometheus()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    await runner.cleanup()


def config(address: str, **overrides: object) -> ProviderConfig:
    return ProviderConfig(type=MetricProviderType.PROMETHEUS, address=address, **overrides)  # type: ignore[arg-type]


async def ask(cfg: ProviderConfig, query: str = "up") -> float:
    async with httpx2.AsyncClient(trust_env=False) as client:
        return await PrometheusProvider(cfg, client=client).value(query, now=NOW)


async def test_a_bearer_token_and_custom_headers_arrive(fake: FakePrometheus) -> None:
    headers = {"X-Scope-OrgID": ("tenant-a",), "X-Multi": ("one", "two")}
    await ask(config(fake.url, credentials={"token": TOKEN}, headers=headers))
    request = fake.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-Scope-OrgID"] == "tenant-a"
    assert request.headers.getall("X-Multi") == ["one", "two"]


async def test_basic_auth_arrives(fake: FakePrometheus) -> None:
    await ask(config(fake.url, credentials={"username": USERNAME, "password": PASSWORD}))
    scheme, _, encoded = fake.requests[0].headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{USERNAME}:{PASSWORD}"


async def test_the_token_wins_over_username_and_password(fake: FakePrometheus) -> None:
    await ask(
        config(fake.url, credentials={"token": TOKEN, "username": USERNAME, "password": PASSWORD})
    )
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_without_a_secret_no_authorization_is_sent(fake: FakePrometheus) -> None:
    await ask(config(fake.url))
    assert "Authorization" not in fake.requests[0].headers


async def test_the_query_goes_below_the_address_path_with_whitespace_collapsed(
    fake: FakePrometheus,
) -> None:
    await ask(config(fake.url + "/prometheus/"), "sum(\n  rate(x[1m])\n)\t/  2")
    request = fake.requests[0]
    assert request.path == "/prometheus/api/v1/query"
    assert dict(request.query) == {"query": "sum( rate(x[1m]) ) / 2"}  # no `time`: the server's now


@pytest.mark.parametrize(
    ("credentials", "missing"),
    [
        ({"username": USERNAME}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"unrelated": "x"}, "username"),
    ],
)
def test_an_incomplete_secret_names_the_missing_key(
    credentials: dict[str, str], missing: str
) -> None:
    with pytest.raises(ProviderConfigError, match=f"'{missing}'") as caught:
        PrometheusProvider(config("http://127.0.0.1:9", credentials=credentials))
    assert PASSWORD not in str(caught.value)
    assert USERNAME not in str(caught.value)


@pytest.mark.parametrize(
    "address", [None, "", "  ", "prometheus:9090", "ftp://prometheus:9090", "http://"]
)
def test_a_missing_or_invalid_address_names_the_fields(address: str | None) -> None:
    with pytest.raises(
        ProviderConfigError, match=re.escape("spec.provider.address / --metrics-server")
    ):
        PrometheusProvider(config(address))  # type: ignore[arg-type]


def test_an_invalid_address_does_not_show_its_password() -> None:
    with pytest.raises(ProviderConfigError) as caught:
        PrometheusProvider(config(f"ftp://admin:{PASSWORD}@prometheus:9090"))
    assert PASSWORD not in str(caught.value)


async def test_credentials_echoed_in_an_error_body_are_redacted(fake: FakePrometheus) -> None:
    fake.status, fake.echo_authorization = 401, True
    with pytest.raises(ProviderError) as bearer:
        await ask(config(fake.url, credentials={"token": TOKEN}))
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    with pytest.raises(ProviderError) as basic_error:
        await ask(config(fake.url, credentials={"username": USERNAME, "password": PASSWORD}))
    for caught in (bearer, basic_error):
        message = str(caught.value)
        assert "HTTP 401" in message and "denied for" in message
        for secret in (TOKEN, USERNAME, PASSWORD, basic):
            assert secret not in message


async def test_an_error_status_gives_status_and_a_short_body_prefix(fake: FakePrometheus) -> None:
    fake.status, fake.body = 503, "overloaded " * 500
    with pytest.raises(ProviderError) as caught:
        await ask(config(fake.url))
    message = str(caught.value)
    assert "HTTP 503" in message and "overloaded" in message
    assert len(message) < 600


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (vector("7", "8.5"), 8.5),  # several series: the last one
        ({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "42"]}}, 42.0),
        (vector("+Inf"), float("inf")),
    ],
)
async def test_values_are_read_as_flagger_reads_them(
    fake: FakePrometheus, body: object, expected: float
) -> None:
    fake.body = body
    assert await ask(config(fake.url)) == expected


@pytest.mark.parametrize("body", [vector(), vector("NaN"), vector("3", "NaN")])
async def test_no_series_or_nan_is_no_data(fake: FakePrometheus, body: object) -> None:
    fake.body = body
    with pytest.raises(NoData):
        await ask(config(fake.url))


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "values": [[1, "1"]]}]},
            },
            "multiple values",
        ),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "multiple values"),
        ({"status": "success", "data": {"resultType": "string", "result": [1, "x"]}}, "resultType"),
        ({"status": "error", "error": "query timed out"}, "query timed out"),
        ("<html>proxy error</html>", "not JSON"),
        (vector("not-a-number"), "not a number"),
    ],
)
async def test_unusable_answers_are_provider_errors(
    fake: FakePrometheus, body: object, fragment: str
) -> None:
    fake.body = body
    with pytest.raises(ProviderError, match=fragment) as caught:
        await ask(config(fake.url))
    assert not isinstance(caught.value, NoData)


async def test_healthy_needs_vector_1_to_answer_1(fake: FakePrometheus) -> None:
    async with httpx2.AsyncClient(trust_env=False) as client:
        provider = PrometheusProvider(config(fake.url), client=client)
        await provider.healthy()
        assert dict(fake.requests[-1].query) == {"query": "vector(1)"}
        fake.body = vector("0")
        with pytest.raises(ProviderError, match="prometheus not available"):
            await provider.healthy()
        fake.body = vector()
        with pytest.raises(ProviderError, match="prometheus not available") as caught:
            await provider.healthy()
        assert not isinstance(caught.value, NoData)


async def test_an_owned_client_is_closed_and_a_given_one_is_not(fake: FakePrometheus) -> None:
    owned = PrometheusProvider(config(fake.url))
    assert await owned.value("up", now=NOW) == 1.0
    await owned.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await owned.value("up", now=NOW)
    async with httpx2.AsyncClient(trust_env=False) as client:
        shared = PrometheusProvider(config(fake.url), client=client)
        await shared.aclose()
        assert await shared.value("up", now=NOW) == 1.0


def self_signed_context(tmp_path: Path) -> ssl.SSLContext:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subj = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            *subj,
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_insecure_skip_verify_accepts_a_self_signed_certificate(tmp_path: Path) -> None:
    server = FakePrometheus()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed_context(tmp_path))
    await site.start()
    address = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        verified = PrometheusProvider(config(address))
        insecure = PrometheusProvider(config(address, insecure_skip_verify=True))
        with pytest.raises(ProviderError, match="request failed"):
            await verified.value("up", now=NOW)
        assert await insecure.value("up", now=NOW) == 1.0
        await verified.aclose()
        await insecure.aclose()
    finally:
        await runner.cleanup()
