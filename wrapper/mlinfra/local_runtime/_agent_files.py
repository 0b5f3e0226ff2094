"""The local runtime's files of one environment: ``<state>/local-runtime/<env>/``.

- ``agent.pid``, ``agent.json`` (its arguments), ``agent.log``: the agent that replaces failed
  tasks (:mod:`mlinfra.local_runtime._agent`);
- ``lock``: held by ``converge`` for a whole run and by the agent for each repair, so the agent
  never takes a deploy's own stops for failures;
- ``revisions.json``: the revision the service last reached steady state on, and the one before
  (what the circuit breaker rolls back to).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlinfra import config

AGENT_MODULE = "mlinfra.local_runtime"  # run with -m: its __main__ runs the agent


def runtime_dir(env: str) -> Path:
    path = config.state_dir() / "local-runtime" / env
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def env_lock(env: str) -> Iterator[None]:
    """The environment's runtime lock (a blocking ``flock``), released on exit."""
    with (runtime_dir(env) / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_agent(pid: int, env: str) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return AGENT_MODULE.encode() in args and env.encode() in args


def agent_pid(env: str) -> int | None:
    """The PID of ``env``'s agent when it runs (not a process that reused the PID)."""
    path = config.state_dir() / "local-runtime" / env / "agent.pid"
    try:
        pid = int(path.read_text())
    except (OSError, ValueError):
        return None
    return pid if _is_agent(pid, env) else None


def agent_arguments(env: str) -> dict[str, Any]:
    try:
        value = json.loads((runtime_dir(env) / "agent.json").read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_agent(env: str, pid: int, arguments: dict[str, Any]) -> None:
    folder = runtime_dir(env)
    (folder / "agent.json").write_text(json.dumps(arguments, sort_keys=True))
    (folder / "agent.pid").write_text(str(pid))


def read_revisions(env: str) -> dict[str, str]:
    """``{"current": "family:rev", "previous": "family:rev"}`` (either may be missing)."""
    try:
        value = json.loads((runtime_dir(env) / "revisions.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def record_steady(env: str, revision: str) -> None:
    """``revision`` reached steady state; the one steady before it becomes ``previous``."""
    known = read_revisions(env)
    if known.get("current") == revision:
        return
    value = {"current": revision, **({"previous": known["current"]} if "current" in known else {})}
    path = runtime_dir(env) / "revisions.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)


def record_rollback(env: str, revision: str) -> None:
    """The breaker rolled back to ``revision``: it is current, and nothing is before it."""
    path = runtime_dir(env) / "revisions.json"
    path.write_text(json.dumps({"current": revision}))
