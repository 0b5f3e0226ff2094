"""The local environment's ECS agent: runs an emulated ECS service's tasks on local Docker.

Public interface::

    converge(endpoint, env=, cluster=, service=, auth_config=None, proxy_port=None) -> RuntimeStatus
    status(env) -> RuntimeStatus
    stop_all(env) -> int
    stop_services_but(env, keep) -> int

The containers' labels (env, cluster, service, task-definition family:revision) are the only
state, so any command (or a second machine's CLI on the same engine) sees the same picture.
"""

from mlinfra.local_runtime._converge import converge
from mlinfra.local_runtime._spec import HealthCheck, TaskSpec, task_spec
from mlinfra.local_runtime._status import RuntimeStatus, TaskStatus, status
from mlinfra.local_runtime._stop import stop_all, stop_services_but

__all__ = [
    "HealthCheck",
    "RuntimeStatus",
    "TaskSpec",
    "TaskStatus",
    "converge",
    "status",
    "stop_all",
    "stop_services_but",
    "task_spec",
]
