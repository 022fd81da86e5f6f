"""Execute a decision's actions in order, each as desired state. Does I/O.

Every action compares what it wants with what the cache holds and writes only the
difference, so re-running a decision (after a crash or a conflict) is harmless. The first
failing action stops the rest; the tick reports it and the next tick starts over.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ensign.alerting import AlertSender
from ensign.engine.actions import (
    Action,
    EnsurePrimary,
    PromotePrimary,
    ReconcileRouter,
    ReconcileServices,
    RecordEvent,
    RunHooks,
    ScaleTarget,
    SendAlert,
    ServiceRole,
    SetRoutes,
)
from ensign.kube import kinds
from ensign.kube.api import JSON, Conflict, KubeApi, KubeError, NotFound, WriteRefused
from ensign.kube.kinds import cache_key
from ensign.model import Canary
from ensign.routers.metadata import unmanaged_metadata
from ensign.routers.protocol import (
    CreateObject,
    DeleteObject,
    ObjectChange,
    ObjectView,
    ReplaceObject,
    Split,
)
from ensign.routers.service_sync import Create, Update, reconcile_service
from ensign.routers.services import desired_services
from ensign.runtime.cache import Caches
from ensign.runtime.events import EventRecorder
from ensign.runtime.hooks import HookRunner
from ensign.runtime.observe import Observed
from ensign.runtime.own_writes import OwnWrites
from ensign.workloads import autoscalers
from ensign.workloads import configs as config_tracking
from ensign.workloads import primary as primary_workload
from ensign.workloads.revision import SCALE_TO_ZERO_NODE_SELECTOR, webhook_checksum

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Executor:
    api: KubeApi
    caches: Caches
    events: EventRecorder
    hooks: HookRunner
    include_label_prefixes: tuple[str, ...] = ()
    alerts: AlertSender | None = None
    view: ObjectView | None = None  # the router objects, read from the caches
    own: OwnWrites = field(default_factory=OwnWrites)  # what we wrote: no wake-up for it

    async def run(self, canary: Canary, observed: Observed, actions: tuple[Action, ...]) -> None:
        for action in actions:
            await self._one(canary, observed, action)

    async def _one(self, canary: Canary, observed: Observed, action: Action) -> None:
        match action:
            case RecordEvent(warning=warning, message=message):
                await self.events.record(canary, observed.body, message=message, warning=warning)
            case ReconcileServices(roles=roles):
                await self._services(canary, observed, roles)
            case EnsurePrimary():
                await self._ensure_primary(canary, observed)
            case ScaleTarget(up=up):
                await self._scale(canary, observed, up=up)
            case PromotePrimary():
                await self._promote(canary, observed)
            case ReconcileRouter():
                # At the split in force: a reconcile never moves traffic.
                snap = observed.snapshot
                split = Split(routes=snap.routes, cookies=snap.status.cookies)
                await self._route(canary, observed, split)
            case SetRoutes(routes=routes, matched_only=matched_only, cookies=cookies):
                split = Split(routes=routes, matched_only=matched_only, cookies=cookies)
                await self._route(canary, observed, split)
            case RunHooks(hook_type=hook_type, phase=phase):
                await self.hooks.side_effect(canary, observed, hook_type=hook_type, phase=phase)
            case SendAlert(kind=kind, detail=detail):
                if self.alerts is not None:  # in the background: a chat service never blocks
                    kind_of_target = observed.snapshot.target_kind or str(
                        canary.spec.target_ref.kind
                    )
                    self.alerts.send_soon(kind, canary, target_kind=kind_of_target, detail=detail)

    # -------------------------------------------------------------- writes

    async def _write(
        self, kind: kinds.Kind, existing: Mapping[str, Any] | None, body: JSON
    ) -> JSON:
        informer = self.caches.get(cache_key(kind))
        verb = "update" if existing else "create"
        async with refusals(verb, kind, body):
            written = await (
                self.api.replace(kind, body) if existing else self.api.create(kind, body)
            )
        self.own.record(kind.kind, written)
        if informer is not None:
            with self.own.feeding_back():
                informer.observe(written)
        return written

    async def _patch(self, kind: kinds.Kind, obj: Mapping[str, Any], patch: JSON) -> None:
        meta = obj["metadata"]
        async with refusals("patch", kind, obj):
            written = await self.api.patch(
                kind, meta["name"], patch, namespace=meta.get("namespace")
            )
        informer = self.caches.get(cache_key(kind))
        self.own.record(kind.kind, written)
        if informer is not None:
            with self.own.feeding_back():
                informer.observe(written)

    # ------------------------------------------------------------- actions

    async def _route(self, canary: Canary, observed: Observed, split: Split) -> None:
        """Write what the router says puts `split` in force (nothing when already in force);
        each write is fed back to the cache, so the next render sees it."""
        router = observed.router
        if router is None or self.view is None:
            return
        uid = str((observed.body.get("metadata") or {}).get("uid") or "")
        for change in router.render(canary, self.view, split, canary_uid=uid):
            await self.apply(change)

    async def apply(self, change: ObjectChange) -> None:
        """Apply one router change and feed the result back to its cache."""
        informer = self.caches.get(cache_key(change.kind))
        if isinstance(change, DeleteObject):
            target = {"metadata": {"name": change.name, "namespace": change.namespace}}
            with contextlib.suppress(NotFound):
                async with refusals("delete", change.kind, target):
                    await self.api.delete(
                        change.kind, change.name, namespace=change.namespace or None
                    )
            if informer is not None:
                with self.own.feeding_back():
                    informer.forget(change.namespace, change.name)
            return
        body = dict(change.body)
        if isinstance(change, CreateObject):
            async with refusals("create", change.kind, body):
                written = await self.api.create(change.kind, body)
        else:
            assert isinstance(change, ReplaceObject)
            async with refusals("update", change.kind, body):
                written = await self.api.replace(change.kind, body)
        self.own.record(change.kind.kind, written)
        if informer is not None:
            with self.own.feeding_back():
                informer.observe(written)

    async def _services(
        self, canary: Canary, observed: Observed, roles: frozenset[ServiceRole]
    ) -> None:
        uid = str((observed.body.get("metadata") or {}).get("uid") or "")
        wanted = desired_services(
            canary,
            canary_uid=uid,
            label=observed.label,
            value=observed.value,
            target_pod_spec=((observed.target or {}).get("spec") or {})
            .get("template", {})
            .get("spec"),
        )
        service = canary.spec.service
        unmanaged = unmanaged_metadata(service) if service is not None else None
        unmanaged_labels = unmanaged.labels if unmanaged else ()
        unmanaged_annotations = unmanaged.annotations if unmanaged else ()
        for role in (ServiceRole.CANARY, ServiceRole.PRIMARY, ServiceRole.APEX):
            if role not in roles:
                continue
            desired = getattr(wanted, role.value)
            existing = self.caches["Service"].get(
                canary.namespace or "", desired["metadata"]["name"]
            )
            change = reconcile_service(
                existing,
                desired,
                canary_uid=uid,
                unmanaged_labels=unmanaged_labels,
                unmanaged_annotations=unmanaged_annotations,
            )
            if isinstance(change, Create | Update):
                await self._write(kinds.SERVICE, existing, dict(change.body))

    async def _sync_configs(self, canary: Canary, observed: Observed) -> None:
        for (kind, _name), source in sorted(observed.configs.items()):
            if not config_tracking.is_tracked(source, kind=kind):
                continue
            k = kinds.CONFIGMAP if kind == config_tracking.ConfigKind.CONFIGMAP else kinds.SECRET
            copy_name = f"{source['metadata']['name']}-primary"
            existing = self.caches[k.kind].get(canary.namespace or "", copy_name)
            desired = config_tracking.render_config_copy(
                source, canary=observed.body, include_label_prefixes=self.include_label_prefixes
            )
            desired = dict(config_tracking.merge_owner_references(desired, existing))
            if existing is not None:
                if _same(
                    existing,
                    desired,
                    ("data", "type", "metadata.labels", "metadata.ownerReferences"),
                ):
                    continue
                desired["metadata"] = dict(
                    desired["metadata"], resourceVersion=existing["metadata"]["resourceVersion"]
                )
            await self._write(k, existing, desired)

    async def _primary_scaler(self, canary: Canary, observed: Observed, *, promote: bool) -> None:
        """Create the primary autoscaler (HPA, ScaledObject) when missing; at promotion,
        sync it with the target's (the plug-in says whether anything changed)."""
        ref = canary.spec.autoscaler_ref
        if ref is None or observed.autoscaler is None:
            return
        plugin = autoscalers.autoscaler_for(ref)
        informer = self.caches.get(cache_key(plugin.kind))
        if informer is None:
            return
        existing = informer.get(canary.namespace or "", f"{ref.name}-primary")
        desired = plugin.render_primary(
            observed.autoscaler,
            canary=observed.body,
            ref=ref,
            target_name=canary.spec.target_ref.name,
            primary_name=canary.spec.primary_workload_name,
        )
        if existing is None:
            await self._write(plugin.kind, None, desired)
        elif promote:
            updated = plugin.promotion_update(
                existing,
                desired,
                source=observed.autoscaler,
                include_label_prefixes=self.include_label_prefixes,
            )
            if updated is not None:
                await self._write(plugin.kind, existing, updated)

    async def _pause_target_scaler(
        self, canary: Canary, observed: Observed, *, paused: bool
    ) -> None:
        """Pause the target's autoscaler with the target scaled to zero, resume it with the
        target scaled up for a run (KEDA's paused-replicas; nothing for an HPA)."""
        ref = canary.spec.autoscaler_ref
        if ref is None or observed.autoscaler is None:
            return
        plugin = autoscalers.autoscaler_for(ref)
        patch = plugin.pause_patch(observed.autoscaler, paused=paused)
        if patch is not None:
            await self._patch(plugin.kind, observed.autoscaler, patch)

    async def _ensure_primary(self, canary: Canary, observed: Observed) -> None:
        if observed.target is None:
            return
        if observed.primary is not None:
            await self._primary_scaler(canary, observed, promote=False)
            return
        # Config copies are made with the primary and refreshed only at promotion, so the
        # primary keeps running the configuration it was promoted with.
        await self._sync_configs(canary, observed)
        kind = observed.snapshot.target_kind
        tracked = set(config_tracking.tracked_keys(dict(observed.snapshot.configs)))
        revision = webhook_checksum(
            tracked_configs=observed.snapshot.configs, last_applied=observed.snapshot.revision
        )
        common: dict[str, Any] = {
            "canary": observed.body,
            "label": observed.label,
            "value": observed.value,
            "tracked": tracked,
            "include_label_prefixes": self.include_label_prefixes,
            "revision": revision,
        }
        if kind == "DaemonSet":
            body = primary_workload.render_primary_daemonset(observed.target, **common)
        else:
            body = primary_workload.render_primary_deployment(observed.target, **common)
        observed.primary = await self._write(kinds.BY_KIND[kind], None, body)
        await self._primary_scaler(canary, observed, promote=False)

    async def _scale(self, canary: Canary, observed: Observed, *, up: bool) -> None:
        target = observed.target
        if target is None:
            return
        kind = observed.snapshot.target_kind
        spec = target.get("spec") or {}
        await self._pause_target_scaler(canary, observed, paused=not up)
        if kind == "DaemonSet":
            selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
            scaled_down = SCALE_TO_ZERO_NODE_SELECTOR in selector
            if scaled_down != up:
                return
            replicas = 1 if up else 0
        else:
            current = spec.get("replicas", 1)
            if up and current:
                return
            if not up and current == 0:
                return
            replicas = 0
            if up:
                replicas = primary_workload.scale_from_zero_replicas(
                    target=target,
                    primary=observed.primary,
                    autoscaler_ref=canary.spec.autoscaler_ref,
                    autoscaler=observed.autoscaler,
                )
        await self._patch(kinds.BY_KIND[kind], target, primary_workload.scale_patch(kind, replicas))

    async def _promote(self, canary: Canary, observed: Observed) -> None:
        if observed.target is None or observed.primary is None:
            raise NotFound("cannot promote: target or primary missing")
        await self._sync_configs(canary, observed)
        kind = observed.snapshot.target_kind
        status = observed.snapshot.status
        common: dict[str, Any] = {
            "label": observed.label,
            "value": observed.value,
            "tracked": set(config_tracking.tracked_keys(dict(observed.snapshot.configs))),
            "include_label_prefixes": self.include_label_prefixes,
            "revision": webhook_checksum(
                tracked_configs=status.tracked_configs, last_applied=status.last_applied_spec
            ),
        }
        if kind == "DaemonSet":
            desired = primary_workload.promote_daemonset(
                observed.primary, observed.target, **common
            )
        else:
            desired = primary_workload.promote_deployment(
                observed.primary,
                observed.target,
                has_autoscaler=canary.spec.autoscaler_ref is not None,
                **common,
            )
        await self._primary_scaler(canary, observed, promote=True)
        if _same(desired, observed.primary, ("spec", "metadata.labels", "metadata.annotations")):
            return
        observed.primary = await self._write(kinds.BY_KIND[kind], observed.primary, desired)


@contextlib.asynccontextmanager
async def refusals(verb: str, kind: kinds.Kind, obj: Mapping[str, Any]) -> AsyncIterator[None]:
    """Turn the API server's answer to a refused write into `WriteRefused`, naming the write
    and the object. A conflict (the tick starts over) and a missing object are not refusals;
    neither is a transport failure with no answer (code 0)."""
    try:
        yield
    except (Conflict, NotFound):
        raise
    except KubeError as exc:
        if not exc.code:
            raise
        meta = obj.get("metadata") or {}
        where = "/".join(str(x) for x in (meta.get("namespace"), meta.get("name")) if x)
        raise WriteRefused(f"{verb} {kind.kind} {where}", exc) from exc


def _same(a: Mapping[str, Any], b: Mapping[str, Any], paths: tuple[str, ...]) -> bool:
    for path in paths:
        x: Any = a
        y: Any = b
        for part in path.split("."):
            x = x.get(part) if isinstance(x, Mapping) else None
            y = y.get(part) if isinstance(y, Mapping) else None
        if x != y:
            return False
    return True
