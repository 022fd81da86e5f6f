"""What the operator install contains (issue #14 item 7).

The `ensign` wheel (the Dockerfile's, built here in-process by hatchling, offline) carries what
the controller, the console and the load tester run, and the CRDs; the local cluster, the test
kits, the demo and the sandbox are the `ensign-local` wheel's (packaging/local). Unpacked on
its own, the operator wheel imports every module it ships, and `ensign demo`/`sandbox`/
`localcluster` say what to install instead of failing with an ImportError.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
LOCAL_ONLY = (
    "ensign/localcluster/",
    "ensign/testing/",
    "ensign/demo.py",
    "ensign/demo_canary.py",
    "ensign/console/sandbox.py",
)


def build(project: Path, out: Path) -> Path:
    (wheel,) = WheelBuilder(str(project)).build(directory=str(out), versions=["standard"])
    return Path(wheel)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    return {"operator": build(ROOT, out), "local": build(ROOT / "packaging" / "local", out)}


@pytest.fixture(scope="module")
def operator_install(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operator wheel unpacked as an install target (a wheel is a zip of site-packages)."""
    target = tmp_path_factory.mktemp("operator-install")
    with zipfile.ZipFile(wheels["operator"]) as zf:
        zf.extractall(target)
    return target


def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return {n for n in zf.namelist() if ".dist-info/" not in n}


def source_files() -> set[str]:
    return {
        str(p.relative_to(SRC))
        for p in (SRC / "ensign").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def run_with(install: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Python with the venv's third-party packages but Ensign only from `install` (the
    clone's editable src/ path is taken off sys.path before anything imports ensign)."""
    prelude = (
        "import sys; "
        f"sys.path[:] = [p for p in sys.path if p.rstrip('/') != {str(SRC)!r}]; "
        f"sys.path.insert(0, {str(install)!r}); "
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=install,
    )


def test_operator_wheel_leaves_out_the_local_cluster_and_test_kits(
    wheels: dict[str, Path],
) -> None:
    files = names(wheels["operator"])
    assert not [f for f in files if f.startswith(LOCAL_ONLY)]
    for needed in ("ensign/cli.py", "ensign/runtime/app.py", "ensign/observability/server.py"):
        assert needed in files
    crds = {p.name for p in (ROOT / "deploy" / "crds").glob("*.yaml")}
    assert crds and {f"ensign/crds/{c}" for c in crds} <= files


def test_the_two_wheels_together_ship_all_of_src(wheels: dict[str, Path]) -> None:
    operator, local = names(wheels["operator"]), names(wheels["local"])
    assert operator.isdisjoint(local), operator & local
    assert all(f.startswith(LOCAL_ONLY) for f in local)
    assert "ensign/localcluster/cluster.py" in local and "ensign/testing/harness.py" in local
    shipped = {f for f in operator | local if not f.startswith("ensign/crds/")}
    assert source_files() - shipped == set()


def test_operator_install_imports_every_module_it_ships(operator_install: Path) -> None:
    code = (
        "import importlib, pkgutil, ensign; "
        "assert ensign.__file__.startswith(sys.path[0]), ensign.__file__; "
        "mods = [m.name for m in pkgutil.walk_packages(ensign.__path__, 'ensign.') "
        "        if m.name != 'ensign.__main__']; "
        "[importlib.import_module(m) for m in mods]; "
        "print(len(mods))"
    )
    done = run_with(operator_install, code)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 100


@pytest.mark.parametrize("command", ["demo", "sandbox", "localcluster"])
def test_local_commands_without_the_local_part_say_what_to_install(
    operator_install: Path, command: str
) -> None:
    done = run_with(operator_install, "from ensign.cli import main; main()", command)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"`ensign {command}` runs the local cluster" in done.stderr
    assert "pip install 'ensign[local]'" in done.stderr
