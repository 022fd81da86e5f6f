"""Where the controller's start-up memory goes: RSS added by each group of imports, in the
order the controller process loads them, each in a fresh interpreter step by step.

Bytecode is read from a cache of its own filled first (PYTHONPYCACHEPREFIX), as an installed
operator reads the .pyc files pip compiled at install time. Also: the modules the controller
entry point loads, and the cost of the kube client's TLS context (the default CA bundle, as
for a kubeconfig without a CA, against one CA file, as in a cluster).

    .venv/bin/python bench/imports.py [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Cumulative: each step imports its modules on top of the previous steps'.
STEPS = (
    ("interpreter", ()),
    ("asyncio (and ssl)", ("asyncio",)),
    ("click, flags, cli", ("ensign.cli",)),
    ("PyYAML, msgspec", ("yaml", "msgspec")),
    ("httpx2, httpcore2, h2, anyio", ("httpx2", "anyio._backends._asyncio")),
    ("lightkube", ("lightkube", "ensign.kube.client")),
    ("prometheus_client", ("prometheus_client",)),
    ("ensign model, engine, runtime", ("ensign.runtime.app",)),
)
FORBIDDEN = ("ensign.localcluster", "ensign.testing", "ensign.console", "rich", "aiohttp")

PROBE = """
import importlib, json, sys
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) / 1024
out = [rss()]
for step in json.loads(sys.argv[1]):
    for name in step:
        importlib.import_module(name)
    out.append(rss())
import ssl, httpx2
before = rss(); one_ctx = ssl.create_default_context(cafile=sys.argv[2]); one_cost = rss() - before
before = rss(); default_ctx = httpx2.create_ssl_context(); default_cost = rss() - before
print(json.dumps({"rss": out, "modules": sorted(sys.modules), "tls_default": default_cost,
                  "tls_one_ca": one_cost}))
"""


def measure(workdir: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "bytecode")
    paths = sysconfig.get_paths()
    for target in (paths["stdlib"], paths["purelib"], str(ROOT / "src" / "ensign")):
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-j0", target],
            env=env,
            capture_output=True,
            check=False,
        )
    ca = workdir / "ca.pem"
    ca.write_text(first_ca())
    steps = json.dumps([list(modules) for _, modules in STEPS[1:]])
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", PROBE, steps, str(ca)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(3)
    ]
    best = min(runs, key=lambda r: r["rss"][-1])
    return best


def first_ca() -> str:
    import ssl

    bundle = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    text = bundle.read_text()
    end = "-----END CERTIFICATE-----"
    return text[: text.index(end) + len(end)] + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ensign-imports-") as tmp:
        result = measure(Path(tmp))
    rss = result["rss"]
    assert isinstance(rss, list)
    modules = result["modules"]
    assert isinstance(modules, list)
    lines = ["| step | RSS added MiB | RSS after MiB |", "|---|---|---|"]
    lines.append(f"| {STEPS[0][0]} | {rss[0]:.1f} | {rss[0]:.1f} |")
    for (title, _), before, after in zip(STEPS[1:], rss[:-1], rss[1:], strict=True):
        lines.append(f"| {title} | {after - before:.1f} | {after:.1f} |")
    loaded = [m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    notes = [
        f"modules loaded: {len(modules)} ({sum(m.startswith('ensign') for m in modules)} of"
        f" ensign); of the local cluster, test kits, console, rich, aiohttp: {loaded or 'none'}",
        f"the kube client's TLS context: {result['tls_default']:.1f} MiB with the default CA"
        f" bundle (a kubeconfig without a CA, as the local cluster's plain-HTTP one), against"
        f" {result['tls_one_ca']:.1f} MiB with one CA file (in a cluster)",
    ]
    print("\n".join(lines))
    for note in notes:
        print(f"# {note}")
    if not args.no_write:
        section = [
            "",
            f"## imports — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            "Command: `python bench/imports.py` (each step in the order the controller loads"
            " it, cumulative, in a fresh interpreter; bytecode precompiled; best of 3)",
            "",
            *lines,
            "",
            *(f"- {note}" for note in notes),
        ]
        with (ROOT / "bench" / "RESULTS.md").open("a") as fh:
            fh.write("\n".join(section) + "\n")


if __name__ == "__main__":
    main()
