"""`LocalCluster`: the store, the HTTP server, garbage collection and workload simulation together.

Usage::

    async with LocalCluster() as cluster:
        cluster.write_kubeconfig(path)      # for kubectl or lightkube's KubeConfig.from_file
        ...

Does I/O: binds a TCP port on 127.0.0.1 (never another address).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from ensign.localcluster import crd_bundles, gatewayapi, istio
from ensign.localcluster.faults import Faults
from ensign.localcluster.gateways import GatewaySimulator
from ensign.localcluster.keda import KedaSimulator
from ensign.localcluster.server import ApiServer
from ensign.localcluster.store import Store
from ensign.localcluster.workloads import WorkloadSimulator

LOOPBACK = "127.0.0.1"


class LocalCluster:
    """An in-process Kubernetes API server bound to 127.0.0.1."""

    def __init__(
        self,
        *,
        port: int = 0,
        history_limit: int = 5_000,
        bookmark_interval: float = 60.0,
        simulate_workloads: bool = True,
        default_ready_delay: float | None = 0.0,
        simulate_gateways: bool = True,
    ) -> None:
        """`simulate_gateways`: write HTTPRoute status as a Gateway API controller does
        (`gateways.GatewaySimulator`; it waits for the Gateway API CRDs, see `gatewayapi`)."""
        self.store = Store(history_limit=history_limit)
        self.faults = Faults()
        self.api = ApiServer(
            self.store, self.faults, bookmark_interval=bookmark_interval, on_write=self._wrote
        )
        self.workloads = WorkloadSimulator(self.store, default_ready_delay=default_ready_delay)
        self._simulate = simulate_workloads
        self.gateways = GatewaySimulator(self.store)
        self._simulate_gateways = simulate_gateways
        # KEDA's operator (localcluster/keda.py): idle until the `keda` CRD bundle is installed.
        self.keda = KedaSimulator(self.store)
        self._port = port
        self._runner: web.AppRunner | None = None
        self._gc_handle: asyncio.Handle | None = None
        self.port = 0

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> LocalCluster:
        app = self.api.application()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, self._port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])
        self.api.address = f"{LOOPBACK}:{self.port}"
        if self._simulate:
            self.workloads.start()
            self.keda.start()
        if self._simulate_gateways:
            self.gateways.start()
        return self

    async def stop(self) -> None:
        self.workloads.stop()
        self.gateways.stop()
        self.keda.stop()
        self.api.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalCluster:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -------------------------------------------------------------- access

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def kubeconfig(
        self, *, namespace: str = "default", user: str = "ensign-admin"
    ) -> dict[str, Any]:
        """A kubeconfig dict pointing at this cluster (any bearer token is accepted)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "ensign-local", "cluster": {"server": self.url}}],
            "users": [{"name": user, "user": {"token": "local-cluster-token"}}],
            "contexts": [
                {
                    "name": "ensign-local",
                    "context": {"cluster": "ensign-local", "user": user, "namespace": namespace},
                }
            ],
            "current-context": "ensign-local",
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(**kwargs), sort_keys=False))
        target.chmod(0o600)
        return target

    # ------------------------------------------------------------ controls

    def compact(self, keep: int = 0) -> int:
        """Compact the watch history: watches resuming from older versions get 410 Gone."""
        return self.store.compact(keep)

    def drop_watches(self) -> None:
        self.api.drop_watches()

    def install_gateway_api(self) -> list[str]:
        """Create the Gateway API CRDs (GatewayClass, Gateway, HTTPRoute); the names created."""
        return gatewayapi.install_gateway_api(self.store)

    def install_crds(self, bundle: str) -> list[str]:
        """Create the CRDs of a bundle (`crd_bundles.py`: `smi`, `contour`, ...); the names
        created."""
        return crd_bundles.install_bundle(self.store, bundle)

    def install_istio(self) -> list[str]:
        """Create the Istio CRDs (VirtualService, DestinationRule); the names created."""
        return istio.install_istio(self.store)

    def _wrote(self) -> None:
        if self.store.has_garbage() and self._gc_handle is None:
            loop = asyncio.get_running_loop()
            self._gc_handle = loop.call_soon(self._collect)

    def _collect(self) -> None:
        self._gc_handle = None
        self.store.collect_garbage()
        if self.store.has_garbage():
            loop = asyncio.get_running_loop()
            self._gc_handle = loop.call_later(0.05, self._collect)
