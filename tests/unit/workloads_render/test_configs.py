"""ConfigMap/Secret tracking (§2.8.5, §2.6): scan, checksum, copies, ref rewriting."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ensign.workloads.configs import (
    ConfigKind,
    ConfigRef,
    config_checksum,
    configs_changed,
    go_json,
    is_tracked,
    merge_owner_references,
    referenced_configs,
    render_config_copy,
    rewrite_config_refs,
    tracked_configs,
    tracked_keys,
)
from ensign.workloads.errors import WorkloadError
from tests.unit.workloads_render import podinfo

CM, SECRET = ConfigKind.CONFIGMAP, ConfigKind.SECRET


def test_referenced_configs_scans_every_reference_site() -> None:
    refs = referenced_configs(podinfo.pod_spec())
    assert {(ref.kind, ref.name, ref.optional) for ref in refs} == {
        (CM, "podinfo-config-vol", False),
        (SECRET, "podinfo-secret-vol", False),
        (CM, "podinfo-config-projected", False),
        (SECRET, "podinfo-secret-projected", False),
        (CM, "podinfo-config-optional", True),
        (SECRET, "podinfo-registry", False),
        (CM, "podinfo-config-env", False),
        (SECRET, "podinfo-secret-env", False),
        (CM, "podinfo-config-all-env", False),
        (SECRET, "podinfo-secret-all-env", False),
        (CM, "podinfo-config-init-env", False),
        (SECRET, "podinfo-secret-init-env", False),
    }
    assert len(refs) == 12


def test_a_config_referenced_mandatorily_anywhere_is_mandatory() -> None:
    spec = {
        "volumes": [{"name": "v", "configMap": {"name": "shared", "optional": True}}],
        "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "shared"}}]}],
    }
    assert list(referenced_configs(spec)) == [ConfigRef(kind=CM, name="shared", optional=False)]
    only_optional = {
        "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "s", "optional": True}}]}]
    }
    assert list(referenced_configs(only_optional)) == [
        ConfigRef(kind=SECRET, name="s", optional=True)
    ]


def test_config_ref_key() -> None:
    assert ConfigRef(kind=CM, name="podinfo-config-env").key == "configmap/podinfo-config-env"
    assert ConfigRef(kind=SECRET, name="db").key == "secret/db"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # sha256(b'{"message":"hello"}')[:8]
        ({"message": "hello"}, "9b2d43affbf49a36"),
        # keys sorted as Go does, whatever the input order
        ({"b": "2", "a": "1"}, "21f76dfbfe6dfe21"),
        # a nil Go map encodes as null
        (None, "74234e98afe7498f"),
        # Go escapes <, > and & and writes UTF-8 as is
        ({"k": "<b> & café"}, "d8e95cf661ec29d4"),
    ],
)
def test_config_checksum_matches_go(data: dict[str, str] | None, expected: str) -> None:
    assert config_checksum(podinfo.configmap("c", data)) == expected


def test_go_json_encoding() -> None:
    assert go_json({"b": "x\ny", "a": "<\u2028>"}) == b'{"a":"\\u003c\\u2028\\u003e","b":"x\\ny"}'


def test_config_checksum_ignores_binary_data_and_metadata() -> None:
    plain = podinfo.configmap("c", {"a": "1"})
    other = podinfo.configmap("d", {"a": "1"}, labels={"x": "y"})
    other["binaryData"] = {"blob": "AAEC"}
    assert config_checksum(plain) == config_checksum(other)


@pytest.mark.parametrize(
    ("obj", "kind", "tracked"),
    [
        (podinfo.configmap("c", {"a": "1"}), CM, True),
        (
            podinfo.configmap("c", {}, annotations={"flagger.app/config-tracking": "disabled"}),
            CM,
            False,
        ),
        (
            podinfo.configmap("c", {}, annotations={"flagger.app/config-tracking": "disable"}),
            CM,
            False,
        ),
        (
            podinfo.configmap("c", {}, annotations={"flagger.app/config-tracking": "enabled"}),
            CM,
            True,
        ),
        (podinfo.secret("s", {}), SECRET, True),
        (podinfo.secret("s", {}, type_=None), SECRET, True),
        (podinfo.secret("s", {}, type_="kubernetes.io/basic-auth"), SECRET, True),
        (podinfo.secret("s", {}, type_="kubernetes.io/ssh-auth"), SECRET, True),
        (podinfo.secret("s", {}, type_="kubernetes.io/tls"), SECRET, True),
        (podinfo.secret("s", {}, type_="kubernetes.io/dockerconfigjson"), SECRET, False),
        (podinfo.secret("s", {}, type_="kubernetes.io/service-account-token"), SECRET, False),
        (
            podinfo.secret("s", {}, annotations={"flagger.app/config-tracking": "disabled"}),
            SECRET,
            False,
        ),
    ],
)
def test_is_tracked(obj: dict[str, Any], kind: ConfigKind, tracked: bool) -> None:
    assert is_tracked(obj, kind=kind) is tracked


def _world() -> dict[tuple[str, str], dict[str, Any] | None]:
    names = [ref for ref in referenced_configs(podinfo.pod_spec())]
    world: dict[tuple[str, str], dict[str, Any] | None] = {}
    for ref in names:
        if ref.kind is CM:
            world[(ref.kind, ref.name)] = podinfo.configmap(ref.name, {"v": ref.name})
        else:
            world[(ref.kind, ref.name)] = podinfo.secret(ref.name, {"v": "c2VjcmV0"})
    world[("secret", "podinfo-registry")] = podinfo.secret(
        "podinfo-registry", {".dockerconfigjson": "e30="}, type_="kubernetes.io/dockerconfigjson"
    )
    world[("configmap", "podinfo-config-optional")] = None
    return world


def test_tracked_configs_keys_checksums_and_skips() -> None:
    world = _world()
    result = tracked_configs(referenced_configs(podinfo.pod_spec()), world, namespace="test")
    assert sorted(result) == [
        "configmap/podinfo-config-all-env",
        "configmap/podinfo-config-env",
        "configmap/podinfo-config-init-env",
        "configmap/podinfo-config-projected",
        "configmap/podinfo-config-vol",
        "secret/podinfo-secret-all-env",
        "secret/podinfo-secret-env",
        "secret/podinfo-secret-init-env",
        "secret/podinfo-secret-projected",
        "secret/podinfo-secret-vol",
    ]
    cm = world[("configmap", "podinfo-config-env")]
    assert cm is not None
    assert result["configmap/podinfo-config-env"] == config_checksum(cm)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        (
            ("configmap", "podinfo-config-env"),
            'configmap podinfo-config-env.test get query error: configmaps "podinfo-config-env" not found',
        ),
        (
            ("secret", "podinfo-secret-vol"),
            'secret podinfo-secret-vol.test get query error: secrets "podinfo-secret-vol" not found',
        ),
    ],
)
def test_tracked_configs_missing_mandatory_config_fails(
    missing: tuple[str, str], message: str
) -> None:
    world = _world()
    del world[missing]
    with pytest.raises(WorkloadError) as raised:
        tracked_configs(referenced_configs(podinfo.pod_spec()), world, namespace="test")
    assert str(raised.value) == message


def test_tracked_keys_round_trip() -> None:
    assert tracked_keys({"configmap/a": "1", "secret/b/c": "2", "bogus/x": "3"}) == {
        (CM, "a"),
        (SECRET, "b/c"),
    }


def test_rewrite_config_refs_renames_tracked_refs_everywhere() -> None:
    spec = podinfo.pod_spec()
    before = copy.deepcopy(spec)
    tracked = tracked_keys(tracked_configs(referenced_configs(spec), _world(), namespace="test"))
    out = rewrite_config_refs(spec, tracked)
    assert spec == before
    volumes = {v["name"]: v for v in out["volumes"]}
    assert volumes["configs"]["configMap"] == {
        "name": "podinfo-config-vol-primary",
        "defaultMode": 420,
    }
    assert volumes["secrets"]["secret"]["secretName"] == "podinfo-secret-vol-primary"
    sources = volumes["projected"]["projected"]["sources"]
    assert sources[0]["configMap"]["name"] == "podinfo-config-projected-primary"
    assert sources[1]["secret"]["name"] == "podinfo-secret-projected-primary"
    assert sources[2] == before["volumes"][2]["projected"]["sources"][2]
    # untracked: missing optional and registry secret stay shared with the target
    assert volumes["optional"]["configMap"]["name"] == "podinfo-config-optional"
    assert volumes["registry"]["secret"]["secretName"] == "podinfo-registry"
    container = out["containers"][0]
    assert container["env"][0] == {"name": "PODINFO_UI_COLOR", "value": "#34577c"}
    assert container["env"][1]["valueFrom"]["configMapKeyRef"] == {
        "name": "podinfo-config-env-primary",
        "key": "message",
    }
    assert container["env"][2]["valueFrom"]["secretKeyRef"]["name"] == "podinfo-secret-env-primary"
    assert container["envFrom"] == [
        {"configMapRef": {"name": "podinfo-config-all-env-primary"}},
        {"secretRef": {"name": "podinfo-secret-all-env-primary"}},
    ]
    init = out["initContainers"][0]
    assert init["envFrom"][0]["configMapRef"]["name"] == "podinfo-config-init-env-primary"
    assert init["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "podinfo-secret-init-env-primary"


def test_rewrite_config_refs_matches_kind_and_name() -> None:
    spec = {
        "volumes": [
            {"name": "a", "configMap": {"name": "same"}},
            {"name": "b", "secret": {"secretName": "same"}},
        ]
    }
    out = rewrite_config_refs(spec, {("secret", "same")})
    assert out["volumes"][0]["configMap"]["name"] == "same"
    assert out["volumes"][1]["secret"]["secretName"] == "same-primary"


@pytest.mark.parametrize(
    ("prefixes", "labels"),
    [
        ([""], {}),
        (["*"], {"app": "podinfo", "team": "blue"}),
        (["app"], {"app": "podinfo"}),
        (["te", "ap"], {"app": "podinfo", "team": "blue"}),
    ],
)
def test_render_configmap_copy(prefixes: list[str], labels: dict[str, str]) -> None:
    source = podinfo.configmap(
        "podinfo-config-env",
        {"message": "hello"},
        labels={"app": "podinfo", "team": "blue", "kustomize.toolkit.fluxcd.io/name": "apps"},
        annotations={"a": "b"},
        uid="cm-uid",
        resourceVersion="7",
    )
    source["binaryData"] = {"blob": "AAEC"}
    before = copy.deepcopy(source)
    copy_ = render_config_copy(source, canary=podinfo.canary(), include_label_prefixes=prefixes)
    assert source == before
    assert copy_ == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "podinfo-config-env-primary",
            "namespace": "test",
            "labels": labels,
            "ownerReferences": [podinfo.owner_ref()],
        },
        "data": {"message": "hello"},
    }


def test_render_secret_copy_keeps_type() -> None:
    source = podinfo.secret("db", {"password": "cGFzcw=="}, type_="kubernetes.io/basic-auth")
    copy_ = render_config_copy(source, canary=podinfo.canary(), include_label_prefixes=[""])
    assert copy_["kind"] == "Secret"
    assert copy_["type"] == "kubernetes.io/basic-auth"
    assert copy_["data"] == {"password": "cGFzcw=="}
    assert copy_["metadata"]["name"] == "db-primary"


def test_render_config_copy_kind_override_and_rejects_others() -> None:
    source = podinfo.configmap("c", {"a": "1"})
    del source["kind"]
    assert (
        render_config_copy(
            source, canary=podinfo.canary(), include_label_prefixes=[], kind="ConfigMap"
        )["kind"]
        == "ConfigMap"
    )
    with pytest.raises(WorkloadError):
        render_config_copy(source, canary=podinfo.canary(), include_label_prefixes=[])


def test_merge_owner_references_keeps_other_canaries_as_non_controllers() -> None:
    desired = render_config_copy(
        podinfo.configmap("c", {"a": "1"}), canary=podinfo.canary(), include_label_prefixes=[]
    )
    other = {**podinfo.owner_ref(), "name": "backend", "uid": "other-uid"}
    existing = {
        "metadata": {
            "name": "c-primary",
            "ownerReferences": [
                podinfo.owner_ref(),
                other,
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x", "uid": "dep-uid"},
            ],
        }
    }
    merged = merge_owner_references(desired, existing)
    assert merged["metadata"]["ownerReferences"] == [
        podinfo.owner_ref(),
        {**other, "controller": False},
    ]
    assert merge_owner_references(desired, None) == desired
    assert desired["metadata"]["ownerReferences"] == [podinfo.owner_ref()]


@pytest.mark.parametrize(
    ("current", "recorded", "changed"),
    [
        ({}, None, False),
        ({}, {}, False),
        ({"configmap/a": "1"}, None, True),
        ({"configmap/a": "1"}, {"configmap/a": "1"}, False),
        ({"configmap/a": "1"}, {"configmap/a": "2"}, True),
        ({"configmap/a": "1"}, {"configmap/a": "1", "secret/b": "2"}, True),
        ({"configmap/a": "1"}, {"secret/a": "1"}, True),
        ({}, {"configmap/a": "1"}, True),
    ],
)
def test_configs_changed(
    current: dict[str, str], recorded: dict[str, str] | None, changed: bool
) -> None:
    assert configs_changed(current, recorded) is changed


def test_changed_config_keys_lists_what_differs() -> None:
    from ensign.workloads.configs import changed_config_keys

    current = {"configmap/a": "1", "secret/b": "2", "secret/c": "3"}
    assert changed_config_keys(current, {"configmap/a": "1", "secret/b": "9"}) == [
        "secret/b",
        "secret/c",
    ]
    assert changed_config_keys(current, None) == sorted(current)
