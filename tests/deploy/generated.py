"""The committed deployment files that are generated, and how to regenerate them.

* `deploy/kustomize/base/rbac.yaml` is `ensign rbac`; `deploy/kustomize/namespaced/rbac.yaml` is
  `ensign rbac --namespace ensign-system`;
* the rules block of `charts/ensign/templates/rbac.yaml` (between the GENERATED RULES markers)
  is `ensign.kube.rbac.rules()` as YAML;
* `deploy/kustomize/base/crds/` and `charts/ensign/crds/` are byte-identical copies of
  `deploy/crds/` (kustomize loads files only from below the kustomization, Helm only from the
  chart).

`tests/deploy/test_rbac.py` fails when a file differs; `python -m tests.deploy.generated`
rewrites them all.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from ensign.cli import main
from ensign.kube import rbac

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "deploy" / "crds"
KUSTOMIZE = ROOT / "deploy" / "kustomize"
CHART = ROOT / "charts" / "ensign"
CHART_RBAC = CHART / "templates" / "rbac.yaml"

RULES_BLOCK = re.compile(
    r"(?P<head>^(?P<indent> *)# BEGIN GENERATED RULES\n)(?P<body>.*?)(?P<tail>^ *# END GENERATED RULES\n)",
    re.MULTILINE | re.DOTALL,
)


def ensign_rbac(*args: str) -> str:
    """The output of `ensign rbac ARGS`, through the real command line."""
    result = CliRunner().invoke(main, ["rbac", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def rules_block(indent: str = "  ") -> str:
    """`rbac.rules()` as the YAML list the chart embeds under `rules:`; the cluster-scoped
    rules only when the chart renders a ClusterRole (no watchNamespace)."""

    def dump(rules: list[dict[str, object]]) -> str:
        text = yaml.safe_dump(rules, sort_keys=False, default_flow_style=False)
        return "".join(f"{indent}{line}\n" for line in text.splitlines())

    cluster = rbac.cluster_scoped_rules()
    out = dump(rbac.rules(namespaced_only=True))
    if cluster:
        out += f"{indent}{{{{- if not .Values.watchNamespace }}}}\n"
        out += dump(cluster)
        out += f"{indent}{{{{- end }}}}\n"
    return out


def chart_rbac_template(current: str) -> str:
    """The chart's rbac template with its generated rules block brought up to date."""
    match = RULES_BLOCK.search(current)
    if match is None:
        raise ValueError(f"{CHART_RBAC}: no '# BEGIN/END GENERATED RULES' markers")
    body = rules_block(match.group("indent"))
    return current[: match.start("body")] + body + current[match.end("body") :]


def expected_files() -> dict[Path, str]:
    """Every generated file, with the content it must have."""
    out = {
        KUSTOMIZE / "base" / "rbac.yaml": ensign_rbac(),
        KUSTOMIZE / "namespaced" / "rbac.yaml": ensign_rbac("--namespace", "ensign-system"),
        CHART_RBAC: chart_rbac_template(CHART_RBAC.read_text()),
    }
    for crd in sorted(CRDS.glob("*.yaml")):
        out[KUSTOMIZE / "base" / "crds" / crd.name] = crd.read_text()
        out[CHART / "crds" / crd.name] = crd.read_text()
    return out


def write_all() -> int:
    for path, text in expected_files().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(write_all())
