"""`ensign demo`: a scenario, unattended, on the local cluster. Does I/O.

`seed` (the default) starts the local cluster and the controller, applies podinfo (a
Deployment, an Ingress and a blue/green Canary with a confirm-promotion gate), then runs
`kubectl set image`'s equivalent. A real HTTP gate on 127.0.0.1 holds the promotion for a
few seconds and then opens. Every change of phase or of what serves traffic is printed as it
happens; the demo exits 0 once the new version is live.

`canary` runs a progressive canary through the Gateway API (`examples/podinfo-gatewayapi.yaml`):
the HTTPRoute's weights go 10 → 50 while a metric check (a MetricTemplate queried over the
Prometheus HTTP API, answered on 127.0.0.1 by a tiny stand-in) passes, then the canary is
promoted. Each step prints the split the traffic model reads from the HTTPRoute.
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
from rich.console import Console

from ensign.console import render_svg, render_text, tables
from ensign.console.describing import read_graph
from ensign.console.listing import print_once
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness

NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.8.0"
GATE_HOLD_SECONDS = 6.0
JSON = dict[str, Any]


def example_path(name: str = "podinfo.yaml") -> Path:
    path = Path(__file__).resolve().parents[2] / "examples" / name
    if not path.is_file():
        raise click.ClickException(f"example manifest not found at {path}")
    return path


def load_example(gate_url: str) -> list[JSON]:
    docs = [d for d in yaml.safe_load_all(example_path().read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Canary":
            doc["spec"]["analysis"].update({"interval": "3s", "iterations": 3})
            for hook in doc["spec"]["analysis"].get("webhooks", []):
                hook["url"] = gate_url
    return docs


class Screen:
    """Prints a line whenever the phase or the serving picture changes."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.start = time.monotonic()
        self.last = ""

    def say(self, message: str) -> None:
        click.echo(f"[{time.monotonic() - self.start:5.1f}s] {message}")

    def describe(self) -> str:
        h = self.h
        canary = h.get("Canary", "test", "podinfo") or {}
        status = canary.get("status") or {}
        apex = h.get("Service", "test", "podinfo")
        selector = ((apex or {}).get("spec") or {}).get("selector") or {}
        live = "podinfo-primary" if selector.get("app") == "podinfo-primary" else "podinfo"
        parts = [f"phase {status.get('phase') or '-':<16}"]
        for name in ("podinfo-primary", "podinfo"):
            dep = h.get("Deployment", "test", name)
            if dep is None:
                continue
            ready = (dep.get("status") or {}).get("readyReplicas", 0)
            want = dep["spec"].get("replicas", 0)
            image = dep["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[-1]
            role = "LIVE" if name == live and apex else "idle"
            parts.append(f"{name} {ready}/{want} :{image} [{role}]")
        if apex:
            parts.append(f"svc/podinfo → {live}")
        return "  ".join(parts)

    def refresh(self) -> None:
        now = self.describe()
        if now != self.last:
            self.last = now
            self.say(now)
            canary = self.h.get("Canary", "test", "podinfo")
            if canary is not None and canary.get("status"):
                row = tables.rows([canary])[0]
                click.echo(
                    f"         ensign get: {row.status:<16} weight {row.weight:<3} "
                    f"iteration {row.iteration:<5} failed {row.failed:<5} {row.message}"
                )


async def run_demo(
    *, kubeconfig: Path | None = None, svg: Path | None = None, scenario: str = "seed"
) -> None:
    if scenario == "canary":
        from ensign.demo_canary import run_canary_demo

        await run_canary_demo(kubeconfig=kubeconfig, svg=svg)
        return
    logging.getLogger().setLevel(logging.ERROR)  # the screen and the events tell the story
    gate = await GateServer().start()
    gate.close("gate/check")
    async with Harness(ready_delay=1.0, min_interval=1.0) as h:
        screen = Screen(h)
        screen.say(
            f"local cluster on {h.cluster.url}; controller started; gate on {gate.url('gate/check')} (closed)"
        )
        if kubeconfig is not None:
            h.cluster.write_kubeconfig(kubeconfig)
            screen.say(f"kubeconfig written to {kubeconfig}")
        await h.apply(*[copy.deepcopy(d) for d in load_example(gate.url("gate/check"))])
        screen.say("applied namespace test: Deployment podinfo, Ingress podinfo, Canary podinfo")
        await _until(screen, lambda: h.phase("test", "podinfo") == "Initialized", 30)
        h.set_image("test", "podinfo", NEW_IMAGE)
        screen.say(f"kubectl set image deploy/podinfo podinfod={NEW_IMAGE}")
        await _until(screen, lambda: h.phase("test", "podinfo") == "WaitingPromotion", 40)
        screen.say(
            f"confirm-promotion gate answers HTTP 500: promotion held ({len(gate.calls)} gate calls)"
        )
        await _until(screen, lambda: False, GATE_HOLD_SECONDS, quiet=True)
        gate.open("gate/check")
        screen.say("gate opened (HTTP 200)")
        await _until(screen, lambda: h.phase("test", "podinfo") == "Succeeded", 40)
        primary = h.get("Deployment", "test", "podinfo-primary") or {}
        image = primary["spec"]["template"]["spec"]["containers"][0]["image"]
        if image != NEW_IMAGE:
            raise click.ClickException(f"primary runs {image}, expected {NEW_IMAGE}")
        screen.say(f"done: podinfo-primary runs {NEW_IMAGE}; podinfo scaled to zero")
        click.echo("\n$ ensign get -n test")
        console = Console(width=140)
        assert h.api is not None
        await print_once(h.api, console, namespace="test", name=None)
        click.echo("\n$ ensign describe podinfo -n test")
        graph = await read_graph(h.api, "test", "podinfo")
        console.print(render_text.render(graph))
        if svg is not None:
            await asyncio.to_thread(svg.write_text, render_svg.render_svg(graph))
            click.echo(f"\n(the same graph as SVG: {svg})")
    await gate.stop()


async def _until(screen: Screen, done: Any, seconds: float, *, quiet: bool = False) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            if quiet:
                return
            raise click.ClickException(f"timed out; last state: {screen.describe()}")
        screen.refresh()
        await asyncio.sleep(0.05)
    screen.refresh()
