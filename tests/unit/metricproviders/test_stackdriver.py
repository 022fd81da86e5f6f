"""Stackdriver: the RS256 JWT grant (checked by a token server with the public key and by
openssl), the metadata server fallback, token caching, MQL query shape, values, samples,
no data, errors and secrets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from ensign.metricproviders import NoData, ProviderConfigError, ProviderError, Window
from ensign.metricproviders.stackdriver import StackdriverProvider, parse_private_key, rs256_sign
from ensign.model import MetricProviderType

from .conftest import NOW, Backend, SecretsHidden, Serve, config

ACCESS_TOKEN = "ya29.c.access-token-for-tests"
EMAIL = "flagger@my-proj.iam.gserviceaccount.com"
MQL = "fetch k8s_container | metric 'kubernetes.io/container/restart_count' | within 5m"
QUERY_PATH = "/v3/projects/my-proj/timeSeries:query"
METADATA_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
# RFC 8017 §9.2 note 1: the DER DigestInfo prefix for SHA-256.
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


@dataclass(frozen=True, slots=True)
class KeyFiles:
    pkcs8: str
    pkcs1: str
    public_pem: Path
    n: int
    stranger: str  # another key, whose signatures the token server must refuse
    e: int = 65537


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    folder = tmp_path_factory.mktemp("rsa")
    private, traditional, public = folder / "key.pem", folder / "rsa.pem", folder / "pub.pem"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True)

    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(private))
    run("rsa", "-in", str(private), "-traditional", "-out", str(traditional))
    run(
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
        "-out",
        str(folder / "stranger.pem"),
    )
    run("rsa", "-in", str(private), "-pubout", "-out", str(public))
    modulus = (
        run("rsa", "-in", str(private), "-noout", "-modulus")
        .stdout.strip()
        .removeprefix("Modulus=")
    )
    return KeyFiles(
        pkcs8=private.read_text(),
        pkcs1=traditional.read_text(),
        public_pem=public,
        n=int(modulus, 16),
        stranger=(folder / "stranger.pem").read_text(),
    )


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_problem(assertion: str, key: KeyFiles, audience: str) -> str | None:
    """Verify an RS256 JWT with the public key as Google's token endpoint would."""
    header_b64, claims_b64, signature_b64 = assertion.split(".")
    size = (key.n.bit_length() + 7) // 8
    recovered = pow(int.from_bytes(b64url_decode(signature_b64), "big"), key.e, key.n).to_bytes(
        size, "big"
    )
    digest = hashlib.sha256(f"{header_b64}.{claims_b64}".encode()).digest()
    expected = (
        b"\x00\x01"
        + b"\xff" * (size - 3 - len(SHA256_PREFIX) - 32)
        + b"\x00"
        + SHA256_PREFIX
        + digest
    )
    if recovered != expected:
        return "invalid signature"
    header, claims = json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(claims_b64))
    if header != {"alg": "RS256", "typ": "JWT"}:
        return f"bad header {header}"
    if (claims["iss"], claims["aud"], claims["scope"]) != (
        EMAIL,
        audience,
        "https://www.googleapis.com/auth/monitoring.read",
    ):
        return f"bad claims {claims}"
    if claims["exp"] - claims["iat"] != 3600 or abs(claims["iat"] - time.time()) > 60:
        return f"bad times {claims}"
    return None


@dataclass(slots=True)
class Google:
    """A token endpoint, a metadata server and the Monitoring query API in one server."""

    key: KeyFiles
    series: list[list[dict[str, Any]]] = field(default_factory=list)  # pages of timeSeriesData
    query_status: int = 200
    backend: Backend | None = None
    metadata_expires_in: int = 3599

    @property
    def token_uri(self) -> str:
        assert self.backend is not None
        return self.backend.url + "/token"

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if request.path == "/token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return web.json_response({"error": "unsupported_grant_type"}, status=400)
            problem = jwt_problem(form["assertion"], self.key, self.token_uri)
            if problem:
                return web.json_response(
                    {"error": "invalid_grant", "error_description": problem}, status=400
                )
            return web.json_response(
                {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
            )
        if request.path == METADATA_PATH:
            if request.headers.get("Metadata-Flavor") != "Google":
                return web.Response(status=403, text="Missing Metadata-Flavor:Google header")
            return web.json_response(
                {
                    "access_token": ACCESS_TOKEN,
                    "expires_in": self.metadata_expires_in,
                    "token_type": "Bearer",
                }
            )
        if request.path == QUERY_PATH and request.method == "POST":
            if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                return web.json_response(
                    {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status=401
                )
            if self.query_status != 200:
                return web.json_response(
                    {"error": {"code": self.query_status, "message": f"denied {ACCESS_TOKEN}"}},
                    status=self.query_status,
                )
            page_token = json.loads(body).get("pageToken")
            index = 0 if page_token is None else int(page_token) + 1
            page: dict[str, Any] = {
                "timeSeriesDescriptor": {},
                "timeSeriesData": self.series[index] if self.series else [],
            }
            if index + 1 < len(self.series):
                page["nextPageToken"] = str(index)
            return web.json_response(page)
        return web.Response(status=404)


async def start_google(serve: Serve, key: KeyFiles, **fields: Any) -> Google:
    google = Google(key=key, **fields)
    google.backend = await serve(google.handle)
    return google


def service_account_key(google: Google) -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "my-proj",
            "private_key_id": "abc",
            "private_key": google.key.pkcs8,
            "client_email": EMAIL,
            "token_uri": google.token_uri,
        }
    )


def provider(google: Google, credentials: dict[str, str]) -> StackdriverProvider:
    assert google.backend is not None
    return StackdriverProvider(
        config(MetricProviderType.STACKDRIVER, address=google.backend.url, credentials=credentials)
    )


def point(value: dict[str, Any], end: str) -> dict[str, Any]:
    return {"values": [value], "timeInterval": {"startTime": end, "endTime": end}}


def test_pkcs8_and_pkcs1_pem_give_the_same_key(rsa_key: KeyFiles) -> None:
    assert parse_private_key(rsa_key.pkcs8).n == parse_private_key(rsa_key.pkcs1).n == rsa_key.n


def test_rs256_signatures_verify_with_openssl(rsa_key: KeyFiles, tmp_path: Path) -> None:
    message = b"header.claims"
    (tmp_path / "sig").write_bytes(rs256_sign(parse_private_key(rsa_key.pkcs8), message))
    (tmp_path / "msg").write_bytes(message)
    result = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(rsa_key.public_pem),
            "-signature",
            str(tmp_path / "sig"),
            str(tmp_path / "msg"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "Verified OK" in result.stdout


async def test_value_with_a_service_account_key_and_a_cached_token(
    serve: Serve, rsa_key: KeyFiles
) -> None:
    google = await start_google(
        serve,
        rsa_key,
        series=[[{"pointData": [point({"doubleValue": 0.5}, "2024-05-01T12:00:00Z")]}]],
    )
    sd = provider(google, {"project": "my-proj", "serviceAccountKey": service_account_key(google)})
    try:
        assert await sd.value(MQL, now=NOW) == 0.5
        assert await sd.value(MQL, now=NOW) == 0.5
    finally:
        await sd.aclose()
    assert google.backend is not None
    paths = [seen.path for seen in google.backend.seen]
    assert paths == ["/token", QUERY_PATH, QUERY_PATH]  # one grant, then the cached token
    assert google.backend.seen[1].json() == {"query": MQL}


def no_metadata_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENSIGN_GCE_METADATA_HOST", "GCE_METADATA_HOST", "GCE_METADATA_ROOT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("where", ["environment", "GCE_METADATA_HOST", "secret"])
async def test_without_a_key_the_metadata_server_gives_the_token(
    serve: Serve, rsa_key: KeyFiles, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    google = await start_google(
        serve,
        rsa_key,
        series=[[{"pointData": [point({"int64Value": "7"}, "2024-05-01T12:00:00Z")]}]],
    )
    assert google.backend is not None
    credentials = {"project": "my-proj"}
    no_metadata_host(monkeypatch)
    if where == "environment":  # host:port, as GCE_METADATA_HOST is written
        monkeypatch.setenv("ENSIGN_GCE_METADATA_HOST", google.backend.url.removeprefix("http://"))
    elif where == "GCE_METADATA_HOST":  # the variable Google's libraries read
        monkeypatch.setenv("GCE_METADATA_HOST", google.backend.url.removeprefix("http://"))
    else:
        monkeypatch.setenv("ENSIGN_GCE_METADATA_HOST", "127.0.0.1:9")  # the Secret key wins
        credentials["metadata_server"] = google.backend.url
    sd = provider(google, credentials)
    try:
        assert await sd.value(MQL, now=NOW) == 7.0
    finally:
        await sd.aclose()
    assert [seen.path for seen in google.backend.seen] == [METADATA_PATH, QUERY_PATH]
    assert google.backend.seen[0].headers["Metadata-Flavor"] == "Google"


async def test_metadata_tokens_are_shared_by_providers_until_they_near_expiry(
    serve: Serve, rsa_key: KeyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token good for 61 s is renewed 60 s before it expires: it serves for one second.
    google = await start_google(
        serve,
        rsa_key,
        series=[[{"pointData": [point({"doubleValue": 2.0}, "2024-05-01T12:00:00Z")]}]],
        metadata_expires_in=61,
    )
    assert google.backend is not None
    no_metadata_host(monkeypatch)
    monkeypatch.setenv("GCE_METADATA_HOST", google.backend.url.removeprefix("http://"))

    async def analysis() -> None:  # each analysis builds its own provider
        sd = provider(google, {"project": "my-proj"})
        try:
            assert await sd.value(MQL, now=NOW) == 2.0
        finally:
            await sd.aclose()

    await analysis()
    await analysis()
    await asyncio.sleep(1.2)
    await analysis()
    paths = [seen.path for seen in google.backend.seen]
    assert paths == [METADATA_PATH, QUERY_PATH, QUERY_PATH, METADATA_PATH, QUERY_PATH]


async def test_no_key_and_no_metadata_server_says_how_to_give_credentials(
    serve: Serve, rsa_key: KeyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    google = await start_google(serve, rsa_key)
    no_metadata_host(monkeypatch)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # nothing listens on discard
    sd = provider(google, {"project": "my-proj"})
    try:
        with pytest.raises(ProviderError) as caught:
            await sd.value(MQL, now=NOW)
    finally:
        await sd.aclose()
    message = str(caught.value)
    assert "no credentials" in message and "'serviceAccountKey'" in message
    assert "http://127.0.0.1:9" in message and "GCE_METADATA_HOST" in message
    assert google.backend is not None and google.backend.seen == []


async def test_a_wrongly_signed_assertion_is_refused(serve: Serve, rsa_key: KeyFiles) -> None:
    google = await start_google(serve, rsa_key)
    key = json.loads(service_account_key(google)) | {"private_key": rsa_key.stranger}
    sd = provider(google, {"project": "my-proj", "serviceAccountKey": json.dumps(key)})
    try:
        with pytest.raises(ProviderError, match=r"HTTP 400.*invalid signature"):
            await sd.value(MQL, now=NOW)
    finally:
        await sd.aclose()


async def test_samples_are_every_point_oldest_first_across_pages(
    serve: Serve, rsa_key: KeyFiles
) -> None:
    pages = [
        [
            {
                "pointData": [
                    point({"doubleValue": 3.0}, "2024-05-01T11:59:00Z"),
                    point({"doubleValue": 1.0}, "2024-05-01T11:57:00.5Z"),
                ]
            },
            {"pointData": [point({"int64Value": "2"}, "2024-05-01T11:58:00.123456789Z")]},
        ],
        [
            {
                "pointData": [
                    point({"doubleValue": 4.0}, "2024-05-01T12:00:00Z"),
                    point({"doubleValue": "NaN"}, "2024-05-01T11:56:00Z"),
                ]
            }
        ],
    ]
    google = await start_google(serve, rsa_key, series=pages)
    sd = provider(google, {"project": "my-proj", "serviceAccountKey": service_account_key(google)})
    try:
        assert await sd.samples(
            MQL, Window(start=NOW - timedelta(minutes=5), end=NOW, step_seconds=60)
        ) == [1.0, 2.0, 3.0, 4.0]
    finally:
        await sd.aclose()
    assert google.backend is not None
    assert google.backend.seen[-1].json() == {"query": MQL, "pageToken": "0"}


@pytest.mark.parametrize(
    "series", [[], [[]], [[{"pointData": []}]], [[{"pointData": [{"values": []}]}]]]
)
async def test_no_points_is_no_data(
    serve: Serve, rsa_key: KeyFiles, series: list[list[dict[str, Any]]]
) -> None:
    google = await start_google(serve, rsa_key, series=series)
    sd = provider(google, {"project": "my-proj", "serviceAccountKey": service_account_key(google)})
    try:
        with pytest.raises(NoData):
            await sd.value(MQL, now=NOW)
    finally:
        await sd.aclose()


async def test_http_error_names_the_status_and_hides_the_token(
    serve: Serve, rsa_key: KeyFiles, secrets_hidden: SecretsHidden
) -> None:
    google = await start_google(serve, rsa_key, query_status=403)
    sd = provider(google, {"project": "my-proj", "serviceAccountKey": service_account_key(google)})
    try:
        with pytest.raises(ProviderError, match="HTTP 403") as caught:
            await sd.value(MQL, now=NOW)
    finally:
        await sd.aclose()
    private_body = "".join(rsa_key.pkcs8.strip().splitlines()[1:-1])
    secrets_hidden(ACCESS_TOKEN, private_body[:40], errors=[caught.value])


def test_project_is_required() -> None:
    with pytest.raises(ProviderConfigError, match="secret key 'project' is missing"):
        StackdriverProvider(
            config(MetricProviderType.STACKDRIVER, credentials={"serviceAccountKey": "{}"})
        )


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("not json", "not JSON"),
        ('{"private_key": "x"}', "client_email is missing"),
        (
            json.dumps(
                {
                    "client_email": EMAIL,
                    "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                }
            ),
            "not a readable unencrypted PEM private key",
        ),
    ],
)
def test_a_bad_service_account_key_is_a_config_error(key: str, problem: str) -> None:
    with pytest.raises(ProviderConfigError, match=problem):
        StackdriverProvider(
            config(
                MetricProviderType.STACKDRIVER,
                credentials={"project": "p", "serviceAccountKey": key},
            )
        )
