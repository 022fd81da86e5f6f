"""Static checks of the flagger.app/v1beta1 CustomResourceDefinitions in deploy/crds/.

The CRDs must be accepted by a real Kubernetes (1.30+) API server, so besides the names,
scope, subresources and printer columns this module lints the schemas against the
apiextensions.k8s.io/v1 "structural schema" rules, and checks that the Flagger manifests
in tests/fixtures/flagger/ only use fields that the schemas declare (a real server would
otherwise prune or, with strict field validation, reject them).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ensign.localcluster import schema as schema_mod

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "deploy" / "crds"
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "flagger"

Schema = dict[str, Any]

CRD_FILES = {
    "canaries.yaml": ("Canary", "canaries", "canary"),
    "metrictemplates.yaml": ("MetricTemplate", "metrictemplates", "metrictemplate"),
    "alertproviders.yaml": ("AlertProvider", "alertproviders", "alertprovider"),
}

CANARY_COLUMNS = [
    ("Status", ".status.phase", "string", 0),
    ("Weight", ".status.canaryWeight", "string", 0),
    ("Suspended", ".spec.suspend", "boolean", 1),
    ("FailedChecks", ".status.failedChecks", "string", 1),
    ("Interval", ".spec.analysis.interval", "string", 1),
    ("Mirror", ".spec.analysis.mirror", "boolean", 1),
    ("StepWeight", ".spec.analysis.stepWeight", "string", 1),
    ("StepWeights", ".spec.analysis.stepWeights", "string", 1),
    ("MaxWeight", ".spec.analysis.maxWeight", "string", 1),
    ("LastTransitionTime", ".status.lastTransitionTime", "string", 0),
]

# Formats that the apiextensions validator knows; anything else is ignored (with a warning).
KNOWN_FORMATS = {
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "date-time",
    "datetime",
    "int32",
    "int64",
    "float",
    "double",
}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
JUNCTORS = ("oneOf", "anyOf", "allOf", "not")
# Keys a value-validation branch (inside oneOf/anyOf/allOf/not) must not carry.
FORBIDDEN_IN_JUNCTOR = {
    "type",
    "description",
    "default",
    "additionalProperties",
    "nullable",
    "properties",
    "items",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-validations",
}


@functools.cache
def _parse_crd(filename: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = [d for d in yaml.load_all((CRD_DIR / filename).read_text(), Loader=loader) if d]
    assert len(docs) == 1, f"{filename}: expected exactly one YAML document"
    doc: dict[str, Any] = docs[0]
    return doc


def load_crd(filename: str) -> dict[str, Any]:
    return copy.deepcopy(_parse_crd(filename))


def crd_schema(crd: dict[str, Any]) -> Schema:
    schema: Schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@functools.cache
def schemas_by_kind() -> dict[str, Schema]:
    out = {}
    for filename in CRD_FILES:
        crd = load_crd(filename)
        out[crd["spec"]["names"]["kind"]] = crd_schema(crd)
    return out


def walk(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Yield every structural schema node (not the junctor branches) with its path."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{*}}")


def default_violations(value: Any, node: Schema) -> list[str]:
    typ = node.get("type")
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }
    problems = []
    if typ in checks and not checks[typ](value):
        problems.append(f"default {value!r} is not of type {typ}")
    if "enum" in node and value not in node["enum"]:
        problems.append(f"default {value!r} not in enum")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            problems.append(f"default {value!r} below minimum")
        if "maximum" in node and value > node["maximum"]:
            problems.append(f"default {value!r} above maximum")
    if isinstance(value, str):
        if "pattern" in node and not re.search(node["pattern"], value):
            problems.append(f"default {value!r} does not match pattern")
        if "maxLength" in node and len(value) > node["maxLength"]:
            problems.append(f"default {value!r} longer than maxLength")
    return problems


def structural_problems(schema: Schema) -> list[str]:
    """Lint a schema against the apiextensions.k8s.io/v1 structural-schema rules."""
    problems: list[str] = []
    if schema.get("type") != "object":
        problems.append("root: type must be object")
    for path, node in walk(schema):
        where = path or "<root>"
        int_or_string = node.get("x-kubernetes-int-or-string") is True
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        typ = node.get("type")
        if int_or_string:
            if "type" in node:
                problems.append(f"{where}: int-or-string node must not declare a type")
            for branch in node.get("anyOf", []):
                if branch not in ({"type": "integer"}, {"type": "string"}):
                    problems.append(f"{where}: int-or-string anyOf may only list the two types")
        elif typ is None:
            if not preserve:
                problems.append(f"{where}: missing type")
        elif typ not in TYPES:
            problems.append(f"{where}: unknown type {typ!r}")
        if preserve and typ not in (None, "object"):
            problems.append(f"{where}: preserve-unknown-fields on a non-object node")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{where}: properties and additionalProperties are exclusive")
        if ("properties" in node or "additionalProperties" in node) and typ != "object":
            problems.append(f"{where}: properties on a non-object node")
        if "items" in node and typ != "array":
            problems.append(f"{where}: items on a non-array node")
        if typ == "array" and not isinstance(node.get("items"), dict):
            problems.append(f"{where}: array without an items schema")
        if "additionalProperties" in node and not isinstance(node["additionalProperties"], dict):
            problems.append(f"{where}: additionalProperties must be a schema")
        if node.get("nullable") is True:
            problems.append(f"{where}: nullable is not used by Flagger's API")
        if "format" in node and node["format"] not in KNOWN_FORMATS:
            problems.append(f"{where}: unknown format {node['format']!r}")
        for key in ("$ref", "definitions", "dependencies", "patternProperties", "uniqueItems"):
            if key in node:
                problems.append(f"{where}: {key} is not allowed in CRD schemas")
        if "enum" in node:
            for value in node["enum"]:
                problems.extend(f"{where}: enum {p}" for p in default_violations(value, node)[:1])
        if "default" in node:
            problems.extend(f"{where}: {p}" for p in default_violations(node["default"], node))
        props = node.get("properties", {})
        for name in node.get("required", []):
            if props and name not in props and not preserve:
                problems.append(f"{where}: required field {name!r} is not a property")
        for junctor in JUNCTORS:
            if junctor not in node:
                continue
            if int_or_string and junctor == "anyOf":
                continue
            branches = node[junctor] if isinstance(node[junctor], list) else [node[junctor]]
            for branch in branches:
                bad = FORBIDDEN_IN_JUNCTOR & branch.keys()
                if bad:
                    problems.append(f"{where}: {junctor} branch declares {sorted(bad)}")
                for name in branch.get("required", []):
                    if name not in props:
                        problems.append(f"{where}: {junctor} requires unknown field {name!r}")
        for rule in node.get("x-kubernetes-validations", []):
            if typ is None:
                problems.append(f"{where}: CEL rule on an untyped node")
            for field in re.findall(r"self\.([A-Za-z_][A-Za-z0-9_]*)", rule["rule"]):
                if field not in props:
                    problems.append(f"{where}: CEL rule references unknown field {field!r}")
            if not re.fullmatch(r"[\w\s.'()!&|=]+", rule["rule"]):
                problems.append(f"{where}: CEL rule is not a simple has()/comparison expression")
            if "message" not in rule:
                problems.append(f"{where}: CEL rule without a message")
    metadata = schema.get("properties", {}).get("metadata")
    if metadata is not None:
        extra = set(metadata.get("properties", {})) - {"name", "generateName"}
        if extra or set(metadata) - {"type", "properties", "description"}:
            problems.append("metadata: only name/generateName may be restricted")
    return problems


def resolve(schema: Schema, json_path: str) -> Schema | None:
    node: Schema | None = schema
    for part in json_path.lstrip(".").split("."):
        if node is None:
            return None
        node = node.get("properties", {}).get(part)
    return node


def unknown_fields(obj: Any, node: Schema, path: str = "") -> list[str]:
    """Fields of `obj` that a server would prune with this schema."""
    if node.get("x-kubernetes-preserve-unknown-fields") is True and "properties" not in node:
        return []
    out: list[str] = []
    if isinstance(obj, dict) and node.get("type") == "object":
        props = node.get("properties")
        extra = node.get("additionalProperties")
        for key, value in obj.items():
            if path == "" and key == "metadata":
                continue  # ObjectMeta is validated by the server itself
            if props is not None and key in props:
                out.extend(unknown_fields(value, props[key], f"{path}.{key}"))
            elif isinstance(extra, dict):
                out.extend(unknown_fields(value, extra, f"{path}.{key}"))
            elif node.get("x-kubernetes-preserve-unknown-fields") is not True:
                out.append(f"{path}.{key}")
    elif isinstance(obj, list) and node.get("type") == "array":
        for i, item in enumerate(obj):
            out.extend(unknown_fields(item, node["items"], f"{path}[{i}]"))
    return out


# ------------------------------------------------------------------------------------------
# CRD metadata
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", sorted(CRD_FILES))
def test_crd_identity(filename: str) -> None:
    kind, plural, singular = CRD_FILES[filename]
    crd = load_crd(filename)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.flagger.app"
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    spec = crd["spec"]
    assert spec["group"] == "flagger.app"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": singular,
        "categories": ["all"],
    }
    assert [v["name"] for v in spec["versions"]] == ["v1beta1"]
    version = spec["versions"][0]
    assert version["served"] is True
    assert version["storage"] is True
    assert version["subresources"] == {"status": {}}
    assert "conversion" not in spec
    assert "shortNames" not in spec["names"]
    text = (CRD_DIR / filename).read_text()
    assert not re.search(r"[&*]id\d", text), "YAML anchors/aliases make the CRD hard to read"


def test_crd_directory_holds_exactly_the_three_crds() -> None:
    assert sorted(p.name for p in CRD_DIR.glob("*.y*ml")) == sorted(CRD_FILES)


def test_canary_printer_columns() -> None:
    version = load_crd("canaries.yaml")["spec"]["versions"][0]
    columns = [
        (c["name"], c["jsonPath"], c["type"], c.get("priority", 0))
        for c in version["additionalPrinterColumns"]
    ]
    assert columns == CANARY_COLUMNS


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("metrictemplates.yaml", [("Provider", ".spec.provider.type", "string", 0)]),
        ("alertproviders.yaml", [("Type", ".spec.type", "string", 0)]),
    ],
)
def test_other_printer_columns(filename: str, expected: list[tuple[str, str, str, int]]) -> None:
    version = load_crd(filename)["spec"]["versions"][0]
    columns = [
        (c["name"], c["jsonPath"], c["type"], c.get("priority", 0))
        for c in version["additionalPrinterColumns"]
    ]
    assert columns == expected


@pytest.mark.parametrize("filename", sorted(CRD_FILES))
def test_printer_columns_point_at_schema_fields(filename: str) -> None:
    crd = load_crd(filename)
    schema = crd_schema(crd)
    for column in crd["spec"]["versions"][0]["additionalPrinterColumns"]:
        assert resolve(schema, column["jsonPath"]) is not None, column


# ------------------------------------------------------------------------------------------
# Structural schema lint
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", sorted(CRD_FILES))
def test_schema_is_structural(filename: str) -> None:
    assert structural_problems(crd_schema(load_crd(filename))) == []


def test_lint_catches_non_structural_schemas() -> None:
    bad: Schema = {
        "type": "object",
        "properties": {
            "untyped": {"description": "no type"},
            "both": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            },
            "branchy": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "oneOf": [{"type": "object", "required": ["a"]}, {"required": ["b"]}],
            },
            "port": {"type": "string", "x-kubernetes-int-or-string": True},
            "bad_default": {"type": "integer", "minimum": 1, "default": 0},
        },
    }
    problems = "\n".join(structural_problems(bad))
    assert ".untyped: missing type" in problems
    assert ".both: properties and additionalProperties are exclusive" in problems
    assert ".branchy: oneOf branch declares ['type']" in problems
    assert ".branchy: oneOf requires unknown field 'b'" in problems
    assert ".port: int-or-string node must not declare a type" in problems
    assert ".bad_default: default 0 below minimum" in problems


def test_canary_schema_rules() -> None:
    schema = crd_schema(load_crd("canaries.yaml"))
    spec = schema["properties"]["spec"]
    assert set(spec["required"]) == {"targetRef", "analysis"}
    props = spec["properties"]
    assert "gatewayapi:v1" in props["provider"]["enum"]
    assert "gatewayapi" not in props["provider"]["enum"]
    assert props["targetRef"]["required"] == ["apiVersion", "kind", "name"]
    assert props["targetRef"]["properties"]["kind"]["enum"] == [
        "DaemonSet",
        "Deployment",
        "Service",
    ]
    assert props["autoscalerRef"]["properties"]["kind"]["enum"] == [
        "HorizontalPodAutoscaler",
        "ScaledObject",
    ]
    service = props["service"]
    assert service["required"] == ["port"]
    target_port = service["properties"]["targetPort"]
    assert target_port.get("x-kubernetes-int-or-string") is True
    assert "type" not in target_port
    assert service["properties"]["trafficPolicy"]["x-kubernetes-preserve-unknown-fields"] is True
    assert service["properties"]["gatewayRefs"]["maxItems"] == 32
    analysis = props["analysis"]
    assert analysis["oneOf"] == [
        {"required": ["interval", "threshold", "iterations"]},
        {"required": ["interval", "threshold", "stepWeight"]},
        {"required": ["interval", "threshold", "stepWeights"]},
    ]
    a = analysis["properties"]
    for name in ("threshold", "iterations", "stepWeight", "stepWeightPromotion", "mirrorWeight"):
        assert a[name]["minimum"] == 0, name
    assert a["stepWeights"]["items"]["minimum"] == 0
    assert (a["maxWeight"]["minimum"], a["maxWeight"]["maximum"]) == (0, 100)
    for name in ("primaryReadyThreshold", "canaryReadyThreshold"):
        assert (a[name]["minimum"], a[name]["maximum"]) == (0, 100)
    assert props["progressDeadlineSeconds"]["minimum"] == 0
    pattern = re.compile(a["interval"]["pattern"])
    assert pattern.search("1m30s")
    assert pattern.search("30s")
    assert not pattern.search("1h")
    webhook = a["webhooks"]["items"]
    assert webhook["required"] == ["name", "url"]
    assert "confirm-traffic-increase" in webhook["properties"]["type"]["enum"]
    assert a["alerts"]["items"]["properties"]["severity"]["enum"] == ["", "info", "warn", "error"]
    assert a["sessionAffinity"]["properties"]["maxAge"]["default"] == 86400
    status = schema["properties"]["status"]["properties"]
    for field in (
        "phase",
        "failedChecks",
        "canaryWeight",
        "iterations",
        "trackedConfigs",
        "lastAppliedSpec",
        "lastPromotedSpec",
        "lastTransitionTime",
        "sessionAffinityCookie",
        "primarySessionAffinityCookie",
        "previousSessionAffinityCookie",
        "conditions",
    ):
        assert field in status, field
    assert status["conditions"]["items"]["required"] == ["type", "status", "reason"]
    assert "WaitingPromotion" in status["phase"]["enum"]
    # deprecated alias accepts the same fields, but is not required and has no oneOf
    assert set(props["canaryAnalysis"]["properties"]) == set(a)
    assert "oneOf" not in props["canaryAnalysis"]


def test_alertprovider_and_metrictemplate_rules() -> None:
    ap = crd_schema(load_crd("alertproviders.yaml"))["properties"]["spec"]
    assert ap["oneOf"] == [{"required": ["type", "address"]}, {"required": ["type", "secretRef"]}]
    assert ap["properties"]["type"]["enum"] == ["slack", "msteams", "discord", "rocket", "gchat"]
    mt = crd_schema(load_crd("metrictemplates.yaml"))["properties"]["spec"]
    assert set(mt["required"]) == {"provider", "query"}
    assert mt["properties"]["provider"]["required"] == ["type"]
    assert "prometheus" in mt["properties"]["provider"]["properties"]["type"]["enum"]


# ------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------

FIXTURES = sorted(FIXTURE_DIR.glob("*.yaml"))


def load_fixture(path: Path) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert len(docs) == 1, f"{path.name}: expected exactly one YAML document"
    return docs[0]


def test_enough_fixtures() -> None:
    assert len(FIXTURES) >= 15
    kinds = {load_fixture(p)["kind"] for p in FIXTURES}
    assert kinds == {"Canary", "MetricTemplate", "AlertProvider"}


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_matches_a_crd(path: Path) -> None:
    obj = load_fixture(path)
    assert obj["apiVersion"] == "flagger.app/v1beta1"
    schemas = schemas_by_kind()
    assert obj["kind"] in schemas
    assert obj["metadata"]["name"]
    assert unknown_fields(obj, schemas[obj["kind"]]) == []


def test_unknown_fields_are_reported() -> None:
    schemas = schemas_by_kind()
    canary = load_fixture(FIXTURE_DIR / "canary-istio-progressive.yaml")
    canary["spec"]["analysis"]["stepweight"] = 5
    canary["spec"]["service"]["trafficPolicy"]["anything"] = {"goes": True}
    canary["spec"]["analysis"]["webhooks"][0]["metadata"]["free"] = "form"
    canary["spec"]["targetRef"]["namespace"] = "other"
    assert unknown_fields(canary, schemas["Canary"]) == [
        ".spec.targetRef.namespace",
        ".spec.analysis.stepweight",
    ]


# ------------------------------------------------------------------------------------------
# Validation with the local cluster's OpenAPI validator
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", sorted(CRD_FILES))
def test_localcluster_accepts_crd_schema(filename: str) -> None:
    assert schema_mod.check_crd_schema(crd_schema(load_crd(filename))) == []


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_validates(path: Path) -> None:
    obj = load_fixture(path)
    raw = schemas_by_kind()[obj["kind"]]
    assert schema_mod.validate(obj, raw) == []
    assert schema_mod.prune(copy.deepcopy(obj), raw) == obj
    defaulted = schema_mod.apply_defaults(copy.deepcopy(obj), raw)
    assert schema_mod.validate(defaulted, raw) == []


_DELETE = object()


def _set(path: str, value: Any) -> Any:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node: Any = obj
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DELETE:
            del node[leaf]
        elif isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value

    return mutate


BAD_CANARIES = {
    "negative stepWeight": (_set("spec.analysis.stepWeight", -1), "spec.analysis.stepWeight"),
    "unknown provider": (_set("spec.provider", "envoy"), "spec.provider"),
    "missing targetRef": (_set("spec.targetRef", _DELETE), "spec.targetRef"),
    "iterations and stepWeight": (_set("spec.analysis.iterations", 5), "<nil>"),
    "stepWeight and stepWeights": (_set("spec.analysis.stepWeights", [5, 10]), "<nil>"),
    "missing analysis": (_set("spec.analysis", _DELETE), "spec.analysis"),
    "maxWeight above 100": (_set("spec.analysis.maxWeight", 101), "spec.analysis.maxWeight"),
    "interval in hours": (_set("spec.analysis.interval", "1h"), "spec.analysis.interval"),
    "StatefulSet target": (_set("spec.targetRef.kind", "StatefulSet"), "spec.targetRef.kind"),
    "targetRef without name": (_set("spec.targetRef.name", _DELETE), "spec.targetRef.name"),
    "unknown webhook type": (
        _set("spec.analysis.webhooks.0.type", "pre"),
        "spec.analysis.webhooks[0].type",
    ),
    "webhook timeout in hours": (
        _set("spec.analysis.webhooks.0.timeout", "1h"),
        "spec.analysis.webhooks[0].timeout",
    ),
    "unknown alert severity": (
        _set("spec.analysis.alerts.0.severity", "critical"),
        "spec.analysis.alerts[0].severity",
    ),
    "negative progressDeadlineSeconds": (
        _set("spec.progressDeadlineSeconds", -1),
        "spec.progressDeadlineSeconds",
    ),
    "primaryReadyThreshold above 100": (
        _set("spec.analysis.primaryReadyThreshold", 150),
        "spec.analysis.primaryReadyThreshold",
    ),
    "service without port": (_set("spec.service.port", _DELETE), "spec.service.port"),
    "mirror Service without port": (
        _set("spec.service.mirror", [{"backendRef": {"name": "podinfo-shadow"}}]),
        "spec.service.mirror[0].backendRef",
    ),
    "header match with two operators": (
        _set("spec.analysis.match", [{"headers": {"x-canary": {"exact": "a", "regex": "b"}}}]),
        "<nil>",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CANARIES))
def test_bad_canary_is_rejected(case: str) -> None:
    mutate, field = BAD_CANARIES[case]
    obj = load_fixture(FIXTURE_DIR / "canary-istio-progressive.yaml")
    mutate(obj)
    causes = schema_mod.validate(obj, schemas_by_kind()["Canary"])
    assert causes, case
    assert field in {c.field for c in causes}, [str(c) for c in causes]


def test_mirror_backend_rule_allows_ported_or_non_service_backends() -> None:
    raw = schemas_by_kind()["Canary"]
    obj = load_fixture(FIXTURE_DIR / "canary-istio-progressive.yaml")
    obj["spec"]["service"]["mirror"] = [
        {"backendRef": {"name": "shadow", "port": 9898}},
        {"backendRef": {"group": "multicluster.x-k8s.io", "kind": "ServiceImport", "name": "x"}},
    ]
    assert schema_mod.validate(obj, raw) == []
    defaulted = schema_mod.apply_defaults(obj, raw)
    assert defaulted["spec"]["service"]["mirror"][0]["backendRef"]["kind"] == "Service"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "slack", "address": "https://x", "secretRef": {"name": "s"}}, "<nil>"),
        ({"type": "slack"}, "<nil>"),
        ({"type": "teams", "address": "https://x"}, "spec.type"),
    ],
)
def test_bad_alertprovider_is_rejected(spec: dict[str, Any], field: str) -> None:
    obj = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": "bad"},
        "spec": spec,
    }
    causes = schema_mod.validate(obj, schemas_by_kind()["AlertProvider"])
    assert field in {c.field for c in causes}, [str(c) for c in causes]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"provider": {"type": "prometheus"}}, "spec.query"),
        ({"provider": {"type": "graphana"}, "query": "up"}, "spec.provider.type"),
        ({"provider": {"address": "http://prom:9090"}, "query": "up"}, "spec.provider.type"),
    ],
)
def test_bad_metrictemplate_is_rejected(spec: dict[str, Any], field: str) -> None:
    obj = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "bad"},
        "spec": spec,
    }
    causes = schema_mod.validate(obj, schemas_by_kind()["MetricTemplate"])
    assert field in {c.field for c in causes}, [str(c) for c in causes]
