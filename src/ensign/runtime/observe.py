"""Build a tick's `Snapshot` from the caches: target, primary, configs, readiness. No writes.

Every read here is served by an informer cache, so an idle tick costs no API request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ensign.engine.adoption import is_flagger_status
from ensign.engine.observations import READY, ActionRequest, ActionVerb, Readiness, Snapshot
from ensign.engine.status import parse_status
from ensign.engine.weights import ALL_PRIMARY, Routes
from ensign.kube.kinds import cache_key
from ensign.model import Canary
from ensign.model.capabilities import capability_errors
from ensign.queries.render import RenderError, query_model, render
from ensign.routers.protocol import ObjectView, RouteError, Router, Split
from ensign.runtime.cache import Caches
from ensign.workloads import autoscalers
from ensign.workloads import configs as config_tracking
from ensign.workloads import readiness as workload_readiness
from ensign.workloads.errors import WorkloadError
from ensign.workloads.flagger_copy import leftovers
from ensign.workloads.revision import revision_hash
from ensign.workloads.selector import selector_label

JSON = dict[str, Any]
SUPPORTED_TARGETS = ("Deployment", "DaemonSet")
REQUEST_ANNOTATION = "ensign.dev/request"
MANUAL_PROMOTION_ANNOTATION = "ensign.dev/manual-promotion"


def parse_request(raw: object) -> ActionRequest | None:
    """The request `ensign promote|abort|pause|resume` left on the Canary, if well formed."""
    if not isinstance(raw, str):
        return None
    try:
        data = json.loads(raw)
        return ActionRequest(
            id=str(data["id"]),
            verb=ActionVerb(data["verb"]),
            user=str(data["user"]),
            at=str(data["at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(slots=True)
class Observed:
    """The snapshot plus the raw objects the executor needs to act on it."""

    snapshot: Snapshot
    body: JSON
    target: JSON | None = None
    primary: JSON | None = None
    label: str = ""
    value: str = ""
    configs: dict[tuple[str, str], JSON] = field(default_factory=dict)
    autoscaler: JSON | None = None  # the target's HPA or ScaledObject (autoscalerRef)
    router: Router | None = None


def observe(
    canary: Canary,
    body: JSON,
    caches: Caches,
    *,
    now: datetime,
    selector_labels: tuple[str, ...],
    router: Router | str,
    view: ObjectView,
    router_problem: str = "",
    autoscaler_problem: str = "",
) -> Observed:
    """The tick's Snapshot. `router` is the canary's router, or why there is none (an
    unknown provider); `router_problem` says why its caches are not usable (a missing CRD),
    `autoscaler_problem` the same of an add-on autoscaler's (KEDA's ScaledObject CRD);
    `view` reads the router's objects from the caches."""
    spec = canary.spec
    ns = canary.namespace or ""
    kind = (
        spec.target_ref.kind.value
        if hasattr(spec.target_ref.kind, "value")
        else str(spec.target_ref.kind)
    )
    status = parse_status(body.get("status"))
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    base = Snapshot(
        canary=canary,
        status=status,
        target_kind=kind,
        request=parse_request(annotations.get(REQUEST_ANNOTATION)),
    )
    observed = Observed(snapshot=base, body=body)
    if isinstance(router, str):
        observed.snapshot = _problem(base, f"spec.provider: {router}")
        return observed
    observed.router = router
    if spec.provider is None:  # the default provider: checked here, as parse_spec cannot
        for path, message in capability_errors(router.name, spec.analysis, spec.service):
            observed.snapshot = _problem(base, f"spec.{path}: {message} (the default provider)")
            return observed
    broken = _broken_template(canary, caches)
    if broken:
        observed.snapshot = _problem(base, broken)
        return observed
    unsupported = _unsupported(canary)
    if unsupported:
        observed.snapshot = _problem(base, unsupported)
        return observed
    if kind not in SUPPORTED_TARGETS:
        observed.snapshot = _problem(
            base, f"spec.targetRef.kind: {kind} targets are not supported yet"
        )
        return observed
    informer = caches[kind]
    target = informer.get(ns, spec.target_ref.name)
    if target is None:
        observed.snapshot = _problem(base, f"{kind.lower()} {spec.target_ref.name}.{ns} not found")
        return observed
    observed.target = target
    observed.primary = informer.get(ns, spec.primary_workload_name)
    try:
        observed.label, observed.value = selector_label(target, selector_labels=selector_labels)
        refs = config_tracking.referenced_configs(_pod_spec(target))
        fetched = _fetch_configs(refs, caches, ns)
        observed.configs = {k: v for k, v in fetched.items() if v is not None}
        tracked = config_tracking.tracked_configs(refs, fetched, namespace=ns)
    except WorkloadError as exc:
        observed.snapshot = _problem(base, str(exc))
        return observed
    if spec.autoscaler_ref is not None:
        scaler_kind = autoscalers.autoscaler_for(spec.autoscaler_ref).kind
        scaler_cache = caches.get(cache_key(scaler_kind))
        if scaler_cache is not None:
            observed.autoscaler = scaler_cache.get(ns, spec.autoscaler_ref.name)
        synced = scaler_cache is not None and scaler_cache.synced.is_set()
        if observed.autoscaler is None and synced:
            # Flagger stops every tick here too (its primary scaler cannot be reconciled).
            name = spec.autoscaler_ref.name
            observed.snapshot = _problem(
                base, f"spec.autoscalerRef: {scaler_kind.kind} {name}.{ns} not found"
            )
            return observed
    analysis = spec.effective_analysis
    routes, route_problem = _routes(canary, router, view, status.canary_weight)
    if not router_problem:
        router_problem = _render_problem(canary, router, view, routes, status, body)
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    observed.snapshot = Snapshot(
        request=parse_request(annotations.get(REQUEST_ANNOTATION)),
        manual_promotion=annotations.get(MANUAL_PROMOTION_ANNOTATION) == "true",
        canary=canary,
        status=status,
        target_kind=kind,
        revision=revision_hash(target, kind=kind),
        configs=tracked,
        primary_exists=observed.primary is not None,
        primary=_readiness(
            observed.primary,
            kind=kind,
            primary=True,
            canary=canary,
            threshold=analysis.primary_ready_threshold,
            now=now,
            status_time=status.last_transition_time,
        ),
        target=_readiness(
            target,
            kind=kind,
            primary=False,
            canary=canary,
            threshold=analysis.canary_ready_threshold,
            now=now,
            status_time=status.last_transition_time,
        ),
        routes=routes,
        capabilities=router.capabilities,
        router_problem=router_problem,
        autoscaler_problem=autoscaler_problem,
        route_problem=route_problem,
    )
    if is_flagger_status(status):  # what Flagger's primary runs, for the adoption decision
        found = leftovers(
            target,
            observed.primary,
            kind=kind,
            label=observed.label,
            value=observed.value,
            tracked=config_tracking.tracked_keys(tracked),
            selector_labels=selector_labels,
        )
        observed.snapshot = replace(observed.snapshot, flagger=found)
    return observed


def _routes(canary: Canary, router: Router, view: ObjectView, weight: int) -> tuple[Routes, str]:
    """The split in force, read back from the router's objects (100/0 before they exist).
    When they cannot be trusted, the last weight the status recorded, and why."""
    try:
        routes = router.read_routes(canary, view)
    except RouteError as exc:
        weight = min(max(weight, 0), 100)
        return Routes(primary=100 - weight, canary=weight), str(exc)
    return (routes if routes is not None else ALL_PRIMARY), ""


def _render_problem(
    canary: Canary, router: Router, view: ObjectView, routes: Routes, status: Any, body: JSON
) -> str:
    """Why the router cannot render this canary at all (checked before anything is written:
    a spec it cannot express, a referenced object missing), or ""."""
    uid = str((body.get("metadata") or {}).get("uid") or "")
    try:
        router.render(canary, view, Split(routes=routes, cookies=status.cookies), canary_uid=uid)
    except RouteError as exc:
        return str(exc)
    return ""


def _broken_template(canary: Canary, caches: Caches) -> str:
    """The first MetricTemplate whose query Go's text/template would refuse, named with the
    metric that uses it; checked whenever the canary is observed, not at the first analysis.
    A template that is missing or malformed otherwise is reported by the analysis."""
    informer = caches.get("MetricTemplate")
    for index, check in enumerate(canary.spec.effective_analysis.metrics):
        ref = check.template_ref
        if ref is None or informer is None:
            continue
        namespace = ref.namespace or canary.namespace or ""
        body = informer.get(namespace, ref.name)
        query = ((body or {}).get("spec") or {}).get("query")
        if not isinstance(query, str):
            continue
        try:
            render(query, query_model(canary, check))
        except RenderError as exc:
            return (
                f"spec.analysis.metrics[{index}].templateRef: MetricTemplate "
                f"{namespace}/{ref.name}: spec.query is not a valid template: {exc}"
            )
    return ""


def _unsupported(canary: Canary) -> str:
    """Features this version cannot honour; holding is safer than ignoring them (none at
    the moment: every autoscalerRef kind has its plug-in, workloads/autoscalers.py)."""
    del canary
    return ""


def _problem(base: Snapshot, message: str) -> Snapshot:
    return Snapshot(
        canary=base.canary,
        status=base.status,
        target_kind=base.target_kind,
        problem=message,
        request=base.request,
    )


def _pod_spec(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}


def _fetch_configs(
    refs: config_tracking.ConfigRefs, caches: Caches, ns: str
) -> dict[tuple[str, str], JSON | None]:
    out: dict[tuple[str, str], JSON | None] = {}
    for ref in refs:
        informer = caches[
            "ConfigMap" if ref.kind == config_tracking.ConfigKind.CONFIGMAP else "Secret"
        ]
        out[(ref.kind, ref.name)] = informer.get(ns, ref.name)
    return out


def _readiness(
    obj: JSON | None,
    *,
    kind: str,
    primary: bool,
    canary: Canary,
    threshold: int,
    now: datetime,
    status_time: str,
) -> Readiness:
    if obj is None:
        return Readiness(ready=False, message="not created yet") if primary else READY
    check = workload_readiness.primary_readiness if primary else workload_readiness.canary_readiness
    result = check(
        obj,
        threshold=threshold,
        deadline_seconds=canary.spec.progress_deadline_seconds,
        now=now,
        last_transition=_parse_time(status_time),
        kind=kind,
    )
    if isinstance(result, workload_readiness.Ready):
        return READY
    return Readiness(
        ready=False, stuck=isinstance(result, workload_readiness.Stuck), message=result.message
    )


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
