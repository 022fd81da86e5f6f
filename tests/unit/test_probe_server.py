"""The controller's /healthz, /readyz, /metrics server (observability/server.py), over real
sockets on 127.0.0.1: routes, status codes, HEAD, keep-alive, bad requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import pytest

from ensign.observability.server import ProbeServer, Reply, parse_address, text


def boom() -> Reply:
    raise RuntimeError("broken route")


@pytest.fixture
async def server() -> AsyncIterator[ProbeServer]:
    state = {"ready": False}

    def ready() -> Reply:
        return text("ok") if state["ready"] else text("caches not synced", 503)

    def make_ready() -> Reply:
        state["ready"] = True
        return text("now ready")

    probe = ProbeServer(
        {
            "/healthz": lambda: text("ok"),
            "/readyz": ready,
            "/metrics": lambda: Reply(200, b"a 1\n", "text/plain; version=0.0.4"),
            "/boom": boom,
            "/ready-now": make_ready,
        }
    )
    await probe.start("127.0.0.1:0")
    try:
        yield probe
    finally:
        await probe.stop()


async def test_routes_statuses_and_keep_alive(server: ProbeServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with httpx2.AsyncClient(base_url=base) as client:
        answers = [
            await client.get("/healthz"),
            await client.get("/readyz"),
            await client.get("/ready-now"),
            await client.get("/readyz?verbose=1"),
            await client.get("/metrics"),
            await client.get("/nope"),
            await client.post("/healthz", content=b"x"),
            await client.get("/boom"),
            await client.head("/metrics"),
        ]
    got = [(a.status_code, a.text) for a in answers]
    assert got == [
        (200, "ok"),
        (503, "caches not synced"),
        (200, "now ready"),
        (200, "ok"),
        (200, "a 1\n"),
        (404, "not found\n"),
        (405, "method not allowed\n"),
        (500, "internal error\n"),
        (200, ""),
    ]
    assert answers[4].headers["content-type"] == "text/plain; version=0.0.4"
    assert answers[8].headers["content-length"] == "4"
    assert answers[6].headers["allow"] == "GET, HEAD"


async def raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /healthz HTTP/1.0\r\n\r\n", b"HTTP/1.1 200 OK"),
        (b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", b"HTTP/1.1 200 OK"),
        (b"NONSENSE\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
        (b"GET /healthz HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
        (b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"HTTP/1.1 431"),
    ],
)
async def test_closing_and_bad_requests(
    server: ProbeServer, request_bytes: bytes, status: bytes
) -> None:
    answer = await raw(server.port, request_bytes)
    assert answer.startswith(status), answer[:80]
    assert b"Connection: close" in answer


def test_addresses() -> None:
    assert parse_address("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert parse_address(":9090") == ("127.0.0.1", 9090)
    assert parse_address("[::1]:8080") == ("::1", 8080)
    for bad in ("8080", "host:http", "host:70000"):
        with pytest.raises(ValueError, match="metrics address"):
            parse_address(bad)
