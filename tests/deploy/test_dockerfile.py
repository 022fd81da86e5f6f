"""The Dockerfile's properties, checked by parsing it (no docker engine on this machine).

Multi-stage; the final stage is distroless (no shell, no package manager), runs no RUN step
(there is no shell to run it), runs as a non-root numeric UID, and starts the controller with
an exec-form ENTRYPOINT. `.dockerignore` keeps the build context to what the build copies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy import support

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


def parse(text: str) -> list[Stage]:
    """Stages of a Dockerfile: comments dropped, continuation lines joined."""
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    stages: list[Stage] = []
    for line in logical:
        op, _, arg = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", arg.strip(), re.I)
            assert m, line
            stages.append(Stage(m.group(1), m.group(2)))
        else:
            assert stages, f"{op} before FROM"
            stages[-1].instructions.append((op, arg.strip()))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse((ROOT / "Dockerfile").read_text())


def exec_form(arg: str) -> list[str] | None:
    try:
        value = json.loads(arg)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(x, str) for x in value) else None


def test_multi_stage_build(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    build, final = stages[0], stages[-1]
    assert build.name and build.base.startswith("python:3.11-slim")
    assert any(f"--from={build.name}" in arg for arg in final.all("COPY"))


def test_final_stage_has_no_shell_and_runs_nothing(stages: list[Stage]) -> None:
    final = stages[-1]
    assert final.base.startswith("gcr.io/distroless/python3-debian12"), final.base
    assert ":debug" not in final.base, "distroless :debug images contain a shell"
    assert final.all("RUN") == [], "the final stage has no shell to RUN with"
    assert not final.all("SHELL")


def test_runs_as_non_root(stages: list[Stage]) -> None:
    users = stages[-1].all("USER")
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric non-root UID"
    # The manifests run as the same UID.
    pod_spec = support.one(support.render_chart(), "Deployment")["spec"]["template"]["spec"]
    assert pod_spec["securityContext"]["runAsUser"] == int(uid)


def test_entrypoint_is_exec_form_and_starts_the_controller(stages: list[Stage]) -> None:
    final = stages[-1]
    (entrypoint,) = final.all("ENTRYPOINT")
    argv = exec_form(entrypoint)
    assert argv is not None, f"shell-form ENTRYPOINT: {entrypoint}"
    assert argv[0].startswith("/usr/bin/python3")
    assert argv[1:] == ["-m", "ensign", "controller"]
    for cmd in final.all("CMD"):
        assert exec_form(cmd) is not None, f"shell-form CMD: {cmd}"


def test_read_only_root_friendly(stages: list[Stage]) -> None:
    env = " ".join(stages[-1].all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "Python must not try to write .pyc files"
    assert "8080" in stages[-1].all("EXPOSE")


def test_build_installs_only_pinned_runtime_dependencies(stages: list[Stage]) -> None:
    runs = " ".join(stages[0].all("RUN"))
    assert "--constraint requirements.lock" in runs
    assert "[dev]" not in runs


def test_build_installs_the_aws_extra_by_default(stages: list[Stage]) -> None:
    """CloudWatch on EKS (IRSA, Pod Identity) works with the published image, as Flagger's
    does: the build installs `ensign[aws]` unless EXTRAS is set empty."""
    build = stages[0]
    assert "EXTRAS=aws" in build.all("ARG")
    runs = " ".join(build.all("RUN"))
    assert '"${wheel}${EXTRAS:+[$EXTRAS]}"' in runs
    lock = (ROOT / "requirements.lock").read_text()
    assert "\nbotocore==" in lock, "the aws extra's pin must be in the constraint file"


def test_dockerignore_limits_the_context() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "**", "ignore everything, then allow what the build copies"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for stage in parse((ROOT / "Dockerfile").read_text()):
        for arg in stage.all("COPY"):
            if not arg.startswith("--from"):
                copied |= {p.rstrip("/") for p in arg.split()[:-1]}
    assert copied <= allowed, copied - allowed
    assert not allowed & {".venv", ".git", "tests"}
