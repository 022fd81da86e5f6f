"""The Kubernetes I/O boundary: a small protocol (`api.KubeApi`) and its lightkube implementation."""
