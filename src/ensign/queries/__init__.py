"""Metric queries: Flagger's query templating and its builtin PromQL per observer. Pure."""

from ensign.queries.builtin import (
    BUILTIN_QUERIES,
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    BuiltinQueries,
    Observer,
    builtin_query,
    duration_to_ms,
    select_observer,
)
from ensign.queries.render import QueryModel, RenderError, query_model, render

__all__ = [
    "BUILTIN_QUERIES",
    "REQUEST_DURATION",
    "REQUEST_SUCCESS_RATE",
    "BuiltinQueries",
    "Observer",
    "QueryModel",
    "RenderError",
    "builtin_query",
    "duration_to_ms",
    "query_model",
    "render",
    "select_observer",
]
