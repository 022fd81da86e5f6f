"""The `ensign loadtester` command: flags become a LoadTesterConfig."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from ensign.cli import main
from ensign.loadtester import LoadTesterConfig, Policy
from ensign.loadtester import server as server_module
from ensign.loadtester.tasks import DEFAULT_PROGRAMS


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[LoadTesterConfig]:
    configs: list[LoadTesterConfig] = []

    async def fake_run(config: LoadTesterConfig) -> None:
        configs.append(config)

    monkeypatch.setattr(server_module, "run_until_signalled", fake_run)
    monkeypatch.setattr("ensign.logformat.configure", lambda **_: None)
    return configs


def invoke(*args: str, token: str | None = None) -> Any:
    env = {"ENSIGN_LOADTESTER_TOKEN": token}  # None unsets an inherited value
    return CliRunner().invoke(main, ["loadtester", *args], env=env)


def test_defaults_are_safe(captured: list[LoadTesterConfig]) -> None:
    result = invoke()
    assert result.exit_code == 0, result.output
    [config] = captured
    assert (config.host, config.port, config.token, config.timeout) == (
        "127.0.0.1",
        9090,
        None,
        3600.0,
    )
    assert config.policy == Policy(
        allow_commands=False, allow_shell=False, programs=DEFAULT_PROGRAMS
    )


def test_flags(captured: list[LoadTesterConfig]) -> None:
    result = invoke(
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
        "--timeout",
        "90s",
        "--allow-commands",
        "--allow-shell",
        "--allow-prefix",
        "hey",
        "--allow-prefix",
        "curl",
        "--max-concurrent",
        "2",
        "--max-body",
        "1024",
        "--max-output",
        "10",
        "--namespace-regexp",
        "^test$",
        token="from-env",
    )
    assert result.exit_code == 0, result.output
    [config] = captured
    assert config.policy == Policy(
        allow_commands=True, allow_shell=True, programs=frozenset({"hey", "curl"})
    )
    assert (config.host, config.port, config.timeout, config.token) == (
        "0.0.0.0",
        8080,
        90.0,
        "from-env",
    )
    assert (config.max_concurrent, config.max_body, config.max_output) == (2, 1024, 10)
    assert config.namespace_regexp == "^test$"


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--timeout", "soon"), "--timeout"), (("--namespace-regexp", "("), "--namespace-regexp")],
)
def test_bad_flags(args: tuple[str, ...], message: str, captured: list[LoadTesterConfig]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert captured == []
