"""A tiny recording HTTP backend on 127.0.0.1 (random port) for the provider tests.

Each test scripts the backend with one handler `(request, body) -> response`; every request
is recorded (method, path, query, headers, body) before the handler answers, so a test can
check exactly what the provider sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from ensign.metricproviders import ProviderConfig
from ensign.model import MetricProviderType

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
"""The check time every `value` test passes; `NOW_S` in unix seconds."""
NOW_S = int(NOW.timestamp())

Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    query_items: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True, kw_only=True)
class Backend:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)


Serve = Callable[[Handler], Awaitable[Backend]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Factory: `backend = await serve(handler)`; servers stop when the test ends."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> Backend:
        backend = Backend()

        async def record(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            backend.seen.append(
                Seen(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    query_items=list(request.query.items()),
                    headers=dict(request.headers),
                    body=body,
                )
            )
            return await handler(request, body)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        backend.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return backend

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


def config(kind: MetricProviderType, **fields: Any) -> ProviderConfig:
    return ProviderConfig(type=kind, **fields)


def reply(body: object, status: int = 200) -> Handler:
    """A handler that answers every request with `body` as JSON."""

    async def answer(request: web.Request, _: bytes) -> web.StreamResponse:
        return web.json_response(body, status=status)

    return answer


def reply_text(text: str, status: int = 200, content_type: str = "text/plain") -> Handler:
    async def answer(request: web.Request, _: bytes) -> web.StreamResponse:
        return web.Response(text=text, status=status, content_type=content_type)

    return answer


SecretsHidden = Callable[..., None]


@pytest.fixture
def secrets_hidden(caplog: pytest.LogCaptureFixture) -> SecretsHidden:
    """`secrets_hidden(secret, ..., errors=[exc, ...])` asserts no secret appears in any log
    record (captured from DEBUG up) or in any of the exceptions' text."""
    caplog.set_level(logging.DEBUG)

    def check(*secrets: str, errors: tuple[BaseException, ...] | list[BaseException] = ()) -> None:
        texts = [record.getMessage() for record in caplog.records]
        texts += [f"{error!s} {error!r}" for error in errors]
        assert secrets and all(secrets)
        for secret in secrets:
            leaked = [text for text in texts if secret in text]
            assert leaked == [], f"secret leaked into {leaked}"

    return check
