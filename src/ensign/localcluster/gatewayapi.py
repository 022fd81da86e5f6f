"""The Gateway API CRDs the local cluster can serve (GatewayClass, Gateway, HTTPRoute). Reads a file.

The manifests live next to this module in ``crds/gateway-api.yaml`` (shipped in the wheel):
group ``gateway.networking.k8s.io``, versions v1 (storage) and v1beta1 (served, same objects).
Install them with :func:`install_gateway_api` or by creating :func:`gateway_api_crds` through
the API; the local cluster's gateway simulator (``gateways.py``) then writes HTTPRoute status.
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

GROUP = "gateway.networking.k8s.io"
STORAGE_VERSION = "v1"
VERSIONS = ("v1", "v1beta1")
MANIFEST = "gateway-api.yaml"
CRD_NAMES = (
    f"gatewayclasses.{GROUP}",
    f"gateways.{GROUP}",
    f"httproutes.{GROUP}",
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


def gateway_api_crds() -> list[JSON]:
    """The GatewayClass, Gateway and HTTPRoute CRDs as fresh dicts (no shared subtrees)."""
    crds: list[JSON] = json.loads(_encoded_crds())
    return crds


def install_gateway_api(store: Store) -> list[str]:
    """Create the Gateway API CRDs directly in `store`; the names it created (existing are kept)."""
    crd_type = store.type_for("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    created: list[str] = []
    for crd in gateway_api_crds():
        try:
            store.create(crd_type, "", crd)
        except ApiError as exc:
            if exc.code != 409:
                raise
            continue
        created.append(str(crd["metadata"]["name"]))
    return created
