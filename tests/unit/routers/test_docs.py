"""docs/routers.md is generated from the golden fixtures and must be committed up to date."""

from __future__ import annotations

import functools

from ensign.model.capabilities import CAPABILITIES
from ensign.routers.registry import known_providers
from tests.unit.routers import docs
from tests.unit.routers.golden import load_cases


@functools.cache
def rendered() -> str:
    """The generated doc, rendered once for the whole module."""
    return docs.render()


def test_committed_file_is_up_to_date() -> None:
    path = docs.DOC
    assert path.exists(), f"{path} is missing; run `python -m tests.unit.routers.docs`"
    assert path.read_text() == rendered(), (
        f"{path.relative_to(docs.ROOT)} differs from what the generator makes; "
        "run `python -m tests.unit.routers.docs` (it comes from tests/fixtures/routers/)"
    )


def test_every_case_and_provider_is_documented() -> None:
    text = rendered()
    for slug in (
        "gatewayapi",
        "istio",
        "nginx",
        "smi",
        "contour",
        "gloo",
        "traefik",
        "skipper",
        "apisix",
        "kuma",
        "appmesh",
    ):
        for case in load_cases(slug):
            assert f"### `{case.path.stem}`" in text, case.id
            assert str(case.data["description"]).strip() in text, case.id
    for provider in CAPABILITIES:
        built = "yes" if provider.value in known_providers() else "no"
        assert f"| `{provider.value}` | {built} |" in text


def test_written_objects_are_shown_without_bookkeeping() -> None:
    body = {
        "kind": "HTTPRoute",
        "metadata": {
            "name": "podinfo",
            "resourceVersion": "3",
            "ownerReferences": [{"kind": "Canary"}],
            "annotations": {"kustomize.toolkit.fluxcd.io/reconcile": "disabled", "a": "b"},
        },
        "status": {},
    }
    assert docs.compact(body) == {
        "kind": "HTTPRoute",
        "metadata": {"name": "podinfo", "annotations": {"a": "b"}},
    }


def test_strategy_matrix_is_derived_from_the_capability_table() -> None:
    """The strategies-by-provider matrix in docs/routers.md is the capability table's, row for
    row: a provider gaining or losing a capability changes the doc (and this test catches a
    doc that was not regenerated)."""
    text = (docs.ROOT / "docs" / "routers.md").read_text()
    for row in docs.strategy_matrix():
        assert row in text
    istio = next(r for r in docs.strategy_matrix() if r.startswith("| `istio`"))
    assert istio.count("✓") == len(docs.STRATEGIES)
    kubernetes = next(r for r in docs.strategy_matrix() if r.startswith("| `kubernetes`"))
    assert kubernetes.count("✓") == 1  # Blue/Green only
