"""Rendering the deployment artifacts and validating what they render against a local cluster.

* `kustomize(dir)` runs `kubectl kustomize` (kubectl's built-in kustomize). kubectl is part of
  this machine kind's image; a missing kubectl fails the test with a message, it is never skipped.
* `render_chart(values)` renders charts/ensign with `tests/deploy/gotemplate.py`, a small
  renderer of the Go-template subset the chart uses (there is no helm binary here), and returns
  the parsed objects of the templates plus the CRDs of `crds/`, as `helm install` would send.
* `validate(objects)` sends every object to a fresh `LocalCluster`: Namespaces and CRDs are
  created for real (the other objects need them), everything else is POSTed with
  `?dryRun=All`. It returns the server's answer for each object.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import yaml

from ensign.localcluster.cluster import LocalCluster
from tests.deploy import gotemplate

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kustomize"
CHART = ROOT / "charts" / "ensign"

JSON = dict[str, Any]

# A cut-down monitoring.coreos.com/v1 ServiceMonitor CRD (the Prometheus Operator's), with the
# fields the chart sets; enough for the local cluster to serve and validate the kind.
SERVICE_MONITOR_CRD: JSON = yaml.safe_load(
    """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors,
          singular: servicemonitor, shortNames: [smon]}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [selector]
              properties:
                jobLabel: {type: string}
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      scheme: {type: string, enum: [http, https]}
                      interval: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                namespaceSelector:
                  type: object
                  properties:
                    any: {type: boolean}
                    matchNames: {type: array, items: {type: string}}
                selector:
                  type: object
                  properties:
                    matchLabels: {type: object, additionalProperties: {type: string}}
                    matchExpressions:
                      type: array
                      items:
                        type: object
                        required: [key, operator]
                        properties:
                          key: {type: string}
                          operator: {type: string}
                          values: {type: array, items: {type: string}}
"""
)


# ------------------------------------------------------------------------------ rendering


def parse_stream(text: str) -> list[JSON]:
    """The non-empty documents of a YAML stream; each must be a Kubernetes object."""
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for doc in docs:
        assert isinstance(doc, dict), f"not an object: {doc!r}"
        assert doc.get("apiVersion") and doc.get("kind"), f"no apiVersion/kind: {doc!r}"
        assert (doc.get("metadata") or {}).get("name"), f"no metadata.name: {doc!r}"
    return docs


def kustomize(directory: Path) -> list[JSON]:
    """`kubectl kustomize DIR`, parsed."""
    kubectl = shutil.which("kubectl")
    assert kubectl, (
        "kubectl is not on PATH: these tests render deploy/kustomize with kubectl's built-in "
        "kustomize (kubectl ships with this machine image; install it to run them)"
    )
    proc = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"kubectl kustomize {directory} failed:\n{proc.stderr}"
    return parse_stream(proc.stdout)


def chart_values(override: JSON | None = None) -> JSON:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    return gotemplate.merge_values(values, override or {})


def render_chart_text(
    override: JSON | None = None, *, release: str = "ensign", namespace: str = "ensign-system"
) -> dict[str, str]:
    """Each template of the chart rendered, by file name (like `helm template`)."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    context = {
        "Values": chart_values(override),
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": {
            "Name": chart["name"],
            "Version": chart["version"],
            "AppVersion": chart["appVersion"],
        },
    }
    out: dict[str, str] = {}
    for path in sorted((CHART / "templates").iterdir()):
        if path.name.startswith("_") or path.suffix not in (".yaml", ".yml", ".txt"):
            continue
        out[path.name] = gotemplate.render(path.read_text(), context, name=path.name)
    return out


def chart_crds() -> list[JSON]:
    return [
        doc
        for path in sorted((CHART / "crds").glob("*.yaml"))
        for doc in parse_stream(path.read_text())
    ]


def render_chart(
    override: JSON | None = None, *, release: str = "ensign", namespace: str = "ensign-system"
) -> list[JSON]:
    """The objects `helm install` would create: the CRDs, then the rendered templates."""
    docs = chart_crds()
    for name, text in render_chart_text(override, release=release, namespace=namespace).items():
        if name.endswith(".yaml"):
            docs += parse_stream(text)
    return docs


def by_kind(objects: list[JSON], kind: str) -> list[JSON]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[JSON], kind: str) -> JSON:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


# ------------------------------------------------------------------------------ validation


@dataclass
class Answer:
    obj: JSON
    status: int
    body: JSON

    @property
    def what(self) -> str:
        meta = self.obj["metadata"]
        ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{self.obj['kind']} {ns}{meta['name']}"


class Server:
    """Raw REST access to a local cluster, resolving kinds through discovery like kubectl."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http

    async def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(collection path prefix, namespaced) of `kind` in `api_version`, from discovery."""
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        response = await self.http.get(base)
        assert response.status_code == 200, f"discovery of {api_version}: {response.text}"
        for entry in response.json()["resources"]:
            if entry["kind"] == kind and "/" not in entry["name"]:
                return f"{base}/{entry['name']}", bool(entry["namespaced"])
        raise AssertionError(f"the cluster does not serve {kind} in {api_version}")

    async def create(self, obj: JSON, *, dry_run: bool) -> Answer:
        prefix, namespaced = await self.resource(obj["apiVersion"], obj["kind"])
        path = prefix
        if namespaced:
            namespace = obj["metadata"].get("namespace")
            assert namespace, f"{obj['kind']} {obj['metadata']['name']} has no namespace"
            head, plural = prefix.rsplit("/", 1)
            path = f"{head}/namespaces/{namespace}/{plural}"
        params = {"dryRun": "All"} if dry_run else {}
        response = await self.http.post(path, json=obj, params=params)
        return Answer(obj, response.status_code, response.json())


async def validate(
    objects: list[JSON], *, namespaces: tuple[str, ...] = (), extra_crds: tuple[JSON, ...] = ()
) -> list[Answer]:
    """Send every object to a fresh local cluster; the answers (Namespaces and CRDs first).

    `namespaces` are created first, as `helm install --create-namespace` or an admin would;
    `extra_crds` (e.g. the ServiceMonitor CRD) are installed before anything else.
    """
    answers: list[Answer] = []
    async with (
        LocalCluster() as cluster,
        httpx2.AsyncClient(base_url=cluster.url, timeout=10.0) as http,
    ):
        server = Server(http)
        for name in namespaces:
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            answer = await server.create(ns, dry_run=False)
            assert answer.status == 201, answer.body
        for crd in extra_crds:
            answer = await server.create(crd, dry_run=False)
            assert answer.status == 201, answer.body
        first = [o for o in objects if o["kind"] in ("Namespace", "CustomResourceDefinition")]
        rest = [o for o in objects if o not in first]
        for obj in first:
            answers.append(await server.create(obj, dry_run=False))
        for obj in rest:
            answers.append(await server.create(obj, dry_run=True))
        # dryRun must not have written anything.
        for answer in answers:
            if answer.obj in rest and answer.status == 201:
                prefix, namespaced = await server.resource(
                    answer.obj["apiVersion"], answer.obj["kind"]
                )
                meta = answer.obj["metadata"]
                if namespaced:
                    head, plural = prefix.rsplit("/", 1)
                    prefix = f"{head}/namespaces/{meta['namespace']}/{plural}"
                got = await http.get(f"{prefix}/{meta['name']}")
                assert got.status_code == 404, f"dryRun created {answer.what}"
    return answers


def rejected(answers: list[Answer]) -> list[str]:
    """A line per object the server did not accept with 201 Created."""
    return [
        f"{a.what}: HTTP {a.status}: {a.body.get('message', a.body)}"
        for a in answers
        if a.status != 201
    ]


def pruned(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Fields of `sent` missing from `stored`: what a CRD schema pruned as unknown."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path or "."]
        out: list[str] = []
        for key, value in sent.items():
            if key not in stored:
                out.append(f"{path}.{key}")
            else:
                out += pruned(value, stored[key], f"{path}.{key}")
        return out
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [path]
        return [p for i, item in enumerate(sent) for p in pruned(item, stored[i], f"{path}[{i}]")]
    return []


# ------------------------------------------------------------------------------ shared checks

# Leader-election flags of `ensign controller` that are being added in parallel with these
# manifests. Until the command line has them, the flag check accepts them by name only.
PENDING_CONTROLLER_FLAGS = frozenset(
    {"--enable-leader-election", "--disable-leader-election", "--leader-election-namespace"}
)


def _matches(selector: JSON, labels: JSON) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def controller_args(deployment: JSON, pod_namespace: str) -> list[str]:
    """The container's args with `$(POD_NAMESPACE)` expanded as the kubelet would."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return [a.replace("$(POD_NAMESPACE)", pod_namespace) for a in container.get("args", [])]


def check_controller_args(args: list[str]) -> list[str]:
    """Problems `ensign controller ARGS` would have parsing the args (empty: all accepted)."""
    import click

    from ensign.cli import controller

    known = {opt for param in controller.params for opt in param.opts + param.secondary_opts}
    pending = {
        a.split("=", 1)[0]
        for a in args
        if a.split("=", 1)[0] in PENDING_CONTROLLER_FLAGS and a.split("=", 1)[0] not in known
    }
    problems = [
        f"{a}: not an option of `ensign controller`"
        for a in args
        if a.startswith("--") and a.split("=", 1)[0] not in known | pending
    ]
    parsable = [a for a in args if a.split("=", 1)[0] not in pending]
    try:
        controller.make_context("controller", parsable)
    except click.ClickException as exc:
        problems.append(exc.format_message())
    return problems


def check_controller_objects(objects: list[JSON]) -> list[str]:
    """Cross-object and hardening checks of a rendered install; a line per problem."""
    problems: list[str] = []
    deployment = one(objects, "Deployment")
    namespace = deployment["metadata"]["namespace"]
    spec = deployment["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"]["labels"]
    pod_spec = pod["spec"]
    (container,) = pod_spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}

    if not _matches(spec["selector"]["matchLabels"], pod_labels):
        problems.append("Deployment selector does not match its pod labels")
    # Hardening.
    pod_sc = pod_spec.get("securityContext", {})
    sc = container.get("securityContext", {})
    if not (pod_sc.get("runAsNonRoot") or sc.get("runAsNonRoot")):
        problems.append("runAsNonRoot is not set")
    if int(sc.get("runAsUser", pod_sc.get("runAsUser", 0))) == 0:
        problems.append("runs as UID 0")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
        problems.append("capabilities are not all dropped")
    # Probes on the metrics port, which must listen on all interfaces.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got = (container.get(probe) or {}).get("httpGet") or {}
        if got.get("path") != path or got.get("port") not in (*ports, *ports.values()):
            problems.append(f"{probe} is not GET {path} on a container port: {got}")
    args = controller_args(deployment, namespace)
    if f"--metrics-addr=0.0.0.0:{ports.get('http-metrics')}" not in args:
        problems.append(f"--metrics-addr does not bind 0.0.0.0 on the http-metrics port: {args}")
    problems += check_controller_args(args)
    resources = container.get("resources") or {}
    if not (resources.get("requests") and resources.get("limits", {}).get("memory")):
        problems.append(f"resources lack requests or a memory limit: {resources}")
    # Service account and its binding.
    sa_name = pod_spec.get("serviceAccountName")
    accounts = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in by_kind(objects, "ServiceAccount")
    }
    if (namespace, sa_name) not in accounts:
        problems.append(f"ServiceAccount {namespace}/{sa_name} is not rendered")
    bindings = by_kind(objects, "ClusterRoleBinding") + by_kind(objects, "RoleBinding")
    roles = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects}
    bound = False
    for binding in bindings:
        ref = binding["roleRef"]
        ref_ns = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        if (ref["kind"], ref["name"], ref_ns) not in roles:
            problems.append(
                f"{binding['kind']} {binding['metadata']['name']} refers to a missing {ref}"
            )
        for subject in binding.get("subjects", []):
            if (subject["kind"], subject["name"], subject.get("namespace")) == (
                "ServiceAccount",
                sa_name,
                namespace,
            ):
                bound = True
    if not bound:
        problems.append(f"no binding grants the controller's ServiceAccount {sa_name}")
    # Service and PodDisruptionBudget select the controller's pods.
    for service in by_kind(objects, "Service"):
        if not _matches(service["spec"]["selector"], pod_labels):
            problems.append(f"Service {service['metadata']['name']} does not select the pods")
        for port in service["spec"]["ports"]:
            if port["targetPort"] not in (*ports, *ports.values()):
                problems.append(f"Service targetPort {port['targetPort']} is not a container port")
    for pdb in by_kind(objects, "PodDisruptionBudget"):
        if not _matches(pdb["spec"]["selector"]["matchLabels"], pod_labels):
            problems.append("PodDisruptionBudget does not select the pods")
        if int(pdb["spec"].get("minAvailable", 0)) >= int(spec.get("replicas", 1)):
            problems.append("PodDisruptionBudget would block every voluntary disruption")
    return problems
