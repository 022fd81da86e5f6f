"""Workload rendering for Deployment and DaemonSet targets. Pure.

Everything here is synchronous and side-effect free: Kubernetes objects come in as plain JSON
mappings and go out as new dicts (inputs are never mutated); time is a `now` parameter. The
I/O shell reads the target, its ConfigMaps/Secrets and autoscaler, calls these functions and
writes what they return.

Modules:
- `selector`: the selector label `L=V` picked from the target's `matchLabels`.
- `revision`: revision hashes, `hasSpecChanged`, the webhook checksum.
- `configs`: ConfigMap/Secret tracking, checksums and `-primary` copies.
- `podtemplate`: the primary's pod template (deterministic `flagger-id`, affinity rewrite).
- `primary`: primary Deployment/DaemonSet creation and promotion, scaling patches.
- `readiness`: rollout readiness of Deployments and DaemonSets.
- `autoscalers`: the primary HorizontalPodAutoscaler.
- `meta`: label/annotation filtering, owner references, JSON deep copy.
- `errors`: `WorkloadError`.
"""
