"""The local cluster: an in-process Kubernetes API server on 127.0.0.1.

It speaks the real Kubernetes REST protocol, so lightkube, kubectl and any other client
can talk to it. Tests, the demo and the benchmarks run on it. See docs/architecture.md
for its scope and limits.
"""
