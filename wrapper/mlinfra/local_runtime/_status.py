"""What runs locally, read from Docker alone (the containers' labels)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from docker import DockerClient

from mlinfra import docker_engine
from mlinfra.local_runtime._spec import LABEL_CLUSTER, LABEL_SERVICE
from mlinfra.local_runtime._tasks import LocalTask, list_tasks
from mlinfra.proxy import LocalProxy


@dataclass(frozen=True)
class TaskStatus:
    container: str
    task_definition: str
    cluster: str
    service: str
    state: str
    health: str
    host_port: int | None
    instance_id: str | None

    @classmethod
    def of(cls, task: LocalTask) -> TaskStatus:
        return cls(
            container=task.name,
            task_definition=task.family_revision,
            cluster=task.container.labels.get(LABEL_CLUSTER, ""),
            service=task.container.labels.get(LABEL_SERVICE, ""),
            state=task.state,
            health=task.health,
            host_port=task.host_port,
            instance_id=task.instance_id,
        )


@dataclass(frozen=True)
class RuntimeStatus:
    """The local runtime of one environment: its tasks and the proxy in front of them.

    ``url`` is the proxy's address (None when no proxy runs); ``targets`` are the
    ``host:port`` upstreams it forwards to.
    """

    env: str
    url: str | None
    tasks: tuple[TaskStatus, ...]
    targets: tuple[str, ...]

    @property
    def running(self) -> int:
        return sum(t.state == "running" and t.health in ("healthy", "none") for t in self.tasks)

    @property
    def pending(self) -> int:
        return sum(t.state == "running" and t.health == "starting" for t in self.tasks)

    @property
    def healthy(self) -> bool:
        """Tasks run, all of them healthy, and the proxy forwards to each."""
        ports = {f"127.0.0.1:{t.host_port}" for t in self.tasks}
        return bool(self.tasks) and self.running == len(self.tasks) and ports == set(self.targets)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            **asdict(self),
            "running": self.running,
            "pending": self.pending,
            "healthy": self.healthy,
        }


def status(env: str, *, client: DockerClient | None = None) -> RuntimeStatus:
    """The tasks and the proxy of ``env`` as Docker reports them now."""
    client = client or docker_engine.client()
    proxy_url, targets = LocalProxy.running_in(env, client=client)
    return RuntimeStatus(
        env=env,
        url=proxy_url,
        tasks=tuple(TaskStatus.of(t) for t in list_tasks(client, env)),
        targets=tuple(str(u) for u in targets),
    )
