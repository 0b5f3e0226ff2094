"""The local runtime's files of one environment: ``<state>/local-runtime/<env>/``.

- ``lock``: held by ``converge`` for a whole run and by an agent for each repair, so an agent
  never takes a deploy's own stops for failures;
- ``services/<service>/``, one folder per ECS service of the environment (the stable one, and a
  canary beside it): ``agent.pid``, ``agent.json`` (its arguments), ``agent.log`` of the agent
  that replaces the service's failed tasks (:mod:`mlinfra.local_runtime._agent`), and
  ``revisions.json``: the revision the service last reached steady state on, and the one before
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


def service_dir(env: str, service: str) -> Path:
    path = runtime_dir(env) / "services" / service
    path.mkdir(parents=True, exist_ok=True)
    return path


def _is_agent(pid: int, env: str, service: str | None) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    ours = AGENT_MODULE.encode() in args and env.encode() in args
    return ours and (service is None or service.encode() in args)


def _pid_in(path: Path, env: str, service: str | None) -> int | None:
    try:
        pid = int(path.read_text())
    except (OSError, ValueError):
        return None
    return pid if _is_agent(pid, env, service) else None


def agent_pid(env: str, service: str) -> int | None:
    """The PID of the agent of ``env``'s ``service`` when it runs (not a process that reused
    the PID)."""
    return _pid_in(service_dir(env, service) / "agent.pid", env, service)


def agent_pids(env: str) -> dict[str, int]:
    """Every running agent of ``env`` by service (``""``: one started before agents were kept
    per service, in ``<env>/agent.pid``)."""
    found = {}
    for folder in sorted((runtime_dir(env) / "services").glob("*/")):
        pid = _pid_in(folder / "agent.pid", env, folder.name)
        if pid is not None:
            found[folder.name] = pid
    legacy = _pid_in(runtime_dir(env) / "agent.pid", env, None)
    if legacy is not None:
        found[""] = legacy
    return found


def agent_pid_file(env: str, service: str) -> Path:
    return (runtime_dir(env) if not service else service_dir(env, service)) / "agent.pid"


def agent_arguments(env: str, service: str) -> dict[str, Any]:
    try:
        value = json.loads((service_dir(env, service) / "agent.json").read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_agent(env: str, service: str, pid: int, arguments: dict[str, Any]) -> None:
    folder = service_dir(env, service)
    (folder / "agent.json").write_text(json.dumps(arguments, sort_keys=True))
    (folder / "agent.pid").write_text(str(pid))


def read_revisions(env: str, service: str) -> dict[str, str]:
    """``{"current": "family:rev", "previous": "family:rev"}`` (either may be missing)."""
    try:
        value = json.loads((service_dir(env, service) / "revisions.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def record_steady(env: str, service: str, revision: str) -> None:
    """``revision`` reached steady state; the one steady before it becomes ``previous``."""
    known = read_revisions(env, service)
    if known.get("current") == revision:
        return
    value = {"current": revision, **({"previous": known["current"]} if "current" in known else {})}
    path = service_dir(env, service) / "revisions.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)


def record_rollback(env: str, service: str, revision: str) -> None:
    """The breaker rolled back to ``revision``: it is current, and nothing is before it."""
    path = service_dir(env, service) / "revisions.json"
    path.write_text(json.dumps({"current": revision}))
