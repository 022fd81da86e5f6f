"""The Gateway API CRDs the local cluster can serve (GatewayClass, Gateway, HTTPRoute). Reads a file.

The manifests live next to this module in ``crds/gateway-api.yaml`` (shipped in the wheel):
group ``gateway.networking.k8s.io``, versions v1 (storage) and v1beta1 (served, same objects).
Install them with :func:`install_gateway_api` or by creating :func:`gateway_api_crds` through
the API; the local cluster's gateway simulator (``gateways.py``) then writes HTTPRoute status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ensign.localcluster import crd_bundles

if TYPE_CHECKING:
    from ensign.localcluster.store import Store

JSON = dict[str, Any]

GROUP = "gateway.networking.k8s.io"
STORAGE_VERSION = "v1"
VERSIONS = ("v1", "v1beta1")
BUNDLE = "gateway-api"  # crds/gateway-api.yaml, loaded by crd_bundles.py
CRD_NAMES = (
    f"gatewayclasses.{GROUP}",
    f"gateways.{GROUP}",
    f"httproutes.{GROUP}",
)


def gateway_api_crds() -> list[JSON]:
    """The GatewayClass, Gateway and HTTPRoute CRDs as fresh dicts (no shared subtrees)."""
    return crd_bundles.bundle_crds(BUNDLE)


def install_gateway_api(store: Store) -> list[str]:
    """Create them directly in `store`; the names it created (existing are kept)."""
    return crd_bundles.install_bundle(store, BUNDLE)
