"""Loading the namespaces Flagger leaves behind (`tests/fixtures/flagger-left/`) into a
local cluster, as they would be found: the Canary with Flagger's status, its objects owned
by it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness

JSON = dict[str, Any]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "flagger-left"
NAME = "podinfo"


def fixture_docs(phase: str, gate: GateServer, *, namespace: str = "") -> list[JSON]:
    text = (FIXTURES / f"{phase}.yaml").read_text().replace("http://gate.invalid/", gate.url("/"))
    if namespace:
        text = text.replace(f"flagger-{phase}", namespace)
    return [d for d in yaml.safe_load_all(text) if d]


async def load(h: Harness, docs: list[JSON], *, interval: str = "30s") -> None:
    """Create the objects as Flagger left them: the Canary first (its uid goes into the
    owner references), its status through the status subresource."""
    docs = copy.deepcopy(docs)
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    canary = next(d for d in docs if d["kind"] == "Canary")
    status = canary.pop("status")
    canary["spec"]["analysis"]["interval"] = interval  # no analysis step while we look
    await h.apply(namespace, canary)
    ns = canary["metadata"]["namespace"]
    rt = h.type("flagger.app", "v1beta1", "canaries")
    h.cluster.store.patch(rt, ns, NAME, lambda o: {**o, "status": status}, subresource="status")
    uid = h.canary(ns, NAME)["metadata"]["uid"]
    for doc in docs:
        if doc["kind"] in ("Namespace", "Canary"):
            continue
        for ref in doc["metadata"].get("ownerReferences") or []:
            ref["uid"] = uid
        await h.apply(doc)
