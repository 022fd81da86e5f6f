"""API faults: 20 concurrent canaries converge while ~5% of requests fail and watches break.

Every API request the controller makes has a 5% chance (seeded, so a failure reproduces) of
being answered 500, 409 (writes only) or of taking longer than the client's timeout (the
server may still apply a write the client gave up on). Every open watch stream is cut at
random intervals of about half a second. A new image on all 20 targets must still be
promoted everywhere, the store invariants must hold after every change, and no exception
may escape the runtime (an ERROR record from `ensign.*`, such as the scheduler's "tick of
... failed", means one did). Every canary forwards its events to a real event webhook: each
Event in the cluster arrives there exactly once, and every transition's Event exists once
(a 409 on a status write re-decides; it never repeats nor loses a side effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from ensign.testing import manifests as m
from ensign.testing.crash import TIMEOUT, CrashHarness, RandomFaults, RecordingGate
from ensign.testing.invariants import StoreMonitor, check_store
from tests.crash._seed import NEW_IMAGE, OLD_IMAGE, capture_errors

NS = "test"
COUNT = 20
SEED = 20240601
NAMES = [f"podinfo-{i}" for i in range(COUNT)]
DEADLINE = 60.0
RATE = 0.05
TRANSITIONS = (  # each exactly once per canary in this run
    "Initialization done! {}.test",
    "New revision detected! Scaling up {}.test",
    "Starting canary analysis for {}.test",
    "Advance {}.test canary iteration 1/2",
    "Advance {}.test canary iteration 2/2",
    "Copying {}.test template spec to {}-primary.test",
    "Promotion completed! Scaling down {}.test",
)


def _delivery_problems(h: CrashHarness, gate: RecordingGate, name: str) -> list[str]:
    """Events of `name` not delivered exactly once (cluster vs event webhook)."""
    items, _, _ = h.cluster.store.list(h.type("", "v1", "events"), NS)
    recorded: Counter[tuple[str, str]] = Counter()
    for e in items:
        if (e.get("involvedObject") or {}).get("name") == name:
            recorded[(str(e.get("type")), str(e.get("message")))] += int(e.get("count") or 1)
    posted = Counter(
        (c.body["metadata"]["eventType"], c.body["metadata"]["eventMessage"])
        for c in gate.calls_to(f"events-{name}")
    )
    problems = []
    if recorded != posted:
        problems.append(f"{name}: Events {recorded - posted} not posted, posts {posted - recorded}")
    messages = Counter({message: n for (_, message), n in recorded.items()})
    for text in TRANSITIONS:
        message = text.format(name, name)
        if messages[message] != 1:
            problems.append(f"{name}: {message!r} recorded {messages[message]} times")
    outbox = (h.canary(NS, name).get("status") or {}).get("outbox")
    if outbox:
        problems.append(f"{name}: left in the outbox: {outbox}")
    return problems


async def _cut_watches(h: CrashHarness, rng: random.Random, cuts: list[int]) -> None:
    while True:
        await asyncio.sleep(rng.uniform(0.25, 0.75))
        h.cluster.drop_watches()
        cuts[0] += 1


def _image(h: CrashHarness, name: str) -> str:
    d = h.get("Deployment", NS, name) or {}
    containers = d.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
    return str(containers[0].get("image"))


@pytest.fixture
async def gate() -> AsyncIterator[RecordingGate]:
    """The event webhooks of every canary (a path each), on 127.0.0.1."""
    server = await RecordingGate().start()
    yield server
    await server.stop()


@pytest.mark.timeout(150)
async def test_twenty_canaries_converge_under_api_faults(gate: RecordingGate) -> None:
    rng = random.Random(SEED)
    faults = RandomFaults(rate=RATE, seed=SEED, timeout_delay=1.5)
    cuts = [0]
    with capture_errors() as errors:
        async with CrashHarness(
            ready_delay=0.05, min_interval=0.1, client_timeout=1.0, start_controller=False
        ) as h:
            h.cluster.faults = faults
            h.cluster.api.faults = faults
            monitor = StoreMonitor(h.cluster.store).start()
            await h.apply(m.namespace(NS))
            for name in NAMES:
                await h.apply(
                    m.deployment(name, NS, image=OLD_IMAGE),
                    m.canary(
                        name,
                        NS,
                        interval="100ms",
                        iterations=2,
                        webhooks=[m.hook("events", "event", gate.url(f"events-{name}"))],
                    ),
                )
            await h.start()
            cutter = asyncio.create_task(_cut_watches(h, rng, cuts))
            try:
                await h.wait_for(
                    lambda: all(h.phase(NS, n) == "Initialized" for n in NAMES),
                    timeout=DEADLINE,
                    what="all canaries Initialized: "
                    + str({n: h.phase(NS, n) for n in NAMES if h.phase(NS, n) != "Initialized"}),
                )
                for name in NAMES:
                    h.set_image(NS, name, NEW_IMAGE)

                def promoted(name: str) -> bool:
                    return (
                        h.phase(NS, name) == "Succeeded"
                        and _image(h, f"{name}-primary") == NEW_IMAGE
                    )

                def pending() -> dict[str, str]:
                    return {n: h.phase(NS, n) for n in NAMES if not promoted(n)}

                try:
                    await h.wait_for(lambda: not pending(), timeout=DEADLINE, what="promotion")
                except TimeoutError as exc:
                    raise AssertionError(f"not promoted in {DEADLINE}s: {pending()}") from exc
            finally:
                cutter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cutter
                faults.enabled = False
                monitor.stop()
            for name in NAMES:
                target = h.get("Deployment", NS, name)
                assert target is not None and target["spec"]["replicas"] == 0, name
                apex = h.get("Service", NS, name)
                assert apex is not None and apex["spec"]["selector"] == {"app": f"{name}-primary"}
                status = h.canary(NS, name)["status"]
                assert status["lastPromotedSpec"] == status["lastAppliedSpec"], name
            # Side effects: once per decision at the receivers, across the injected 409s.
            with contextlib.suppress(TimeoutError):  # the last done-marks may be under way
                await h.wait_for(
                    lambda: not any(_delivery_problems(h, gate, n) for n in NAMES), timeout=5
                )
            assert [p for n in NAMES for p in _delivery_problems(h, gate, n)] == []
            assert check_store(h.cluster.store) == []
            assert monitor.messages() == []
            injected = dict(faults.counts)
            requests = faults.requests
    print(
        f"\n{requests} requests, injected {injected} "
        f"(500, 409, timeout={TIMEOUT}), {cuts[0]} watch cuts, {monitor.checks} checks"
    )
    # the faults really happened, at about the advertised rate
    assert sum(injected.values()) >= 0.02 * requests
    assert all(injected.get(o, 0) > 0 for o in (500, 409, TIMEOUT)), injected
    assert cuts[0] >= 3
    # Nothing escaped the controller: no ERROR from any `ensign` logger but the local
    # cluster's own, which logs the requests whose client gave up (the injected timeouts)
    # as "internal error serving ... (ConnectionResetError: Connection lost)".
    assert errors.messages(exclude=("ensign.localcluster",)) == []
    cluster_errors = [e for e in errors.messages() if e.startswith("ensign.localcluster")]
    assert all("Connection lost" in e for e in cluster_errors), cluster_errors
    assert len(cluster_errors) <= injected.get(TIMEOUT, 0)
