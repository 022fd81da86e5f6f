"""How the HTTP metric providers talk to their backends: one client, bounded requests, and
errors that name the HTTP status but never a credential. Does I/O.

Every provider module builds a `ProviderHttp` with the secrets it holds; any text that goes
into a `ProviderError` (a transport error, a response body prefix) passes through
`ProviderHttp.redact` first, so a backend that echoes a key back cannot leak it into an
event or a log line. The JSON accessors turn an unexpected response shape into a
`ProviderError` rather than a `KeyError` deep in a provider.

The client ignores proxy environment variables and does not follow redirects (as the
webhook client), so a provider only ever talks to the address its template names.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx2

from ensign.metricproviders.base import ProviderConfig, ProviderConfigError, ProviderError

T = TypeVar("T")

MAX_BODY_CHARS = 256
"""How much of a failing response body goes into an error message."""
REDACTED = "[redacted]"
LOOKBACK_INTERVALS = 10
"""Flagger queries several providers over [now - 10 x interval, now]."""


def lookback_start(now: datetime, interval_seconds: float) -> datetime:
    """The start of Flagger's query range for a metric with this interval."""
    return now - timedelta(seconds=LOOKBACK_INTERVALS * interval_seconds)


def basic_authorization(username: str, password: str) -> str:
    """The `Authorization` header value for HTTP Basic auth."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def required_secret(credentials: Mapping[str, str] | None, key: str, provider: str) -> str:
    """A Secret key's value; an absent or empty key is a config error naming the key."""
    value = (credentials or {}).get(key, "")
    if not value:
        raise ProviderConfigError(
            f"secret key {key!r} is missing: the {provider} provider needs it in the "
            "Secret named by spec.provider.secretRef"
        )
    return value


def base_url(config: ProviderConfig, *, default: str | None = None) -> str:
    """`spec.provider.address` (or the provider's default) without a trailing slash.

    Raises `ProviderConfigError` when the address is required and missing, or is not an
    absolute http(s) URL.
    """
    address = (config.address or "").strip() or default
    if not address:
        raise ProviderConfigError(f"spec.provider.address is required for {config.type}")
    parts = urlsplit(address)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ProviderConfigError(
            f"spec.provider.address {address!r} is not an absolute http(s) URL"
        )
    return address.rstrip("/")


def new_client(config: ProviderConfig) -> httpx2.AsyncClient:
    """The client a provider creates when none is injected."""
    return httpx2.AsyncClient(
        verify=not config.insecure_skip_verify,
        trust_env=False,
        follow_redirects=False,
        timeout=config.timeout,
    )


class ProviderHttp:
    """A provider's HTTP channel: the client (closed only when created here), the
    per-request timeout and the secrets to keep out of error messages."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        client: httpx2.AsyncClient | None,
        secrets: Iterable[str],
    ) -> None:
        self.provider = str(config.type)
        self.timeout = config.timeout
        self._owns_client = client is None
        self._client = client if client is not None else new_client(config)
        # Longest first, so a secret that contains another is redacted whole.
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def add_secret(self, secret: str) -> None:
        """Also redact `secret` (e.g. an access token obtained at run time)."""
        if secret and secret not in self._secrets:
            self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def error(self, message: str) -> ProviderError:
        """A `ProviderError` prefixed with the provider type, credentials redacted."""
        return ProviderError(self.redact(f"{self.provider}: {message}"))

    async def aclose(self) -> None:
        if self._owns_client:
            self._owns_client = False
            await self._client.aclose()

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        read: Callable[[httpx2.Response], Awaitable[T]],
        **request: Any,
    ) -> T:
        """Send one request and hand a 2xx response to `read`, all within the timeout.

        A non-2xx answer raises `ProviderError` with the status and the start of the body;
        a transport failure or timeout raises `ProviderError` too.
        """
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client.stream(
                    method, url, timeout=self.timeout, follow_redirects=False, **request
                ) as response:
                    if not 200 <= response.status_code <= 299:
                        body = await _body_prefix(response)
                        raise self.error(f"HTTP {response.status_code} from {method} {url}: {body}")
                    return await read(response)
        except (TimeoutError, httpx2.TimeoutException):
            raise self.error(f"request timed out after {self.timeout:g}s") from None
        except (httpx2.HTTPError, httpx2.InvalidURL, httpx2.StreamError, OSError) as exc:
            detail = str(exc).strip()
            name = type(exc).__name__
            raise self.error(f"request failed: {name}: {detail}" if detail else name) from None

    async def send(self, method: str, url: str, **request: Any) -> bytes:
        """The body of a 2xx answer to one request."""
        return await self.exchange(method, url, read=_read_all, **request)

    async def send_json(self, method: str, url: str, **request: Any) -> object:
        """The decoded JSON body of a 2xx answer to one request."""
        body = await self.send(method, url, **request)
        try:
            decoded: object = json.loads(body)
        except ValueError:
            raise self.error(f"response is not JSON: {_prefix(body)}") from None
        return decoded

    # Shape checks for decoded JSON: a surprise is a ProviderError naming the path.

    def as_dict(self, value: object, what: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.error(f"unexpected response: {what} is not an object")
        return value

    def as_list(self, value: object, what: str) -> list[object]:
        if not isinstance(value, list):
            raise self.error(f"unexpected response: {what} is not a list")
        return value

    def as_float(self, value: object, what: str) -> float | None:
        """A number (or a numeric string) as float; None for null and NaN (no data)."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.error(f"unexpected response: {what} is not a number")
        try:
            number = float(value)
        except ValueError:
            raise self.error(f"{what} is not a number: {_prefix(str(value).encode())}") from None
        return None if math.isnan(number) else number


def rfc3339_seconds(text: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp (Python 3.11 accepts `Z` and
    nanosecond fractions); None when it does not parse. Used to order points oldest first."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


async def _read_all(response: httpx2.Response) -> bytes:
    return await response.aread()


async def _body_prefix(response: httpx2.Response) -> str:
    limit = MAX_BODY_CHARS * 4
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return _prefix(b"".join(chunks))


def _prefix(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return text[:MAX_BODY_CHARS] + "…" if len(text) > MAX_BODY_CHARS else text
