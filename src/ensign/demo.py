"""`ensign demo`: start the local cluster, apply the CRDs and the podinfo example, show the result.

Until the rollout engine lands this is a tour of the local cluster: the real lightkube
client applies the manifests over HTTP, and the workload simulator brings the Deployment up.
Does I/O.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import click
import yaml
from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.networking_v1 import Ingress

from ensign.crds import load_crds
from ensign.localcluster.cluster import LocalCluster

Canary = create_namespaced_resource("flagger.app", "v1beta1", "Canary", "canaries")

_KINDS: dict[str, Any] = {
    "Namespace": Namespace,
    "Deployment": Deployment,
    "Ingress": Ingress,
    "Canary": Canary,
}


def example_path() -> Path:
    path = Path(__file__).resolve().parents[2] / "examples" / "podinfo.yaml"
    if not path.is_file():
        raise click.ClickException(f"example manifest not found at {path}")
    return path


async def run_demo(*, kubeconfig: Path | None = None) -> None:
    async with LocalCluster(default_ready_delay=0.3) as cluster:
        say(f"local cluster listening on {cluster.url}")
        config = KubeConfig.from_dict(cluster.kubeconfig())
        if kubeconfig is not None:
            cluster.write_kubeconfig(kubeconfig)
            say(f"kubeconfig written to {kubeconfig}")
        client = AsyncClient(config=config)
        try:
            for crd in load_crds():
                await client.create(
                    cast(CustomResourceDefinition, CustomResourceDefinition.from_dict(crd))
                )
                say(f"applied CustomResourceDefinition {crd['metadata']['name']}")
            for doc in yaml.safe_load_all(example_path().read_text()):
                resource = _KINDS[doc["kind"]]
                await client.create(resource.from_dict(doc))
                meta = doc["metadata"]
                where = f"{meta['namespace']}/" if "namespace" in meta else ""
                say(f"applied {doc['kind']} {where}{meta['name']}")
            deployment = await _wait_ready(client, "podinfo", "test")
            status = deployment.status
            assert status is not None
            say(
                f"Deployment test/podinfo is ready: {status.readyReplicas}/"
                f"{deployment.spec.replicas if deployment.spec else '?'} replicas, "
                f"observedGeneration {status.observedGeneration}"
            )
            canary = await client.get(Canary, "podinfo", namespace="test")
            spec = canary["spec"]
            say(
                f"Canary test/podinfo stored: provider {spec['provider']}, "
                f"{spec['analysis']['iterations']} iterations every {spec['analysis']['interval']}"
            )
        finally:
            await client.close()
    say("local cluster stopped; demo finished")


async def _wait_ready(client: AsyncClient, name: str, namespace: str) -> Deployment:
    for _ in range(100):
        deployment = await client.get(Deployment, name, namespace=namespace)
        status = deployment.status
        spec = deployment.spec
        if status and spec and (status.readyReplicas or 0) == spec.replicas:
            return deployment
        await asyncio.sleep(0.1)
    raise click.ClickException(f"Deployment {namespace}/{name} did not become ready")


def say(message: str) -> None:
    click.echo(f"[demo] {message}")
