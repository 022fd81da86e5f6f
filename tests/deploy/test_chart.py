"""charts/ensign renders to valid objects for the default and the namespace-scoped install.

There is no helm binary here: the chart is rendered by `tests/deploy/gotemplate.py`, a strict
renderer of the Go-template subset the chart uses (it fails on anything else), then parsed.
Every object, CRDs of `crds/` included, is sent to a fresh local cluster (`dryRun=All`
except Namespaces and CRDs) and must be accepted.
"""

from __future__ import annotations

import yaml

import ensign
from tests.deploy import support

CHART = support.CHART


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "ensign"
    assert chart["appVersion"] == ensign.__version__
    assert chart["type"] == "application"


def test_values_cover_the_documented_settings() -> None:
    values = support.chart_values()
    assert set(values["image"]) >= {"repository", "tag", "pullPolicy"}
    assert values["replicas"] == 2
    assert values["leaderElection"] == {"enabled": True, "namespace": ""}
    assert "metricsServer" in values
    assert values["watchNamespace"] == ""
    assert values["logLevel"] == "info"
    assert set(values["slack"]) == {"url", "channel", "user"}
    assert "eventWebhook" in values
    assert set(values["resources"]) == {"requests", "limits"}
    assert values["serviceMonitor"]["enabled"] is False


def test_crds_are_the_project_crds() -> None:
    ours = sorted(p.name for p in (support.ROOT / "deploy" / "crds").glob("*.yaml"))
    assert sorted(p.name for p in (CHART / "crds").glob("*.yaml")) == ours
    for name in ours:
        assert (CHART / "crds" / name).read_text() == (
            support.ROOT / "deploy" / "crds" / name
        ).read_text()


def test_default_install_is_cluster_wide_with_two_leader_elected_replicas() -> None:
    objects = support.render_chart()
    assert sorted(o["kind"] for o in objects if o["kind"] != "CustomResourceDefinition") == sorted(
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
        ]
    )
    assert support.check_controller_objects(objects) == []
    deployment = support.one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = support.controller_args(deployment, "ensign-system")
    assert "--enable-leader-election" in args
    assert "--leader-election-namespace=ensign-system" in args
    assert "--log-level=info" in args
    assert not [a for a in args if a.startswith(("--namespace", "--metrics-server", "--slack"))]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ensign:{ensign.__version__}"
    assert "env" not in container


def test_namespace_scope_uses_a_role_in_the_watched_namespace() -> None:
    objects = support.render_chart({"watchNamespace": "apps"})
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    role = support.one(objects, "Role")
    binding = support.one(objects, "RoleBinding")
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "apps"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ensign", "namespace": "ensign-system"}
    ]
    assert support.check_controller_objects(objects) == []
    args = support.controller_args(support.one(objects, "Deployment"), "ensign-system")
    assert "--namespace=apps" in args
    # The Lease lives where the Role grants it.
    assert "--leader-election-namespace=apps" in args


def test_values_reach_the_controller() -> None:
    objects = support.render_chart(
        {
            "image": {"repository": "registry.example/ensign", "tag": "dev"},
            "replicas": 3,
            "logLevel": "debug",
            "logFormat": "text",
            "leaderElection": {"namespace": "ops"},
            "eventWebhook": "http://events.example/hook",
            "metricsServer": "http://prometheus.monitoring:9090",
            "slack": {
                "url": "https://hooks.slack.example/x",
                "channel": "deploys",
                "user": "ensign",
            },
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
            "podDisruptionBudget": {"minAvailable": 2},
        },
        release="canaries",
        namespace="delivery",
    )
    assert support.check_controller_objects(objects) == []
    deployment = support.one(objects, "Deployment")
    assert deployment["metadata"] == {
        **deployment["metadata"],
        "name": "canaries",
        "namespace": "delivery",
    }
    assert deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/ensign:dev"
    # Maps merge with the defaults, as with `helm --set`: limits.cpu stays.
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    assert container["env"] == [
        {"name": "EVENT_WEBHOOK_URL", "value": "http://events.example/hook"}
    ]
    args = support.controller_args(deployment, "delivery")
    for expected in (
        "--log-level=debug",
        "--log-format=text",
        "--leader-election-namespace=ops",
        "--metrics-server=http://prometheus.monitoring:9090",
        "--slack-url=https://hooks.slack.example/x",
        "--slack-channel=deploys",
        "--slack-user=ensign",
    ):
        assert expected in args
    assert support.one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 2
    assert support.one(objects, "ClusterRoleBinding")["subjects"] == [
        {"kind": "ServiceAccount", "name": "canaries", "namespace": "delivery"}
    ]


def test_switches_turn_objects_off() -> None:
    objects = support.render_chart(
        {
            "leaderElection": {"enabled": False},
            "replicas": 1,
            "rbac": {"create": False},
            "serviceAccount": {"create": False, "name": "existing"},
            "podDisruptionBudget": {"enabled": False},
        }
    )
    kinds = {o["kind"] for o in objects}
    assert not kinds & {
        "ClusterRole",
        "ClusterRoleBinding",
        "ServiceAccount",
        "PodDisruptionBudget",
    }
    deployment = support.one(objects, "Deployment")
    args = support.controller_args(deployment, "ensign-system")
    assert "--disable-leader-election" in args
    assert not [a for a in args if a.startswith("--leader-election-namespace")]
    assert support.check_controller_args(args) == []
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "existing"


def test_service_account_annotations_for_irsa() -> None:
    """IRSA on Amazon EKS (CloudWatch credentials by web identity) is an annotation on the
    controller's ServiceAccount; none by default."""
    role = "arn:aws:iam::111122223333:role/ensign"
    docs = support.render_chart(
        {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role}}}
    )
    account = support.one(docs, "ServiceAccount")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}
    assert "annotations" not in support.one(support.render_chart(), "ServiceAccount")["metadata"]


def test_service_monitor_toggle() -> None:
    assert not support.by_kind(support.render_chart(), "ServiceMonitor")
    objects = support.render_chart(
        {"serviceMonitor": {"enabled": True, "additionalLabels": {"release": "prometheus"}}}
    )
    monitor = support.one(objects, "ServiceMonitor")
    service = support.one(objects, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [
        {"port": "http-metrics", "path": "/metrics", "interval": "15s"}
    ]
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}


def test_notes_render() -> None:
    notes = support.render_chart_text({"watchNamespace": "apps"})["NOTES.txt"]
    assert "namespace apps only" in notes
    assert "kubectl -n ensign-system get pods" in notes


async def test_default_install_is_accepted_by_the_local_cluster() -> None:
    objects = support.render_chart()
    answers = await support.validate(objects, namespaces=("ensign-system",))
    assert support.rejected(answers) == []
    assert len(answers) == len(objects)


async def test_namespace_scoped_install_is_accepted_by_the_local_cluster() -> None:
    objects = support.render_chart({"watchNamespace": "apps"})
    answers = await support.validate(objects, namespaces=("ensign-system", "apps"))
    assert support.rejected(answers) == []
    assert {a.obj["kind"] for a in answers} >= {"Role", "RoleBinding"}


async def test_service_monitor_is_accepted_and_nothing_is_pruned() -> None:
    objects = support.render_chart({"serviceMonitor": {"enabled": True}})
    answers = await support.validate(
        objects, namespaces=("ensign-system",), extra_crds=(support.SERVICE_MONITOR_CRD,)
    )
    assert support.rejected(answers) == []
    (monitor,) = [a for a in answers if a.obj["kind"] == "ServiceMonitor"]
    assert support.pruned(monitor.obj["spec"], monitor.body["spec"]) == []
