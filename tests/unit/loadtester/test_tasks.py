"""Payload parsing, command splitting and policy (pure; §8.3)."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ensign.loadtester.tasks import (
    DEFAULT_PROGRAMS,
    CommandSyntaxError,
    Payload,
    Policy,
    RequestError,
    TaskType,
    first_word,
    parse_bool,
    parse_payload,
    parse_task,
    plan,
    split_command,
)

ON = Policy(allow_commands=True, programs=frozenset({"hey", "curl"}))
SHELL = Policy(allow_commands=True, allow_shell=True, programs=frozenset({"hey", "curl"}))


def task_for(**metadata: str) -> Payload:
    return Payload(name="podinfo", namespace="test", metadata=metadata)


def test_parse_payload_reads_flaggers_fields() -> None:
    body = (
        b'{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"abc",'
        b'"metadata":{"type":"cmd","cmd":"hey -z 1m http://podinfo-canary.test:9898/"}}'
    )
    assert parse_payload(body) == Payload(
        name="podinfo",
        namespace="test",
        phase="Progressing",
        checksum="abc",
        metadata={"type": "cmd", "cmd": "hey -z 1m http://podinfo-canary.test:9898/"},
    )


def test_names_are_bounded() -> None:
    with pytest.raises(RequestError, match="longer than 253"):
        parse_payload(b'{"name":"' + b"a" * 254 + b'","namespace":"x"}')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("1", True),
        ("t", True),
        ("false", False),
        ("yes", False),
        ("", False),
        ("tRuE", False),
    ],
)
def test_parse_bool_is_gos(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


def test_type_defaults_to_cmd_and_flags_are_read() -> None:
    task = parse_task(task_for(cmd="hey -z 1m http://x/", logCmdOutput="true"))
    assert (task.type, task.log_output, task.return_output) == (TaskType.CMD, True, False)
    assert not task.synchronous
    assert parse_task(task_for(type="helmv3", cmd="test x")).synchronous


def test_commands_off_is_403() -> None:
    with pytest.raises(RequestError) as caught:
        plan(parse_task(task_for(cmd="hey")), Policy())
    assert caught.value.status == 403


def test_plans_per_type() -> None:
    cmd = plan(parse_task(task_for(cmd="hey -z 1m 'http://x/?a=1&b=2'")), ON)
    assert cmd.argv == ("hey", "-z", "1m", "http://x/?a=1&b=2")
    everything = Policy(allow_commands=True, programs=frozenset({"*"}))
    helm = plan(parse_task(task_for(type="helm", cmd=" test  'a b' ")), everything)
    assert helm.argv == ("helm", "test", "'a", "b'")  # Flagger splits on whitespace only
    kubectl = plan(parse_task(task_for(type="kubectl", cmd="get pods")), everything)
    assert kubectl.argv == ("kubectl", "get", "pods")
    shell = plan(parse_task(task_for(cmd="curl -s http://x/ | jq .")), SHELL)
    assert (shell.argv, shell.program) == (("sh", "-c", "curl -s http://x/ | jq ."), "curl")
    bash = plan(parse_task(task_for(type="bash", cmd="hey x && echo ok")), SHELL)
    assert bash.argv == ("bash", "-c", "hey x && echo ok")


def test_shell_mode_checks_the_first_word() -> None:
    with pytest.raises(RequestError, match="'rm' is not allowed"):
        plan(parse_task(task_for(cmd="rm -rf / ; hey")), SHELL)
    with pytest.raises(RequestError, match="does not start with a program"):
        plan(parse_task(task_for(cmd="; hey")), SHELL)


def test_default_allowlist() -> None:
    assert Policy().programs == DEFAULT_PROGRAMS
    assert {"bash", "sh", "git"}.isdisjoint(DEFAULT_PROGRAMS)


def test_nul_is_refused() -> None:
    with pytest.raises(RequestError, match="NUL"):
        plan(parse_task(task_for(cmd="hey \x00x")), ON)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/", None),
        ("curl -sd 'test' http://podinfo-canary.test/token", None),
        ("a 'b c' \"d e\" f\\ g", ["a", "b c", "d e", "f g"]),
        ("a '' \"\" b", ["a", "", "", "b"]),
        ('a "x\\"y\\\\z" \'q\\n\'', ["a", 'x"y\\z', "q\\n"]),
        ("a b\\\nc", ["a", "bc"]),
        ("a\tb   c", ["a", "b", "c"]),
        (
            "curl http://x/?q=1 a*b [c] x#y x~y",
            ["curl", "http://x/?q=1", "a*b", "[c]", "x#y", "x~y"],
        ),
    ],
)
def test_split_command(text: str, words: list[str] | None) -> None:
    assert split_command(text) == (words if words is not None else shlex.split(text))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a;b", "';' at offset 1"),
        ("a & b", "'&' at offset 2"),
        ("a || b", "'|' at offset 2"),
        ("a < b", "'<'"),
        ("(a)", "'('"),
        ("a $HOME", "'$'"),
        ('a "$(id)"', "'$' at offset 3"),
        ('a "`id`"', "'`'"),
        ("a #comment", "'#'"),
        ("a ~/x", "'~'"),
        ("a\nb", "newline"),
        ("a 'b", "unterminated single quote"),
        ('a "b', "unterminated double quote"),
        ("   ", "cmd is empty"),
    ],
)
def test_split_command_refuses_shell_syntax(text: str, reason: str) -> None:
    with pytest.raises(CommandSyntaxError, match=reason.replace("(", r"\(").replace("$", r"\$")):
        split_command(text)


@given(st.lists(st.text(st.characters(blacklist_characters="\x00"), max_size=8), min_size=1))
def test_split_command_inverts_shlex_join(words: list[str]) -> None:
    assert split_command(shlex.join(words)) == words


@pytest.mark.parametrize(
    ("script", "word"),
    [
        ("hey -z 1m x && curl y", "hey"),
        ("'hey' x", "hey"),
        ("hey;x", "hey"),
        ("; x", ""),
        ("  ", ""),
        ("'open", ""),
        ("FOO=1 hey", "FOO=1"),
    ],
)
def test_first_word(script: str, word: str) -> None:
    assert first_word(script) == word
