"""End to end against real receivers on 127.0.0.1: bodies, routing, failures, secrecy."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ensign.alerting import (
    AlertDispatcher,
    AlertKind,
    Destination,
    Notifier,
    NotifyError,
    alert_message,
    payload,
)
from ensign.model import AlertProviderType

from .conftest import (
    SECRET_PATH,
    TOKEN,
    ChatServer,
    Reply,
    ServerFactory,
    make_canary,
    provider_body,
)
from .test_routing import World

Make = Callable[..., AlertDispatcher]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """Dispatchers with a short-timeout notifier that ignores proxy environment variables."""
    made: list[tuple[AlertDispatcher, Notifier]] = []

    def build(world: World, *, timeout: float = 2.0, **kw: Any) -> AlertDispatcher:
        notifier = Notifier(timeout=timeout, trust_env=False)
        dispatcher = AlertDispatcher(
            lookup_provider=world.provider,
            lookup_secret=world.secret,
            notifier=notifier,
            timeout=timeout,
            **kw,
        )
        made.append((dispatcher, notifier))
        return dispatcher

    yield build
    for dispatcher, notifier in made:
        await dispatcher.aclose()
        await notifier.aclose()


def one_alert(provider: str = "chat", severity: str = "info") -> list[dict[str, Any]]:
    return [{"name": provider, "severity": severity, "providerRef": {"name": provider}}]


@pytest.mark.parametrize("provider_type", list(AlertProviderType))
async def test_each_service_receives_its_exact_body(
    provider_type: AlertProviderType, chat: ChatServer, make: Make
) -> None:
    world = World()
    world.add(
        provider_body("chat", type=provider_type.value, address=chat.url(), channel="deploys")
    )
    canary = make_canary(alerts=one_alert())
    dispatcher = make(world, cluster_name="prod")

    errors = await dispatcher.send(AlertKind.NEW_REVISION, canary, target_kind="Deployment")

    assert errors == []
    [request] = chat.received
    assert request.method == "POST"
    suffix = "/slack" if provider_type is AlertProviderType.DISCORD else ""
    assert request.path == SECRET_PATH + suffix
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    expected = alert_message(
        AlertKind.NEW_REVISION, canary, target_kind="Deployment", cluster_name="prod"
    )
    assert request.json() == payload(provider_type, expected, channel="deploys", username="flagger")
    assert expected.fields[0] == ("Cluster", "prod")


async def test_slack_secret_token_is_sent_as_bearer(chat: ChatServer, make: Make) -> None:
    world = World()
    world.add(provider_body("chat", secretRef={"name": "hook"}))
    world.secrets[("test", "hook")] = {"address": chat.url(), "token": TOKEN}
    dispatcher = make(world)

    errors = await dispatcher.send(
        AlertKind.THRESHOLD_ROLLBACK,
        make_canary(alerts=one_alert()),
        target_kind="Deployment",
        detail="5",
    )

    assert errors == []
    [request] = chat.received
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    body = request.json()
    assert body["attachments"][0]["text"] == "Failed checks threshold reached 5"
    assert body["attachments"][0]["color"] == "danger"


async def test_severity_filtering_end_to_end(chat: ChatServer, make: Make) -> None:
    world = World()
    alerts = []
    for level in ("info", "warn", "error"):
        world.add(provider_body(level, address=chat.url(f"/{level}")))
        alerts += one_alert(level, level)
    canary = make_canary(alerts=alerts)
    dispatcher = make(world)

    async def paths(kind: AlertKind) -> set[str]:
        chat.received.clear()
        assert await dispatcher.send(kind, canary, target_kind="Deployment") == []
        return {request.path for request in chat.received}

    assert await paths(AlertKind.SUCCEEDED) == {"/info"}
    assert await paths(AlertKind.WAITING_PROMOTION) == {"/info", "/warn"}
    assert await paths(AlertKind.FAILED_PROMOTION) == {"/info", "/warn", "/error"}


async def test_global_notifier_only_for_canaries_without_alerts(
    chat: ChatServer, make: Make
) -> None:
    world = World()
    world.add(provider_body("chat", address=chat.url("/own")))
    notifier = Destination(
        type=AlertProviderType.SLACK,
        url=chat.url("/global"),
        token=TOKEN,
        channel="ops",
        username="flagger",
        label="global Slack notifier",
    )
    dispatcher = make(world, global_notifier=notifier)

    await dispatcher.send(AlertKind.WAITING_ROLLOUT, make_canary(), target_kind="Deployment")
    await dispatcher.send(
        AlertKind.WAITING_ROLLOUT, make_canary(alerts=one_alert()), target_kind="Deployment"
    )

    assert [r.path for r in chat.received] == ["/global", "/own"]
    global_request, own_request = chat.received
    assert global_request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert global_request.json()["channel"] == "ops"
    assert "Authorization" not in own_request.headers


async def test_failures_are_returned_never_raised_and_keep_secrets(
    chat_servers: ServerFactory, dead_url: str, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    failing, hanging, healthy = [await chat_servers() for _ in range(3)]
    failing.replies = [Reply(status=500, body=f"boom at {SECRET_PATH} with {TOKEN}")]
    hanging.replies = [Reply(delay=5.0)]
    world = World()
    world.add(provider_body("failing", secretRef={"name": "failing"}))
    world.secrets[("test", "failing")] = {"address": failing.url(), "token": TOKEN}
    world.add(provider_body("hanging", type="msteams", address=hanging.url()))
    world.add(provider_body("dead", type="gchat", address=dead_url))
    world.add(provider_body("healthy", type="rocket", address=healthy.url()))
    world.add(provider_body("unresolved", secretRef={"name": "missing"}))
    names = ["failing", "hanging", "dead", "healthy", "unresolved"]
    canary = make_canary(alerts=[a for n in names for a in one_alert(n)])
    dispatcher = make(world, timeout=0.3)

    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    errors = await dispatcher.send(AlertKind.SUCCEEDED, canary, target_kind="Deployment")
    elapsed = time.monotonic() - started

    assert elapsed < 1.5  # concurrent and bounded by the short timeout
    assert len(healthy.received) == 1
    by_label = {e.split(":")[0]: e for e in errors}
    assert set(by_label) == {
        "alert provider unresolved.test",
        "alert provider failing.test (slack)",
        "alert provider hanging.test (msteams)",
        "alert provider dead.test (gchat)",
    }
    assert by_label["alert provider failing.test (slack)"] == (
        f"alert provider failing.test (slack): delivery to {failing.base} failed: "
        "HTTP 500: boom at *** with ***"
    )
    assert by_label["alert provider hanging.test (msteams)"].endswith("timed out after 0.3s")
    assert (
        f"delivery to {dead_url.removesuffix(SECRET_PATH)} failed"
        in by_label["alert provider dead.test (gchat)"]
    )
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("ensign.alerting")]
    assert len(logged) == 4
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name.startswith("ensign"))
    # httpx2 itself logs full URLs at INFO; ensign.logformat raises that logger to WARNING.
    ours = [r for r in caplog.records if r.name.startswith("ensign")]
    for text in [*errors, *(r.getMessage() for r in ours), *(str(r.args) for r in ours)]:
        assert "SECRET" not in text


async def test_send_soon_returns_at_once_and_drain_waits(chat: ChatServer, make: Make) -> None:
    chat.replies = [Reply(delay=0.3)]
    world = World()
    world.add(provider_body("chat", address=chat.url()))
    dispatcher = make(world)
    canary = make_canary(alerts=one_alert())

    started = time.monotonic()
    dispatcher.send_soon(AlertKind.INITIALIZED, canary, target_kind="Deployment")
    assert time.monotonic() - started < 0.05
    assert dispatcher.pending == 1
    assert chat.received == []

    await dispatcher.drain()
    assert dispatcher.pending == 0
    assert len(chat.received) == 1


async def test_send_soon_keeps_the_order_of_one_canarys_alerts(
    chat: ChatServer, make: Make
) -> None:
    chat.replies = [Reply(delay=0.2), Reply()]
    world = World()
    world.add(provider_body("chat", address=chat.url()))
    dispatcher = make(world)
    canary = make_canary(alerts=one_alert())

    dispatcher.send_soon(AlertKind.NEW_REVISION, canary, target_kind="Deployment")
    dispatcher.send_soon(AlertKind.SUCCEEDED, canary, target_kind="Deployment")
    await dispatcher.drain()

    assert chat.timeline == ["arrive", "answer", "arrive", "answer"]
    texts = [r.json()["attachments"][0]["text"] for r in chat.received]
    assert texts == [
        "New revision detected, progressing canary analysis.",
        "Canary analysis completed successfully, promotion finished.",
    ]


async def test_send_soon_with_an_unreachable_service_never_raises(
    dead_url: str, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    world.add(provider_body("chat", address=dead_url))
    dispatcher = make(world, timeout=0.3)
    dispatcher.send_soon(
        AlertKind.SUCCEEDED, make_canary(alerts=one_alert()), target_kind="Deployment"
    )
    await dispatcher.drain()
    [record] = [r for r in caplog.records if r.name == "ensign.alerting.dispatch"]
    assert record.levelno == logging.WARNING
    assert "alert provider chat.test (slack): delivery to http://127.0.0.1:" in record.getMessage()
    assert "SECRET" not in record.getMessage()


async def test_closed_dispatcher_drops_new_alerts(chat: ChatServer, make: Make) -> None:
    world = World()
    world.add(provider_body("chat", address=chat.url()))
    dispatcher = make(world)
    await dispatcher.aclose()
    dispatcher.send_soon(
        AlertKind.SUCCEEDED, make_canary(alerts=one_alert()), target_kind="Deployment"
    )
    assert dispatcher.pending == 0
    await asyncio.sleep(0.05)
    assert chat.received == []


async def test_proxy_is_used_when_set(chat: ChatServer, dead_url: str, make: Make) -> None:
    world = World()
    world.add(provider_body("chat", address=dead_url, proxy=chat.base))
    dispatcher = make(world)

    errors = await dispatcher.send(
        AlertKind.SUCCEEDED, make_canary(alerts=one_alert()), target_kind="Deployment"
    )

    assert errors == []
    [request] = chat.received
    assert request.headers["Host"] == dead_url.split("/")[2]


async def test_notifier_reuses_one_client_per_proxy(chat: ChatServer) -> None:
    async with Notifier(timeout=1.0, trust_env=False) as notifier:
        await notifier.post(chat.url("/a"), {"n": 1})
        await notifier.post(chat.url("/b"), {"n": 2})
        await notifier.post(chat.url("/c"), {"n": 3}, proxy=chat.base)
        assert len(notifier._clients) == 2
    assert [r.json() for r in chat.received] == [{"n": 1}, {"n": 2}, {"n": 3}]
    with pytest.raises(NotifyError, match="closed"):
        await notifier.post(chat.url(), {})


async def test_notifier_error_carries_the_status(chat: ChatServer) -> None:
    chat.replies = [Reply(status=404, body="no_service")]
    async with Notifier(timeout=1.0, trust_env=False) as notifier:
        with pytest.raises(NotifyError) as caught:
            await notifier.post(chat.url(), {}, token=TOKEN)
    assert caught.value.status == 404
    assert str(caught.value) == "HTTP 404: no_service"
    assert chat.received[0].headers["Authorization"] == f"Bearer {TOKEN}"
