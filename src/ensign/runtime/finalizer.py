"""revertOnDeletion: Flagger's finalizer, and giving the workload back on deletion. Does I/O.

With `spec.revertOnDeletion: true` the Canary carries `finalizer.flagger.app`. When it is
deleted, the target gets the primary's replicas back (a DaemonSet loses the scale-to-zero
node selector), Ensign waits until it is ready, hands a user-owned apex Service back to the
target's pods, and only then removes the finalizer. Every step is idempotent, so a restart
half-way through simply resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from ensign.engine.phases import Phase
from ensign.engine.status import dump_status, parse_status, rfc3339
from ensign.kube import kinds
from ensign.kube.api import JSON, KubeApi, NotFound
from ensign.kube.kinds import cache_key
from ensign.model import Canary
from ensign.routers.protocol import ObjectChange
from ensign.routers.service_sync import revert_apex
from ensign.runtime.cache import Caches
from ensign.runtime.events import EventRecorder
from ensign.workloads import autoscalers, readiness
from ensign.workloads import primary as primary_workload
from ensign.workloads.errors import WorkloadError
from ensign.workloads.revision import SCALE_TO_ZERO_NODE_SELECTOR
from ensign.workloads.selector import selector_label

log = logging.getLogger(__name__)
FINALIZER = "finalizer.flagger.app"


def has_finalizer(body: JSON) -> bool:
    return FINALIZER in ((body.get("metadata") or {}).get("finalizers") or [])


class Finalizer:
    def __init__(self, api: KubeApi, caches: Caches, events: EventRecorder) -> None:
        self.api = api
        self.caches = caches
        self.events = events
        # The router's own finalize step (restore a taken-over object, delete an unowned
        # one): what it says and how to apply it, set by the controller.
        self.router_changes: Callable[[Canary], tuple[ObjectChange, ...]] | None = None
        self.apply: Callable[[ObjectChange], Awaitable[None]] | None = None
        # Whether the canary's router writes objects no owner reference cleans up (Kuma):
        # then the finalizer is kept even without revertOnDeletion.
        self.router_cleanup: Callable[[Canary], bool] | None = None

    def wanted(self, canary: Canary) -> bool:
        """The finalizer is needed for revertOnDeletion, or to clean up unowned router
        objects (Flagger leaves those behind)."""
        cleanup = self.router_cleanup(canary) if self.router_cleanup is not None else False
        return canary.spec.revert_on_deletion or cleanup

    async def sync(self, canary: Canary, body: JSON) -> JSON:
        """Add or remove the finalizer to match `wanted` (not while deleting)."""
        want = self.wanted(canary)
        if want == has_finalizer(body):
            return body
        meta = body["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        if want:
            finalizers.append(FINALIZER)
        written = await self.api.patch(
            kinds.CANARY,
            meta["name"],
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
            namespace=meta.get("namespace"),
        )
        self.caches["Canary"].observe(written)
        return written

    async def finalize(self, canary: Canary, body: JSON, *, now: datetime) -> bool:
        """One step of finalisation; True once the finalizer is gone."""
        ns = canary.namespace or ""
        meta = body["metadata"]
        status = parse_status(body.get("status"))
        if status.phase != Phase.TERMINATING:
            raw = dump_status(status)
            raw.update(phase=str(Phase.TERMINATING), lastTransitionTime=rfc3339(now))
            written = await self.api.patch_status(
                kinds.CANARY, meta["name"], {"status": raw}, namespace=ns
            )
            self.caches["Canary"].observe(written)
            body = written
            await self.events.record(
                canary, body, message=f"Terminating canary {canary.name}.{ns}", warning=False
            )
        kind = str(canary.spec.target_ref.kind)
        informer = self.caches[kind] if kind in ("Deployment", "DaemonSet") else None
        target = informer.get(ns, canary.spec.target_ref.name) if informer else None
        revert = canary.spec.revert_on_deletion  # else: only the router's clean-up
        if revert:
            await self._resume_target_scaler(canary)
        if revert and target is not None and informer is not None:
            if not await self._revert_target(canary, target, kind=kind, now=now):
                return False
            await self._revert_apex(canary, target)
        if self.router_changes is not None and self.apply is not None:
            for change in self.router_changes(canary):
                await self.apply(change)
        # Recorded before the finalizer goes: once it is gone the Canary disappears and this
        # canary's loop (and the tick running this) is cancelled.
        await self.events.record(
            canary, body, message=f"Terminated canary {canary.name}.{ns}", warning=False
        )
        finalizers = [f for f in body["metadata"].get("finalizers") or [] if f != FINALIZER]
        written = await self.api.patch(
            kinds.CANARY,
            meta["name"],
            {
                "metadata": {
                    "finalizers": finalizers,
                    "resourceVersion": body["metadata"]["resourceVersion"],
                }
            },
            namespace=ns,
        )
        self.caches["Canary"].observe(written)
        return True

    async def _resume_target_scaler(self, canary: Canary) -> None:
        """Flagger's finalize resumes the target's autoscaler first (KEDA's paused-replicas
        removed; nothing for an HPA). Read from its cache, else from the API (a controller
        restarted on a deleting Canary has not started the add-on's cache)."""
        ref = canary.spec.autoscaler_ref
        if ref is None:
            return
        plugin = autoscalers.autoscaler_for(ref)
        ns = canary.namespace or ""
        informer = self.caches.get(cache_key(plugin.kind))
        try:
            source = (
                informer.get(ns, ref.name)
                if informer is not None and informer.synced.is_set()
                else await self.api.get(plugin.kind, ref.name, namespace=ns)
            )
        except NotFound:
            return
        patch = plugin.pause_patch(source, paused=False) if source is not None else None
        if patch is None:
            return
        written = await self.api.patch(plugin.kind, ref.name, patch, namespace=ns)
        if informer is not None:
            informer.observe(written)

    async def _revert_target(
        self, canary: Canary, target: JSON, *, kind: str, now: datetime
    ) -> bool:
        ns = canary.namespace or ""
        spec = target.get("spec") or {}
        if kind == "DaemonSet":
            selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
            patch = (
                primary_workload.daemonset_scale_from_zero_patch()
                if SCALE_TO_ZERO_NODE_SELECTOR in selector
                else None
            )
        else:
            primary = self.caches["Deployment"].get(ns, canary.spec.primary_workload_name)
            replicas = (
                primary_workload.finalize_replicas(primary)
                if primary
                else max(int(spec.get("replicas") or 0), 1)
            )
            patch = None if spec.get("replicas") == replicas else {"spec": {"replicas": replicas}}
        if patch is not None:
            written = await self.api.patch(
                kinds.BY_KIND[kind], target["metadata"]["name"], patch, namespace=ns
            )
            self.caches[kind].observe(written)
            return False  # wait for the workload to come up before handing traffic back
        state = readiness.canary_readiness(
            target,
            threshold=100,
            deadline_seconds=canary.spec.progress_deadline_seconds,
            now=now,
            kind=kind,
        )
        return isinstance(state, readiness.Ready)

    async def _revert_apex(self, canary: Canary, target: JSON) -> None:
        try:
            label, value = selector_label(target)
        except WorkloadError:
            return
        ns = canary.namespace or ""
        existing = self.caches["Service"].get(ns, canary.spec.apex_service_name)
        reverted = revert_apex(existing, label=label, value=value)
        if reverted is not None:
            written = await self.api.replace(kinds.SERVICE, reverted)
            self.caches["Service"].observe(written)
