"""Validation causes of built-in kinds: real field paths, reasons and messages."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ensign.localcluster.builtin import apply_defaults, validate
from ensign.localcluster.errors import StatusCause

REQ, INV, NS, DUP, FORB = (
    "FieldValueRequired",
    "FieldValueInvalid",
    "FieldValueNotSupported",
    "FieldValueDuplicate",
    "FieldValueForbidden",
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    r"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"
    "[A-Za-z0-9])?')"
)
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
SELECTOR_MISMATCH = "`selector` does not match template `labels`"

Obj = dict[str, Any]


def deployment() -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }


def service() -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }


def _check(group: str, plural: str, obj: Obj, old: Obj | None = None) -> list[StatusCause]:
    apply_defaults(group, plural, obj)
    if old is not None:
        apply_defaults(group, plural, old)
    return validate(group, plural, obj, old)


def _edit(base: Callable[[], Obj], change: Callable[[Obj], object]) -> Obj:
    obj = base()
    change(obj)
    return obj


def _containers(o: Obj) -> list[Obj]:
    result: list[Obj] = o["spec"]["template"]["spec"]["containers"]
    return result


def test_valid_objects_have_no_causes() -> None:
    assert _check("apps", "deployments", deployment()) == []
    assert _check("", "services", service()) == []
    assert _check("apps", "daemonsets", deployment()) == []
    assert _check("apps", "replicasets", deployment()) == []


DEPLOYMENT_CASES: list[tuple[str, Callable[[Obj], object], list[StatusCause]]] = [
    (
        "missing name",
        lambda o: o["metadata"].pop("name"),
        [StatusCause(REQ, "Required value: name or generateName is required", "metadata.name")],
    ),
    (
        "bad name",
        lambda o: o["metadata"].update(name="Bad_Name"),
        [StatusCause(INV, f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}', "metadata.name")],
    ),
    (
        "bad label value",
        lambda o: o["metadata"].update(labels={"tier": "-x"}),
        [StatusCause(INV, f'Invalid value: "-x": {LABEL_VALUE_MSG}', "metadata.labels")],
    ),
    (
        "negative replicas",
        lambda o: o["spec"].update(replicas=-1),
        [
            StatusCause(
                INV, "Invalid value: -1: must be greater than or equal to 0", "spec.replicas"
            )
        ],
    ),
    (
        "no selector",
        lambda o: o["spec"].pop("selector"),
        [
            StatusCause(REQ, "Required value", "spec.selector"),
            StatusCause(
                INV,
                f'Invalid value: map[string]string{{"app":"web"}}: {SELECTOR_MISMATCH}',
                "spec.template.metadata.labels",
            ),
        ],
    ),
    (
        "selector mismatch",
        lambda o: o["spec"]["template"]["metadata"].update(labels={"app": "api", "b": "c"}),
        [
            StatusCause(
                INV,
                f'Invalid value: map[string]string{{"app":"api", "b":"c"}}: {SELECTOR_MISMATCH}',
                "spec.template.metadata.labels",
            )
        ],
    ),
    (
        "empty selector",
        lambda o: o["spec"].update(selector={}),
        [
            StatusCause(
                INV,
                "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
                "empty selector is invalid for deployment",
                "spec.selector",
            )
        ],
    ),
    (
        "no containers",
        lambda o: o["spec"]["template"]["spec"].update(containers=[]),
        [StatusCause(REQ, "Required value", "spec.template.spec.containers")],
    ),
    (
        "container without name and image",
        lambda o: _containers(o).append({}),
        [
            StatusCause(REQ, "Required value", "spec.template.spec.containers[1].name"),
            StatusCause(REQ, "Required value", "spec.template.spec.containers[1].image"),
        ],
    ),
    (
        "duplicate container names",
        lambda o: _containers(o).append({"name": "web", "image": "x"}),
        [StatusCause(DUP, 'Duplicate value: "web"', "spec.template.spec.containers[1].name")],
    ),
    (
        "bad container name",
        lambda o: _containers(o)[0].update(name="Web"),
        [
            StatusCause(
                INV, f'Invalid value: "Web": {LABEL_MSG}', "spec.template.spec.containers[0].name"
            )
        ],
    ),
    (
        "bad pull policy",
        lambda o: _containers(o)[0].update(imagePullPolicy="Sometimes"),
        [
            StatusCause(
                NS,
                'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
                "spec.template.spec.containers[0].imagePullPolicy",
            )
        ],
    ),
    (
        "bad container port",
        lambda o: _containers(o)[0].update(ports=[{"containerPort": 70000}]),
        [
            StatusCause(
                INV,
                "Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.template.spec.containers[0].ports[0].containerPort",
            )
        ],
    ),
    (
        "restart policy Never",
        lambda o: o["spec"]["template"]["spec"].update(restartPolicy="Never"),
        [
            StatusCause(
                NS,
                'Unsupported value: "Never": supported values: "Always"',
                "spec.template.spec.restartPolicy",
            )
        ],
    ),
    (
        "template label key",
        lambda o: o["spec"]["template"]["metadata"]["labels"].update({"a/b/c": "x"}),
        [
            StatusCause(
                INV,
                'Invalid value: "a/b/c": a valid label key must consist of alphanumeric characters, '
                "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
                "and '/' (e.g. 'example.com/MyName')",
                "spec.template.labels",
            )
        ],
    ),
    (
        "both surge and unavailable zero",
        lambda o: o["spec"].update(
            strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}
        ),
        [
            StatusCause(
                INV,
                "Invalid value: 0: may not be 0 when `maxSurge` is 0",
                "spec.strategy.rollingUpdate.maxUnavailable",
            )
        ],
    ),
    (
        "unavailable over 100%",
        lambda o: o["spec"].update(strategy={"rollingUpdate": {"maxUnavailable": "120%"}}),
        [
            StatusCause(
                INV,
                "Invalid value: 120%: must not be greater than 100%",
                "spec.strategy.rollingUpdate.maxUnavailable",
            )
        ],
    ),
    (
        "recreate with rolling update",
        lambda o: o["spec"].update(strategy={"type": "Recreate", "rollingUpdate": {}}),
        [
            StatusCause(
                FORB,
                "Forbidden: may not be specified when strategy `type` is 'Recreate'",
                "spec.strategy.rollingUpdate",
            )
        ],
    ),
    (
        "progress deadline not above min ready",
        lambda o: o["spec"].update(progressDeadlineSeconds=5, minReadySeconds=5),
        [
            StatusCause(
                INV,
                "Invalid value: 5: must be greater than minReadySeconds",
                "spec.progressDeadlineSeconds",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in DEPLOYMENT_CASES], ids=[c[0] for c in DEPLOYMENT_CASES]
)
def test_deployment_rules(change: Callable[[Obj], object], expected: list[StatusCause]) -> None:
    assert _check("apps", "deployments", _edit(deployment, change)) == expected


def test_selector_is_immutable_on_update() -> None:
    old = deployment()
    new = _edit(deployment, lambda o: o["spec"]["selector"]["matchLabels"].update(tier="x"))
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert _check("apps", "deployments", new, old) == [
        StatusCause(
            INV,
            'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, '
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
            "spec.selector",
        )
    ]
    assert _check("apps", "deployments", deployment(), deployment()) == []


def test_daemonset_without_selector_reports_only_mismatch() -> None:
    ds = _edit(deployment, lambda o: o["spec"].pop("selector"))
    assert _check("apps", "daemonsets", ds) == [
        StatusCause(
            INV,
            f'Invalid value: map[string]string{{"app":"web"}}: {SELECTOR_MISMATCH}',
            "spec.template.metadata.labels",
        )
    ]


def test_daemonset_rolling_update_needs_exactly_one_nonzero() -> None:
    ds = _edit(
        deployment, lambda o: o["spec"].update(updateStrategy={"rollingUpdate": {"maxSurge": 1}})
    )
    assert _check("apps", "daemonsets", ds) == [
        StatusCause(
            INV,
            "Invalid value: 1: may not be set when maxUnavailable is non-zero",
            "spec.updateStrategy.rollingUpdate.maxSurge",
        )
    ]


def test_invalid_selector_operator_skips_template_checks() -> None:
    rs = _edit(
        deployment,
        lambda o: o["spec"]["selector"].update(matchExpressions=[{"key": "a", "operator": "Has"}]),
    )
    causes = _check("apps", "replicasets", rs)
    assert causes[0] == StatusCause(
        INV,
        'Invalid value: "Has": not a valid selector operator',
        "spec.selector.matchExpressions[0].operator",
    )
    assert causes[-1].message.endswith(": invalid label selector")
    assert len(causes) == 2


SERVICE_CASES: list[tuple[str, Callable[[Obj], object], list[StatusCause]]] = [
    (
        "bad name is DNS-1035",
        lambda o: o["metadata"].update(name="1web"),
        [StatusCause(INV, f'Invalid value: "1web": {DNS1035_MSG}', "metadata.name")],
    ),
    (
        "no ports",
        lambda o: o["spec"].pop("ports"),
        [StatusCause(REQ, "Required value", "spec.ports")],
    ),
    (
        "port out of range",
        lambda o: o["spec"]["ports"][0].update(port=0, targetPort=8080),
        [
            StatusCause(
                INV,
                "Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].port",
            )
        ],
    ),
    (
        "duplicate port names",
        lambda o: o["spec"].update(
            ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}]
        ),
        [StatusCause(DUP, 'Duplicate value: "http"', "spec.ports[1].name")],
    ),
    (
        "second port needs a name",
        lambda o: o["spec"]["ports"].append({"port": 81, "name": "b"}),
        [StatusCause(REQ, "Required value", "spec.ports[0].name")],
    ),
    (
        "bad protocol",
        lambda o: o["spec"]["ports"][0].update(protocol="HTTP"),
        [
            StatusCause(
                NS,
                'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
                "spec.ports[0].protocol",
            )
        ],
    ),
    (
        "bad type",
        lambda o: o["spec"].update(type="Internal"),
        [
            StatusCause(
                NS,
                'Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", '
                '"LoadBalancer", "NodePort"',
                "spec.type",
            )
        ],
    ),
    (
        "bad cluster IP",
        lambda o: o["spec"].update(clusterIP="10.96.0.300"),
        [
            StatusCause(
                INV,
                'Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
                "spec.clusterIPs[0]",
            )
        ],
    ),
    ("headless needs no ports", lambda o: o["spec"].update(clusterIP="None", ports=[]), []),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
def test_service_rules(change: Callable[[Obj], object], expected: list[StatusCause]) -> None:
    assert _check("", "services", _edit(service, change)) == expected


def test_cluster_ip_may_not_change() -> None:
    old = _edit(service, lambda o: o["spec"].update(clusterIP="10.96.0.5"))
    new = _edit(service, lambda o: o["spec"].update(clusterIP="10.96.0.6"))
    assert _check("", "services", new, old) == [
        StatusCause(
            INV,
            'Invalid value: []string{"10.96.0.6"}: may not change once set',
            "spec.clusterIPs[0]",
        )
    ]


def test_duplicate_service_port_key() -> None:
    svc = _edit(
        service,
        lambda o: o["spec"].update(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80}]),
    )
    assert _check("", "services", svc) == [
        StatusCause(
            DUP,
            'Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
            'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
            "spec.ports[1]",
        )
    ]


def test_namespace_name_is_a_dns_label() -> None:
    assert _check("", "namespaces", {"metadata": {"name": "a.b"}}) == [
        StatusCause(INV, 'Invalid value: "a.b": must not contain dots', "metadata.name")
    ]


def test_generate_name_allows_trailing_dash() -> None:
    obj: Obj = {
        "metadata": {"generateName": "web-", "name": "web-x1y2z", "namespace": "d"},
        "data": {},
    }
    assert _check("", "configmaps", obj) == []


def test_configmap_and_secret_keys() -> None:
    cm: Obj = {"metadata": {"name": "c", "namespace": "d"}, "data": {"bad key": "v", "ok": "v"}}
    assert _check("", "configmaps", cm) == [
        StatusCause(INV, f'Invalid value: "bad key": {CONFIG_KEY_MSG}', "data[bad key]")
    ]
    secret: Obj = {"metadata": {"name": "s", "namespace": "d"}, "data": {"..x": "eA=="}}
    assert _check("", "secrets", secret) == [
        StatusCause(INV, "Invalid value: \"..x\": must not start with '..'", "data[..x]")
    ]


def test_secret_type_rules_and_immutability() -> None:
    tls: Obj = {
        "metadata": {"name": "s", "namespace": "d"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "eA=="},
    }
    assert _check("", "secrets", tls) == [StatusCause(REQ, "Required value", "data[tls.key]")]
    old: Obj = {
        "metadata": {"name": "s", "namespace": "d"},
        "immutable": True,
        "data": {"a": "eA=="},
    }
    new = copy.deepcopy(old)
    new["data"]["a"] = "eQ=="
    new["type"] = "Opaque"
    assert _check("", "secrets", new, old) == [
        StatusCause(FORB, "Forbidden: field is immutable when `immutable` is set", "data")
    ]
    changed_type = copy.deepcopy(old)
    changed_type["type"] = "kubernetes.io/basic-auth"
    changed_type["data"] = {"username": "eA==", "a": "eA=="}
    assert StatusCause(
        INV, 'Invalid value: "kubernetes.io/basic-auth": field is immutable', "type"
    ) in _check("", "secrets", changed_type, old)


def test_hpa_rules() -> None:
    hpa: Obj = {
        "metadata": {"name": "h", "namespace": "d"},
        "spec": {"minReplicas": 3, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment"}},
    }
    assert _check("autoscaling", "horizontalpodautoscalers", hpa) == [
        StatusCause(
            INV,
            "Invalid value: 2: must be greater than or equal to `minReplicas`",
            "spec.maxReplicas",
        ),
        StatusCause(REQ, "Required value", "spec.scaleTargetRef.name"),
    ]
    hpa["spec"].update(
        minReplicas=0, maxReplicas=0, scaleTargetRef={"kind": "Deployment", "name": "w"}
    )
    assert _check("autoscaling", "horizontalpodautoscalers", hpa) == [
        StatusCause(
            INV, "Invalid value: 0: must be greater than or equal to 1", "spec.minReplicas"
        ),
        StatusCause(INV, "Invalid value: 0: must be greater than 0", "spec.maxReplicas"),
    ]


def test_lease_rules() -> None:
    lease: Obj = {
        "metadata": {"name": "l", "namespace": "d"},
        "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1},
    }
    assert _check("coordination.k8s.io", "leases", lease) == [
        StatusCause(INV, "Invalid value: 0: must be greater than 0", "spec.leaseDurationSeconds"),
        StatusCause(
            INV, "Invalid value: -1: must be greater than or equal to 0", "spec.leaseTransitions"
        ),
    ]


def test_ingress_rules() -> None:
    empty: Obj = {"metadata": {"name": "i", "namespace": "d"}, "spec": {}}
    assert _check("networking.k8s.io", "ingresses", empty) == [
        StatusCause(
            INV,
            "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
            "spec",
        )
    ]
    path: Obj = {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web"}}}
    ing: Obj = {
        "metadata": {"name": "i", "namespace": "d"},
        "spec": {"rules": [{"http": {"paths": [path]}}]},
    }
    assert _check("networking.k8s.io", "ingresses", ing) == [
        StatusCause(
            INV,
            'Invalid value: "api": must be an absolute path',
            "spec.rules[0].http.paths[0].path",
        ),
        StatusCause(
            REQ,
            "Required value: port name or number is required",
            "spec.rules[0].http.paths[0].backend",
        ),
    ]


def test_missing_namespace_on_namespaced_kind() -> None:
    assert _check("", "configmaps", {"metadata": {"name": "c"}}) == [
        StatusCause(REQ, "Required value", "metadata.namespace")
    ]
