"""Decode-time type errors: the 400 BadRequest messages of a real apiserver."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.localcluster.builtin import decode_errors
from ensign.localcluster.builtin_decode import base64_error_offset

DEPLOY = 'Deployment in version "v1" cannot be handled as a Deployment: '


@pytest.mark.parametrize(
    ("group", "plural", "obj", "expected"),
    [
        (
            "apps",
            "deployments",
            {"spec": {"replicas": "3"}},
            DEPLOY
            + "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            "apps",
            "deployments",
            {"spec": {"replicas": 1.5}},
            DEPLOY
            + "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            "apps",
            "deployments",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "a", "env": [{"name": "P", "value": 8080}]}]
                        }
                    }
                }
            },
            DEPLOY + "json: cannot unmarshal number into Go struct field "
            "EnvVar.spec.template.spec.containers.env.value of type string",
        ),
        (
            "apps",
            "deployments",
            {"metadata": {"labels": {"version": 2}}},
            DEPLOY
            + "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
        ),
        (
            "",
            "services",
            {"spec": {"ports": [{"port": "80"}]}},
            'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string '
            "into Go struct field ServicePort.spec.ports.port of type int32",
        ),
        (
            "",
            "configmaps",
            {"data": {"enabled": True}},
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal bool '
            "into Go struct field ConfigMap.data of type string",
        ),
        (
            "",
            "secrets",
            {"data": {"password": "hunter2"}},
            'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4',
        ),
        (
            "autoscaling",
            "horizontalpodautoscalers",
            {"spec": {"maxReplicas": "10"}},
            'HorizontalPodAutoscaler in version "v2" cannot be handled as a HorizontalPodAutoscaler: '
            "json: cannot unmarshal string into Go struct field "
            "HorizontalPodAutoscalerSpec.spec.maxReplicas of type int32",
        ),
        (
            "coordination.k8s.io",
            "leases",
            {"spec": {"leaseDurationSeconds": 2**40}},
            'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal number '
            f"{2**40} into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32",
        ),
    ],
)
def test_type_errors(group: str, plural: str, obj: dict[str, Any], expected: str) -> None:
    assert decode_errors(group, plural, obj) == expected


def test_well_typed_objects_pass() -> None:
    obj = {
        "metadata": {"name": "web", "labels": {"a": "b"}},
        "spec": {
            "replicas": None,
            "template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}},
        },
    }
    assert decode_errors("apps", "deployments", obj) is None
    assert decode_errors("", "secrets", {"data": {"a": "aHVudGVyMg==", "b": ""}}) is None
    assert decode_errors("example.com", "widgets", {"spec": {"replicas": "x"}}) is None


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("aGk=", None),
        ("aGk", 0),
        ("aGVsbG8", 4),
        ("ab!d", 2),
        ("a===", 1),
        ("aGk=x", 4),
        ("aG\nk=", None),
    ],
)
def test_base64_offsets_follow_go(text: str, offset: int | None) -> None:
    assert base64_error_offset(text) == offset
