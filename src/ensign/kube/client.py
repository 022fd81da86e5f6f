"""`LightkubeApi`: `KubeApi` over lightkube's async client, with generic (dict) resources.

The only module that imports lightkube. Does I/O.

Two choices keep the controller's memory flat at scale: lists are read in pages of
`LIST_PAGE` objects (one response body in memory at a time, not the whole collection's),
and watches ask for bookmarks, so a watch on a quiet kind (ConfigMaps, Services between
rollouts) still advances its resourceVersion and resumes after its timeout instead of
getting 410 Gone and listing every object again in the middle of other work.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx2
import msgspec
from lightkube import AsyncClient, KubeConfig, operators
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import (
    create_global_resource,
    create_namespaced_resource,
)
from lightkube.types import PatchType

from ensign.kube.api import JSON, Conflict, Gone, KubeError, NotFound, Rejected, Unavailable
from ensign.kube.kinds import Kind

LIST_PAGE = 500


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


def _plain(obj: Any, *, managed_fields: bool = False) -> JSON:
    """A plain dict without `metadata.managedFields` (see `LightkubeApi`) unless asked for;
    a generic resource already is a dict unless its metadata became a model."""
    if isinstance(obj, dict) and not hasattr(obj.get("metadata"), "to_dict"):
        out = dict(obj)
    elif hasattr(obj, "to_dict"):
        out = dict(obj.to_dict())
    else:
        out = dict(obj)
    meta = out.get("metadata")
    if not managed_fields and isinstance(meta, dict) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def plain_http_without_ca(config: KubeConfig) -> SingleConfig:
    """The selected context, with TLS verification off when its server speaks plain HTTP
    and names no CA: lightkube would otherwise load the system's whole CA bundle (3.2 MiB
    of the controller's resident memory) into a TLS context no request ever uses. An
    https server is left exactly as configured."""
    single = config.get()
    assert single is not None  # `get()` raises when no context is selected
    cluster = single.cluster
    plain = urlsplit(cluster.server).scheme == "http"
    if plain and not (cluster.certificate_auth or cluster.certificate_auth_data):
        return single._replace(cluster=msgspec.structs.replace(cluster, insecure=True))
    return single


class LightkubeApi:
    """The production `KubeApi`. Counts requests by verb (one per HTTP request, so one per
    page of a list) for the controller's metrics.

    Objects come back without `metadata.managedFields`: the field managers' bookkeeping,
    often the largest part of an object, which Ensign never reads; an update that omits it
    leaves the server's copy unchanged."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.requests: dict[str, int] = {}

    @classmethod
    def from_kubeconfig(cls, config: KubeConfig, *, timeout: float = 10.0) -> LightkubeApi:
        return cls(
            AsyncClient(config=plain_http_without_ca(config), timeout=httpx2.Timeout(timeout))
        )

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
        items: list[JSON] = []
        rv = ""
        async for page, page_rv in self.list_pages(kind, namespace=namespace, labels=labels):
            items += page
            rv = page_rv
        return items, rv

    async def list_with_managed_fields(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> AsyncIterator[builtins.list[JSON]]:
        """`list`, page by page, keeping each object's `metadata.managedFields` (who wrote
        which fields, when): for one-off reads that need it (`runtime/coexistence.py`),
        never the caches."""
        ns = namespace if kind.namespaced else None
        self._count("list")
        try:
            iterable = self.client.list(
                _resource(kind),
                namespace=ns if ns else "*" if kind.namespaced else None,
                labels=_raw_selector(labels),
                chunk_size=LIST_PAGE,
            )
            page: builtins.list[JSON] = []
            async for o in iterable:
                page.append(_plain(o, managed_fields=True))
                if len(page) == LIST_PAGE:
                    yield page
                    page = []
                    self._count("list")
            yield page
        except _ERRORS as exc:
            raise _translate(exc) from exc

    async def list_pages(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> AsyncIterator[tuple[builtins.list[JSON], str]]:
        """`list`, one page of up to `LIST_PAGE` objects at a time, each with the list's
        resourceVersion: a caller that is done with a page before asking for the next never
        holds the whole collection twice."""
        res = _resource(kind)
        ns = namespace if kind.namespaced else None
        self._count("list")
        try:
            iterable = self.client.list(
                res,
                namespace=ns if ns else "*" if kind.namespaced else None,
                labels=_raw_selector(labels),
                chunk_size=LIST_PAGE,
            )
            page: builtins.list[JSON] = []
            pages = 0
            async for o in iterable:
                if pages and not page:
                    self._count("list")  # the request that brought this page
                page.append(_plain(o))
                if len(page) == LIST_PAGE:
                    pages += 1
                    yield page, str(iterable.resourceVersion)
                    page = []
            if page or not pages:
                yield page, str(iterable.resourceVersion)
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
        """One watch stream, with BOOKMARK events; ends when the server closes it (lightkube
        would reconnect, we stop instead so the caller sees every restart)."""
        self._count("watch")
        res = _resource(kind)
        ns = namespace if kind.namespaced and namespace else ("*" if kind.namespaced else None)
        try:
            stream = self._watch_with_bookmarks(
                res,
                namespace=ns,
                resource_version=resource_version,
                timeout_seconds=timeout_seconds,
                labels=labels,
            )
            async for event_type, obj in stream:
                yield event_type, _plain(obj)
        except _ERRORS as exc:
            raise _translate(exc) from exc

    def _watch_with_bookmarks(
        self,
        res: Any,
        *,
        namespace: str | None,
        resource_version: str,
        timeout_seconds: int,
        labels: str | None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """`AsyncClient.watch` plus `allowWatchBookmarks`, which lightkube has no argument
        for: the same request, prepared by lightkube's own generic client."""
        inner = self.client._client
        request = inner.prepare_request(
            "list",
            res=res,
            namespace=namespace,
            watch=True,
            params={
                "timeoutSeconds": timeout_seconds,
                "resourceVersion": resource_version,
                "labelSelector": labels or None,
                "allowWatchBookmarks": "true",
            },
        )
        stream: AsyncIterator[tuple[str, Any]] = inner.watch(request, on_error=_stop_on_end)
        return stream

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
