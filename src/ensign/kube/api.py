"""`KubeApi`: the operations the controller needs, on plain dict objects. Pure (a Protocol).

Objects stay dicts end to end so fields newer than any model are never dropped. Errors are
typed: `NotFound`, `Conflict`, `Gone`, and `Unavailable` for 5xx, timeouts and transport
failures (retry them); `Rejected` for 4xx answers that retrying will not fix.
`labels` on `list` and `watch` is a Kubernetes label selector string (`shard=a,tier!=x`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from ensign.kube.kinds import Kind

JSON = dict[str, Any]


class KubeError(Exception):
    def __init__(self, message: str, *, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    pass


class Gone(KubeError):
    pass


class Unavailable(KubeError):
    pass


class Rejected(KubeError):
    pass


class WriteRefused(KubeError):
    """The API server answered a write the tick needed with an error (422, 403, a quota or
    an admission webhook's denial, a 500 such as "failed to allocate a serviceIP: range is
    full"). `what` names the write and the object, e.g. `create Service test/podinfo`."""

    def __init__(self, what: str, cause: KubeError) -> None:
        super().__init__(str(cause), code=cause.code)
        self.what = what
        self.cause = cause

    def explain(self) -> str:
        return f"{self.what} refused by the API server (HTTP {self.code}): {self.cause}"


class KubeApi(Protocol):
    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> JSON: ...

    async def list(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> tuple[list[JSON], str]: ...

    def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        resource_version: str,
        timeout_seconds: int = 300,
        labels: str | None = None,
    ) -> AsyncIterator[tuple[str, JSON]]: ...

    async def create(self, kind: Kind, obj: Mapping[str, Any]) -> JSON: ...

    async def replace(self, kind: Kind, obj: Mapping[str, Any]) -> JSON: ...

    async def patch(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON: ...

    async def patch_status(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON: ...

    async def delete(self, kind: Kind, name: str, *, namespace: str | None = None) -> None: ...
