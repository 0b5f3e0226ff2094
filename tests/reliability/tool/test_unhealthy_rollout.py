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

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from mlinfra import emulator as emu
from mlinfra.emulator.patches import ecs_service_counts
from mlinfra.emulator.testing import in_process
from mlinfra.errors import DeployError
from mlinfra.rollout import wait_for_rollout

pytestmark = pytest.mark.integration

CLUSTER, SERVICE = "rollout", "api"
REASON = "ECS deployment circuit breaker: tasks failed to start."


@pytest.fixture()
def endpoint() -> Iterator[str]:
    with in_process(ecs_service_counts) as url:
        yield url


LOG_GROUP, PREFIX = "/mlinfra/rollout", "api"


def _revision(ecs: Any, image: str) -> str:
    arn: str = ecs.register_task_definition(
        family=SERVICE,
        networkMode="bridge",
        containerDefinitions=[
            {
                "name": SERVICE,
                "image": image,
                "memory": 128,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": LOG_GROUP,
                        "awslogs-region": emu.REGION,
                        "awslogs-stream-prefix": PREFIX,
                    },
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    return arn


def _moto_service() -> Any:
    return ecs_backends[DEFAULT_ACCOUNT_ID][emu.REGION]._get_service(CLUSTER, SERVICE)


def _roll_back(first: str) -> None:
    """What ECS leaves once the breaker's rollback finished: one PRIMARY deployment of the old
    revision, COMPLETED, the failed one already dropped from the list."""
    service = _moto_service()
    service.task_definition = first
    old = service.deployments[-1]
    assert old["taskDefinition"] == first
    old.update(status="PRIMARY", rolloutState="COMPLETED")
    service.deployments[:] = [old]


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


def test_a_finished_rollback_is_not_stable_on_the_old_revision(
    serving: tuple[Any, str],
) -> None:
    ecs, first = serving
    bad = _revision(ecs, "api:never-healthy")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=bad)
    _roll_back(first)
    # The service looks stable: one deployment, COMPLETED, every desired task running.
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]

    with pytest.raises(DeployError) as failed:
        wait_for_rollout(
            ecs, CLUSTER, SERVICE, "local", timeout_s=10, poll_s=0.2, task_definition=bad
        )
    old_revision, new_revision = first.rsplit("/", 1)[-1], bad.rsplit("/", 1)[-1]
    assert (
        f"runs {old_revision}, not {new_revision} just applied: it was rolled back"
        in failed.value.message
    )


def _register_instance(endpoint: str, ecs: Any) -> str:
    ec2 = emu.boto3_session(endpoint).client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    document = {"instanceId": instance["InstanceId"], "region": emu.REGION}
    arn: str = ecs.register_container_instance(
        cluster=CLUSTER, instanceIdentityDocument=json.dumps(document)
    )["containerInstance"]["containerInstanceArn"]
    return arn


def test_a_tripped_breaker_says_why_the_tasks_stopped(
    endpoint: str, serving: tuple[Any, str]
) -> None:
    ecs, _first = serving
    session = emu.boto3_session(endpoint)
    instance = _register_instance(endpoint, ecs)
    bad = _revision(ecs, "api:crashes")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=bad)
    # Two tasks of the new revision start and exit, as ECS reports them.
    started = ecs.start_task(cluster=CLUSTER, taskDefinition=bad, containerInstances=[instance])
    stopped_ids = []
    logs = session.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    for number, task in enumerate(
        started["tasks"]
        + ecs.start_task(cluster=CLUSTER, taskDefinition=bad, containerInstances=[instance])[
            "tasks"
        ]
    ):
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        stopped_ids.append(task_id)
        ecs.stop_task(
            cluster=CLUSTER, task=task["taskArn"], reason="Essential container in task exited"
        )
        stream = f"{PREFIX}/{SERVICE}/{task_id}"
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[
                {"timestamp": now + i, "message": line}
                for i, line in enumerate(
                    ["booting", "loading /models/model.txt", f"ValueError: bad model {number}"]
                )
            ],
        )
    # moto keeps no container exit codes: write what the agent reports.
    for task in ecs_backends[DEFAULT_ACCOUNT_ID][emu.REGION].tasks[CLUSTER].values():
        task.containers = [{"name": SERVICE, "exitCode": 3, "reason": None}]
    new = _moto_service().deployments[0]
    new.update(rolloutState="FAILED", rolloutStateReason=REASON)

    with pytest.raises(DeployError) as failed:
        wait_for_rollout(
            ecs,
            CLUSTER,
            SERVICE,
            "local",
            timeout_s=10,
            poll_s=0.2,
            task_definition=bad,
            logs=session.client("logs"),
        )
    message = failed.value.message
    assert message.splitlines()[0] == f"The rollout of {bad} failed: {REASON}"
    for task_id in stopped_ids:
        assert f"task {task_id} stopped: Essential container in task exited" in message
    assert f"container {SERVICE}: exit code 3" in message
    assert "| ValueError: bad model 0" in message and "| ValueError: bad model 1" in message
    assert "| loading /models/model.txt" in message


def test_a_new_revision_waits_until_its_tasks_run_it(
    endpoint: str, serving: tuple[Any, str]
) -> None:
    ecs, first = serving
    instance = _register_instance(endpoint, ecs)
    old_task = ecs.start_task(cluster=CLUSTER, taskDefinition=first, containerInstances=[instance])
    second = _revision(ecs, "api:v2")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=second)
    # The counts say done, but the task ECS reports running is still the old revision's.
    emu.set_service_counts(endpoint, CLUSTER, SERVICE, running=1, pending=0)
    with pytest.raises(DeployError, match="did not become stable within 1 s"):
        wait_for_rollout(
            ecs, CLUSTER, SERVICE, "local", timeout_s=1, poll_s=0.2, task_definition=second
        )
    ecs.stop_task(cluster=CLUSTER, task=old_task["tasks"][0]["taskArn"], reason="replaced")
    ecs.start_task(cluster=CLUSTER, taskDefinition=second, containerInstances=[instance])
    wait_for_rollout(
        ecs, CLUSTER, SERVICE, "local", timeout_s=10, poll_s=0.2, task_definition=second
    )
