"""`ensign migrate --check`: what Ensign would do to each canary Flagger left. Read-only.

One list per kind (the kinds the controller watches, plus each router's) fills caches that
are never started; every canary is then observed and planned by the very functions the
controller's tick uses (`runtime/observe.observe`, `engine/adoption.plan_adoption` through
`engine/decide.decide`), so the report and the controller cannot disagree. Nothing is
written. Exit code 0 when every canary can be taken over with no traffic write (adopted,
resumed, or already Ensign's), 1 otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click

from ensign.console.commands import kube_options, run
from ensign.engine.adoption import Verdict, is_flagger_status, plan_adoption
from ensign.engine.decide import Decision, decide
from ensign.engine.phases import INITIALISING
from ensign.engine.status import dump_status
from ensign.kube.api import JSON, KubeApi, NotFound
from ensign.kube.kinds import Kind, cache_key
from ensign.model import InvalidSpec, parse_canary
from ensign.model.capabilities import Capability
from ensign.routers.protocol import Router
from ensign.routers.registry import UnknownProviderError, make_router
from ensign.runtime.app import WATCHED
from ensign.runtime.cache import Caches, Informer
from ensign.runtime.finalizer import FINALIZER, has_finalizer
from ensign.runtime.observe import observe
from ensign.runtime.routing import CacheView
from ensign.workloads import autoscalers
from ensign.workloads.selector import DEFAULT_SELECTOR_LABELS

MANAGED = "managed"  # the status is already Ensign's: nothing to adopt
INITIALISE = "initialise"  # no revision recorded: Ensign initialises it (creates, routes)
ZERO_TRAFFIC_WRITES = frozenset({str(Verdict.ADOPT), str(Verdict.RESUME), MANAGED})
STATUS_FIELDS = (
    "phase",
    "canaryWeight",
    "iterations",
    "failedChecks",
    "lastAppliedSpec",
    "lastPromotedSpec",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryReport:
    namespace: str
    name: str
    phase: str
    verdict: str
    reasons: tuple[str, ...]
    writes: tuple[str, ...] = ()
    flagger: dict[str, str] = field(default_factory=dict)  # Flagger's hashes, to restore
    status: dict[str, Any] = field(default_factory=dict)  # the status Ensign would write

    def as_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "phase": self.phase,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "writes": list(self.writes),
            "flagger": dict(self.flagger),
            "status": dict(self.status),
        }


async def check(
    api: KubeApi,
    *,
    namespace: str | None,
    now: datetime | None = None,
    selector_labels: Sequence[str] = DEFAULT_SELECTOR_LABELS,
    default_provider: str = "kubernetes",
) -> list[CanaryReport]:
    """The plan for every Canary in `namespace` (None: all namespaces)."""
    now = now or datetime.now(UTC)
    caches = Caches({k.kind: await _listed(api, k, namespace) for k in WATCHED})
    bodies = sorted(caches["Canary"].items(), key=lambda b: _key(b))
    routers: dict[str, Router | str] = {}
    missing: dict[str, str] = {}
    reports = []
    for body in bodies:
        try:
            canary = parse_canary(body)
        except InvalidSpec as invalid:
            reasons = tuple(str(e) for e in invalid.errors)
            reports.append(_report(body, str(Verdict.REFUSE), reasons))
            continue
        provider = str(canary.spec.provider or default_provider)
        if provider not in routers:
            try:
                routers[provider] = make_router(provider)
            except UnknownProviderError as exc:
                routers[provider] = str(exc)
        router = routers[provider]
        needed = list(router.kinds) if not isinstance(router, str) else []
        problems = [await _cached(api, caches, kind, namespace, missing) for kind in needed]
        if canary.spec.autoscaler_ref is not None:  # an HPA, or a KEDA ScaledObject
            scaler = autoscalers.autoscaler_for(canary.spec.autoscaler_ref).kind
            scaler_problem = await _cached(api, caches, scaler, namespace, missing)
        else:
            scaler_problem = ""
        observed = observe(
            canary,
            body,
            caches,
            now=now,
            selector_labels=tuple(selector_labels),
            router=router,
            view=CacheView(caches),
            router_problem="; ".join(p for p in problems if p),
            autoscaler_problem=scaler_problem,
        )
        snap = observed.snapshot
        finalizer_write = _finalizer_write(body, canary, router)
        if not is_flagger_status(snap.status):
            managed = snap.status.phase not in INITIALISING
            verdict = MANAGED if managed else INITIALISE
            reasons = (
                ("the status is already in Ensign's format",)
                if managed
                else ("no revision recorded: Ensign initialises it (primary, Services, router)",)
            )
            reports.append(_report(body, verdict, reasons, writes=finalizer_write))
            continue
        plan = plan_adoption(snap)
        decision = decide(snap, {}, now=now, analysis_due=True)
        assert isinstance(decision, Decision), "adoption never asks for probes"
        written = dump_status(decision.status)
        reports.append(
            _report(
                body,
                str(plan.verdict),
                plan.reasons,
                writes=plan.writes + finalizer_write,
                status={k: written.get(k) for k in STATUS_FIELDS},
            )
        )
    return reports


def exit_code(reports: Sequence[CanaryReport]) -> int:
    return 0 if all(r.verdict in ZERO_TRAFFIC_WRITES for r in reports) else 1


def render(reports: Sequence[CanaryReport], *, output: str) -> str:
    if output == "json":
        return json.dumps([r.as_json() for r in reports], indent=2)
    rows = [("NAMESPACE", "NAME", "PHASE", "VERDICT", "WRITES", "WHY")]
    for r in reports:
        rows.append(
            (r.namespace, r.name, r.phase, r.verdict, "; ".join(r.writes), "; ".join(r.reasons))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
        for row in rows
    ]
    if not reports:
        lines.append("no canaries found")
    return "\n".join(line.rstrip() for line in lines)


async def _listed(api: KubeApi, kind: Kind, namespace: str | None) -> Informer:
    """A cache of `kind` filled by one list, never started (marked synced: it is complete)."""
    informer = Informer(api, kind, namespace=namespace)
    items, _ = await api.list(kind, namespace=namespace if kind.namespaced else None)
    for obj in items:
        informer.observe(obj)
    informer.synced.set()
    return informer


async def _cached(
    api: KubeApi, caches: Caches, kind: Kind, namespace: str | None, missing: dict[str, str]
) -> str:
    """List `kind` into the caches once; "" or why it cannot be (its CRD is missing)."""
    key = cache_key(kind)
    if caches.get(key) is None and key not in missing:
        try:
            caches.add(key, await _listed(api, kind, namespace))
        except NotFound:
            missing[key] = f"the {kind.kind} CRD ({kind.plural}.{kind.group}) is not installed"
    return missing.get(key, "")


def _finalizer_write(body: JSON, canary: Any, router: Router | str) -> tuple[str, ...]:
    unowned = not isinstance(router, str) and Capability.UNOWNED_OBJECTS in router.capabilities
    wanted = bool(canary.spec.revert_on_deletion) or unowned
    if wanted == has_finalizer(body):
        return ()
    ns, name = _key(body)
    verb = "add" if wanted else "remove"
    return (f"Canary {name}.{ns} metadata.finalizers ({verb} {FINALIZER})",)


def _key(body: JSON) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _report(
    body: JSON,
    verdict: str,
    reasons: tuple[str, ...],
    *,
    writes: tuple[str, ...] = (),
    status: dict[str, Any] | None = None,
) -> CanaryReport:
    ns, name = _key(body)
    raw = body.get("status") or {}
    return CanaryReport(
        namespace=ns,
        name=name,
        phase=str(raw.get("phase") or ""),
        verdict=verdict,
        reasons=reasons,
        writes=writes,
        flagger=(
            {k: str(raw.get(k) or "") for k in ("lastAppliedSpec", "lastPromotedSpec")}
            if status is not None
            else {}
        ),
        status=status or {},
    )


@click.command("migrate")
@click.option("--check", is_flag=True, required=True, help="Report only (required: the only mode).")
@kube_options
@click.option("-A", "--all-namespaces", is_flag=True, help="Canaries of every namespace.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--mesh-provider",
    default="kubernetes",
    show_default=True,
    help="The controller's --mesh-provider: the provider of canaries without spec.provider.",
)
@click.option(
    "--selector-labels",
    default=",".join(DEFAULT_SELECTOR_LABELS),
    show_default=True,
    help="The controller's --selector-labels.",
)
def migrate(
    check: bool,
    all_namespaces: bool,
    output: str,
    mesh_provider: str,
    selector_labels: str,
    **kube: Any,
) -> None:
    """Before switching from Flagger: what Ensign would do to each canary (adopt, resume,
    restart or refuse, and why) and the objects it would write. Writes nothing.

    Exit code 0 when every canary can be taken over with no traffic write, 1 otherwise,
    4 when the cluster cannot be reached."""
    run(
        _migrate_check,
        all_namespaces=all_namespaces,
        output=output,
        default_provider=mesh_provider,
        selector_labels=tuple(x for x in selector_labels.split(",") if x),
        **kube,
    )


async def _migrate_check(
    api: KubeApi,
    access: Any,
    *,
    namespace: str | None,
    all_namespaces: bool,
    output: str,
    default_provider: str,
    selector_labels: tuple[str, ...],
) -> int:
    ns = None if all_namespaces else (namespace or access.namespace)
    reports = await check(
        api, namespace=ns, default_provider=default_provider, selector_labels=selector_labels
    )
    click.echo(render(reports, output=output))
    return exit_code(reports)
