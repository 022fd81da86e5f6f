"""Scale of one controller process: N canaries brought to Succeeded, then a rolling wave.

Same three processes as bench/detection.py (whose helpers this imports), started afresh for
each N so that every row starts from an empty cluster and a new controller:
  - the local cluster (`ensign localcluster --ready-delay 0 --crds`);
  - the controller (this file re-run with `--controller-child`: `Controller` with
    `Settings(serve_http=False, min_interval=10)`, leader election as `--leader-election`
    says (on by default, as `ensign controller`), over `LightkubeApi`, answering stats
    requests as JSON lines on stdin/stdout; Lease requests are counted apart);
  - the load generator and observer (this process), talking raw HTTP with keep-alive.

For each N (`--sizes`, default 100,1000,5000):
  1. bring-up: N Deployments and N blue/green Canaries (provider kubernetes, analysis
     interval 60s, iterations 10) created with `skipAnalysis: true`; time until all are
     Initialized (from the first create); one image change each takes them to Succeeded
     (a real promotion, without analysis, as detection.py does);
  0. start-up: the controller's RSS once it is running (caches synced, leader) with no canary;
  2. idle: once the request counters have been quiet for 3 s, an idle window
     (`--idle-seconds`, default 70 so that it covers one 60 s analysis interval): controller
     CPU seconds and API requests, extrapolated to a minute; RSS;
  3. the wave: new revisions for 10% of the canaries at a time (`--wave-fraction`), batch
     after batch until every canary has had one. All image PATCHes of a batch are sent at
     once (`--concurrency` HTTP connections); the next batch starts when every canary of
     the batch is Succeeded on the new image. `skipAnalysis` stays true, so each canary is
     promoted as soon as its canary Deployment is ready; with analysis a promotion would
     take interval x iterations (the 10 s interval floor makes even iterations 1 a 10-20 s
     affair per batch) and would measure the analysis, not the controller.
     Detection latency: from sending a canary's PATCH to its canary Deployment scaled up
     (spec.replicas > 0, seen on a watch), p50 and p99 over all N changes. CPU seconds and
     API requests during the wave, per minute.
Writes one table row per N to bench/RESULTS.md, with the command that made it.

    .venv/bin/python bench/scale.py [--sizes 100,1000,5000] [--idle-seconds 70] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import math
import os
import signal
import statistics
import sys
import sysconfig
import tempfile
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def placeholder(name: str) -> None:
    """Put a module in sys.modules that is never loaded: any use of it raises."""

    def absent(attribute: str) -> Any:
        raise RuntimeError(f"{name}.{attribute}: not loaded in the controller child")

    module = types.ModuleType(name, "placeholder: the bench's, not the controller's")
    module.__getattr__ = absent  # type: ignore[method-assign]
    sys.modules[name] = module


if "--controller-child" in sys.argv:
    # The child is the controller and its RSS is the figure: the load generator's aiohttp and
    # the test kit's manifests, which the module tops below import but only the parent uses,
    # must not count (aiohttp alone is about 6 MiB with its dependencies).
    for _name in ("aiohttp", "ensign.testing.manifests"):
        placeholder(_name)

import aiohttp  # noqa: E402

from detection import (  # noqa: E402
    CANARIES,
    DEPLOYMENTS,
    IMAGE,
    JSON_HEADERS,
    STRATEGIC,
    ControllerProcess,
    Mirror,
    controller_child,
    cpu_s,
    diff,
    image_patch,
    log,
    percentile,
    phase,
    replicas,
    rss_mib,
    run_many,
    send,
    start_cluster,
    stop_process,
    wait_until,
)
from ensign.testing import manifests  # noqa: E402

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
NS = "scale"
JSON = dict[str, Any]
TARGETS = (
    "RSS < 300 MiB (issue #15: idle RSS <= 150 MiB; <= 50 MiB at 100 canaries), idle CPU"
    " < 3 s/min, 0 API requests per idle canary, detection p99 < 1 s"
)


def name_of(i: int) -> str:
    return f"app-{i:05d}"


# --------------------------------------------------------------- controller child process


def reset_high_water_mark(pid: int) -> None:
    """Linux: writing 5 to clear_refs resets the process's VmHWM to its current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def child_env(
    workdir: Path, tracemalloc_to: Path | None = None, mallocstats: bool = False
) -> dict[str, str]:
    """The controller child's environment: bytecode read from (and written to) a cache of
    its own, as an installed operator reads the .pyc files pip compiled at install time (this
    checkout's venv has none and PYTHONDONTWRITEBYTECODE may be set: compiling every module
    at start-up leaves about 10 MiB of the compiler's garbage in the heap)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"PYTHONUNBUFFERED": "1", "PYTHONPYCACHEPREFIX": str(workdir / "bytecode")}
    if tracemalloc_to is not None:
        env["ENSIGN_BENCH_TRACEMALLOC"] = str(tracemalloc_to)
    if mallocstats:
        env["ENSIGN_BENCH_MALLOCSTATS"] = "1"
    return env


async def warm_bytecode(workdir: Path) -> None:
    """Fill the child's bytecode cache as pip does at install time: the standard library, the
    venv's packages and src/ensign, compiled once per bench run (about 30 s on 2 cores)."""
    paths = sysconfig.get_paths()
    compiled = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "compileall",
        "-q",
        "-j0",
        "-x",
        r"[/\\](test|tests|idlelib|lib2to3|tkinter|turtledemo|ensurepip|site-packages)[/\\]",
        paths["stdlib"],
        env=child_env(workdir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await compiled.wait()
    compiled = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "compileall",
        "-q",
        "-j0",
        paths["purelib"],
        str(ROOT / "src" / "ensign"),
        env=child_env(workdir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await compiled.wait()


async def start_controller(
    kubeconfig: Path, log_path: Path, wait_s: float, election: bool, env: dict[str, str]
) -> ControllerProcess:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SELF),
        "--controller-child",
        str(kubeconfig),
        *(["--leader-election"] if election else ["--no-leader-election"]),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=log_path.open("w"),
        env=env,
    )
    controller = ControllerProcess(proc, log_path)
    try:
        first = await controller._read(wait_s)
    except BaseException:
        await controller.stop()
        raise
    if not first.get("started"):
        await controller.stop()
        raise RuntimeError(f"controller did not start: {first}")
    return controller


# ---------------------------------------------------------------------- one size


def image_of(obj: JSON) -> str:
    containers = obj["spec"]["template"]["spec"]["containers"]
    return str(containers[0]["image"])


async def settle(controller: ControllerProcess, quiet: float, limit: float) -> float:
    """Seconds until the controller's request counters stop moving for `quiet` seconds."""
    start = time.perf_counter()
    last = await controller.stats()
    quiet_since = time.perf_counter()
    while time.perf_counter() - quiet_since < quiet:
        if time.perf_counter() - start > limit:
            raise TimeoutError(f"request counters still moving after {limit:.0f}s")
        await asyncio.sleep(0.5)
        now = await controller.stats()
        if now["requests"] != last["requests"]:
            quiet_since = time.perf_counter()
        last = now
    return time.perf_counter() - start - quiet


def non_lease(stats: JSON) -> int:
    return sum(stats["requests"].values()) - int(stats["lease_requests"])


async def one_size(n: int, args: argparse.Namespace, workdir: Path) -> JSON:
    row: JSON = {"canaries": n}
    kubeconfig = workdir / f"kubeconfig-{n}"
    cluster, base = await start_cluster(kubeconfig, args.timeout)
    controller: ControllerProcess | None = None
    connector = aiohttp.TCPConnector(limit=args.concurrency + 8)
    session = aiohttp.ClientSession(base, connector=connector, read_bufsize=1 << 20)
    mirrors: list[Mirror] = []
    log_path = workdir / f"controller-{n}.log"
    try:
        body = manifests.namespace(NS)  # kube-system (the Lease's) is there from the start
        await send(session, "POST", "/api/v1/namespaces", body, JSON_HEADERS, 201)
        if not (workdir / "bytecode").exists():
            await warm_bytecode(workdir)
        traced = workdir / f"tracemalloc-{n}.txt" if args.tracemalloc else None
        env = child_env(workdir, traced, args.mallocstats)
        controller = await start_controller(kubeconfig, log_path, args.timeout, args.election, env)
        pid = controller.proc.pid
        log(f"N={n}: cluster {base} (pid {cluster.pid}), controller pid {pid}")
        await asyncio.sleep(1.0)  # let the start-up settle (first Lease renewals, gc)
        row["rss_start_mib"] = rss_mib(pid)

        pending: dict[str, tuple[float, asyncio.Future[float]]] = {}

        def deployment_changed(name: str, obj: JSON) -> None:
            entry = pending.get(name)
            if entry is not None and replicas(obj) > 0 and not entry[1].done():
                entry[1].set_result(time.perf_counter())

        canaries = Mirror(session, CANARIES.format(ns=NS), lambda _n, _o: None)
        deployments = Mirror(session, DEPLOYMENTS.format(ns=NS), deployment_changed)
        mirrors += [canaries, deployments]
        for mirror in mirrors:
            mirror.start()
            await asyncio.wait_for(mirror.synced.wait(), args.timeout)

        def count(wanted: str, names: list[str] | None = None) -> int:
            objs = canaries.objects.values() if names is None else map(canaries.objects.get, names)
            return sum(1 for o in objs if o is not None and phase(o) == wanted)

        def phases() -> str:
            tally: dict[str, int] = {}
            for o in canaries.objects.values():
                tally[phase(o) or "-"] = tally.get(phase(o) or "-", 0) + 1
            return ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()))

        # ---- bring-up: create, Initialized, one promotion each → Succeeded
        async def create(i: int) -> None:
            name = name_of(i)
            deployment = manifests.deployment(name, NS, image=f"{IMAGE}:6.7.0", replicas=1)
            canary = manifests.canary(
                name, NS, interval="60s", iterations=10, threshold=5, skip_analysis=True
            )
            await send(session, "POST", DEPLOYMENTS.format(ns=NS), deployment, JSON_HEADERS, 201)
            await send(session, "POST", CANARIES.format(ns=NS), canary, JSON_HEADERS, 201)

        t0 = time.perf_counter()
        row["create_s"] = await run_many(n, args.concurrency, create)
        await wait_until(
            lambda: count("Initialized") == n,
            within=args.timeout,
            what=lambda: f"all Initialized ({phases()})",
        )
        row["to_initialized_s"] = time.perf_counter() - t0
        log(f"N={n}: all Initialized after {row['to_initialized_s']:.1f}s")

        async def first_revision(i: int) -> None:
            url = f"{DEPLOYMENTS.format(ns=NS)}/{name_of(i)}"
            await send(session, "PATCH", url, image_patch("6.7.1"), STRATEGIC, 200)

        t1 = time.perf_counter()
        await run_many(n, args.concurrency, first_revision)
        await wait_until(
            lambda: count("Succeeded") == n,
            within=args.timeout,
            what=lambda: f"all Succeeded ({phases()})",
        )
        row["to_succeeded_s"] = time.perf_counter() - t1
        log(f"N={n}: all Succeeded after {row['to_succeeded_s']:.1f}s more")

        # ---- idle
        row["settle_s"] = await settle(controller, args.quiet, args.settle_timeout)
        row["rss_idle_mib"] = rss_mib(pid)
        row["bytes_per_canary"] = (row["rss_idle_mib"] - row["rss_start_mib"]) * 2**20 / n
        if args.mallocstats:  # diagnosis only: pymalloc's arenas at idle, in the child's log
            controller.proc.send_signal(signal.SIGUSR2)
            await asyncio.sleep(2.0)
            summary = [
                line
                for line in log_path.read_text().splitlines()
                if line.startswith(
                    ("# arenas", "# bytes in", "# unused pools", "Total ", "# glibc")
                )
                or " arenas * " in line
            ]
            log(f"N={n}: pymalloc at idle (RSS {row['rss_idle_mib']:.0f} MiB):")
            print("\n".join(summary), file=sys.stderr, flush=True)
        log(f"N={n}: idle window of {args.idle_seconds:.0f}s")
        before, cpu_before = await controller.stats(), cpu_s(pid)
        await asyncio.sleep(args.idle_seconds)
        after, cpu_after = await controller.stats(), cpu_s(pid)
        per_minute = 60.0 / args.idle_seconds
        row["cpu_s_per_min_idle"] = (cpu_after - cpu_before) * per_minute
        row["req_per_canary_min_idle"] = (non_lease(after) - non_lease(before)) * per_minute / n
        row["idle_requests"] = ", ".join(
            f"{k}={v}" for k, v in diff(after["requests"], before["requests"]).items()
        )
        row["lease_req_per_min_idle"] = (
            after["lease_requests"] - before["lease_requests"]
        ) * per_minute
        row["ticks_per_canary_min_idle"] = (after["ticks"] - before["ticks"]) * per_minute / n
        assert controller.proc.stdin is not None
        hwm_before_probe = rss_mib(pid, "VmHWM")
        async with controller._lock:  # one-off: the caches' share of the RSS
            controller.proc.stdin.write(b"memory\n")
            await controller.proc.stdin.drain()
            sizes = (await controller._read(60.0))["cache_bytes"]
        # The deep-size walk above runs in the controller process and is the bench's, not the
        # controller's (+67 MiB at 5,000 canaries): reset the high-water mark after it.
        reset_high_water_mark(pid)
        if traced is not None:  # diagnosis only: where the idle controller's memory is
            controller.proc.send_signal(signal.SIGUSR1)
            await wait_until(traced.exists, within=120, what=lambda: "tracemalloc dump")
            await asyncio.sleep(1.0)
            log(f"N={n}: tracemalloc statistics in {traced}:\n{traced.read_text()}")
        row["cache_mib"] = sum(sizes.values()) / 2**20
        row["cache_by_kind_mib"] = ", ".join(
            f"{k}={v / 2**20:.0f}" for k, v in sizes.items() if v > 2**20
        )
        if count("Succeeded") != n:
            raise RuntimeError(f"phases moved during the idle window: {phases()}")

        # ---- the wave: 10% at a time, every canary once
        batch_size = max(1, math.ceil(n * args.wave_fraction))
        latencies: list[float] = []
        misses = 0
        loop = asyncio.get_running_loop()
        tag = "7.0.0"

        async def change(name: str) -> None:
            nonlocal misses
            if replicas(deployments.objects[name]) != 0:
                raise RuntimeError(f"{name} is already scaled up before its change")
            future: asyncio.Future[float] = loop.create_future()
            start = time.perf_counter()
            pending[name] = (start, future)
            url = f"{DEPLOYMENTS.format(ns=NS)}/{name}"
            await send(session, "PATCH", url, image_patch(tag), STRATEGIC, 200)
            try:
                latencies.append(await asyncio.wait_for(future, args.change_timeout) - start)
            except TimeoutError:
                misses += 1
                latencies.append(args.change_timeout)
            finally:
                pending.pop(name, None)

        def promoted(names: list[str]) -> int:
            want = f"{IMAGE}:{tag}"
            done = 0
            for name in names:
                primary = deployments.objects.get(f"{name}-primary")
                canary = canaries.objects.get(name)
                if (
                    primary
                    and canary
                    and image_of(primary) == want
                    and phase(canary) == "Succeeded"
                ):
                    done += 1
            return done

        log(f"N={n}: wave of {n} new revisions, {batch_size} at a time")
        before, cpu_before = await controller.stats(), cpu_s(pid)
        t2 = time.perf_counter()
        for first in range(0, n, batch_size):
            names = [name_of(i) for i in range(first, min(first + batch_size, n))]
            await run_many(len(names), args.concurrency, lambda k, names=names: change(names[k]))
            await wait_until(
                lambda names=names: promoted(names) == len(names),
                within=args.timeout,
                what=lambda names=names: f"batch promoted ({promoted(names)}/{len(names)})",
            )
        wave_s = time.perf_counter() - t2
        after, cpu_after = await controller.stats(), cpu_s(pid)
        row["wave_s"] = wave_s
        row["cpu_s_per_min_wave"] = (cpu_after - cpu_before) * 60 / wave_s
        row["req_per_canary_min_wave"] = (non_lease(after) - non_lease(before)) * 60 / wave_s / n
        row["req_per_promotion"] = (non_lease(after) - non_lease(before)) / n
        row["wave_requests"] = ", ".join(
            f"{k}={v}" for k, v in diff(after["requests"], before["requests"]).items()
        )
        latencies.sort()
        row["detect_p50_ms"] = statistics.median(latencies) * 1000
        row["detect_p99_ms"] = percentile(latencies, 0.99) * 1000
        row["detect_max_ms"] = latencies[-1] * 1000
        row["detect_misses"] = misses
        row["rss_final_mib"] = rss_mib(pid)
        row["rss_peak_mib"] = max(hwm_before_probe, rss_mib(pid, "VmHWM"))
        row["cluster_rss_mib"] = rss_mib(cluster.pid)
        row["leader_throughout"] = bool(after["leader"]) and after["loops"] == n
        row["watch_restarts"] = after["watch_restarts"]
        log(f"N={n}: done: {row}")
    except BaseException:
        log(f"N={n}: failed; controller log: {log_path}")
        with contextlib.suppress(OSError):
            print("\n".join(log_path.read_text().splitlines()[-20:]), file=sys.stderr)
        raise
    finally:
        for mirror in mirrors:
            await mirror.stop()
        await session.close()
        if controller is not None:
            await controller.stop()
        await stop_process(cluster)
    return row


# ---------------------------------------------------------------------- report

COLUMNS = (
    ("canaries", "N", "{:,}"),
    ("rss_start_mib", "RSS start MiB", "{:.1f}"),
    ("rss_idle_mib", "RSS idle MiB", "{:.1f}"),
    ("bytes_per_canary", "RSS bytes/canary", "{:,.0f}"),
    ("rss_peak_mib", "RSS peak MiB", "{:.0f}"),
    ("cpu_s_per_min_idle", "CPU s/min idle", "{:.2f}"),
    ("cpu_s_per_min_wave", "CPU s/min wave", "{:.1f}"),
    ("req_per_canary_min_idle", "API req/canary/min idle", "{:.3f}"),
    ("req_per_canary_min_wave", "API req/canary/min wave", "{:.2f}"),
    ("to_initialized_s", "all Initialized s", "{:.1f}"),
    ("to_succeeded_s", "then all Succeeded s", "{:.1f}"),
    ("wave_s", "wave s", "{:.1f}"),
    ("detect_p50_ms", "detect p50 ms", "{:.0f}"),
    ("detect_p99_ms", "detect p99 ms", "{:.0f}"),
    ("detect_misses", "misses", "{}"),
)


def table(rows: list[JSON]) -> list[str]:
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[key]) for key, _, fmt in COLUMNS) + " |")
    return lines


def notes(rows: list[JSON], args: argparse.Namespace) -> list[str]:
    out = [
        f"leader election {'on (Lease in kube-system, renewed every 5 s)' if args.election else 'off'};"
        " Lease requests are per process and left out of the per-canary figures:"
        + "".join(
            f" N={r['canaries']:,}: {r['lease_req_per_min_idle']:.0f}/min idle;" for r in rows
        ),
        f"idle window {args.idle_seconds:.0f}s, extrapolated to a minute; idle requests by verb,"
        " and canary ticks per canary per minute:"
        + "".join(
            f" N={r['canaries']:,}: {r['idle_requests'] or 'none'},"
            f" {r['ticks_per_canary_min_idle']:.2f} ticks;"
            for r in rows
        ),
        "RSS start: the controller running (caches synced, leader) with no canary yet, 1 s"
        " after it reported started; RSS bytes/canary: (RSS idle - RSS start) / N;"
        " the controller child loads neither aiohttp nor the test kit's manifests (the"
        " bench's own imports: placeholders in the child, which never uses them);",
        "RSS peak: the controller's high-water mark (VmHWM) over bring-up, idle and wave,"
        " reset once after the bench's own deep-size walk of the caches (it runs inside the"
        " controller process and is not the controller's memory);",
        "the watch caches' objects in the idle RSS (deep size, MiB):"
        + "".join(
            f" N={r['canaries']:,}: {r['cache_mib']:.0f} of {r['rss_idle_mib']:.0f}"
            f" ({r['cache_by_kind_mib']});"
            for r in rows
        ),
        f"wave: {args.wave_fraction:.0%} of the canaries at a time (PATCHes of a batch sent at once"
        f" over {args.concurrency} connections), next batch when the previous one is promoted,"
        " until every canary has a new revision; skipAnalysis true, so each is promoted as soon"
        " as its canary Deployment is ready; detection = PATCH sent → canary Deployment"
        " spec.replicas > 0 on a watch; requests during the wave:"
        + "".join(
            f" N={r['canaries']:,}: {r['wave_requests']} ({r['req_per_promotion']:.1f} per promotion);"
            for r in rows
        ),
        "all Initialized: from the first create; then all Succeeded: one image change each,"
        " promoted without analysis; the cluster and the load generator share the 2 cores"
        + "".join(
            f"; N={r['canaries']:,}: cluster RSS {r['cluster_rss_mib']:.0f} MiB" for r in rows
        ),
        f"targets at 5,000 canaries: {TARGETS}",
    ]
    if any(not r["leader_throughout"] for r in rows):
        out.append("the controller was not leader (or lost canary loops) at the end of some runs")
    big = max(rows, key=lambda r: r["canaries"])
    per_canary_kib = big["rss_peak_mib"] * 1024 / big["canaries"]
    out.append(
        "anchor: Argo Rollouts at about 11,000-13,000 rollouts used 11-14 GB"
        " (argoproj/argo-rollouts#2855), about 1 MiB per rollout; here"
        f" {big['canaries']:,} canaries peak at {big['rss_peak_mib']:.0f} MiB,"
        f" {per_canary_kib:.0f} KiB per canary including the interpreter"
    )
    return out


def write_results(
    command: str, rows: list[JSON], args: argparse.Namespace, failures: list[str]
) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    lines = [
        "",
        f"## scale — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}` (cluster, controller and load generator in three processes,"
        f" started afresh for each N; {os.cpu_count()} cores)",
        "",
        *table(rows),
        "",
        *(f"- {note}" for note in [*failures, *notes(rows, args)]),
    ]
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


async def bench(args: argparse.Namespace, workdir: Path) -> tuple[list[JSON], list[str]]:
    """The rows of the sizes that completed, and what stopped the first one that did not."""
    rows: list[JSON] = []
    for n in args.sizes:
        started = time.perf_counter()
        try:
            rows.append(await one_size(n, args, workdir))
        except Exception as exc:
            took = time.perf_counter() - started
            return rows, [f"N={n:,} did not complete ({took:.0f}s): {exc}"]
        print("\n".join(table(rows[-1:])), flush=True)
    return rows, []


def trace_allocations(dump: Path) -> None:
    """In the child: trace allocations; on SIGUSR1 write the top allocation sites to `dump`,
    at idle and at the traced peak (a thread samples the traced size twice a second and
    keeps the statistics of the largest sample)."""
    import threading
    import tracemalloc

    tracemalloc.start(4)
    peak: list[str] = []

    def top(snapshot: tracemalloc.Snapshot, title: str) -> list[str]:
        stats = snapshot.statistics("lineno")
        total = sum(stat.size for stat in stats)
        lines = [f"{title}: traced {total / 2**20:.1f} MiB", *(str(s) for s in stats[:40])]
        for stat in snapshot.statistics("traceback")[:8]:  # where the largest come from
            lines += [f"{stat.size / 2**20:.1f} MiB in {stat.count} blocks from:"]
            lines += [f"    {frame}" for frame in stat.traceback.format()]
        return lines

    def sample() -> None:
        best = 0
        while True:
            time.sleep(0.5)
            current, _ = tracemalloc.get_traced_memory()
            if current > best * 1.1:
                best = current
                peak[:] = top(tracemalloc.take_snapshot(), "at the largest sample")

    threading.Thread(target=sample, daemon=True).start()

    def write(_signum: int, _frame: Any) -> None:
        lines = [*top(tracemalloc.take_snapshot(), "at idle"), "", *peak]
        dump.write_text("\n".join(lines) + "\n")

    signal.signal(signal.SIGUSR1, write)


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def malloc_report() -> None:
    """In the child (diagnosis): pymalloc's arenas, then glibc's heap (bytes in use and free,
    outside pymalloc: objects over 512 bytes, such as the caches' packed objects), and the
    RSS before and after `malloc_trim(0)` hands glibc's free pages back."""
    sys._debugmallocstats()
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    mib = 2**20
    print(
        f"# glibc heap: {info.arena / mib:.1f} MiB from sbrk, {info.uordblks / mib:.1f} in use,"
        f" {info.fordblks / mib:.1f} free; {info.hblkhd / mib:.1f} MiB in mmapped blocks",
        file=sys.stderr,
        flush=True,
    )
    before = rss_mib(os.getpid())
    libc.malloc_trim(0)
    print(
        f"# glibc malloc_trim(0): RSS {before:.1f} -> {rss_mib(os.getpid()):.1f} MiB",
        file=sys.stderr,
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(x) for x in text.split(",") if x],
        default=[100, 1000, 5000],
        help="Comma-separated numbers of canaries, one run each",
    )
    parser.add_argument("--idle-seconds", type=float, default=70.0)
    parser.add_argument("--wave-fraction", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP connections")
    parser.add_argument("--change-timeout", type=float, default=30.0)
    parser.add_argument("--quiet", type=float, default=3.0, help="Seconds without requests")
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="Per bring-up stage")
    parser.add_argument(
        "--leader-election",
        dest="election",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Run the controller with leader election (the default of `ensign controller`)",
    )
    parser.add_argument("--no-write", action="store_true", help="Do not append to RESULTS.md")
    parser.add_argument(
        "--mallocstats",
        action="store_true",
        help="Diagnosis: print pymalloc's arena statistics of the child at idle",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="Diagnosis: trace the child's allocations and print the top sites at idle",
    )
    parser.add_argument("--controller-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.controller_child is not None:
        if os.environ.get("ENSIGN_BENCH_MALLOCSTATS"):
            signal.signal(signal.SIGUSR2, lambda *_: malloc_report())
        trace_to = os.environ.get("ENSIGN_BENCH_TRACEMALLOC")
        if trace_to:
            trace_allocations(Path(trace_to))
        asyncio.run(controller_child(args.controller_child, args.election))
        return
    if not args.sizes or min(args.sizes) < 1 or not 0 < args.wave_fraction <= 1:
        parser.error("--sizes must be positive and --wave-fraction in (0, 1]")
    with tempfile.TemporaryDirectory(prefix="ensign-scale-") as tmp:
        rows, failures = asyncio.run(bench(args, Path(tmp)))
    for note in [*failures, *(notes(rows, args) if rows else [])]:
        print(f"# {note}")
    if not args.no_write and rows:
        command = " ".join(["python bench/scale.py", *sys.argv[1:]])
        write_results(command, rows, args, failures)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
