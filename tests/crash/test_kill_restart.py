"""Kill and restart at every write.

The seed scenario runs once uninterrupted, which fixes W (the controller's writes) and the
final state. Then, for every position N in 1..W, it runs again with the controller killed
right after its N-th write (`CrashingApi` freezes it; the harness stops it and starts a
fresh one), and must end in the same final state. The invariants of
`ensign.testing.invariants` are checked on every store change of every run, the webhook
rule over every gate call, and no ERROR may be logged.

Side effects are counted where they arrive: the Events in the cluster (part of the final
state), the posts at the canary's event webhook and at its chat alert provider. Every run
must deliver exactly what the uninterrupted run delivers: one of each per decision, none
lost, none duplicated, whichever write the controller died after.

All positions run sequentially in one test (one event loop, a fresh cluster each), so the
failures of every position are reported together.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from ensign.testing.crash import Write
from ensign.testing.invariants import redeliveries
from tests.crash._seed import NAME, NEW_IMAGE, SeedRun, run_seed


def _shape(write: Write) -> str:
    """A write without the random suffix of Event names, to compare runs."""
    return re.sub(r"\.[0-9a-f]{10}$", ".<event>", f"{write.verb} {write.kind} {write.name}")


def _assert_clean(run: SeedRun) -> None:
    assert not run.problems(), "\n".join(run.problems())


# Events of decisions a crash can prevent: the controller died after the primary's create
# but before the status write that records "creating ..." (the new controller finds the
# primary and never makes that decision). A "not ready" hold is never among them: pods get
# ready only once a hold is recorded (`ReadyOnHold`), so a new controller sees the rollout
# unfinished and holds in its turn. No side effect of a decision whose status was written
# may be missing.
UNCOMMITTED = ("creating podinfo-primary.test",)


def _delivery_problems(run: SeedRun, baseline: SeedRun) -> list[str]:
    """Side effects delivered other than once per decision: every Event forwarded exactly
    once to the event webhook, none repeated, none beyond the uninterrupted run's, none of
    its decisions missing; the same alerts in the same order."""
    problems = []
    events = Counter((kind, message) for kind, message, count in run.events for _ in range(count))
    posts = Counter(run.event_posts)
    if posts != events:
        problems.append(
            f"event posts without Event {posts - events}, Events unposted {events - posts}"
        )
    expected = Counter(baseline.event_posts)
    if events - expected:
        problems.append(f"Events repeated or unexpected: {events - expected}")
    lost = [e for e in expected - events if not any(u in e[1] for u in UNCOMMITTED)]
    if lost:
        problems.append(f"Events of committed decisions lost: {lost}")
    # Exactly: every Event a status write recorded was created (under its entry's name).
    undelivered = {n: m for n, m in run.committed.items() if n not in run.event_names}
    if undelivered:
        problems.append(f"recorded in status.outbox, never created: {undelivered}")
    if run.alert_posts != baseline.alert_posts:
        problems.append(f"alerts {run.alert_posts} != {baseline.alert_posts}")
    return problems


async def test_uninterrupted_seed_run() -> None:
    run = await run_seed(None)
    _assert_clean(run)
    final = run.final
    assert final["phase"] == "Succeeded"
    assert final["primary.image"] == NEW_IMAGE
    assert final["canary.replicas"] == 0
    assert final["primary.replicas"] == 2
    assert final["service.apex"] == {"app": f"{NAME}-primary"}
    assert final["service.primary"] == {"app": f"{NAME}-primary"}
    assert final["service.canary"] == {"app": NAME}
    assert final["lastPromotedSpec"] == final["lastAppliedSpec"]
    assert final["lastPromotedSpec"] == final["canary.revision"]  # the new image's revision
    assert run.steps > 0
    assert run.restarts == 0
    assert redeliveries(run.gate_calls) == 0
    assert any(c.ok for c in run.gate_calls) and any(not c.ok for c in run.gate_calls)
    assert len(run.writes) > 10
    # Side effects: every decision's Event created once and forwarded once; one alert per
    # moment, in order; nothing left in the outbox.
    assert final["outbox"] == {}
    assert sorted(run.event_posts) == sorted((k, msg) for k, msg, _ in run.events)
    assert ("Normal", "Promotion completed! Scaling down podinfo.test") in run.event_posts
    assert all(count == 1 for _, _, count in run.events)
    assert set(run.committed) == run.event_names  # every Event went through the outbox
    assert run.alert_posts == [
        "New Deployment detected, initialization completed.",
        "New revision detected, progressing canary analysis.",
        "Canary promotion is waiting for approval.",
        "Canary analysis completed successfully, promotion finished.",
    ]
    assert _delivery_problems(run, run) == []


MAX_SWAPPED = 3  # positions whose write order may differ from the baseline's


@pytest.mark.timeout(240)
async def test_kill_and_restart_after_every_write() -> None:
    started = time.monotonic()
    baseline = await run_seed(None)
    _assert_clean(baseline)
    total = len(baseline.writes)
    failures: list[str] = []
    summary: list[str] = []
    swapped: list[str] = []  # runs whose N-th write differed from the baseline's N-th
    covered: set[str] = set()
    for position in range(1, total + 1):
        expected = baseline.writes[position - 1]
        try:
            run = await run_seed(position)
        except TimeoutError as exc:
            failures.append(f"write {position} ({_shape(expected)}): {exc}")
            continue
        where = f"write {position} ({_shape(expected)})"
        if run.crash_write is None:
            failures.append(f"{where}: the controller never crashed")
        else:
            covered.add(_shape(run.crash_write))
            if _shape(run.crash_write) != _shape(expected):
                # Under heavy CPU load two independent writes (a status write and a
                # workload patch) can swap places; such a run is still checked in full.
                swapped.append(f"{where}: crashed after {_shape(run.crash_write)} instead")
        if run.restarts != 1:
            failures.append(f"{where}: {run.restarts} restarts")
        if run.final != baseline.final:
            diff = {
                k: (baseline.final.get(k), run.final.get(k))
                for k in baseline.final
                if baseline.final.get(k) != run.final.get(k)
            }
            failures.append(f"{where}: final state differs (expected, actual): {diff}")
        failures += [f"{where}: {p}" for p in run.problems()]
        failures += [f"{where}: {p}" for p in _delivery_problems(run, baseline)]
        summary.append(
            f"{position:3d} {_shape(expected):45s} writes={len(run.writes):3d} "
            f"checks={run.steps:4d} redelivered={redeliveries(run.gate_calls)} "
            f"events={len(run.event_posts)} alerts={len(run.alert_posts)}"
        )
    missing = sorted({_shape(w) for w in baseline.writes} - covered)
    if missing:
        failures.append(f"no run crashed after these writes: {missing}")
    if len(swapped) > MAX_SWAPPED:
        failures += [f"{s} (non-deterministic run)" for s in swapped]
    elapsed = time.monotonic() - started
    print(f"\nW={total}; positions 1..{total}; {elapsed:.1f}s")
    print("\n".join(summary))
    assert not failures, "\n".join(failures)
