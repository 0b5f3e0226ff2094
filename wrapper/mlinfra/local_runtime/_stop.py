"""Tear down the local runtime of an environment: its tasks and its proxy."""

from __future__ import annotations

from docker import DockerClient

from mlinfra import docker_engine
from mlinfra.local_runtime._agent import stop_agents
from mlinfra.local_runtime._tasks import list_tasks, stop_tasks
from mlinfra.proxy import LocalProxy


def stop_all(env: str, *, client: DockerClient | None = None) -> int:
    """Stop ``env``'s agents, then remove every task container of ``env`` and its proxy; the
    number of containers removed.

    Targets are not deregistered: ``mlinfra destroy`` removes the target group right after.
    """
    client = client or docker_engine.client()
    # First the agents, or they would replace the tasks stopped here.
    stop_agents(env)
    tasks = list_tasks(client, env)
    stop_tasks(tasks)
    return len(tasks) + LocalProxy(env, client=client).stop()


def stop_services_but(env: str, keep: set[str], *, client: DockerClient | None = None) -> int:
    """Stop the agents and remove the task containers of ``env``'s services not in ``keep`` (a
    canary whose ECS service the apply deleted); the number of containers removed.

    The proxy no longer forwards to them: the listener that named their target group does not.
    """
    client = client or docker_engine.client()
    stop_agents(env, keep)
    tasks = [t for t in list_tasks(client, env) if t.service not in keep]
    stop_tasks(tasks)
    return len(tasks)
