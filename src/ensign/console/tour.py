"""The short tour `ensign` prints when run without arguments. Pure."""

from __future__ import annotations

from collections.abc import Mapping

TOUR: tuple[tuple[str, str, str], ...] = (
    ("sandbox", "local cluster + controller in one process", "ensign sandbox"),
    ("get", "canaries with phase, weight, iteration, checks", "ensign get -A --watch"),
    ("describe", "the live object graph of a canary", "ensign describe podinfo -n test"),
    ("status", "wait for the current rollout to end", "ensign status podinfo --timeout 10m"),
    ("promote", "approve the revision under analysis", "ensign promote podinfo -n test"),
    ("abort", "roll the current run back", "ensign abort podinfo -n test"),
    ("pause", "suspend a canary (spec.suspend)", "ensign pause podinfo -n test"),
    ("resume", "resume a suspended canary", "ensign resume podinfo -n test"),
    ("controller", "run the operator against a cluster", "ensign controller"),
    ("demo", "the seed scenario, unattended", "ensign demo"),
    ("localcluster", "only the local Kubernetes API server", "ensign localcluster"),
)


def tour(commands: Mapping[str, str]) -> str:
    """`commands` maps every registered command to its one-line help; unknown ones are listed
    after the curated entries so a new command is never left out."""
    lines = [
        "Ensign: progressive delivery for Kubernetes, a drop-in re-implementation of Flagger.",
        "",
        "A tour:",
    ]
    known = {name for name, _, _ in TOUR}
    width = max(len(example) for _, _, example in TOUR)
    for name, what, example in TOUR:
        if name in commands:
            lines.append(f"  {example:<{width}}  {what}")
    for name in sorted(set(commands) - known):
        lines.append(f"  {'ensign ' + name:<{width}}  {commands[name]}")
    lines += [
        "",
        "Every command takes --kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)",
        "and -n/--namespace (default: the context's). Start with:",
        "",
        "  ensign sandbox &        # then run the `export KUBECONFIG=...` line it prints",
        "",
        "`ensign COMMAND --help` tells more; `ensign --help` lists every option.",
    ]
    return "\n".join(lines)
