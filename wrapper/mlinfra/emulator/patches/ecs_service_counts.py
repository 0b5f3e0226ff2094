"""ECS service task counts come from what really runs (the local runtime), not from moto.

Real AWS: ``runningCount``/``pendingCount`` count the tasks the ECS agents run; UpdateService
with a new task definition (or ``forceNewDeployment``) starts a new PRIMARY deployment
(``rolloutState`` IN_PROGRESS) and turns the previous one ACTIVE; once the new deployment's
tasks all run and the old ones are stopped, the old deployments disappear and the primary's
rollout is COMPLETED.
moto 5.2.5: runs nothing; CreateService sets ``runningCount`` from ``MOTO_ECS_SERVICE_RUNNING``,
UpdateService pretends every desired task runs at once and keeps a single deployment.
Fix: UpdateService keeps the reported counts and opens a deployment as ECS does; the counts
change only through :func:`report_counts` (the emulator's control route, called by the local
runtime with the tasks it runs for the service's current task definition).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from unittest import mock

from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend, Service
from moto.moto_api._internal import mock_random


def _deployment(service: Service) -> dict[str, Any]:
    now = utcnow()
    deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
    return {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": service.task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "launchType": service.launch_type,
        "createdAt": now,
        "updatedAt": now,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
    }


def _refresh_rollout(service: Service) -> None:
    """Mirror the counts on the primary deployment; complete it once the roll is done."""
    if not service.deployments:
        return
    primary = service.deployments[0]
    primary.update(
        desiredCount=service.desired_count,
        runningCount=service.running_count,
        pendingCount=service.pending_count,
        updatedAt=utcnow(),
    )
    done = service.running_count == service.desired_count and service.pending_count == 0
    if done:
        del service.deployments[1:]
    primary["rolloutState"] = "COMPLETED" if done else "IN_PROGRESS"
    primary["rolloutStateReason"] = (
        f"ECS deployment {primary['id']} {'completed' if done else 'in progress'}."
    )


def report_counts(
    backend: EC2ContainerServiceBackend, cluster: str, service_name: str, running: int, pending: int
) -> Service:
    """Record how many tasks of ``service_name`` run and start (raises moto's not-found errors)."""
    service = backend._get_service(cluster, service_name)
    service.running_count = running
    service.pending_count = pending
    _refresh_rollout(service)
    return service


_original_update = EC2ContainerServiceBackend.update_service


def _update_service_keeping_counts(
    self: EC2ContainerServiceBackend, service_properties: dict[str, Any]
) -> Service:
    properties = dict(service_properties)
    service = self._get_service(
        properties.get("cluster", "default"), properties["service"].split("/")[-1]
    )
    running, pending, task_definition = (
        service.running_count,
        service.pending_count,
        service.task_definition,
    )
    forced = bool(properties.get("force_new_deployment"))
    updated = _original_update(self, service_properties)
    updated.running_count, updated.pending_count = running, pending
    if updated.deployments and (forced or updated.task_definition != task_definition):
        # A new deployment stays IN_PROGRESS until the runtime reports its tasks running.
        for older in updated.deployments:
            older["status"] = "ACTIVE"
        updated.deployments.insert(0, _deployment(updated))
    else:
        _refresh_rollout(updated)
    return updated


def apply(stack: ExitStack) -> None:
    stack.enter_context(
        mock.patch.object(
            EC2ContainerServiceBackend, "update_service", _update_service_keeping_counts
        )
    )
