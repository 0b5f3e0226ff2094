"""Tear down the local runtime of an environment: its tasks and its proxy."""

from __future__ import annotations

from docker import DockerClient

from mlinfra import docker_engine
from mlinfra.local_runtime._tasks import list_tasks, stop_tasks
from mlinfra.proxy import LocalProxy


def stop_all(env: str, *, client: DockerClient | None = None) -> int:
    """Stop and remove every task container of ``env`` and its proxy; the number removed.

    Targets are not deregistered: ``mlinfra destroy`` removes the target group right after.
    """
    client = client or docker_engine.client()
    tasks = list_tasks(client, env)
    stop_tasks(tasks)
    return len(tasks) + LocalProxy(env, client=client).stop()
