"""Sending webhook payloads over HTTP and reporting the outcome as data. Does I/O.

Transport follows Flagger (§4.1): a JSON `POST` to the hook URL with
`Content-Type: application/json`; a per-attempt timeout of `hook.timeout` (10 s when unset or
shorter than two characters, as in Flagger); up to `hook.retries` retries with
go-retryablehttp's policy (exponential backoff from 1 s capped at 30 s; retry on connection
errors and timeouts, HTTP 429 and every 5xx except 501); `disableTLS` turns off certificate
verification for that hook only.

Deliberate differences from Flagger, all in the direction of safety or of the documented
contract rather than the code:

- **Success is any 2xx.** Flagger's code accepts only status codes `<= 202`, so a `204 No
  Content` (or 203, 206, ...) fails the hook even though its documentation promises "2xx".
  Ensign implements the documentation: 200-299 succeed; 1xx, 3xx, 4xx and 5xx fail.
- **The error text is always the response body** (truncated to about 1 KiB), also when retries
  are exhausted on a 5xx, where Flagger reports go-retryablehttp's "giving up after N
  attempt(s)" instead; the attempt count is kept in `HookResult.attempts`.
- **Redirects are not followed**, so no request goes anywhere the hook URL does not name; a
  3xx is a failure. Environment proxy settings are ignored for the same reason.
- **A zero timeout (`0s`) means the 10 s default** rather than Go's "no timeout", so a
  silent hook cannot stall the analysis tick forever.
- A `Retry-After` header is not honoured; the backoff is purely exponential.

`HttpWebhookCaller.call` never raises for network, TLS, HTTP or URL problems: every outcome is
a `HookResult`. Cancellation still propagates.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import httpx2

from ensign.model import Webhook, parse_duration

DEFAULT_TIMEOUT_SECONDS = 10.0
"""Per-attempt timeout when a hook sets none (Flagger's `10s`)."""
DEFAULT_BACKOFF_BASE = 1.0
"""First retry wait in seconds (go-retryablehttp `RetryWaitMin`)."""
DEFAULT_BACKOFF_CAP = 30.0
"""Longest retry wait in seconds (go-retryablehttp `RetryWaitMax`)."""
MAX_ERROR_CHARS = 1024
"""How much of a failing response body is kept in `HookResult.error`."""

_HEADERS = {"Content-Type": "application/json"}
_NOT_IMPLEMENTED = 501
_TOO_MANY_REQUESTS = 429


@dataclass(frozen=True, slots=True, kw_only=True)
class HookResult:
    """The outcome of one webhook call, including all of its retries.

    `status` is the final HTTP status (None when no response arrived); `attempts` counts the
    requests made (0 when the hook could not be called at all, e.g. a bad timeout); `error` is
    the failing response body (truncated) or the transport error, empty on success;
    `elapsed` is wall-clock seconds for the whole call, backoff included.
    """

    ok: bool
    status: int | None
    attempts: int
    error: str
    url: str
    elapsed: float

    def describe(self) -> str:
        """One sentence for events and status messages.

        e.g. `HTTP 500 from http://127.0.0.1:8080/gate/check (attempt 3): not yet`.
        """
        if self.status is not None:
            head = f"HTTP {self.status} from {self.url} (attempt {self.attempts})"
        elif self.attempts == 0:
            head = f"request to {self.url} not sent"
        else:
            head = f"request to {self.url} failed (attempt {self.attempts})"
        return f"{head}: {self.error}" if self.error else head


class WebhookCaller(Protocol):
    """Anything that can deliver a payload to a hook; the engine depends only on this."""

    async def call(self, hook: Webhook, payload: Mapping[str, object]) -> HookResult:
        """Deliver `payload` to `hook` and report the outcome; must not raise for I/O errors."""
        ...


def hook_timeout(hook: Webhook) -> float:
    """Per-attempt timeout in seconds; raises `ValueError` for an unparsable duration."""
    if hook.timeout is None or len(hook.timeout) < 2:
        return DEFAULT_TIMEOUT_SECONDS
    seconds = parse_duration(hook.timeout)
    return seconds if seconds > 0 else DEFAULT_TIMEOUT_SECONDS


def backoff_delay(retry: int, *, base: float, cap: float) -> float:
    """Wait before retry number `retry` (1-based): `base * 2**(retry-1)`, at most `cap`."""
    if base <= 0:
        return 0.0
    exponent = min(retry - 1, 64)  # 2**64 s is past any cap; avoids float overflow
    return float(min(base * 2.0**exponent, cap))


def is_success(status: int) -> bool:
    """Whether a final status passes the hook (any 2xx; see the module docstring)."""
    return 200 <= status <= 299


def is_retryable_status(status: int) -> bool:
    """go-retryablehttp's rule: retry 429 and every 5xx except 501."""
    return status == _TOO_MANY_REQUESTS or (500 <= status <= 599 and status != _NOT_IMPLEMENTED)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Attempt:
    """One request's outcome before retry policy is applied."""

    status: int | None
    error: str
    retryable: bool


class HttpWebhookCaller:
    """`WebhookCaller` over httpx2.

    Pass `client` to share a connection pool (it is then not closed by `aclose`); hooks with
    `disableTLS` use `insecure_client` when given, else a private client without certificate
    verification created on first use. `backoff_base`/`backoff_cap` scale the retry waits
    (tests pass a tiny base).
    """

    def __init__(
        self,
        client: httpx2.AsyncClient | None = None,
        *,
        insecure_client: httpx2.AsyncClient | None = None,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
        backoff_cap: float = DEFAULT_BACKOFF_CAP,
    ) -> None:
        self._client = client
        self._insecure = insecure_client
        self._owned: list[httpx2.AsyncClient] = []
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap

    async def __aenter__(self) -> HttpWebhookCaller:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the clients this caller created (never an injected one)."""
        owned, self._owned = self._owned, []
        for client in owned:
            if client is self._client:
                self._client = None
            if client is self._insecure:
                self._insecure = None
            await client.aclose()

    async def call(self, hook: Webhook, payload: Mapping[str, object]) -> HookResult:
        """POST `payload` as JSON to `hook.url`, retrying per policy; never raises for I/O."""
        started = time.monotonic()
        try:
            timeout = hook_timeout(hook)
        except ValueError:
            error = f"invalid timeout {hook.timeout!r}"
            return _result(hook, _Attempt(status=None, error=error, retryable=False), 0, started)
        body = json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False).encode()
        client = self._client_for(hook)
        attempts = 0
        while True:
            attempts += 1
            outcome = await _attempt(client, url=hook.url, body=body, seconds=timeout)
            if not outcome.retryable or attempts > hook.retries:
                return _result(hook, outcome, attempts, started)
            delay = backoff_delay(attempts, base=self._backoff_base, cap=self._backoff_cap)
            await asyncio.sleep(delay)

    def _client_for(self, hook: Webhook) -> httpx2.AsyncClient:
        if hook.disable_tls:
            if self._insecure is None:
                self._insecure = self._new_client(verify=False)
            return self._insecure
        if self._client is None:
            self._client = self._new_client(verify=True)
        return self._client

    def _new_client(self, *, verify: bool) -> httpx2.AsyncClient:
        client = httpx2.AsyncClient(verify=verify, trust_env=False, follow_redirects=False)
        self._owned.append(client)
        return client


def _result(hook: Webhook, outcome: _Attempt, attempts: int, started: float) -> HookResult:
    ok = outcome.status is not None and is_success(outcome.status)
    return HookResult(
        ok=ok,
        status=outcome.status,
        attempts=attempts,
        error="" if ok else outcome.error,
        url=hook.url,
        elapsed=time.monotonic() - started,
    )


async def _attempt(
    client: httpx2.AsyncClient, *, url: str, body: bytes, seconds: float
) -> _Attempt:
    """One POST bounded by `seconds` as a whole (Go's `http.Client.Timeout`)."""
    try:
        async with asyncio.timeout(seconds):
            return await _post(client, url=url, body=body, seconds=seconds)
    except (TimeoutError, httpx2.TimeoutException):
        return _Attempt(status=None, error=f"timed out after {seconds:g}s", retryable=True)
    except httpx2.UnsupportedProtocol as exc:
        return _Attempt(status=None, error=_describe_exception(exc), retryable=False)
    except (httpx2.TransportError, OSError) as exc:
        return _Attempt(status=None, error=_describe_exception(exc), retryable=not _is_tls(exc))
    except (httpx2.HTTPError, httpx2.InvalidURL, ValueError) as exc:
        return _Attempt(status=None, error=_describe_exception(exc), retryable=False)


async def _post(client: httpx2.AsyncClient, *, url: str, body: bytes, seconds: float) -> _Attempt:
    """Send the request and read at most `MAX_ERROR_CHARS` worth of the response body."""
    async with client.stream(
        "POST", url, content=body, headers=_HEADERS, timeout=seconds, follow_redirects=False
    ) as response:
        status = response.status_code
        text = "" if is_success(status) else await _read_prefix(response)
    return _Attempt(status=status, error=text, retryable=is_retryable_status(status))


async def _read_prefix(response: httpx2.Response) -> str:
    """The start of the body as text, cut to `MAX_ERROR_CHARS` characters (with a marker)."""
    limit = MAX_ERROR_CHARS * 4  # bytes enough for MAX_ERROR_CHARS UTF-8 characters
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    text = _decode(b"".join(chunks)[:limit], response.charset_encoding).strip()
    if len(text) > MAX_ERROR_CHARS or size > limit:
        return text[:MAX_ERROR_CHARS] + "…"
    return text


def _decode(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "utf-8", errors="replace")
    except LookupError:  # unknown charset in Content-Type
        return data.decode("utf-8", errors="replace")


def _is_tls(exc: BaseException) -> bool:
    """Whether a transport error was caused by TLS (not retried, as in go-retryablehttp)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _describe_exception(exc: BaseException) -> str:
    detail = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {detail}" if detail else name
