"""The Istio CRDs the local cluster can serve (VirtualService, DestinationRule). Reads a file.

The manifests live next to this module in ``crds/istio.yaml`` (shipped in the wheel): group
``networking.istio.io``, versions v1alpha3 (storage, as in Istio's own bundle), v1beta1 and v1
(served, same objects). Install them with :func:`install_istio` or by creating
:func:`istio_crds` through the API. Istio reports no route status that Flagger waits on, so
there is no simulator: objects are stored and validated, nothing more.
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

GROUP = "networking.istio.io"
STORAGE_VERSION = "v1alpha3"
VERSIONS = ("v1", "v1alpha3", "v1beta1")
MANIFEST = "istio.yaml"
CRD_NAMES = (
    f"virtualservices.{GROUP}",
    f"destinationrules.{GROUP}",
)


@functools.cache
def _manifest_text() -> str:
    return resources.files("ensign.localcluster").joinpath("crds", MANIFEST).read_text("utf-8")


@functools.cache
def _encoded_crds() -> str:
    docs = [
        doc
        for doc in yaml.safe_load_all(_manifest_text())
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]
    return json.dumps(docs)


def istio_crds() -> list[JSON]:
    """The VirtualService and DestinationRule CRDs as fresh dicts (no shared subtrees)."""
    crds: list[JSON] = json.loads(_encoded_crds())
    return crds


def install_istio(store: Store) -> list[str]:
    """Create the Istio CRDs directly in `store`; the names it created (existing are kept)."""
    crd_type = store.type_for("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    created: list[str] = []
    for crd in istio_crds():
        try:
            store.create(crd_type, "", crd)
        except ApiError as exc:
            if exc.code != 409:
                raise
            continue
        created.append(str(crd["metadata"]["name"]))
    return created
