"""The task endpoint `POST /` over real HTTP (§8.3), with Ensign's secure defaults."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from ensign.loadtester import Policy

from .conftest import StartServer, commands, encode, payload


async def task(http: httpx2.AsyncClient, url: str, body: bytes) -> httpx2.Response:
    return await http.post(f"{url}/", content=body, headers={"Content-Type": "application/json"})


async def wait_for(path: Path, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not await asyncio.to_thread(path.exists):
            await asyncio.sleep(0.01)


def fake_program(directory: Path, name: str, script: str) -> None:
    """An executable `name` in `directory` (a stand-in for helm/kubectl)."""
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def env_with_path(directory: Path) -> dict[str, str]:
    return {"PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}


# ------------------------------------------------------------------ running commands


async def test_commands_are_off_by_default(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server()
    response = await task(http, server.url, encode(payload(cmd="echo hello")))
    assert response.status_code == 403
    assert "--allow-commands" in response.text


async def test_cmd_runs_in_the_background_and_answers_202(
    start_server: StartServer, http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    server = await start_server(policy=commands("touch"))
    marker = tmp_path / "ran"
    response = await task(http, server.url, encode(payload(cmd=f"touch {marker}")))
    assert (response.status_code, response.text) == (202, "")
    await wait_for(marker)


async def test_cmd_output_is_logged_with_log_cmd_output(
    start_server: StartServer, http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ensign.loadtester")
    server = await start_server(policy=commands("echo"))
    body = encode(payload(type="cmd", cmd="echo 'hello, world'", logCmdOutput="true"))
    assert (await task(http, server.url, body)).status_code == 202
    async with asyncio.timeout(5):
        while "command output" not in caplog.text:
            await asyncio.sleep(0.01)
    assert "command output echo 'hello, world': hello, world" in caplog.text


async def test_bash_task_returns_output_with_return_cmd_output(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("echo", shell=True))
    body = encode(payload(type="bash", cmd="echo hello && echo world", returnCmdOutput="true"))
    response = await task(http, server.url, body)
    assert (response.status_code, response.text) == (200, "hello\nworld\n")

    quiet = await task(http, server.url, encode(payload(type="bash", cmd="echo hello")))
    assert (quiet.status_code, quiet.text) == (200, "")


async def test_shell_cmd_runs_via_sh_when_allowed(
    start_server: StartServer, http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    server = await start_server(policy=commands("echo", shell=True))
    marker = tmp_path / "out"
    response = await task(http, server.url, encode(payload(cmd=f"echo hi > {marker}")))
    assert response.status_code == 202
    await wait_for(marker)


@pytest.mark.parametrize("kind", ["helm", "helmv3"])
async def test_helm_task_runs_helm_synchronously(
    kind: str, start_server: StartServer, http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    fake_program(tmp_path, "helm", 'echo "helm $*"')
    server = await start_server(policy=commands("helm"), env=env_with_path(tmp_path))
    body = encode(
        payload(type=kind, cmd="test podinfo -n test   --timeout 3m", returnCmdOutput="true")
    )
    response = await task(http, server.url, body)
    assert (response.status_code, response.text) == (
        200,
        "helm test podinfo -n test --timeout 3m\n",
    )


async def test_failing_synchronous_task_is_500_with_output(
    start_server: StartServer, http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    fake_program(tmp_path, "kubectl", 'echo "no such pod"; exit 3')
    server = await start_server(policy=commands("kubectl"), env=env_with_path(tmp_path))
    response = await task(http, server.url, encode(payload(type="kubectl", cmd="get pod x")))
    assert response.status_code == 500
    assert response.text == "command get pod x failed: no such pod\n: exit status 3"


async def test_same_canary_and_cmd_while_running_is_skipped(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("sleep"))
    body = encode(payload(cmd="sleep 1"))
    assert (await task(http, server.url, body)).text == ""
    skipped = await task(http, server.url, body)
    assert (skipped.status_code, skipped.text) == (202, "command skipped: already running")
    assert server.runner.busy == 1


async def test_concurrency_limit_answers_429(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("sleep"), max_concurrent=1)
    first = await task(http, server.url, encode(payload("a", cmd="sleep 1")))
    assert first.status_code == 202
    second = await task(http, server.url, encode(payload("b", cmd="sleep 1")))
    assert second.status_code == 429
    assert "limit 1" in second.text


async def test_stopping_the_server_kills_running_commands(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("sleep"))
    assert (await task(http, server.url, encode(payload(cmd="sleep 30")))).status_code == 202
    async with asyncio.timeout(3):
        await server.stop()
    assert server.runner.busy == 0


# ------------------------------------------------------------------ hostile or bad input


@pytest.mark.parametrize(
    ("cmd", "char"),
    [
        ("echo a; echo b", "';'"),
        ("echo a && echo b", "'&'"),
        ("echo a | cat", "'|'"),
        ("echo $(id)", "'$'"),
        ("echo `id`", "'`'"),
        ("echo a > /tmp/ensign-loadtester-x", "'>'"),
        ('echo "$HOME"', "'$'"),
        ("echo a\necho b", "newline"),
    ],
)
async def test_shell_metacharacters_without_allow_shell_are_400(
    cmd: str, char: str, start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("echo"))
    response = await task(http, server.url, encode(payload(cmd=cmd)))
    assert response.status_code == 400
    assert f"shell metacharacter {char}" in response.text
    assert "--allow-shell" in response.text


async def test_quoted_metacharacters_are_plain_arguments(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("echo"))
    body = encode(payload(cmd="echo 'a && b; c' \"x|y\" http://podinfo/?a=1"))
    assert (await task(http, server.url, body)).status_code == 202


async def test_bash_without_allow_shell_is_400(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("echo"))
    response = await task(http, server.url, encode(payload(type="bash", cmd="echo hi")))
    assert response.status_code == 400
    assert "--allow-shell" in response.text


@pytest.mark.parametrize(
    ("cmd", "program"),
    [
        ("rm -rf /tmp/nothing-here", "'rm'"),
        ("echoevil hi", "'echoevil'"),  # argv[0] is compared, not a string prefix
        ("/bin/echo hi", "'/bin/echo'"),
        ("'ech''o' hi", None),  # quoting resolves to 'echo': allowed
    ],
)
async def test_programs_must_be_allowlisted(
    cmd: str, program: str | None, start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("echo"))
    response = await task(http, server.url, encode(payload(cmd=cmd)))
    if program is None:
        assert response.status_code == 202
    else:
        assert response.status_code == 400
        assert f"program {program} is not allowed" in response.text


async def test_default_allowlist_is_flaggers_tools(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=Policy(allow_commands=True))
    refused = await task(http, server.url, encode(payload(cmd="sh -c id")))
    assert refused.status_code == 400
    assert "'sh' is not allowed" in refused.text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{oops", "invalid JSON"),
        (encode({"namespace": "test", "metadata": {"cmd": "echo"}}), "name is required"),
        (encode({"name": "podinfo", "metadata": {"cmd": "echo"}}), "namespace is required"),
        (encode(payload()), "metadata not found in payload"),
        (encode(payload(type="cmd")), "cmd not found in metadata"),
        (encode(payload(type="tester", cmd="echo")), "unknown task type tester"),
        (encode(payload(type="grpc", cmd="echo")), "unknown task type grpc"),
        (encode(payload(type="concord", cmd="x")), "not supported"),
        (encode(payload(cmd="echo 'open")), "unterminated single quote"),
    ],
)
async def test_bad_task_requests_are_400(
    body: bytes, reason: str, start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("echo"))
    response = await task(http, server.url, body)
    assert response.status_code == 400
    assert reason in response.text


async def test_task_endpoint_is_post_only(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(policy=commands("echo"))
    assert (await http.get(f"{server.url}/")).status_code == 405
    assert (await http.post(f"{server.url}/run", content=b"{}")).status_code == 404


async def test_ten_mib_body_is_413(start_server: StartServer, http: httpx2.AsyncClient) -> None:
    server = await start_server(policy=commands("echo"))
    huge = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    for path in ("/", "/gate/open"):
        try:
            response = await http.post(f"{server.url}{path}", content=huge)
        except httpx2.TransportError:  # the server may close before the upload ends
            pytest.fail("expected a 413 response, not a dropped connection")
        assert response.status_code == 413
    assert len(server.gates) == 0


async def test_body_over_the_limit_without_content_length_is_413(
    start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(max_body=1024)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * 1024

    response = await http.post(f"{server.url}/gate/open", content=chunks())
    assert response.status_code == 413


# ------------------------------------------------------------------ token


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong",
        "Bearer",
        "s3cret",
        "Basic !!!",
        "Basic " + base64.b64encode(b"s3cret").decode(),
    ],
)
async def test_token_required(
    authorization: str | None, start_server: StartServer, http: httpx2.AsyncClient
) -> None:
    server = await start_server(token="s3cret", policy=commands("echo"))
    headers = {"Authorization": authorization} if authorization else {}
    for path in ("/gate/approve", "/gate/check", "/"):
        response = await http.post(f"{server.url}{path}", content=b"{}", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_token_accepted(start_server: StartServer, http: httpx2.AsyncClient) -> None:
    server = await start_server(token="s3cret", policy=commands("echo"))
    bearer = {"Authorization": "Bearer s3cret"}
    approve = await http.post(f"{server.url}/gate/approve", headers=bearer)
    assert approve.status_code == 200
    basic = {"Authorization": "Basic " + base64.b64encode(b"flagger:s3cret").decode()}
    ran = await task_with(http, server.url, encode(payload(cmd="echo hi")), basic)
    assert ran.status_code == 202
    assert (await http.get(f"{server.url}/healthz")).status_code == 200  # probes need no token


async def task_with(
    http: httpx2.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> httpx2.Response:
    return await http.post(f"{url}/", content=body, headers=headers)


async def test_token_is_not_passed_to_commands(
    start_server: StartServer,
    http: httpx2.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ensign.loadtester")
    monkeypatch.setenv("ENSIGN_LOADTESTER_TOKEN", "s3cret")
    monkeypatch.setenv("ENSIGN_TEST_VISIBLE", "yes")
    server = await start_server(token="s3cret", policy=commands("env"))
    body = encode(payload(cmd="env", logCmdOutput="true"))
    headers = {"Authorization": "Bearer s3cret"}
    assert (await task_with(http, server.url, body, headers)).status_code == 202
    async with asyncio.timeout(5):
        while "command output" not in caplog.text:
            await asyncio.sleep(0.01)
    assert "ENSIGN_TEST_VISIBLE=yes" in caplog.text
    assert "ENSIGN_LOADTESTER_TOKEN" not in caplog.text
