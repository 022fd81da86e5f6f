"""Google Cloud Monitoring (Stackdriver) MQL queries. Does I/O.

As Flagger: the Secret's `project` is required; the query is MQL run with
`projects/<project>/timeSeries:query`; the value is the first point's value of the first
time series (`doubleValue`, or `int64Value`); no series or no points is "no data".

Authentication, without Google's client libraries:

- With the Secret key `serviceAccountKey` (a service account's JSON key), Ensign makes the
  OAuth 2.0 JWT bearer grant itself: an RS256 JWT (`iss` = the key's `client_email`, scope
  `monitoring.read`, `aud` = the key's `token_uri`, one hour) signed with the key's RSA
  private key (PKCS#8 or PKCS#1 PEM; loaded and signed with RSASSA-PKCS1-v1_5/SHA-256 by the
  `cryptography` library) and posted to `token_uri` for an access token.
- Without it, the GCE metadata server's token for the pod's service account (GKE Workload
  Identity, or the node's service account). Its address can be overridden with the Secret
  key `metadata_server`, or the environment variables `ENSIGN_GCE_METADATA_HOST`, then
  `GCE_METADATA_HOST` (the variable Google's client libraries read; its older name
  `GCE_METADATA_ROOT` too), each host[:port] or a URL. A metadata server that does not
  answer is an error saying that no credentials were found and how to provide them.

Access tokens are cached per process (per metadata server, or per service account key and
token URI), so the providers built for each analysis share them, until a minute before they
expire. Samples are every point of
every series (oldest first by end time) over the range the MQL query states (`| within`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx2

from ensign.metricproviders.base import (
    NoData,
    ProviderConfig,
    ProviderConfigError,
    ProviderError,
    Window,
)
from ensign.metricproviders.wire import ProviderHttp, base_url, required_secret, rfc3339_seconds
from ensign.model import MetricProviderType

DEFAULT_ADDRESS = "https://monitoring.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_METADATA_SERVER = "http://metadata.google.internal"
METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
METADATA_HOST_ENV = "ENSIGN_GCE_METADATA_HOST"
GOOGLE_METADATA_HOST_ENVS = ("GCE_METADATA_HOST", "GCE_METADATA_ROOT")
"""What Google's client libraries read for the metadata server's host."""
SCOPE = "https://www.googleapis.com/auth/monitoring.read"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = 3600
TOKEN_MARGIN = 60.0
"""Seconds before expiry at which a cached access token is renewed."""
MAX_PAGES = 20

PROJECT = "project"
SERVICE_ACCOUNT_KEY = "serviceAccountKey"
METADATA_SERVER = "metadata_server"


class RsaPrivateKey:
    """An RSA private key, loaded and used for signing by the `cryptography` library
    (constant-time, maintained); imported when a service account key is first used, so a
    controller without Stackdriver canaries never loads it."""

    def __init__(self, key: Any) -> None:
        self._key = key

    @property
    def n(self) -> int:
        """The modulus."""
        return int(self._key.private_numbers().public_numbers.n)

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return bytes(self._key.sign(message, padding.PKCS1v15(), hashes.SHA256()))


def parse_private_key(pem: str) -> RsaPrivateKey:
    """An RSA key from a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM block.

    Raises `ValueError` with a reason that never quotes the key material.
    """
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = pem.strip()
    if not text.startswith("-----BEGIN "):
        raise ValueError("private_key is not a PEM block")
    label = text.splitlines()[0].removeprefix("-----BEGIN ").removesuffix("-----").strip()
    if label not in ("PRIVATE KEY", "RSA PRIVATE KEY"):
        raise ValueError(f"private_key is a {label!r} PEM block, not a private key")
    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("private_key is not a readable unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private_key is not an RSA key")
    return RsaPrivateKey(key)


def rs256_sign(key: RsaPrivateKey, message: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2): the RS256 JWS algorithm."""
    return key.sign(message)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_assertion(*, key: RsaPrivateKey, issuer: str, audience: str, issued_at: int) -> str:
    """The signed JWT of Google's service account OAuth 2.0 flow."""
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {
        "iss": issuer,
        "scope": SCOPE,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + JWT_LIFETIME,
    }
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    return f"{signing_input}.{_b64url(rs256_sign(key, signing_input.encode()))}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceAccount:
    client_email: str
    token_uri: str
    key: RsaPrivateKey


def parse_service_account(text: str) -> ServiceAccount:
    """The fields of a service account JSON key; `ProviderConfigError` names what is wrong."""
    problem = f"secret key {SERVICE_ACCOUNT_KEY!r} is not a usable service account key"
    try:
        decoded: object = json.loads(text)
    except ValueError:
        raise ProviderConfigError(f"{problem}: not JSON") from None
    if not isinstance(decoded, dict):
        raise ProviderConfigError(f"{problem}: not a JSON object")
    email, pem = decoded.get("client_email"), decoded.get("private_key")
    token_uri = decoded.get("token_uri") or DEFAULT_TOKEN_URI
    if not isinstance(email, str) or not email:
        raise ProviderConfigError(f"{problem}: client_email is missing")
    if not isinstance(pem, str) or not pem:
        raise ProviderConfigError(f"{problem}: private_key is missing")
    if not isinstance(token_uri, str) or urlsplit(token_uri).scheme not in {"http", "https"}:
        raise ProviderConfigError(f"{problem}: token_uri is not an http(s) URL")
    try:
        key = parse_private_key(pem)
    except ValueError as exc:
        raise ProviderConfigError(f"{problem}: {exc}") from None
    return ServiceAccount(client_email=email, token_uri=token_uri, key=key)


def metadata_server(credentials: dict[str, str]) -> str:
    """The metadata server's base URL: the Secret key, the environment, or GCE's."""
    server = (
        credentials.get(METADATA_SERVER)
        or os.environ.get(METADATA_HOST_ENV)
        or next(
            (os.environ[name] for name in GOOGLE_METADATA_HOST_ENVS if os.environ.get(name)), ""
        )
        or DEFAULT_METADATA_SERVER
    )
    server = server.strip().rstrip("/")
    return server if "://" in server else f"http://{server}"


_tokens: dict[str, tuple[str, float]] = {}
"""Access tokens per source (a metadata server, or a key and token URI): the token and the
monotonic time at which to renew it. Shared by the providers of every analysis."""


class StackdriverProvider:
    """Cloud Monitoring `timeSeries:query` with a service account key or workload identity."""

    type: ClassVar[MetricProviderType] = MetricProviderType.STACKDRIVER
    supports_samples: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        credentials = dict(config.credentials or {})
        project = required_secret(credentials, PROJECT, "stackdriver")
        base = base_url(config, default=DEFAULT_ADDRESS)
        self._url = f"{base}/v3/projects/{quote(project, safe='')}/timeSeries:query"
        key_text = credentials.get(SERVICE_ACCOUNT_KEY, "")
        self._account = parse_service_account(key_text) if key_text else None
        self._metadata = metadata_server(credentials)
        self._token_source = (
            f"jwt {self._account.token_uri} {self._account.client_email} "
            + hashlib.sha256(key_text.encode()).hexdigest()
            if self._account is not None
            else f"metadata {self._metadata}"
        )
        self._token_lock = asyncio.Lock()
        self._http = ProviderHttp(config, client=client, secrets=(key_text,))

    async def value(self, query: str, *, now: datetime) -> float:
        answer = await self._query(query, None)
        series = self._http.as_list(answer.get("timeSeriesData") or [], "timeSeriesData")
        if not series:
            raise NoData("stackdriver returned no time series")
        points = self._http.as_list(
            self._http.as_dict(series[0], "timeSeriesData[0]").get("pointData") or [],
            "timeSeriesData[0].pointData",
        )
        if not points:
            raise NoData("stackdriver returned no points")
        value = self._point_value(points[0], "timeSeriesData[0].pointData[0]")
        if value is None:
            raise NoData("stackdriver returned no value")
        return value

    async def samples(self, query: str, window: Window) -> list[float]:
        points: list[tuple[float, float]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            answer = await self._query(query, token)
            for i, raw in enumerate(
                self._http.as_list(answer.get("timeSeriesData") or [], "timeSeriesData")
            ):
                series = self._http.as_dict(raw, f"timeSeriesData[{i}]")
                for j, point in enumerate(
                    self._http.as_list(series.get("pointData") or [], "pointData")
                ):
                    value = self._point_value(point, f"timeSeriesData[{i}].pointData[{j}]")
                    if value is not None:
                        points.append((self._end_time(point), value))
            next_token = answer.get("nextPageToken")
            if not isinstance(next_token, str) or not next_token:
                break
            token = next_token
        if not points:
            raise NoData("stackdriver returned no points")
        return [value for _, value in sorted(points, key=lambda point: point[0])]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _query(self, query: str, page_token: str | None) -> dict[str, object]:
        body: dict[str, str] = {"query": query}
        if page_token:
            body["pageToken"] = page_token
        headers = {
            "Authorization": f"Bearer {await self._access_token()}",
            "Accept": "application/json",
        }
        return self._http.as_dict(
            await self._http.send_json("POST", self._url, json=body, headers=headers), "response"
        )

    def _point_value(self, raw: object, where: str) -> float | None:
        point = self._http.as_dict(raw, where)
        values = self._http.as_list(point.get("values") or [], f"{where}.values")
        if not values:
            return None
        typed = self._http.as_dict(values[0], f"{where}.values[0]")
        for kind in ("doubleValue", "int64Value"):
            if kind in typed:
                return self._http.as_float(typed[kind], f"{where}.values[0].{kind}")
        kinds = ", ".join(sorted(typed)) or "nothing"
        raise self._http.error(f"{where}.values[0] holds {kinds}, not a doubleValue or int64Value")

    def _end_time(self, raw: object) -> float:
        interval = self._http.as_dict(raw, "point").get("timeInterval")
        end = interval.get("endTime") if isinstance(interval, dict) else None
        stamp = rfc3339_seconds(end) if isinstance(end, str) else None
        return stamp if stamp is not None else 0.0

    async def _access_token(self) -> str:
        async with self._token_lock:
            cached = _tokens.get(self._token_source)
            if cached is not None and time.monotonic() < cached[1]:
                self._http.add_secret(cached[0])
                return cached[0]
            if self._account is not None:
                answer = await self._jwt_grant(self._account)
            else:
                answer = await self._metadata_token()
            token, lifetime = self._token_from(answer)
            self._http.add_secret(token)
            _tokens[self._token_source] = (
                token,
                time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN),
            )
            return token

    async def _metadata_token(self) -> object:
        url = self._metadata + METADATA_TOKEN_PATH
        try:
            return await self._http.send_json("GET", url, headers={"Metadata-Flavor": "Google"})
        except ProviderError as exc:
            raise self._http.error(
                f"no credentials: the Secret has no key {SERVICE_ACCOUNT_KEY!r} and the GCE "
                f"metadata server at {self._metadata} gave no token for Workload Identity "
                f"({exc}); set the Secret key, run on GKE with Workload Identity, or point "
                f"GCE_METADATA_HOST at a metadata server"
            ) from None

    async def _jwt_grant(self, account: ServiceAccount) -> object:
        assertion = jwt_assertion(
            key=account.key,
            issuer=account.client_email,
            audience=account.token_uri,
            issued_at=int(time.time()),
        )
        form = {"grant_type": JWT_GRANT, "assertion": assertion}
        return await self._http.send_json(
            "POST", account.token_uri, data=form, headers={"Accept": "application/json"}
        )

    def _token_from(self, answer: object) -> tuple[str, float]:
        token_answer = self._http.as_dict(answer, "token response")
        token = token_answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise self._http.error("the token response has no access_token")
        lifetime = self._http.as_float(token_answer.get("expires_in"), "expires_in")
        return token, lifetime if lifetime is not None else float(JWT_LIFETIME)
