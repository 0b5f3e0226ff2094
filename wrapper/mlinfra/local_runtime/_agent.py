"""The environment's agent: the ECS service scheduler's and the ALB's watch between deploys.

``converge`` starts it (or reuses the one running with the same arguments), ``stop_all`` stops
it; one process per ECS service of the environment (the stable one, and a canary's), its PID in
``<state>/local-runtime/<env>/services/<service>/agent.pid``. It
follows Docker's events for the environment's tasks and, every target-group interval, checks
each target as the ALB does (path, timeout, matcher, unhealthy threshold). Then, as ECS does:

- a task that exits (an OOM kill included) or turns unhealthy (its container health check, or
  the target group's after the service's grace period) is taken out of the proxy, deregistered,
  stopped and kept to show its ``stoppedReason``, and a task of the same revision replaces it;
- every task's output goes to the emulated CloudWatch Logs, as the awslogs driver sends it
  (``_logs``);
- failed tasks of the current revision count toward the deployment circuit breaker, whose
  threshold is ECS's ``min(max(ceil(0.5 * desired), 3), 200)``; when the service enables it
  with rollback, the service goes back to the revision that was steady before (UpdateService in
  the emulator) and its tasks replace the failing ones.

Run as ``python -m mlinfra.local_runtime --env E --endpoint URL --cluster C --service S``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from docker import DockerClient
from docker.errors import APIError, NotFound

from mlinfra import config, docker_engine
from mlinfra.errors import DeployError, MlinfraError
from mlinfra.local_runtime._agent_files import (
    AGENT_MODULE,
    agent_arguments,
    agent_pid,
    agent_pid_file,
    agent_pids,
    env_lock,
    read_revisions,
    record_rollback,
    service_dir,
    write_agent,
)
from mlinfra.local_runtime._aws import EmulatedAws, ServiceView
from mlinfra.local_runtime._converge import _Converger, _targets, _upstreams, route
from mlinfra.local_runtime._logs import LogShipper, docker_time
from mlinfra.local_runtime._spec import LABEL_ENV, LABEL_ROLE
from mlinfra.local_runtime._tasks import (
    LABEL_STOP_TIMEOUT,
    ROLE_TASK,
    LocalTask,
    list_tasks,
    stop_tasks,
    task_id,
)
from mlinfra.proxy import LocalProxy

AUTH_ENV = "MLINFRA_AGENT_AUTH"
# A full look every so often, in case an event was missed.
RESYNC_S = 10.0
# Stopped tasks kept (newest first) to show why they stopped; older ones are removed.
KEEP_STOPPED = 5
# The agent gives up when the emulator stays unreachable this long (it was stopped).
EMULATOR_GONE_S = 60.0
STOP_WAIT_S = 10.0
BACKOFF_MAX_S = 300.0


def failed_task_threshold(desired: int) -> int:
    """ECS's deployment circuit breaker threshold for a service of ``desired`` tasks."""
    return min(max(math.ceil(0.5 * desired), 3), 200)


def _say(line: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}", flush=True)


def _check(address: str, path: str, timeout_s: float) -> int:
    """The HTTP status of GET ``path`` on ``address`` (0 when it does not answer)."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


@dataclass
class Agent:
    endpoint: str
    env: str
    cluster: str
    service: str
    auth_config: dict[str, str] | None
    client: DockerClient = field(default_factory=docker_engine.client)
    failures: Counter[str] = field(default_factory=Counter)
    handled: set[str] = field(default_factory=set)
    elb_failures: Counter[str] = field(default_factory=Counter)
    next_check: float = 0.0
    # ECS throttles the launches of a service whose tasks keep failing to start.
    next_start: float = 0.0
    failed_replacements: int = 0

    def __post_init__(self) -> None:
        self.aws = EmulatedAws(self.endpoint)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.shipper = LogShipper(self.aws.logs, _say)

    # -- events -----------------------------------------------------------------------------

    def _follow_events(self) -> None:
        filters = {
            "type": "container",
            "label": [f"{LABEL_ENV}={self.env}", f"{LABEL_ROLE}={ROLE_TASK}"],
        }
        while True:
            try:
                for event in self.client.events(decode=True, filters=filters):
                    action = str(event.get("Action", ""))
                    if action in ("die", "oom") or action == "health_status: unhealthy":
                        self.events.put(event)
            except (APIError, OSError) as err:
                _say(f"docker events: {err}; following again")
                time.sleep(1)

    # -- the ALB's health checks --------------------------------------------------------------

    def _check_targets(self, view: ServiceView, tasks: list[LocalTask]) -> bool:
        """One round of the target group's checks; True when a target turned unhealthy."""
        group = view.target_group
        check = group.health_check if group else None
        if check is None:
            self.next_check = time.monotonic() + RESYNC_S
            return False
        self.next_check = time.monotonic() + check.interval_s
        turned = False
        for task in tasks:
            if not task.serving or task.host_port is None or self._in_grace(task, view):
                continue
            # NOTE: on the published port, as the ALB checks instance:port; the bridge address
            # is not reachable from the host with a VM-backed engine (Docker Desktop).
            address = f"127.0.0.1:{task.host_port}"
            if check.passes(_check(address, check.path, check.timeout_s)):
                self.elb_failures.pop(task_id(task), None)
                continue
            self.elb_failures[task_id(task)] += 1
            if self.elb_failures[task_id(task)] == check.unhealthy_threshold:
                _say(f"{task.name} failed {check.unhealthy_threshold} checks of {check.path}")
                turned = True
        return turned

    def _in_grace(self, task: LocalTask, view: ServiceView) -> bool:
        started = task.container.attrs.get("State", {}).get("StartedAt", "")
        try:
            since = time.time() - docker_time(started)
        except ValueError:
            return False
        return since < view.health_check_grace_period_s

    # -- the scheduler ------------------------------------------------------------------------

    def repair(self) -> None:
        with env_lock(self.env):
            revisions = read_revisions(self.env, self.service)
            view = self.aws.read_service(self.cluster, self.service, revisions.get("current"))
            tasks = list_tasks(self.client, self.env, view.cluster, view.service)
            for task in tasks:
                self.shipper.follow(task.container)
            if time.monotonic() >= self.next_check:
                self._check_targets(view, tasks)
            self._retire_failed(view, tasks)
            if self._breaker_tripped(view):
                previous = revisions.get("previous")
                if view.circuit_breaker.rollback and previous:
                    self._roll_back(view, previous)
                    return
            self._replace(view)
            self._prune_stopped(view)

    def _retire_failed(self, view: ServiceView, tasks: list[LocalTask]) -> None:
        group = view.target_group
        threshold = group.health_check.unhealthy_threshold if group and group.health_check else 0
        elb_failed = [
            t
            for t in tasks
            if t.serving and threshold and self.elb_failures[task_id(t)] >= threshold
        ]
        failed = [t for t in tasks if t.failed and task_id(t) not in self.handled]
        failed += elb_failed
        if not failed:
            return
        keep = [t for t in tasks if t.serving and t not in elb_failed]
        # As the ALB: a failed target takes no new request, then it is deregistered.
        route(LocalProxy(self.env, client=self.client), view, _upstreams(keep))
        if group is not None:
            self.aws.deregister_targets(group, _targets(failed, view))
        for task in failed:
            reason = (
                f"Task failed ELB health checks in (target-group {group.arn})"
                if task in elb_failed and group
                else task.stopped_reason
            )
            _say(f"{task.name} of {task.family_revision} stopped: {reason}")
            self.handled.add(task_id(task))
            self.failures[task.family_revision] += 1
            if task.state == "running":
                timeout = int(task.container.labels.get(LABEL_STOP_TIMEOUT) or 30)
                with contextlib.suppress(NotFound):
                    task.container.stop(timeout=timeout)
        if group is not None:
            # The emulator keys targets by instance id alone: put back the ones kept.
            self.aws.register_targets(group, _targets(keep, view))

    def _breaker_tripped(self, view: ServiceView) -> bool:
        revision = view.task.family_revision
        threshold = failed_task_threshold(view.desired_count)
        if not view.circuit_breaker.enable or self.failures[revision] < threshold:
            return False
        _say(
            f"circuit breaker: {self.failures[revision]} failed task(s) of {revision} "
            f"(threshold {threshold})"
        )
        return True

    def _converger(self, view: ServiceView) -> _Converger:
        proxy = LocalProxy(self.env, client=self.client)
        return _Converger(self.aws, view, self.client, proxy, self.env, _say, keep_stopped=True)

    def _replace(self, view: ServiceView) -> None:
        if time.monotonic() < self.next_start:
            return
        converger = self._converger(view)
        try:
            converger.run(self.auth_config)
            self.failed_replacements = 0
        except DeployError as err:
            self.failures[view.task.family_revision] += max(converger.failed_starts, 1)
            self.failed_replacements += 1
            backoff = min(5.0 * 2 ** (self.failed_replacements - 1), BACKOFF_MAX_S)
            self.next_start = time.monotonic() + backoff
            _say(f"replacement failed (next try in {backoff:.0f} s): {err.message}")

    def _roll_back(self, view: ServiceView, previous: str) -> None:
        failing = view.task.family_revision
        _say(f"rolling back from {failing} to {previous}")
        self.aws.ecs.update_service(
            cluster=view.cluster, service=view.service, taskDefinition=previous
        )
        back = self.aws.read_service(view.cluster, view.service, previous)
        self._converger(back).run(self.auth_config)
        record_rollback(self.env, view.service, previous)
        self.failures.pop(failing, None)

    def _prune_stopped(self, view: ServiceView) -> None:
        stopped = [
            t for t in list_tasks(self.client, self.env, view.cluster, view.service) if t.stopped
        ]
        stop_tasks(stopped[:-KEEP_STOPPED] if len(stopped) > KEEP_STOPPED else [])

    def run(self) -> None:
        threading.Thread(target=self._follow_events, daemon=True).start()
        _say(f"agent of {self.env} ({self.cluster}/{self.service} at {self.endpoint}) started")
        unreachable_since: float | None = None
        next_resync = 0.0
        while True:
            try:
                self.events.get(timeout=0.5)
                wake = True
            except queue.Empty:
                wake = False
            now = time.monotonic()
            if not (wake or now >= self.next_check or now >= next_resync):
                continue
            while not self.events.empty():
                self.events.get_nowait()
            next_resync = now + RESYNC_S
            try:
                self.repair()
                unreachable_since = None
            except DeployError as err:
                _say(f"the service is gone ({err.message}); the agent stops")
                return
            except MlinfraError as err:
                unreachable_since = unreachable_since or now
                _say(f"repair failed: {err.message}")
                if now - unreachable_since > EMULATOR_GONE_S:
                    _say("the emulator stayed unreachable; the agent stops")
                    return


def _arguments(
    endpoint: str, cluster: str, service: str, auth_config: dict[str, str] | None
) -> dict[str, Any]:
    auth = hashlib.sha256(json.dumps(auth_config, sort_keys=True).encode()).hexdigest()[:16]
    return {"endpoint": endpoint, "cluster": cluster, "service": service, "auth": auth}


def ensure_agent(
    endpoint: str, *, env: str, cluster: str, service: str, auth_config: dict[str, str] | None
) -> int:
    """The PID of ``env``'s agent: the running one when its arguments match, else a new one."""
    arguments = _arguments(endpoint, cluster, service, auth_config)
    pid = agent_pid(env, service)
    if pid is not None and agent_arguments(env, service) == arguments:
        return pid
    stop_agent(env, service)
    stop_agent(env, "")  # one started before agents were kept per service
    folder = service_dir(env, service)
    log = (folder / "agent.log").open("ab")
    command = [sys.executable, "-m", AGENT_MODULE, "--env", env, "--endpoint", endpoint]
    command += ["--cluster", cluster, "--service", service]
    child_env = {
        **os.environ,
        config.STATE_DIR_ENV: str(config.state_dir()),
        # NOTE: the registry credentials go by the environment, never on the command line.
        AUTH_ENV: json.dumps(auth_config or {}),
    }
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=child_env,
        start_new_session=True,
    )
    write_agent(env, service, process.pid, arguments)
    return process.pid


def stop_agents(env: str, keep: set[str] | None = None) -> int:
    """Stop every agent of ``env`` but those of the services in ``keep``; how many stopped."""
    gone = [s for s in agent_pids(env) if keep is None or s not in keep]
    return sum(stop_agent(env, service) for service in gone)


def stop_agent(env: str, service: str) -> bool:
    """Stop the agent of ``env``'s ``service`` (SIGTERM, then SIGKILL); False when none ran.
    ``service`` "" stops one started before agents were kept per service."""
    pid = agent_pids(env).get(service)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline and agent_pids(env).get(service) == pid:
        # Reaps it when this process started it (a test, or converge in the same CLI run).
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if agent_pids(env).get(service) == pid:
        os.kill(pid, signal.SIGKILL)
    agent_pid_file(env, service).unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=AGENT_MODULE)
    for name in ("env", "endpoint", "cluster", "service"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    auth = json.loads(os.environ.pop(AUTH_ENV, "{}") or "{}") or None
    Agent(args.endpoint, args.env, args.cluster, args.service, auth).run()
    return 0
