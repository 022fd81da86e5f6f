"""The click commands of the console; `ensign.cli` registers `COMMANDS`. Does I/O.

Exit codes: 0 success; 1 a rollout failed (`status`); 2 timeout (`status`) or a usage error;
3 a request was not recorded in time (`promote|abort|pause|resume`); 4 the cluster or the
Canary could not be reached (no kubeconfig, not found, API error).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ParamSpec

import click

EXIT_UNREACHABLE = 4
P = ParamSpec("P")


def kube_options(func: Callable[P, Any]) -> Callable[P, Any]:
    """--kubeconfig, --context and -n/--namespace, shared by every cluster command."""
    func = click.option(
        "-n", "--namespace", default=None, help="Namespace (default: the context's)."
    )(func)
    func = click.option("--context", default=None, help="Kubeconfig context (default: current).")(
        func
    )
    return click.option(
        "--kubeconfig",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Kubeconfig file (default: $KUBECONFIG, in-cluster, then ~/.kube/config).",
    )(func)


def run(work: Callable[..., Awaitable[int]], **kwargs: Any) -> None:
    """Run `work(api, access, **kwargs)` against the cluster; exit with its code."""
    from ensign.kube.access import AccessError, load_access, open_api
    from ensign.kube.api import KubeError, NotFound

    kubeconfig = kwargs.pop("kubeconfig")
    context = kwargs.pop("context")
    as_user = kwargs.pop("as_user", None)

    async def main() -> int:
        access = load_access(kubeconfig, context=context, as_user=as_user)
        async with open_api(access) as api:
            return await work(api, access, **kwargs)

    try:
        code = asyncio.run(main())
    except AccessError as exc:
        click.echo(f"error: {exc}", err=True)
        code = EXIT_UNREACHABLE
    except NotFound as exc:
        click.echo(f"error: not found: {exc}", err=True)
        code = EXIT_UNREACHABLE
    except KubeError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        code = EXIT_UNREACHABLE
    raise SystemExit(code)


# ---------------------------------------------------------------------- get


@click.command("get")
@click.argument("name", required=False)
@kube_options
@click.option("-A", "--all-namespaces", is_flag=True, help="Canaries of every namespace.")
@click.option("-w", "--watch", is_flag=True, help="Keep the table up to date (Ctrl-C stops).")
def get(name: str | None, all_namespaces: bool, watch: bool, **kube: Any) -> None:
    """A table of canaries: phase, weight, iteration, failed checks, last transition, message."""
    run(_get, name=name, all_namespaces=all_namespaces, watch=watch, **kube)


async def _get(
    api: Any,
    access: Any,
    *,
    name: str | None,
    namespace: str | None,
    all_namespaces: bool,
    watch: bool,
) -> int:
    from ensign.console import listing
    from ensign.console.terminal import console

    ns = None if all_namespaces else namespace or access.namespace
    show = listing.watch_live if watch else listing.print_once
    return await show(api, console(), namespace=ns, name=name)


# ----------------------------------------------------------------- describe


@click.command("describe")
@click.argument("name")
@kube_options
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json", "svg"]),
    default="text",
    show_default=True,
    help="text: drawn in the terminal; json: machine-readable; svg: a file a browser opens.",
)
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where --output svg writes (default: <name>.svg).",
)
@click.option(
    "--mesh-provider",
    default="kubernetes",
    show_default=True,
    help="The controller's default provider, for a canary without spec.provider.",
)
def describe(name: str, output: str, file: Path | None, mesh_provider: str, **kube: Any) -> None:
    """The live object graph of a canary, how its traffic is routed, its analysis history
    and the next decision."""
    run(_describe, name=name, output=output, file=file, mesh_provider=mesh_provider, **kube)


async def _describe(
    api: Any,
    access: Any,
    *,
    name: str,
    namespace: str | None,
    output: str,
    file: Path | None,
    mesh_provider: str = "kubernetes",
) -> int:
    from ensign.console.describing import read_graph
    from ensign.console.graph import to_json
    from ensign.console.render_svg import render_svg
    from ensign.console.render_text import render
    from ensign.console.terminal import console

    graph = await read_graph(
        api, namespace or access.namespace, name, default_provider=mesh_provider
    )
    if output == "json":
        click.echo(json.dumps(to_json(graph), indent=2, ensure_ascii=False))
    elif output == "svg":
        target = file or Path(f"{name}.svg")
        target.write_text(render_svg(graph), encoding="utf-8")
        click.echo(f"wrote {target}")
    else:
        console().print(render(graph))
    return 0


# ----------------------------------------------------------------- requests

_VERB_HELP = {
    "promote": "Approve the revision under analysis (opens ensign.dev/manual-promotion and "
    "every confirm-* gate).",
    "abort": "Roll the current run back to the primary.",
    "pause": "Suspend the canary (spec.suspend: true), recorded in the audit trail.",
    "resume": "Resume a suspended canary (spec.suspend: false), recorded in the audit trail.",
}


def _request_command(verb: str) -> click.Command:
    @click.command(verb, help=_VERB_HELP[verb])
    @click.argument("name")
    @kube_options
    @click.option("--as-user", default=None, help="Who acts (default: the context's user).")
    @click.option(
        "--wait/--no-wait", default=True, show_default=True, help="Wait for the audit record."
    )
    @click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds to wait.")
    def command(name: str, wait: bool, timeout: float, **kube: Any) -> None:
        run(_request, verb=verb, name=name, wait=wait, wait_seconds=timeout, **kube)

    return command


async def _request(
    api: Any,
    access: Any,
    *,
    verb: str,
    name: str,
    namespace: str | None,
    wait: bool,
    wait_seconds: float,
) -> int:
    from ensign.console import requests

    ns = namespace or access.namespace
    request = requests.new_request(verb, access.user)
    await requests.send(api, ns, name, request)
    click.echo(f"{verb} {ns}/{name}: request {request.id} sent as {request.user}")
    if not wait:
        return requests.EXIT_RECORDED
    entry = await requests.wait_recorded(api, ns, name, request.id, within=wait_seconds)
    if entry is None:
        click.echo(
            f"{verb} {ns}/{name}: not recorded within {wait_seconds:g}s "
            "(is the controller running and watching this namespace?)",
            err=True,
        )
        return requests.EXIT_NOT_RECORDED
    click.echo(requests.describe_outcome(ns, name, entry))
    return requests.EXIT_RECORDED


# ------------------------------------------------------------------- status


def _duration(_ctx: Any, _param: Any, value: str) -> float:
    from ensign.model.durations import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command("status")
@click.argument("name")
@kube_options
@click.option(
    "--timeout",
    default="10m",
    show_default=True,
    callback=_duration,
    help="How long to wait (a Go duration: 90s, 10m, 1h).",
)
def status(name: str, timeout: float, **kube: Any) -> None:
    """Wait for the current rollout to end: exit 0 Succeeded, 1 Failed, 2 timeout.

    A canary that is Initialized or Succeeded with no pending revision returns at once.
    """
    run(_status, name=name, within=timeout, **kube)


async def _status(api: Any, access: Any, *, name: str, namespace: str | None, within: float) -> int:
    from ensign.console.rollout_status import follow

    return await follow(api, namespace or access.namespace, name, within=within, say=_say_with_time)


def _say_with_time(line: str) -> None:
    from datetime import UTC, datetime

    click.echo(f"{datetime.now(UTC).strftime('%H:%M:%S')} {line}")


# ------------------------------------------------------------------ sandbox


@click.command("sandbox")
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: any).")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("sandbox.kubeconfig"),
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
    "--min-interval",
    type=float,
    default=10.0,
    show_default=True,
    help="Floor of analysis.interval in seconds (Flagger's is 10).",
)
@click.option(
    "-n", "--namespace", default="default", show_default=True, help="The context's namespace."
)
def sandbox(
    port: int, kubeconfig: Path, ready_delay: float, min_interval: float, namespace: str
) -> None:
    """Run the local cluster and the controller together until Ctrl-C or SIGTERM."""
    from ensign import logformat
    from ensign.console.sandbox import run_sandbox

    logformat.configure(level="warning", fmt="text")
    asyncio.run(
        run_sandbox(
            port=port,
            kubeconfig=kubeconfig,
            ready_delay=ready_delay,
            min_interval=min_interval,
            namespace=namespace,
        )
    )


COMMANDS: tuple[click.Command, ...] = (
    get,
    describe,
    *(_request_command(verb) for verb in ("promote", "abort", "pause", "resume")),
    status,
    sandbox,
)


def tour_text(group: click.Group) -> str:
    """What `ensign` prints without arguments: a tour of the registered commands."""
    from ensign.console.tour import tour

    return tour(
        {
            name: cmd.get_short_help_str(limit=60)
            for name, cmd in group.commands.items()
            if not cmd.hidden
        }
    )
