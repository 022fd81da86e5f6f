"""`ensign demo --scenario canary`: a progressive canary through the Gateway API. Does I/O.

The local cluster serves the Gateway API CRDs and simulates a gateway controller that
accepts the HTTPRoute. The Canary (`examples/podinfo-gatewayapi.yaml`) steps the HTTPRoute's
weights 10 → 50 as long as its metric check passes: a MetricTemplate queried through the
real Prometheus provider over HTTP, answered on 127.0.0.1 by `SuccessRate`, a stand-in that
reports a healthy 99.7%. Each step prints the split the traffic model reads back from the
HTTPRoute, as a gateway would route it. Then the canary is promoted and the route goes back
to 100/0 on the (new) primary.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from pathlib import Path
from typing import Any

import click
import yaml
from aiohttp import web
from rich.console import Console

from ensign.console import render_svg, render_text
from ensign.console.describing import read_graph
from ensign.console.listing import print_once
from ensign.demo import NEW_IMAGE, example_path
from ensign.testing.harness import Harness
from ensign.traffic import live_split

JSON = dict[str, Any]
NS = "test"
SUCCESS_RATE = 99.7


class SuccessRate:
    """Answers Prometheus instant queries with one healthy value, on 127.0.0.1."""

    def __init__(self) -> None:
        self.queries = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> SuccessRate:
        app = web.Application()
        app.router.add_route("*", "/api/v1/query", self._query)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _query(self, _: web.Request) -> web.Response:
        self.queries += 1
        sample = [time.time(), str(SUCCESS_RATE)]
        result = [{"metric": {}, "value": sample}]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )


def load_canary_example(metrics_url: str, *, interval: str = "2s") -> list[JSON]:
    docs = [d for d in yaml.safe_load_all(example_path("podinfo-gatewayapi.yaml").read_text()) if d]
    for doc in docs:
        if doc["kind"] == "MetricTemplate":
            doc["spec"]["provider"]["address"] = metrics_url
        if doc["kind"] == "Canary":
            doc["spec"]["analysis"]["interval"] = interval
    return docs


class SplitScreen:
    """Prints a line whenever the phase or the split in force changes."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.start = time.monotonic()
        self.last = ""
        self.splits: list[float] = []

    def say(self, message: str) -> None:
        click.echo(f"[{time.monotonic() - self.start:5.1f}s] {message}")

    def describe(self) -> str:
        h = self.h
        canary = h.get("Canary", NS, "podinfo") or {}
        status = canary.get("status") or {}
        route = h.get_object("gateway.networking.k8s.io/v1", "HTTPRoute", NS, "podinfo")
        objects: list[JSON] = [route] if route else []
        for group, plural in (("", "services"), ("apps", "deployments")):
            items, _, _ = h.cluster.store.list(h.type(group, "v1", plural), NS)
            objects += items
        primary = h.get("Deployment", NS, "podinfo-primary") or {}
        image = (
            primary["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[-1]
            if primary
            else "-"
        )
        line = f"phase {status.get('phase') or '-':<16} canaryWeight {status.get('canaryWeight', 0):<3}"
        if route is not None and canary:
            split = live_split(canary, *objects).plain
            if not self.splits or self.splits[-1] != split.canary:
                self.splits.append(split.canary)
            line += (
                f"  split primary {split.primary:g}% / canary {split.canary:g}%"
                f"  ← {split.enforced_by}"
            )
        return f"{line}  primary :{image}"

    def refresh(self) -> None:
        now = self.describe()
        if now != self.last:
            self.last = now
            self.say(now)


async def run_canary_demo(
    *, kubeconfig: Path | None = None, svg: Path | None = None, interval: float = 2.0
) -> None:
    """The demo at one analysis step every `interval` seconds (tests run it faster)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the screen and the events tell the story
    metrics = await SuccessRate().start()
    try:
        async with Harness(
            ready_delay=min(0.5, interval / 2), min_interval=min(1.0, interval), gateway_api=True
        ) as h:
            screen = SplitScreen(h)
            screen.say(
                f"local cluster on {h.cluster.url} (Gateway API CRDs, simulated gateway);"
                f" controller started; metrics on {metrics.url}"
            )
            if kubeconfig is not None:
                h.cluster.write_kubeconfig(kubeconfig)
                screen.say(f"kubeconfig written to {kubeconfig}")
            docs = load_canary_example(metrics.url, interval=f"{int(interval * 1000)}ms")
            await h.apply(*[copy.deepcopy(d) for d in docs])
            screen.say("applied: Deployment podinfo, MetricTemplate success-rate, Canary podinfo")
            await _until(screen, lambda: h.phase(NS, "podinfo") == "Initialized", 30)
            h.set_image(NS, "podinfo", NEW_IMAGE)
            screen.say(f"kubectl set image deploy/podinfo podinfod={NEW_IMAGE}")
            await _until(screen, lambda: h.phase(NS, "podinfo") == "Succeeded", 60)
            if max(screen.splits, default=0) < 50:
                raise click.ClickException(f"the split never reached 50%: {screen.splits}")
            screen.say(
                f"done: podinfo-primary runs {NEW_IMAGE}; canary weights seen"
                f" {', '.join(f'{w:g}' for w in screen.splits)};"
                f" {metrics.queries} metric queries"
            )
            console = Console(width=140)
            assert h.api is not None
            click.echo("\n$ ensign get -n test")
            await print_once(h.api, console, namespace=NS, name=None)
            click.echo("\n$ ensign describe podinfo -n test")
            graph = await read_graph(h.api, NS, "podinfo")
            console.print(render_text.render(graph))
            if svg is not None:
                await asyncio.to_thread(svg.write_text, render_svg.render_svg(graph))
                click.echo(f"\n(the same graph as SVG: {svg})")
    finally:
        await metrics.stop()
        root.setLevel(level)


async def _until(screen: SplitScreen, done: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise click.ClickException(f"timed out; last state: {screen.describe()}")
        screen.refresh()
        await asyncio.sleep(0.05)
    screen.refresh()
