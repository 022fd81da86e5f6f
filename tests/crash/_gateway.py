"""A progressive canary through a router (one step to 30, then promotion) that can crash the
controller after any of its writes, with traffic invariants checked on every store change:

- the router object never gives the canary more than `maxWeight`;
- the traffic model (`ensign.traffic`), reading the router object as the data plane would,
  never sends a plain request's share (or a mirror) to a Service with zero ready pods;
- with session affinity (Istio): the canary cookie never changes within the run (a restart
  replays the same cookie), and no sticky route outlives it;
- plus the seed's store invariants (the apex serves, the primary is never scaled to zero).

`ROUTERS` holds the runs: Gateway API, and Istio with session affinity.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ensign.localcluster.store import Store, WatchEvent
from ensign.testing import manifests as m
from ensign.testing.crash import CrashHarness, ReadyOnHold, Write
from ensign.testing.invariants import StoreMonitor
from ensign.traffic import Request, Routing, route_http, route_virtualservice, starved
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
STEP = 30
INTERVAL = "100ms"
AFFINITY = {"cookieName": "flagger-cookie", "maxAge": 60}


@dataclass(frozen=True)
class Router:
    """One router's crash run: its provider, the object it writes, how the data plane reads
    it, and the analysis fields it adds."""

    provider: str
    api_version: str
    kind: str
    plural: str
    route: Callable[[list[dict[str, Any]], Request], Routing]
    analysis: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.split("/")[1]


ROUTERS = {
    "gatewayapi": Router(
        "gatewayapi:v1",
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        "httproutes",
        lambda objs, req: route_http(objs, req),
    ),
    "istio": Router(
        "istio",
        "networking.istio.io/v1beta1",
        "VirtualService",
        "virtualservices",
        lambda objs, req: route_virtualservice(objs, req),
        {"sessionAffinity": AFFINITY},
    ),
}


def canary_weights(router: Router, obj: dict[str, Any]) -> list[int]:
    """Every canary weight the object holds (backendRefs or route destinations)."""
    if router.kind == "HTTPRoute":
        return [
            int(ref.get("weight", 1))
            for rule in obj["spec"].get("rules") or []
            for ref in rule.get("backendRefs") or []
            if ref["name"].endswith("-canary") and len(rule.get("backendRefs") or []) == 2
        ]
    return [
        int(d.get("weight", 0))
        for route in obj["spec"].get("http") or []
        if not _cookie_match(route)  # sticky routes send a cookie's holders, not a share
        for d in route.get("route") or []
        if d["destination"]["host"].endswith("-canary") and len(route.get("route") or []) == 2
    ]


def _cookie_match(route: dict[str, Any]) -> bool:
    return any("cookie" in str(m.get("headers", {})).lower() for m in route.get("match") or [])


def sticky_routes(obj: dict[str, Any]) -> int:
    """Routes that send a cookie's holders to the canary (VirtualService)."""
    return sum(
        1
        for route in obj["spec"].get("http") or []
        if _cookie_match(route)
        and any(
            d["destination"]["host"].endswith("-canary") and d.get("weight") == 100
            for d in route.get("route") or []
        )
    )


@dataclass
class TrafficMonitor:
    """Checks the traffic invariants after every change of a route, Service or Deployment."""

    store: Store
    router: Router
    violations: list[str] = field(default_factory=list)
    checks: int = 0
    weights: list[int] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)

    def start(self) -> TrafficMonitor:
        watched = (
            ("apps", "deployments"),
            ("", "services"),
            ("flagger.app", "canaries"),
            (self.router.group, self.router.plural),
        )
        self._subs = [self.store.subscribe(key, self._on_event) for key in watched]
        return self

    def stop(self) -> None:
        for sub in self._subs:
            self.store.unsubscribe(sub)

    def _items(self, group: str, version: str, plural: str) -> list[dict[str, Any]]:
        items, _, _ = self.store.list(self.store.type_for(group, version, plural), NS)
        return items

    def _on_event(self, event: WatchEvent) -> None:
        self.checks += 1
        for canary in self._items("flagger.app", "v1beta1", "canaries"):
            cookie = (canary.get("status") or {}).get("sessionAffinityCookie")
            if cookie and cookie not in self.cookies:
                self.cookies.append(cookie)
        routes = self._items(self.router.group, self.router.version, self.router.plural)
        if not routes:
            return
        for weight in canary_weights(self.router, routes[0]):
            if not self.weights or self.weights[-1] != weight:
                self.weights.append(weight)
            if weight > MAX_WEIGHT:
                self.violations.append(f"canary weight {weight} > maxWeight")
        host = "app.example.com" if self.router.kind == "HTTPRoute" else "podinfo"
        routing = self.router.route(routes, Request(host=host, path="/"))
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
    cookies: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def run_gateway(crash_after: int | None = None, router: str = "gatewayapi") -> GatewayRun:
    result = GatewayRun(crash_after=crash_after)
    chosen = ROUTERS[router]
    with capture_errors() as errors:
        async with CrashHarness(
            crash_after=crash_after,
            ready_delay=READY_DELAY,
            min_interval=0.1,
            gateway_api=chosen.kind == "HTTPRoute",
            istio=chosen.kind == "VirtualService",
        ) as h:
            store_monitor = StoreMonitor(h.cluster.store).start()
            traffic = TrafficMonitor(h.cluster.store, chosen).start()
            holds = ReadyOnHold(h.cluster.store, h.cluster.workloads).start()
            supervisor = (
                asyncio.create_task(h.restart_after_crash()) if crash_after is not None else None
            )
            try:
                canary = m.routed(m.canary(NAME, NS, interval=INTERVAL), chosen.provider)
                canary = m.with_analysis(
                    canary,
                    iterations=None,
                    stepWeight=STEP,
                    maxWeight=MAX_WEIGHT,
                    **chosen.analysis,
                )
                await h.apply(m.namespace(NS), m.deployment(NAME, NS, image=OLD_IMAGE), canary)
                h.cluster.workloads.release(NS, NAME)  # the user's rollout: no hold of Ensign's
                await h.wait_phase(NS, NAME, "Initialized", timeout=STEP_TIMEOUT)
                await _settle(h)
                h.set_image(NS, NAME, NEW_IMAGE)
                await h.wait_phase(NS, NAME, "Succeeded", timeout=STEP_TIMEOUT)
                if supervisor is not None:
                    result.crash_write = await asyncio.wait_for(supervisor, STEP_TIMEOUT)
                    await h.first_tick_done(STEP_TIMEOUT)
                    await h.wait_phase(NS, NAME, "Succeeded", timeout=STEP_TIMEOUT)
                await _settle(h)
            finally:
                if supervisor is not None and not supervisor.done():
                    supervisor.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await supervisor
                store_monitor.stop()
                traffic.stop()
                holds.stop()
            result.final = final_state(h)
            route = h.get_object(chosen.api_version, chosen.kind, NS, NAME) or {}
            spec = json.dumps(route.get("spec"), sort_keys=True)
            for cookie in traffic.cookies:  # derived from the canary's uid, new every run
                spec = spec.replace(cookie.split("=", 1)[1], "<cookie>")
            result.final["route.spec"] = json.loads(spec)
            if chosen.kind == "VirtualService" and sticky_routes(route):
                result.problems.append("a sticky route outlived the run")
            result.writes = list(h.writes)
            result.restarts = h.restarts
            result.weights = traffic.weights
            result.cookies = traffic.cookies
            result.problems += (
                [f"store: {v}" for v in store_monitor.messages()]
                + [f"traffic: {v}" for v in traffic.violations]
                + [f"log: {e}" for e in errors.messages()]
            )
    return result
