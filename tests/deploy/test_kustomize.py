"""deploy/kustomize renders with kubectl's built-in kustomize, and the local cluster accepts it.

Every rendered object is sent to a fresh local cluster: the Namespace and the CRDs are created
(the rest depends on them), everything else is created with `dryRun=All` and must be accepted.
kubectl is part of this machine kind's image; without it these tests fail and say so.
"""

from __future__ import annotations

import copy

import yaml

from tests.deploy import support

BASE = support.KUSTOMIZE / "base"
NAMESPACED = support.KUSTOMIZE / "namespaced"
CRD_NAMES = {
    "canaries.flagger.app",
    "metrictemplates.flagger.app",
    "alertproviders.flagger.app",
}


def test_base_renders_the_whole_install() -> None:
    objects = support.kustomize(BASE)
    assert sorted(o["kind"] for o in objects) == sorted(
        [
            "Namespace",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
        ]
    )
    assert {
        o["metadata"]["name"] for o in support.by_kind(objects, "CustomResourceDefinition")
    } == (CRD_NAMES)
    assert support.one(objects, "Namespace")["metadata"]["name"] == "ensign-system"
    for obj in objects:
        if obj["kind"] in ("ServiceAccount", "Deployment", "Service", "PodDisruptionBudget"):
            assert obj["metadata"]["namespace"] == "ensign-system", obj["kind"]


def test_base_crds_are_the_project_crds() -> None:
    rendered = {
        o["metadata"]["name"]: o
        for o in support.kustomize(BASE)
        if o["kind"] == "CustomResourceDefinition"
    }
    for path in sorted((support.ROOT / "deploy" / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        got = copy.deepcopy(rendered[crd["metadata"]["name"]])
        got["metadata"].get("labels", {}).pop("app.kubernetes.io/part-of", None)
        if not got["metadata"].get("labels"):
            got["metadata"].pop("labels", None)
        assert got == crd, path.name


def test_base_deployment_is_highly_available_and_hardened() -> None:
    objects = support.kustomize(BASE)
    assert support.check_controller_objects(objects) == []
    deployment = support.one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = support.controller_args(deployment, "ensign-system")
    assert "--enable-leader-election" in args
    assert "--leader-election-namespace=ensign-system" in args
    assert not [a for a in args if a.startswith("--namespace")], "the base is cluster-wide"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ensign:0.1.0"
    pdb = support.one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    service = support.one(objects, "Service")
    assert service["spec"]["ports"][0]["port"] == 8080


def test_namespaced_overlay_uses_a_role_and_watches_its_namespace() -> None:
    objects = support.kustomize(NAMESPACED)
    kinds = {o["kind"] for o in objects}
    assert {"Role", "RoleBinding"} <= kinds
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    assert support.check_controller_objects(objects) == []
    deployment = support.one(objects, "Deployment")
    args = support.controller_args(deployment, "ensign-system")
    assert "--namespace=ensign-system" in args
    assert "--leader-election-namespace=ensign-system" in args
    role = support.one(objects, "Role")
    binding = support.one(objects, "RoleBinding")
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "ensign-system"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ensign", "namespace": "ensign-system"}
    ]


async def test_every_base_object_is_accepted_by_the_local_cluster() -> None:
    answers = await support.validate(support.kustomize(BASE))
    assert support.rejected(answers) == []
    assert len(answers) == 10


async def test_every_namespaced_object_is_accepted_by_the_local_cluster() -> None:
    answers = await support.validate(support.kustomize(NAMESPACED))
    assert support.rejected(answers) == []
    assert {a.obj["kind"] for a in answers} >= {"Role", "RoleBinding", "Deployment"}


async def test_validation_is_real_a_broken_deployment_is_rejected() -> None:
    """Control: the same path rejects an invalid object, so the acceptance above means something."""
    objects = support.kustomize(BASE)
    broken = support.one(objects, "Deployment")
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    answers = await support.validate(objects)
    (answer,) = [a for a in answers if a.obj["kind"] == "Deployment"]
    assert answer.status == 422, answer.body
    assert support.rejected(answers) == [
        f"Deployment ensign-system/ensign: HTTP 422: {answer.body['message']}"
    ]
