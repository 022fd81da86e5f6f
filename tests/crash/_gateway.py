"""A progressive canary on Gateway API (10 → 30, then promotion) that can crash the
controller after any of its writes, with traffic invariants checked on every store change:

- the HTTPRoute never gives the canary more than `maxWeight`;
- the traffic model (`ensign.traffic`), reading the HTTPRoute as a gateway would, never sends
  a plain request's share (or a mirror) to a Service with zero ready pods;
- plus the seed's store invariants (the apex serves, the primary is never scaled to zero).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from ensign.localcluster.store import Store, WatchEvent
from ensign.testing import manifests as m
from ensign.testing.crash import CrashHarness, Write
from ensign.testing.invariants import StoreMonitor
from ensign.traffic import Request, route_http, starved
from tests.crash._seed import (
    NAME,
    NEW_IMAGE,
    NS,
    OLD_IMAGE,
    READY_DELAY,
    STEP_TIMEOUT,
    _settle,
    capture_errors,
    final_state,
)

MAX_WEIGHT = 30
STEP = 15
INTERVAL = "100ms"
ROUTES = ("gateway.networking.k8s.io", "httproutes")
WATCHED = (("apps", "deployments"), ("", "services"), ROUTES)


@dataclass
class TrafficMonitor:
    """Checks the traffic invariants after every change of a route, Service or Deployment."""

    store: Store
    violations: list[str] = field(default_factory=list)
    checks: int = 0
    weights: list[int] = field(default_factory=list)

    def start(self) -> TrafficMonitor:
        self._subs = [self.store.subscribe(key, self._on_event) for key in WATCHED]
        return self

    def stop(self) -> None:
        for sub in self._subs:
            self.store.unsubscribe(sub)

    def _items(self, group: str, version: str, plural: str) -> list[dict[str, Any]]:
        items, _, _ = self.store.list(self.store.type_for(group, version, plural), NS)
        return items

    def _on_event(self, event: WatchEvent) -> None:
        self.checks += 1
        routes = self._items("gateway.networking.k8s.io", "v1", "httproutes")
        if not routes:
            return
        for rule in routes[0]["spec"]["rules"]:
            for ref in rule.get("backendRefs") or []:
                if ref["name"].endswith("-canary"):
                    weight = int(ref.get("weight", 1))
                    if not self.weights or self.weights[-1] != weight:
                        self.weights.append(weight)
                    if weight > MAX_WEIGHT:
                        self.violations.append(f"canary weight {weight} > maxWeight")
        routing = route_http(routes, Request(host="app.example.com", path="/"))
        services = self._items("", "v1", "services")
        workloads = self._items("apps", "v1", "deployments")
        for service in starved(routing, services, workloads):
            self.violations.append(f"traffic sent to {service}, which has no ready pod")


@dataclass
class GatewayRun:
    crash_after: int | None
    writes: list[Write] = field(default_factory=list)
    crash_write: Write | None = None
    restarts: int = 0
    final: dict[str, Any] = field(default_factory=dict)
    weights: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def run_gateway(crash_after: int | None = None) -> GatewayRun:
    result = GatewayRun(crash_after=crash_after)
    with capture_errors() as errors:
        async with CrashHarness(
            crash_after=crash_after, ready_delay=READY_DELAY, min_interval=0.1, gateway_api=True
        ) as h:
            store_monitor = StoreMonitor(h.cluster.store).start()
            traffic = TrafficMonitor(h.cluster.store).start()
            supervisor = (
                asyncio.create_task(h.restart_after_crash()) if crash_after is not None else None
            )
            try:
                canary = m.routed(m.canary(NAME, NS, interval=INTERVAL), "gatewayapi:v1")
                canary = m.with_analysis(
                    canary, iterations=None, stepWeight=STEP, maxWeight=MAX_WEIGHT
                )
                await h.apply(m.namespace(NS), m.deployment(NAME, NS, image=OLD_IMAGE), canary)
                await h.wait_phase(NS, NAME, "Initialized", timeout=STEP_TIMEOUT)
                await _settle(h)
                h.set_image(NS, NAME, NEW_IMAGE)
                await h.wait_phase(NS, NAME, "Succeeded", timeout=STEP_TIMEOUT)
                if supervisor is not None:
                    result.crash_write = await asyncio.wait_for(supervisor, STEP_TIMEOUT)
                    await h.wait_phase(NS, NAME, "Succeeded", timeout=STEP_TIMEOUT)
                await _settle(h)
            finally:
                if supervisor is not None and not supervisor.done():
                    supervisor.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await supervisor
                store_monitor.stop()
                traffic.stop()
            result.final = final_state(h)
            route = h.get_object("gateway.networking.k8s.io/v1", "HTTPRoute", NS, NAME)
            result.final["route.rules"] = (route or {}).get("spec", {}).get("rules")
            result.writes = list(h.writes)
            result.restarts = h.restarts
            result.weights = traffic.weights
            result.problems = (
                [f"store: {v}" for v in store_monitor.messages()]
                + [f"traffic: {v}" for v in traffic.violations]
                + [f"log: {e}" for e in errors.messages()]
            )
    return result
