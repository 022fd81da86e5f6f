"""Hypothesis properties: hashes ignore key order; renderers never mutate their inputs."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ensign.workloads.autoscalers import render_primary_hpa
from ensign.workloads.configs import (
    config_checksum,
    referenced_configs,
    render_config_copy,
    rewrite_config_refs,
)
from ensign.workloads.primary import (
    promote_daemonset,
    promote_deployment,
    render_primary_daemonset,
    render_primary_deployment,
)
from ensign.workloads.revision import revision_hash
from tests.unit.workloads_render import podinfo

keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-./", min_size=1, max_size=12)
scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
labels = st.dictionaries(keys, st.text(max_size=8), max_size=5)


def reorder(value: Any, rng: st.DataObject) -> Any:
    """The same JSON value with every dict's keys in a drawn order."""
    if isinstance(value, dict):
        order = rng.draw(st.permutations(list(value)))
        return {key: reorder(value[key], rng) for key in order}
    if isinstance(value, list):
        return [reorder(item, rng) for item in value]
    return value


@given(template=st.dictionaries(keys, json_values, max_size=5), data=st.data())
def test_revision_hash_is_stable_under_key_order(
    template: dict[str, Any], data: st.DataObject
) -> None:
    dep = podinfo.deployment()
    dep["spec"]["template"] = template
    shuffled = reorder(dep, data)
    for kind in ("Deployment", "DaemonSet"):
        assert revision_hash(dep, kind=kind) == revision_hash(shuffled, kind=kind)


@given(data=st.dictionaries(keys, st.text(max_size=10), max_size=6), rng=st.data())
def test_config_checksum_is_stable_under_key_order(
    data: dict[str, str], rng: st.DataObject
) -> None:
    cm = podinfo.configmap("c", data)
    assert config_checksum(cm) == config_checksum(reorder(cm, rng))


def _target(
    extra_labels: dict[str, str], annotations: dict[str, str], replicas: int
) -> dict[str, Any]:
    dep = podinfo.deployment(replicas=replicas)
    dep["metadata"]["labels"].update(extra_labels)
    dep["spec"]["template"]["metadata"]["annotations"].update(annotations)
    return dep


@settings(max_examples=50)
@given(
    extra_labels=labels,
    annotations=labels,
    replicas=st.integers(0, 5),
    prefixes=st.lists(st.sampled_from(["", "*", "app", "team", "x"]), max_size=3),
    revision=st.text(min_size=1, max_size=10),
)
def test_renderers_never_mutate_inputs(
    extra_labels: dict[str, str],
    annotations: dict[str, str],
    replicas: int,
    prefixes: list[str],
    revision: str,
) -> None:
    target = _target(extra_labels, annotations, replicas)
    daemonset = podinfo.daemonset()
    canary = podinfo.canary()
    tracked = {
        (ref.kind.value, ref.name) for ref in referenced_configs(target["spec"]["template"]["spec"])
    }
    inputs = (target, daemonset, canary, tracked, prefixes)
    frozen = copy.deepcopy(inputs)
    common: dict[str, Any] = {
        "tracked": tracked,
        "include_label_prefixes": prefixes,
        "revision": revision,
    }
    primary = render_primary_deployment(
        target, canary=canary, label="app", value="podinfo", **common
    )
    ds_primary = render_primary_daemonset(
        daemonset, canary=canary, label="name", value="podinfo-ds", **common
    )
    primary_frozen, ds_frozen = copy.deepcopy(primary), copy.deepcopy(ds_primary)
    promoted = promote_deployment(
        primary, target, label="app", value="podinfo", has_autoscaler=False, **common
    )
    promote_daemonset(ds_primary, daemonset, label="name", value="podinfo-ds", **common)
    rewrite_config_refs(target["spec"]["template"]["spec"], tracked)
    render_config_copy(
        podinfo.configmap("c", {"a": "1"}), canary=canary, include_label_prefixes=prefixes
    )
    render_primary_hpa(podinfo.hpa(), canary=canary, primary_name="podinfo-primary")
    assert inputs == frozen
    assert (primary, ds_primary) == (primary_frozen, ds_frozen)
    # outputs share no mutable structure with inputs
    promoted["spec"]["template"]["spec"]["containers"][0]["name"] = "changed"
    assert target["spec"]["template"]["spec"]["containers"][0]["name"] == "podinfod"
    assert primary["spec"]["template"]["spec"]["containers"][0]["name"] == "podinfod"


@settings(max_examples=30)
@given(
    revision=st.text(min_size=1, max_size=10),
    prefixes=st.lists(st.sampled_from(["", "*", "app"]), max_size=2),
)
def test_rendering_is_deterministic(revision: str, prefixes: list[str]) -> None:
    def render() -> dict[str, Any]:
        return render_primary_deployment(
            podinfo.deployment(),
            canary=podinfo.canary(),
            label="app",
            value="podinfo",
            tracked={("configmap", "podinfo-config-env")},
            include_label_prefixes=prefixes,
            revision=revision,
        )

    assert render() == render()
