"""A deploy whose new tasks never become healthy is reported as a failed rollout at once,
not as a timeout and not as success after ECS's circuit breaker rolled the service back.

The emulator runs no tasks, so the circuit breaker's verdict is written into its ECS state the
way ECS reports it (the new deployment's ``rolloutState`` FAILED with its reason, the old one
still serving); everything else is the real emulator over HTTP and the real boto3 client.
In the local environment the local runtime refuses the unhealthy revision itself and the old
task keeps serving: tests/integration/local_runtime/test_local_runtime_converge.py::
test_a_revision_that_never_becomes_healthy_leaves_the_old_task_serving.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from mlinfra import emulator as emu
from mlinfra.deploy import wait_for_rollout
from mlinfra.emulator.patches import ecs_service_counts
from mlinfra.emulator.testing import in_process
from mlinfra.errors import DeployError

pytestmark = pytest.mark.integration

CLUSTER, SERVICE = "rollout", "api"
REASON = "ECS deployment circuit breaker: tasks failed to start."


@pytest.fixture()
def endpoint() -> Iterator[str]:
    with in_process(ecs_service_counts) as url:
        yield url


def _revision(ecs: Any, image: str) -> str:
    arn: str = ecs.register_task_definition(
        family=SERVICE,
        networkMode="bridge",
        containerDefinitions=[{"name": SERVICE, "image": image, "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]
    return arn


@pytest.fixture()
def serving(endpoint: str) -> tuple[Any, str]:
    """A service whose first revision runs its one task (rollout COMPLETED)."""
    ecs = emu.boto3_session(endpoint).client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    first = _revision(ecs, "api:good")
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=first, desiredCount=1)
    emu.set_service_counts(endpoint, CLUSTER, SERVICE, running=1, pending=0)
    wait_for_rollout(ecs, CLUSTER, SERVICE, "local", timeout_s=10, poll_s=0.2)
    return ecs, first


def test_a_healthy_new_revision_completes(endpoint: str, serving: tuple[Any, str]) -> None:
    ecs, _first = serving
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=_revision(ecs, "api:v2"))
    emu.set_service_counts(endpoint, CLUSTER, SERVICE, running=1, pending=0)
    wait_for_rollout(ecs, CLUSTER, SERVICE, "local", timeout_s=10, poll_s=0.2)


def test_a_tripped_circuit_breaker_is_a_deploy_error_at_once(serving: tuple[Any, str]) -> None:
    ecs, first = serving
    bad = _revision(ecs, "api:never-healthy")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=bad)
    # What ECS reports when the breaker trips: the new deployment FAILED, the old one serving.
    service = ecs_backends[DEFAULT_ACCOUNT_ID][emu.REGION]._get_service(CLUSTER, SERVICE)
    new, old = service.deployments[0], service.deployments[1]
    assert (new["taskDefinition"], old["taskDefinition"]) == (bad, first)
    new.update(rolloutState="FAILED", rolloutStateReason=REASON)

    started = time.monotonic()
    with pytest.raises(DeployError) as failed:
        wait_for_rollout(ecs, CLUSTER, SERVICE, "local", timeout_s=60, poll_s=0.2)

    assert time.monotonic() - started < 5, "the failure waited for the timeout"
    assert f"The rollout of {bad} failed: {REASON}" in failed.value.message
    assert "rolls the service back" in (failed.value.hint or "")
    assert "mlinfra logs --env local" in (failed.value.hint or "")
