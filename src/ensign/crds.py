"""Where the flagger.app/v1beta1 CustomResourceDefinitions live, and loading them. Reads files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def crd_directory() -> Path:
    """`ensign/crds` inside an installed wheel, or `deploy/crds` in a source checkout."""
    packaged = Path(__file__).parent / "crds"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[2] / "deploy" / "crds"
    if source.is_dir():
        return source
    raise FileNotFoundError("CRD manifests not found (looked in ensign/crds and deploy/crds)")


def load_crds() -> list[dict[str, Any]]:
    """The CRD objects, in a stable order."""
    out: list[dict[str, Any]] = []
    for path in sorted(crd_directory().glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                out.append(doc)
    return out
