"""The docs stay in sync with the code they describe."""

from __future__ import annotations

from pathlib import Path

from ensign.engine.phases import mermaid

ROOT = Path(__file__).resolve().parents[2]


def test_architecture_phase_diagram_matches_transitions() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert "```mermaid\n" + mermaid() + "\n```" in text


def test_readme_gives_exactly_the_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set up", 1)[1].split("##", 1)[0]
    commands = [
        line.split("#")[0].strip() for line in setup.splitlines() if line.startswith("make ")
    ]
    assert commands == ["make demo", "make test"]
