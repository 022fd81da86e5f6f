"""Measure a canary's `analysis.metrics` for the engine. Does I/O.

For each check: find what to ask (a builtin PromQL query, an inline query, or a MetricTemplate
with its provider and Secret), ask it (one retry on a provider error, none on "no data"),
and turn the answer into a `MetricOutcome` with the pure functions of `ensign.engine.checks`.
A template annotated with `ensign.dev/judge` is measured twice, for the canary and for the
primary, and the judge compares the two.

Checks of one tick run concurrently. Nothing here raises: every problem becomes an outcome
whose message says what went wrong, so the engine counts it and the status explains it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import httpx2

from ensign.engine import checks
from ensign.engine.checks import Source
from ensign.engine.observations import MetricOutcome
from ensign.judge import JudgeSpec, JudgeSpecError, judge_counts, judge_samples, parse_judge
from ensign.metricproviders import (
    MetricProvider,
    NoData,
    ProviderConfig,
    ProviderError,
    UnknownMetricProviderError,
    Window,
    build_provider,
)
from ensign.model import (
    Canary,
    InvalidSpec,
    MetricCheck,
    MetricProviderType,
    MetricTemplate,
    parse_duration,
    parse_metric_template,
)
from ensign.queries.builtin import Observer, builtin_query, duration_to_ms, select_observer
from ensign.queries.render import RenderError, query_model, render
from ensign.runtime.cache import Caches
from ensign.runtime.secrets import SecretReader

log = logging.getLogger(__name__)
T = TypeVar("T")
NO_METRICS_SERVER = (
    "no metrics server: set spec.metricsServer on the Canary or --metrics-server on the controller"
)


@dataclass(frozen=True, slots=True)
class _Failed:
    """Why a measurement has no number: "no data" or "error", and the provider's words."""

    kind: str
    detail: str


class MetricAnalyzer:
    def __init__(
        self,
        caches: Caches,
        *,
        clock: Callable[[], datetime],
        metrics_server: str = "",
        mesh_provider: str = "kubernetes",
        timeout: float = 5.0,
    ) -> None:
        self.caches = caches
        self.clock = clock
        self.metrics_server = metrics_server
        self.mesh_provider = mesh_provider
        self.timeout = timeout
        self._clients: dict[bool, httpx2.AsyncClient] = {}
        self.queries = 0

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()

    async def run(self, canary: Canary, *, target_kind: str) -> tuple[MetricOutcome, ...]:
        """One outcome per `analysis.metrics` entry, in spec order."""
        found = canary.spec.effective_analysis.metrics
        return tuple(await asyncio.gather(*(self.check(canary, c, target_kind) for c in found)))

    async def check(self, canary: Canary, check: MetricCheck, target_kind: str) -> MetricOutcome:
        source = checks.source_of(check)
        try:
            if source is Source.TEMPLATE:
                return await self._template(canary, check)
            return await self._prometheus(canary, check, source, target_kind)
        except Exception as exc:  # a bug must fail the check, not the tick
            log.exception("metric check %s of %s.%s", check.name, canary.name, canary.namespace)
            return checks.provider_error(check, source, f"internal error: {exc}")

    # ------------------------------------------------------------ Prometheus

    async def _prometheus(
        self, canary: Canary, check: MetricCheck, source: Source, target_kind: str
    ) -> MetricOutcome:
        """A builtin metric or an inline query, against the canary's or the global server."""
        address = canary.spec.metrics_server or self.metrics_server
        if not address:
            return checks.provider_error(check, source, NO_METRICS_SERVER)
        model = query_model(canary, check)
        observer = select_observer(
            mesh_provider=self.mesh_provider,
            canary_provider=str(canary.spec.provider) if canary.spec.provider else None,
            target_kind=target_kind,
        )
        if source is Source.QUERY:
            try:
                query = render(check.query or "", model)
            except RenderError as exc:
                return checks.provider_error(check, source, str(exc))
        else:
            query = builtin_query(observer, check.name, model)
        config = ProviderConfig(
            type=MetricProviderType.PROMETHEUS,
            address=address,
            interval_seconds=_seconds(check.interval),
            timeout=self.timeout,
        )
        try:
            provider = build_provider(config, client=self._client(verify=True))
        except ProviderError as exc:
            return checks.provider_error(check, source, str(exc))
        now = self.clock()
        answer = await self._ask(lambda: provider.value(query, now=now))
        await provider.aclose()
        return self._outcome(
            canary,
            check,
            source,
            answer,
            provider_name=str(canary.spec.provider or self.mesh_provider),
            observer=observer,
        )

    # ------------------------------------------------------------- templates

    async def _template(self, canary: Canary, check: MetricCheck) -> MetricOutcome:
        source = Source.TEMPLATE
        ref = check.template_ref
        assert ref is not None
        namespace = ref.namespace or canary.namespace or ""
        where = f"{ref.name}.{namespace}"
        body = self.caches["MetricTemplate"].get(namespace, ref.name)
        if body is None:
            error = f"Metric template {where} error: metrictemplate {where} not found"
            return checks.provider_error(check, source, error, event=error)
        try:
            template = parse_metric_template(body)
        except InvalidSpec as exc:
            error = f"Metric template {where} error: {exc}"
            return checks.provider_error(check, source, error, event=error)
        try:
            judge = parse_judge(_annotations(template))
        except JudgeSpecError as exc:
            error = f"Metric template {where} error: {exc}"
            return checks.provider_error(check, source, error, event=error)
        if judge is None and check.threshold_range is None and check.threshold is None:
            error = (
                f"metric {check.name}: set thresholdRange (or the deprecated threshold), or "
                f"annotate MetricTemplate {where} with ensign.dev/judge to compare with the primary"
            )
            return checks.provider_error(check, source, error, event=error)
        credentials: dict[str, str] = {}
        if template.provider.secret_ref:
            secret = SecretReader(self.caches)(namespace, template.provider.secret_ref)
            if secret is None:
                error = (
                    f"Metric template {where} error: secret "
                    f"{template.provider.secret_ref}.{namespace} not found"
                )
                return checks.provider_error(check, source, error, event=error)
            credentials = secret
        kind = str(template.provider.type)
        try:
            provider = self._build(template, check, credentials)
        except (ProviderError, UnknownMetricProviderError) as exc:
            error = f"Metric template {where} provider {kind} error: {exc}"
            return checks.provider_error(check, source, error, event=error)
        try:
            model = query_model(canary, check)
            query = render(template.query, model)
            if judge is not None:
                primary = render(template.query, query_model(canary, check, primary=True))
                return await self._compare(canary, check, provider, judge, query, primary)
            now = self.clock()
            answer = await self._ask(lambda: provider.value(query, now=now))
            return self._outcome(canary, check, source, answer, provider_name=kind)
        except RenderError as exc:
            return checks.provider_error(check, source, f"Metric template {where} error: {exc}")
        finally:
            await provider.aclose()

    def _build(
        self, template: MetricTemplate, check: MetricCheck, credentials: Mapping[str, str]
    ) -> MetricProvider:
        spec = template.provider
        config = ProviderConfig(
            type=spec.type,
            address=spec.address,
            headers=spec.headers,
            region=spec.region,
            insecure_skip_verify=spec.insecure_skip_verify,
            credentials=credentials,
            interval_seconds=_seconds(check.interval),
            timeout=self.timeout,
        )
        return build_provider(config, client=self._client(verify=not spec.insecure_skip_verify))

    # ----------------------------------------------------------------- judge

    async def _compare(
        self,
        canary: Canary,
        check: MetricCheck,
        provider: MetricProvider,
        judge: JudgeSpec,
        canary_query: str,
        primary_query: str,
    ) -> MetricOutcome:
        source = Source.TEMPLATE
        described = describe_judge(judge)
        name, namespace = canary.name, canary.namespace or ""
        if judge.total_query is None:  # Mann-Whitney over the series' samples
            if not provider.supports_samples:
                return checks.provider_error(
                    check,
                    source,
                    f"provider {provider.type} does not return samples; "
                    f"the {judge.test} judge needs them",
                )
            end = self.clock()
            window = Window(
                start=end - timedelta(seconds=_seconds(check.interval)),
                end=end,
                step_seconds=judge.step_seconds,
            )
            ours, theirs = await asyncio.gather(
                self._ask(lambda: provider.samples(canary_query, window)),
                self._ask(lambda: provider.samples(primary_query, window)),
            )
            failed = _first_error(ours, theirs)
            if failed is not None:
                return checks.provider_error(check, source, failed.detail)
            samples_c = ours if isinstance(ours, list) else []
            samples_p = theirs if isinstance(theirs, list) else []
            verdict = judge_samples(samples_c, samples_p, judge)
        else:
            totals = [
                render(judge.total_query, query_model(canary, check, primary=p))
                for p in (False, True)
            ]
            now = self.clock()
            answers = await asyncio.gather(
                self._ask(lambda: provider.value(canary_query, now=now)),
                self._ask(lambda: provider.value(totals[0], now=now)),
                self._ask(lambda: provider.value(primary_query, now=now)),
                self._ask(lambda: provider.value(totals[1], now=now)),
            )
            failed = _first_error(*answers)
            if failed is not None:
                return checks.provider_error(check, source, failed.detail)
            bad_c, total_c, bad_p, total_p = (a if isinstance(a, float) else 0.0 for a in answers)
            verdict = judge_counts(bad_c, total_c, bad_p, total_p, judge)
        return checks.compared(
            check,
            outcome=str(verdict.outcome),
            canary=verdict.statistic_canary,
            primary=verdict.statistic_primary,
            samples=verdict.samples_canary,
            summary=verdict.summary,
            judge=described,
            name=name,
            namespace=namespace,
        )

    # -------------------------------------------------------------- plumbing

    async def _ask(self, call: Callable[[], Awaitable[T]]) -> T | _Failed:
        """One measurement; a provider error is retried once, "no data" is not."""
        for attempt in (1, 2):
            self.queries += 1
            try:
                return await call()
            except NoData as exc:
                return _Failed("no data", str(exc))
            except ProviderError as exc:
                if attempt == 2:
                    return _Failed("error", f"{exc} (after 2 attempts)")
        raise AssertionError("unreachable")

    def _outcome(
        self,
        canary: Canary,
        check: MetricCheck,
        source: Source,
        answer: float | _Failed,
        *,
        provider_name: str,
        observer: Observer | None = None,
    ) -> MetricOutcome:
        name, namespace = canary.name, canary.namespace or ""
        if isinstance(answer, _Failed):
            if answer.kind == "no data":
                return checks.no_data(
                    check,
                    source,
                    answer.detail,
                    name=name,
                    namespace=namespace,
                    target=canary.spec.target_ref.name,
                    provider=provider_name,
                )
            return checks.provider_error(check, source, answer.detail)
        value = answer
        if source is Source.DURATION and observer is not None:
            value = duration_to_ms(observer, value)
        return checks.measured(check, source, value, name=name, namespace=namespace)

    def _client(self, *, verify: bool) -> httpx2.AsyncClient:
        client = self._clients.get(verify)
        if client is None:
            client = httpx2.AsyncClient(verify=verify, timeout=self.timeout)
            self._clients[verify] = client
        return client


def describe_judge(judge: JudgeSpec) -> str:
    return (
        f"judge {judge.test}: confidence {judge.confidence:g}, tolerance "
        f"{judge.tolerance:.0%}, {judge.direction}, min samples {judge.min_samples}"
    )


def _first_error(*answers: object) -> _Failed | None:
    return next((a for a in answers if isinstance(a, _Failed) and a.kind == "error"), None)


def _annotations(template: MetricTemplate) -> Mapping[str, str]:
    meta = template.raw.get("metadata")
    found = meta.get("annotations") if isinstance(meta, Mapping) else None
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


def _seconds(interval: str) -> float:
    try:
        return parse_duration(interval) if interval else 60.0
    except ValueError:
        return 60.0
