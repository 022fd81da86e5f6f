"""`ensign loadtester`: a server compatible with Flagger's load tester API (§8).

Canary webhooks that point at `flagger-loadtester` keep working when they point here: the
paths, payload (`{name, namespace, phase, checksum, metadata}`) and status codes are Flagger's.

API (every body is a Flagger webhook payload; gates are per canary `<name>.<namespace>`)::

    /healthz          any   200 OK (no token needed)
    /gate/approve     any   200 OK, always
    /gate/halt        any   403 Forbidden, always
    /gate/check       any   200 Approved when the gate is open, else 403 Forbidden
    /gate/open|close  any   202, empty body
    /rollback/check   any   200 Approved when rollback was requested (open), else 403
    /rollback/open|close    202
    /                 POST  task (metadata.type, default cmd):
        cmd                 202 at once, runs in the background (output logged when
                            metadata.logCmdOutput is true); same canary + cmd while one
                            runs: 202 "command skipped: already running"
        bash                synchronous `bash -c cmd` (needs --allow-shell)
        helm, helmv3        synchronous `helm <cmd split on whitespace>`
        kubectl             synchronous `kubectl <cmd split on whitespace>`
        synchronous tasks: 200 (body = output when metadata.returnCmdOutput is true) or
        500 `command <cmd> failed: <output>: <error>`

Refusals: 400 with the reason (invalid JSON, missing/non-string `name` or `namespace`,
non-string metadata values, `metadata not found in payload`, `cmd not found in metadata`,
unknown or unsupported task type, shell metacharacter (named, with its offset) in a `cmd`
without `--allow-shell`, `bash` without `--allow-shell`, program not on the allowlist);
401 missing or wrong token; 403 `Forbidden` namespace not matching `--namespace-regexp`;
403 command execution disabled (no `--allow-commands`); 405 `/` with a method other than
POST; 404 unknown path; 413 body over `--max-body`; 429 `--max-concurrent` commands already
running, or too many open gates.

Flags of `ensign loadtester`: `--host` (127.0.0.1), `--port` (9090), `--timeout` (Go
duration, `1h`), `--namespace-regexp`, `--allow-commands`, `--allow-shell`, `--allow-prefix
PROGRAM` (repeatable), `--token` / `$ENSIGN_LOADTESTER_TOKEN`, `--max-body` (65536),
`--max-concurrent` (4), `--max-output` (262144), `--log-level`, `--log-format`.

Deliberate differences from Flagger's load tester (secure defaults first):

- **Commands are off by default.** Tasks get 403 until `--allow-commands`; gates work
  without it.
- **No shell by default.** Flagger runs `cmd` with `sh -c`. Ensign splits it with POSIX
  quoting rules and executes the argv directly; anything a shell would interpret outside
  quotes (`; & | < > ( ) $` backquote, newline, `#`/`~` at the start of a word, `$`/backquote
  inside double quotes) is refused with 400 naming the character, instead of silently
  meaning something else. Glob characters stay literal. With `--allow-shell`, `cmd` runs
  via `sh -c` and `bash` via `bash -c` exactly as in Flagger.
- **Program allowlist.** argv[0] must equal an allowed program (exact match, not a string
  prefix; a path matches only the same path). Default: the tools of Flagger's image, `hey
  wrk ghz grpc_health_probe helm kubectl bats curl jq`; `--allow-prefix` replaces the list
  and `--allow-prefix '*'` allows any program. helm/helmv3 tasks need `helm`, kubectl tasks
  `kubectl`. In shell mode only the script's first word is checked, which is advisory: a
  shell can run anything after it.
- **Bounds.** Commands have a deadline (`--timeout`, 1 h like Flagger) after which their
  whole process group is killed, keep at most `--max-output` bytes of output, and at most
  `--max-concurrent` run at once (429 beyond, where Flagger queues without limit). Bodies over
  `--max-body` get 413. At most 10 000 gates can be open. Shutdown kills running commands.
- **Optional token.** With `--token` every request but `/healthz` needs `Authorization:
  Bearer <token>`; Basic auth with the token as password is accepted too, so a webhook URL
  can carry it (`http://any:<token>@loadtester/`): Flagger and Ensign send URL credentials
  as Basic auth but cannot add headers. The token is removed from commands' environment.
- **Binds 127.0.0.1** by default (Flagger: all interfaces); use `--host 0.0.0.0` in a pod.
- **Stricter payloads.** `name` and `namespace` are required (Flagger would gate on the key
  `.`); gate keys are (name, namespace) pairs, so canary `rollback.x` cannot collide with
  the rollback gate of `x`; unknown gates are not stored when checked.
- **Unknown task types get 400** `unknown task type <t>` (Flagger's handler panics and drops
  the connection). `concord` and `ngrinder` are not implemented (400).
- **Only `/` runs tasks**, and only for POST; Flagger treats every unknown path and method as
  the task endpoint. There is no `/metrics`.
- Synchronous-task output is always logged, background output only with `logCmdOutput`
  (as in Flagger); exit status of background tasks is only logged, never reported.
"""

from ensign.loadtester.gates import GateKind, GateStore
from ensign.loadtester.runner import CommandResult, CommandRunner
from ensign.loadtester.server import LoadTesterConfig, LoadTesterServer, create_app, serve
from ensign.loadtester.tasks import Payload, Policy, RequestError, Task, TaskType

__all__ = [
    "CommandResult",
    "CommandRunner",
    "GateKind",
    "GateStore",
    "LoadTesterConfig",
    "LoadTesterServer",
    "Payload",
    "Policy",
    "RequestError",
    "Task",
    "TaskType",
    "create_app",
    "serve",
]
