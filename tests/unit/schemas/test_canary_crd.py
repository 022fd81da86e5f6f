"""The shipped Canary CRD registers cleanly and a minimal Canary is admitted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ensign.localcluster.schema import check_crd_schema, compile_schema

CRDS = Path(__file__).resolve().parents[3] / "deploy" / "crds"
MINIMAL_CANARY: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {
            "interval": "1m",
            "threshold": 5,
            "maxWeight": 50,
            "stepWeight": 10,
            "metrics": [
                {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}
            ],
        },
    },
}


def versions(name: str) -> list[dict[str, Any]]:
    path = CRDS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"{path} not written yet")
    crd = yaml.safe_load(path.read_text())
    return list(crd["spec"]["versions"])


@pytest.mark.parametrize("name", ["canaries", "metrictemplates", "alertproviders"])
def test_shipped_crd_schemas_pass_registration_checks(name: str) -> None:
    for i, version in enumerate(versions(name)):
        prefix = f"spec.versions[{i}].schema.openAPIV3Schema"
        assert check_crd_schema(version["schema"]["openAPIV3Schema"], path=prefix) == []


def canary_schema() -> Any:
    served = [v for v in versions("canaries") if v.get("storage")]
    return compile_schema(served[0]["schema"]["openAPIV3Schema"])


def test_minimal_canary_is_admitted() -> None:
    compiled = canary_schema()
    result, causes = compiled.admit(MINIMAL_CANARY)
    assert causes == []
    assert result["spec"]["targetRef"]["name"] == "podinfo"


def test_invalid_canary_reports_fields() -> None:
    compiled = canary_schema()
    bad = yaml.safe_load(yaml.safe_dump(MINIMAL_CANARY))
    bad["spec"]["analysis"]["stepWeight"] = -5
    del bad["spec"]["targetRef"]
    fields = [c.field for c in compiled.admit(bad)[1]]
    assert "spec.targetRef" in fields
