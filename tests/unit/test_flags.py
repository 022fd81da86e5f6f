"""Flagger's flags on `ensign controller`: the argv rewrite, and parsing into Settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from ensign import cli
from ensign.cli import build_settings, main
from ensign.flags import RESERVED, Flag, Valued, rewrite, spec_of
from ensign.runtime.app import Settings

SPEC = {
    "namespace": Valued(),
    "log-level": Valued(),
    "log-format": Valued(),
    "enable-leader-election": Flag("--enable-leader-election", None, True),
    "enable-config-tracking": Flag("--enable-config-tracking", "--no-enable-config-tracking"),
    "no-enable-config-tracking": Flag("--no-enable-config-tracking", "--enable-config-tracking"),
    "help": Flag("--help", None, True),
}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # one dash or two, with '=' or a separate value
        (["-namespace", "test"], ["--namespace=test"]),
        (["-namespace=test"], ["--namespace=test"]),
        (["--namespace", "test"], ["--namespace=test"]),
        (["--namespace=test"], ["--namespace=test"]),
        (["-namespace="], ["--namespace="]),
        # a value that starts with '-' is a value, never a flag (as in Go)
        (["-namespace", "-log-level"], ["--namespace=-log-level"]),
        (["-namespace", "-n"], ["--namespace=-n"]),
        # a value option at the end without its value: click reports it
        (["-namespace"], ["--namespace"]),
        # short options are left to click; an unknown flag gets two dashes, for click's error
        (["-n", "test"], ["-n", "test"]),
        (["-ntest"], ["-ntest"]),
        (["-unknown-flag=1"], ["--unknown-flag=1"]),
        (["--unknown-flag"], ["--unknown-flag"]),
        (["-x"], ["-x"]),
        # ... unless it starts with a short option's letter: `-nvalue` is `-n value` to click
        (["-no-such-flag=1"], ["-no-such-flag=1"]),
        (["positional"], ["positional"]),
        # Go booleans: bare, =true, =false, every spelling strconv.ParseBool takes
        (["-enable-leader-election"], ["--enable-leader-election"]),
        (["-enable-leader-election=true"], ["--enable-leader-election"]),
        (["--enable-leader-election=1"], ["--enable-leader-election"]),
        (["-enable-leader-election=T"], ["--enable-leader-election"]),
        (["-enable-leader-election=false"], []),
        (["-enable-leader-election=0"], []),
        # the last occurrence wins, as in Go
        (["-enable-leader-election", "-enable-leader-election=False"], []),
        # a flag with a secondary: =false is the secondary
        (["-enable-config-tracking=false"], ["--no-enable-config-tracking"]),
        (["-enable-config-tracking=F"], ["--no-enable-config-tracking"]),
        (["-enable-config-tracking=TRUE"], ["--enable-config-tracking"]),
        (["-no-enable-config-tracking"], ["--no-enable-config-tracking"]),
        # not a Go boolean: left for click to reject ("does not take a value")
        (["-enable-leader-election=yes"], ["--enable-leader-election=yes"]),
        # a boolean takes no separate value: the next token stays what it is
        (
            ["-enable-leader-election", "-namespace=x"],
            ["--enable-leader-election", "--namespace=x"],
        ),
        # renamed flags and translated values
        (["-zap-encoding", "console"], ["--log-format=text"]),
        (["-zap-encoding=json"], ["--log-format=json"]),
        (["--zap-encoding=console"], ["--log-format=text"]),
        (["-log-level=warn"], ["--log-level=warning"]),
        (["-log-level", "fatal"], ["--log-level=error"]),
        (["-log-level=debug"], ["--log-level=debug"]),
        # --log-format is Ensign's: no translation of its values
        (["--log-format=console"], ["--log-format=console"]),
        # -help, and everything after '--' is untouched
        (["-help"], ["--help"]),
        (["--", "-namespace", "x"], ["--", "-namespace", "x"]),
    ],
)
def test_rewrite(argv: list[str], expected: list[str]) -> None:
    assert rewrite(argv, SPEC, shorts={"n"}) == expected


def test_spec_of_reads_the_long_options_of_a_command() -> None:
    @click.command()
    @click.option("--name", "-n")
    @click.option("--on", is_flag=True)
    @click.option("--track/--no-track", default=True)
    @click.option("--mode", flag_value="fast")
    def command(**_: Any) -> None:
        pass

    assert spec_of(command.params) == {
        "name": Valued(),
        "on": Flag("--on", None, True),
        "track": Flag("--track", "--no-track", False),
        "no-track": Flag("--no-track", "--track"),
        "mode": Flag("--mode"),
    }


# ---------------------------------------------------------------------- the controller command


def parse(*argv: str) -> dict[str, Any]:
    """`ensign controller ARGV` parsed by the real group, without running the controller."""
    ctx = main.make_context("ensign", ["controller", *argv])
    name, command, rest = main.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
    assert command is not None
    with command.make_context(name, rest, parent=ctx) as sub:
        return dict(sub.params)


def test_the_issue_example_parses_into_the_expected_settings() -> None:
    params = parse(
        "-namespace", "test", "-log-level=debug", "-enable-leader-election=false",
        "-zap-encoding", "console",
    )  # fmt: skip
    assert (params["log_level"], params["log_format"]) == ("debug", "text")
    assert params["enable_leader_election"] is False
    assert build_settings(params, env={}) == Settings(namespace="test", leader_election=False)


def test_flagger_kustomize_and_helm_args_parse() -> None:
    # kustomize/kubernetes overlay, then what the Helm chart renders with most values set
    params = parse(
        "-log-level=info",
        "-include-label-prefix=app.kubernetes.io",
        "-mesh-provider=kubernetes",
        "-metrics-server=http://flagger-prometheus:9090",
        "-selector-labels=app,name",
        "-enable-config-tracking=true",
        "-ingress-annotations-prefix=nginx.ingress.kubernetes.io",
        "-ingress-class=contour",
        "-event-webhook=http://hook/events",
        "-cluster-name=prod",
        "-slack-user=flagger",
        "-slack-channel=general",
        "-slack-url=https://hooks.slack.com/x",
        "-slack-proxy-url=http://proxy:3128",
        "-msteams-url=https://teams/x",
        "-msteams-proxy-url=http://proxy:3128",
        "-enable-leader-election=true",
        "-leader-election-namespace=flagger-system",
        "-threadiness=2",
        "-kubeconfig-qps=100",
        "-kubeconfig-burst=250",
        "-kubeconfig-service-mesh=/tmp/mesh/kubeconfig",
        "-no-cross-namespace-refs=true",
        "-zap-replace-globals",
        "-control-loop-interval=10s",
        "-port=8080",
        "-kubeconfig=/etc/kube/config",
        "-master=https://api:6443",
    )
    settings = build_settings(params, env={})
    assert settings.namespace is None
    assert settings.metrics_addr == "0.0.0.0:8080"
    assert settings.selector_labels == ("app", "name")
    assert settings.include_label_prefixes == ("app.kubernetes.io",)
    assert settings.concurrency == 2
    assert settings.event_webhook == "http://hook/events"
    assert settings.mesh_provider == "kubernetes"
    assert params["kubeconfig"] == Path("/etc/kube/config")
    assert params["metrics_server"] == "http://flagger-prometheus:9090"
    assert params["enable_leader_election"] is True
    assert params["leader_election_namespace"] == "flagger-system"


def test_flagger_environment_wins_over_the_flag_when_not_empty() -> None:
    params = parse("-event-webhook=http://flag")
    assert build_settings(params, env={}).event_webhook == "http://flag"
    assert build_settings(params, env={"EVENT_WEBHOOK_URL": ""}).event_webhook == "http://flag"
    env = {"EVENT_WEBHOOK_URL": "http://env"}
    assert build_settings(params, env=env).event_webhook == "http://env"


def test_every_flagger_flag_of_the_reference_is_accepted() -> None:
    """§9.1 of the reference, with a value of the right kind for each."""
    values = {"kubeconfig-qps": "1", "kubeconfig-burst": "1", "port": "8080", "threadiness": "2"}
    booleans = {
        "zap-replace-globals",
        "enable-leader-election",
        "enable-config-tracking",
        "no-cross-namespace-refs",
    }
    names = [
        "kubeconfig", "master", "kubeconfig-qps", "kubeconfig-burst", "kubeconfig-service-mesh",
        "metrics-server", "control-loop-interval", "log-level", "port", "slack-url",
        "slack-token", "slack-proxy-url", "slack-user", "slack-channel", "msteams-url",
        "msteams-proxy-url", "event-webhook", "include-label-prefix", "threadiness",
        "zap-replace-globals", "zap-encoding", "namespace", "mesh-provider", "selector-labels",
        "ingress-annotations-prefix", "ingress-class", "enable-leader-election",
        "leader-election-namespace", "enable-config-tracking", "cluster-name",
        "no-cross-namespace-refs",
    ]  # fmt: skip
    choices = {"log-level": "info", "zap-encoding": "json"}
    argv = [
        f"-{n}=true" if n in booleans else f"-{n}={values.get(n) or choices.get(n) or 'x'}"
        for n in names
    ]
    parse(*argv)  # raises click.UsageError on any unknown flag or bad value


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-no-such-flag=1"], "No such option '--no-such-flag'"),
        (["--no-such-flag"], "No such option '--no-such-flag'"),
        (["-v"], "No such option '-v'"),
        (["-log-level=verbose"], "'verbose' is not one of"),
        (["-enable-leader-election=maybe"], "does not take a value"),
        (["-threadiness=0"], "0 is not in the range x>=1"),
    ],
)
def test_bad_flags_are_still_errors(argv: list[str], message: str) -> None:
    with pytest.raises(click.UsageError, match=message):
        parse(*argv)


# ---------------------------------------------------------------------- through the CLI


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Settings]]:
    """Run `ensign controller` up to the point where it would start: the Settings it built."""
    seen: list[Settings] = []

    async def fake_control(*, kubeconfig: Path | None, settings: Settings) -> None:
        seen.append(settings)

    monkeypatch.setattr(cli, "_control", fake_control)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield seen
    root.handlers[:], root.level = handlers, level


def test_cli_takes_flagger_flags_and_warns_about_each_reserved_one(
    captured: list[Settings],
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "controller", "-namespace", "test", "-log-level=debug", "-zap-encoding", "console",
            "-metrics-server=http://prom:9090", "-slack-url", "https://hooks/x",
            "-slack-channel", "deploys", "-cluster-name=prod", "-kubeconfig-qps=50",
            "-enable-config-tracking=false", "-threadiness=4", "-no-cross-namespace-refs=false",
        ],
        env={"SLACK_URL": "", "EVENT_WEBHOOK_URL": "http://env/events"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert captured == [
        Settings(
            namespace="test",
            concurrency=4,
            event_webhook="http://env/events",
            metrics_server="http://prom:9090",
            slack_url="https://hooks/x",
            slack_channel="deploys",
            cluster_name="prod",
        )
    ]
    warned = [line for line in result.stderr.splitlines() if "WARNING ensign.flags" in line]
    assert [w.split(": ", 1)[1].split(" is accepted")[0] for w in warned] == [
        "flag -kubeconfig-qps",
        "flag -enable-config-tracking",
    ]


def test_slack_url_without_a_channel_is_refused_naming_the_flag(captured: list[Settings]) -> None:
    result = CliRunner().invoke(
        main, ["controller", "-slack-url", "https://hooks/x"], env={"SLACK_URL": ""}
    )
    assert result.exit_code == 2
    assert "-slack-channel" in result.output
    assert captured == []


def test_slack_url_from_the_environment_wins(captured: list[Settings]) -> None:
    result = CliRunner().invoke(
        main,
        ["controller", "-slack-url=https://flag/x", "-slack-channel=c"],
        env={"SLACK_URL": "https://env/y"},
    )
    assert result.exit_code == 0, result.output
    assert captured[0].slack_url == "https://env/y"
    assert captured[0].metrics_server == "http://prometheus:9090"  # Flagger's default


def test_cli_with_ensign_flags_warns_about_nothing(captured: list[Settings]) -> None:
    result = CliRunner().invoke(
        main, ["controller", "--namespace=test", "--log-format=text"], env={"SLACK_URL": ""}
    )
    assert result.exit_code == 0, result.output
    assert captured == [Settings(namespace="test")]
    assert "WARNING" not in result.stderr


def test_cli_rejects_unknown_flags_and_keeps_help_and_version(captured: list[Settings]) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["controller", "-no-such-flag=1"])
    assert bad.exit_code == 2 and "No such option '--no-such-flag'" in bad.stderr
    assert "Flagger's spellings work too" in runner.invoke(main, ["controller", "-help"]).output
    assert "ensign, version" in runner.invoke(main, ["controller", "-version"]).output
    assert captured == []


@pytest.mark.parametrize("reserved", RESERVED, ids=lambda r: r.name)
def test_each_reserved_flag_is_named_in_the_compatibility_doc(reserved: Any) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "compatibility.md").read_text()
    table = doc.split("## Controller flags", 1)[1].split("\n## ", 1)[0]
    rows = [row for row in table.splitlines() if f"`-{reserved.name}`" in row]
    assert len(rows) == 1 and rows[0].endswith(" |") and "reserved" in rows[0]
