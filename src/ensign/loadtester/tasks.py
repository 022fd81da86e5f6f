"""Webhook payloads, task types and command policy for the load tester. Pure: no I/O.

`parse_payload` reads Flagger's `CanaryWebhookPayload` (§4.2); `parse_task` turns a payload
sent to `/` into a `Task` (§8.3); `plan` applies the server's `Policy` and yields the argv to
execute. Every refusal is a `RequestError` carrying the HTTP status and a reason for the body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_NAME_LENGTH = 253
"""Longest accepted `name` / `namespace` (a Kubernetes object name)."""

ANY_PROGRAM = "*"
"""Allowlist entry that lets every program run."""

DEFAULT_PROGRAMS = frozenset(
    {"hey", "wrk", "ghz", "grpc_health_probe", "helm", "kubectl", "bats", "curl", "jq"}
)
"""Allowlist when none is configured: the load and test tools of Flagger's image (no shells)."""

SHELL_OPERATORS = frozenset(";&|<>()$`")
"""Characters a POSIX shell interprets outside quotes (besides newline, `#` and `~`)."""


class RequestError(Exception):
    """A request the server refuses: `status` is the HTTP status, `reason` the body."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class CommandSyntaxError(ValueError):
    """A command that cannot run without a shell (metacharacter, open quote, NUL)."""


class TaskType(StrEnum):
    """`metadata.type` values the task endpoint knows (§8.3)."""

    CMD = "cmd"
    BASH = "bash"
    HELM = "helm"
    HELMV3 = "helmv3"
    KUBECTL = "kubectl"


UNSUPPORTED_TYPES = frozenset({"concord", "ngrinder"})
"""Flagger task types Ensign does not implement (they call third-party servers)."""

_SYNCHRONOUS = frozenset({TaskType.BASH, TaskType.HELM, TaskType.HELMV3, TaskType.KUBECTL})
_FIXED_PROGRAM = {TaskType.HELM: "helm", TaskType.HELMV3: "helm", TaskType.KUBECTL: "kubectl"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Payload:
    """A Flagger webhook body; `metadata` is a string map as in Flagger."""

    name: str
    namespace: str
    phase: str = ""
    checksum: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One request to `/`: what to run and how to answer.

    `synchronous` tasks answer after the command finished (200/500); the others answer 202
    at once and run in the background, as Flagger's `cmd` does.
    """

    payload: Payload
    type: TaskType
    cmd: str
    log_output: bool
    return_output: bool

    @property
    def synchronous(self) -> bool:
        return self.type in _SYNCHRONOUS


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """What the server lets tasks do; the defaults run nothing at all.

    `programs` is the allowlist of argv[0] values (exact match; `"*"` allows any program).
    """

    allow_commands: bool = False
    allow_shell: bool = False
    programs: frozenset[str] = DEFAULT_PROGRAMS

    def allows(self, program: str) -> bool:
        return ANY_PROGRAM in self.programs or program in self.programs


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A task that passed the policy: the exact argv to execute and the program checked."""

    task: Task
    argv: tuple[str, ...]
    program: str

    @property
    def key(self) -> tuple[str, str, str]:
        """De-duplication key of background tasks (Flagger hashes `<name>.<ns>` + cmd)."""
        return (self.task.payload.name, self.task.payload.namespace, self.task.cmd)


# --------------------------------------------------------------------------- payloads


def parse_payload(body: bytes) -> Payload:
    """The webhook payload in `body`; `RequestError(400)` when it is not a valid one."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"invalid JSON payload: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(400, "invalid payload: expected a JSON object")
    name = _identifier(data, "name")
    namespace = _identifier(data, "namespace")
    return Payload(
        name=name,
        namespace=namespace,
        phase=_optional_string(data, "phase"),
        checksum=_optional_string(data, "checksum"),
        metadata=_metadata(data.get("metadata")),
    )


def _identifier(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None or value == "":
        raise RequestError(400, f"invalid payload: {key} is required")
    if not isinstance(value, str):
        raise RequestError(400, f"invalid payload: {key} must be a string")
    if len(value) > MAX_NAME_LENGTH:
        raise RequestError(400, f"invalid payload: {key} is longer than {MAX_NAME_LENGTH}")
    return value


def _optional_string(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RequestError(400, f"invalid payload: {key} must be a string")
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError(400, "invalid payload: metadata must be an object of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise RequestError(400, f"invalid payload: metadata.{key} must be a string")
    return dict(value)


def parse_bool(text: str) -> bool:
    """Go's `strconv.ParseBool` with errors read as false, as Flagger does."""
    return text in {"1", "t", "T", "TRUE", "true", "True"}


# --------------------------------------------------------------------------- tasks


def parse_task(payload: Payload) -> Task:
    """The task a payload asks for; `RequestError(400)` for missing or unknown fields."""
    metadata = payload.metadata
    if not metadata:
        raise RequestError(400, "metadata not found in payload")
    kind = metadata.get("type") or TaskType.CMD.value
    if kind in UNSUPPORTED_TYPES:
        raise RequestError(400, f"task type {kind} is not supported by Ensign")
    try:
        task_type = TaskType(kind)
    except ValueError:
        raise RequestError(400, f"unknown task type {kind}") from None
    cmd = metadata.get("cmd", "")
    if not cmd.strip():
        raise RequestError(400, "cmd not found in metadata")
    return Task(
        payload=payload,
        type=task_type,
        cmd=cmd,
        log_output=parse_bool(metadata.get("logCmdOutput", "")),
        return_output=parse_bool(metadata.get("returnCmdOutput", "")),
    )


def plan(task: Task, policy: Policy) -> Plan:
    """The argv for `task` under `policy`, or `RequestError` (403 when commands are off)."""
    if not policy.allow_commands:
        raise RequestError(403, "command execution is disabled (start with --allow-commands)")
    if "\x00" in task.cmd:
        raise RequestError(400, "cmd contains a NUL character")
    if task.type in _FIXED_PROGRAM:
        program = _FIXED_PROGRAM[task.type]
        argv: tuple[str, ...] = (program, *task.cmd.split())
    elif task.type is TaskType.BASH or policy.allow_shell:
        if not policy.allow_shell:
            raise RequestError(400, "bash tasks need a shell (start with --allow-shell)")
        shell = "bash" if task.type is TaskType.BASH else "sh"
        program = first_word(task.cmd)
        argv = (shell, "-c", task.cmd)
    else:
        try:
            words = split_command(task.cmd)
        except CommandSyntaxError as exc:
            raise RequestError(400, str(exc)) from None
        program = words[0]
        argv = tuple(words)
    if not program:
        raise RequestError(400, "cmd does not start with a program name")
    if not policy.allows(program):
        raise RequestError(400, f"program {program!r} is not allowed (see --allow-prefix)")
    return Plan(task=task, argv=argv, program=program)


# --------------------------------------------------------------------------- command words


def split_command(text: str) -> list[str]:
    """Split `text` into argv with POSIX `sh` quoting, refusing anything a shell would expand.

    Single quotes, double quotes and backslashes work as in `sh`. Outside quotes the
    characters `; & | < > ( ) $` and backquote, newlines, and `#`/`~` at the start of a word
    raise `CommandSyntaxError`, as do `$` and backquote inside double quotes: running the
    command without a shell would silently change its meaning. Glob characters (`* ? [`) stay
    literal, which is what `sh` does when nothing matches.
    """
    words = list(_words(text, strict=True))
    if not words:
        raise CommandSyntaxError("cmd is empty")
    return words


def first_word(script: str) -> str:
    """The program a shell script starts with (best effort; empty when there is none)."""
    try:
        return next(_words(script, strict=False), "")
    except CommandSyntaxError:
        return ""


def _describe(char: str) -> str:
    return "newline" if char == "\n" else repr(char)


def _metachar(char: str, offset: int) -> CommandSyntaxError:
    return CommandSyntaxError(
        f"shell metacharacter {_describe(char)} at offset {offset} is not allowed "
        "without --allow-shell"
    )


def _words(text: str, *, strict: bool) -> Iterator[str]:
    """Words of `text`; non-strict mode stops quietly at the first shell operator."""
    word: list[str] = []
    in_word = False
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char in " \t":
            if in_word:
                yield "".join(word)
                word, in_word = [], False
            i += 1
        elif char == "\n" or char in SHELL_OPERATORS or (char in "#~" and not in_word):
            if strict:
                raise _metachar(char, i)
            if in_word:
                yield "".join(word)
            return
        elif char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise CommandSyntaxError(f"unterminated single quote at offset {i}")
            word.append(text[i + 1 : end])
            in_word = True
            i = end + 1
        elif char == '"':
            i = _double_quoted(text, i, word, strict=strict)
            in_word = True
        elif char == "\\":
            if i + 1 < n and text[i + 1] == "\n":  # line continuation
                i += 2
                continue
            word.append(text[i + 1 : i + 2] or "\\")
            in_word = True
            i += 2
        else:
            word.append(char)
            in_word = True
            i += 1
    if in_word:
        yield "".join(word)


def _double_quoted(text: str, start: int, word: list[str], *, strict: bool) -> int:
    """Append the contents of the double-quoted string at `start`; return the next offset."""
    i = start + 1
    n = len(text)
    while i < n:
        char = text[i]
        if char == '"':
            return i + 1
        if char in "$`":
            if strict:
                raise _metachar(char, i)
            word.append(char)
            i += 1
        elif char == "\\" and i + 1 < n and text[i + 1] in '$`"\\\n':
            if text[i + 1] != "\n":
                word.append(text[i + 1])
            i += 2
        else:
            word.append(char)
            i += 1
    raise CommandSyntaxError(f"unterminated double quote at offset {start}")
