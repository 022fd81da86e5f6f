"""The controller's RBAC is generated from the kinds it touches, and every manifest uses it.

`ensign.kube.rbac` derives the rules from `ensign.kube.kinds.ALL`; the committed files of
deploy/kustomize and the chart's rules block must equal the generator's output
(`python -m tests.deploy.generated` rewrites them), so the list cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ensign.kube import kinds, rbac
from ensign.kube.kinds import Kind
from tests.deploy import generated, support


def triples(rules: list[dict[str, object]]) -> set[tuple[str, str, str]]:
    out: set[tuple[str, str, str]] = set()
    for rule in rules:
        for group in rule["apiGroups"]:  # type: ignore[attr-defined]
            for resource in rule["resources"]:  # type: ignore[attr-defined]
                for verb in rule["verbs"]:  # type: ignore[attr-defined]
                    out.add((group, resource, verb))
    return out


def expected_triples(table: tuple[Kind, ...] = kinds.ALL) -> set[tuple[str, str, str]]:
    return {(k.group, k.plural, v) for k in rbac.rule_kinds(table) for v in k.verbs}


def test_rules_grant_exactly_the_verbs_of_the_kinds_table() -> None:
    assert triples(rbac.rules()) == expected_triples()


def test_every_kind_the_code_touches_is_covered() -> None:
    granted = triples(rbac.rules())
    for kind in kinds.ALL:
        for verb in kind.verbs:
            assert (kind.group, kind.plural, verb) in granted, (kind.kind, verb)


def test_least_privilege_no_wildcards_no_escalation() -> None:
    for rule in rbac.rules():
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], rule
        assert not set(rule["verbs"]) & {"escalate", "bind", "impersonate", "deletecollection"}
        assert "rbac.authorization.k8s.io" not in rule["apiGroups"], rule
    # Read-only where the code only reads (Ingresses are written: the NGINX canary copy).
    granted = triples(rbac.rules())
    for kind in (kinds.METRIC_TEMPLATE, kinds.ALERT_PROVIDER):
        assert {v for g, r, v in granted if (g, r) == (kind.group, kind.plural)} == {
            "get",
            "list",
            "watch",
        }
    # The router kinds are covered, every served version of them.
    for kind in (kinds.INGRESS, kinds.HTTPROUTE_V1, kinds.HTTPROUTE_V1BETA1):
        assert (kind.group, kind.plural, "update") in granted
    # Secrets are written (config tracking copies them); the only cluster-scoped kind is
    # Kuma's TrafficRoute, granted by the ClusterRole only.
    assert [k.kind for k in rbac.rule_kinds() if not k.namespaced] == ["TrafficRoute"]
    assert all("kuma.io" not in rule["apiGroups"] for rule in rbac.rules(namespaced_only=True))


def test_leader_election_leases_are_granted() -> None:
    granted = triples(rbac.rules())
    for verb in ("get", "create", "update"):
        assert ("coordination.k8s.io", "leases", verb) in granted


def test_extra_kinds_yield_to_the_table() -> None:
    lease = Kind("coordination.k8s.io", "v1", "Lease", "leases", verbs=("get", "update", "patch"))
    table = (*(k for k in kinds.ALL if k.plural != "leases"), lease)
    # Without a Lease in the table the generator adds its own (get, create, update).
    without = tuple(k for k in table if k is not lease)
    assert ("coordination.k8s.io", "leases", "create") in triples(rbac.rules(without))
    assert triples(rbac.rules(table)) == expected_triples(table)
    assert ("coordination.k8s.io", "leases", "create") not in triples(rbac.rules(table))


def test_rules_are_grouped_and_stable() -> None:
    rules = rbac.rules()
    assert rules == rbac.rules()
    keys = [(r["apiGroups"][0], tuple(r["verbs"])) for r in rules]
    assert len(keys) == len(set(keys))
    for rule in rules:
        assert rule["resources"] == sorted(rule["resources"])
        assert list(rule["verbs"]) == sorted(rule["verbs"], key=rbac.VERB_ORDER.index)


def test_role_is_namespaced_and_skips_cluster_scoped_kinds() -> None:
    node = Kind("", "v1", "Node", "nodes", namespaced=False)
    assert ("", "nodes", "get") in triples(rbac.rules((*kinds.ALL, node)))
    assert ("", "nodes", "get") not in triples(rbac.rules((*kinds.ALL, node), namespaced_only=True))
    role, binding = rbac.manifests("apps")
    assert (role["kind"], role["metadata"]["namespace"]) == ("Role", "apps")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "ensign",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ensign", "namespace": "apps"}
    ]


def test_cli_prints_cluster_role_or_role() -> None:
    cluster = list(yaml.safe_load_all(generated.ensign_rbac()))
    assert [d["kind"] for d in cluster] == ["ClusterRole", "ClusterRoleBinding"]
    assert cluster[0]["rules"] == rbac.rules()
    assert cluster[1]["subjects"][0]["namespace"] == "ensign-system"
    scoped = list(
        yaml.safe_load_all(
            generated.ensign_rbac("--namespace", "apps", "--service-account-namespace", "ops")
        )
    )
    assert [d["kind"] for d in scoped] == ["Role", "RoleBinding"]
    assert {d["metadata"]["namespace"] for d in scoped} == {"apps"}
    assert scoped[1]["subjects"][0] == {
        "kind": "ServiceAccount",
        "name": "ensign",
        "namespace": "ops",
    }


@pytest.mark.parametrize(
    "path",
    sorted(generated.expected_files()),
    ids=lambda p: str(Path(p).relative_to(generated.ROOT)),
)
def test_committed_file_is_up_to_date(path: Path) -> None:
    expected = generated.expected_files()[path]
    assert path.exists(), f"{path} is missing; run `python -m tests.deploy.generated`"
    assert path.read_text() == expected, (
        f"{path.relative_to(generated.ROOT)} differs from what the generator makes; "
        "run `python -m tests.deploy.generated` (RBAC comes from src/ensign/kube/kinds.py)"
    )


def test_kustomize_outputs_use_the_generated_rules() -> None:
    base = support.kustomize(support.KUSTOMIZE / "base")
    assert support.one(base, "ClusterRole")["rules"] == rbac.rules()
    assert not support.by_kind(base, "Role")
    namespaced = support.kustomize(support.KUSTOMIZE / "namespaced")
    assert support.one(namespaced, "Role")["rules"] == rbac.rules(namespaced_only=True)
    assert not support.by_kind(namespaced, "ClusterRole")
    assert not support.by_kind(namespaced, "ClusterRoleBinding")


def test_chart_uses_the_generated_rules() -> None:
    cluster = support.render_chart()
    assert support.one(cluster, "ClusterRole")["rules"] == rbac.rules()
    scoped = support.render_chart({"watchNamespace": "apps"})
    assert support.one(scoped, "Role")["rules"] == rbac.rules(namespaced_only=True)
    assert not support.by_kind(scoped, "ClusterRole")
