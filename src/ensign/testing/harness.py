"""`Harness`: a local cluster with the flagger.app CRDs and a running controller. Does I/O.

    async with Harness() as h:
        await h.apply(deployment, canary)
        await h.wait_phase("test", "podinfo", "Initialized")

The controller talks to the cluster through the real lightkube client over a socket.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ensign.crds import load_crds
from ensign.kube import kinds
from ensign.kube.client import LightkubeApi
from ensign.localcluster.cluster import LocalCluster
from ensign.localcluster.errors import ApiError
from ensign.localcluster.kinds import ResourceType
from ensign.runtime.app import Controller, Settings

JSON = dict[str, Any]


class Harness:
    def __init__(
        self,
        *,
        ready_delay: float | None = 0.05,
        min_interval: float = 0.1,
        start_controller: bool = True,
        idle_resync: float = 300.0,
        settings: dict[str, Any] | None = None,
        gateway_api: bool = False,
        istio: bool = False,
        crds: tuple[str, ...] = (),
    ) -> None:
        """`settings` are extra controller Settings (metrics_server, slack_url, ...).

        `gateway_api` installs the Gateway API CRDs (GatewayClass, Gateway, HTTPRoute) with the
        flagger.app ones; leave it off to show a missing CRD, and call `install_gateway_api()`
        to install them later. `istio` does the same for the Istio CRDs (VirtualService,
        DestinationRule; `install_istio()` later).
        """
        self.cluster = LocalCluster(default_ready_delay=ready_delay)
        self.min_interval = min_interval
        self.idle_resync = idle_resync
        self.start_controller = start_controller
        self.settings = dict(settings or {})
        self.gateway_api = gateway_api
        self.istio = istio
        self.crd_bundles = crds  # more CRD bundles to install (localcluster/crd_bundles.py)
        self.controller: Controller | None = None
        self.api: LightkubeApi | None = None

    async def __aenter__(self) -> Harness:
        await self.cluster.start()
        crd_type = self.type("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        for crd in load_crds():
            self.cluster.store.create(crd_type, "", copy.deepcopy(crd))
        if self.gateway_api:
            self.cluster.install_gateway_api()
        if self.istio:
            self.cluster.install_istio()
        for bundle in self.crd_bundles:
            self.cluster.install_crds(bundle)
        if self.start_controller:
            await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        await self.cluster.stop()

    async def start(self) -> Controller:
        """Start (or restart) the controller against the cluster."""
        self.api = LightkubeApi.from_dict(self.cluster.kubeconfig())
        # One controller per cluster here: leader election would only add a Lease round
        # trip (and, after a simulated kill, a wait for the lease to expire). It is on by
        # default in production; tests/leader/ runs several controllers with it.
        self.controller = Controller(
            self.api,
            Settings(
                serve_http=False,
                min_interval=self.min_interval,
                watch_timeout=60,
                leader_election=False,
                idle_resync=self.idle_resync,
                **self.settings,
            ),
        )
        await self.controller.start()
        return self.controller

    async def stop(self) -> None:
        if self.controller is not None:
            await self.controller.stop()
            self.controller = None
        if self.api is not None:
            await self.api.close()
            self.api = None

    # ----------------------------------------------------------- objects

    def type(self, group: str, version: str, plural: str) -> ResourceType:
        return self.cluster.store.type_for(group, version, plural)

    def _kind_type(self, kind: str) -> ResourceType:
        """The served type of a kind from the controller's kinds table."""
        known = kinds.BY_KIND[kind]
        return self.type(known.group, known.version, known.plural)

    def _type_of(self, obj: JSON) -> ResourceType:
        if obj["kind"] in kinds.BY_KIND:
            return self._kind_type(obj["kind"])
        served = self.served_type(str(obj["apiVersion"]), str(obj["kind"]))
        if served is not None:
            return served
        group, _, version = str(obj["apiVersion"]).rpartition("/")
        plural = "namespaces" if obj["kind"] == "Namespace" else f"{str(obj['kind']).lower()}s"
        return self.type(group, version, plural)

    def served_type(self, api_version: str, kind: str) -> ResourceType | None:
        """The served type of any kind (built-in or CRD) by apiVersion and kind, if served."""
        for rt in self.cluster.store.types():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    async def install_gateway_api(self) -> list[str]:
        """Install the Gateway API CRDs now (served at once); the CRD names created."""
        created = self.cluster.install_gateway_api()
        self.cluster.api.on_write and self.cluster.api.on_write()
        await asyncio.sleep(0)  # let watchers and the gateway simulator see the new CRDs
        return created

    async def install_crds(self, bundle: str) -> list[str]:
        """Install a CRD bundle now (served at once); the CRD names created."""
        created = self.cluster.install_crds(bundle)
        self.cluster.api.on_write and self.cluster.api.on_write()
        await asyncio.sleep(0)  # let watchers and simulators see the new CRDs
        return created

    async def install_istio(self) -> list[str]:
        """Install the Istio CRDs now (served at once); the CRD names created."""
        created = self.cluster.install_istio()
        self.cluster.api.on_write and self.cluster.api.on_write()
        await asyncio.sleep(0)  # let watchers see the new CRDs
        return created

    def get_object(self, api_version: str, kind: str, namespace: str, name: str) -> JSON | None:
        """Any object (HTTPRoute, Ingress, a CRD, ...) as served in `api_version`; None if absent.

        `namespace` is ignored for cluster-scoped kinds.
        """
        rt = self.served_type(api_version, kind)
        if rt is None:
            return None
        try:
            return self.cluster.store.get(rt, namespace, name)
        except ApiError:
            return None

    async def apply(self, *objs: JSON) -> None:
        for obj in objs:
            self.cluster.store.create(
                self._type_of(obj), obj["metadata"].get("namespace", ""), copy.deepcopy(obj)
            )
            self.cluster.api.on_write and self.cluster.api.on_write()

    def get(self, kind: str, namespace: str, name: str) -> JSON | None:
        resource = self._kind_type(kind)
        try:
            return self.cluster.store.get(resource, namespace, name)
        except Exception:
            return None

    def canary(self, namespace: str, name: str) -> JSON:
        obj = self.get("Canary", namespace, name)
        assert obj is not None, f"canary {namespace}/{name} not found"
        return obj

    def phase(self, namespace: str, name: str) -> str:
        return str((self.canary(namespace, name).get("status") or {}).get("phase", ""))

    def patch(self, kind: str, namespace: str, name: str, patch: Callable[[JSON], JSON]) -> JSON:
        return self.cluster.store.patch(self._kind_type(kind), namespace, name, patch)

    def set_image(self, namespace: str, name: str, image: str) -> JSON:
        def change(obj: JSON) -> JSON:
            new = copy.deepcopy(obj)
            new["spec"]["template"]["spec"]["containers"][0]["image"] = image
            return new

        return self.patch("Deployment", namespace, name, change)

    def events(self, namespace: str) -> list[str]:
        """Every event message recorded in `namespace`, in order, repeats included.

        Repeats are aggregated into one Event object whose count grows (as client-go does),
        so the order comes from the store's history: a creation or a count bump each.
        """
        events_type = self.type("", "v1", "events")
        out: list[str] = []
        for change in self.cluster.store.history_since(events_type.storage_key, 0):
            if change.namespace != namespace or change.type == "DELETED":
                continue
            before = int((change.old or {}).get("count", 0) or 0)
            if int(change.obj.get("count", 1) or 1) > before:
                out.append(str(change.obj.get("message")))
        return out

    async def wait_for(
        self, predicate: Callable[[], bool], *, timeout: float = 15.0, what: str = "condition"
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    async def wait_phase(
        self, namespace: str, name: str, phase: str, *, timeout: float = 15.0
    ) -> None:
        def reached() -> bool:  # ... and the side effects of getting there delivered
            if self.phase(namespace, name) != phase:
                return False
            status = (self.get("Canary", namespace, name) or {}).get("status") or {}
            return not status.get("outbox")

        await self.wait_for(
            reached,
            timeout=timeout,
            what=f"{namespace}/{name} phase {phase} (now {self.phase(namespace, name)!r})",
        )
