"""The error raised by workload rendering. Pure.

`WorkloadError` carries a user-facing message worded like Flagger's, suitable for a Warning
event on the Canary. It means the target cannot be handled as it is (a missing selector
label, a missing mandatory ConfigMap, a DaemonSet without RollingUpdate).
"""

from __future__ import annotations


class WorkloadError(Exception):
    """The target workload (or an object it references) cannot be rendered."""
