"""Shared helpers of the contract suite: the `Kube` connection, polling, Status checks, CRDs.

Everything here talks to the API through the client (lightkube or raw httpx2 requests), never
through the local cluster's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import Container, EnvVar, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment

if TYPE_CHECKING:
    from ensign.localcluster.cluster import LocalCluster

T = TypeVar("T")

READY_AFTER = "localcluster.ensign.dev/ready-after"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"

Canary = create_namespaced_resource("flagger.app", "v1beta1", "Canary", "canaries")
MetricTemplate = create_namespaced_resource(
    "flagger.app", "v1beta1", "MetricTemplate", "metrictemplates"
)
AlertProvider = create_namespaced_resource(
    "flagger.app", "v1beta1", "AlertProvider", "alertproviders"
)
HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
HTTPRouteV1beta1 = create_namespaced_resource(
    "gateway.networking.k8s.io", "v1beta1", "HTTPRoute", "httproutes"
)
VirtualService = create_namespaced_resource(
    "networking.istio.io", "v1beta1", "VirtualService", "virtualservices"
)


@dataclass
class Kube:
    """One connection to the cluster under test."""

    client: AsyncClient
    namespace: str
    http: httpx2.AsyncClient
    local: LocalCluster | None
    cleanups: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    @property
    def is_local(self) -> bool:
        return self.local is not None

    @property
    def cluster(self) -> LocalCluster:
        """The LocalCluster (only for tests marked local_only)."""
        assert self.local is not None, "this test needs the local cluster (mark it local_only)"
        return self.local

    def name(self, prefix: str = "obj") -> str:
        """A unique object name, so tests never collide on a shared real cluster."""
        return f"{prefix}-{secrets.token_hex(3)}"

    def timeout(self, local: float = 5.0, real: float = 60.0) -> float:
        return local if self.is_local else real

    def path(
        self,
        api_version: str,
        plural: str,
        name: str = "",
        *,
        namespace: str | None = "",
        sub: str = "",
    ) -> str:
        """A REST path. namespace="" means the test namespace, None means cluster-wide."""
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        ns = self.namespace if namespace == "" else namespace
        parts = [base]
        if ns:
            parts.append(f"namespaces/{ns}")
        parts.append(plural)
        if name:
            parts.append(name)
        if sub:
            parts.append(sub)
        return "/".join(parts)

    def defer(self, fn: Callable[[], Awaitable[Any]]) -> None:
        """Run `fn` at teardown (404s ignored): cluster-scoped objects must not leak."""
        self.cleanups.append(fn)

    async def run_cleanups(self) -> None:
        while self.cleanups:
            fn = self.cleanups.pop()
            with contextlib.suppress(ApiError):
                await fn()

    async def eventually(
        self,
        probe: Callable[[], Awaitable[T | None]],
        *,
        within: float | None = None,
        what: str = "condition",
        interval: float = 0.01,
    ) -> T:
        """Poll `probe` until it returns a truthy value (AssertionError/404 count as not yet)."""
        limit = within if within is not None else self.timeout()
        deadline = time.monotonic() + limit
        last: Any = None
        while True:
            try:
                value = await probe()
                if value:
                    return value
                last = value
            except AssertionError as exc:
                last = exc
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
                last = exc
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {limit}s waiting for {what}; last: {last!r}")
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, 0.25)

    async def gone(self, res: Any, name: str, *, namespace: str | None = None, **kw: Any) -> bool:
        """Wait until GET answers 404."""

        async def probe() -> bool:
            try:
                if namespace is None and not _is_global(res):
                    await self.client.get(res, name, namespace=self.namespace)
                elif namespace is None:
                    await self.client.get(res, name)
                else:
                    await self.client.get(res, name, namespace=namespace)
            except ApiError as exc:
                if exc.status.code == 404:
                    return True
                raise
            return False

        return await self.eventually(probe, what=f"{name} to be gone", **kw)

    # ----------------------------------------------------------------- CRDs

    async def install_crd(self, doc: dict[str, Any], *, served_namespace: bool = True) -> Any:
        """Create a CRD, schedule its deletion and wait until its first version is served."""
        created = await self.client.create(CustomResourceDefinition.from_dict(doc))
        name = doc["metadata"]["name"]

        async def remove() -> None:
            await self.client.delete(CustomResourceDefinition, name)
            # A real server keeps a deleted CRD while it removes its objects; the next test
            # may create the same CRD again.
            await self.gone(CustomResourceDefinition, name, within=self.timeout(5, 120))

        self.defer(remove)
        await self.wait_served(doc, namespaced=served_namespace)
        return created

    async def wait_served(self, doc: dict[str, Any], *, namespaced: bool = True) -> None:
        """A real server answers 404 for ~50 ms after a CRD is created: poll with a deadline."""
        spec = doc["spec"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            api_version = f"{spec['group']}/{version['name']}"
            ns: str | None = "" if spec["scope"] == "Namespaced" and namespaced else None
            path = self.path(api_version, spec["names"]["plural"], namespace=ns)

            async def probe(path: str = path) -> bool:
                response = await self.http.get(path)
                return response.status_code == 200

            await self.eventually(probe, within=self.timeout(5, 30), what=f"{path} served")


def _is_global(res: Any) -> bool:
    from lightkube.core import resource as r

    return issubclass(res, r.GlobalResource)


# ------------------------------------------------------------------ errors


def assert_api_error(
    exc: BaseException, code: int, reason: str | None = None
) -> Any:  # returns the lightkube Status
    assert isinstance(exc, ApiError), f"expected lightkube ApiError {code}, got {exc!r}"
    status = exc.status
    assert status.code == code, f"expected {code}, got {status.code}: {status.message}"
    if reason is not None:
        assert status.reason == reason, f"expected reason {reason}, got {status.reason}"
    return status


def assert_status_response(
    response: httpx2.Response,
    code: int,
    reason: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """An error answer is a Status object with Content-Type exactly application/json."""
    assert response.status_code == code, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json", response.headers
    body = response.json()
    assert body["kind"] == "Status", body
    assert body["apiVersion"] == "v1", body
    assert body["status"] == "Failure", body
    assert body["code"] == code, body
    assert body["reason"] == reason, body
    assert isinstance(body.get("message"), str) and body["message"], body
    details = body.get("details", {})
    if name is not None:
        assert details.get("name") == name, body
    if kind is not None:
        assert details.get("kind") == kind, body
    if group is not None:
        assert details.get("group", "") == group, body
    return body


def causes(status_body: dict[str, Any]) -> dict[str, str]:
    """field -> reason of a Status body's details.causes."""
    return {
        str(c.get("field", "")): str(c.get("reason", ""))
        for c in (status_body.get("details") or {}).get("causes") or []
    }


# ----------------------------------------------------------------- objects


def deployment(
    name: str,
    *,
    replicas: int = 1,
    image: str = PAUSE_IMAGE,
    ready_after: str | None = "0",
    env: dict[str, str] | None = None,
    progress_deadline: int | None = None,
    labels: dict[str, str] | None = None,
) -> Deployment:
    """A small Deployment; `ready_after` sets the local simulator's readiness annotation."""
    annotations = {READY_AFTER: ready_after} if ready_after is not None else None
    return Deployment(
        metadata=ObjectMeta(name=name, labels=labels or {"app": name}),
        spec=DeploymentSpec(
            replicas=replicas,
            progressDeadlineSeconds=progress_deadline,
            selector=LabelSelector(matchLabels={"app": name}),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels={"app": name}, annotations=annotations),
                spec=PodSpec(
                    terminationGracePeriodSeconds=0,
                    containers=[
                        Container(
                            name="app",
                            image=image,
                            env=[EnvVar(name=k, value=v) for k, v in (env or {}).items()] or None,
                        )
                    ],
                ),
            ),
        ),
    )


def crd_doc(
    group: str,
    kind: str,
    plural: str,
    *,
    scope: str = "Namespaced",
    versions: tuple[str, ...] = ("v1",),
    status: bool = True,
    scale: bool = False,
    spec_schema: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A minimal structural CRD; the first version is the storage version."""
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": spec_schema
                or {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    }
    subresources: dict[str, Any] = {}
    if status:
        subresources["status"] = {}
    if scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
        }
    vs = []
    for i, v in enumerate(versions):
        entry: dict[str, Any] = {"name": v, "served": True, "storage": i == 0, "schema": schema}
        if subresources:
            entry["subresources"] = subresources
        vs.append(entry)
    metadata: dict[str, Any] = {"name": f"{plural}.{group}"}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": group,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
            },
            "scope": scope,
            "versions": vs,
        },
    }


WIDGET_SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "size": {"type": "integer", "minimum": 0},
        "color": {"type": "string"},
        "replicas": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


async def install_widgets(kube: Kube, *, scope: str = "Namespaced") -> Any:
    """A uniquely-grouped test CRD `Widget` with status and scale subresources; returns the
    lightkube generic resource class."""
    group = f"c{secrets.token_hex(4)}.contract.ensign.dev"
    doc = crd_doc(
        group, "Widget", "widgets", scope=scope, scale=True, spec_schema=WIDGET_SPEC_SCHEMA
    )
    await kube.install_crd(doc)
    if scope == "Namespaced":
        return create_namespaced_resource(group, "v1", "Widget", "widgets")
    return create_global_resource(group, "v1", "Widget", "widgets")


def widget(res: Any, name: str, **spec: Any) -> Any:
    return res.from_dict(
        {
            "apiVersion": res._api_info.resource.api_version,
            "kind": "Widget",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


async def list_rv(kube: Kube, api_version: str, plural: str) -> str:
    """The resourceVersion of a namespaced list (raw: lightkube hides it until iterated)."""
    response = await kube.http.get(kube.path(api_version, plural), params={"limit": "1"})
    response.raise_for_status()
    return str(response.json()["metadata"]["resourceVersion"])
