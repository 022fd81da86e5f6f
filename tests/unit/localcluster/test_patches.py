"""Tests for merge, JSON and strategic merge patches (RFC examples + Kubernetes semantics)."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ensign.localcluster.patch_schema import FieldRule, build_schema
from ensign.localcluster.patches import (
    InvalidPatchOperation,
    PatchConflict,
    PatchError,
    PatchTestFailed,
    PatchTooLarge,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    json_equal,
    patch_schema_for,
)

# --------------------------------------------------------------------- RFC 7386 appendix A

RFC7386_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC7386_CASES)
def test_merge_patch_rfc7386_examples(target: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(target, patch) == expected


# --------------------------------------------------------------------- RFC 6902 appendix A

RFC6902_CASES = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}],
        {"/": 9, "~1": 10},
    ),
    (
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    ({"a": 1}, [{"op": "copy", "from": "/a", "path": "/b"}], {"a": 1, "b": 1}),
    ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
    ({"a": 1}, [{"op": "add", "path": "", "value": {"b": 2}}], {"b": 2}),
    ({"a": 1}, None, {"a": 1}),
]


@pytest.mark.parametrize(("doc", "ops", "expected"), RFC6902_CASES)
def test_json_patch_rfc6902_examples(doc: Any, ops: Any, expected: Any) -> None:
    assert apply_json_patch(doc, ops) == expected


JSON_PATCH_ERRORS = [
    # A.9 failed test, A.15 "10" is not 10
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], PatchTestFailed),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], PatchTestFailed),
    ({"a": True}, [{"op": "test", "path": "/a", "value": 1}], PatchTestFailed),
    # A.12 adding to a nonexistent target
    ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], PatchConflict),
    ({"a": 1}, [{"op": "remove", "path": "/b"}], PatchConflict),
    ({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], PatchConflict),
    ({"a": [1]}, [{"op": "add", "path": "/a/2", "value": 2}], PatchConflict),
    ({"a": [1]}, [{"op": "remove", "path": "/a/1"}], PatchConflict),
    ({"a": [1]}, [{"op": "replace", "path": "/a/01", "value": 2}], PatchConflict),
    ({"a": [1]}, [{"op": "remove", "path": "/a/-"}], PatchConflict),
    ({"a": 1}, [{"op": "move", "from": "/x", "path": "/y"}], PatchConflict),
    ({"a": 1}, [{"op": "remove", "path": ""}], PatchConflict),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], InvalidPatchOperation),
    ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], InvalidPatchOperation),
    ({"a": 1}, [{"op": "add", "value": 1}], InvalidPatchOperation),
    ({"a": 1}, [{"op": "add", "path": "/b"}], InvalidPatchOperation),
    ({"a": 1}, [{"op": "add", "path": "b", "value": 1}], InvalidPatchOperation),
    ({"a": 1}, [{"op": "add", "path": "/~2", "value": 1}], InvalidPatchOperation),
    ({"a": 1}, ["add"], InvalidPatchOperation),
]


@pytest.mark.parametrize(("doc", "ops", "error"), JSON_PATCH_ERRORS)
def test_json_patch_errors_are_422(doc: Any, ops: Any, error: type[PatchError]) -> None:
    with pytest.raises(error) as info:
        apply_json_patch(doc, ops)
    assert info.value.http_status == 422


@pytest.mark.parametrize("body", [{"op": "add"}, "x", 3, True])
def test_json_patch_body_must_be_a_list(body: Any) -> None:
    with pytest.raises(PatchError, match="cannot unmarshal") as info:
        apply_json_patch({}, body)
    assert info.value.http_status == 400


def test_json_patch_operation_limit() -> None:
    ops = [{"op": "test", "path": "", "value": {}}] * 10_001
    with pytest.raises(PatchTooLarge) as info:
        apply_json_patch({}, ops)
    assert info.value.http_status == 413


def test_json_patch_is_atomic_and_shares_untouched_subtrees() -> None:
    doc = {"big": {"x": [1, 2, 3]}, "small": {"n": 1}}
    out = apply_json_patch(doc, [{"op": "replace", "path": "/small/n", "value": 2}])
    assert out == {"big": {"x": [1, 2, 3]}, "small": {"n": 2}}
    assert out["big"] is doc["big"]
    assert doc["small"] == {"n": 1}


def test_json_equal_distinguishes_booleans() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(True, 1)
    assert not json_equal([0], [False])
    assert not json_equal({"a": 1}, {"b": 1})


# --------------------------------------------------------------------- strategic merge patch

DEPLOYMENT = patch_schema_for("apps", "v1", "Deployment")
POD = patch_schema_for("", "v1", "Pod")
SERVICE = patch_schema_for("", "v1", "Service")
HPA = patch_schema_for("autoscaling", "v2", "HorizontalPodAutoscaler")


def pod_spec(**spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


def smp(target: Any, patch: Any, schema: Any = DEPLOYMENT) -> Any:
    assert schema is not None
    return apply_strategic_merge_patch(target, patch, schema)


def test_containers_merge_by_name_keeping_env() -> None:
    live = pod_spec(
        containers=[
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "proxy:1"},
        ]
    )
    out = smp(live, pod_spec(containers=[{"name": "app", "image": "app:2"}]))
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "image": "app:2", "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": "proxy:1"},
    ]


def test_env_merges_by_name() -> None:
    live = pod_spec(containers=[{"name": "app", "env": [{"name": "A", "value": "1"}]}])
    patch = pod_spec(
        containers=[
            {"name": "app", "env": [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]}
        ]
    )
    env = smp(live, patch)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]


def test_new_items_go_before_server_only_items_like_the_real_apiserver() -> None:
    # kubectl-patch task page: the added container is listed before the existing one.
    live = pod_spec(containers=[{"name": "patch-demo-ctr", "image": "nginx"}])
    patch = pod_spec(containers=[{"name": "patch-demo-ctr-2", "image": "redis"}])
    names = [c["name"] for c in smp(live, patch)["spec"]["template"]["spec"]["containers"]]
    assert names == ["patch-demo-ctr-2", "patch-demo-ctr"]


def test_set_element_order_controls_the_order() -> None:
    live = pod_spec(containers=[{"name": "a"}, {"name": "b"}])
    patch = pod_spec(
        **{
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "containers": [{"name": "c", "image": "c:1"}],
        }
    )
    out = smp(live, patch)["spec"]["template"]["spec"]
    assert [c["name"] for c in out["containers"]] == ["a", "b", "c"]
    assert "$setElementOrder/containers" not in out


def test_patch_delete_directive_removes_a_container() -> None:
    live = pod_spec(containers=[{"name": "app"}, {"name": "sidecar"}])
    patch = pod_spec(containers=[{"name": "sidecar", "$patch": "delete"}])
    assert smp(live, patch)["spec"]["template"]["spec"]["containers"] == [{"name": "app"}]


def test_patch_replace_directive_in_list_and_map() -> None:
    live = pod_spec(containers=[{"name": "app"}, {"name": "sidecar"}], nodeSelector={"a": "1"})
    patch = pod_spec(
        containers=[{"$patch": "replace"}, {"name": "only"}],
        nodeSelector={"$patch": "replace", "b": "2"},
    )
    spec = smp(live, patch)["spec"]["template"]["spec"]
    assert spec["containers"] == [{"name": "only"}]
    assert spec["nodeSelector"] == {"b": "2"}
    assert (
        smp(live, pod_spec(nodeSelector={"$patch": "delete"}))["spec"]["template"]["spec"][
            "nodeSelector"
        ]
        == {}
    )


def test_service_ports_merge_by_port() -> None:
    live = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    assert smp(live, patch, SERVICE)["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090},
        {"port": 443},
    ]


def test_finalizers_union_and_delete_from_primitive_list() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    out = smp(live, {"metadata": {"finalizers": ["b", "c"]}})
    assert sorted(out["metadata"]["finalizers"]) == ["a", "b", "c"]
    assert len(out["metadata"]["finalizers"]) == 3
    out = smp(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"] == {"finalizers": ["b"]}


def test_tolerations_are_replaced_because_podspec_has_no_patch_strategy() -> None:
    live = pod_spec(tolerations=[{"key": "dedicated", "value": "test-team"}])
    patch = pod_spec(tolerations=[{"key": "disktype", "value": "ssd"}])
    assert smp(live, patch)["spec"]["template"]["spec"]["tolerations"] == [
        {"key": "disktype", "value": "ssd"}
    ]


def test_owner_references_merge_by_uid_and_conditions_by_type() -> None:
    live = {
        "metadata": {"ownerReferences": [{"uid": "1", "name": "x"}]},
        "status": {"conditions": [{"type": "Ready", "status": "False"}]},
    }
    patch = {
        "metadata": {"ownerReferences": [{"uid": "2", "name": "y"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    out = smp(live, patch, POD)
    assert {r["uid"] for r in out["metadata"]["ownerReferences"]} == {"1", "2"}
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


def test_hpa_metrics_replace() -> None:
    live = {"spec": {"metrics": [{"type": "Resource"}, {"type": "Pods"}]}}
    out = smp(live, {"spec": {"metrics": [{"type": "External"}]}}, HPA)
    assert out["spec"]["metrics"] == [{"type": "External"}]


def test_retain_keys_clears_other_fields() -> None:
    live = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(live, patch)["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(PatchError, match="retainKeys"):
        smp(live, {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}})


def test_nulls_delete_and_are_stripped_from_new_values() -> None:
    live = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    patch = {"metadata": {"labels": {"a": None}, "annotations": {"x": None, "y": "1"}}}
    assert smp(live, patch) == {"metadata": {"labels": {"b": "2"}, "annotations": {"y": "1"}}}


def test_type_mismatch_replaces() -> None:
    assert smp({"spec": {"x": [1]}}, {"spec": {"x": {"a": 1}}}) == {"spec": {"x": {"a": 1}}}


@pytest.mark.parametrize(
    "patch",
    [
        {"$frob": 1},
        {"spec": {"$patch": "merge-ish"}},
        pod_spec(containers=[{"image": "no-name"}]),
        pod_spec(containers=[{"name": "x", "$patch": "sideways"}]),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
        {"metadata": {"$setElementOrder/finalizers": "a"}},
        {"spec": {"strategy": {"$retainKeys": "type"}}},
    ],
)
def test_malformed_strategic_patches(patch: Any) -> None:
    with pytest.raises(PatchError):
        smp({"metadata": {"finalizers": ["a"]}, "spec": {}}, patch)


def test_custom_resources_have_no_schema_and_core_alias() -> None:
    assert patch_schema_for("flagger.app", "v1beta1", "Canary") is None
    assert patch_schema_for("core", "v1", "Pod") is POD
    assert POD is not None and POD.child("spec").child("containers").merge_key == "name"
    tolerations = POD.child("spec").child("tolerations")
    assert tolerations.strategy == "" and tolerations.merge_key is None


def test_schema_is_built_from_table_rows() -> None:
    schema = build_schema(
        [FieldRule("spec.items", "merge", "id"), FieldRule("spec.items.tags", "merge")]
    )
    items = schema.child("spec").child("items")
    assert (items.strategy, items.merge_key) == ("merge", "id")
    assert items.child("tags").strategy == "merge"
    assert schema.child("nope").child("deeper").strategy == ""


# --------------------------------------------------------------------- properties

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)
no_null_values = st.recursive(
    st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)
objects = st.dictionaries(st.text(max_size=4), json_values, max_size=5)


@given(st.dictionaries(st.text(max_size=4), no_null_values, max_size=5))
def test_merge_patch_with_itself_is_identity(doc: dict[str, Any]) -> None:
    assert apply_merge_patch(doc, doc) == doc


@given(objects, objects)
def test_patches_never_mutate_inputs(target: dict[str, Any], patch: dict[str, Any]) -> None:
    before_target, before_patch = copy.deepcopy(target), copy.deepcopy(patch)
    apply_merge_patch(target, patch)
    ops = [
        {"op": "add", "path": "/" + k.replace("~", "~0").replace("/", "~1"), "value": v}
        for k, v in patch.items()
    ]
    apply_json_patch(target, ops)
    assert POD is not None
    with contextlib.suppress(PatchError):
        apply_strategic_merge_patch(target, patch, POD)
    assert target == before_target
    assert patch == before_patch


@given(objects, st.text(max_size=4), json_values)
def test_json_patch_add_then_remove_round_trips(doc: dict[str, Any], key: str, value: Any) -> None:
    path = "/" + key.replace("~", "~0").replace("/", "~1")
    if key in doc:
        return
    ops = [{"op": "add", "path": path, "value": value}, {"op": "remove", "path": path}]
    assert apply_json_patch(doc, ops) == doc


@given(st.lists(json_values, max_size=5), st.data())
def test_json_patch_array_insert_then_remove_round_trips(
    items: list[Any], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(items)))
    doc = {"a": items}
    ops = [
        {"op": "add", "path": f"/a/{index}", "value": "x"},
        {"op": "remove", "path": f"/a/{index}"},
    ]
    assert apply_json_patch(doc, ops) == doc
