"""The Istio router (`provider: istio`).

Golden cases (tests/fixtures/routers/istio/*.yaml) pin the VirtualService and
DestinationRules written for each feature and show that a render at the live split of an
unchanged spec writes nothing. The tests here cover what a golden case cannot: reading the
split back, a round trip over a table of splits, `finalize`, the take-over sequence end to
end, render errors, Protocol conformance and the capability row.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from ensign.engine.affinity import AffinityCookies
from ensign.engine.weights import Routes
from ensign.kube.kinds import DESTINATIONRULE, VIRTUALSERVICE
from ensign.model import Canary, parse_canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers import Router
from ensign.routers.istio import LAST_APPLIED, ORIGINAL_CONFIGURATION, IstioRouter
from ensign.routers.protocol import (
    CreateObject,
    ObjectRef,
    ReplaceObject,
    RouteError,
    Split,
)
from ensign.routers.registry import make_router
from tests.unit.routers._support import UID
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

STEP = {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10}
BLUE_GREEN = {"interval": "1m", "threshold": 5, "iterations": 10}
ROUTER = IstioRouter()


def istio_canary(
    service: dict[str, Any] | None = None, analysis: dict[str, Any] | None = None
) -> Canary:
    svc: dict[str, Any] = {"port": 9898}
    svc.update(service or {})
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "provider": "istio",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": svc,
                "analysis": analysis or dict(STEP),
            },
        }
    )


def applied(canary: Canary, split: Split, objects: Objects | None = None) -> Objects:
    """The objects after rendering `split` and applying the changes."""
    objects = objects or Objects([])
    for change in ROUTER.render(canary, objects, split, canary_uid=UID):
        objects.apply(change)
    return objects


def split(primary: int, canary: int, **kwargs: Any) -> Split:
    mirrored = kwargs.pop("mirrored", False)
    return Split(routes=Routes(primary=primary, canary=canary, mirrored=mirrored), **kwargs)


def virtual_service(http: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    body_spec: dict[str, Any] = {"hosts": ["podinfo"], **spec}
    if http is not None:
        body_spec["http"] = http
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "7"},
        "spec": body_spec,
    }


def dest(host: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"destination": {"host": host}, **extra}
    if weight is not None:
        out["weight"] = weight
    return out


# --- golden cases --------------------------------------------------------------------


@pytest.mark.parametrize("case", load_cases("istio"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


# --- protocol, registry, capabilities -------------------------------------------------


def test_router_matches_its_row() -> None:
    router: Router = make_router("istio")
    assert isinstance(router, IstioRouter)
    assert router.name == "istio"
    assert router.capabilities == CAPABILITIES[Provider.ISTIO]
    assert Capability.PARENT_STATUS not in router.capabilities
    assert {Capability.CANARY_MIRROR, Capability.SESSION_AFFINITY} <= router.capabilities
    assert router.kinds == (VIRTUALSERVICE, DESTINATIONRULE)


def test_refs_name_the_three_objects() -> None:
    canary = istio_canary({"name": "frontend"})
    assert ROUTER.refs(canary) == (
        ObjectRef(kind=VIRTUALSERVICE, namespace="test", name="frontend"),
        ObjectRef(kind=DESTINATIONRULE, namespace="test", name="frontend-primary"),
        ObjectRef(kind=DESTINATIONRULE, namespace="test", name="frontend-canary"),
    )


def test_satisfies_router_protocol() -> None:
    router: Router = IstioRouter()
    assert router.name == Provider.ISTIO.value


# --- read_routes ---------------------------------------------------------------------


def test_read_routes_none_without_virtual_service() -> None:
    assert ROUTER.read_routes(istio_canary(), Objects([])) is None


def test_read_routes_from_last_http_route_with_canary() -> None:
    vs = virtual_service(
        [
            {"route": [dest("podinfo-primary", 10), dest("podinfo-canary", 90)]},
            {"route": [dest("podinfo-primary", 70), dest("podinfo-canary", 30)]},
            {"route": [dest("podinfo-primary", 100)]},
        ]
    )
    assert ROUTER.read_routes(istio_canary(), Objects([vs])) == Routes(primary=70, canary=30)


def test_read_routes_missing_weight_counts_as_zero() -> None:
    vs = virtual_service([{"route": [dest("podinfo-primary", 100), dest("podinfo-canary")]}])
    assert ROUTER.read_routes(istio_canary(), Objects([vs])) == Routes(primary=100, canary=0)


def test_read_routes_mirrored_from_that_route() -> None:
    vs = virtual_service(
        [
            {
                "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
                "mirror": {"host": "podinfo-canary"},
            }
        ]
    )
    routes = ROUTER.read_routes(istio_canary(), Objects([vs]))
    assert routes == Routes(primary=100, canary=0, mirrored=True)


def test_read_routes_tcp() -> None:
    canary = istio_canary({"appProtocol": "tcp"})
    vs = virtual_service(
        [{"route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)]}],
        tcp=[
            {"route": [dest("podinfo-primary", 20), dest("podinfo-canary", 80)]},
            {"route": [dest("other", 100)]},
        ],
    )
    assert ROUTER.read_routes(canary, Objects([vs])) == Routes(primary=20, canary=80)


def test_app_protocol_change_keeps_the_split_in_force() -> None:
    http = istio_canary()
    tcp = istio_canary({"appProtocol": "tcp"})
    objects = applied(http, split(70, 30))
    assert ROUTER.read_routes(tcp, objects) == Routes(primary=70, canary=30)
    applied(tcp, split(70, 30), objects)
    vs = objects.get(VIRTUALSERVICE, "test", "podinfo")
    assert vs is not None and "http" not in vs["spec"]
    assert ROUTER.read_routes(http, objects) == Routes(primary=70, canary=30)


def test_read_routes_with_session_affinity_uses_weighted_route() -> None:
    canary = istio_canary(
        None, {**STEP, "sessionAffinity": {"cookieName": "c", "primaryCookieName": "p"}}
    )
    cookie = {"headers": {"response": {"add": {"Set-Cookie": "c=x; Max-Age=60"}}}}
    vs = virtual_service(
        [
            {"route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)]},
            {"route": [dest("podinfo-primary", 80), dest("podinfo-canary", 20, **cookie)]},
            {"route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)]},
        ]
    )
    assert ROUTER.read_routes(canary, Objects([vs])) == Routes(primary=80, canary=20)
    # Without session affinity the last route wins.
    assert ROUTER.read_routes(istio_canary(), Objects([vs])) == Routes(primary=100, canary=0)


@pytest.mark.parametrize(
    "http",
    [
        [],
        [{"route": [dest("podinfo-primary", 100)]}],
        [{"route": [dest("podinfo-primary", 0), dest("podinfo-canary", 0)]}],
    ],
)
def test_read_routes_without_weights_is_flaggers_error(http: list[dict[str, Any]]) -> None:
    with pytest.raises(RouteError) as error:
        ROUTER.read_routes(istio_canary(), Objects([virtual_service(http)]))
    assert str(error.value) == (
        "VirtualService podinfo.test does not contain routes for podinfo-primary and podinfo-canary"
    )


@pytest.mark.parametrize(
    ("primary", "canary_weight"), [("90", 10), (90, 20), (True, 10), (-10, 110)]
)
def test_read_routes_malformed_weights(primary: Any, canary_weight: Any) -> None:
    vs = virtual_service(
        [{"route": [dest("podinfo-primary", primary), dest("podinfo-canary", canary_weight)]}]
    )
    with pytest.raises(RouteError, match="malformed weights"):
        ROUTER.read_routes(istio_canary(), Objects([vs]))


AFFINITY = {**STEP, "sessionAffinity": {"cookieName": "c", "primaryCookieName": "p"}}
COOKIES = AffinityCookies(canary="c=abc", primary="p=def", previous="c=old")
ROUND_TRIP_CANARIES = {
    "plain": istio_canary(),
    "tcp": istio_canary({"appProtocol": "TCP", "match": [{"port": 9898}]}),
    "fields": istio_canary(
        {"match": [{"uri": {"prefix": "/api"}}], "timeout": "5s", "retries": {"attempts": 2}}
    ),
    "ports": istio_canary({"portDiscovery": True, "gateways": ["public"]}),
    "delegate": istio_canary({"delegation": True}),
    "ab": istio_canary(
        {"match": [{"uri": {"prefix": "/"}}]},
        {**BLUE_GREEN, "match": [{"headers": {"x-canary": {"exact": "1"}}}]},
    ),
    "mirror": istio_canary(None, {**BLUE_GREEN, "mirror": True, "mirrorWeight": 40}),
    "affinity": istio_canary(None, AFFINITY),
}
ROUND_TRIP_SPLITS = [
    split(100, 0),
    split(90, 10),
    split(50, 50),
    split(1, 99),
    split(0, 100),
    split(100, 0, mirrored=True),
    split(60, 40, matched_only=False),
    split(90, 10, cookies=COOKIES),
    split(100, 0, cookies=COOKIES),
]


ROUND_TRIPS = [
    (name, the_split)
    for name in sorted(ROUND_TRIP_CANARIES)
    for the_split in ROUND_TRIP_SPLITS
    if not (name == "tcp" and the_split.routes.mirrored)  # refused: TCP cannot be mirrored
]


@pytest.mark.parametrize(("name", "the_split"), ROUND_TRIPS)
def test_round_trip(name: str, the_split: Split) -> None:
    """read_routes(apply(render(split))) == split.routes, and a second render is empty."""
    canary = ROUND_TRIP_CANARIES[name]
    objects = applied(canary, the_split, applied(canary, split(100, 0)))
    assert ROUTER.read_routes(canary, objects) == the_split.routes
    # ... and rendering the same split again writes nothing.
    assert ROUTER.render(canary, objects, the_split, canary_uid=UID) == ()


# --- render --------------------------------------------------------------------------


def test_render_never_resets_weights_on_spec_change() -> None:
    objects = applied(istio_canary(), split(70, 30))
    changed = istio_canary({"timeout": "9s"})
    (change,) = ROUTER.render(changed, objects, split(70, 30), canary_uid=UID)
    assert isinstance(change, ReplaceObject)
    objects.apply(change)
    assert ROUTER.read_routes(changed, objects) == Routes(primary=70, canary=30)


def test_delegation_with_hosts_is_an_error() -> None:
    canary = istio_canary({"delegation": True})
    assert canary.spec.service is not None
    service = dataclasses.replace(canary.spec.service, hosts=("app.example.com",))
    broken = dataclasses.replace(canary, spec=dataclasses.replace(canary.spec, service=service))
    with pytest.raises(RouteError, match="cannot have hosts and gateways when delegation"):
        ROUTER.render(broken, Objects([]), Split(), canary_uid=UID)


def test_render_without_service_is_an_error() -> None:
    canary = istio_canary()
    broken = dataclasses.replace(canary, spec=dataclasses.replace(canary.spec, service=None))
    with pytest.raises(RouteError, match=r"spec\.service is required"):
        ROUTER.render(broken, Objects([]), Split(), canary_uid=UID)


@pytest.mark.parametrize(
    ("analysis", "field"),
    [
        ({**BLUE_GREEN, "match": [{"headers": {"x": {"exact": "1"}}}]}, "analysis.match"),
        ({**BLUE_GREEN, "mirror": True}, "analysis.mirror"),
        ({**STEP, "sessionAffinity": {"cookieName": "c"}}, "analysis.sessionAffinity"),
    ],
)
def test_tcp_refuses_http_only_features(analysis: dict[str, Any], field: str) -> None:
    canary = istio_canary({"appProtocol": "tcp"}, analysis)
    with pytest.raises(RouteError, match=rf"spec\.{field}: .*appProtocol tcp"):
        ROUTER.render(canary, Objects([]), Split(), canary_uid=UID)


def test_affinity_without_cookie_writes_weighted_route_only() -> None:
    canary = istio_canary(None, AFFINITY)
    objects = applied(canary, split(90, 10))
    vs = objects.get(VIRTUALSERVICE, "test", "podinfo")
    assert vs is not None
    (route,) = vs["spec"]["http"]
    assert [d["weight"] for d in route["route"]] == [90, 10]
    assert all("headers" not in d for d in route["route"])


def test_primary_cookie_needs_primary_cookie_name() -> None:
    canary = istio_canary(None, {**STEP, "sessionAffinity": {"cookieName": "c"}})
    objects = applied(canary, split(90, 10, cookies=COOKIES))
    vs = objects.get(VIRTUALSERVICE, "test", "podinfo")
    assert vs is not None
    assert len(vs["spec"]["http"]) == 2  # sticky canary + weighted
    primary, canary_dest = vs["spec"]["http"][1]["route"]
    assert "headers" not in primary
    assert canary_dest["headers"]["response"]["add"] == {"Set-Cookie": "c=abc; Max-Age=86400"}


def test_previous_cookie_expiry_keeps_service_headers() -> None:
    canary = istio_canary(
        {"headers": {"response": {"add": {"x-served-by": "podinfo"}, "remove": ["x-debug"]}}},
        AFFINITY,
    )
    objects = applied(canary, split(100, 0, cookies=COOKIES))
    vs = objects.get(VIRTUALSERVICE, "test", "podinfo")
    assert vs is not None
    expiry, weighted = vs["spec"]["http"]
    assert expiry["headers"]["response"] == {
        "add": {"x-served-by": "podinfo", "Set-Cookie": "c=old; Max-Age=-1"},
        "remove": ["x-debug"],
    }
    assert weighted["headers"]["response"]["add"] == {"x-served-by": "podinfo"}


def test_destination_rule_replace_keeps_live_metadata() -> None:
    canary = istio_canary({"trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}})
    live_rule = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": {
            "name": "podinfo-primary",
            "namespace": "test",
            "resourceVersion": "3",
            "labels": {"team": "web"},
            "annotations": {"note": "kept"},
        },
        "spec": {"host": "podinfo-primary"},
        "status": {"validationMessages": []},
    }
    changes = ROUTER.render(canary, Objects([live_rule]), Split(), canary_uid=UID)
    replaced = [c for c in changes if isinstance(c, ReplaceObject)]
    assert [c.kind for c in replaced] == [DESTINATIONRULE]
    body = replaced[0].body
    assert body["metadata"]["labels"] == {"team": "web"}
    assert body["metadata"]["annotations"]["note"] == "kept"
    assert body["metadata"]["resourceVersion"] == "3"
    assert "status" not in body
    assert body["spec"] == {
        "host": "podinfo-primary",
        "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
    }


def test_owned_virtual_service_stores_no_original() -> None:
    objects = applied(istio_canary(), split(90, 10))
    changes = ROUTER.render(istio_canary({"timeout": "3s"}), objects, split(90, 10), canary_uid=UID)
    (change,) = changes
    assert isinstance(change, ReplaceObject)
    assert ORIGINAL_CONFIGURATION not in change.body["metadata"]["annotations"]


# --- take-over and finalize ----------------------------------------------------------


USER_SPEC: dict[str, Any] = {
    "hosts": ["podinfo"],
    "http": [{"route": [{"destination": {"host": "podinfo"}}]}],
}


def test_take_over_keeps_the_first_original_and_finalize_restores_it() -> None:
    user = virtual_service(copy.deepcopy(USER_SPEC["http"]))
    user["metadata"]["annotations"] = {"team": "web"}
    objects = Objects([user])
    canary = istio_canary()
    applied(canary, split(100, 0), objects)
    stored = json.loads(_annotation(objects, ORIGINAL_CONFIGURATION))
    assert stored == USER_SPEC
    vs = objects.get(VIRTUALSERVICE, "test", "podinfo")
    assert vs is not None and "ownerReferences" not in vs["metadata"]
    # Steps and spec changes never overwrite the stored original (Flagger's quirk does).
    applied(canary, split(90, 10), objects)
    applied(istio_canary({"timeout": "3s"}), split(80, 20), objects)
    assert json.loads(_annotation(objects, ORIGINAL_CONFIGURATION)) == USER_SPEC

    (change,) = ROUTER.finalize(canary, objects)
    assert isinstance(change, ReplaceObject)
    assert change.body["spec"] == USER_SPEC
    assert ORIGINAL_CONFIGURATION not in change.body["metadata"].get("annotations", {})
    assert change.body["metadata"]["resourceVersion"] == "10"


def test_finalize_restores_from_last_applied_first() -> None:
    applied_spec = {"hosts": ["podinfo"], "http": [{"route": [{"destination": {"host": "v1"}}]}]}
    vs = virtual_service([{"route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)]}])
    last_applied = json.dumps({"apiVersion": "v1", "kind": "VirtualService", "spec": applied_spec})
    vs["metadata"]["annotations"] = {
        LAST_APPLIED: last_applied,
        ORIGINAL_CONFIGURATION: json.dumps(USER_SPEC),
        "other": "kept",
    }
    vs["status"] = {"observedGeneration": 1}
    (change,) = ROUTER.finalize(istio_canary(), Objects([vs]))
    assert isinstance(change, ReplaceObject)
    assert change.kind == VIRTUALSERVICE
    assert change.body["spec"] == applied_spec
    assert change.body["metadata"]["annotations"] == {LAST_APPLIED: last_applied, "other": "kept"}
    assert "status" not in change.body


def test_finalize_restores_from_original_configuration() -> None:
    vs = virtual_service([{"route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)]}])
    vs["metadata"]["annotations"] = {ORIGINAL_CONFIGURATION: json.dumps(USER_SPEC)}
    (change,) = ROUTER.finalize(istio_canary(), Objects([vs]))
    assert isinstance(change, ReplaceObject)
    assert change.body["spec"] == USER_SPEC
    assert "annotations" not in change.body["metadata"]


def test_finalize_does_nothing_for_an_owned_or_missing_virtual_service() -> None:
    objects = applied(istio_canary(), split(50, 50))
    assert ROUTER.finalize(istio_canary(), objects) == ()
    assert ROUTER.finalize(istio_canary(), Objects([])) == ()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (ORIGINAL_CONFIGURATION, "{not json", "is not valid JSON"),
        (ORIGINAL_CONFIGURATION, "[1]", "is not a JSON object"),
        (LAST_APPLIED, json.dumps({"kind": "VirtualService"}), "has no spec"),
    ],
)
def test_finalize_refuses_a_malformed_annotation(key: str, value: str, message: str) -> None:
    vs = virtual_service([])
    vs["metadata"]["annotations"] = {key: value}
    with pytest.raises(RouteError, match=message):
        ROUTER.finalize(istio_canary(), Objects([vs]))


def test_create_writes_owner_reference_everywhere() -> None:
    changes = ROUTER.render(istio_canary(), Objects([]), Split(), canary_uid=UID)
    created = [change for change in changes if isinstance(change, CreateObject)]
    assert len(created) == len(changes) == 3
    assert [c.body["metadata"]["ownerReferences"][0]["uid"] for c in created] == [UID] * 3


def _annotation(objects: Objects, key: str) -> str:
    vs = objects.get(VIRTUALSERVICE, "test", "podinfo")
    assert vs is not None
    return str(vs["metadata"]["annotations"][key])
