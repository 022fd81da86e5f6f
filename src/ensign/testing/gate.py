"""A real HTTP gate on 127.0.0.1: answers 200 when open and 500 when closed. Does I/O.

It records every call (path and JSON body), so tests can assert what Ensign sent and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(slots=True)
class Call:
    path: str
    body: dict[str, Any]


@dataclass(slots=True)
class GateServer:
    """Per-path answers: `status[path]` (default 200), all calls recorded in order."""

    status: dict[str, int] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    # path -> how many more calls answer 500 before the path opens by itself
    failures_left: dict[str, int] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> GateServer:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def open(self, path: str) -> None:
        self.status[path.lstrip("/")] = 200

    def close(self, path: str) -> None:
        self.status[path.lstrip("/")] = 500

    def fail_next(self, path: str, count: int) -> None:
        """Answer 500 to the next `count` calls on `path`, then 200: a test's count of failed
        checks does not depend on how fast it looks."""
        self.failures_left[path.lstrip("/")] = count

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path.lstrip("/")]

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        try:
            body = await request.json()
        except ValueError:
            body = {}
        self.calls.append(Call(path=path, body=body))
        if self.failures_left.get(path, 0) > 0:
            self.failures_left[path] -= 1
            code = 500
        else:
            code = self.status.get(path, 200)
        return web.Response(status=code, text="open" if code < 300 else "gate closed")
