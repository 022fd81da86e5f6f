"""Routing through the Gateway API router with many canaries: detection, step latency, idle cost.

Same three processes as bench/detection.py (whose helpers and controller child this imports):
  - the local cluster (`ensign localcluster --ready-delay 0 --crds --gateway-api`: the
    Gateway API CRDs are served and the simulated gateway controller accepts every route);
  - the controller (detection.py re-run with `--controller-child`: `Controller` with
    `Settings(serve_http=False, min_interval=10)` over `LightkubeApi`);
  - the load generator and observer (this process), talking raw HTTP with keep-alive.

Scenario: N progressive canaries (`provider: gatewayapi:v1`, `service.gatewayRefs` naming a
Gateway, analysis interval 10s (the controller's floor), stepWeight 10, maxWeight 50, no
metrics and no webhooks), each with its own Deployment, in one namespace. Each canary gets an
HTTPRoute `<name>` written by Ensign. They are created with `skipAnalysis: true`, go through
Initialized, one image change each takes them to Succeeded without analysis, then
`skipAnalysis` is set back to false (as detection.py does).

Figures:
  - bring-up: to all Initialized (every HTTPRoute written at 100/0), then to all Succeeded;
  - idle cost: the controller's API requests over an idle window once settled (the request
    counters quiet for 3 s), per canary per minute (target 0). The window defaults to 30 s,
    three analysis intervals;
  - detection: from a `set image` (strategic merge PATCH) to the canary Deployment scaled up
    (spec.replicas > 0 seen on a watch), p50/p99 over M changes on M different canaries,
    sequential (`--changes`, default 100);
  - step latency: those M canaries then progress through 10, 20, 30, 40, 50 % (and are
    promoted). For every step after the first, "step due" is the moment this process saw the
    previous weight on an HTTPRoute watch event plus the analysis interval (10 s); the
    latency is from then to the HTTPRoute watch event carrying the new canary weight. The
    controller's timer actually starts a little later than the previous route write (after
    the tick's status write), so this is an upper bound on the controller's own delay; it
    includes the tick (the canary Deployment's readiness, the status write), the HTTPRoute
    PUT and the watch delivery to this process. `status.nextAnalysisAt` is written with
    one-second resolution, too coarse to use. The first step (0 → 10 %) follows detection
    and the canary's readiness, not a timer, and is left out; so is the promotion;
  - RSS of the controller (idle, and high-water mark), and of the cluster.
Prints the figures and appends them to bench/RESULTS.md with the command that made them.

    .venv/bin/python bench/routing.py [--canaries 1000] [--changes 100] [--idle-seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from detection import (
    CANARIES,
    DEPLOYMENTS,
    IMAGE,
    JSON_HEADERS,
    MERGE,
    STRATEGIC,
    ControllerProcess,
    Mirror,
    cpu_s,
    diff,
    image_patch,
    log,
    percentile,
    phase,
    replicas,
    report,
    rss_mib,
    run_many,
    send,
    start_cluster,
    stop_process,
    wait_until,
)
from ensign.testing import manifests

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
NS = "routing"
HTTPROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes"
INTERVAL_S = 10.0
STEP, MAX = 10, 50
JSON = dict[str, Any]


def name_of(i: int) -> str:
    return f"app-{i:04d}"


def gateway_canary(name: str, *, skip_analysis: bool) -> JSON:
    body = manifests.canary(name, NS, interval=f"{INTERVAL_S:.0f}s", skip_analysis=skip_analysis)
    spec = body["spec"]
    spec["provider"] = "gatewayapi:v1"
    spec["service"]["gatewayRefs"] = [{"name": "public", "namespace": "gateways"}]
    analysis = spec["analysis"]
    analysis.pop("iterations", None)
    analysis.update(threshold=5, stepWeight=STEP, maxWeight=MAX)
    return body


def canary_weight(route: JSON) -> int | None:
    """The canary backend's weight on the route's weighted rule (None when absent)."""
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if str(ref.get("name", "")).endswith("-canary"):
                return int(ref.get("weight", 1))
    return None


async def bench(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], list[str]]:
    n, changes = args.canaries, args.changes
    kubeconfig = workdir / "kubeconfig"
    figures: dict[str, Any] = {"canaries": n}
    notes: list[str] = []
    cluster, base = await start_cluster(kubeconfig, args.timeout, "--gateway-api")
    controller: ControllerProcess | None = None
    connector = aiohttp.TCPConnector(limit=args.concurrency + 8)
    session = aiohttp.ClientSession(base, connector=connector, read_bufsize=1 << 20)
    mirrors: list[Mirror] = []
    # route name → [(seen at, canary weight)], one entry per change of weight
    weights: dict[str, list[tuple[float, int]]] = {}

    def route_changed(name: str, obj: JSON) -> None:
        weight = canary_weight(obj)
        if weight is None:
            return
        seen = weights.setdefault(name, [])
        if not seen or seen[-1][1] != weight:
            seen.append((time.perf_counter(), weight))

    try:
        log(f"local cluster at {base} (pid {cluster.pid})")
        controller = await ControllerProcess.start(
            kubeconfig, workdir / "controller.log", args.timeout
        )
        log(f"controller started (pid {controller.proc.pid})")
        await send(
            session, "POST", "/api/v1/namespaces", manifests.namespace(NS), JSON_HEADERS, 201
        )
        canaries = Mirror(session, CANARIES.format(ns=NS), lambda _n, _o: None)
        routes = Mirror(session, HTTPROUTES.format(ns=NS), route_changed)
        deployments_seen: dict[str, asyncio.Future[float]] = {}

        def deployment_changed(name: str, obj: JSON) -> None:
            future = deployments_seen.get(name)
            if future is not None and replicas(obj) > 0 and not future.done():
                future.set_result(time.perf_counter())

        deployments = Mirror(session, DEPLOYMENTS.format(ns=NS), deployment_changed)
        for mirror in (canaries, routes, deployments):
            mirrors.append(mirror)
            mirror.start()
            await asyncio.wait_for(mirror.synced.wait(), args.timeout)

        def count(wanted: str) -> int:
            return sum(1 for o in canaries.objects.values() if phase(o) == wanted)

        def phases() -> str:
            tally: dict[str, int] = {}
            for o in canaries.objects.values():
                tally[phase(o) or "-"] = tally.get(phase(o) or "-", 0) + 1
            return ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()))

        # ---- bring-up
        async def create(i: int) -> None:
            name = name_of(i)
            deployment = manifests.deployment(name, NS, image=f"{IMAGE}:6.7.0", replicas=1)
            canary = gateway_canary(name, skip_analysis=True)
            await send(session, "POST", DEPLOYMENTS.format(ns=NS), deployment, JSON_HEADERS, 201)
            await send(session, "POST", CANARIES.format(ns=NS), canary, JSON_HEADERS, 201)

        log(f"creating {n} Deployments and {n} gatewayapi:v1 Canaries")
        t0 = time.perf_counter()
        figures["create_s"] = await run_many(n, args.concurrency, create)
        await wait_until(
            lambda: count("Initialized") == n and len(routes.objects) == n,
            within=args.timeout,
            what=lambda: f"all Initialized with a route ({phases()}; {len(routes.objects)} routes)",
        )
        figures["to_initialized_s"] = time.perf_counter() - t0
        log(f"all {n} Initialized after {figures['to_initialized_s']:.1f}s")

        t1 = time.perf_counter()

        async def new_image(i: int) -> None:
            url = f"{DEPLOYMENTS.format(ns=NS)}/{name_of(i)}"
            await send(session, "PATCH", url, image_patch("6.7.1"), STRATEGIC, 200)

        await run_many(n, args.concurrency, new_image)
        await wait_until(
            lambda: count("Succeeded") == n,
            within=args.timeout,
            what=lambda: f"all Succeeded ({phases()})",
        )
        figures["to_succeeded_s"] = time.perf_counter() - t1

        async def analyse_again(i: int) -> None:
            url = f"{CANARIES.format(ns=NS)}/{name_of(i)}"
            await send(session, "PATCH", url, {"spec": {"skipAnalysis": False}}, MERGE, 200)

        await run_many(n, args.concurrency, analyse_again)
        log(f"all {n} Succeeded after {figures['to_succeeded_s']:.1f}s more")
        wrong = [k for k, v in routes.objects.items() if canary_weight(v) != 0]
        if wrong:
            notes.append(f"{len(wrong)} routes not at 100/0 once Succeeded, e.g. {wrong[0]}")

        # ---- settle, then the idle window
        t2 = time.perf_counter()
        last = await controller.stats()
        quiet_since = time.perf_counter()
        while time.perf_counter() - quiet_since < args.quiet:
            if time.perf_counter() - t2 > args.settle_timeout:
                notes.append(f"not settled after {args.settle_timeout:.0f}s (counters kept moving)")
                break
            await asyncio.sleep(0.5)
            now = await controller.stats()
            if now["requests"] != last["requests"]:
                quiet_since = time.perf_counter()
            last = now
        figures["settle_s"] = time.perf_counter() - t2 - args.quiet
        figures["controller_rss_mib_idle"] = rss_mib(controller.proc.pid)
        log(f"idle window of {args.idle_seconds:.0f}s")
        before = await controller.stats()
        cpu1 = cpu_s(controller.proc.pid)
        await asyncio.sleep(args.idle_seconds)
        after = await controller.stats()
        idle = diff(after["requests"], before["requests"])
        per_minute = 60.0 / args.idle_seconds
        figures["idle_window_s"] = args.idle_seconds
        leases = after["lease_requests"] - before["lease_requests"]
        figures["idle_requests_by_verb"] = ", ".join(f"{k}={v}" for k, v in idle.items()) or "none"
        figures["idle_lease_requests"] = leases
        figures["idle_requests_per_canary_per_min"] = (sum(idle.values()) - leases) * per_minute / n
        figures["idle_controller_cpu_s_per_min"] = (cpu_s(controller.proc.pid) - cpu1) * per_minute

        # ---- detection: set image → canary Deployment scaled up
        loop = asyncio.get_running_loop()
        latencies: list[float] = []
        misses = 0
        changed: list[str] = []

        async def change(k: int) -> None:
            nonlocal misses
            name = name_of(k * n // changes)
            if replicas(deployments.objects[name]) != 0:
                raise RuntimeError(f"{name} is already scaled up before its change")
            future: asyncio.Future[float] = loop.create_future()
            deployments_seen[name] = future
            changed.append(name)
            url = f"{DEPLOYMENTS.format(ns=NS)}/{name}"
            start = time.perf_counter()
            await send(session, "PATCH", url, image_patch(f"7.0.{k}"), STRATEGIC, 200)
            try:
                latencies.append(await asyncio.wait_for(future, args.change_timeout) - start)
            except TimeoutError:
                misses += 1
                latencies.append(args.change_timeout)
            finally:
                deployments_seen.pop(name, None)

        log(f"{changes} image changes, sequential")
        marks = {
            name_of(k * n // changes): len(weights.get(name_of(k * n // changes), []))
            for k in range(changes)
        }
        before = await controller.stats()
        await run_many(changes, 1, change)
        latencies.sort()
        figures["changes"] = changes
        figures["detect_p50_ms"] = statistics.median(latencies) * 1000
        figures["detect_p99_ms"] = percentile(latencies, 0.99) * 1000
        figures["detect_misses"] = misses

        # ---- steps: wait until every changed canary has been promoted
        await wait_until(
            lambda: all(
                phase(canaries.objects[name]) == "Succeeded"
                and any(w == MAX for _, w in weights[name][marks[name] :])
                for name in changed
            ),
            within=args.timeout,
            what=lambda: f"the {changes} changed canaries promoted ({phases()})",
        )
        after = await controller.stats()
        steps: list[float] = []
        for name in changed:
            run = weights[name][marks[name] :]
            for (seen_prev, w_prev), (seen, w) in itertools.pairwise(run):
                if w_prev >= STEP and w == w_prev + STEP and w <= MAX:
                    steps.append(seen - (seen_prev + INTERVAL_S))
        steps.sort()
        figures["steps_measured"] = len(steps)
        figures["step_p50_ms"] = statistics.median(steps) * 1000
        figures["step_p99_ms"] = percentile(steps, 0.99) * 1000
        figures["step_min_ms"] = steps[0] * 1000
        figures["step_max_ms"] = steps[-1] * 1000
        figures["requests_during_changes_and_steps"] = ", ".join(
            f"{k}={v}" for k, v in diff(after["requests"], before["requests"]).items()
        )
        figures["controller_rss_mib_final"] = rss_mib(controller.proc.pid)
        figures["controller_rss_mib_peak"] = rss_mib(controller.proc.pid, "VmHWM")
        figures["cluster_rss_mib"] = rss_mib(cluster.pid)
        notes.append(
            f"canaries: provider gatewayapi:v1, gatewayRefs to one Gateway, interval"
            f" {INTERVAL_S:.0f}s, stepWeight {STEP}, maxWeight {MAX}, no metrics; steady state"
            " Succeeded (skipAnalysis: true → Initialized, one image change → Succeeded, then"
            " skipAnalysis: false)"
        )
        notes.append(
            f"idle window {args.idle_seconds:.0f}s, extrapolated x{per_minute:.2f} to a minute;"
            " the leader election's Lease requests (per process) are left out of the per-canary"
            " figure;"
            " detection = PATCH sent → canary Deployment spec.replicas > 0 on a watch,"
            f" {changes} changes in sequence on different canaries"
        )
        notes.append(
            "step latency = HTTPRoute watch event with weight w+10 minus (the watch event with"
            f" weight w + the {INTERVAL_S:.0f}s interval), steps 10→20 … 40→50 of the"
            f" {changes} changed canaries, which progress concurrently (an upper bound: the"
            " controller's timer starts after its status write, later than the route event)"
        )
    except BaseException:
        if controller is not None:
            log(f"controller log: {controller.log_path}")
            with contextlib.suppress(OSError):
                tail = controller.log_path.read_text().splitlines()[-20:]
                print("\n".join(tail), file=sys.stderr)
        raise
    finally:
        for mirror in mirrors:
            await mirror.stop()
        await session.close()
        if controller is not None:
            await controller.stop()
        await stop_process(cluster)
    return figures, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP calls at bring-up")
    parser.add_argument("--change-timeout", type=float, default=10.0)
    parser.add_argument("--quiet", type=float, default=3.0, help="Seconds without requests")
    parser.add_argument("--settle-timeout", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="Per stage")
    parser.add_argument("--no-write", action="store_true", help="Do not append to RESULTS.md")
    args = parser.parse_args()
    if not 0 < args.changes <= args.canaries:
        parser.error("--changes must be between 1 and --canaries (one change per canary)")
    with tempfile.TemporaryDirectory(prefix="ensign-routing-") as tmp:
        figures, notes = asyncio.run(bench(args, Path(tmp)))
    report("routing.py", figures, notes, write=not args.no_write, title="routing (Gateway API)")


if __name__ == "__main__":
    main()
