"""The controller's own HTTP endpoints (`/healthz`, `/readyz`, `/metrics`) on asyncio streams.

A few GET routes answered from memory do not need a web framework: this server speaks just
enough HTTP/1.1 for kubelet probes and Prometheus scrapes (keep-alive, Content-Length, HEAD,
404/405/400/431), so the controller process does not load aiohttp (about 5 MiB of modules) for
them. Every other HTTP the controller does is client-side, over httpx2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024  # request line and headers
IDLE_TIMEOUT = 75.0  # seconds a kept-alive connection may wait for its next request
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = TEXT


Route = Callable[[], Reply]


def text(body: str, status: int = 200) -> Reply:
    return Reply(status, body.encode())


def parse_address(address: str) -> tuple[str, int]:
    """`host:port` (host may be empty or a bracketed IPv6 address) → (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"metrics address {address!r}: want HOST:PORT with a numeric port")
    return host.strip("[]") or "127.0.0.1", int(port)


class ProbeServer:
    """Serves fixed GET routes; each route is a plain function returning a `Reply`."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self.routes = dict(routes)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (useful after binding port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, address: str) -> None:
        host, port = parse_address(address)
        self._server = await asyncio.start_server(self._accept, host, port, limit=MAX_HEAD)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection stays open for another."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        except asyncio.LimitOverrunError:
            await self._send(writer, "GET", text("request head too large\n", 431), close=True)
            return False
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                await self._send(writer, "GET", text("incomplete request\n", 400), close=True)
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await self._send(writer, "GET", text("malformed request line\n", 400), close=True)
            return False
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        if not length.isdigit() or "transfer-encoding" in headers:
            await self._send(writer, method, text("unsupported request body\n", 400), close=True)
            return False
        if int(length):
            await reader.readexactly(int(length))  # probes send none; read and drop it
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        await self._send(writer, method, self._answer(method, target.split("?", 1)[0]), close)
        return not close

    def _answer(self, method: str, path: str) -> Reply:
        route = self.routes.get(path)
        if route is None:
            return text("not found\n", 404)
        if method not in ("GET", "HEAD"):
            return text("method not allowed\n", 405)
        try:
            return route()
        except Exception:
            log.exception("GET %s failed", path)
            return text("internal error\n", 500)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, method: str, reply: Reply, close: bool) -> None:
        head = (
            f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Unknown')}\r\n"
            f"Content-Type: {reply.content_type}\r\n"
            f"Content-Length: {len(reply.body)}\r\n"
            + ("Allow: GET, HEAD\r\n" if reply.status == 405 else "")
            + f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1"))
        if method != "HEAD":
            writer.write(reply.body)
        await writer.drain()
