"""Tear down the local runtime of an environment: its tasks and its proxy."""

from __future__ import annotations

from docker import DockerClient

from mlinfra import docker_engine
from mlinfra.local_runtime._agent import stop_agent
from mlinfra.local_runtime._tasks import list_tasks, stop_tasks
from mlinfra.proxy import LocalProxy


def stop_all(env: str, *, client: DockerClient | None = None) -> int:
    """Stop ``env``'s agent, then remove every task container of ``env`` and its proxy; the
    number of containers removed.

    Targets are not deregistered: ``mlinfra destroy`` removes the target group right after.
    """
    client = client or docker_engine.client()
    # First the agent, or it would replace the tasks stopped here.
    stop_agent(env)
    tasks = list_tasks(client, env)
    stop_tasks(tasks)
    return len(tasks) + LocalProxy(env, client=client).stop()
