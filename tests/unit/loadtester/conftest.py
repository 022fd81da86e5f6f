"""Load tester servers on 127.0.0.1 (random port) and an HTTP client to drive them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import pytest

from ensign.loadtester import LoadTesterConfig, LoadTesterServer, Policy

StartServer = Callable[..., Awaitable[LoadTesterServer]]


def payload(name: str = "podinfo", namespace: str = "test", **metadata: str) -> dict[str, Any]:
    """A Flagger webhook body; metadata omitted when empty, as Flagger does."""
    body: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "phase": "Progressing",
        "checksum": "6d8f5c",
    }
    if metadata:
        body["metadata"] = metadata
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def commands(*programs: str, shell: bool = False) -> Policy:
    return Policy(allow_commands=True, allow_shell=shell, programs=frozenset(programs))


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Factory: `await start_server(policy=..., max_concurrent=...)` (port 0, loopback)."""
    servers: list[LoadTesterServer] = []

    async def start(**overrides: Any) -> LoadTesterServer:
        config = LoadTesterConfig(host="127.0.0.1", port=0, shutdown_timeout=0.2, **overrides)
        server = await LoadTesterServer(config).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(trust_env=False, timeout=10.0) as client:
        yield client
