"""Label and field selectors with the grammar, validation and messages of apimachinery.

Label selectors (``?labelSelector=``) follow k8s.io/apimachinery/pkg/labels:
``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a`` plus the
numeric ``a>1``/``a<1`` forms, joined by commas; whitespace between tokens is ignored.
Keys must be qualified names (optional DNS-subdomain prefix <= 253 chars, ``/``, name
<= 63 chars) and values valid label values.  Error texts mirror the Go parser
(``unable to parse requirement: ...``, ``found 'x', expected: ...``).

Field selectors (``?fieldSelector=``) follow k8s.io/apimachinery/pkg/fields: ``f=v``,
``f==v`` and ``f!=v`` terms joined by commas, with ``\\``, ``\\,`` and ``\\=`` escapes in
values.  A field outside the kind's supported set is rejected with the apiserver's
``field label not supported: <field>``.  The server turns :class:`SelectorError` into a
400 BadRequest.

Label selectors live in :mod:`label_selectors`, field selectors in
:mod:`field_selectors`; this module re-exports both.
"""

from __future__ import annotations

from ensign.localcluster.field_selectors import (
    FieldRequirement,
    FieldSelector,
    field_value,
    parse_field_selector,
)
from ensign.localcluster.label_selectors import (
    EVERYTHING,
    NOTHING,
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    label_selector_from_object,
    new_requirement,
    parse_label_selector,
)

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "field_value",
    "label_selector_from_object",
    "new_requirement",
    "parse_field_selector",
    "parse_label_selector",
]
