"""`ensign get`: list Canaries once, or keep the table live from a watch. Does I/O."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ensign.console import tables
from ensign.console.terminal import stop_on_signals
from ensign.kube import kinds
from ensign.kube.api import JSON, Gone, KubeApi, KubeError, NotFound

Key = tuple[str, str]


async def list_canaries(api: KubeApi, namespace: str | None, name: str | None) -> list[JSON]:
    """Canaries in `namespace` (None: all), or just `name`; NotFound when `name` is absent."""
    if name is not None and namespace is not None:
        return [await api.get(kinds.CANARY, name, namespace=namespace)]
    items, _ = await api.list(kinds.CANARY, namespace=namespace)
    found = [c for c in items if name is None or c["metadata"]["name"] == name]
    if name is not None and not found:
        raise NotFound(f'canaries.flagger.app "{name}" not found')
    return found


async def print_once(api: KubeApi, out: Console, *, namespace: str | None, name: str | None) -> int:
    found = await list_canaries(api, namespace, name)
    if not found:
        where = f"namespace {namespace}" if namespace else "any namespace"
        out.print(f"No canaries found in {where}.")
        return 0
    out.print(tables.table(tables.rows(found), all_namespaces=namespace is None))
    return 0


async def watch_live(api: KubeApi, out: Console, *, namespace: str | None, name: str | None) -> int:
    """Redraw the table in place on every change, until Ctrl-C or SIGTERM."""
    stop = stop_on_signals()
    state: dict[Key, JSON] = {}

    def view() -> Table:
        return tables.table(tables.rows(state.values()), all_namespaces=namespace is None)

    with Live(view(), console=out, auto_refresh=False, transient=False) as live:

        def redraw() -> None:
            live.update(view(), refresh=True)

        follow = asyncio.create_task(_follow(api, state, namespace, name, redraw))
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({follow, waiter}, return_when=asyncio.FIRST_COMPLETED)
        stopped = waiter in done
        for task in (follow, waiter):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not stopped:
            follow.result()  # the watch ended by itself: re-raise its error
    return 0


async def _follow(
    api: KubeApi,
    state: dict[Key, JSON],
    namespace: str | None,
    name: str | None,
    redraw: Callable[[], None],
) -> None:
    """List, then watch from that version; list again after 410 Gone or a closed stream."""
    while True:
        try:
            items, version = await api.list(kinds.CANARY, namespace=namespace)
            state.clear()
            state.update(
                {_key(c): c for c in items if name is None or c["metadata"]["name"] == name}
            )
            redraw()
            async for event, obj in api.watch(
                kinds.CANARY, namespace=namespace, resource_version=version, timeout_seconds=300
            ):
                if name is not None and obj.get("metadata", {}).get("name") != name:
                    continue
                if event == "DELETED":
                    state.pop(_key(obj), None)
                elif event in ("ADDED", "MODIFIED"):
                    state[_key(obj)] = obj
                else:
                    continue
                redraw()
        except Gone:
            continue
        except KubeError:
            await asyncio.sleep(1.0)


def _key(obj: JSON) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
