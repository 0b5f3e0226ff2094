"""What runs locally, read from Docker alone (the containers' labels)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from docker import DockerClient

from mlinfra import docker_engine
from mlinfra.local_runtime._agent_files import agent_pids
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
    # Where the proxy reaches the task (its container's bridge address); None when stopped.
    address: str | None = None
    # ECS's stoppedReason ("OutOfMemoryError: Container killed due to memory usage", ...).
    stopped_reason: str | None = None

    @property
    def upstream(self) -> str:
        return self.address or f"127.0.0.1:{self.host_port}"

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
            address=task.address,
            stopped_reason=task.stopped_reason,
        )


@dataclass(frozen=True)
class RuntimeStatus:
    """The local runtime of one environment: its tasks and the proxy in front of them.

    ``url`` is the proxy's address (None when no proxy runs); ``targets`` are the
    ``host:port`` upstreams it forwards to. ``https_url`` and ``ca_file`` are set when the ALB
    has an HTTPS listener (``curl --cacert <ca_file> <https_url>``). ``stopped`` are tasks that
    stopped and are kept for their ``stopped_reason``, as ECS lists stopped tasks for a while;
    ``unhonoured`` names the task definition's (and target group's) fields the runtime does not
    apply; ``agent`` is the PID of the process replacing failed tasks (None when none runs).
    """

    env: str
    url: str | None
    tasks: tuple[TaskStatus, ...]
    targets: tuple[str, ...]
    https_url: str | None = None
    ca_file: str | None = None
    stopped: tuple[TaskStatus, ...] = ()
    unhonoured: tuple[str, ...] = ()
    agent: int | None = None

    @property
    def running(self) -> int:
        return sum(t.state == "running" and t.health in ("healthy", "none") for t in self.tasks)

    @property
    def pending(self) -> int:
        return sum(t.state == "running" and t.health == "starting" for t in self.tasks)

    @property
    def healthy(self) -> bool:
        """Tasks run, all of them healthy, and the proxy forwards to each."""
        upstreams = {t.upstream for t in self.tasks}
        return (
            bool(self.tasks) and self.running == len(self.tasks) and upstreams == set(self.targets)
        )

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
    proxy = LocalProxy.view_of(env, client=client)
    tasks = list_tasks(client, env)
    live = [t for t in tasks if not t.stopped]
    return RuntimeStatus(
        env=env,
        url=proxy.url if proxy else None,
        tasks=tuple(TaskStatus.of(t) for t in live),
        targets=tuple(str(u) for u in proxy.upstreams) if proxy else (),
        https_url=proxy.https_url if proxy else None,
        ca_file=proxy.ca_file if proxy else None,
        stopped=tuple(TaskStatus.of(t) for t in tasks if t.stopped),
        unhonoured=tuple(sorted({f for t in live for f in t.unhonoured})),
        agent=min(agent_pids(env).values(), default=None),
    )
