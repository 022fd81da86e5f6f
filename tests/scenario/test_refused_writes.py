"""A write the API server refuses is explained in the status, not only in the log.

The local cluster answers the generated Service's create with the error a real API server
gives when the Service ClusterIP range is full. The canary's Ready condition names the write,
the object and the server's message; one Warning Event says the same (not one per tick);
once the fault is lifted the canary initialises and the condition moves on.
"""

from __future__ import annotations

import asyncio

from ensign.testing import manifests as m
from ensign.testing.harness import Harness
from tests.scenario.support import events

NS = "test"
RANGE_FULL = "Internal error occurred: failed to allocate a serviceIP: range is full"


def ready(h: Harness) -> dict[str, str]:
    conditions = (h.canary(NS, "podinfo").get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


async def test_a_refused_service_create_is_named_in_the_status_until_it_succeeds() -> None:
    async with Harness() as h:
        h.cluster.faults.fail_next("create", "services", code=500, count=10_000, message=RANGE_FULL)
        await h.apply(m.namespace(NS), m.deployment(), m.canary())
        await h.wait_for(lambda: ready(h).get("reason") == "WriteRefused", what="refusal")
        message = ready(h)["message"]
        assert message == (
            "create Service test/podinfo-canary refused by the API server (HTTP 500): " + RANGE_FULL
        )
        await asyncio.sleep(1.0)  # several retries with the same refusal
        warnings = [e for e in events(h) if e.type == "Warning" and RANGE_FULL in e.message]
        assert len(warnings) == 1 and warnings[0].count == 1, warnings
        assert h.get("Deployment", NS, "podinfo")["spec"]["replicas"] == 2  # type: ignore[index]

        h.cluster.faults.clear()
        await h.wait_phase(NS, "podinfo", "Initialized", timeout=20)
        assert ready(h)["reason"] != "WriteRefused"
        assert h.get("Service", NS, "podinfo-canary") is not None
