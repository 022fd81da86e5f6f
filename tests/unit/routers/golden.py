"""Golden cases for routers: a Canary, the live objects and a split → the exact writes.

One YAML file per case under `tests/fixtures/routers/<provider-slug>/<case>.yaml`:

    description: one sentence (shown in docs/routers.md)
    provider: gatewayapi:v1          # the router under test
    settings: {ingressAnnotationsPrefix: ...}   # optional RouterSettings
    canary: {...}                    # a whole Canary body (metadata.uid is the owner uid)
    objects: [...]                   # live objects the router reads (optional)
    split:                           # optional; default 100/0, matchedOnly true, no cookies
      primary: 90
      canary: 10
      mirrored: false
      matchedOnly: true
      cookies: {canary: "", primary: "", previous: ""}
    expected:                        # exactly the changes `render` returns, in order
      - {action: create, object: {...}}
      - {action: replace, object: {...}}
      - {action: delete, kind: HTTPRoute, namespace: test, name: podinfo}
    routes: {primary: 90, canary: 10, mirrored: false}   # optional: read_routes after
                                                         # applying `expected` to `objects`

`ENSIGN_REGEN_GOLDEN=1 pytest tests/unit/routers` rewrites `expected` and `routes` from the
code (review the diff before committing). docs/routers.md is generated from these files.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ensign.engine.weights import Routes
from ensign.kube.kinds import Kind
from ensign.model import Canary, parse_canary
from ensign.routers.protocol import (
    AffinityCookies,
    CreateObject,
    DeleteObject,
    ObjectChange,
    ReplaceObject,
    RouterSettings,
    Split,
)
from ensign.routers.registry import make_router

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "routers"
REGENERATE = os.environ.get("ENSIGN_REGEN_GOLDEN") == "1"
JSON = dict[str, Any]


@dataclass(frozen=True)
class Case:
    path: Path
    data: JSON

    @property
    def id(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"


def load_cases(slug: str) -> list[Case]:
    """Every case of one router directory, sorted by file name."""
    return [
        Case(path, yaml.safe_load(path.read_text()))
        for path in sorted((FIXTURES / slug).glob("*.yaml"))
    ]


class Objects:
    """An `ObjectView` over a list of bodies, matched by group, kind, namespace and name
    (any served version, as an API server does)."""

    def __init__(self, bodies: list[JSON]) -> None:
        self.bodies = [copy.deepcopy(b) for b in bodies]

    def get(self, kind: Kind, namespace: str, name: str) -> Mapping[str, Any] | None:
        for body in self.bodies:
            meta = body.get("metadata") or {}
            group = str(body.get("apiVersion", "")).rpartition("/")[0]
            if (
                body.get("kind") == kind.kind
                and group == kind.group
                and (meta.get("namespace") or "") == namespace
                and meta.get("name") == name
            ):
                return body
        return None

    def apply(self, change: ObjectChange) -> None:
        if isinstance(change, DeleteObject):
            self.bodies = [
                b
                for b in self.bodies
                if not (
                    b.get("kind") == change.kind.kind
                    and (b.get("metadata") or {}).get("name") == change.name
                    and ((b.get("metadata") or {}).get("namespace") or "") == change.namespace
                )
            ]
            return
        body = copy.deepcopy(dict(change.body))
        meta = body.setdefault("metadata", {})
        existing = self.get(change.kind, meta.get("namespace") or "", meta["name"])
        version = int((existing or {}).get("metadata", {}).get("resourceVersion") or 0)
        meta["resourceVersion"] = str(version + 1)
        if existing is not None:
            self.bodies.remove(dict(existing))
        if change.kind.kind == "HTTPRoute":
            accept(body, previous=existing)
        self.bodies.append(body)


def accept(route: JSON, *, previous: Mapping[str, Any] | None) -> None:
    """What a gateway controller does with a written HTTPRoute: the generation moves with the
    spec, and every parent accepts the route at that generation."""
    meta = route["metadata"]
    generation = int((previous or {}).get("metadata", {}).get("generation") or 0)
    if previous is None or previous.get("spec") != route.get("spec"):
        generation += 1
    meta["generation"] = generation
    condition = {"type": "Accepted", "status": "True", "observedGeneration": generation}
    route["status"] = {
        "parents": [
            {"parentRef": dict(ref), "conditions": [dict(condition)]}
            for ref in route.get("spec", {}).get("parentRefs") or []
        ]
    }


def canary_of(case: Case) -> Canary:
    return parse_canary(copy.deepcopy(case.data["canary"]))


def split_of(case: Case) -> Split:
    raw = case.data.get("split") or {}
    cookies = raw.get("cookies") or {}
    return Split(
        routes=Routes(
            primary=int(raw.get("primary", 100)),
            canary=int(raw.get("canary", 0)),
            mirrored=bool(raw.get("mirrored", False)),
        ),
        matched_only=bool(raw.get("matchedOnly", True)),
        cookies=AffinityCookies(
            canary=str(cookies.get("canary", "")),
            primary=str(cookies.get("primary", "")),
            previous=str(cookies.get("previous", "")),
        ),
    )


def settings_of(case: Case) -> RouterSettings:
    raw = case.data.get("settings") or {}
    return RouterSettings(
        ingress_annotations_prefix=raw.get(
            "ingressAnnotationsPrefix", RouterSettings().ingress_annotations_prefix
        ),
        ingress_class=raw.get("ingressClass", ""),
    )


def change_as_yaml(change: ObjectChange) -> JSON:
    if isinstance(change, DeleteObject):
        return {
            "action": "delete",
            "kind": change.kind.kind,
            "namespace": change.namespace,
            "name": change.name,
        }
    action = "create" if isinstance(change, CreateObject) else "replace"
    assert isinstance(change, CreateObject | ReplaceObject)
    return {"action": action, "object": copy.deepcopy(dict(change.body))}


def run_case(case: Case) -> tuple[list[JSON], JSON | None]:
    """The changes `render` returns for the case, and `read_routes` after applying them."""
    canary = canary_of(case)
    router = make_router(case.data["provider"], settings=settings_of(case))
    objects = Objects(case.data.get("objects") or [])
    uid = str(case.data["canary"]["metadata"].get("uid", ""))
    changes = router.render(canary, objects, split_of(case), canary_uid=uid)
    for change in changes:
        objects.apply(change)
    routes = router.read_routes(canary, objects)
    read = (
        None
        if routes is None
        else {"primary": routes.primary, "canary": routes.canary, "mirrored": routes.mirrored}
    )
    return [change_as_yaml(c) for c in changes], read


def check_case(case: Case) -> None:
    """Assert the case, or rewrite its expectations when ENSIGN_REGEN_GOLDEN=1."""
    changes, routes = run_case(case)
    if REGENERATE:
        data = dict(case.data)
        data["expected"] = changes
        if routes is not None:
            data["routes"] = routes
        case.path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))
        return
    assert changes == case.data.get("expected", []), case.id
    if "routes" in case.data:
        assert routes == case.data["routes"], case.id
