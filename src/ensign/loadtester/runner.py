"""Running task commands: bounded in time, output and concurrency. Does I/O.

Commands are started with `asyncio.create_subprocess_exec` (a shell only when the argv says
so, which `tasks.plan` allows only with `--allow-shell`), stdin from /dev/null, stdout and
stderr merged, in a new session so that a timeout or shutdown kills the whole process group.
Output beyond `max_output` bytes is read and discarded, so a chatty command cannot block on a
full pipe nor fill the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

log = logging.getLogger("ensign.loadtester")

DEFAULT_TIMEOUT = 3600.0
"""Per-command deadline in seconds (Flagger's `-timeout` default, 1 h)."""
DEFAULT_MAX_OUTPUT = 256 * 1024
"""Output bytes kept per command."""
DEFAULT_MAX_CONCURRENT = 4
"""Commands running at once, background ones included."""
TRUNCATED_MARKER = "\n[output truncated]"

_READ_CHUNK = 64 * 1024
_REAP_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    """How a command ended.

    `exit_code` is None when it never started or was killed at the deadline; `error` is
    empty exactly when the command exited with status 0.
    """

    argv: tuple[str, ...]
    exit_code: int | None
    output: bytes
    truncated: bool
    error: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return not self.error

    def text(self) -> str:
        """The (possibly truncated) combined output as text."""
        text = self.output.decode("utf-8", errors="replace")
        return text + TRUNCATED_MARKER if self.truncated else text


class Slot:
    """One reserved unit of the concurrency limit; `release` is idempotent."""

    def __init__(self, on_release: Callable[[], None]) -> None:
        self._on_release: Callable[[], None] | None = on_release

    def release(self) -> None:
        callback, self._on_release = self._on_release, None
        if callback is not None:
            callback()


class CommandRunner:
    """Runs argvs with a deadline, an output cap and at most `max_concurrent` at a time.

    Callers first `reserve()` a slot (None when all are taken: answer 429), then either
    `await run(argv, slot)` or `start(key, argv, slot, ...)` for a background task; both
    release the slot when the command ends. `env` is the environment of every command.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_output: int = DEFAULT_MAX_OUTPUT,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_output = max_output
        self.max_concurrent = max_concurrent
        self._env = dict(env) if env is not None else None
        self._busy = 0
        self._background: dict[object, asyncio.Task[CommandResult]] = {}

    @property
    def busy(self) -> int:
        """Slots in use."""
        return self._busy

    def reserve(self) -> Slot | None:
        """A slot, or None when `max_concurrent` commands are already running."""
        if self._busy >= self.max_concurrent:
            return None
        self._busy += 1
        return Slot(self._free)

    def _free(self) -> None:
        self._busy -= 1

    def is_running(self, key: object) -> bool:
        """Whether a background task with this key is still running."""
        return key in self._background

    def start(
        self,
        key: object,
        argv: Sequence[str],
        slot: Slot,
        on_done: Callable[[CommandResult], None],
    ) -> None:
        """Run `argv` in the background under `key`; `on_done` gets the result."""

        async def background() -> CommandResult:
            try:
                result = await self.run(argv, slot)
                on_done(result)
                return result
            finally:
                self._background.pop(key, None)

        self._background[key] = asyncio.create_task(background(), name=f"loadtester {argv[0]}")

    async def run(self, argv: Sequence[str], slot: Slot | None = None) -> CommandResult:
        """Run `argv` to completion or the deadline; never raises except on cancellation."""
        started = time.monotonic()
        args = tuple(argv)
        try:
            return await self._run(args, started)
        finally:
            if slot is not None:
                slot.release()

    async def _run(self, argv: tuple[str, ...], started: float) -> CommandResult:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env=self._env,
            )
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return _result(argv, None, b"", False, f"cannot start {argv[0]}: {reason}", started)
        buffer = _CappedBuffer(self.max_output)
        try:
            async with asyncio.timeout(self.timeout):
                assert process.stdout is not None
                while chunk := await process.stdout.read(_READ_CHUNK):
                    buffer.add(chunk)
                code = await process.wait()
        except TimeoutError:
            await _kill(process)
            error = f"timed out after {self.timeout:g}s"
            return _result(argv, None, buffer.data, buffer.truncated, error, started)
        finally:
            if process.returncode is None:  # cancelled: do not leave the command running
                await _kill(process)
        error = "" if code == 0 else f"exit status {code}"
        return _result(argv, code, buffer.data, buffer.truncated, error, started)

    async def aclose(self) -> None:
        """Cancel every background task, killing its processes."""
        tasks = list(self._background.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _CappedBuffer:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self._limit - len(self._data)
        if room > 0:
            self._data += chunk[:room]
        if len(chunk) > room:
            self.truncated = True

    @property
    def data(self) -> bytes:
        return bytes(self._data)


def _result(
    argv: tuple[str, ...],
    code: int | None,
    output: bytes,
    truncated: bool,
    error: str,
    started: float,
) -> CommandResult:
    return CommandResult(
        argv=argv,
        exit_code=code,
        output=output,
        truncated=truncated,
        error=error,
        elapsed=time.monotonic() - started,
    )


async def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the command's process group and reap it.

    The wait is bounded: a descendant that left the group (e.g. via `setsid`) may hold the
    output pipe open, and asyncio's `wait()` also waits for the pipes to close.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_REAP_TIMEOUT):
            await asyncio.shield(process.wait())


def command_environment(base: Mapping[str, str], *, hide: Sequence[str] = ()) -> dict[str, str]:
    """`base` without the variables in `hide` (the server's token is not for commands)."""
    return {key: value for key, value in base.items() if key not in hide}


__all__ = [
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_TIMEOUT",
    "CommandResult",
    "CommandRunner",
    "Slot",
    "command_environment",
    "log",
]
