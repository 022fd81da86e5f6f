"""Query templating: Go `text/template` semantics for the subset Flagger queries use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ensign.model import (
    Canary,
    CanarySpec,
    MetricCheck,
    ObjectRef,
    ServiceSpec,
    TargetKind,
    TargetRef,
)
from ensign.queries import QueryModel, RenderError, query_model, render

MODEL = QueryModel(
    name="podinfo",
    namespace="test",
    target="podinfo-deploy",
    service="podinfo-svc",
    ingress="podinfo-ing",
    route="podinfo-route",
    interval="2m",
    variables={"direction": "inbound", "zone": "eu"},
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ name }}", "podinfo"),
        ("{{ namespace }}", "test"),
        ("{{ target }}", "podinfo-deploy"),
        ("{{ service }}", "podinfo-svc"),
        ("{{ ingress }}", "podinfo-ing"),
        ("{{ route }}", "podinfo-route"),
        ("{{ interval }}", "2m"),
        ("{{ variables.direction }}", "inbound"),
        ("{{namespace}}", "test"),
        ("{{\tnamespace\n}}", "test"),
        ("{{variables.zone}}", "eu"),
        ("{{ variables }}", "map[direction:inbound zone:eu]"),
    ],
)
def test_every_variable_renders(template: str, expected: str) -> None:
    assert render(template, MODEL) == expected


def test_a_whole_query_keeps_promql_braces() -> None:
    template = 'rate(x{ns="{{ namespace }}",dir="{{ variables.direction }}"}[{{ interval }}])'
    assert render(template, MODEL) == 'rate(x{ns="test",dir="inbound"}[2m])'


@given(st.text().filter(lambda text: "{{" not in text))
def test_text_without_actions_is_unchanged(text: str) -> None:
    assert render(text, MODEL) == text


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("a  \n\t{{- name }}  b", "apodinfo  b"),
        ("a  {{ name -}} \n\t b", "a  podinfob"),
        ("a \n {{- name -}} \n b", "apodinfob"),
        ("x {{- /* a comment */ -}} y", "xy"),
        ("x {{/* a comment with }} inside */}} y", "x  y"),
        ("x\n{{- /* c */}}\ny", "x\ny"),
        ("{{- name -}}", "podinfo"),
    ],
)
def test_trim_markers_and_comments(template: str, expected: str) -> None:
    assert render(template, MODEL) == expected


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{{ variables.missing }}", '"missing"'),
        ("{{ variables.missing }}", "variables.missing"),
        ("{{ nope }}", '"nope"'),
        ("{{ Namespace }}", '"Namespace"'),
        ("{{ .variables.direction }}", '"variables"'),
        ("{{ .namespace }}", '"namespace"'),
        ("{{ name.first }}", "first"),
        ("{{ variables.direction.x }}", "x"),
    ],
)
def test_unknown_names_and_missing_keys_are_errors_naming_them(template: str, named: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(template, MODEL)
    assert named in str(caught.value)


@pytest.mark.parametrize(
    "template",
    [
        "{{ name",
        "{{ }}",
        "{{-3}}",
        "{{-name}}",
        "{{ name | printf }}",
        '{{ "literal" }}',
        "{{ if name }}x{{ end }}",
        "{{/* unclosed comment }}",
        "{{/* comment */ name }}",
        "{{ $ }}",
    ],
)
def test_what_go_would_reject_or_flagger_never_needs_is_an_error(template: str) -> None:
    with pytest.raises(RenderError):
        render(template, MODEL)


def test_a_missing_key_in_empty_variables_is_an_error() -> None:
    empty = QueryModel("n", "ns", "t", "s", "i", "r", "1m", {})
    with pytest.raises(RenderError, match='"direction"'):
        render("{{ variables.direction }}", empty)


def _canary(
    *, service_name: str | None = None, refs: bool = False, namespace: str | None = "prod"
) -> Canary:
    return Canary(
        name="podinfo-canary",
        namespace=namespace,
        spec=CanarySpec(
            target_ref=TargetRef(api_version="apps/v1", kind=TargetKind.DEPLOYMENT, name="podinfo"),
            service=ServiceSpec(port=80, target_port=8080, name=service_name),
            ingress_ref=ObjectRef(api_version="networking.k8s.io/v1", kind="Ingress", name="web")
            if refs
            else None,
            route_ref=ObjectRef(
                api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute", name="rt"
            )
            if refs
            else None,
        ),
    )


CHECK = MetricCheck(name="errors", interval="30s", template_variables={"k": "v"})


def test_the_model_falls_back_to_the_target_name() -> None:
    model = query_model(_canary(), CHECK)
    assert model == QueryModel(
        name="podinfo-canary",
        namespace="prod",
        target="podinfo",
        service="podinfo",
        ingress="podinfo",
        route="podinfo",
        interval="30s",
        variables={"k": "v"},
    )


def test_the_model_uses_service_name_and_refs() -> None:
    model = query_model(_canary(service_name="front", refs=True), CHECK)
    assert (model.service, model.ingress, model.route) == ("front", "web", "rt")


def test_primary_names_the_primary_target_and_service() -> None:
    model = query_model(_canary(service_name="front", refs=True), CHECK, primary=True)
    assert (model.target, model.service) == ("podinfo-primary", "front-primary")
    assert (model.name, model.ingress, model.route) == ("podinfo-canary", "web", "rt")
    assert render("{{ target }}/{{ service }}", model) == "podinfo-primary/front-primary"


def test_a_knative_revision_replaces_the_route() -> None:
    model = query_model(_canary(refs=True), CHECK, knative_revision="podinfo-00003")
    assert model.route == "podinfo-00003"


def test_a_missing_namespace_renders_empty_and_variables_are_copied() -> None:
    variables = {"k": "v"}
    check = MetricCheck(name="m", template_variables=variables)
    model = query_model(_canary(namespace=None), check)
    variables["k"] = "changed"
    assert render("[{{ namespace }}] {{ variables.k }} {{ interval }}", model) == "[] v 1m"
