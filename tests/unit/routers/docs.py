"""docs/routers.md, generated from the routers' golden fixtures so it cannot drift.

`python -m tests.unit.routers.docs` rewrites the file; `tests/unit/routers/test_docs.py` fails
when the committed file differs from `render()`. The cases come from
`tests/fixtures/routers/<slug>/*.yaml` (see `tests/unit/routers/golden.py`), whose `expected`
writes the golden tests check against the routers' code; the capability table comes from
`ensign.model.capabilities.CAPABILITIES` and `ensign.routers.registry.known_providers()`.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers.registry import known_providers
from tests.unit.routers.golden import FIXTURES, Case, load_cases

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "routers.md"
JSON = dict[str, Any]

# Metadata every written object carries and that says nothing about the case; the intro
# explains it once instead of repeating it in every example.
_HIDDEN_META = ("ownerReferences", "resourceVersion", "uid", "generation", "creationTimestamp")
_HIDDEN_ANNOTATIONS = (
    "kustomize.toolkit.fluxcd.io/reconcile",
    "helm.toolkit.fluxcd.io/driftDetection",
)
_CANARY_KEYS = ("ingressRef", "service", "analysis")

_ROUTERS = {
    "gatewayapi": (
        "Gateway API",
        "`gatewayapi:v1` and `gatewayapi:v1beta1` write one HTTPRoute named after the apex "
        "Service (`spec.service.name`, else the target's name) whose backends are "
        "`<apex>-primary` and `<apex>-canary`; the weights are read back from it. With "
        "`gatewayapi:v1` the route is trusted only once every parent has accepted it.",
    ),
    "istio": (
        "Istio",
        "`istio` writes the DestinationRules `<apex>-primary` and `<apex>-canary` and the "
        "VirtualService `<apex>` (networking.istio.io/v1beta1) whose HTTP (or TCP) routes send "
        "traffic to them; the weights are read back from the VirtualService. A VirtualService "
        "the user created first is taken over, its original spec kept once in "
        "`flagger.kubernetes.io/original-configuration` and restored on deletion.",
    ),
    "nginx": (
        "NGINX Ingress",
        "`nginx` copies the Ingress named by `ingressRef` to `<ingress>-canary`, pointing at "
        "`<apex>-canary`, and moves traffic through its `canary-*` annotations (prefix "
        "`--ingress-annotations-prefix`, `nginx.ingress.kubernetes.io` by default); the user's "
        "Ingress is never written.",
    ),
    "contour": (
        "Contour",
        "`contour` writes the HTTPProxy `<apex>` (projectcontour.io/v1): one route (or the A/B "
        "routes) to `<apex>-primary` and `<apex>-canary` with weights and Linkerd's "
        "`l5d-dst-override` headers, `spec.ingressClassName` from `--ingress-class`.",
    ),
    "gloo": (
        "Gloo Edge",
        "`gloo` writes two Upstreams for `<apex>-primary` and `<apex>-canary` (settings copied "
        "from `upstreamRef`) and the RouteTable `<apex>` whose destinations carry the weights.",
    ),
    "traefik": (
        "Traefik",
        "`traefik` writes the TraefikService `<apex>` (traefik.io/v1alpha1), a weighted round "
        "robin over `<apex>-primary` and, while it has weight, `<apex>-canary`.",
    ),
    "skipper": (
        "Skipper",
        "`skipper` copies the Ingress named by `ingressRef` to `<ingress>-canary`, with the apex "
        "paths pointed at `<apex>-primary` and duplicated to `<apex>-canary`, weighted by "
        "`zalando.org/backend-weights`.",
    ),
    "apisix": (
        "APISIX",
        "`apisix` copies the http route of the ApisixRoute named by `routeRef` that targets the "
        "apex to `<route>-<apex>-canary`, with the highest priority and two weighted backends; "
        "the user's route is never written.",
    ),
    "kuma": (
        "Kuma",
        "`kuma` writes the cluster-scoped TrafficRoute `<apex>` (mesh from the Canary's "
        "`kuma.io/mesh` annotation). It has no owner reference, so the Canary keeps its "
        "finalizer and Ensign deletes the route when the Canary goes.",
    ),
    "appmesh": (
        "AWS App Mesh",
        "`appmesh` (appmesh.k8s.aws/v1beta1) and `appmesh:v1beta2` write virtual nodes for the "
        "primary and the canary, virtual routers with weighted targets (A/B through the routes "
        "`<apex>-a` and `<apex>-b`) and the virtual services; they are reconciled before the "
        "primary workload is created, so the nodes exist before its pods start.",
    ),
    "smi": (
        "SMI (Linkerd, OSM)",
        "`linkerd`, `osm` and `smi:v1alpha1`/`v1alpha2`/`v1alpha3` write one TrafficSplit "
        "(split.smi-spec.io) named after the apex Service, whose backends `<apex>-canary` and "
        "`<apex>-primary` carry the weights (quantities in v1alpha1, integers after); "
        "`linkerd` writes v1alpha1 and `osm` v1alpha2. The weights are read back from it.",
    ),
}


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=100, default_flow_style=False).rstrip()


def _yaml_block(data: Any) -> list[str]:
    return ["```yaml", _dump(data), "```"]


def compact(body: JSON) -> JSON:
    """The object without the bookkeeping metadata (owner, versions, GitOps annotations)."""
    out = copy.deepcopy(body)
    meta = out.get("metadata") or {}
    for key in _HIDDEN_META:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        for key in _HIDDEN_ANNOTATIONS:
            annotations.pop(key, None)
        if not annotations:
            meta.pop("annotations")
    out.pop("status", None)
    return out


def canary_excerpt(case: Case) -> JSON:
    spec = case.data["canary"].get("spec") or {}
    return {"spec": {k: spec[k] for k in _CANARY_KEYS if k in spec}}


def split_text(case: Case) -> str:
    raw = case.data.get("split") or {}
    primary, canary = raw.get("primary", 100), raw.get("canary", 0)
    parts = [f"primary {primary} / canary {canary}"]
    if raw.get("mirrored"):
        parts.append("mirrored")
    if not raw.get("matchedOnly", True):
        parts.append("applied to all traffic (not only the matched requests)")
    cookies = {k: v for k, v in (raw.get("cookies") or {}).items() if v}
    for name, value in cookies.items():
        parts.append(f"{name} cookie `{value}`")
    if "split" not in case.data:
        parts.append("(the default)")
    return ", ".join(parts)


def live_text(case: Case) -> str:
    objects = case.data.get("objects") or []
    if not objects:
        return "none"
    return ", ".join(f"{o['kind']} `{o['metadata']['name']}`" for o in objects)


def render_case(case: Case) -> list[str]:
    data = case.data
    lines = [f"### `{case.path.stem}`", "", str(data["description"]).strip(), ""]
    lines.append(f"- provider: `{data['provider']}`")
    settings = data.get("settings")
    if settings:
        flags = ", ".join(f"{k}: `{v}`" for k, v in settings.items())
        lines.append(f"- controller settings: {flags}")
    lines.append(f"- split: {split_text(case)}")
    lines.append(f"- live objects: {live_text(case)}")
    routes = data.get("routes")
    if routes is not None:
        mirrored = ", mirrored" if routes.get("mirrored") else ""
        lines.append(
            f"- read back afterwards: primary {routes['primary']} / canary {routes['canary']}"
            f"{mirrored}"
        )
    lines += ["", "Canary (excerpt):", "", *_yaml_block(canary_excerpt(case)), ""]
    expected = data.get("expected") or []
    if not expected:
        lines += ["Ensign writes nothing: the live objects already match.", ""]
        return lines
    for change in expected:
        action = change["action"]
        if action == "delete":
            lines += [
                f"Ensign deletes {change['kind']} `{change['namespace']}/{change['name']}`.",
                "",
            ]
            continue
        obj = change["object"]
        verb = "creates" if action == "create" else "replaces"
        name = obj["metadata"]["name"]
        lines += [f"Ensign {verb} {obj['kind']} `{name}`:", "", *_yaml_block(compact(obj)), ""]
    return lines


STRATEGIES: tuple[tuple[str, Callable[[frozenset[Capability]], bool]], ...] = (
    ("progressive canary", lambda c: Capability.WEIGHTS in c),
    ("A/B testing", lambda c: Capability.HEADER_MATCH in c),
    ("Blue/Green", lambda c: Capability.BLUE_GREEN in c),
    ("Blue/Green mirroring", lambda c: Capability.MIRROR in c),
    ("canary mirror pre-stage", lambda c: Capability.CANARY_MIRROR in c),
    ("session affinity", lambda c: Capability.SESSION_AFFINITY in c),
)


def strategy_matrix() -> list[str]:
    """Strategies by providers, derived from the capability table (never written by hand)."""
    implemented = set(known_providers())
    head = "| provider | in this build | " + " | ".join(n for n, _ in STRATEGIES) + " |"
    rows = [head, "|" + "---|" * (len(STRATEGIES) + 2)]
    for provider in sorted(CAPABILITIES, key=lambda p: p.value):
        caps = CAPABILITIES[provider]
        marks = " | ".join("✓" if supports(caps) else "" for _, supports in STRATEGIES)
        built = "yes" if provider.value in implemented else "no (see docs/compatibility.md)"
        rows.append(f"| `{provider.value}` | {built} | {marks} |")
    return rows


def capability_table() -> list[str]:
    implemented = set(known_providers())
    columns = list(Capability)
    head = "| provider | in this build | " + " | ".join(c.value for c in columns) + " |"
    rule = "|" + "---|" * (len(columns) + 2)
    rows = [head, rule]
    for provider in sorted(CAPABILITIES, key=lambda p: p.value):
        caps = CAPABILITIES[provider]
        marks = " | ".join("✓" if c in caps else "" for c in columns)
        built = "yes" if provider.value in implemented else "no"
        rows.append(f"| `{provider.value}` | {built} | {marks} |")
    return rows


INTRO = """\
# Routers

<!-- Generated by `python -m tests.unit.routers.docs` from tests/fixtures/routers/; do not
edit by hand (tests/unit/routers/test_docs.py fails when this file is out of date). -->

A *router* is Ensign's per-provider knowledge of how live traffic is split between the
primary and the canary (`spec.provider`, or the controller's `--mesh-provider`). Routers are
pure (`src/ensign/routers/protocol.py`): the controller reads the objects a router names from
its watch caches, hands them over, and applies the changes the router returns. The seam has
four methods:

- `refs(canary)`: the objects the router reads (its own, and the user's objects it copies,
  such as the Ingress named by `ingressRef`);
- `read_routes(canary, objects)`: the split in force, read back from those objects; the only
  source for the engine's stepping and for `status.canaryWeight`;
- `render(canary, objects, split)`: the creates, replaces and deletes that put a split in
  force; nothing when the live objects already match. Every tick renders the split read back,
  so a reconcile or a spec change never resets the weights;
- `finalize(canary, objects)`: what to restore when the canary is deleted.

An unknown provider is refused by name (Flagger falls back to Istio). A spec that asks a
provider for something it cannot do (A/B matching on a mesh without it, mirroring on NGINX,
...) is refused with an error naming the field, from this table
(`ensign.model.capabilities`):
"""

EXAMPLES = """\
## Examples

Each example below is a golden case of the router's tests: a Canary, the live objects, a
split to put in force, and exactly the objects Ensign writes. Written objects are shown
without their bookkeeping metadata: every object Ensign creates is owned by the Canary
(`ownerReferences`, controller) and carries `kustomize.toolkit.fluxcd.io/reconcile: disabled`
and `helm.toolkit.fluxcd.io/driftDetection: disabled` so GitOps tools leave it alone; a
replace carries the live `resourceVersion` (a conflict restarts the tick).
"""


def render() -> str:
    lines = INTRO.splitlines()
    lines += ["", "### Strategies by provider", "", *strategy_matrix(), ""]
    lines += ["### Capabilities by provider", "", *capability_table(), ""]
    lines += EXAMPLES.splitlines()
    slugs = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
    for slug in slugs:
        title, blurb = _ROUTERS.get(slug, (slug, ""))
        cases = load_cases(slug)
        lines += ["", f"## {title}", ""]
        if blurb:
            lines += [blurb, ""]
        lines += [f"{len(cases)} cases:", ""]
        lines += [f"- [`{c.path.stem}`](#{c.path.stem}): {c.data['description']}" for c in cases]
        lines.append("")
        for case in cases:
            lines += render_case(case)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    DOC.write_text(render())
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
