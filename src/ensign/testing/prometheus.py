"""A real Prometheus with known series, for tests and demos. Does I/O (files, processes).

Scraping an exporter takes seconds before `rate()` answers and gives timing-dependent
values, so the series are written instead: `OpenMetrics` builds counters with a constant
per-second rate (and gauges, histograms) from `now - 1h` to `now + 1h` every 5 s,
`PrometheusServer` backfills them with `promtool tsdb create-blocks-from openmetrics` and
starts `prometheus` on 127.0.0.1 over that data. Flagger-style instant queries at "now" with
`rate(...[1m])` then return exact values for the whole test session, in well under a
second from start.

Blocks added to a running Prometheus show up only after its next reload (about a minute),
so build every series a test module needs before starting the server.

The Debian/Ubuntu `prometheus` package provides both binaries; without them
`PrometheusServer` raises `PrometheusUnavailable` saying how to install them.
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

INSTALL_HINT = "apt-get install -y --no-install-recommends prometheus"
DEFAULT_SPAN_SECONDS = 3600.0
DEFAULT_STEP_SECONDS = 5.0

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_CONFIG = "global: {scrape_interval: 15s, evaluation_interval: 15s}\nscrape_configs: []\n"


class PrometheusUnavailable(RuntimeError):
    """`prometheus` or `promtool` is not installed, or Prometheus would not start."""


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    labels: str
    rates: tuple[tuple[float, float], ...]
    """(offset from now in seconds, per-second rate from then on); the first offset is -inf."""
    constant: float | None = None


class OpenMetrics:
    """Series to backfill, rendered as OpenMetrics text ending in `# EOF`.

    Every series has a sample every `step` seconds from `now - before` to `now + after`.
    A counter starts at 0 and grows at `rate` per second (`changes` switches the rate at
    given offsets from now, keeping the counter monotonic), so `rate(c[1m])` at any time
    in the span is exactly the rate in force. Each family is declared `unknown`, which lets
    a series keep its exporter's spelling (`_total`, `_bucket`) whatever its role.
    """

    def __init__(
        self,
        *,
        now: float | None = None,
        before: float = DEFAULT_SPAN_SECONDS,
        after: float = DEFAULT_SPAN_SECONDS,
        step: float = DEFAULT_STEP_SECONDS,
    ) -> None:
        if step <= 0 or before < 0 or after < 0:
            raise ValueError("step must be positive and the span non-negative")
        self.now = time.time() if now is None else now
        self.step = step
        self.first = math.floor((self.now - before) / step) * step
        self.count = int((self.now + after - self.first) // step) + 1
        self._series: dict[tuple[str, str], _Series] = {}

    def counter(
        self,
        name: str,
        labels: Mapping[str, str] | None = None,
        *,
        rate: float,
        changes: Mapping[float, float] | None = None,
    ) -> Self:
        """A counter growing by `rate` per second; `changes` maps an offset from now (in
        seconds, e.g. `30.0` or `-600.0`) to the rate from that moment on."""
        steps = sorted((changes or {}).items())
        if any(r < 0 for r in (rate, *(r for _, r in steps))):
            raise ValueError(f"counter {name} needs non-negative rates (counters only grow)")
        self._add(_Series(name, _labels(labels), ((-math.inf, rate), *steps)))
        return self

    def gauge(self, name: str, labels: Mapping[str, str] | None = None, *, value: float) -> Self:
        """A series holding `value` over the whole span."""
        self._add(_Series(name, _labels(labels), (), constant=value))
        return self

    def histogram(
        self,
        name: str,
        labels: Mapping[str, str] | None = None,
        *,
        buckets: Mapping[float, float],
        sum_rate: float | None = None,
    ) -> Self:
        """A histogram's `_bucket` (cumulative, with `le="+Inf"`), `_count` and `_sum`.

        `buckets` maps each upper bound to the rate of observations per second that fall
        into it (above the previous bound), not cumulated; `math.inf` may be one of them.
        `_sum` grows by `sum_rate` per second and is written only when given.
        """
        base = dict(labels or {})
        if "le" in base:
            raise ValueError("histogram labels must not contain 'le'")
        cumulative = 0.0
        for bound in sorted(buckets):
            cumulative += buckets[bound]
            if math.isinf(bound):
                continue
            self.counter(f"{name}_bucket", {**base, "le": _number(bound)}, rate=cumulative)
        self.counter(f"{name}_bucket", {**base, "le": "+Inf"}, rate=cumulative)
        self.counter(f"{name}_count", base, rate=cumulative)
        if sum_rate is not None:
            self.counter(f"{name}_sum", base, rate=sum_rate)
        return self

    def text(self) -> str:
        """The OpenMetrics exposition, families contiguous, samples in time order."""
        lines: list[str] = []
        families: dict[str, list[_Series]] = {}
        for series in self._series.values():
            families.setdefault(series.name, []).append(series)
        timestamps = [_number(self.first + k * self.step) for k in range(self.count)]
        for name, members in families.items():
            lines.append(f"# TYPE {name} unknown")
            for series in members:
                prefix = f"{name}{series.labels} "
                values = self._values(series)
                lines.extend(
                    f"{prefix}{_number(v)} {t}" for v, t in zip(values, timestamps, strict=True)
                )
        lines.append("# EOF")
        return "\n".join(lines) + "\n"

    def write(self, path: Path | str) -> Path:
        """Write `text()` to `path` and return it."""
        target = Path(path)
        target.write_text(self.text(), encoding="utf-8")
        return target

    def _add(self, series: _Series) -> None:
        if not _METRIC_NAME.fullmatch(series.name):
            raise ValueError(f"invalid metric name {series.name!r}")
        key = (series.name, series.labels)
        if key in self._series:
            raise ValueError(f"series {series.name}{series.labels} added twice")
        self._series[key] = series

    def _values(self, series: _Series) -> list[float]:
        """Each sample's value: a constant, or the integral of the rates in force."""
        if series.constant is not None:
            return [series.constant] * self.count
        if len(series.rates) == 1:
            rate = series.rates[0][1]
            return [rate * k * self.step for k in range(self.count)]
        values: list[float] = []
        total = 0.0
        for k in range(self.count):
            if k:
                # Rate in force over (t - step, t]: the one set at or before the step's start.
                start = self.first + (k - 1) * self.step - self.now
                rate = next(r for offset, r in reversed(series.rates) if offset <= start)
                total += rate * self.step
            values.append(total)
        return values


def _labels(labels: Mapping[str, str] | None) -> str:
    """`{a="x",b="y"}` with OpenMetrics escaping, or "" without labels."""
    if not labels:
        return ""
    parts = []
    for key, value in labels.items():
        if not _LABEL_NAME.fullmatch(key):
            raise ValueError(f"invalid label name {key!r}")
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{escaped}"')
    return "{" + ",".join(parts) + "}"


def _number(value: float) -> str:
    """A float as OpenMetrics spells it: integers without `.0`, `+Inf`, shortest repr."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class PrometheusServer:
    """A `prometheus` process on 127.0.0.1 serving the backfilled `metrics`.

    Use as a (sync or async) context manager, or call `start()` and `stop()`. The data
    directory is temporary and removed on stop. `url` is `http://127.0.0.1:<port>`.
    """

    def __init__(
        self,
        metrics: OpenMetrics | str | None = None,
        *,
        ready_timeout: float = 15.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._metrics = metrics
        self._ready_timeout = ready_timeout
        self._extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The server's base URL; only while running."""
        if self._url is None:
            raise RuntimeError("PrometheusServer is not running")
        return self._url

    def start(self) -> str:
        """Backfill, start, wait until ready; returns `url`. Raises `PrometheusUnavailable`."""
        if self._process is not None:
            return self.url
        prometheus, promtool = _binaries()
        self._workdir = Path(tempfile.mkdtemp(prefix="ensign-prometheus-"))
        try:
            data = self._workdir / "data"
            data.mkdir()
            if self._metrics is not None:
                self._backfill(promtool, data)
            config = self._workdir / "prometheus.yml"
            config.write_text(_CONFIG, encoding="utf-8")
            last_error = ""
            for _attempt in range(3):  # a free port can be taken between probe and bind
                port = _free_port()
                error = self._launch(prometheus, config, data, port)
                if error is None:
                    return self.url
                last_error = error
            raise PrometheusUnavailable(f"prometheus did not start: {last_error}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s) and remove the data."""
        process, self._process, self._url = self._process, None, None
        if process is not None:
            _terminate(process)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _backfill(self, promtool: str, data: Path) -> None:
        assert self._workdir is not None
        source = self._workdir / "series.om"
        metrics = self._metrics
        text = (
            metrics if isinstance(metrics, str) else metrics.text() if metrics is not None else ""
        )
        source.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
            capture_output=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            output = (done.stderr or done.stdout).decode(errors="replace").strip()[-2000:]
            raise PrometheusUnavailable(f"promtool could not backfill the series: {output}")

    def _launch(self, prometheus: str, config: Path, data: Path, port: int) -> str | None:
        """Start on `port` and wait for /-/ready; None on success, else why it failed."""
        assert self._workdir is not None
        log = self._workdir / f"prometheus-{port}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=30d",
                    "--log.level=warn",
                    *self._extra_args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return f"exited with {process.returncode}: {_tail(log)}"
            try:
                with opener.open(f"{url}/-/ready", timeout=1.0) as answer:
                    if answer.status == 200:
                        self._process, self._url = process, url
                        return None
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        _terminate(process)
        return f"not ready after {self._ready_timeout:g}s: {_tail(log)}"


def _binaries() -> tuple[str, str]:
    """Paths of `prometheus` and `promtool`, or `PrometheusUnavailable` saying how to install."""
    found = {name: shutil.which(name) for name in ("prometheus", "promtool")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise PrometheusUnavailable(
            f"{' and '.join(missing)} not found on PATH; the Prometheus tests need a real "
            f"Prometheus. Install it with: {INSTALL_HINT} (as root; Debian/Ubuntu), "
            "or run `make test` as root, which installs it"
        )
    return str(found["prometheus"]), str(found["promtool"])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " ".join(text.strip().splitlines()[-5:])[-1500:] or "(empty log)"


__all__ = [
    "DEFAULT_SPAN_SECONDS",
    "DEFAULT_STEP_SECONDS",
    "INSTALL_HINT",
    "OpenMetrics",
    "PrometheusServer",
    "PrometheusUnavailable",
]
