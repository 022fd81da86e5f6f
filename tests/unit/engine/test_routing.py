"""The engine's side of the router seam: cookies, the weight read back, router holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ensign.engine.actions import ReconcileRouter, RecordEvent, SetRoutes
from ensign.engine.affinity import AffinityCookies, cookie_value, next_cookies
from ensign.engine.decide import Decision, decide
from ensign.engine.observations import Readiness, Snapshot
from ensign.engine.phases import Phase
from ensign.engine.status import CanaryStatus, dump_status, parse_status
from ensign.engine.weights import Routes
from ensign.model import parse_canary
from ensign.model.analysis import SessionAffinity
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.testing import manifests as m

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
UID = "0b9e7a52-1111-4c55-9b1e-0d6a4c1f9e01"
GATEWAY = CAPABILITIES[Provider.GATEWAYAPI_V1]


def gateway_canary(**analysis: Any) -> dict[str, Any]:
    body = m.routed(m.canary(iterations=0), "gatewayapi:v1")
    body = m.with_analysis(body, **{"iterations": None, "stepWeight": 10, **analysis})
    body["metadata"]["uid"] = UID
    return body


def snapshot(body: dict[str, Any], status: CanaryStatus, **fields: Any) -> Snapshot:
    return Snapshot(
        canary=parse_canary(body),
        status=status,
        target_kind="Deployment",
        revision="rev-2",
        primary_exists=True,
        capabilities=GATEWAY,
        **fields,
    )


def progressing(weight: int, **fields: Any) -> CanaryStatus:
    return CanaryStatus(
        phase=Phase.PROGRESSING,
        canary_weight=weight,
        last_applied_spec="rev-2",
        last_promoted_spec="rev-1",
        tracked_configs={},
        **fields,
    )


def tick(snap: Snapshot) -> Decision:
    outcome = decide(snap, {}, now=NOW)
    assert isinstance(outcome, Decision), outcome
    return outcome


def test_cookie_values_are_derived_not_drawn() -> None:
    value = cookie_value(UID, "rev-2")
    assert value == cookie_value(UID, "rev-2")
    assert value != cookie_value(UID, "rev-3")
    assert len(value) == 10 and value.isalpha()


def test_cookies_follow_the_weight() -> None:
    affinity = SessionAffinity(cookie_name="canary", primary_cookie_name="primary")
    none = AffinityCookies()
    on = next_cookies(none, affinity, canary_weight=10, uid=UID, revision="rev-2")
    assert on.canary == f"canary={cookie_value(UID, 'rev-2')}"
    assert on.primary == f"primary={cookie_value(UID, 'primary')}"
    assert next_cookies(on, affinity, canary_weight=20, uid=UID, revision="rev-2") == on
    off = next_cookies(on, affinity, canary_weight=0, uid=UID, revision="rev-2")
    assert off == AffinityCookies(canary="", primary=on.primary, previous=on.canary)
    assert next_cookies(off, affinity, canary_weight=0, uid=UID, revision="rev-2") == off
    assert next_cookies(none, None, canary_weight=50, uid=UID, revision="rev-2") == none


def test_a_step_carries_the_run_cookie_and_the_status_keeps_it() -> None:
    body = gateway_canary(sessionAffinity={"cookieName": "canary"})
    decision = tick(snapshot(body, progressing(10), routes=Routes(primary=90, canary=10)))
    set_routes = [a for a in decision.actions if isinstance(a, SetRoutes)]
    assert [a.routes for a in set_routes] == [Routes(primary=80, canary=20)]
    cookie = f"canary={cookie_value(UID, 'rev-2')}"
    assert set_routes[0].cookies.canary == cookie
    dumped = dump_status(decision.status)
    assert dumped["sessionAffinityCookie"] == cookie
    assert parse_status(dumped).cookies == decision.status.cookies
    # the same tick replayed (after a crash) renders the same cookie
    again = tick(snapshot(body, progressing(10), routes=Routes(primary=90, canary=10)))
    assert again.status.cookies == decision.status.cookies


def test_steps_and_the_status_weight_come_from_the_router() -> None:
    """The status said 10, the router object says 30: the step goes 30 → 40, and the status
    shows what the router says."""
    body = gateway_canary()
    decision = tick(snapshot(body, progressing(10), routes=Routes(primary=70, canary=30)))
    assert [a.routes for a in decision.actions if isinstance(a, SetRoutes)] == [
        Routes(primary=60, canary=40)
    ]
    assert decision.status.canary_weight == 40
    idle = decide(
        snapshot(body, progressing(10), routes=Routes(primary=70, canary=30)),
        {},
        now=NOW,
        analysis_due=False,
    )
    assert isinstance(idle, Decision)
    assert idle.status.canary_weight == 30


def test_every_tick_reconciles_the_router() -> None:
    decision = tick(
        snapshot(gateway_canary(), progressing(10), routes=Routes(primary=90, canary=10))
    )
    assert any(isinstance(a, ReconcileRouter) for a in decision.actions)


def test_a_route_problem_holds_the_analysis_with_its_message() -> None:
    message = (
        "HTTPRoute podinfo.test parent gateway is not ready (status: False, observed "
        "generation: 1, current generation: 2)"
    )
    decision = tick(
        snapshot(
            gateway_canary(),
            progressing(10),
            routes=Routes(primary=90, canary=10),
            route_problem=message,
        )
    )
    assert decision.reason == "RoutesUnavailable"
    ready = decision.status.condition("Ready")
    assert ready is not None and ready.status == "False" and ready.message == message
    assert RecordEvent(warning=True, message=message) in decision.actions
    assert not [a for a in decision.actions if isinstance(a, SetRoutes)]
    assert decision.status.failed_checks == 0


def test_a_router_problem_holds_before_anything_is_written() -> None:
    message = "the HTTPRoute CRD (httproutes.gateway.networking.k8s.io) is not installed"
    decision = tick(
        Snapshot(
            canary=parse_canary(gateway_canary()),
            status=CanaryStatus(),
            target_kind="Deployment",
            revision="rev-1",
            capabilities=GATEWAY,
            router_problem=message,
        )
    )
    assert decision.reason == "RouterUnavailable"
    assert [type(a) for a in decision.actions] == [RecordEvent]


def test_a_failed_promotion_sends_all_traffic_to_the_canary() -> None:
    body = gateway_canary(
        match=[{"headers": {"x-canary": {"exact": "1"}}}], iterations=2, stepWeight=None
    )
    status = CanaryStatus(
        phase=Phase.PROMOTING,
        canary_weight=100,
        iterations=3,
        last_applied_spec="rev-2",
        last_promoted_spec="rev-1",
        tracked_configs={},
    )
    snap = snapshot(
        body,
        status,
        routes=Routes(primary=0, canary=100),
        primary=Readiness(ready=False, stuck=True, message="primary stuck"),
    )
    decision = tick(snap)
    routes = [a for a in decision.actions if isinstance(a, SetRoutes)]
    assert routes == [SetRoutes(routes=Routes(primary=0, canary=100), matched_only=False)]


def test_a_split_the_status_never_recorded_brings_its_cookie_back() -> None:
    """The controller stopped after writing the router object (weight 30, sticky cookie) but
    before the status: the next tick reads 30 back and records the same derived cookie."""
    body = gateway_canary(sessionAffinity={"cookieName": "canary"})
    snap = snapshot(body, progressing(0), routes=Routes(primary=70, canary=30))
    decision = decide(snap, {}, now=NOW, analysis_due=False)
    assert isinstance(decision, Decision)
    assert decision.status.canary_weight == 30
    assert decision.status.cookies.canary == f"canary={cookie_value(UID, 'rev-2')}"
