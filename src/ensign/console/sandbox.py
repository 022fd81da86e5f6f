"""`ensign sandbox`: the local cluster and the controller in one process, until Ctrl-C. Does I/O.

The cluster binds 127.0.0.1 and gets the flagger.app CRDs; the controller talks to it over
the socket through the real client, exactly as `ensign controller` would. A kubeconfig is
written for kubectl and the other `ensign` commands.
"""

from __future__ import annotations

import copy
from pathlib import Path

import click

from ensign.console.terminal import stop_on_signals
from ensign.crds import load_crds
from ensign.kube.client import LightkubeApi
from ensign.localcluster.cluster import LocalCluster
from ensign.runtime.app import Controller, Settings


async def run_sandbox(
    *,
    port: int,
    kubeconfig: Path,
    ready_delay: float,
    min_interval: float,
    namespace: str,
) -> None:
    stop = stop_on_signals()
    async with LocalCluster(port=port, default_ready_delay=ready_delay) as cluster:
        crd_type = cluster.store.type_for("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        for crd in load_crds():
            cluster.store.create(crd_type, "", copy.deepcopy(crd))
        path = cluster.write_kubeconfig(kubeconfig, namespace=namespace).resolve()
        api = LightkubeApi.from_file(str(path))
        controller = Controller(api, Settings(serve_http=False, min_interval=min_interval))
        try:
            await controller.start()
            click.echo(f"local cluster listening on {cluster.url}; CRDs applied")
            click.echo(f"controller running (analysis interval floor {min_interval:g}s)")
            click.echo(f"export KUBECONFIG={path}")
            click.echo("Ctrl-C stops the sandbox.")
            await stop.wait()
        finally:
            await controller.stop()
            await api.close()
    click.echo("sandbox stopped")
