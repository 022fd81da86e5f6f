"""`ensign demo --scenario canary`: the Gateway API progressive canary runs unattended."""

from __future__ import annotations

import pytest

from ensign.demo_canary import run_canary_demo


async def test_canary_demo_steps_10_to_50_and_promotes(capsys: pytest.CaptureFixture[str]) -> None:
    await run_canary_demo(interval=0.3)  # `ensign demo --scenario canary` steps every 2 s
    out = capsys.readouterr().out
    for weight in (10, 20, 30, 40, 50):
        assert f"split primary {100 - weight}% / canary {weight}%" in out
    assert "canary weights seen 0, 10, 20, 30, 40, 50, 0" in out
    assert "phase Succeeded" in out
    assert "HTTPRoute/podinfo [router]" in out  # describe draws the route with its rules
    assert "success-rate  passed" in out
