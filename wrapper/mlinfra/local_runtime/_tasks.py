"""Tasks as containers on the local Docker engine; their labels are the runtime's only state."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from docker import DockerClient
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.utils import parse_repository_tag

from mlinfra.errors import DockerError
from mlinfra.local_runtime._logs import log_labels
from mlinfra.local_runtime._spec import (
    ECS_DEFAULT_STOP_TIMEOUT_S,
    LABEL_CLUSTER,
    LABEL_ENV,
    LABEL_ROLE,
    LABEL_SERVICE,
    LABEL_TASK_DEFINITION,
    LABEL_UNHONOURED,
    TaskSpec,
)

LABEL_INSTANCE = "mlinfra.instance-id"
LABEL_CONTAINER_PORT = "mlinfra.container-port"
# docker-py's run() cannot set a container's StopTimeout, so the task's stopTimeout is a label.
LABEL_STOP_TIMEOUT = "mlinfra.stop-timeout"
ROLE_TASK = "task"
# A task without a health check counts as healthy once it runs, as on ECS; give it this long.
NO_HEALTH_CHECK_DEADLINE_S = 30.0
POLL_S = 0.5
# ECS's stoppedReason for the cases Docker reports (Amazon ECS developer guide, "Stopped tasks
# error codes").
REASON_OOM = "OutOfMemoryError: Container killed due to memory usage"
REASON_EXITED = "Essential container in task exited"
REASON_UNHEALTHY = "Task failed container health checks"


@dataclass(frozen=True)
class LocalTask:
    """One task's container as read back from Docker."""

    container: Container
    family_revision: str
    instance_id: str | None
    state: str  # Docker's: created, running, exited, ...
    health: str  # Docker's: starting, healthy, unhealthy; "none" without a health check
    host_port: int | None

    @property
    def name(self) -> str:
        return self.container.name or task_id(self)[:12]

    @property
    def service(self) -> str:
        """The ECS service the task belongs to (its container's label)."""
        return str(self.container.labels.get(LABEL_SERVICE, ""))

    @property
    def serving(self) -> bool:
        return self.state == "running" and self.health in ("healthy", "none")

    @property
    def failed(self) -> bool:
        # "created": a task whose start failed half-way; it never runs, ECS would replace it.
        return self.state in ("created", "exited", "dead", "removed") or self.health == "unhealthy"

    @property
    def stopped(self) -> bool:
        """Exited or dead: kept only to show why (ECS lists stopped tasks for a while)."""
        return self.state in ("exited", "dead")

    @property
    def stopped_reason(self) -> str | None:
        """Why the task stopped (or must), in ECS's words; None while it runs healthy."""
        state = self.container.attrs.get("State", {})
        if state.get("OOMKilled"):
            return REASON_OOM
        if self.state in ("exited", "dead"):
            return f"{REASON_EXITED} (exit code {state.get('ExitCode')})"
        if self.health == "unhealthy":
            return REASON_UNHEALTHY
        return None

    @property
    def address(self) -> str | None:
        """``ip:port`` of the targeted container port on Docker's bridge: reached from the host
        by the kernel's routing alone, with no docker-proxy copying in between."""
        port = self.container.labels.get(LABEL_CONTAINER_PORT)
        ip = self.container.attrs.get("NetworkSettings", {}).get("IPAddress")
        if not ip:
            networks = self.container.attrs.get("NetworkSettings", {}).get("Networks") or {}
            ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
        return f"{ip}:{port}" if ip and port and self.state == "running" else None

    @property
    def unhonoured(self) -> tuple[str, ...]:
        value = self.container.labels.get(LABEL_UNHONOURED, "")
        return tuple(v for v in value.split(",") if v)


def task_id(task: LocalTask) -> str:
    """The task's container id (Docker always reports one for a container it listed)."""
    return task.container.id or ""


def _host_port(container: Container) -> int | None:
    port = container.labels.get(LABEL_CONTAINER_PORT)
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp")
    return int(bindings[0]["HostPort"]) if port and bindings else None


def read_task(container: Container) -> LocalTask:
    state = container.attrs.get("State", {})
    return LocalTask(
        container=container,
        family_revision=container.labels.get(LABEL_TASK_DEFINITION, ""),
        instance_id=container.labels.get(LABEL_INSTANCE) or None,
        state=state.get("Status", "unknown"),
        health=(state.get("Health") or {}).get("Status", "none"),
        host_port=_host_port(container),
    )


def list_tasks(
    client: DockerClient, env: str, cluster: str | None = None, service: str | None = None
) -> list[LocalTask]:
    """Every task container of ``env`` (optionally of one cluster and service), oldest first."""
    labels = [f"{LABEL_ENV}={env}", f"{LABEL_ROLE}={ROLE_TASK}"]
    labels += [f"{LABEL_CLUSTER}={cluster}"] if cluster else []
    labels += [f"{LABEL_SERVICE}={service}"] if service else []
    # A task the agent removes between Docker's list and its inspect is gone, not an error.
    containers = client.containers.list(all=True, filters={"label": labels}, ignore_removed=True)
    tasks = [read_task(c) for c in containers]
    return sorted(tasks, key=lambda t: t.container.attrs.get("Created", ""))


def ensure_image(client: DockerClient, image: str, auth_config: dict[str, str] | None) -> None:
    """Pull ``image``, falling back to a local copy when the pull fails (the ECS agent's default
    ``ECS_IMAGE_PULL_BEHAVIOR``), so a new push under the same tag is picked up."""
    repository, tag = parse_repository_tag(image)
    try:
        client.images.pull(repository, tag=tag or "latest", auth_config=auth_config)
        return
    except APIError as err:
        pull_error = err
    try:
        client.images.get(image)
    except ImageNotFound as err:
        raise DockerError(
            f"Image {image} could not be pulled ({pull_error.explanation}) and is not on this engine.",
            "Push it first (mlinfra push --env local), and log in to the registry if it needs auth.",
        ) from err


def start_task(
    client: DockerClient,
    spec: TaskSpec,
    *,
    env: str,
    cluster: str,
    service: str,
    instance_id: str | None,
) -> LocalTask:
    """Run one task of ``spec``; Docker publishes its ports on 127.0.0.1."""
    revision = spec.family_revision.replace(":", "-")
    name = f"mlinfra-{env}-{service}-{revision}-{secrets.token_hex(3)}"
    labels = {
        LABEL_ENV: env,
        LABEL_ROLE: ROLE_TASK,
        LABEL_CLUSTER: cluster,
        LABEL_SERVICE: service,
        LABEL_TASK_DEFINITION: spec.family_revision,
        LABEL_INSTANCE: instance_id or "",
        LABEL_CONTAINER_PORT: str(spec.container_port or ""),
        LABEL_STOP_TIMEOUT: str(spec.stop_timeout_s),
        LABEL_UNHONOURED: ",".join(spec.unhonoured),
    }
    if spec.logs is not None:
        labels |= log_labels(spec.logs, spec.container_name)
    try:
        container = client.containers.run(**spec.run_kwargs(name=name, labels=labels))
    except APIError as err:
        raise DockerError(
            f"Docker could not start task {name} of {spec.family_revision} from {spec.image}: "
            f"{err.explanation}",
            "A fixed hostPort can be taken by the task being replaced; use hostPort 0.",
        ) from err
    container.reload()
    return read_task(container)


def _refresh(task: LocalTask) -> LocalTask:
    try:
        task.container.reload()
    except NotFound:
        return LocalTask(
            task.container, task.family_revision, task.instance_id, "removed", "none", None
        )
    return read_task(task.container)


def refreshed(tasks: Sequence[LocalTask]) -> list[LocalTask]:
    """The tasks as Docker reports them now."""
    return [_refresh(t) for t in tasks]


def wait_settled(tasks: Sequence[LocalTask], timeout_s: float) -> list[LocalTask]:
    """Poll until every task is serving or failed, or ``timeout_s`` passed; the last reading."""
    deadline = time.monotonic() + timeout_s
    current = refreshed(tasks)
    while time.monotonic() < deadline and not all(t.serving or t.failed for t in current):
        time.sleep(POLL_S)
        current = refreshed(current)
    return current


def why_not_healthy(task: LocalTask) -> str:
    """The last health-check output, or the exit code and the last log lines."""
    state = task.container.attrs.get("State", {})
    log = (state.get("Health") or {}).get("Log") or []
    if task.state == "running" and log:
        return f"health {task.health}, last check: {log[-1].get('Output', '').strip()[:300]!r}"
    try:
        tail = task.container.logs(tail=5).decode(errors="replace").strip()
    except APIError:
        tail = ""
    return f"state {task.state} (exit code {state.get('ExitCode')}), last logs: {tail[-300:]!r}"


def stop_tasks(tasks: Sequence[LocalTask]) -> None:
    """Stop (the image's STOPSIGNAL, then SIGKILL after the task's stop timeout) and remove."""

    def stop(task: LocalTask) -> None:
        timeout = int(task.container.labels.get(LABEL_STOP_TIMEOUT) or ECS_DEFAULT_STOP_TIMEOUT_S)
        try:
            task.container.stop(timeout=timeout)
            task.container.remove(force=True)
        except NotFound:
            pass

    with ThreadPoolExecutor(max_workers=max(len(tasks), 1)) as pool:
        list(pool.map(stop, tasks))
