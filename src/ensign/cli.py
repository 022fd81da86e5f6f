"""The `ensign` command line. Parses arguments and hands over; no logic lives here."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import click

from ensign import __version__


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="ensign")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Ensign: progressive delivery for Kubernetes, a drop-in re-implementation of Flagger."""
    if ctx.invoked_subcommand is None:
        from ensign.console.commands import tour_text

        click.echo(tour_text(main))


@main.command()
@click.option("--kubeconfig", type=click.Path(path_type=Path), help="Also write a kubeconfig here.")
@click.option(
    "--svg", type=click.Path(path_type=Path), help="Write the final describe graph as SVG."
)
def demo(kubeconfig: Path | None, svg: Path | None) -> None:
    """Run the seed scenario on the local cluster, unattended, and show each stage."""
    from ensign.demo import run_demo

    asyncio.run(run_demo(kubeconfig=kubeconfig, svg=svg))


@main.command("localcluster")
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: any).")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path),
    default=Path("localcluster.kubeconfig"),
    show_default=True,
    help="Where to write the kubeconfig.",
)
@click.option(
    "--ready-delay",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds before new pods of a Deployment or DaemonSet become ready.",
)
@click.option(
    "--crds/--no-crds",
    default=True,
    show_default=True,
    help="Install the flagger.app CRDs at start.",
)
def localcluster(port: int, kubeconfig: Path, ready_delay: float, crds: bool) -> None:
    """Run the local cluster (an in-process Kubernetes API server) until Ctrl-C."""
    asyncio.run(_serve(port=port, kubeconfig=kubeconfig, ready_delay=ready_delay, crds=crds))


async def _serve(*, port: int, kubeconfig: Path, ready_delay: float, crds: bool) -> None:
    from ensign.crds import load_crds
    from ensign.localcluster.cluster import LocalCluster
    from ensign.localcluster.kinds import BUILTIN_TYPES

    crd_type = next(t for t in BUILTIN_TYPES if t.plural == "customresourcedefinitions")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with LocalCluster(port=port, default_ready_delay=ready_delay) as cluster:
        if crds:
            for crd in load_crds():
                cluster.store.create(crd_type, "", crd)
        path = cluster.write_kubeconfig(kubeconfig)
        click.echo(f"local cluster listening on {cluster.url}")
        click.echo(f"export KUBECONFIG={path.resolve()}")
        await stop.wait()
    click.echo("local cluster stopped")


@main.command()
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path),
    envvar="KUBECONFIG",
    help="Kubeconfig file (default: $KUBECONFIG, then in-cluster config).",
)
@click.option("--namespace", default=None, help="Only handle canaries in this namespace.")
@click.option(
    "--metrics-addr",
    default="127.0.0.1:8080",
    show_default=True,
    help="Address of the /healthz and /readyz endpoints.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--log-format", default="json", show_default=True, type=click.Choice(["json", "text"])
)
@click.option(
    "--mesh-provider",
    default="kubernetes",
    show_default=True,
    help="Provider for canaries that leave spec.provider empty.",
)
@click.option(
    "--event-webhook",
    default="",
    envvar="EVENT_WEBHOOK_URL",
    help="URL that receives every event (Flagger's -event-webhook).",
)
@click.option(
    "--selector-labels",
    default="app,name,app.kubernetes.io/name",
    show_default=True,
    help="Labels that identify a workload's pods, in order of preference.",
)
@click.option("--include-label-prefix", default="", help="Label prefixes copied to the primary.")
def controller(
    kubeconfig: Path | None,
    namespace: str | None,
    metrics_addr: str,
    log_level: str,
    log_format: str,
    mesh_provider: str,
    event_webhook: str,
    selector_labels: str,
    include_label_prefix: str,
) -> None:
    """Run the Ensign controller until SIGTERM."""
    from ensign import logformat
    from ensign.runtime.app import Settings

    logformat.configure(level=log_level, fmt=log_format)
    settings = Settings(
        namespace=namespace,
        metrics_addr=metrics_addr,
        mesh_provider=mesh_provider,
        event_webhook=event_webhook,
        selector_labels=tuple(x for x in selector_labels.split(",") if x),
        include_label_prefixes=tuple(x for x in include_label_prefix.split(",") if x),
    )
    asyncio.run(_control(kubeconfig=kubeconfig, settings=settings))


async def _control(*, kubeconfig: Path | None, settings: Any) -> None:
    from ensign.kube.client import LightkubeApi
    from ensign.runtime.app import Controller

    api = LightkubeApi.from_file(str(kubeconfig) if kubeconfig else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ctl = Controller(api, settings)
    try:
        await ctl.run(stop)
    finally:
        await api.close()


@main.command("loadtester")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=9090, show_default=True, help="Port (0: any).")
@click.option(
    "--timeout", default="1h", show_default=True, help="Per-command deadline (Go duration)."
)
@click.option(
    "--namespace-regexp", default="", help="Only accept payloads whose namespace matches."
)
@click.option("--allow-commands", is_flag=True, help="Run task commands (off by default).")
@click.option("--allow-shell", is_flag=True, help="Allow `bash` tasks and `sh -c` for `cmd`.")
@click.option(
    "--allow-prefix",
    "allow_prefix",
    multiple=True,
    metavar="PROGRAM",
    help="Allowed program (argv[0], exact match; repeatable; '*' for any). "
    "Default: hey wrk ghz grpc_health_probe helm kubectl bats curl jq.",
)
@click.option(
    "--token",
    envvar="ENSIGN_LOADTESTER_TOKEN",
    default=None,
    help="Require `Authorization: Bearer <token>` (or Basic auth with it as password).",
)
@click.option("--max-body", type=click.IntRange(min=1), default=65536, show_default=True)
@click.option("--max-concurrent", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--max-output", type=click.IntRange(min=0), default=262144, show_default=True)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--log-format", default="json", show_default=True, type=click.Choice(["json", "text"])
)
def loadtester(
    host: str,
    port: int,
    timeout: str,
    namespace_regexp: str,
    allow_commands: bool,
    allow_shell: bool,
    allow_prefix: tuple[str, ...],
    token: str | None,
    max_body: int,
    max_concurrent: int,
    max_output: int,
    log_level: str,
    log_format: str,
) -> None:
    """Run a Flagger-compatible load tester (gates and tasks) until SIGINT/SIGTERM."""
    import re

    from ensign import logformat
    from ensign.loadtester.server import LoadTesterConfig, run_until_signalled
    from ensign.loadtester.tasks import DEFAULT_PROGRAMS, Policy
    from ensign.model import parse_duration

    try:
        seconds = parse_duration(timeout)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeout") from None
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint="--timeout")
    try:
        re.compile(namespace_regexp)
    except re.error as exc:
        raise click.BadParameter(str(exc), param_hint="--namespace-regexp") from None
    logformat.configure(level=log_level, fmt=log_format)
    policy = Policy(
        allow_commands=allow_commands,
        allow_shell=allow_shell,
        programs=frozenset(allow_prefix) if allow_prefix else DEFAULT_PROGRAMS,
    )
    config = LoadTesterConfig(
        host=host,
        port=port,
        policy=policy,
        token=token or None,
        namespace_regexp=namespace_regexp,
        timeout=seconds,
        max_body=max_body,
        max_output=max_output,
        max_concurrent=max_concurrent,
    )
    asyncio.run(run_until_signalled(config))


from ensign.console.commands import COMMANDS  # noqa: E402  (registered after the group exists)

for _command in COMMANDS:
    main.add_command(_command)
