"""A real aiohttp webhook receiver on 127.0.0.1 (random port) that records every request.

Tests script the replies: each request takes the next `Reply` in `HookServer.replies`; the last
one repeats once the list runs out.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ensign.webhooks import HttpWebhookCaller

TINY_BACKOFF = 0.001


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    status: int = 200
    body: str = ""
    delay: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True, kw_only=True)
class HookServer:
    base: str = ""
    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    received: list[Received] = field(default_factory=list)

    def url(self, path: str = "/gate/check") -> str:
        return f"{self.base}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return web.Response(status=reply.status, text=reply.body)


async def start_server(
    server: HookServer, *, ssl_context: ssl.SSLContext | None = None
) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    server.base = f"{scheme}://127.0.0.1:{port}"
    return runner


@pytest.fixture
async def hook_server() -> AsyncIterator[HookServer]:
    server = HookServer()
    runner = await start_server(server)
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def caller() -> AsyncIterator[HttpWebhookCaller]:
    async with HttpWebhookCaller(backoff_base=TINY_BACKOFF) as instance:
        yield instance
