"""`ensign promote|abort|pause|resume`: leave a request on the Canary, wait for its audit record.

The request is the annotation `ensign.dev/request` (JSON: a fresh uuid4 `id`, the `verb`, the
`user`, an RFC3339 UTC `at`), which the engine reads as a built-in gate and records once in
`status.audit` (with an Event). `pause` and `resume` also set `spec.suspend`. Does I/O.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ensign.kube import kinds
from ensign.kube.api import JSON, KubeApi

REQUEST_ANNOTATION = "ensign.dev/request"  # read by ensign.runtime.observe.parse_request
VERBS = ("promote", "abort", "pause", "resume")
SUSPEND = {"pause": True, "resume": False}
EXIT_RECORDED = 0
EXIT_NOT_RECORDED = 3


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    verb: str
    user: str
    at: str

    def annotation(self) -> str:
        return json.dumps(
            {"id": self.id, "verb": self.verb, "user": self.user, "at": self.at},
            separators=(",", ":"),
        )


def new_request(verb: str, user: str, *, now: datetime | None = None) -> Request:
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb!r}")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return Request(
        id=str(uuid.uuid4()), verb=verb, user=user, at=moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def request_patch(request: Request) -> JSON:
    """The merge patch that leaves `request` on a Canary (and toggles suspend if it should)."""
    patch: JSON = {"metadata": {"annotations": {REQUEST_ANNOTATION: request.annotation()}}}
    if request.verb in SUSPEND:
        patch["spec"] = {"suspend": SUSPEND[request.verb]}
    return patch


def audit_entry(canary: Mapping[str, Any], request_id: str) -> Mapping[str, Any] | None:
    for entry in (canary.get("status") or {}).get("audit") or []:
        if isinstance(entry, Mapping) and entry.get("id") == request_id:
            return entry
    return None


async def send(api: KubeApi, namespace: str, name: str, request: Request) -> JSON:
    """Patch the Canary; raises NotFound when it does not exist."""
    return await api.patch(kinds.CANARY, name, request_patch(request), namespace=namespace)


async def wait_recorded(
    api: KubeApi,
    namespace: str,
    name: str,
    request_id: str,
    *,
    within: float,
    poll: float = 0.1,
) -> Mapping[str, Any] | None:
    """The audit record of `request_id`, or None if it did not appear `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        canary = await api.get(kinds.CANARY, name, namespace=namespace)
        entry = audit_entry(canary, request_id)
        if entry is not None or loop.time() >= deadline:
            return entry
        await asyncio.sleep(min(poll, max(0.0, deadline - loop.time())))


def describe_outcome(namespace: str, name: str, entry: Mapping[str, Any]) -> str:
    return (
        f"{entry.get('action')} {namespace}/{name}: {entry.get('outcome')} "
        f"(by {entry.get('user')} at {entry.get('time')}, phase {entry.get('phase') or '-'}, "
        f"revision {entry.get('revision') or '-'}, request {entry.get('id')})"
    )
