"""Ensign: progressive delivery for Kubernetes, a drop-in re-implementation of Flagger."""

__version__ = "0.1.0"
