"""The test kit itself: the OpenMetrics builder's text and the PrometheusServer lifecycle."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from ensign.testing.prometheus import (
    INSTALL_HINT,
    OpenMetrics,
    PrometheusServer,
    PrometheusUnavailable,
)

NOW = 1_000_000.0


def samples(text: str, prefix: str) -> list[tuple[str, str]]:
    """(value, timestamp) of the lines starting with `prefix`."""
    return [
        tuple(line[len(prefix) :].split(" "))
        for line in text.splitlines()
        if line.startswith(prefix)
    ]  # type: ignore[misc]


def test_a_counter_grows_at_its_rate_over_the_span() -> None:
    om = OpenMetrics(now=NOW, before=20, after=10, step=5).counter(
        "hits_total", {"code": "200"}, rate=2
    )
    assert samples(om.text(), 'hits_total{code="200"} ') == [
        ("0", "999980"),
        ("10", "999985"),
        ("20", "999990"),
        ("30", "999995"),
        ("40", "1000000"),
        ("50", "1000005"),
        ("60", "1000010"),
    ]


def test_the_default_span_is_an_hour_each_side_every_5_seconds() -> None:
    text = OpenMetrics(now=NOW).gauge("g", value=1).text()
    stamps = [int(t) for _, t in samples(text, "g ")]
    assert (stamps[0], stamps[-1], stamps[1] - stamps[0], len(stamps)) == (
        NOW - 3600,
        NOW + 3600,
        5,
        1441,
    )


def test_a_rate_change_keeps_the_counter_monotonic() -> None:
    om = OpenMetrics(now=NOW, before=10, after=10, step=5).counter(
        "c_total", rate=1, changes={0.0: 3}
    )
    assert [v for v, _ in samples(om.text(), "c_total ")] == ["0", "5", "10", "25", "40"]


def test_histograms_are_cumulative_with_inf_count_and_sum() -> None:
    om = OpenMetrics(now=NOW, before=0, after=5, step=5)
    om.histogram(
        "lat_seconds", {"app": "a"}, buckets={0.25: 2, 0.5: 3, float("inf"): 1}, sum_rate=1.5
    )
    text = om.text()
    last = {
        line.rsplit(" ", 2)[0]: line.rsplit(" ", 2)[1]
        for line in text.splitlines()
        if line.endswith(" 1000005")
    }
    assert last == {
        'lat_seconds_bucket{app="a",le="0.25"}': "10",
        'lat_seconds_bucket{app="a",le="0.5"}': "25",
        'lat_seconds_bucket{app="a",le="+Inf"}': "30",
        'lat_seconds_count{app="a"}': "30",
        'lat_seconds_sum{app="a"}': "7.5",
    }


def test_families_stay_contiguous_labels_are_escaped_and_the_text_ends_with_eof() -> None:
    om = OpenMetrics(now=NOW, before=0, after=0, step=5)
    om.counter("x_total", {"path": 'a"b\\c'}, rate=1).gauge("y", value=2).counter(
        "x_total", {"path": "d"}, rate=1
    )
    lines = om.text().splitlines()
    assert lines == [
        "# TYPE x_total unknown",
        'x_total{path="a\\"b\\\\c"} 0 1000000',
        'x_total{path="d"} 0 1000000',
        "# TYPE y unknown",
        "y 2 1000000",
        "# EOF",
    ]


def test_invalid_or_duplicate_series_are_refused() -> None:
    om = OpenMetrics(now=NOW).counter("ok_total", rate=1)
    with pytest.raises(ValueError, match="added twice"):
        om.counter("ok_total", rate=2)
    with pytest.raises(ValueError, match="metric name"):
        om.gauge("bad-name", value=1)
    with pytest.raises(ValueError, match="label name"):
        om.gauge("g", {"bad-label": "x"}, value=1)
    with pytest.raises(ValueError, match="non-negative"):
        om.counter("neg_total", rate=-1)


def test_missing_binaries_say_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrometheusUnavailable) as caught:
        PrometheusServer().start()
    assert INSTALL_HINT in str(caught.value)
    assert "apt-get install -y --no-install-recommends prometheus" in str(caught.value)


def test_a_backfill_error_is_reported_with_promtool_output() -> None:
    with pytest.raises(PrometheusUnavailable, match="promtool could not backfill"):
        PrometheusServer("not openmetrics at all {\n").start()


async def test_the_server_starts_serves_and_stops_cleanly() -> None:
    server = PrometheusServer(OpenMetrics().gauge("kit_up", value=1))
    async with httpx2.AsyncClient(trust_env=False) as client:
        async with server:
            url = server.url
            answer = await client.get(f"{url}/api/v1/query", params={"query": "kit_up"})
            assert answer.json()["data"]["result"][0]["value"][1] == "1"
        with pytest.raises(RuntimeError, match="not running"):
            _ = server.url
        with pytest.raises(httpx2.ConnectError):
            await client.get(f"{url}/-/ready")
