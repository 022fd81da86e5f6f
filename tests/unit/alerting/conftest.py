"""Chat-service stand-ins: real aiohttp servers on 127.0.0.1 that record every request.

Each request takes the next `Reply` in `ChatServer.replies`; the last one repeats.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ensign.model import Canary, parse_canary

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxSECRETpath"
TOKEN = "xoxb-SECRET-TOKEN-123"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    status: int = 200
    body: str = "ok"
    delay: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    method: str
    path: str
    target: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True, kw_only=True)
class ChatServer:
    base: str = ""
    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    received: list[Received] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)

    def url(self, path: str = SECRET_PATH) -> str:
        return f"{self.base}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(
                method=request.method,
                path=request.path,
                target=str(request.rel_url) if not request.url.is_absolute() else str(request.url),
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        self.timeline.append("arrive")
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if reply.delay:
            await asyncio.sleep(reply.delay)
        self.timeline.append("answer")
        return web.Response(status=reply.status, text=reply.body)


ServerFactory = Callable[[], Awaitable[ChatServer]]


@pytest.fixture
async def chat_servers() -> AsyncIterator[ServerFactory]:
    runners: list[web.AppRunner] = []

    async def start() -> ChatServer:
        server = ChatServer()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", server.handle)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        server.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return server

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def chat(chat_servers: ServerFactory) -> ChatServer:
    return await chat_servers()


@pytest.fixture
def dead_url() -> str:
    """A 127.0.0.1 URL whose port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{SECRET_PATH}"


def make_canary(
    *,
    name: str = "podinfo",
    namespace: str = "test",
    alerts: list[dict[str, Any]] | None = None,
    **analysis: Any,
) -> Canary:
    """A Canary with a stepWeight analysis unless `analysis` fields say otherwise."""
    spec_analysis: dict[str, Any] = {"interval": "1m", "threshold": 5}
    spec_analysis.update(analysis or {"stepWeight": 10, "maxWeight": 50})
    if alerts is not None:
        spec_analysis["alerts"] = alerts
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "progressDeadlineSeconds": 120,
                "service": {"port": 80},
                "analysis": spec_analysis,
            },
        }
    )


def provider_body(
    name: str,
    namespace: str = "test",
    *,
    type: str = "slack",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": type, **spec},
    }
