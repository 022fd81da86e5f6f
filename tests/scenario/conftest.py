"""Fixtures shared by the scenario tests: a real HTTP gate on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ensign.testing.gate import GateServer


@pytest.fixture
async def gate() -> AsyncIterator[GateServer]:
    server = await GateServer().start()
    yield server
    await server.stop()
