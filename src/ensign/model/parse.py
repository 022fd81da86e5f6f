"""Turn raw custom-resource bodies into typed model values, or say everything that is wrong. Pure.

`parse_canary`, `parse_metric_template` and `parse_alert_provider` apply Flagger's defaults
once, here, and raise `InvalidSpec` listing every problem (never just the first). The input
is never mutated; models keep a private deep copy of it.

Where Ensign deliberately differs from Flagger (its CRD schema and its controller code):
- Stricter: unknown fields are errors, with a "did you mean" hint (the API server prunes them).
- Stricter: an unparsable duration is an error (Flagger silently uses 60 s; the CRD pattern
  checks only the prefix, so `10mxyz` passes). Laxer: any Go duration (`1h`, `1m30s`) is taken.
- Stricter: negative counts/weights are errors (Flagger treats threshold <= 0 as 1); 0 still
  means "unset" for threshold, iterations, maxWeight and the weight fields.
- Stricter: `stepWeights` must be strictly increasing, each 1..100 (Flagger caps the last one).
- Exactly one of iterations/stepWeight/stepWeights, as the CRD's oneOf, but 0 counts as unset.
- Stricter: `analysis.match` needs iterations; `mirrorWeight` needs `mirror`.
- Stricter: `spec.service` (with `port`) is required unless the target is a Knative Service.
- Stricter, only when `spec.provider` is set: nginx/skipper need ingressRef, apisix needs
  routeRef, gatewayapi needs service.gatewayRefs; `mirror` only with istio (or gatewayapi with
  iterations); `match` only with A/B-capable providers; sessionAffinity only istio/gatewayapi;
  kubernetes runs every spec as Blue/Green (10 iterations when unset, as Flagger) and lists
  each ignored field in `CanarySpec.warnings` (Flagger ignores them silently).
- Stricter: autoscalerRef only with Deployment targets; an HPA must be `autoscaling/v2`.
- Stricter: metrics need exactly one of builtin name, templateRef or query, and a threshold;
  metric, webhook and alert names must be unique; webhook metadata values must be strings.
- Stricter: service.name must be a DNS-1035 label; the apex name at most 55 characters so
  `<apex>-primary` is a valid Service name; a quoted number as targetPort is rejected.
- Different: template metrics also default `interval` to 1m (Flagger leaves it empty, which
  breaks several providers); an empty alert severity means info, as Flagger documents (its
  code sends nothing).
- Same as Flagger's `verifyCanary`, but reported here: Knative target iff provider knative;
  cookieName and primaryCookieName must differ.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from ensign.model.canary import API_VERSION, Canary
from ensign.model.errors import InvalidSpec, SpecError
from ensign.model.fields import Fields, show
from ensign.model.parse_spec import parse_spec
from ensign.model.resources import (
    ADDRESS_REQUIRED,
    DEFAULT_ALERT_CHANNEL,
    DEFAULT_ALERT_USERNAME,
    AlertProvider,
    AlertProviderType,
    MetricProviderSpec,
    MetricProviderType,
    MetricTemplate,
)


def parse_canary(body: Mapping[str, object]) -> Canary:
    """Parse, default and validate a Canary manifest; raises `InvalidSpec` with all problems.

    A missing `analysis` falls back to the deprecated `canaryAnalysis`; with neither, the
    canary skips analysis (Flagger's rule).
    """
    body = _copy(body)
    errors: list[SpecError] = []
    root = Fields(body, path="", errors=errors)
    name, namespace = _header(root, kind="Canary")
    spec_fields = root.obj("spec", required=True)
    spec = parse_spec(spec_fields) if spec_fields is not None else None
    if errors or spec is None or name is None:
        raise InvalidSpec(errors, kind="Canary")
    return Canary(name=name, namespace=namespace, spec=spec, raw=body)


def canary_errors(body: Mapping[str, object]) -> tuple[SpecError, ...]:
    """Every problem `parse_canary` would report for `body`; empty when it is valid."""
    try:
        parse_canary(body)
    except InvalidSpec as invalid:
        return invalid.errors
    return ()


def parse_metric_template(body: Mapping[str, object]) -> MetricTemplate:
    """Parse and validate a MetricTemplate; raises `InvalidSpec` with all problems.

    Ensign requires `address` for the provider types whose client cannot work without one
    (Flagger fails later, on every check).
    """
    body = _copy(body)
    errors: list[SpecError] = []
    root = Fields(body, path="", errors=errors)
    name, namespace = _header(root, kind="MetricTemplate")
    spec = root.obj("spec", required=True)
    provider: MetricProviderSpec | None = None
    query: str | None = None
    if spec is not None:
        spec.known({"provider", "query"})
        provider = _metric_provider(spec)
        query = spec.string("query", required=True)
    if errors or name is None or provider is None or query is None:
        raise InvalidSpec(errors, kind="MetricTemplate")
    return MetricTemplate(name=name, namespace=namespace, provider=provider, query=query, raw=body)


def parse_alert_provider(body: Mapping[str, object]) -> AlertProvider:
    """Parse and validate an AlertProvider; raises `InvalidSpec` with all problems.

    Exactly one of `address` and `secretRef` must be set (the CRD's `oneOf`); `channel`
    defaults to `general` and `username` to `flagger`.
    """
    body = _copy(body)
    errors: list[SpecError] = []
    root = Fields(body, path="", errors=errors)
    name, namespace = _header(root, kind="AlertProvider")
    spec = root.obj("spec", required=True)
    if spec is None or name is None:
        raise InvalidSpec(errors, kind="AlertProvider")
    spec.known({"type", "channel", "username", "address", "proxy", "secretRef"})
    provider_type = spec.choice("type", AlertProviderType, required=True)
    address = spec.url("address")
    secret_ref = _secret_ref(spec)
    if spec.has("address") == spec.has("secretRef"):
        spec.error(None, "set exactly one of address or secretRef")
    provider = AlertProvider(
        name=name,
        namespace=namespace,
        type=provider_type or AlertProviderType.SLACK,
        address=address or None,
        secret_ref=secret_ref,
        proxy=spec.url("proxy"),
        channel=spec.string("channel") or DEFAULT_ALERT_CHANNEL,
        username=spec.string("username") or DEFAULT_ALERT_USERNAME,
        raw=body,
    )
    if errors:
        raise InvalidSpec(errors, kind="AlertProvider")
    return provider


def _header(root: Fields, *, kind: str) -> tuple[str | None, str | None]:
    """Check apiVersion and kind; return metadata name and namespace."""
    api_version = root.string("apiVersion", required=True)
    if api_version is not None and api_version != API_VERSION:
        root.error("apiVersion", f"must be {API_VERSION} (got {api_version})")
    got = root.string("kind", required=True)
    if got is not None and got != kind:
        root.error("kind", f"must be {kind} (got {got})")
    metadata = root.obj("metadata", required=True)
    if metadata is None:
        return None, None
    name = metadata.string("name", required=True)
    namespace = metadata.string("namespace") or None
    return name, namespace


def _metric_provider(spec: Fields) -> MetricProviderSpec | None:
    nested = spec.obj("provider", required=True)
    if nested is None:
        return None
    nested.known({"type", "address", "headers", "secretRef", "region", "insecureSkipVerify"})
    provider_type = nested.choice("type", MetricProviderType, required=True)
    address = nested.url("address")
    if provider_type in ADDRESS_REQUIRED and not nested.has("address"):
        nested.error("address", f"is required for provider type {provider_type}")
    region = nested.string("region") or None
    if provider_type is MetricProviderType.CLOUDWATCH and region is None:
        nested.error("region", "is required for provider type cloudwatch")
    headers = _headers(nested)
    secret_ref = _secret_ref(nested)
    if provider_type is None:
        return None
    return MetricProviderSpec(
        type=provider_type,
        address=address or None,
        headers=headers,
        secret_ref=secret_ref,
        region=region,
        insecure_skip_verify=nested.boolean("insecureSkipVerify"),
    )


def _headers(provider: Fields) -> dict[str, tuple[str, ...]]:
    """HTTP headers as name → values (Go's `http.Header`); a single string is not accepted."""
    nested = provider.obj("headers")
    if nested is None:
        return {}
    headers: dict[str, tuple[str, ...]] = {}
    for header, values in nested.body.items():
        if isinstance(values, list) and all(isinstance(value, str) for value in values):
            headers[header] = tuple(str(value) for value in values)
        else:
            nested.error(header, f"must be a list of strings (got {show(values)})")
    return headers


def _secret_ref(spec: Fields) -> str | None:
    nested = spec.obj("secretRef")
    if nested is None:
        return None
    nested.known({"name"})
    return nested.string("name", required=True)


def _copy(body: Mapping[str, object]) -> dict[str, object]:
    """A private deep copy, so later edits to the caller's dict cannot reach the model."""
    return copy.deepcopy(dict(body))
