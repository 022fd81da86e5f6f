"""HttpWebhookCaller against real aiohttp servers on 127.0.0.1 (§4.1)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import httpx2
import pytest

from ensign.model import HookType, Webhook
from ensign.webhooks import (
    DEFAULT_TIMEOUT_SECONDS,
    HookResult,
    HttpWebhookCaller,
    WebhookCaller,
    webhook_payload,
)
from ensign.webhooks.client import MAX_ERROR_CHARS, backoff_delay, hook_timeout

from .conftest import TINY_BACKOFF, HookServer, Reply, start_server

PAYLOAD = webhook_payload(
    name="podinfo",
    namespace="test",
    phase="Progressing",
    checksum="6d8f",
    metadata={"type": "bash", "cmd": "curl -sd 'test' http://podinfo-canary.test/token"},
)


def hook(url: str, **overrides: object) -> Webhook:
    fields: dict[str, object] = {"name": "gate", "url": url, "type": HookType.ROLLOUT}
    fields.update(overrides)
    return Webhook(**fields)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_posts_flaggers_json_payload(
    hook_server: HookServer, caller: HttpWebhookCaller
) -> None:
    result = await caller.call(hook(hook_server.url()), PAYLOAD)

    assert result == HookResult(
        ok=True, status=200, attempts=1, error="", url=hook_server.url(), elapsed=result.elapsed
    )
    [request] = hook_server.received
    assert (request.method, request.path) == ("POST", "/gate/check")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "6d8f",
        "metadata": {
            "cmd": "curl -sd 'test' http://podinfo-canary.test/token",
            "type": "bash",
        },
    }


async def test_payload_without_metadata_has_no_metadata_key(
    hook_server: HookServer, caller: HttpWebhookCaller
) -> None:
    payload = webhook_payload(
        name="p", namespace="n", phase="Initialized", checksum="c", metadata=None
    )
    await caller.call(hook(hook_server.url()), payload)
    assert hook_server.received[0].json() == {
        "name": "p",
        "namespace": "n",
        "phase": "Initialized",
        "checksum": "c",
    }


@pytest.mark.parametrize("status", [200, 201, 202, 203, 204, 206, 299])
async def test_any_2xx_succeeds(
    hook_server: HookServer, caller: HttpWebhookCaller, status: int
) -> None:
    hook_server.replies = [Reply(status=status, body="fine")]
    result = await caller.call(hook(hook_server.url()), PAYLOAD)
    assert (result.ok, result.status, result.attempts, result.error) == (True, status, 1, "")


@pytest.mark.parametrize("status", [300, 400, 403, 404, 500])
async def test_non_2xx_fails_with_body_as_error(
    hook_server: HookServer, caller: HttpWebhookCaller, status: int
) -> None:
    hook_server.replies = [Reply(status=status, body="  gate closed: load test failed\n")]
    result = await caller.call(hook(hook_server.url()), PAYLOAD)
    assert (result.ok, result.status, result.attempts) == (False, status, 1)
    assert result.error == "gate closed: load test failed"
    assert result.describe() == (
        f"HTTP {status} from {hook_server.url()} (attempt 1): gate closed: load test failed"
    )


async def test_long_error_body_is_truncated(
    hook_server: HookServer, caller: HttpWebhookCaller
) -> None:
    hook_server.replies = [Reply(status=400, body="x" * 100_000)]
    result = await caller.call(hook(hook_server.url()), PAYLOAD)
    assert result.error == "x" * MAX_ERROR_CHARS + "…"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_retries_then_gives_up(
    hook_server: HookServer, caller: HttpWebhookCaller, status: int
) -> None:
    hook_server.replies = [Reply(status=status, body="not yet")]
    result = await caller.call(hook(hook_server.url(), retries=2), PAYLOAD)
    assert (result.ok, result.status, result.attempts, result.error) == (
        False,
        status,
        3,
        "not yet",
    )
    assert len(hook_server.received) == 3
    assert result.describe() == f"HTTP {status} from {hook_server.url()} (attempt 3): not yet"


async def test_retry_recovers_when_server_does(
    hook_server: HookServer, caller: HttpWebhookCaller
) -> None:
    hook_server.replies = [Reply(status=503), Reply(status=429), Reply(status=200)]
    result = await caller.call(hook(hook_server.url(), retries=5), PAYLOAD)
    assert (result.ok, result.status, result.attempts) == (True, 200, 3)
    assert [r.json() for r in hook_server.received] == [PAYLOAD] * 3


async def test_no_retries_by_default(hook_server: HookServer, caller: HttpWebhookCaller) -> None:
    hook_server.replies = [Reply(status=500)]
    result = await caller.call(hook(hook_server.url()), PAYLOAD)
    assert (result.ok, result.attempts, len(hook_server.received)) == (False, 1, 1)


@pytest.mark.parametrize("status", [501, 400, 404, 302])
async def test_no_retry_on_non_retryable_status(
    hook_server: HookServer, caller: HttpWebhookCaller, status: int
) -> None:
    hook_server.replies = [Reply(status=status, body="nope")]
    result = await caller.call(hook(hook_server.url(), retries=3), PAYLOAD)
    assert (result.ok, result.status, result.attempts) == (False, status, 1)
    assert len(hook_server.received) == 1


async def test_redirect_is_not_followed(hook_server: HookServer, caller: HttpWebhookCaller) -> None:
    hook_server.replies = [Reply(status=307, body="moved"), Reply(status=200)]
    result = await caller.call(hook(hook_server.url()), PAYLOAD)
    assert (result.ok, result.status) == (False, 307)
    assert len(hook_server.received) == 1


async def test_backoff_grows_between_attempts(hook_server: HookServer) -> None:
    hook_server.replies = [Reply(status=500)]
    async with HttpWebhookCaller(backoff_base=0.05) as caller:
        result = await caller.call(hook(hook_server.url(), retries=2), PAYLOAD)
    assert result.attempts == 3
    assert result.elapsed >= 0.05 + 0.1


async def test_timeout_applies_per_attempt(
    hook_server: HookServer, caller: HttpWebhookCaller
) -> None:
    hook_server.replies = [Reply(delay=2.0), Reply(delay=0.1, status=202)]
    result = await caller.call(hook(hook_server.url(), timeout="200ms", retries=1), PAYLOAD)
    assert (result.ok, result.status, result.attempts) == (True, 202, 2)
    assert result.elapsed < 1.0


async def test_timeout_fails_without_raising(
    hook_server: HookServer, caller: HttpWebhookCaller
) -> None:
    hook_server.replies = [Reply(delay=2.0)]
    result = await caller.call(hook(hook_server.url(), timeout="200ms", retries=1), PAYLOAD)
    assert (result.ok, result.status, result.attempts) == (False, None, 2)
    assert result.error == "timed out after 0.2s"
    assert 0.4 <= result.elapsed < 1.5
    assert result.describe() == (
        f"request to {hook_server.url()} failed (attempt 2): timed out after 0.2s"
    )


async def test_connection_refused_is_a_failed_result(caller: HttpWebhookCaller) -> None:
    url = f"http://127.0.0.1:{free_port()}/gate"
    result = await caller.call(hook(url, retries=2), PAYLOAD)
    assert (result.ok, result.status, result.attempts, result.url) == (False, None, 3, url)
    assert result.error.startswith("ConnectError")
    assert result.describe().startswith(f"request to {url} failed (attempt 3): ConnectError")


async def test_unsupported_scheme_is_not_retried(caller: HttpWebhookCaller) -> None:
    result = await caller.call(hook("ftp://127.0.0.1:1/x", retries=3), PAYLOAD)
    assert (result.ok, result.status, result.attempts) == (False, None, 1)
    assert result.error.startswith("UnsupportedProtocol")


async def test_unparsable_timeout_fails_without_a_request(
    hook_server: HookServer, caller: HttpWebhookCaller
) -> None:
    result = await caller.call(hook(hook_server.url(), timeout="soon"), PAYLOAD)
    assert (result.ok, result.status, result.attempts) == (False, None, 0)
    assert result.error == "invalid timeout 'soon'"
    assert result.describe() == f"request to {hook_server.url()} not sent: invalid timeout 'soon'"
    assert hook_server.received == []


@pytest.mark.parametrize(
    ("timeout", "seconds"),
    [(None, DEFAULT_TIMEOUT_SECONDS), ("", 10.0), ("5", 10.0), ("0s", 10.0), ("1m30s", 90.0)],
)
def test_hook_timeout(timeout: str | None, seconds: float) -> None:
    assert hook_timeout(hook("http://127.0.0.1/", timeout=timeout)) == seconds


def test_backoff_is_exponential_and_capped() -> None:
    delays = [backoff_delay(n, base=1.0, cap=30.0) for n in range(1, 8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_delay(10_000, base=1.0, cap=30.0) == 30.0
    assert backoff_delay(3, base=0.0, cap=30.0) == 0.0


async def test_injected_client_is_used_and_left_open(hook_server: HookServer) -> None:
    async with httpx2.AsyncClient(trust_env=False) as client:
        caller: WebhookCaller = HttpWebhookCaller(client, backoff_base=TINY_BACKOFF)
        result = await caller.call(hook(hook_server.url()), PAYLOAD)
        assert result.ok
        assert isinstance(caller, HttpWebhookCaller)
        await caller.aclose()
        assert not client.is_closed


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not available")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_disable_tls_skips_verification_for_that_hook_only(
    tmp_path: Path, caller: HttpWebhookCaller
) -> None:
    server = HookServer()
    runner = await start_server(server, ssl_context=self_signed(tmp_path))
    try:
        verified = await caller.call(hook(server.url(), retries=3), PAYLOAD)
        insecure = await caller.call(hook(server.url(), disable_tls=True), PAYLOAD)
    finally:
        await runner.cleanup()
    assert (verified.ok, verified.status, verified.attempts) == (False, None, 1)
    assert "CERTIFICATE_VERIFY_FAILED" in verified.error
    assert (insecure.ok, insecure.status) == (True, 200)
    assert len(server.received) == 1
