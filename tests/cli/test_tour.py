"""`ensign` without arguments prints a short tour of every command."""

from __future__ import annotations

from tests.cli.support import ensign


async def test_no_arguments_prints_the_tour() -> None:
    result = await ensign()
    assert result.code == 0, result.err
    assert "A tour:" in result.out
    for command in ("sandbox", "get", "describe", "status", "promote", "abort", "pause", "resume"):
        assert f"ensign {command}" in result.out, command
    assert "export KUBECONFIG" in result.out
