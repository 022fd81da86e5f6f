"""Which cluster, namespace and user a command acts as, and a client for it. Does I/O.

The kubeconfig comes from `--kubeconfig`, then `$KUBECONFIG` (the first file of the list that
exists), then the in-cluster service account, then `~/.kube/config`. The namespace defaults to
the current context's, and the acting user to the current context's user name (in a cluster:
the service account's `system:serviceaccount:<ns>:<name>`).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from lightkube import ConfigError, KubeConfig

from ensign.kube.client import LightkubeApi

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = Path("~/.kube/config")


class AccessError(Exception):
    """No usable kubeconfig or context."""


@dataclass(frozen=True, slots=True)
class Access:
    config: KubeConfig
    namespace: str
    user: str
    source: str  # the kubeconfig file, or "in-cluster"


def load_access(
    kubeconfig: Path | None = None, *, context: str | None = None, as_user: str | None = None
) -> Access:
    """Resolve the kubeconfig, the context's namespace and the acting user."""
    try:
        config, source = _load_config(kubeconfig)
        single = config.get(context)
    except (ConfigError, OSError, KeyError, TypeError, ValueError) as exc:
        raise AccessError(f"no usable kubeconfig: {exc}") from exc
    if single is None:
        raise AccessError("the kubeconfig has no current context")
    if context is not None:
        config.current_context = context
    user = as_user or single.context.user or ""
    if source == "in-cluster":
        user = as_user or _service_account_subject() or user
    return Access(
        config=config,
        namespace=single.context.namespace or "default",
        user=user or os.environ.get("USER", "") or "unknown",
        source=source,
    )


def _load_config(kubeconfig: Path | None) -> tuple[KubeConfig, str]:
    if kubeconfig is not None:
        return KubeConfig.from_file(kubeconfig), str(kubeconfig)
    for entry in os.environ.get("KUBECONFIG", "").split(os.pathsep):
        if entry and Path(entry).expanduser().is_file():
            return KubeConfig.from_file(entry), entry
    if os.environ.get("KUBERNETES_SERVICE_HOST") and (SERVICE_ACCOUNT / "token").is_file():
        return KubeConfig.from_service_account(SERVICE_ACCOUNT), "in-cluster"
    return KubeConfig.from_file(DEFAULT_KUBECONFIG), str(DEFAULT_KUBECONFIG)


def _service_account_subject() -> str:
    """The `sub` claim of the mounted service-account token (read, not verified)."""
    try:
        token = (SERVICE_ACCOUNT / "token").read_text().strip()
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(data.get("sub") or "")
    except (OSError, IndexError, ValueError):
        return ""


@asynccontextmanager
async def open_api(access: Access, *, request_seconds: float = 10.0) -> AsyncIterator[LightkubeApi]:
    api = LightkubeApi.from_kubeconfig(access.config, timeout=request_seconds)
    try:
        yield api
    finally:
        await api.close()
