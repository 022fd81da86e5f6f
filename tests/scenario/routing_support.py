"""Helpers for the traffic scenarios: the router objects as the cluster holds them.

The weight is read from the router object directly (the NGINX canary Ingress annotation, the
HTTPRoute backendRef weights), not through the router code under test, and a recorder
samples it with the canary's status while a scenario runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ensign.testing.harness import Harness
from ensign.traffic import live_split

JSON = dict[str, Any]
NS = "test"
NGINX = "nginx.ingress.kubernetes.io"
PROVIDERS = ("nginx", "gatewayapi:v1", "istio")
ROUTER_TYPES = {
    "gatewayapi:v1": ("gateway.networking.k8s.io", "v1", "httproutes"),
    "istio": ("networking.istio.io", "v1beta1", "virtualservices"),
}


def harness(provider: str, **kwargs: Any) -> Harness:
    """A harness whose local cluster serves the provider's CRDs."""
    return Harness(
        gateway_api=provider.startswith("gatewayapi"), istio=provider == "istio", **kwargs
    )


def router_object(h: Harness, provider: str, name: str = "podinfo") -> JSON | None:
    if provider == "nginx":
        return h.get("Ingress", NS, f"{name}-canary")
    try:
        return h.cluster.store.get(h.type(*ROUTER_TYPES[provider]), NS, name)
    except Exception:
        return None


def router_weight(h: Harness, provider: str) -> int | None:
    """The canary weight the router object says (None before it exists)."""
    obj = router_object(h, provider)
    if obj is None:
        return None
    if provider == "nginx":
        annotations = obj["metadata"].get("annotations") or {}
        if f"{NGINX}/canary-by-header" in annotations or f"{NGINX}/canary-by-cookie" in annotations:
            return 100
        return int(annotations.get(f"{NGINX}/canary-weight", "0"))
    if provider == "istio":
        routes = obj["spec"].get("http") or obj["spec"].get("tcp") or []
        weighted = [
            r
            for r in routes
            if any(d["destination"]["host"].endswith("-canary") for d in r.get("route") or [])
            and len(r.get("route") or []) == 2
        ]
        dests = weighted[-1]["route"]
        return int(
            next(d.get("weight", 0) for d in dests if d["destination"]["host"].endswith("-canary"))
        )
    weighted = [r for r in obj["spec"]["rules"] if len(r.get("backendRefs") or []) == 2]
    refs = weighted[-1]["backendRefs"]
    return int(next(ref["weight"] for ref in refs if ref["name"].endswith("-canary")))


def model_weight(h: Harness, provider: str) -> float | None:
    """The canary's share of the traffic the model computes from the router objects, for
    the requests the canary targets (the matching ones under A/B, else a plain one)."""
    canary = h.canary(NS, "podinfo")
    store = h.cluster.store
    objects: list[JSON] = []
    for group, version, plural in (
        ("", "v1", "services"),
        ("apps", "v1", "deployments"),
        ("networking.k8s.io", "v1", "ingresses"),
    ):
        items, _, _ = store.list(h.type(group, version, plural), NS)
        objects += items
    route = router_object(h, provider) if provider != "nginx" else None  # HTTPRoute or VS
    if route is not None:
        objects.append(route)
    live = live_split(canary, *objects)
    split = live.matched if live.matched is not None else live.plain
    return split.canary


@dataclass
class Sample:
    phase: str
    status_weight: int
    router_weight: int | None
    primary_image: str
    model_weight: float | None = None  # the canary's share the traffic model computes


@dataclass
class Recorder:
    """Samples (phase, status.canaryWeight, router weight) every few milliseconds."""

    h: Harness
    provider: str
    samples: list[Sample] = field(default_factory=list)

    def sample(self) -> None:
        status = self.h.canary(NS, "podinfo").get("status") or {}
        primary = self.h.get("Deployment", NS, "podinfo-primary")
        image = primary["spec"]["template"]["spec"]["containers"][0]["image"] if primary else ""
        now = Sample(
            phase=str(status.get("phase", "")),
            status_weight=int(status.get("canaryWeight") or 0),
            router_weight=router_weight(self.h, self.provider),
            primary_image=image,
            model_weight=model_weight(self.h, self.provider),
        )
        if not self.samples or self.samples[-1] != now:
            self.samples.append(now)

    def weights(self) -> list[int]:
        """The distinct router weights seen, in order (consecutive repeats dropped)."""
        out: list[int] = []
        for s in self.samples:
            if s.router_weight is not None and (not out or out[-1] != s.router_weight):
                out.append(s.router_weight)
        return out

    def modelled(self) -> list[int]:
        """The router weights the traffic model confirmed at the same moment, in order."""
        out: list[int] = []
        for s in self.samples:
            if (
                s.router_weight is not None
                and s.model_weight is not None
                and round(s.model_weight) == s.router_weight
                and (not out or out[-1] != s.router_weight)
            ):
                out.append(s.router_weight)
        return out

    def agreed(self) -> list[int]:
        """Router weights the status also showed at the same moment, in order."""
        out: list[int] = []
        for s in self.samples:
            if s.router_weight == s.status_weight and (not out or out[-1] != s.status_weight):
                out.append(s.status_weight)
        return out


@contextlib.asynccontextmanager
async def recording(
    h: Harness, provider: str, *, on_sample: Callable[[Recorder], None] | None = None
) -> AsyncIterator[Recorder]:
    recorder = Recorder(h, provider)

    async def run() -> None:
        while True:
            recorder.sample()
            if on_sample is not None:
                on_sample(recorder)
            await asyncio.sleep(0.005)

    task = asyncio.create_task(run())
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        recorder.sample()
