"""The layering rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ensign"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def test_only_the_kube_package_imports_lightkube() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.parent.name != "kube" and any(m.split(".")[0] == "lightkube" for m in imports(p))
    ]
    assert offenders == []


def test_engine_and_model_are_pure() -> None:
    forbidden = {"asyncio", "aiohttp", "httpx2", "lightkube", "logging", "time", "random", "os"}
    forbidden_ensign = ("ensign.runtime", "ensign.kube", "ensign.localcluster", "ensign.webhooks")
    for package in ("engine", "model"):
        for path in modules(package):
            found = imports(path)
            assert not {m.split(".")[0] for m in found} & forbidden, path
            assert not [m for m in found if m.startswith(forbidden_ensign)], path
            text = path.read_text()
            assert "datetime.now(" not in text and ".utcnow(" not in text, path


def test_pure_plugins_do_no_io() -> None:
    for package in ("workloads", "routers"):
        for path in modules(package):
            found = {m.split(".")[0] for m in imports(path)}
            assert not found & {"asyncio", "aiohttp", "httpx2", "lightkube"}, path


def test_no_grab_bag_modules() -> None:
    banned = {"utils", "helpers", "common", "misc", "manager"}
    assert [p for p in SRC.rglob("*.py") if p.stem in banned] == []


def test_statistics_queries_and_alert_texts_are_pure() -> None:
    """The judge, the query templating and the alert catalogue/formats/routing take no I/O,
    clock or randomness, so they are tested exactly and the engine can rely on them."""
    forbidden = {"asyncio", "aiohttp", "httpx2", "lightkube", "logging", "time", "random", "os"}
    # judge/calibration.py draws seeded synthetic samples to measure error rates; it is the
    # one module allowed `random` (an explicit random.Random(seed), never the global one).
    paths = [p for p in modules("judge") if p.stem != "calibration"] + modules("queries")
    paths += [SRC / "alerting" / f"{m}.py" for m in ("catalogue", "formats", "routing")]
    for path in paths:
        found = {m.split(".")[0] for m in imports(path)}
        assert not found & forbidden, path
        assert "datetime.now(" not in path.read_text(), path
