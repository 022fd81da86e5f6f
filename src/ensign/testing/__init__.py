"""Ensign's public test kit: the local cluster with a running controller, and real gate servers.

Used by the scenario tests, the demo and the benchmarks. Typed and maintained like
production code.
"""
