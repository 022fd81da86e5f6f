"""The console the commands print to, and stopping on Ctrl-C or SIGTERM. Does I/O."""

from __future__ import annotations

import asyncio
import signal

from rich.console import Console

PIPE_WIDTH = 250  # when not on a terminal, wide enough that tables do not wrap or truncate


def console() -> Console:
    """Colours and the real width on a terminal; plain and wide text in a pipe or file."""
    probe = Console()
    if probe.is_terminal:
        return probe
    return Console(width=PIPE_WIDTH, no_color=True, highlight=False, soft_wrap=False)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
