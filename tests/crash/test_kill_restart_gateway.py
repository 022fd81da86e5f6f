"""Kill and restart at every write of a progressive canary on Gateway API, and on Istio with
session affinity.

The uninterrupted run fixes W (the controller's writes) and the final state (the canary, the
workloads, the Services and the router object's spec). Then, for every position N in 1..W,
the controller is killed right after its N-th write and a fresh one finishes the job: the end
state must be the same, the router object must never give the canary more than `maxWeight`,
the traffic model must never send traffic to a Service with zero ready pods, and (Istio) the
run's cookie must never change and no sticky route may be left behind.
"""

from __future__ import annotations

import time

import pytest

from tests.crash._gateway import MAX_WEIGHT, STEP, run_gateway

ROUTER_IDS = ("gatewayapi", "istio")


@pytest.mark.parametrize("router", ROUTER_IDS)
async def test_uninterrupted_run(router: str) -> None:
    run = await run_gateway(None, router)
    assert not run.problems, run.problems
    assert run.final["phase"] == "Succeeded"
    assert run.weights == [0, STEP, 0]
    assert run.final["canaryWeight"] == 0
    assert len(run.cookies) == (1 if router == "istio" else 0)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("router", ROUTER_IDS)
async def test_kill_and_restart_after_every_write(router: str) -> None:
    started = time.monotonic()
    baseline = await run_gateway(None, router)
    assert not baseline.problems, baseline.problems
    failures: list[str] = []

    async def crashed_at(position: int) -> None:
        where = f"write {position} ({baseline.writes[position - 1].describe()})"
        try:
            run = await run_gateway(position, router)
        except TimeoutError as exc:
            failures.append(f"{where}: not crashed in time {exc}")
            return
        if run.crash_write is None:
            failures.append(f"{where}: the controller never crashed")
        if run.restarts != 1:
            failures.append(f"{where}: {run.restarts} restarts")
        if run.final != baseline.final:
            diff = {
                k: (baseline.final.get(k), run.final.get(k))
                for k in baseline.final
                if baseline.final.get(k) != run.final.get(k)
            }
            failures.append(f"{where}: final state differs (expected, actual): {diff}")
        if max(run.weights, default=0) > MAX_WEIGHT:
            failures.append(f"{where}: weights {run.weights}")
        if len(run.cookies) != len(baseline.cookies):  # one cookie per run, never redrawn
            failures.append(f"{where}: cookies {run.cookies} (baseline {baseline.cookies})")
        failures.extend(f"{where}: {p}" for p in run.problems)

    # One at a time: two concurrent runs on 2 cores can end a run before the restarted
    # controller's first tick (the settle window is wall-clock), which is not a failure.
    for position in range(1, len(baseline.writes) + 1):
        await crashed_at(position)
    print(f"\nW={len(baseline.writes)}; {time.monotonic() - started:.1f}s")
    assert not failures, "\n".join(failures)
