"""Rendering the apex, -primary and -canary Services (§2.11), as golden tables.

Matrix: the podinfo tutorial (port 80 → targetPort 9898) for all three Services; one field
at a time (headless, appProtocol, trafficDistribution, portName, named targetPort, service
name, custom metadata); port discovery (the Flagger unit-test example, sidecars, clashes).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ensign.routers.services import (
    DiscoveredPort,
    desired_services,
    discover_ports,
)
from tests.unit.routers._support import UID, podinfo_canary

FLUX = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}
OWNER = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "name": "podinfo",
    "uid": UID,
    "controller": True,
    "blockOwnerDeletion": True,
}
HTTP_80 = {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9898}


def golden(
    name: str, selector: str, *, ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "test",
            "labels": {"app": name},
            "annotations": FLUX,
            "ownerReferences": [OWNER],
        },
        "spec": {"type": "ClusterIP", "selector": {"app": selector}, "ports": ports or [HTTP_80]},
    }


def render(service: dict[str, Any], pod_spec: dict[str, Any] | None = None) -> Any:
    return desired_services(
        podinfo_canary(service),
        canary_uid=UID,
        label="app",
        value="podinfo",
        target_pod_spec=pod_spec,
    )


def test_podinfo_golden() -> None:
    services = render({"port": 80, "targetPort": 9898})
    assert services.apex == golden("podinfo", "podinfo-primary")
    assert services.primary == golden("podinfo-primary", "podinfo-primary")
    assert services.canary == golden("podinfo-canary", "podinfo")
    assert services.all() == (services.canary, services.primary, services.apex)


@pytest.mark.parametrize(
    ("extra", "port0", "spec_extra"),
    [
        pytest.param({}, HTTP_80, {}, id="defaults"),
        pytest.param({"headless": True}, HTTP_80, {"clusterIP": "None"}, id="headless"),
        pytest.param(
            {"appProtocol": "http2"}, {**HTTP_80, "appProtocol": "http2"}, {}, id="appProtocol"
        ),
        pytest.param(
            {"trafficDistribution": "PreferClose"},
            HTTP_80,
            {"trafficDistribution": "PreferClose"},
            id="trafficDistribution",
        ),
        pytest.param({"portName": "grpc"}, {**HTTP_80, "name": "grpc"}, {}, id="portName"),
        pytest.param(
            {"targetPort": "http"}, {**HTTP_80, "targetPort": "http"}, {}, id="named-targetPort"
        ),
        pytest.param({"targetPort": 0}, {**HTTP_80, "targetPort": 80}, {}, id="targetPort-unset"),
    ],
)
def test_spec_fields(
    extra: dict[str, Any], port0: dict[str, Any], spec_extra: dict[str, Any]
) -> None:
    services = render({"port": 80, "targetPort": 9898, **extra})
    for body in services.all():
        assert body["spec"]["ports"] == [port0]
        for key, value in spec_extra.items():
            assert body["spec"][key] == value
        for key in {"clusterIP", "trafficDistribution"} - set(spec_extra):
            assert key not in body["spec"]


def test_service_name_overrides_target_name() -> None:
    services = render({"name": "frontend", "port": 80})
    assert [body["metadata"]["name"] for body in services.all()] == [
        "frontend-canary",
        "frontend-primary",
        "frontend",
    ]
    # Selectors still follow the target's label value, not the Service name.
    assert services.apex["spec"]["selector"] == {"app": "podinfo-primary"}
    assert services.apex["metadata"]["labels"] == {"app": "frontend"}


def test_custom_metadata_per_service() -> None:
    services = render(
        {
            "port": 80,
            "apex": {"labels": {"team": "web", "app": "ignored"}, "annotations": {"a": "1"}},
            "primary": {"annotations": {"p": "2"}},
            "canary": {"labels": {"track": "canary"}},
        }
    )
    assert services.apex["metadata"]["labels"] == {"team": "web", "app": "podinfo"}
    assert services.apex["metadata"]["annotations"] == {"a": "1", **FLUX}
    assert services.primary["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert services.primary["metadata"]["annotations"] == {"p": "2", **FLUX}
    assert services.canary["metadata"]["labels"] == {"track": "canary", "app": "podinfo-canary"}
    assert services.canary["metadata"]["annotations"] == FLUX


def test_bodies_are_independent() -> None:
    services = render({"port": 80})
    services.apex["spec"]["ports"][0]["port"] = 1
    assert services.primary["spec"]["ports"][0]["port"] == 80


def container(name: str, *ports: tuple[str | None, int]) -> dict[str, Any]:
    return {
        "name": name,
        "ports": [
            {"containerPort": number, **({"name": port_name} if port_name else {})}
            for port_name, number in ports
        ],
    }


PODINFO_POD = {
    "containers": [
        container("podinfo", ("http", 9898), ("http-metrics", 8080), (None, 8888)),
        container("istio-proxy", ("http-envoy-prom", 15090)),
        container("envoy", (None, 9901)),
    ]
}


def test_port_discovery_flagger_example() -> None:
    services = render({"port": 9898, "portDiscovery": True}, PODINFO_POD)
    for body in services.all():
        assert [(p["name"], p["port"], p["targetPort"]) for p in body["spec"]["ports"]] == [
            ("http", 9898, 9898),
            ("http-metrics", 8080, 8080),
            ("tcp-podinfo-2", 8888, 8888),
        ]
        assert {p["protocol"] for p in body["spec"]["ports"]} == {"TCP"}


def test_port_discovery_off_ignores_pod() -> None:
    services = render({"port": 9898}, PODINFO_POD)
    assert [p["name"] for p in services.apex["spec"]["ports"]] == ["http"]


def test_port_discovery_without_pod_spec() -> None:
    services = render({"port": 9898, "portDiscovery": True}, None)
    assert [p["name"] for p in services.apex["spec"]["ports"]] == ["http"]


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        pytest.param(
            {"port": 80, "targetPort": 9898},
            [("http-metrics", 8080), ("tcp-podinfo-2", 8888)],
            id="int-targetPort-skips-9898",
        ),
        pytest.param(
            {"port": 80, "targetPort": "http-metrics"},
            [("http", 9898), ("tcp-podinfo-2", 8888)],
            id="named-targetPort-skips-by-name",
        ),
        pytest.param(
            {"port": 8080},
            [("http", 9898), ("tcp-podinfo-2", 8888)],
            id="unset-targetPort-skips-service-port",
        ),
    ],
)
def test_discover_ports_skips_main_target(
    service: dict[str, Any], expected: list[tuple[str, int]]
) -> None:
    spec = podinfo_canary(service).spec.service
    assert spec is not None
    found = discover_ports(spec, PODINFO_POD)
    assert found == tuple(DiscoveredPort(name=name, port=port) for name, port in expected)


def test_discovered_ports_never_clash_with_main_port() -> None:
    # Port name "http" collides with the main port name; 80 collides with its number.
    pod = {"containers": [container("app", ("http", 9000), ("web", 80), ("metrics", 8080))]}
    services = render({"port": 80, "targetPort": 9898, "portDiscovery": True}, pod)
    assert [(p["name"], p["port"]) for p in services.apex["spec"]["ports"]] == [
        ("http", 80),
        ("metrics", 8080),
    ]


def test_service_required() -> None:
    canary = podinfo_canary()
    knative = dataclasses.replace(canary, spec=dataclasses.replace(canary.spec, service=None))
    with pytest.raises(ValueError, match=r"no spec\.service"):
        desired_services(
            knative, canary_uid=UID, label="app", value="podinfo", target_pod_spec=None
        )
