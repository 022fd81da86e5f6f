"""The signs that a Flagger controller is still active (pure part of runtime/coexistence.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from ensign import cli
from ensign.runtime.coexistence import (
    active_flagger_deployments,
    analysis_interval,
    is_flagger_deployment,
    recent_status_writes,
    sighting,
)
from ensign.testing import manifests as m

NOW = datetime(2026, 12, 4, 20, 0, 0, tzinfo=UTC)


def deployment(labels: dict[str, str], image: str, ready: int = 1) -> dict[str, Any]:
    obj = m.deployment("ctl", "flagger-system", image=image, replicas=1)
    obj["metadata"]["labels"] = labels
    obj["status"] = {"readyReplicas": ready}
    return obj


@pytest.mark.parametrize(
    ("labels", "image", "expected"),
    [
        ({"app.kubernetes.io/name": "flagger"}, "example/whatever:1", True),  # Helm chart
        ({"app": "flagger"}, "example/whatever:1", True),  # kustomize base
        ({"app": "x"}, "ghcr.io/fluxcd/flagger:1.44.0", True),
        ({"app": "x"}, "weaveworks/flagger:1.8.0", True),
        ({"app": "x"}, "mirror.local:5000/fluxcd/flagger@sha256:abc", True),
        ({"app": "x"}, "flagger", True),
        ({"app": "flagger-loadtester"}, "ghcr.io/fluxcd/flagger-loadtester:0.38.0", False),
        ({"app.kubernetes.io/name": "ensign"}, "ensign:latest", False),
        ({"app": "podinfo"}, "ghcr.io/stefanprodan/podinfo:6.7.0", False),
    ],
)
def test_a_flagger_deployment_is_known_by_its_labels_or_image(
    labels: dict[str, str], image: str, expected: bool
) -> None:
    assert is_flagger_deployment(deployment(labels, image)) is expected


def test_only_flagger_deployments_with_ready_replicas_count() -> None:
    found = active_flagger_deployments(
        [
            deployment({"app": "flagger"}, "x", ready=1),
            deployment({"app": "flagger"}, "x", ready=0) | {"metadata": {"name": "down"}},
            deployment({"app": "podinfo"}, "podinfo", ready=3),
        ]
    )
    assert found == ["Deployment flagger-system/ctl has 1 ready replica"]


def canary(interval: str | None, *entries: tuple[str, str, float]) -> dict[str, Any]:
    """A Canary with managedFields entries (manager, subresource, seconds before NOW)."""
    obj = m.canary()
    if interval is None:
        del obj["spec"]["analysis"]["interval"]
    else:
        obj["spec"]["analysis"]["interval"] = interval
    obj["metadata"]["managedFields"] = [
        {
            "manager": manager,
            "operation": "Update",
            "subresource": sub,
            "time": (NOW - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for manager, sub, ago in entries
    ]
    return obj


@pytest.mark.parametrize(
    ("obj", "counts"),
    [
        # the window is two analysis intervals, Flagger's 10 s floor applying
        (canary("1m", ("flagger", "status", 119)), True),
        (canary("1m", ("flagger", "status", 121)), False),
        (canary("1s", ("flagger", "status", 19)), True),  # floor: 2 x 10 s
        (canary("1s", ("flagger", "status", 21)), False),
        (canary(None, ("flagger", "status", 100)), True),  # default interval 60 s
        (canary("bogus", ("flagger", "status", 100)), True),
        # only Flagger's status writes: not Ensign's (python-httpx2), kubectl's or the spec's
        (canary("1m", ("python-httpx2", "status", 1)), False),
        (canary("1m", ("kubectl-patch", "status", 1)), False),
        (canary("1m", ("flagger", "", 1)), False),
        (canary("1m", ("python-httpx2", "status", 1), ("flagger", "status", 5)), True),
    ],
)
def test_a_status_write_by_flagger_counts_for_two_intervals(
    obj: dict[str, Any], counts: bool
) -> None:
    writes = recent_status_writes([obj], NOW)
    assert bool(writes) is counts
    if counts:
        assert writes[0].until == writes[0].at + timedelta(seconds=2 * analysis_interval(obj))
        assert sighting([], writes, writes[0].until) is None  # gone when the window ends


def test_a_sighting_names_every_sign() -> None:
    writes = recent_status_writes([canary("1m", ("flagger", "status", 5))] * 2, NOW)
    found = sighting([deployment({"app": "flagger"}, "x", ready=2)], writes, NOW)
    assert found is not None
    assert found.describe() == (
        "Flagger looks active: Deployment flagger-system/ctl has 2 ready replicas; "
        "Canary test/podinfo status written by flagger at 2026-12-04T19:59:55Z (and 1 more)"
    )
    assert sighting([], [], NOW) is None


@pytest.mark.parametrize(("argv", "allowed"), [([], False), (["--allow-flagger"], True)])
def test_allow_flagger_reaches_the_settings(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], allowed: bool
) -> None:
    captured: list[Any] = []

    async def control(*, kubeconfig: Any, settings: Any) -> None:
        captured.append(settings)

    monkeypatch.setattr(cli, "_control", control)
    result = CliRunner().invoke(cli.main, ["controller", *argv])
    assert result.exit_code == 0, result.output
    assert captured[0].allow_flagger is allowed
