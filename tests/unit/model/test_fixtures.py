"""Every Flagger manifest under tests/fixtures/flagger/ parses without a single problem.

The fixtures are real-world Flagger examples (docs, e2e tests); if Ensign rejects one, either
the fixture is wrong or Ensign is stricter than it should be for a drop-in replacement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from ensign.model.parse import parse_alert_provider, parse_canary, parse_metric_template

FIXTURE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "flagger"
MIN_CANARY_FIXTURES = 10
PARSERS: dict[str, Callable[[Mapping[str, object]], object]] = {
    "Canary": parse_canary,
    "MetricTemplate": parse_metric_template,
    "AlertProvider": parse_alert_provider,
}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(FIXTURE_DIR.glob("**/*.y*ml")) if FIXTURE_DIR.is_dir() else []:
        for index, document in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if isinstance(document, dict) and document.get("kind") in PARSERS:
                found.append((f"{path.relative_to(FIXTURE_DIR)}#{index}", document))
    return found


DOCUMENTS = _documents()


def test_there_are_enough_canary_fixtures() -> None:
    canaries = [name for name, document in DOCUMENTS if document["kind"] == "Canary"]
    assert len(canaries) >= MIN_CANARY_FIXTURES, (
        f"expected at least {MIN_CANARY_FIXTURES} Canary manifests under {FIXTURE_DIR},"
        f" found {len(canaries)}"
    )


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_fixture_parses(name: str, document: dict[str, Any]) -> None:
    PARSERS[document["kind"]](document)
