"""Run `ensign` as a subprocess against a Harness (local cluster + real controller)."""

from __future__ import annotations

import asyncio
import copy
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ensign.testing import manifests as m
from ensign.testing.harness import Harness

JSON = dict[str, Any]
NS = "test"
NAME = "podinfo"
NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.8.0"
MANUAL = {"ensign.dev/manual-promotion": "true"}


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    out: str
    err: str


async def ensign(*args: str, timeout: float = 30.0, cwd: Path | None = None) -> Result:
    """`python -m ensign ARGS`, without blocking the loop the local cluster serves from."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ensign",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


@asynccontextmanager
async def cluster(tmp_path: Path, **harness: Any) -> AsyncIterator[tuple[Harness, str]]:
    """A Harness (min interval 0.1 s) and a kubeconfig for it, with namespace `test`."""
    async with Harness(min_interval=0.1, **harness) as h:
        kubeconfig = h.cluster.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
        await h.apply(m.namespace(NS))
        yield h, f"--kubeconfig={kubeconfig}"


def canary(*, annotations: dict[str, str] | None = None, **kwargs: Any) -> JSON:
    body = m.canary(NAME, NS, interval="1s", **kwargs)
    if annotations:
        body["metadata"]["annotations"] = dict(annotations)
    return body


def set_image(
    h: Harness, image: str = NEW_IMAGE, *, annotations: dict[str, str] | None = None
) -> None:
    def change(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        template = new["spec"]["template"]
        template["spec"]["containers"][0]["image"] = image
        if annotations:
            template.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
        return new

    h.patch("Deployment", NS, NAME, change)


def status(h: Harness, name: str = NAME) -> JSON:
    return dict(h.canary(NS, name).get("status") or {})


def audit(h: Harness, action: str) -> list[JSON]:
    return [a for a in status(h).get("audit") or [] if a.get("action") == action]
