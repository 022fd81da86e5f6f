"""Change detection while slow confirm-rollout gates are pending, with many canaries.

Same three processes as bench/detection.py (whose helpers and controller child this imports):
  - the local cluster (`ensign localcluster --ready-delay 0 --crds`);
  - the controller (detection.py re-run with `--controller-child`: `Controller` with
    `Settings(serve_http=False, min_interval=10)` over `LightkubeApi`, 16 tick slots);
  - the load generator and observer (this process), which also serves the gate: an aiohttp
    server on 127.0.0.1 that answers every POST with 200 after `--gate-delay` seconds and
    records when each call started and ended.

Scenario: N ordinary canaries (`app-NNNN`, provider kubernetes, analysis interval 60s,
iterations 10, no webhooks, as detection.py) and G gated canaries (`gate-NNNN`, the same plus
one `confirm-rollout` webhook pointing at the gate, with a per-attempt `timeout` well above the
delay so that the slow answer is not a timeout), each with its own Deployment, in one
namespace. Bring-up as detection.py: created with `skipAnalysis: true` → Initialized, one
image change each → Succeeded (the gate answers at once during bring-up), then
`skipAnalysis: false`, then the controller's request counters quiet for 3 s.

Measurement: the gate's delay is set to `--gate-delay`, the image of all G gated canaries is
changed, and once the gate has received all G confirm-rollout calls (each gated canary's tick
now waits on it, outside its tick slot), M ordinary canaries are changed one by one. Detection
= PATCH sent → that canary's Deployment seen with spec.replicas > 0 on a watch (as
detection.py); p50/p99 over the M changes. The gate calls in flight are sampled at every PATCH
and every detection (min/max), and the calls pending over the whole measurement are counted
(started before its first PATCH, not answered before its last detection).
Prints the figures and appends them to bench/RESULTS.md with the command that made them.

    .venv/bin/python bench/slow_probes.py [--canaries 1000] [--gated 50] [--changes 100]
        [--gate-delay 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from detection import (
    CANARIES,
    DEPLOYMENTS,
    IMAGE,
    JSON_HEADERS,
    MERGE,
    STRATEGIC,
    ControllerProcess,
    Mirror,
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
NS = "slowprobes"
JSON = dict[str, Any]


def ordinary(i: int) -> str:
    return f"app-{i:04d}"


def gated(i: int) -> str:
    return f"gate-{i:04d}"


@dataclass
class Call:
    canary: str
    started: float
    ended: float | None = None


@dataclass
class Gate:
    """A confirm-rollout webhook that answers 200 after `delay` seconds."""

    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    in_flight: int = 0
    runner: web.AppRunner | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = Call(str(body.get("name", "")), time.perf_counter())
        self.calls.append(call)
        self.in_flight += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
            call.ended = time.perf_counter()
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/gate", self.handle)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/gate"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def canary_body(name: str, gate: Gate | None, timeout_s: float) -> JSON:
    hooks = None
    if gate is not None:
        hook = manifests.hook("approve", "confirm-rollout", gate.url, timeout=f"{timeout_s:.0f}s")
        hooks = [hook]
    return manifests.canary(
        name, NS, interval="60s", iterations=10, threshold=5, webhooks=hooks, skip_analysis=True
    )


async def bench(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], list[str]]:
    n, g, changes = args.canaries, args.gated, args.changes
    kubeconfig = workdir / "kubeconfig"
    figures: dict[str, Any] = {"canaries": n, "gated_canaries": g, "gate_delay_s": args.gate_delay}
    notes: list[str] = []
    gate = Gate()
    await gate.start()
    hook_timeout = args.gate_delay + 30
    cluster, base = await start_cluster(kubeconfig, args.timeout)
    controller: ControllerProcess | None = None
    connector = aiohttp.TCPConnector(limit=args.concurrency + 8)
    session = aiohttp.ClientSession(base, connector=connector, read_bufsize=1 << 20)
    mirrors: list[Mirror] = []
    pending: dict[str, asyncio.Future[float]] = {}

    def deployment_changed(name: str, obj: JSON) -> None:
        future = pending.get(name)
        if future is not None and replicas(obj) > 0 and not future.done():
            future.set_result(time.perf_counter())

    names = [ordinary(i) for i in range(n)] + [gated(i) for i in range(g)]
    try:
        log(f"local cluster at {base} (pid {cluster.pid}); gate at {gate.url}")
        controller = await ControllerProcess.start(
            kubeconfig, workdir / "controller.log", args.timeout
        )
        log(f"controller started (pid {controller.proc.pid})")
        await send(
            session, "POST", "/api/v1/namespaces", manifests.namespace(NS), JSON_HEADERS, 201
        )
        canaries = Mirror(session, CANARIES.format(ns=NS), lambda _n, _o: None)
        deployments = Mirror(session, DEPLOYMENTS.format(ns=NS), deployment_changed)
        for mirror in (canaries, deployments):
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

        # ---- bring-up (the gate answers at once): Initialized, then Succeeded
        async def create(i: int) -> None:
            name = names[i]
            deployment = manifests.deployment(name, NS, image=f"{IMAGE}:6.7.0", replicas=1)
            body = canary_body(name, gate if i >= n else None, hook_timeout)
            await send(session, "POST", DEPLOYMENTS.format(ns=NS), deployment, JSON_HEADERS, 201)
            await send(session, "POST", CANARIES.format(ns=NS), body, JSON_HEADERS, 201)

        total = n + g
        log(f"creating {n} ordinary and {g} gated canaries with their Deployments")
        t0 = time.perf_counter()
        await run_many(total, args.concurrency, create)
        await wait_until(
            lambda: count("Initialized") == total,
            within=args.timeout,
            what=lambda: f"all Initialized ({phases()})",
        )
        figures["to_initialized_s"] = time.perf_counter() - t0

        async def new_image(i: int, tag: str) -> None:
            url = f"{DEPLOYMENTS.format(ns=NS)}/{names[i]}"
            await send(session, "PATCH", url, image_patch(tag), STRATEGIC, 200)

        async def analyse_again(i: int) -> None:
            url = f"{CANARIES.format(ns=NS)}/{names[i]}"
            await send(session, "PATCH", url, {"spec": {"skipAnalysis": False}}, MERGE, 200)

        t1 = time.perf_counter()
        await run_many(total, args.concurrency, lambda i: new_image(i, "6.7.1"))
        await wait_until(
            lambda: count("Succeeded") == total,
            within=args.timeout,
            what=lambda: f"all Succeeded ({phases()})",
        )
        figures["to_succeeded_s"] = time.perf_counter() - t1
        await run_many(total, args.concurrency, analyse_again)
        figures["gate_calls_bring_up"] = len(gate.calls)
        log(f"all {total} Succeeded; {len(gate.calls)} gate calls so far")

        # ---- settle: request counters unchanged for `quiet` seconds
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
        if count("Succeeded") != total:
            raise RuntimeError(f"not all canaries are Succeeded: {phases()}")

        # ---- the gated canaries: a new image each, then wait for all G gate calls
        gate.delay = args.gate_delay
        first_call = len(gate.calls)
        t3 = time.perf_counter()
        await run_many(g, args.concurrency, lambda i: new_image(n + i, "8.0.0"))
        await wait_until(
            lambda: len(gate.calls) - first_call >= g,
            within=60,
            what=lambda: f"{g} gate calls ({len(gate.calls) - first_call} so far)",
        )
        figures["gated_changes_to_all_gate_calls_s"] = time.perf_counter() - t3
        figures["gate_in_flight_before_changes"] = gate.in_flight
        log(f"{len(gate.calls) - first_call} gate calls received, {gate.in_flight} in flight")

        # ---- detection on M ordinary canaries, one by one, while the gates are pending
        loop = asyncio.get_running_loop()
        latencies: list[float] = []
        samples: list[int] = []
        misses = 0

        async def change(k: int) -> None:
            nonlocal misses
            name = ordinary(k * n // changes)
            if replicas(deployments.objects[name]) != 0:
                raise RuntimeError(f"{name} is already scaled up before its change")
            future: asyncio.Future[float] = loop.create_future()
            pending[name] = future
            url = f"{DEPLOYMENTS.format(ns=NS)}/{name}"
            samples.append(gate.in_flight)
            start = time.perf_counter()
            await send(session, "PATCH", url, image_patch(f"7.0.{k}"), STRATEGIC, 200)
            try:
                latencies.append(await asyncio.wait_for(future, args.change_timeout) - start)
            except TimeoutError:
                misses += 1
                latencies.append(args.change_timeout)
            finally:
                pending.pop(name, None)
                samples.append(gate.in_flight)

        log(f"{changes} image changes on ordinary canaries, sequential")
        before = await controller.stats()
        m0 = time.perf_counter()
        await run_many(changes, 1, change)
        m1 = time.perf_counter()
        after = await controller.stats()
        latencies.sort()
        measured = gate.calls[first_call:]
        figures["changes"] = changes
        figures["measurement_s"] = m1 - m0
        figures["detect_p50_ms"] = statistics.median(latencies) * 1000
        figures["detect_p99_ms"] = percentile(latencies, 0.99) * 1000
        figures["detect_max_ms"] = latencies[-1] * 1000
        figures["detect_misses"] = misses
        figures["gate_in_flight_min_during_changes"] = min(samples)
        figures["gate_in_flight_max_during_changes"] = max(samples)
        figures["gate_calls_pending_whole_measurement"] = sum(
            1 for c in measured if c.started <= m0 and (c.ended is None or c.ended >= m1)
        )
        figures["requests_during_changes"] = ", ".join(
            f"{k}={v}" for k, v in diff(after["requests"], before["requests"]).items()
        )

        # ---- the gates answer: every gated canary should then scale up its canary
        await wait_until(
            lambda: all(replicas(deployments.objects[gated(i)]) > 0 for i in range(g)),
            within=args.gate_delay + args.change_timeout + 30,
            what=lambda: f"gated canaries scaled up after their gate ({gate.in_flight} pending)",
        )
        gate_times = sorted(c.ended - c.started for c in measured if c.ended is not None)
        figures["gate_call_s_min"] = gate_times[0]
        figures["gate_call_s_max"] = gate_times[-1]
        figures["gate_calls_after_bring_up"] = len(measured)
        figures["gated_scaled_up_after_gate_s"] = time.perf_counter() - t3
        figures["controller_rss_mib_peak"] = rss_mib(controller.proc.pid, "VmHWM")
        notes.append(
            f"{n} ordinary canaries and {g} gated ones (one confirm-rollout webhook at a local"
            f" aiohttp server answering 200 after {args.gate_delay:g} s, hook timeout"
            f" {hook_timeout:.0f}s); provider kubernetes, interval 60s; steady state Succeeded"
            " (skipAnalysis: true → Initialized, one image change → Succeeded with the gate"
            " answering at once, then skipAnalysis: false)"
        )
        notes.append(
            f"the {g} gated canaries get a new image and, once the gate has received all {g}"
            f" calls, {changes} ordinary canaries are changed one by one; detection = PATCH sent"
            " → canary Deployment spec.replicas > 0 on a watch; gate calls in flight sampled at"
            " every PATCH and detection; 'pending whole measurement' = gate calls started before"
            " the first PATCH and answered after the last detection; target p99 < 1000 ms"
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
        await gate.stop()
    return figures, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=1000, help="Ordinary canaries")
    parser.add_argument("--gated", type=int, default=50, help="Canaries with the slow gate")
    parser.add_argument("--changes", type=int, default=100, help="Ordinary canaries changed")
    parser.add_argument("--gate-delay", type=float, default=10.0, help="Seconds before 200")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP calls at bring-up")
    parser.add_argument("--change-timeout", type=float, default=10.0)
    parser.add_argument("--quiet", type=float, default=3.0, help="Seconds without requests")
    parser.add_argument("--settle-timeout", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="Per bring-up stage")
    parser.add_argument("--no-write", action="store_true", help="Do not append to RESULTS.md")
    args = parser.parse_args()
    if not 0 < args.changes <= args.canaries:
        parser.error("--changes must be between 1 and --canaries (one change per canary)")
    if args.gated < 1:
        parser.error("--gated must be at least 1")
    with tempfile.TemporaryDirectory(prefix="ensign-slow-probes-") as tmp:
        figures, notes = asyncio.run(bench(args, Path(tmp)))
    report(
        "slow_probes.py",
        figures,
        notes,
        write=not args.no_write,
        title="slow probes",
        processes="cluster, controller and load generator + gate in three processes",
    )


if __name__ == "__main__":
    main()
