"""CRD bundles the local cluster can serve on demand, by name. Reads files.

A bundle is one YAML file `crds/<name>.yaml` next to this module (shipped in the wheel)
holding the CustomResourceDefinitions of one add-on: `gateway-api`, `istio`, and the other
routers' CRDs (`smi`, `contour`, `gloo`, `traefik`, `apisix`, `kuma`, `appmesh`), and KEDA's
ScaledObject (`keda`, acted on by `keda.KedaSimulator`). Tests and
the demo install the bundles they need; a cluster without a bundle shows a missing CRD.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from ensign.localcluster.errors import ApiError

if TYPE_CHECKING:
    from ensign.localcluster.store import Store

JSON = dict[str, Any]


def bundle_names() -> tuple[str, ...]:
    """The bundles shipped with this build, sorted."""
    folder = resources.files("ensign.localcluster").joinpath("crds")
    return tuple(
        sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))
    )


@functools.cache
def _encoded(name: str) -> str:
    path = resources.files("ensign.localcluster").joinpath("crds", f"{name}.yaml")
    if not path.is_file():
        raise LookupError(f"no CRD bundle {name!r}; bundles: {', '.join(bundle_names())}")
    docs = [
        doc
        for doc in yaml.safe_load_all(path.read_text("utf-8"))
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]
    return json.dumps(docs)


def bundle_crds(name: str) -> list[JSON]:
    """The CRDs of bundle `name` as fresh dicts (no shared subtrees)."""
    crds: list[JSON] = json.loads(_encoded(name))
    return crds


def install_bundle(store: Store, name: str) -> list[str]:
    """Create bundle `name`'s CRDs in `store`; the names it created (existing are kept)."""
    crd_type = store.type_for("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    created: list[str] = []
    for crd in bundle_crds(name):
        try:
            store.create(crd_type, "", crd)
        except ApiError as exc:
            if exc.code != 409:
                raise
            continue
        created.append(str(crd["metadata"]["name"]))
    return created
