"""Posting an alert body to a chat service over HTTP. Does I/O.

Transport follows Flagger (§6.4): a JSON `POST` bounded by a 5 s timeout, through the
destination's proxy when one is set, with `Authorization: Bearer <token>` when a token is
given. Differences, all deliberate:

- **Success is any 2xx** (Flagger accepts only 200); Slack, Teams and Google Chat answer 200,
  Discord's `/slack` endpoint and bridges may answer 204.
- **Redirects are not followed**, so an alert never lands anywhere its URL does not name.
- **Errors never carry secrets**: the token, the proxy URL and the webhook URL (whose path is
  the credential for Slack, Discord and Google Chat) are masked in every error text, including
  echoes of them in a response body.

Without a proxy, the standard proxy environment variables (`HTTPS_PROXY`, `NO_PROXY`) apply,
as they do for Flagger's Go client; with one, they are ignored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from types import TracebackType

import httpx2

DEFAULT_TIMEOUT_SECONDS = 5.0
"""Flagger's per-post timeout."""
MAX_BODY_CHARS = 200
"""How much of a failing response body an error keeps (enough for Slack's `channel_not_found`)."""
MASK = "***"

_MIN_SECRET_CHARS = 4  # shorter fragments (`/`, `?`) would mask ordinary text


class NotifyError(Exception):
    """An alert that did not arrive; `status` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Notifier:
    """Posts JSON bodies; keeps one `httpx2.AsyncClient` per proxy setting, closed by `aclose`."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, trust_env: bool = True) -> None:
        self.timeout = timeout
        self._trust_env = trust_env
        self._clients: dict[str, httpx2.AsyncClient] = {}
        self._closed = False

    async def __aenter__(self) -> Notifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every client; later posts fail with `NotifyError`."""
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def post(
        self,
        url: str,
        body: Mapping[str, object],
        *,
        proxy: str | None = None,
        token: str | None = None,
    ) -> None:
        """POST `body` as JSON to `url`; raise `NotifyError` unless a 2xx arrives in time."""
        secrets = [url, *_url_secrets(url), token or "", proxy or ""]
        if self._closed:
            raise NotifyError("notifier is closed")
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(dict(body), ensure_ascii=False).encode()
        try:
            client = self._client(proxy)
            async with asyncio.timeout(self.timeout):
                status, text = await _send(client, url=url, data=data, headers=headers)
        except (TimeoutError, httpx2.TimeoutException):
            raise NotifyError(f"timed out after {self.timeout:g}s") from None
        except (httpx2.HTTPError, httpx2.InvalidURL, OSError, ValueError) as exc:
            raise NotifyError(mask(_describe(exc), secrets)) from None
        if not 200 <= status <= 299:
            detail = _truncate(mask(text, secrets))
            message = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
            raise NotifyError(message, status=status)

    def _client(self, proxy: str | None) -> httpx2.AsyncClient:
        key = proxy or ""
        client = self._clients.get(key)
        if client is None:
            client = httpx2.AsyncClient(
                proxy=proxy or None, trust_env=self._trust_env, follow_redirects=False
            )
            self._clients[key] = client
        return client


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret (longest first) replaced by `***`."""
    for secret in sorted(
        {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True
    ):
        text = text.replace(secret, MASK)
    return text


def _url_secrets(url: str) -> list[str]:
    """The parts of a webhook URL that may be credentials: path, query, user info."""
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, ValueError, TypeError):
        return []
    return [parsed.path, parsed.query.decode(errors="replace"), parsed.userinfo.decode()]


async def _send(
    client: httpx2.AsyncClient, *, url: str, data: bytes, headers: Mapping[str, str]
) -> tuple[int, str]:
    """One POST; returns the status and, for a failure, the start of the body (unmasked)."""
    async with client.stream("POST", url, content=data, headers=headers) as response:
        status = response.status_code
        if 200 <= status <= 299:
            return status, ""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_CHARS * 4:
                break
    return status, b"".join(chunks).decode("utf-8", errors="replace").strip()


def _truncate(text: str) -> str:
    return text[:MAX_BODY_CHARS] + ("…" if len(text) > MAX_BODY_CHARS else "")


def _describe(exc: BaseException) -> str:
    detail = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {detail}" if detail else name
