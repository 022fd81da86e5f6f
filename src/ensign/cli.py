"""The `ensign` command line. Parses arguments and hands over; no logic lives here."""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ensign import __version__
from ensign.flags import FlaggerGroup, flagger_options

if TYPE_CHECKING:
    from ensign.runtime.app import Settings


# Commands whose modules load on first use, so that `ensign controller` imports neither the
# console nor the migration report: name -> (module, attribute: a command or a tuple of them).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    **{
        name: ("ensign.console.commands", "COMMANDS")
        for name in ("get", "describe", "promote", "abort", "pause", "resume", "status", "sandbox")
    },
    "migrate": ("ensign.migration", "migrate"),
}
# Commands that run the local cluster: the `ensign-local` part, not in the operator install.
LOCAL_COMMANDS = frozenset({"demo", "localcluster", "sandbox"})
LOCAL_MODULES = ("ensign.localcluster", "ensign.testing", "ensign.demo")
LOCAL_INSTALL = "pip install 'ensign[local]'"


def require_local_part(command: str) -> None:
    """Fail clearly when the local cluster is not installed (the operator image leaves it out)."""
    missing = [name for name in LOCAL_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise click.ClickException(
            f"`ensign {command}` runs the local cluster, which this install of Ensign leaves out"
            f" (missing: {', '.join(missing)}; the operator install carries only what the"
            f" controller runs). Install the local part with `{LOCAL_INSTALL}` (the ensign-local"
            " distribution, built from packaging/local), or run it from a clone (`make demo`)."
        )


def _needing_local_part(command: click.Command) -> click.Command:
    callback = command.callback
    if callback is None or getattr(callback, "needs_local_part", False):
        return command

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        require_local_part(command.name or "")
        return callback(*args, **kwargs)

    guarded.needs_local_part = True  # type: ignore[attr-defined]
    command.callback = guarded
    return command


class EnsignGroup(FlaggerGroup):
    """The `ensign` group: loads the LAZY_COMMANDS on first use, and guards the commands
    that need the local cluster with a clear message when it is not installed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[cmd_name]
            loaded = getattr(importlib.import_module(module), attribute)
            for candidate in loaded if isinstance(loaded, tuple) else (loaded,):
                if candidate.name in LAZY_COMMANDS and candidate.name not in self.commands:
                    self.add_command(candidate)
            command = self.commands.get(cmd_name)
        if command is not None and cmd_name in LOCAL_COMMANDS:
            command = _needing_local_part(command)
        return command

    def load_all(self, ctx: click.Context) -> None:
        for name in self.list_commands(ctx):
            self.get_command(ctx, name)


@click.group(cls=EnsignGroup, invoke_without_command=True)
@click.version_option(__version__, prog_name="ensign")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Ensign: progressive delivery for Kubernetes, a drop-in re-implementation of Flagger."""
    if ctx.invoked_subcommand is None:
        from ensign.console.commands import tour_text

        group = ctx.command
        if isinstance(group, EnsignGroup):
            group.load_all(ctx)
        click.echo(tour_text(group) if isinstance(group, click.Group) else "")


@main.command()
@click.option("--kubeconfig", type=click.Path(path_type=Path), help="Also write a kubeconfig here.")
@click.option(
    "--svg", type=click.Path(path_type=Path), help="Write the final describe graph as SVG."
)
@click.option(
    "--scenario",
    type=click.Choice(["seed", "canary"]),
    default="seed",
    show_default=True,
    help="seed: blue/green with a gate; canary: Gateway API 10 → 50 with a metric check.",
)
def demo(kubeconfig: Path | None, svg: Path | None, scenario: str) -> None:
    """Run a scenario on the local cluster, unattended, and show each stage."""
    from ensign.demo import run_demo

    asyncio.run(run_demo(kubeconfig=kubeconfig, svg=svg, scenario=scenario))


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
@click.option(
    "--gateway-api/--no-gateway-api",
    default=False,
    show_default=True,
    help="Install the Gateway API CRDs at start (routes are accepted by the simulated gateway).",
)
def localcluster(
    port: int, kubeconfig: Path, ready_delay: float, crds: bool, gateway_api: bool
) -> None:
    """Run the local cluster (an in-process Kubernetes API server) until Ctrl-C."""
    asyncio.run(
        _serve(
            port=port,
            kubeconfig=kubeconfig,
            ready_delay=ready_delay,
            crds=crds,
            gateway_api=gateway_api,
        )
    )


async def _serve(
    *, port: int, kubeconfig: Path, ready_delay: float, crds: bool, gateway_api: bool = False
) -> None:
    import gc

    # The store holds many long-lived, acyclic JSON dicts; frequent full collections of
    # them cost more than they free, so collect the old generation rarely.
    gc.set_threshold(50_000, 50, 1_000)
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
        if gateway_api:
            cluster.install_gateway_api()
        path = cluster.write_kubeconfig(kubeconfig)
        click.echo(f"local cluster listening on {cluster.url}")
        click.echo(f"export KUBECONFIG={path.resolve()}")
        await stop.wait()
    click.echo("local cluster stopped")


@main.command()
@flagger_options  # Flagger's flags without an Ensign option of their own; keep it first
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
    "--ingress-annotations-prefix",
    default="nginx.ingress.kubernetes.io",
    show_default=True,
    help="Annotation prefix of the NGINX router's canary Ingress (Flagger's flag).",
)
@click.option(
    "--ingress-class",
    default="",
    help="spec.ingressClassName of the Contour router's HTTPProxy (Flagger's flag).",
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
@click.option(
    "--enable-leader-election/--disable-leader-election",
    default=True,
    show_default=True,
    help="Act only while holding a coordination.k8s.io Lease; standbys keep warm caches.",
)
@click.option(
    "--leader-election-namespace",
    default="kube-system",
    show_default=True,
    help="Namespace of the Lease (replaced by --namespace when that is set, as in Flagger).",
)
@click.option(
    "--leader-election-lease-duration",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds a standby waits after the leader's last renewal before taking over.",
)
@click.option(
    "--leader-election-renew-deadline",
    type=click.FloatRange(min=0, min_open=True),
    default=15.0,
    show_default=True,
    help="Seconds without a successful renewal after which the leader stops acting.",
)
@click.option(
    "--leader-election-retry-period",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds between attempts to acquire or renew the Lease.",
)
@click.option(
    "--shard",
    default="",
    help="Shard name: its leader is elected on Lease ensign-leader-election-<shard>.",
)
@click.option(
    "--canary-selector",
    default="",
    help="Label selector on Canaries: handle only these (e.g. shard=a). Workloads unfiltered.",
)
@click.option(
    "--allow-flagger",
    is_flag=True,
    help="Act even while a Flagger controller looks active (by default Ensign waits).",
)
def controller(
    kubeconfig: Path | None,
    namespace: str | None,
    metrics_addr: str,
    log_level: str,
    log_format: str,
    mesh_provider: str,
    ingress_annotations_prefix: str,
    ingress_class: str,
    event_webhook: str,
    selector_labels: str,
    include_label_prefix: str,
    **flagger: Any,
) -> None:
    """Run the Ensign controller until SIGTERM.

    Flagger's spellings work too: `-flag=value`, `-flag value`, `-enable-x=false`,
    `-zap-encoding console` (docs/compatibility.md lists every Flagger flag).
    """
    import logging

    from ensign import logformat
    from ensign.flags import reserved_warnings

    logformat.configure(level=log_level, fmt=log_format)
    ctx = click.get_current_context()
    for warning in reserved_warnings(ctx.command, ctx.params):
        logging.getLogger("ensign.flags").warning("%s", warning)
    settings = build_settings(ctx.params)
    asyncio.run(_control(kubeconfig=kubeconfig, settings=settings))


def build_settings(params: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """The controller's Settings from its parsed parameters, Flagger's environment variables
    winning when non-empty (EVENT_WEBHOOK_URL, ...). Starts nothing."""
    import os

    from ensign.flags import with_flagger_env
    from ensign.runtime.app import Settings

    values = with_flagger_env(params, os.environ if env is None else env)
    port = values.get("port")
    settings = Settings(
        namespace=values["namespace"] or None,
        metrics_addr=f"0.0.0.0:{port}" if port else values["metrics_addr"],
        mesh_provider=values["mesh_provider"],
        ingress_annotations_prefix=values["ingress_annotations_prefix"],
        ingress_class=values["ingress_class"],
        event_webhook=values["event_webhook"],
        selector_labels=tuple(x for x in values["selector_labels"].split(",") if x),
        include_label_prefixes=tuple(x for x in values["include_label_prefix"].split(",") if x),
        concurrency=values["threadiness"],
        allow_flagger=bool(values.get("allow_flagger")),
        **_notifier_settings(values),
        **_election_settings(values),
    )
    _check_notifier(settings)
    return settings


def _check_notifier(settings: Settings) -> None:
    """Refuse a global notifier that could never deliver (Flagger silently drops it)."""
    from ensign.alerting import NotifierConfigError

    try:
        settings.global_notifier()
    except NotifierConfigError as exc:
        raise click.BadParameter(str(exc)) from exc


_NOTIFIER_SETTINGS = (
    "metrics_server",
    "slack_url",
    "slack_token",
    "slack_proxy_url",
    "slack_user",
    "slack_channel",
    "msteams_url",
    "msteams_proxy_url",
    "cluster_name",
)


def _notifier_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """-metrics-server and the global notifier's flags, empty ones at Settings' defaults."""
    import dataclasses

    from ensign.runtime.app import Settings

    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    return {key: values.get(key) or defaults[key] for key in _NOTIFIER_SETTINGS}


def _election_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Leader election and sharding settings; rejects timings that cannot work."""
    out: dict[str, Any] = {
        "leader_election": values.get("enable_leader_election", True) is not False,
        "leader_election_namespace": values.get("leader_election_namespace") or "kube-system",
        "lease_duration": values.get("leader_election_lease_duration") or 60.0,
        "renew_deadline": values.get("leader_election_renew_deadline") or 15.0,
        "retry_period": values.get("leader_election_retry_period") or 5.0,
        "shard": values.get("shard") or "",
        "canary_selector": values.get("canary_selector") or "",
    }
    if out["leader_election"] and not (
        out["retry_period"] < out["renew_deadline"] < out["lease_duration"]
    ):
        raise click.BadParameter(
            "leader election needs retry period < renew deadline < lease duration",
            param_hint="--leader-election-*",
        )
    return out


async def _control(*, kubeconfig: Path | None, settings: Any) -> None:
    import gc

    # The caches hold many long-lived, acyclic JSON dicts: collect the old generation rarely.
    gc.set_threshold(50_000, 50, 1_000)
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


@main.command("rbac")
@click.option(
    "--namespace",
    default=None,
    help="Print a Role and RoleBinding in this namespace (a namespace-scoped install) "
    "instead of a ClusterRole and ClusterRoleBinding.",
)
@click.option("--name", default="ensign", show_default=True, help="Name of the role and binding.")
@click.option("--service-account", default="ensign", show_default=True)
@click.option(
    "--service-account-namespace",
    default=None,
    help="Namespace of the ServiceAccount (default: --namespace, else ensign-system).",
)
def rbac(
    namespace: str | None, name: str, service_account: str, service_account_namespace: str | None
) -> None:
    """Print the controller's least-privilege RBAC as YAML, generated from the kinds it touches."""
    from ensign.kube import rbac as rbac_rules

    args = [f"--namespace {namespace}"] if namespace else []
    if name != rbac_rules.DEFAULT_NAME:
        args.append(f"--name {name}")
    if service_account != rbac_rules.DEFAULT_SERVICE_ACCOUNT:
        args.append(f"--service-account {service_account}")
    if service_account_namespace:
        args.append(f"--service-account-namespace {service_account_namespace}")
    docs = rbac_rules.manifests(
        namespace,
        name=name,
        service_account=service_account,
        service_account_namespace=service_account_namespace,
    )
    click.echo(rbac_rules.render(docs, args=" ".join(args)), nl=False)
