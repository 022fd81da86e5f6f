"""Payload shapes (§4.2, §4.5)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ensign.webhooks import EVENT_RESERVED_KEYS, event_payload, webhook_payload

IDENTITY = {"name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "abc123"}


def test_webhook_payload_has_flaggers_fields_in_order() -> None:
    payload = webhook_payload(**IDENTITY, metadata={"type": "bash", "cmd": "curl -s x"})
    assert payload == {**IDENTITY, "metadata": {"cmd": "curl -s x", "type": "bash"}}
    assert list(payload) == ["name", "namespace", "phase", "checksum", "metadata"]
    assert json.dumps(payload, separators=(",", ":")) == (
        '{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"abc123",'
        '"metadata":{"cmd":"curl -s x","type":"bash"}}'
    )


def test_empty_or_missing_metadata_is_omitted() -> None:
    assert webhook_payload(**IDENTITY, metadata=None) == IDENTITY
    assert webhook_payload(**IDENTITY, metadata={}) == IDENTITY


def test_event_payload_carries_message_type_and_millisecond_timestamp() -> None:
    payload = event_payload(
        **IDENTITY,
        message="Starting canary analysis for podinfo.test",
        event_type="Normal",
        timestamp_ms=1_700_000_000_123,
        metadata=None,
    )
    assert payload == {
        **IDENTITY,
        "metadata": {
            "eventMessage": "Starting canary analysis for podinfo.test",
            "eventType": "Normal",
            "timestamp": "1700000000123",
        },
    }


def test_event_payload_reserved_keys_win_over_hook_metadata() -> None:
    hook_metadata = {"eventType": "spoofed", "timestamp": "0", "team": "payments"}
    payload = event_payload(
        **IDENTITY,
        message="Halt advancement",
        event_type="Warning",
        timestamp_ms=42,
        metadata=hook_metadata,
    )
    assert payload["metadata"] == {
        "eventMessage": "Halt advancement",
        "eventType": "Warning",
        "team": "payments",
        "timestamp": "42",
    }
    assert hook_metadata == {"eventType": "spoofed", "timestamp": "0", "team": "payments"}


@given(
    metadata=st.dictionaries(
        st.one_of(st.sampled_from(sorted(EVENT_RESERVED_KEYS)), st.text(max_size=8)),
        st.text(max_size=8),
    ),
    stamp=st.integers(min_value=0, max_value=2**53),
)
def test_event_payload_metadata_is_hook_metadata_plus_reserved(
    metadata: dict[str, str], stamp: int
) -> None:
    payload = event_payload(
        **IDENTITY, message="m", event_type="Normal", timestamp_ms=stamp, metadata=metadata
    )
    merged = payload["metadata"]
    assert isinstance(merged, dict)
    assert set(merged) == set(metadata) | EVENT_RESERVED_KEYS
    assert merged["timestamp"] == str(stamp)
    for key, value in metadata.items():
        if key not in EVENT_RESERVED_KEYS:
            assert merged[key] == value
    assert list(merged) == sorted(merged)
