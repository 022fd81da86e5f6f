"""The `nginx` provider router: the canary Ingress and its ingress-nginx annotations.

Matrix: golden cases (tests/fixtures/routers/nginx), `read_routes` (missing, weights, A/B,
malformed weights), `RouteError`s (user Ingress missing, no apex backend, every match field
NGINX cannot express), refs, finalize, Protocol conformance and the capability row.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import INGRESS
from ensign.model import Canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.nginx import NginxRouter, header_route, nginx_match_errors
from ensign.routers.protocol import (
    CreateObject,
    ObjectRef,
    ReplaceObject,
    RouteError,
    Router,
    RouterSettings,
    Split,
)
from ensign.routers.registry import make_router
from tests.unit.routers._support import UID, ingress_canary, user_ingress
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

P = "nginx.ingress.kubernetes.io"
A_B_SPLIT = Split(routes=Routes(primary=0, canary=100))


@pytest.mark.parametrize("case", load_cases("nginx"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_exist_and_are_described() -> None:
    cases = load_cases("nginx")
    assert len(cases) >= 15
    for case in cases:
        description = case.data["description"]
        assert description.endswith("."), case.id
        assert "\n" not in description.strip(), case.id


# -- builders ------------------------------------------------------------------------------


def nginx_canary(
    *, match: list[dict[str, Any]] | None = None, ingress: str | None = "podinfo"
) -> Canary:
    return ingress_canary("nginx", ingress=ingress, match=match)


def canary_ingress(annotations: dict[str, str]) -> dict[str, Any]:
    body = user_ingress("podinfo-canary")
    body["metadata"] = {
        "name": "podinfo-canary",
        "namespace": "test",
        "annotations": annotations,
    }
    return body


# -- protocol and capabilities -------------------------------------------------------------


def test_conforms_to_router_protocol() -> None:
    router: Router = NginxRouter()
    assert router.name == "nginx"
    assert router.kinds == (INGRESS,)
    assert router.capabilities == CAPABILITIES[Provider.NGINX]


def test_registry_passes_the_annotations_prefix() -> None:
    router = make_router("nginx", settings=RouterSettings(ingress_annotations_prefix="custom.io"))
    assert isinstance(router, NginxRouter)
    assert router.annotations_prefix == "custom.io"
    assert NginxRouter().annotations_prefix == P


def test_refs_name_the_user_and_canary_ingresses() -> None:
    assert NginxRouter().refs(nginx_canary()) == (
        ObjectRef(kind=INGRESS, namespace="test", name="podinfo"),
        ObjectRef(kind=INGRESS, namespace="test", name="podinfo-canary"),
    )
    assert NginxRouter().refs(nginx_canary(ingress=None)) == ()


def test_finalize_changes_nothing() -> None:
    objects = Objects([user_ingress(), canary_ingress({f"{P}/canary-weight": "10"})])
    assert NginxRouter().finalize(nginx_canary(), objects) == ()


# -- read_routes ---------------------------------------------------------------------------


def test_read_routes_none_without_canary_ingress() -> None:
    assert NginxRouter().read_routes(nginx_canary(), Objects([user_ingress()])) is None


@pytest.mark.parametrize("weight", [0, 1, 30, 100])
def test_read_routes_from_weight(weight: int) -> None:
    objects = Objects([canary_ingress({f"{P}/canary": "true", f"{P}/canary-weight": str(weight)})])
    assert NginxRouter().read_routes(nginx_canary(), objects) == Routes(
        primary=100 - weight, canary=weight
    )


@pytest.mark.parametrize(
    "key", [f"{P}/canary-by-header", f"{P}/canary-by-cookie"], ids=["header", "cookie"]
)
def test_read_routes_ab_by_header_or_cookie_is_all_canary(key: str) -> None:
    canary = nginx_canary(match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    objects = Objects([canary_ingress({f"{P}/canary": "true", key: "x-canary"})])
    assert NginxRouter().read_routes(canary, objects) == Routes(primary=0, canary=100)


def test_read_routes_ab_keys_ignored_without_match() -> None:
    annotations = {f"{P}/canary-by-header": "x", f"{P}/canary-weight": "20"}
    objects = Objects([canary_ingress(annotations)])
    assert NginxRouter().read_routes(nginx_canary(), objects) == Routes(primary=80, canary=20)


def test_read_routes_ab_at_rest_reads_the_weight() -> None:
    canary = nginx_canary(match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    objects = Objects([canary_ingress({f"{P}/canary": "true", f"{P}/canary-weight": "0"})])
    assert NginxRouter().read_routes(canary, objects) == Routes(primary=100, canary=0)


def test_read_routes_uses_the_prefix() -> None:
    objects = Objects([canary_ingress({"custom.io/canary-weight": "40"})])
    routes = NginxRouter(annotations_prefix="custom.io").read_routes(nginx_canary(), objects)
    assert routes == Routes(primary=60, canary=40)


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({}, "annotation nginx.ingress.kubernetes.io/canary-weight not found"),
        ({f"{P}/canary-weight": "ten"}, "is not an integer: 'ten'"),
        ({f"{P}/canary-weight": "10.5"}, "is not an integer"),
        ({f"{P}/canary-weight": "101"}, "is outside 0..100: 101"),
        ({f"{P}/canary-weight": "-1"}, "is outside 0..100: -1"),
    ],
)
def test_read_routes_bad_weight(annotations: dict[str, str], message: str) -> None:
    objects = Objects([canary_ingress(annotations)])
    with pytest.raises(RouteError, match=re.escape(message)):
        NginxRouter().read_routes(nginx_canary(), objects)


def test_read_routes_without_ingress_ref() -> None:
    with pytest.raises(RouteError, match="ingress selector is empty"):
        NginxRouter().read_routes(nginx_canary(ingress=None), Objects([]))


# -- render errors -------------------------------------------------------------------------


def test_render_user_ingress_missing() -> None:
    with pytest.raises(RouteError, match=r"ingress podinfo\.test not found"):
        NginxRouter().render(nginx_canary(), Objects([]), Split(), canary_uid=UID)


def test_render_without_ingress_ref() -> None:
    with pytest.raises(RouteError, match="ingress selector is empty"):
        NginxRouter().render(nginx_canary(ingress=None), Objects([]), Split(), canary_uid=UID)


def test_render_no_apex_backend() -> None:
    objects = Objects([user_ingress(backend="frontend")])
    with pytest.raises(RouteError, match=r"^backend podinfo not found in ingress podinfo$"):
        NginxRouter().render(nginx_canary(), objects, Split(), canary_uid=UID)


@pytest.mark.parametrize(
    ("match", "path"),
    [
        ([{"uri": {"prefix": "/api"}}], r"analysis\.match\[0\]\.uri: matching on uri"),
        ([{"method": {"exact": "GET"}}], r"analysis\.match\[0\]\.method"),
        ([{"queryParams": {"canary": {"exact": "1"}}}], r"analysis\.match\[0\]\.queryParams"),
        ([{"sourceLabels": {"app": "tester"}}], r"analysis\.match\[0\]\.sourceLabels"),
        (
            [{"headers": {"x-user": {"prefix": "beta-"}}}],
            r"analysis\.match\[0\]\.headers\.x-user\.prefix: a prefix header value",
        ),
        (
            [{"headers": {"x-user": {"suffix": "-beta"}}}],
            r"analysis\.match\[0\]\.headers\.x-user\.suffix",
        ),
        (
            [{"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}}],
            r"analysis\.match\[0\]\.headers\.cookie\.regex",
        ),
        (
            [{"headers": {"x-user": {"exact": "a"}, "x-tier": {"exact": "b"}}}],
            r"analysis\.match\[0\]\.headers\.x-tier: a second header condition",
        ),
        (
            [{"headers": {"x-user": {"exact": "a"}}}, {"headers": {"x-user": {"exact": "b"}}}],
            r"analysis\.match\[1\]\.headers\.x-user: a second header condition",
        ),
        (
            [{"headers": {"cookie": {"exact": "a"}}}, {"headers": {"cookie": {"exact": "b"}}}],
            r"analysis\.match\[1\]\.headers\.cookie: a second cookie",
        ),
    ],
)
def test_render_unsupported_match(match: list[dict[str, Any]], path: str) -> None:
    canary = nginx_canary(match=match)
    objects = Objects([user_ingress()])
    with pytest.raises(RouteError, match=f"^{path}.*not supported by provider nginx"):
        NginxRouter().render(canary, objects, A_B_SPLIT, canary_uid=UID)
    # Also at rest (weight 0), so a bad match is reported on the first tick.
    with pytest.raises(RouteError, match=f"^{path}"):
        NginxRouter().render(canary, objects, Split(), canary_uid=UID)
    assert nginx_match_errors(canary.spec.effective_analysis.match)


def test_render_partial_weight_on_matching_requests_is_refused() -> None:
    canary = nginx_canary(match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    split = Split(routes=Routes(primary=50, canary=50))
    with pytest.raises(RouteError, match=r"cannot send 50% of the matching requests"):
        NginxRouter().render(canary, Objects([user_ingress()]), split, canary_uid=UID)


def test_match_errors_empty_for_supported_match() -> None:
    match = (
        {"name": "insiders", "headers": {"x-canary": {"regex": "^insider$"}}},
        {"headers": {"cookie": {"exact": "canary"}, "x-canary": {"regex": "^insider$"}}},
    )
    assert nginx_match_errors(match) == ()
    route = header_route(match)
    assert (route.header, route.header_pattern, route.header_value, route.cookie) == (
        "x-canary",
        "^insider$",
        "",
        "canary",
    )


def test_match_without_header_or_cookie_is_refused() -> None:
    assert nginx_match_errors(({"headers": {}},)) == (
        ("analysis.match", "provider nginx needs a header or cookie condition"),
    )


# -- render behaviour not covered by the golden cases --------------------------------------


def test_render_never_writes_the_user_ingress() -> None:
    user = user_ingress()
    objects = Objects([copy.deepcopy(user)])
    changes = NginxRouter().render(nginx_canary(), objects, Split(), canary_uid=UID)
    assert [type(c) for c in changes] == [CreateObject]
    assert all(
        isinstance(c, CreateObject) and c.body["metadata"]["name"] == "podinfo-canary"
        for c in changes
    )
    assert objects.get(INGRESS, "test", "podinfo") == user


def test_render_then_render_again_is_stable() -> None:
    canary = nginx_canary(match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    router = NginxRouter()
    objects = Objects([user_ingress()])
    for split in (Split(), A_B_SPLIT, Split()):
        changes = router.render(canary, objects, split, canary_uid=UID)
        for change in changes:
            objects.apply(change)
        assert router.render(canary, objects, split, canary_uid=UID) == ()
        assert router.read_routes(canary, objects) == split.routes


def test_replace_keeps_live_metadata() -> None:
    live = canary_ingress({f"{P}/canary": "true", f"{P}/canary-weight": "0"})
    live["metadata"] |= {"resourceVersion": "3", "finalizers": ["x"], "labels": {"a": "b"}}
    live["status"] = {"loadBalancer": {}}
    changes = NginxRouter().render(
        nginx_canary(), Objects([user_ingress(), live]), Split(), canary_uid=UID
    )
    assert len(changes) == 1 and isinstance(changes[0], ReplaceObject)
    body = changes[0].body
    assert "status" not in body
    meta = body["metadata"]
    assert (meta["resourceVersion"], meta["finalizers"], meta["labels"]) == ("3", ["x"], {"a": "b"})
