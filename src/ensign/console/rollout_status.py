"""`ensign status`: follow the current rollout of a Canary until it ends. Does I/O.

The current rollout is the run in progress (phases Initializing, Waiting, Progressing,
WaitingPromotion, Promoting, Finalising) or, when the Canary is settled, the run its target
is about to start: a target revision that is neither `status.lastAppliedSpec` nor
`status.lastPromotedSpec` is pending (the controller has not picked it up yet). A settled
Canary with nothing pending ends the wait at once: Initialized or Succeeded → 0, Failed → 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ensign.kube import kinds
from ensign.kube.api import JSON, KubeApi, NotFound
from ensign.workloads.revision import revision_hash

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 2
WORKLOADS = {"Deployment": kinds.DEPLOYMENT, "DaemonSet": kinds.DAEMONSET}


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str
    weight: int
    iterations: int
    failed_checks: int
    message: str
    pending: str  # the revision waiting to be analysed, "" when none

    def line(self, namespace: str, name: str) -> str:
        text = (
            f"{namespace}/{name} {self.phase or '-'}  weight {self.weight}  "
            f"iteration {self.iterations}  failed checks {self.failed_checks}"
        )
        if self.pending:
            text += f"  (revision {self.pending} pending)"
        return f"{text}: {self.message}" if self.message else text


def progress(canary: Mapping[str, Any], target: Mapping[str, Any] | None) -> Progress:
    """What the wait needs to know of a Canary and its target. Pure."""
    status = canary.get("status") or {}
    ready: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
    )
    pending = ""
    if target is not None:
        kind = str(((canary.get("spec") or {}).get("targetRef") or {}).get("kind") or "")
        current = revision_hash(target, kind=kind or "Deployment")
        known = {status.get("lastAppliedSpec"), status.get("lastPromotedSpec")}
        pending = current if current not in known else ""
    return Progress(
        phase=str(status.get("phase") or ""),
        weight=_int(status.get("canaryWeight")),
        iterations=_int(status.get("iterations")),
        failed_checks=_int(status.get("failedChecks")),
        message=str(ready.get("message") or ""),
        pending=pending,
    )


def verdict(now: Progress) -> int | None:
    """The exit code once the current rollout has ended, None while it runs. Pure."""
    if now.pending:
        return None
    if now.phase in ("Initialized", "Succeeded"):
        return EXIT_SUCCEEDED
    if now.phase in ("Failed", "Terminated"):
        return EXIT_FAILED
    return None


async def read(api: KubeApi, namespace: str, name: str) -> Progress:
    canary = await api.get(kinds.CANARY, name, namespace=namespace)
    spec = canary.get("spec") or {}
    ref = spec.get("targetRef") or {}
    target: JSON | None = None
    kind = WORKLOADS.get(str(ref.get("kind") or "Deployment"))
    if kind is not None and ref.get("name"):
        try:
            target = await api.get(kind, str(ref["name"]), namespace=namespace)
        except NotFound:
            target = None
    return progress(canary, target)


async def follow(
    api: KubeApi,
    namespace: str,
    name: str,
    *,
    within: float,
    say: Callable[[str], None],
    poll: float = 0.25,
) -> int:
    """Print a line per change of phase (or pending revision); return the exit code."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: tuple[str, str] | None = None
    while True:
        try:
            now = await read(api, namespace, name)
        except NotFound:
            if last is None:
                raise
            say(f"{namespace}/{name} was deleted")
            return EXIT_FAILED
        if (now.phase, now.pending) != last:
            last = (now.phase, now.pending)
            say(now.line(namespace, name))
        code = verdict(now)
        if code is not None:
            say(f"rollout {'succeeded' if code == EXIT_SUCCEEDED else 'failed'}: {now.phase}")
            return code
        if loop.time() >= deadline:
            say(f"timed out after {within:g}s; {namespace}/{name} is {now.phase or '-'}")
            return EXIT_TIMEOUT
        await asyncio.sleep(min(poll, max(0.0, deadline - loop.time())))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
