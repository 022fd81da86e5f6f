"""The Istio CRDs the local cluster can serve (VirtualService, DestinationRule). Reads a file.

The manifests live next to this module in ``crds/istio.yaml`` (shipped in the wheel): group
``networking.istio.io``, versions v1alpha3 (storage, as in Istio's own bundle), v1beta1 and v1
(served, same objects). Install them with :func:`install_istio` or by creating
:func:`istio_crds` through the API. Istio reports no route status that Flagger waits on, so
there is no simulator: objects are stored and validated, nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ensign.localcluster import crd_bundles

if TYPE_CHECKING:
    from ensign.localcluster.store import Store

JSON = dict[str, Any]

GROUP = "networking.istio.io"
STORAGE_VERSION = "v1alpha3"
VERSIONS = ("v1", "v1alpha3", "v1beta1")
BUNDLE = "istio"  # crds/istio.yaml, loaded by crd_bundles.py
CRD_NAMES = (
    f"virtualservices.{GROUP}",
    f"destinationrules.{GROUP}",
)


def istio_crds() -> list[JSON]:
    """The VirtualService and DestinationRule CRDs as fresh dicts (no shared subtrees)."""
    return crd_bundles.bundle_crds(BUNDLE)


def install_istio(store: Store) -> list[str]:
    """Create them directly in `store`; the names it created (existing are kept)."""
    return crd_bundles.install_bundle(store, BUNDLE)
