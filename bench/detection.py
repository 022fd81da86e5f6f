"""Change-detection latency and idle cost of the controller, with many canaries.

Three processes, so that no two of them share an event loop:
  - the local cluster (`ensign localcluster --ready-delay 0 --crds`);
  - the controller (this file re-run with `--controller-child`: `Controller` with
    `Settings(serve_http=False, min_interval=10)` over `LightkubeApi`, answering stats
    requests as JSON lines on stdin/stdout);
  - the load generator and observer (this process), talking raw HTTP with keep-alive.

Scenario: N blue/green canaries (provider kubernetes, analysis interval "60s", iterations 10),
each with its own Deployment, in one namespace. Every canary is created with
`skipAnalysis: true` and goes through Initialized; one image change per canary then takes it
through Progressing to Succeeded without analysis (a real promotion by the controller, in
well under a second instead of iterations x interval), and `skipAnalysis` is set back to
false. With `--steady initialized` that promotion is skipped and Initialized is the idle
steady state (Flagger treats both alike for change detection).

Figures:
  - bring-up: time to create the objects, to reach all Initialized, then all Succeeded;
  - idle cost: the controller's API requests (`LightkubeApi.requests`, every verb, watch
    re-establishments included) over an idle window once settled, per canary per minute.
    The window defaults to 70s: every canary loop was last woken while settling and next
    ticks one analysis interval (60s) later, so a shorter window would miss that tick;
  - detection: latency from a `set image` (strategic merge patch over HTTP, like kubectl)
    to the canary Deployment scaled up (spec.replicas > 0 seen on a watch), p50/p99 over
    M changes on M different canaries, sequential by default (`--change-concurrency`);
  - RSS of the controller (and of the cluster).
Prints the figures and appends them to bench/RESULTS.md with the command that made them.

    .venv/bin/python bench/detection.py [--canaries 1000] [--changes 100] [--idle-seconds 70]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from ensign.runtime.app import WATCHED, Settings
from ensign.testing import manifests

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
NS = "detect"
IMAGE = "ghcr.io/stefanprodan/podinfo"
CANARIES = "/apis/flagger.app/v1beta1/namespaces/{ns}/canaries"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{ns}/deployments"
JSON_HEADERS = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}

JSON = dict[str, Any]


def name_of(i: int) -> str:
    return f"app-{i:04d}"


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    rank = max(math.ceil(q * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------- controller child process


async def controller_child(kubeconfig: Path, election: bool = True) -> None:
    """Run the controller; answer `stats` (and `memory`) lines with JSON; stop on `stop`, EOF
    or a signal. Shared by bench/detection.py and bench/scale.py."""
    import logging

    from lightkube import KubeConfig

    from ensign.kube.client import LightkubeApi
    from ensign.runtime.app import Controller, Settings

    class CountingApi(LightkubeApi):
        """Counts the leader election's Lease requests apart: they are per process."""

        lease_requests = 0

        async def get(self, kind: Any, name: str, *, namespace: str | None = None) -> JSON:
            self.lease_requests += kind.kind == "Lease"
            return await super().get(kind, name, namespace=namespace)

        async def create(self, kind: Any, obj: Any) -> JSON:
            self.lease_requests += kind.kind == "Lease"
            return await super().create(kind, obj)

        async def replace(self, kind: Any, obj: Any) -> JSON:
            self.lease_requests += kind.kind == "Lease"
            return await super().replace(kind, obj)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    api = CountingApi.from_kubeconfig(KubeConfig.from_file(str(kubeconfig)))
    settings = Settings(serve_http=False, min_interval=10, leader_election=election)
    controller = Controller(api, settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(body: JSON) -> None:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()

    def stats() -> JSON:
        informers = controller.caches.by_kind.values()
        return {
            "requests": dict(api.requests),
            "lease_requests": api.lease_requests,
            "leader": controller.is_leader,
            "ticks": controller.reconciler.ticks,
            "status_writes": controller.reconciler.status_writes,
            "wakeups": controller.scheduler.wakeups,
            "loops": len(controller.scheduler.loops),
            "watch_restarts": sum(i.restarts for i in informers),
            "relists": sum(i.relists for i in informers),
        }

    def memory() -> JSON:
        """Bytes held by each cache's objects (every dict, list, tuple, bytes and string
        reached, once: the packed objects and the mapping that holds them)."""
        seen: set[int] = set()
        sizes: JSON = {}
        for kind, informer in controller.caches.by_kind.items():
            total, stack = 0, [informer._packed]
            while stack:
                obj = stack.pop()
                if id(obj) in seen:
                    continue
                seen.add(id(obj))
                total += sys.getsizeof(obj)
                if isinstance(obj, dict):
                    stack += [*obj.keys(), *obj.values()]
                elif isinstance(obj, list | tuple):
                    stack += obj
            sizes[kind] = total
        return {"cache_bytes": sizes}

    async def commands() -> None:
        while not stop.is_set():
            line = await reader.readline()
            command = line.decode().strip()
            if not line or command == "stop":
                stop.set()
            elif command == "stats":
                reply(stats())
            elif command == "memory":
                reply(memory())

    await controller.start()
    reply({"started": True, **stats()})
    serving = asyncio.create_task(commands())
    try:
        await stop.wait()
    finally:
        started = time.perf_counter()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        stopping = asyncio.create_task(controller.stop())
        done, _ = await asyncio.wait({stopping}, timeout=10)
        if not done:  # a diagnosis for the log: where is the stop stuck?
            print("controller.stop() still running after 10s; tasks:", file=sys.stderr)
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.print_stack(limit=6, file=sys.stderr)
        await asyncio.wait_for(stopping, 20)
        await api.close()
        print(f"controller stopped in {time.perf_counter() - started:.2f}s", file=sys.stderr)


class ControllerProcess:
    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, kubeconfig: Path, log_path: Path, wait_s: float) -> ControllerProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SELF),
            "--controller-child",
            str(kubeconfig),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_path.open("w"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self = cls(proc, log_path)
        first = await self._read(wait_s)
        if not first.get("started"):
            raise RuntimeError(f"controller did not start: {first}")
        return self

    async def _read(self, wait_s: float) -> JSON:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), wait_s)
        if not line:
            raise RuntimeError(f"controller exited; see {self.log_path}")
        return dict(json.loads(line))

    async def stats(self) -> JSON:
        assert self.proc.stdin is not None
        async with self._lock:
            self.proc.stdin.write(b"stats\n")
            await self.proc.stdin.drain()
            return await self._read(10.0)

    async def stop(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.write(b"stop\n")
                await self.proc.stdin.drain()
        await stop_process(self.proc)


async def stop_process(proc: asyncio.subprocess.Process, grace: float = 20.0) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def start_cluster(
    kubeconfig: Path, wait_s: float, *extra_args: str
) -> tuple[asyncio.subprocess.Process, str]:
    """The local cluster in its own process (`extra_args` go to `ensign localcluster`)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ensign",
        "localcluster",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        "--ready-delay",
        "0",
        "--crds",
        *extra_args,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), wait_s)
    except BaseException:
        await stop_process(proc)
        raise
    found = re.search(r"http://127\.0\.0\.1:\d+", line.decode())
    if not found:
        await stop_process(proc)
        raise RuntimeError(f"unexpected output from the local cluster: {line!r}")
    return proc, found.group(0)


# ---------------------------------------------------------------------- watching


class Mirror:
    """List-then-watch one collection over HTTP, resuming after the stream ends."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        on_change: Callable[[str, JSON], None],
    ) -> None:
        self.session = session
        self.url = url
        self.on_change = on_change
        self.objects: dict[str, JSON] = {}
        self.synced = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _seen(self, obj: JSON) -> None:
        name = str(obj["metadata"]["name"])
        self.objects[name] = obj
        self.on_change(name, obj)

    async def _list(self) -> str:
        async with self.session.get(self.url) as resp:
            resp.raise_for_status()
            body = await resp.json()
        for obj in body.get("items") or []:
            self._seen(obj)
        self.synced.set()
        return str(body["metadata"]["resourceVersion"])

    async def _run(self) -> None:
        rv = ""
        while True:
            try:
                if not rv:
                    rv = await self._list()
                params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "3600"}
                timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
                async with self.session.get(self.url, params=params, timeout=timeout) as resp:
                    resp.raise_for_status()
                    async for line in resp.content:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":
                            rv = ""  # too old: list again
                            break
                        rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                        if event.get("type") in ("ADDED", "MODIFIED"):
                            self._seen(obj)
                        elif event.get("type") == "DELETED":
                            self.objects.pop(str(obj["metadata"]["name"]), None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log(f"watch of {self.url} failed ({exc!r}); resuming")
                await asyncio.sleep(0.2)


def phase(obj: JSON) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def replicas(obj: JSON) -> int:
    return int((obj.get("spec") or {}).get("replicas") or 0)


async def wait_until(
    predicate: Callable[[], bool], *, within: float, what: Callable[[], str]
) -> float:
    start = time.perf_counter()
    next_report = start + 10
    while not predicate():
        now = time.perf_counter()
        if now - start > within:
            raise TimeoutError(f"timed out after {within:.0f}s waiting for {what()}")
        if now >= next_report:
            log(f"  ... {what()}")
            next_report = now + 10
        await asyncio.sleep(0.05)
    return time.perf_counter() - start


async def run_many(total: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> float:
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await call(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: JSON,
    headers: dict[str, str],
    expect: int,
) -> None:
    async with session.request(method, url, data=json.dumps(body), headers=headers) as resp:
        text = await resp.text()
        if resp.status != expect:
            raise RuntimeError(f"{method} {url}: {resp.status} {text[:300]}")


def image_patch(tag: str) -> JSON:
    container = {"name": "podinfod", "image": f"{IMAGE}:{tag}"}
    return {"spec": {"template": {"spec": {"containers": [container]}}}}


# ---------------------------------------------------------------------- the run


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    keys = sorted(set(after) | set(before))
    return {
        k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)
    }


async def bench(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], list[str]]:
    n, changes = args.canaries, args.changes
    kubeconfig = workdir / "kubeconfig"
    figures: dict[str, Any] = {"canaries": n}
    notes: list[str] = []
    cluster, base = await start_cluster(kubeconfig, args.timeout)
    controller: ControllerProcess | None = None
    connector = aiohttp.TCPConnector(limit=args.concurrency + 8)
    session = aiohttp.ClientSession(base, connector=connector, read_bufsize=1 << 20)
    mirrors: list[Mirror] = []
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
        mirrors.append(canaries)
        canaries.start()
        await asyncio.wait_for(canaries.synced.wait(), args.timeout)

        def count(wanted: str) -> int:
            return sum(1 for o in canaries.objects.values() if phase(o) == wanted)

        def phases() -> str:
            tally: dict[str, int] = {}
            for o in canaries.objects.values():
                tally[phase(o) or "-"] = tally.get(phase(o) or "-", 0) + 1
            return ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()))

        # ---- bring-up: Deployments and Canaries, then Initialized
        promote = args.steady == "succeeded"

        async def create(i: int) -> None:
            name = name_of(i)
            deployment = manifests.deployment(name, NS, image=f"{IMAGE}:6.7.0", replicas=1)
            canary = manifests.canary(
                name, NS, interval="60s", iterations=10, threshold=5, skip_analysis=promote
            )
            await send(session, "POST", DEPLOYMENTS.format(ns=NS), deployment, JSON_HEADERS, 201)
            await send(session, "POST", CANARIES.format(ns=NS), canary, JSON_HEADERS, 201)

        log(f"creating {n} Deployments and {n} Canaries (concurrency {args.concurrency})")
        t0 = time.perf_counter()
        cpu0 = cpu_s(controller.proc.pid), cpu_s(cluster.pid)
        figures["create_s"] = await run_many(n, args.concurrency, create)
        await wait_until(
            lambda: count("Initialized") == n,
            within=args.timeout,
            what=lambda: f"all Initialized ({phases()})",
        )
        figures["to_initialized_s"] = time.perf_counter() - t0
        log(f"all {n} Initialized after {figures['to_initialized_s']:.1f}s")
        target = "Initialized"

        # ---- optional promotion to Succeeded (skipAnalysis), then skipAnalysis back to false
        if promote:
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
            target = "Succeeded"
        figures["bring_up_total_s"] = time.perf_counter() - t0
        figures["controller_cpu_s_bring_up"] = cpu_s(controller.proc.pid) - cpu0[0]
        figures["cluster_cpu_s_bring_up"] = cpu_s(cluster.pid) - cpu0[1]
        notes.append(
            f"steady state: {target}"
            + (
                " (created with skipAnalysis: true → Initialized; one image change each →"
                " Succeeded without analysis; then skipAnalysis: false)"
                if promote
                else " (first revision only; no promotion)"
            )
        )

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
        if count(target) != n:
            raise RuntimeError(f"not all canaries are {target}: {phases()}")
        figures["controller_rss_mib_idle"] = rss_mib(controller.proc.pid)

        # ---- idle window
        log(f"idle window of {args.idle_seconds:.0f}s")
        before = await controller.stats()
        cpu1 = cpu_s(controller.proc.pid)
        await asyncio.sleep(args.idle_seconds)
        after = await controller.stats()
        figures["controller_cpu_s_idle_window"] = cpu_s(controller.proc.pid) - cpu1
        idle = diff(after["requests"], before["requests"])
        idle_total = sum(idle.values())
        per_minute = 60.0 / args.idle_seconds
        figures["idle_window_s"] = args.idle_seconds
        figures["idle_requests_in_window"] = idle_total
        figures["idle_requests_by_verb"] = ", ".join(f"{k}={v}" for k, v in idle.items()) or "none"
        figures["idle_requests_per_canary_per_min"] = idle_total * per_minute / n
        figures["idle_ticks_per_canary_per_min"] = (
            (after["ticks"] - before["ticks"]) * per_minute / n
        )
        figures["idle_wakeups_in_window"] = after["wakeups"] - before["wakeups"]
        if count(target) != n:
            notes.append(f"phases moved during the idle window: {phases()}")

        # ---- detection: set image → canary Deployment scaled up, seen on a watch
        pending: dict[str, asyncio.Future[float]] = {}

        def deployment_changed(name: str, obj: JSON) -> None:
            future = pending.get(name)
            if future is not None and replicas(obj) > 0 and not future.done():
                future.set_result(time.perf_counter())

        deployments = Mirror(session, DEPLOYMENTS.format(ns=NS), deployment_changed)
        mirrors.append(deployments)
        deployments.start()
        await asyncio.wait_for(deployments.synced.wait(), args.timeout)
        loop = asyncio.get_running_loop()
        latencies: list[float] = []
        misses = 0

        async def change(k: int) -> None:
            nonlocal misses
            name = name_of(k * n // changes)
            if replicas(deployments.objects[name]) != 0:
                raise RuntimeError(f"{name} is already scaled up before its change")
            future: asyncio.Future[float] = loop.create_future()
            pending[name] = future
            url = f"{DEPLOYMENTS.format(ns=NS)}/{name}"
            start = time.perf_counter()
            await send(session, "PATCH", url, image_patch(f"7.0.{k}"), STRATEGIC, 200)
            try:
                seen = await asyncio.wait_for(future, args.change_timeout)
                latencies.append(seen - start)
            except TimeoutError:
                misses += 1
                latencies.append(args.change_timeout)
            finally:
                pending.pop(name, None)

        log(f"{changes} image changes (concurrency {args.change_concurrency})")
        before = await controller.stats()
        elapsed = await run_many(changes, args.change_concurrency, change)
        after = await controller.stats()
        latencies.sort()
        figures["changes"] = changes
        figures["change_concurrency"] = args.change_concurrency
        figures["detect_p50_ms"] = statistics.median(latencies) * 1000
        figures["detect_p99_ms"] = percentile(latencies, 0.99) * 1000
        figures["detect_max_ms"] = latencies[-1] * 1000
        figures["detect_misses"] = misses
        figures["changes_per_s"] = changes / elapsed
        figures["requests_during_changes"] = ", ".join(
            f"{k}={v}" for k, v in diff(after["requests"], before["requests"]).items()
        )
        figures["controller_rss_mib_final"] = rss_mib(controller.proc.pid)
        figures["controller_rss_mib_peak"] = rss_mib(controller.proc.pid, "VmHWM")
        figures["cluster_rss_mib"] = rss_mib(cluster.pid)
        figures["requests_whole_run"] = ", ".join(
            f"{k}={v}" for k, v in sorted(after["requests"].items())
        )
        figures["watch_restarts_whole_run"] = after["watch_restarts"]
        watch_timeout = Settings().watch_timeout
        figures["watch_reestablish_per_canary_per_min_computed"] = (
            len(WATCHED) * 60 / watch_timeout / n
        )
        notes.append(
            f"watches end after watch_timeout={watch_timeout}s, so {len(WATCHED)} watch"
            f" re-establishments per {watch_timeout}s in all, whatever the number of canaries"
            " (the _computed figure; a window shorter than that may not see one)"
        )
        notes.append(
            f"idle window {args.idle_seconds:.0f}s, extrapolated x{per_minute:.2f} to a minute;"
            f" changes {'sequential' if args.change_concurrency == 1 else f'{args.change_concurrency} at a time'},"
            f" each on a different canary, latency from sending the PATCH to the watch event"
            f" with spec.replicas > 0; target p99 < 1000 ms, idle requests 0"
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
            if controller.proc.returncode != 0:
                kept = Path(tempfile.gettempdir()) / "ensign-detection-controller.log"
                with contextlib.suppress(OSError):
                    kept.write_text(controller.log_path.read_text())
                log(f"controller exited with {controller.proc.returncode}; its log: {kept}")
        await stop_process(cluster)
    return figures, notes


def shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


THREE_PROCESSES = "cluster, controller and load generator in three processes"


def report(
    script: str,
    figures: dict[str, Any],
    notes: list[str],
    *,
    write: bool,
    title: str,
    processes: str = THREE_PROCESSES,
) -> None:
    """Print a bench's figures and (unless `write` is False) append them to RESULTS.md with
    the command that made them; shared by detection.py, routing.py and slow_probes.py."""
    width = max(len(k) for k in figures)
    for note in notes:
        print(f"# {note}")
    for key, value in figures.items():
        print(f"{key:<{width}}  {shown(value)}")
    if write:
        command = " ".join([f"python bench/{script}", *sys.argv[1:]])
        write_results(command, figures, notes, title=title, processes=processes)


def write_results(
    command: str,
    figures: dict[str, Any],
    notes: list[str],
    *,
    title: str = "detection",
    processes: str = THREE_PROCESSES,
) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    if not path.exists():
        path.write_text(
            "# Benchmark results\n\nEach section: the command, when, and its figures.\n"
        )
    lines = [
        "",
        f"## {title} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}` ({processes}; {os.cpu_count()} cores)",
        "",
        *(f"- {note}" for note in notes),
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {key} | {shown(value)} |" for key, value in figures.items()),
    ]
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=70.0,
        help="Idle window, extrapolated to a minute; keep it above the 60s analysis interval",
    )
    parser.add_argument(
        "--steady",
        choices=("succeeded", "initialized"),
        default="succeeded",
        help="Idle steady state before the changes",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP calls at bring-up")
    parser.add_argument("--change-concurrency", type=int, default=1, help="Changes in flight")
    parser.add_argument("--change-timeout", type=float, default=10.0)
    parser.add_argument("--quiet", type=float, default=3.0, help="Seconds without requests")
    parser.add_argument("--settle-timeout", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="Per bring-up stage")
    parser.add_argument("--no-write", action="store_true", help="Do not append to RESULTS.md")
    parser.add_argument("--controller-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.controller_child is not None:
        asyncio.run(controller_child(args.controller_child))
        print("controller process exiting", file=sys.stderr)
        return
    if not 0 < args.changes <= args.canaries:
        parser.error("--changes must be between 1 and --canaries (one change per canary)")
    with tempfile.TemporaryDirectory(prefix="ensign-detection-") as tmp:
        figures, notes = asyncio.run(bench(args, Path(tmp)))
    report("detection.py", figures, notes, write=not args.no_write, title="detection")


if __name__ == "__main__":
    main()
