"""Gate and rollback endpoints over real HTTP (§8.2), and the load tester as an Ensign gate."""

from __future__ import annotations

import httpx2
import pytest

from ensign.model import HookType, Webhook
from ensign.webhooks import HttpWebhookCaller, webhook_payload

from .conftest import StartServer, encode, payload


async def post(http: httpx2.AsyncClient, url: str, body: bytes) -> httpx2.Response:
    return await http.post(url, content=body, headers={"Content-Type": "application/json"})


async def test_healthz(start_server: StartServer, http: httpx2.AsyncClient) -> None:
    server = await start_server()
    response = await http.get(f"{server.url}/healthz")
    assert (response.status_code, response.text) == (200, "OK")


@pytest.mark.parametrize("kind", ["gate", "rollback"])
async def test_check_is_closed_by_default(
    kind: str, start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server()
    response = await post(http, f"{server.url}/{kind}/check", encode(payload()))
    assert (response.status_code, response.text) == (403, "Forbidden")
    assert len(server.gates) == 0  # checking does not store anything


@pytest.mark.parametrize("kind", ["gate", "rollback"])
async def test_open_check_close_per_canary(
    kind: str, start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server()
    base = f"{server.url}/{kind}"
    podinfo = encode(payload("podinfo", "test"))

    opened = await post(http, f"{base}/open", podinfo)
    assert (opened.status_code, opened.text) == (202, "")

    approved = await post(http, f"{base}/check", podinfo)
    assert (approved.status_code, approved.text) == (200, "Approved")
    for other in (payload("other", "test"), payload("podinfo", "prod")):
        assert (await post(http, f"{base}/check", encode(other))).status_code == 403

    closed = await post(http, f"{base}/close", podinfo)
    assert (closed.status_code, closed.text) == (202, "")
    assert (await post(http, f"{base}/check", podinfo)).status_code == 403


async def test_gate_and_rollback_are_independent(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server()
    body = encode(payload())
    await post(http, f"{server.url}/gate/open", body)
    assert (await post(http, f"{server.url}/gate/check", body)).status_code == 200
    assert (await post(http, f"{server.url}/rollback/check", body)).status_code == 403

    # Flagger keys rollback gates "rollback.<name>.<ns>"; a canary named "rollback.podinfo"
    # must not open the rollback gate of "podinfo".
    tricky = encode(payload("rollback.podinfo", "test"))
    await post(http, f"{server.url}/gate/open", tricky)
    assert (await post(http, f"{server.url}/rollback/check", body)).status_code == 403


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_approve_and_halt_ignore_the_body(
    method: str, start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server()
    approve = await http.request(method, f"{server.url}/gate/approve", content=b"not json")
    halt = await http.request(method, f"{server.url}/gate/halt", content=b"not json")
    assert (approve.status_code, approve.text) == (200, "OK")
    assert (halt.status_code, halt.text) == (403, "Forbidden")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (encode({"namespace": "test"}), "name is required"),
        (encode({"name": "podinfo"}), "namespace is required"),
        (encode({"name": 7, "namespace": "test"}), "name must be a string"),
        (encode({"name": "a", "namespace": "b", "metadata": {"x": 1}}), "metadata.x"),
    ],
)
@pytest.mark.parametrize("path", ["/gate/check", "/gate/open", "/rollback/close"])
async def test_bad_gate_payloads_are_400(
    path: str, body: bytes, reason: str, start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server()
    response = await post(http, f"{server.url}{path}", body)
    assert response.status_code == 400
    assert reason in response.text


async def test_namespace_regexp_forbids_other_namespaces(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(namespace_regexp="^(test|staging)$")
    other = encode(payload("podinfo", "prod"))
    assert (await post(http, f"{server.url}/gate/open", other)).status_code == 403
    assert (await post(http, f"{server.url}/gate/check", other)).status_code == 403
    allowed = encode(payload("podinfo", "staging"))
    assert (await post(http, f"{server.url}/gate/open", allowed)).status_code == 202
    assert (await post(http, f"{server.url}/gate/approve", other)).status_code == 200


async def test_open_gates_are_bounded(start_server: StartServer, http: httpx2.AsyncClient) -> None:
    server = await start_server(max_open_gates=1)
    assert (await post(http, f"{server.url}/gate/open", encode(payload("a")))).status_code == 202
    again = await post(http, f"{server.url}/gate/open", encode(payload("a")))
    assert again.status_code == 202  # re-opening an open gate takes no room
    full = await post(http, f"{server.url}/gate/open", encode(payload("b")))
    assert full.status_code == 429
    assert "too many open gates" in full.text


# ------------------------------------------------------------------ with Ensign's caller


def hook(url: str, kind: HookType) -> Webhook:
    return Webhook(name="approval", url=url, type=kind, timeout="5s")


HOOK_PAYLOAD = webhook_payload(
    name="podinfo", namespace="test", phase="Progressing", checksum="6d8f5c", metadata=None
)


async def test_confirm_promotion_gate_with_ensigns_webhook_caller(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server()
    gate = hook(f"{server.url}/gate/check", HookType.CONFIRM_PROMOTION)
    async with HttpWebhookCaller() as caller:
        closed = await caller.call(gate, HOOK_PAYLOAD)
        assert (closed.ok, closed.status, closed.error) == (False, 403, "Forbidden")

        await post(http, f"{server.url}/gate/open", encode(payload("podinfo", "test")))
        opened = await caller.call(gate, HOOK_PAYLOAD)
        assert (opened.ok, opened.status) == (True, 200)

        await post(http, f"{server.url}/gate/close", encode(payload("podinfo", "test")))
        assert not (await caller.call(gate, HOOK_PAYLOAD)).ok


async def test_rollback_hook_with_ensigns_webhook_caller(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server()
    rollback = hook(f"{server.url}/rollback/check", HookType.ROLLBACK)
    async with HttpWebhookCaller() as caller:
        assert not (await caller.call(rollback, HOOK_PAYLOAD)).ok  # no rollback requested
        await post(http, f"{server.url}/rollback/open", encode(payload("podinfo", "test")))
        assert (await caller.call(rollback, HOOK_PAYLOAD)).ok  # roll back now


async def test_token_in_the_webhook_url_works_with_ensigns_caller(
    start_server: StartServer,
) -> None:
    server = await start_server(token="s3cret")
    bare = hook(f"{server.url}/gate/approve", HookType.CONFIRM_PROMOTION)
    with_token = hook(
        f"http://ensign:s3cret@127.0.0.1:{server.port}/gate/approve", HookType.CONFIRM_PROMOTION
    )
    async with HttpWebhookCaller() as caller:
        assert (await caller.call(bare, HOOK_PAYLOAD)).status == 401
        assert (await caller.call(with_token, HOOK_PAYLOAD)).ok
