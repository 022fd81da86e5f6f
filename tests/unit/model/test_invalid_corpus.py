"""Every invalid Canary in `invalid_canaries.yaml` is rejected with exactly the listed problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ensign.model.errors import InvalidSpec
from ensign.model.parse import canary_errors, parse_canary

CORPUS = Path(__file__).with_name("invalid_canaries.yaml")


def _load() -> list[dict[str, Any]]:
    entries = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    return entries


ENTRIES = _load()


def test_corpus_is_large_and_well_formed() -> None:
    assert len(ENTRIES) >= 45
    names = [entry["name"] for entry in ENTRIES]
    assert len(names) == len(set(names)), "corpus entry names must be unique"
    for entry in ENTRIES:
        assert set(entry) == {"name", "expect", "canary"}, entry["name"]
        assert entry["expect"], entry["name"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["name"] for entry in ENTRIES])
def test_invalid_canary_reports_exact_problems(entry: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_canary(entry["canary"])
    assert sorted(raised.value.messages) == sorted(entry["expect"])
    assert len(raised.value.messages) == len(entry["expect"]), "a problem was reported twice"


def test_canary_errors_returns_the_same_problems_without_raising() -> None:
    entry = next(entry for entry in ENTRIES if entry["name"] == "many-problems-reported-together")
    assert [str(error) for error in canary_errors(entry["canary"])] == entry["expect"]
