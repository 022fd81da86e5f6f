"""Defaulting, validation and decode checks for built-in kinds, as a real kube-apiserver does.

The store calls, for every create/update of a built-in kind:

1. `decode_errors(group, plural, obj)`: a str means answer 400 BadRequest with that message;
2. `apply_defaults(group, plural, obj)` (mutates; idempotent); on update, also
   `preserve_allocated(group, plural, obj, old)`; for a Service without a clusterIP, the caller
   allocates one with `allocate_cluster_ip(used)` and sets `spec.clusterIP`/`spec.clusterIPs`;
3. `validate(group, plural, obj, old)`: non-empty causes mean 422 Invalid (`errors.invalid`).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from ensign.localcluster.builtin_decode import decode_errors
from ensign.localcluster.builtin_defaults import (
    SERVICE_CIDR,
    allocate_cluster_ip,
    apply_defaults,
    image_pull_policy,
    preserve_allocated,
)
from ensign.localcluster.builtin_validation import validate

__all__ = [
    "SERVICE_CIDR",
    "allocate_cluster_ip",
    "apply_defaults",
    "decode_errors",
    "image_pull_policy",
    "preserve_allocated",
    "validate",
]
