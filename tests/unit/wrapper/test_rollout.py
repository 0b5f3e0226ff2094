"""The rollout wait's judgements and its poller, on recorded ECS and CloudWatch Logs answers."""

from __future__ import annotations

from typing import Any

import pytest
from aws_answers import answer, stubbed
from botocore.stub import ANY

from mlinfra import rollout
from mlinfra.errors import DeployError

CLUSTER = "mlinfra-prod"
SERVICE = "mlinfra-prod"
V8 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mlinfra-prod:8"


def _service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = answer("ecs", name)["services"][0]
    return found


def _v8() -> dict[str, Any]:
    definition: dict[str, Any] = answer("ecs", "task_definition_v8")["taskDefinition"]
    return definition


def test_a_rolling_service_is_neither_stable_nor_failed() -> None:
    service = _service("rolling")
    assert not rollout.is_stable(service)
    assert rollout.rollout_failure(service, _v8()) is None
    assert rollout.progress_line(service) == (
        "service mlinfra-prod: 3/2 running, 1 pending, rollout IN_PROGRESS"
    )


def test_a_completed_rollout_of_the_applied_revision_is_stable() -> None:
    service = _service("completed")
    assert rollout.is_stable(service)
    assert rollout.rollout_failure(service, _v8()) is None


def test_a_tripped_breaker_names_the_revision_and_the_reason() -> None:
    failure = rollout.rollout_failure(_service("breaker_tripped"), _v8())
    assert failure == (
        f"The rollout of {V8} failed: ECS deployment circuit breaker: tasks failed to start."
    )


def test_a_finished_rollback_is_a_failure_though_the_service_is_stable() -> None:
    # ECS dropped the failed deployment: one PRIMARY COMPLETED of the old revision is left.
    service = _service("rolled_back")
    assert rollout.is_stable(service)
    failure = rollout.rollout_failure(service, _v8())
    assert failure is not None
    assert "runs mlinfra-prod:7, not mlinfra-prod:8 just applied: it was rolled back" in failure
    # Without a revision to expect, the same answer is just a stable service.
    assert rollout.rollout_failure(service, None) is None


def test_an_older_revisions_failed_deployment_does_not_fail_a_new_rollout() -> None:
    service = _service("older_failure_lingers")
    assert rollout.rollout_failure(service, _v8()) is None
    # ... but with nothing to expect, any FAILED deployment is one.
    assert rollout.rollout_failure(service, None) is not None


def test_tasks_of_the_old_revision_that_ecs_keeps_running_are_not_done() -> None:
    new, stopping = answer("ecs", "running_tasks_new")["tasks"]
    (old,) = answer("ecs", "running_tasks_old")["tasks"]
    assert rollout.task_runs(new, _v8())
    assert rollout.task_runs(stopping, _v8())  # desired STOPPED: the roll replaced it
    assert not rollout.task_runs(old, _v8())
    other_image = {**new, "containers": [{**new["containers"][0], "image": "elsewhere:1"}]}
    assert not rollout.task_runs(other_image, _v8())


def test_the_stopped_tasks_of_the_new_revision_newest_first_with_their_logs() -> None:
    tasks = answer("ecs", "stopped_tasks")["tasks"]
    lines = rollout.stopped_task_lines(tasks, _v8(), lambda _task, task_id: [f"log of {task_id}"])
    assert lines[:3] == [
        "  task bb22cc33dd44ee55ff66001122334455 stopped: Task failed container health checks",
        "    container model: exit code 137 (OutOfMemoryError: Container killed due to memory "
        "usage)",
        "    | log of bb22cc33dd44ee55ff66001122334455",
    ]
    stopped = [line for line in lines if line.startswith("  task ")]
    # Three at most, of revision 8 only (the scheduler's stop of a revision-7 task is not one).
    assert [line.split()[1] for line in stopped] == [
        "bb22cc33dd44ee55ff66001122334455",
        "ee55ff66001122334455667788990011",
        "dd44ee55ff6600112233445566778899",
    ]
    assert rollout.stopped_task_lines([], _v8()) == [
        "  no stopped task of that revision is reported (ECS keeps them about an hour)"
    ]


def test_the_awslogs_stream_of_a_task_follows_the_prefix() -> None:
    assert rollout.log_streams("abc", _v8()) == [("/ecs/mlinfra-prod", "ecs/model/abc")]
    no_prefix = _v8()
    del no_prefix["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-stream-prefix"]
    assert rollout.log_streams("abc", no_prefix) == [("/ecs/mlinfra-prod", "abc")]


def _expect_definition(stub: Any) -> None:
    stub.add_response(
        "describe_task_definition", answer("ecs", "task_definition_v8"), {"taskDefinition": V8}
    )


def _expect_describe(stub: Any, name: str) -> None:
    stub.add_response(
        "describe_services", answer("ecs", name), {"cluster": CLUSTER, "services": [SERVICE]}
    )


def test_the_poller_waits_through_a_roll_until_the_new_tasks_run() -> None:
    ecs, stub = stubbed("ecs")
    _expect_definition(stub)
    _expect_describe(stub, "rolling")
    _expect_describe(stub, "completed")
    stub.add_response(
        "list_tasks",
        answer("ecs", "running_task_arns"),
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "RUNNING"},
    )
    stub.add_response(
        "describe_tasks", answer("ecs", "running_tasks_new"), {"cluster": CLUSTER, "tasks": ANY}
    )
    said: list[str] = []
    with stub:
        rollout.wait_for_rollout(
            ecs, CLUSTER, SERVICE, "prod", said.append, poll_s=0, task_definition=V8
        )
        stub.assert_no_pending_responses()
    assert said == [
        "service mlinfra-prod: 3/2 running, 1 pending, rollout IN_PROGRESS",
        "service mlinfra-prod: 2/2 running, 0 pending, rollout COMPLETED",
    ]


def test_the_poller_reports_a_tripped_breaker_with_the_stopped_tasks_logs() -> None:
    ecs, stub = stubbed("ecs")
    logs, logs_stub = stubbed("logs")
    _expect_definition(stub)
    _expect_describe(stub, "breaker_tripped")
    stub.add_response(
        "list_tasks",
        answer("ecs", "stopped_task_arns"),
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"},
    )
    stub.add_response(
        "describe_tasks", answer("ecs", "stopped_tasks"), {"cluster": CLUSTER, "tasks": ANY}
    )
    for task_id in (
        "bb22cc33dd44ee55ff66001122334455",
        "ee55ff66001122334455667788990011",
        "dd44ee55ff6600112233445566778899",
    ):
        logs_stub.add_response(
            "get_log_events",
            answer("ecs", "task_log_events"),
            {
                "logGroupName": "/ecs/mlinfra-prod",
                "logStreamName": f"ecs/model/{task_id}",
                "limit": rollout.LOG_LINES_SHOWN,
                "startFromHead": False,
            },
        )
    with stub, logs_stub, pytest.raises(DeployError) as raised:
        rollout.wait_for_rollout(
            ecs, CLUSTER, SERVICE, "prod", poll_s=0, task_definition=V8, logs=logs
        )
    message = raised.value.message
    assert message.startswith(f"The rollout of {V8} failed: ECS deployment circuit breaker")
    assert "    | worker exited with code 3" in message
    assert "mlinfra logs --env prod" in raised.value.hint


def test_a_log_stream_that_never_started_is_passed_over() -> None:
    ecs, stub = stubbed("ecs")
    logs, logs_stub = stubbed("logs")
    _expect_definition(stub)
    _expect_describe(stub, "rolled_back")
    stub.add_response("list_tasks", {"taskArns": []}, None)
    with stub, logs_stub, pytest.raises(DeployError) as raised:
        rollout.wait_for_rollout(
            ecs, CLUSTER, SERVICE, "prod", poll_s=0, task_definition=V8, logs=logs
        )
    assert "it was rolled back" in raised.value.message
    assert "no stopped task of that revision is reported" in raised.value.message


def test_the_poller_gives_up_after_its_timeout() -> None:
    ecs, stub = stubbed("ecs")
    _expect_describe(stub, "rolling")
    with stub, pytest.raises(DeployError) as raised:
        rollout.wait_for_rollout(ecs, CLUSTER, SERVICE, "prod", timeout_s=0, poll_s=0)
    assert "did not become stable within 0 s" in raised.value.message


def test_a_missing_service_says_to_apply() -> None:
    ecs, stub = stubbed("ecs")
    stub.add_response("describe_services", {"services": [], "failures": []}, None)
    with stub, pytest.raises(DeployError, match="not found in cluster"):
        rollout.describe_service(ecs, CLUSTER, SERVICE)


def test_without_a_rollout_state_two_deployments_are_a_roll_in_progress() -> None:
    # rolloutState is absent for services behind a Classic Load Balancer: the waiter's test
    # (one deployment, counts equal) decides alone.
    assert not rollout.is_stable(_service("no_rollout_state_two_deployments"))
    assert rollout.is_stable(_service("no_rollout_state_one_deployment"))
    assert rollout.rollout_failure(_service("no_rollout_state_one_deployment"), _v8()) is None
