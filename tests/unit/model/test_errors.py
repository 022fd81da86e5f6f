"""SpecError and InvalidSpec render the way users read them."""

from __future__ import annotations

import pytest

from ensign.model.errors import InvalidSpec, SpecError


def test_spec_error_str_is_path_colon_message() -> None:
    error = SpecError("spec.analysis.stepWeight", "must be > 0 (got -5)")
    assert str(error) == "spec.analysis.stepWeight: must be > 0 (got -5)"


def test_spec_error_without_path_is_just_the_message() -> None:
    assert str(SpecError("", "not an object")) == "not an object"


def test_spec_error_is_frozen_and_hashable() -> None:
    error = SpecError("spec", "is required")
    with pytest.raises(AttributeError):
        error.path = "other"  # type: ignore[misc]
    assert {error, SpecError("spec", "is required")} == {error}


def test_invalid_spec_lists_every_problem() -> None:
    errors = [SpecError("spec.service.port", "is required"), SpecError("kind", "must be Canary")]
    invalid = InvalidSpec(errors)
    assert invalid.errors == tuple(errors)
    assert invalid.messages == ("spec.service.port: is required", "kind: must be Canary")
    assert str(invalid) == (
        "invalid Canary (2 problems):\n  - spec.service.port: is required\n  - kind: must be Canary"
    )


def test_invalid_spec_names_the_resource_kind() -> None:
    invalid = InvalidSpec([SpecError("spec.query", "is required")], kind="MetricTemplate")
    assert str(invalid) == "invalid MetricTemplate (1 problem):\n  - spec.query: is required"
