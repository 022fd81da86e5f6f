"""Flagger's command-line conventions for `ensign controller`. Pure: no I/O.

Flagger's flags come from Go's `flag` package: one or two dashes (`-namespace=x`, `-namespace x`,
`--namespace=x`), booleans as `-enable-leader-election` or `-enable-leader-election=false`.
`rewrite()` turns such argv into what click parses, before click sees it:

- a single-dash token whose name is a long option of the command (`-namespace`) gets two dashes;
  short options (`-n`, `-nvalue`) are left as they are, and so is anything after `--`; an
  unknown `-foo` becomes `--foo`, so that click's error names it whole (unknown flags stay an
  error);
- a value option is joined with its value (`--namespace=x`), so a value that starts with '-' is
  never read as a flag (as in Go);
- a Go boolean value (`=true`, `=0`, `=F`, ...) becomes the matching click flag, `--x` or its
  secondary `--no-x` (or nothing, for a flag without a secondary whose default is false);
- Flagger names that Ensign spells differently are renamed (`ALIASES`), and Flagger values that
  Ensign spells differently are translated (`VALUES`: `-zap-encoding console` is
  `--log-format=text`, `-log-level warn` is `--log-level=warning`).

`flagger_options` adds the Flagger flags Ensign has no option of its own for: `-port` and
`-threadiness` (implemented), and the reserved ones (`RESERVED`): accepted, so that an existing
Flagger Deployment's args start Ensign, with a warning at start for each one set
(`reserved_warnings`). Environment variables win over flags when non-empty, as in Flagger
(`FLAGGER_ENV`, applied by `with_flagger_env`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from ensign import __version__

F = TypeVar("F", bound=Callable[..., Any])

# Flagger flag name → Ensign long option name, where they differ.
ALIASES: Mapping[str, str] = {"zap-encoding": "log-format"}

# Flagger flag name → {Flagger value: Ensign value}, where the spelling differs.
VALUES: Mapping[str, Mapping[str, str]] = {
    "zap-encoding": {"console": "text"},
    "log-level": {"warn": "warning", "dpanic": "error", "panic": "error", "fatal": "error"},
}

# Click parameter name → environment variable that wins over the flag when non-empty (Flagger's
# cmd/flagger/main.go reads these after parsing the flags).
FLAGGER_ENV: Mapping[str, str] = {
    "event_webhook": "EVENT_WEBHOOK_URL",
    "slack_url": "SLACK_URL",
    "slack_token": "SLACK_TOKEN",
    "slack_proxy_url": "SLACK_PROXY_URL",
    "msteams_url": "MSTEAMS_URL",
    "msteams_proxy_url": "MSTEAMS_PROXY_URL",
}

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go's strconv.ParseBool
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass(frozen=True, slots=True)
class Flag:
    """A click boolean flag: the token that sets it, the one that clears it (if any)."""

    on: str
    off: str | None = None  # the secondary option (`--no-x`), if any
    off_by_default: bool = False  # without a secondary, `=false` may then be dropped


@dataclass(frozen=True, slots=True)
class Valued:
    """A click option that takes a value."""


Spec = Mapping[str, Flag | Valued]  # long option name without dashes → kind


def spec_of(params: Iterable[click.Parameter]) -> dict[str, Flag | Valued]:
    """The long options of a command's parameters, by name without the leading dashes."""
    spec: dict[str, Flag | Valued] = {}
    for param in params:
        if not isinstance(param, click.Option):
            continue
        longs = [o for o in param.opts if o.startswith("--")]
        negatives = [o for o in param.secondary_opts if o.startswith("--")]
        if not param.is_flag:
            for opt in longs:
                spec[opt[2:]] = Valued()
            continue
        if not param.is_bool_flag:  # a flag_value switch: no Go boolean form
            for opt in longs:
                spec[opt[2:]] = Flag(opt)
            continue
        for opt in longs:
            spec[opt[2:]] = Flag(
                opt, negatives[0] if negatives else None, param.default is not True
            )
        for opt in negatives:
            spec[opt[2:]] = Flag(opt, longs[0] if longs else None)
    return spec


def shorts_of(params: Iterable[click.Parameter]) -> frozenset[str]:
    """The short option letters of a command's parameters (`-n` → "n")."""
    return frozenset(
        opt[1:]
        for param in params
        for opt in (*param.opts, *param.secondary_opts)
        if len(opt) == 2 and opt[0] == "-" and opt[1] != "-"
    )


def rewrite(
    args: Sequence[str],
    spec: Spec,
    shorts: Collection[str] = (),
    aliases: Mapping[str, str] = ALIASES,
    values: Mapping[str, Mapping[str, str]] = VALUES,
) -> list[str]:
    """Flagger-style argv → click argv for a command whose long options are `spec` and
    short options `shorts`."""
    out: list[str] = []
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if token == "--":
            out += [token, *rest]
            break
        dashes = 2 if token.startswith("--") else 1 if token.startswith("-") else 0
        name, eq, value = token[dashes:].partition("=")
        target = aliases.get(name, name)
        kind = spec.get(target)
        if kind is None and dashes == 1 and len(name) > 1 and name[0] not in shorts:
            out.append(f"-{token}")  # unknown: click's error names the whole flag
            continue
        if not dashes or kind is None:
            out.append(token)  # an argument, a short option, or unknown: click decides
            continue
        if isinstance(kind, Valued):
            if not eq:
                if not rest:
                    out.append(f"--{target}")  # click reports the missing value
                    continue
                value = rest.pop(0)
            out.append(f"--{target}={values.get(name, {}).get(value, value)}")
        elif not eq or value in _TRUE:
            out.append(kind.on)
        elif value in _FALSE and kind.off is not None:
            out.append(kind.off)
        elif value in _FALSE and kind.off_by_default:
            out = [t for t in out if t != kind.on]  # Go: the last occurrence wins
        else:
            out.append(f"--{target}={value}")  # click reports that the flag takes no value
    return out


# ------------------------------------------------------------------ Flagger's own flags


@dataclass(frozen=True, slots=True)
class Reserved:
    """A Flagger flag Ensign accepts but does not act on (yet)."""

    name: str
    why: str
    type: Any = str
    default: Any = None  # the value that matches what Ensign does anyway
    flag: bool = False


RESERVED: tuple[Reserved, ...] = (
    Reserved("master", "Ensign takes the API server URL from the kubeconfig"),
    Reserved("kubeconfig-qps", "Ensign does no client-side rate limiting", int),
    Reserved("kubeconfig-burst", "Ensign does no client-side rate limiting", int),
    Reserved("kubeconfig-service-mesh", "mesh and ingress routers are not implemented"),
    Reserved("control-loop-interval", "Ensign reacts to watch events; there is no global tick"),
    Reserved("zap-replace-globals", "Ensign's logging is not zap", bool, False, True),
    Reserved(
        "no-cross-namespace-refs",
        "Ensign follows no cross-namespace references yet (templates, providers, upstreams)",
        bool,
        False,
        True,
    ),
    Reserved(
        "enable-config-tracking",
        "Ensign always tracks ConfigMaps and Secrets; it cannot be turned off",
        bool,
        True,
        True,
    ),
)


class ReservedOption(click.Option):
    """An option added for a `Reserved` Flagger flag; `reserved_warnings` looks for these."""

    def __init__(self, *args: Any, reserved: Reserved, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reserved = reserved


def _reserved_option(r: Reserved) -> Callable[[F], F]:
    common: dict[str, Any] = {
        "cls": ReservedOption,
        "reserved": r,
        "help": f"Flagger's -{r.name}: accepted, no effect ({r.why}).",
    }
    if r.flag and r.default is True:
        return click.option(f"--{r.name}/--no-{r.name}", default=True, **common)
    if r.flag:
        return click.option(f"--{r.name}", is_flag=True, default=False, **common)
    envvar = FLAGGER_ENV.get(r.name.replace("-", "_"))
    return click.option(
        f"--{r.name}", type=r.type, default=None, envvar=envvar, show_envvar=True, **common
    )


def _valued(name: str, help: str, default: str = "") -> tuple[str, Callable[[F], F]]:
    """A Flagger string flag Ensign implements, with its environment variable if Flagger has one."""
    envvar = FLAGGER_ENV.get(name.replace("-", "_"))
    return (
        name,
        click.option(
            f"--{name}",
            default=default,
            show_default=bool(default),
            envvar=envvar,
            show_envvar=envvar is not None,
            help=help,
        ),
    )


IMPLEMENTED: tuple[tuple[str, Callable[[F], F]], ...] = (
    _valued(
        "metrics-server",
        "Prometheus for builtin metric checks of canaries without spec.metricsServer.",
        "http://prometheus:9090",
    ),
    _valued("slack-url", "Global notifier: Slack incoming webhook URL."),
    _valued("slack-token", "Global notifier: Slack bearer token."),
    _valued("slack-proxy-url", "Global notifier: HTTP proxy for Slack."),
    _valued("slack-user", "Global notifier: Slack user name.", "flagger"),
    _valued("slack-channel", "Global notifier: Slack channel (required with --slack-url)."),
    _valued("msteams-url", "Global notifier: MS Teams webhook URL (wins over Slack)."),
    _valued("msteams-proxy-url", "Global notifier: HTTP proxy for MS Teams."),
    _valued("cluster-name", "Added to every alert as the Cluster field."),
    (
        "port",
        click.option(
            "--port",
            type=click.IntRange(1, 65535),
            default=None,
            help="Flagger's -port: serve /metrics, /healthz and /readyz on 0.0.0.0:PORT "
            "(overrides --metrics-addr).",
        ),
    ),
    (
        "threadiness",
        click.option(
            "--threadiness",
            type=click.IntRange(min=1),
            default=16,
            show_default=True,
            help="Canaries reconciled at once (Flagger's -threadiness; Flagger defaults to 2).",
        ),
    ),
)


def flagger_options(f: F) -> F:
    """Add Flagger's flags that the command does not define itself, after its own in --help.

    Put it right below the command decorator, so that it sees every other option."""
    own: list[click.Parameter] = list(getattr(f, "__click_params__", []))
    defined = {opt[2:] for p in own for opt in (*p.opts, *p.secondary_opts)}
    setattr(f, "__click_params__", [])  # noqa: B010  (click's decorators append here)
    for name, option in IMPLEMENTED:
        if name not in defined:
            f = option(f)
    for r in RESERVED:
        if r.name not in defined:
            f = _reserved_option(r)(f)
    if "version" not in defined:
        f = click.version_option(__version__, prog_name="ensign")(f)
    # click lists the parameters last-applied first: Ensign's own, then these in order above
    setattr(f, "__click_params__", [*reversed(getattr(f, "__click_params__")), *own])  # noqa: B010, B009
    return f


def with_flagger_env(params: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The parameters with Flagger's environment variables applied (non-empty ones win)."""
    values = dict(params)
    for key, var in FLAGGER_ENV.items():
        if env.get(var):
            values[key] = env[var]
    return values


def reserved_warnings(command: click.Command, params: Mapping[str, Any]) -> list[str]:
    """One message per reserved flag of `command` whose value differs from what Ensign
    does anyway (for `-enable-config-tracking`, true; for the others, unset or false)."""
    messages = []
    for param in command.params:
        if isinstance(param, ReservedOption) and param.name is not None:
            r = param.reserved
            value = params.get(param.name)
            if value is not None and value != r.default:
                messages.append(
                    f"flag -{r.name} is accepted for compatibility with Flagger but has no"
                    f" effect: {r.why}"
                )
    return messages


class FlaggerGroup(click.Group):
    """A click group whose `flagger_commands` also take Flagger-style flags."""

    flagger_commands: frozenset[str] = frozenset({"controller"})

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and name in self.flagger_commands:
            params = command.get_params(ctx)
            rest = rewrite(rest, spec_of(params), shorts_of(params))
        return name, command, rest
