"""Throughput and memory of the local cluster.

Starts `ensign localcluster` in its own process (so the load generator does not share its
core), then measures over raw HTTP with keep-alive connections:
  - creates/s: POST of N Deployments;
  - patches/s and p50/p99 latency: merge patches of a label on those Deployments;
  - watch events/s delivered to 3 concurrent watchers during the patch run;
  - RSS of the server process once it holds N Deployments.
Prints the figures and appends them to bench/RESULTS.md with the command that made them.

    .venv/bin/python bench/localcluster.py [--objects 10000] [--patches 20000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
NS = "bench"


def deployment(i: int) -> bytes:
    name = f"app-{i:05d}"
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "ghcr.io/stefanprodan/podinfo:6.7.0",
                                "ports": [{"containerPort": 9898, "name": "http"}],
                                "env": [{"name": "COLOR", "value": "blue"}],
                            }
                        ]
                    },
                },
            },
        }
    ).encode()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def run_many(total: int, concurrency: int, make_call) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await make_call(i)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


async def watcher(session: aiohttp.ClientSession, base: str, rv: str, counts: list[int], idx: int):
    url = f"{base}/apis/apps/v1/namespaces/{NS}/deployments"
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "600"}
    async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as resp:
        async for _line in resp.content:
            counts[idx] += 1


async def bench(base: str, pid: int, objects: int, patches: int, concurrency: int) -> dict:
    connector = aiohttp.TCPConnector(limit=concurrency + 8)
    async with aiohttp.ClientSession(connector=connector) as session:
        ns_body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        async with session.post(f"{base}/api/v1/namespaces", data=ns_body) as r:
            assert r.status == 201, await r.text()
        coll = f"{base}/apis/apps/v1/namespaces/{NS}/deployments"
        headers = {"Content-Type": "application/json"}

        async def create(i: int) -> None:
            async with session.post(coll, data=deployment(i), headers=headers) as r:
                await r.read()
                assert r.status == 201, r.status

        create_s, create_lat = await run_many(objects, concurrency, create)
        await asyncio.sleep(1.0)  # let the simulator settle the new Deployments
        rss_after_create = rss_mib(pid)
        async with session.get(coll, params={"limit": "1"}) as r:
            rv = (await r.json())["metadata"]["resourceVersion"]

        counts = [0, 0, 0]
        watches = [asyncio.create_task(watcher(session, base, rv, counts, i)) for i in range(3)]
        await asyncio.sleep(0.3)
        patch_headers = {"Content-Type": "application/merge-patch+json"}

        async def patch(i: int) -> None:
            body = json.dumps({"metadata": {"labels": {"bench": f"p{i}"}}})
            url = f"{coll}/app-{i % objects:05d}"
            async with session.patch(url, data=body, headers=patch_headers) as r:
                await r.read()
                assert r.status == 200, r.status

        t0 = time.perf_counter()
        patch_s, patch_lat = await run_many(patches, concurrency, patch)
        deadline = time.perf_counter() + 30
        while min(counts) < patches and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        watch_s = time.perf_counter() - t0
        for w in watches:
            w.cancel()
        rss_final = rss_mib(pid)
    patch_lat.sort()
    return {
        "objects": objects,
        "creates_per_s": objects / create_s,
        "create_p50_ms": statistics.median(create_lat) * 1000,
        "patches": patches,
        "patches_per_s": patches / patch_s,
        "patch_p50_ms": patch_lat[len(patch_lat) // 2] * 1000,
        "patch_p99_ms": patch_lat[int(len(patch_lat) * 0.99)] * 1000,
        "watch_events_delivered": sum(counts),
        "watch_events_per_s": sum(counts) / watch_s,
        "rss_mib_after_creates": rss_after_create,
        "rss_mib_final": rss_final,
    }


def write_results(command: str, figures: dict) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    if not path.exists():
        path.write_text(
            "# Benchmark results\n\nEach section: the command, when, and its figures.\n"
        )
    lines = [
        "",
        f"## localcluster — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}` (server in its own process; {os.cpu_count()} cores)",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for key, value in figures.items():
        lines.append(
            f"| {key} | {value:,.1f} |" if isinstance(value, float) else f"| {key} | {value:,} |"
        )
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--patches", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--port", type=int, default=18443)
    parser.add_argument("--no-write", action="store_true", help="Do not append to RESULTS.md")
    parser.add_argument("--profile", help="Run the server under cProfile, writing stats here")
    args = parser.parse_args()
    kubeconfig = Path("/tmp/ensign-bench.kubeconfig")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ensign",
            "localcluster",
            "--port",
            str(args.port),
            "--kubeconfig",
            str(kubeconfig),
            "--ready-delay",
            "0",
            "--no-crds",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        figures = asyncio.run(
            bench(
                f"http://127.0.0.1:{args.port}",
                server.pid,
                args.objects,
                args.patches,
                args.concurrency,
            )
        )
    finally:
        server.send_signal(2)
        server.wait(timeout=30)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
        print(f"{key:<{width}}  {shown}")
    if not args.no_write:
        write_results("python bench/localcluster.py " + " ".join(sys.argv[1:]), figures)


if __name__ == "__main__":
    main()
