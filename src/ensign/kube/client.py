"""`LightkubeApi`: `KubeApi` over lightkube's async client, with generic (dict) resources.

The only module that imports lightkube. Does I/O.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2
from lightkube import AsyncClient, KubeConfig, operators
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import (
    create_global_resource,
    create_namespaced_resource,
)
from lightkube.types import PatchType

from ensign.kube.api import JSON, Conflict, Gone, KubeError, NotFound, Rejected, Unavailable
from ensign.kube.kinds import Kind


@functools.cache
def _resource(kind: Kind) -> Any:
    plural = kind.plural.split("/")[0]
    make = create_namespaced_resource if kind.namespaced else create_global_resource
    return make(kind.group, kind.version, kind.kind, plural)


def _translate(exc: Exception) -> KubeError:
    if isinstance(exc, ApiError):
        code = int(exc.status.code or 0)
        text = str(exc.status.message or exc)
        if code == 404:
            return NotFound(text, code=code)
        if code == 409:
            return Conflict(text, code=code)
        if code == 410:
            return Gone(text, code=code)
        if code == 429 or code >= 500:
            return Unavailable(text, code=code)
        return Rejected(text, code=code)
    if isinstance(exc, httpx2.HTTPStatusError):
        code = exc.response.status_code
        if code == 404:
            return NotFound(str(exc), code=code)
        if code == 409:
            return Conflict(str(exc), code=code)
        return Unavailable(str(exc), code=code) if code >= 500 else Rejected(str(exc), code=code)
    return Unavailable(f"{type(exc).__name__}: {exc}")


_ERRORS = (ApiError, httpx2.HTTPError, OSError, TimeoutError)


def _plain(obj: Any) -> JSON:
    if hasattr(obj, "to_dict"):
        return dict(obj.to_dict())
    return dict(obj)


class LightkubeApi:
    """The production `KubeApi`. Counts requests by verb for the controller's metrics."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.requests: dict[str, int] = {}

    @classmethod
    def from_kubeconfig(cls, config: KubeConfig, *, timeout: float = 10.0) -> LightkubeApi:
        return cls(AsyncClient(config=config, timeout=httpx2.Timeout(timeout)))

    @classmethod
    def from_dict(cls, kubeconfig: dict[str, Any], *, timeout: float = 10.0) -> LightkubeApi:
        """A client for a kubeconfig held in memory (the local cluster's, in tests)."""
        return cls.from_kubeconfig(KubeConfig.from_dict(kubeconfig), timeout=timeout)

    @classmethod
    def from_file(cls, path: str | None, *, timeout: float = 10.0) -> LightkubeApi:
        """A client from a kubeconfig file, or (None) from KUBECONFIG / in-cluster config."""
        config = KubeConfig.from_file(path) if path else KubeConfig.from_env()
        return cls.from_kubeconfig(config, timeout=timeout)

    def _count(self, verb: str) -> None:
        self.requests[verb] = self.requests.get(verb, 0) + 1

    async def close(self) -> None:
        await self.client.close()

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> JSON:
        self._count("get")
        try:
            return _plain(await self.client.get(_resource(kind), name, namespace=namespace))
        except _ERRORS as exc:
            raise _translate(exc) from exc

    async def list(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> tuple[list[JSON], str]:
        self._count("list")
        res = _resource(kind)
        ns = namespace if kind.namespaced else None
        try:
            iterable = self.client.list(
                res,
                namespace=ns if ns else "*" if kind.namespaced else None,
                labels=_raw_selector(labels),
            )
            items = [_plain(o) async for o in iterable]
            return items, str(iterable.resourceVersion)
        except _ERRORS as exc:
            raise _translate(exc) from exc

    async def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        resource_version: str,
        timeout_seconds: int = 300,
        labels: str | None = None,
    ) -> AsyncIterator[tuple[str, JSON]]:
        """One watch stream; ends when the server closes it (lightkube would reconnect, we
        stop instead so the caller sees every restart)."""
        self._count("watch")
        res = _resource(kind)
        ns = namespace if kind.namespaced and namespace else ("*" if kind.namespaced else None)
        try:
            stream = self.client.watch(
                res,
                namespace=ns,
                resource_version=resource_version,
                server_timeout=timeout_seconds,
                labels=_raw_selector(labels),
                on_error=_stop_on_end,
            )
            async for event_type, obj in stream:
                yield event_type, _plain(obj)
        except _ERRORS as exc:
            raise _translate(exc) from exc

    async def create(self, kind: Kind, obj: Mapping[str, Any]) -> JSON:
        self._count("create")
        res = _resource(kind)
        try:
            return _plain(await self.client.create(res(dict(obj))))
        except _ERRORS as exc:
            raise _translate(exc) from exc

    async def replace(self, kind: Kind, obj: Mapping[str, Any]) -> JSON:
        self._count("update")
        res = _resource(kind)
        try:
            return _plain(await self.client.replace(res(dict(obj))))
        except _ERRORS as exc:
            raise _translate(exc) from exc

    async def patch(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON:
        """A JSON merge patch (a `metadata.resourceVersion` in it is a precondition)."""
        return await self._merge_patch(_resource(kind), name, patch, namespace=namespace)

    async def patch_status(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON:
        """A JSON merge patch of the status subresource."""
        return await self._merge_patch(_resource(kind).Status, name, patch, namespace=namespace)

    async def _merge_patch(
        self, res: Any, name: str, patch: Mapping[str, Any], *, namespace: str | None
    ) -> JSON:
        self._count("patch")
        try:
            out = await self.client.patch(
                res, name, dict(patch), namespace=namespace, patch_type=PatchType.MERGE
            )
            return _plain(out)
        except _ERRORS as exc:
            raise _translate(exc) from exc

    async def delete(self, kind: Kind, name: str, *, namespace: str | None = None) -> None:
        self._count("delete")
        try:
            await self.client.delete(_resource(kind), name, namespace=namespace)
        except _ERRORS as exc:
            raise _translate(exc) from exc


def _raw_selector(selector: str | None) -> dict[str, Any] | None:
    """A selector string for lightkube, which only builds selectors from key/operator pairs:
    `exists()` encodes as the bare key, so the whole string passes through unchanged."""
    return {selector: operators.exists()} if selector else None


def _stop_on_end(exc: Exception, count: int) -> Any:
    from lightkube.types import OnErrorAction, OnErrorResult

    return OnErrorResult(OnErrorAction.RAISE)
