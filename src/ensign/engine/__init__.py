"""The rollout engine: pure, synchronous and deterministic.

`decide(snapshot, probes, now=...)` maps what the runtime observed (the Canary, its status,
the workloads, readiness, routes) plus the results of the webhook probes it asked for to a
`Decision`: the new status, the ordered actions to execute, and the events to record. When
it needs a gate's answer before it can decide, it returns a `ProbeRequest` instead and the
runtime calls it again with the answer. Nothing here talks to a client, reads a clock or logs.
"""
