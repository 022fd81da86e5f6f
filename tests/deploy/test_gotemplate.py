"""The test-only Go-template renderer follows Go/Helm semantics and refuses what it lacks."""

from __future__ import annotations

import pytest

from tests.deploy.gotemplate import TemplateError, merge_values, render

CTX = {
    "Values": {
        "name": "web",
        "empty": "",
        "zero": 0,
        "on": True,
        "off": False,
        "labels": {"a": "1", "b": "x y"},
        "items": [],
        "nested": {"deep": "d"},
    },
    "Release": {"Name": "rel", "Namespace": "ns", "Service": "Helm"},
    "Chart": {"Name": "ensign", "Version": "0.1.0", "AppVersion": "0.1.0"},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("name: {{ .Values.name }}", "name: web"),
        ("a\n{{- if .Values.on }}\nb\n{{- end }}\nc", "a\nb\nc"),
        ("a\n{{- if .Values.off }}\nb\n{{- end }}\nc", "a\nc"),
        ("{{ if .Values.empty }}x{{ else if .Values.zero }}y{{ else }}z{{ end }}", "z"),
        ("{{ if .Values.items }}x{{ else }}y{{ end }}", "y"),
        ("{{ .Values.empty | default .Release.Name }}", "rel"),
        ("{{ .Values.empty | default .Values.empty | default .Release.Namespace }}", "ns"),
        ('{{ .Values.name | default "other" }}', "web"),
        ("v: {{ .Chart.AppVersion | quote }}", 'v: "0.1.0"'),
        ("l:{{ toYaml .Values.labels | nindent 2 }}", "l:\n  a: '1'\n  b: x y"),
        ("{{ if and .Values.on (not .Values.off) }}yes{{ end }}", "yes"),
        ("{{ if or .Values.off .Values.zero }}yes{{ else }}no{{ end }}", "no"),
        ('{{ if eq .Values.name "web" }}yes{{ end }}', "yes"),
        ("{{ .Values.nested.deep }}", "d"),
        ("{{ .Values.on }}/{{ .Values.zero }}", "true/0"),
        ("{{- /* a comment */ -}}\n  text", "text"),
        ("x  {{- .Values.name -}}  \n y", "xweby"),
    ],
)
def test_renders_like_helm(source: str, expected: str) -> None:
    assert render(source, CTX) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{ range .Values.items }}x{{ end }}",
        "{{ with .Values.nested }}{{ .deep }}{{ end }}",
        '{{ include "x" . }}',
        "{{ $x := 1 }}",
        "{{ .Values.missing }}",
        "{{ .Values.nested.missing }}",
        "{{ .Values.labels }}",
        '{{ required "x" .Values.name }}',
        "{{ if .Values.on }}unclosed",
        "{{ end }}",
        '{{ .Files.Get "x" }}',
    ],
)
def test_refuses_what_it_does_not_implement(source: str) -> None:
    with pytest.raises(TemplateError):
        render(source, CTX)


def test_merge_values_like_helm() -> None:
    base = {"a": {"b": 1, "c": 2}, "l": [1, 2], "s": "x"}
    assert merge_values(base, {"a": {"c": 3}, "l": [9], "s": ""}) == {
        "a": {"b": 1, "c": 3},
        "l": [9],
        "s": "",
    }
