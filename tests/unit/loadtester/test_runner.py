"""CommandRunner: deadline, output cap, concurrency slots, spawn errors (real processes)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from ensign.loadtester.runner import TRUNCATED_MARKER, CommandRunner


async def test_success_and_output() -> None:
    result = await CommandRunner().run(["echo", "hello"])
    assert (result.ok, result.exit_code, result.text(), result.error) == (True, 0, "hello\n", "")


async def test_stderr_is_merged_and_failure_reported() -> None:
    result = await CommandRunner().run(["ls", "/definitely/not/here"])
    assert not result.ok
    assert result.exit_code not in (0, None)
    assert result.error == f"exit status {result.exit_code}"
    assert "/definitely/not/here" in result.text()


async def test_deadline_kills_the_process() -> None:
    started = time.monotonic()
    result = await CommandRunner(timeout=0.2).run(["sleep", "5"])
    assert time.monotonic() - started < 2
    assert (result.ok, result.exit_code, result.error) == (False, None, "timed out after 0.2s")


async def test_output_is_capped() -> None:
    result = await CommandRunner(max_output=1000).run(["head", "-c", "300000", "/dev/zero"])
    assert result.ok
    assert (len(result.output), result.truncated) == (1000, True)
    assert result.text().endswith(TRUNCATED_MARKER)


async def test_missing_program() -> None:
    result = await CommandRunner().run(["ensign-no-such-program-xyz"])
    assert (result.ok, result.exit_code) == (False, None)
    assert result.error.startswith("cannot start ensign-no-such-program-xyz:")


async def test_environment_is_the_given_one() -> None:
    result = await CommandRunner(env={"ONLY": "this", "PATH": "/usr/bin:/bin"}).run(["env"])
    assert "ONLY=this" in result.text()
    assert "HOME=" not in result.text()


async def test_slots_limit_and_release() -> None:
    runner = CommandRunner(max_concurrent=1)
    slot = runner.reserve()
    assert slot is not None
    assert runner.reserve() is None
    await runner.run(["true"], slot)
    assert runner.busy == 0
    slot.release()  # idempotent
    assert runner.busy == 0


async def test_background_task_reports_and_aclose_kills() -> None:
    runner = CommandRunner()
    done = asyncio.Event()
    results = []

    def finished(result: object) -> None:
        results.append(result)
        done.set()

    slot = runner.reserve()
    assert slot is not None
    runner.start("quick", ["true"], slot, finished)
    await asyncio.wait_for(done.wait(), 5)
    assert not runner.is_running("quick")

    slow = runner.reserve()
    assert slow is not None
    runner.start("slow", ["sleep", "30"], slow, finished)
    assert runner.is_running("slow")
    await asyncio.wait_for(runner.aclose(), 3)
    assert runner.busy == 0
    assert len(results) == 1


async def test_cancellation_kills_the_process() -> None:
    runner = CommandRunner()
    task = asyncio.create_task(runner.run(["sleep", "30"]))
    await asyncio.sleep(0.1)
    task.cancel()
    started = time.monotonic()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 2
