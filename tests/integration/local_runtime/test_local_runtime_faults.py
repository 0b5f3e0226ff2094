"""The local runtime under faults, as the ECS service scheduler and the ALB handle them: a
killed task is replaced (deregistered, then its replacement registered) under a request stream,
an OOM kill is a stopped task with ECS's reason, a revision that keeps failing trips the circuit
breaker and rolls back; and a field the runtime cannot honour shows in ``status``."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import docker
import httpx
import pytest
from local_runtime_support import (
    APP_PORT,
    TOLERANT_HEALTH_CHECK,
    EmulatedService,
    free_port,
)
from test_local_runtime_converge import RequestStream, _converge

from mlinfra import docker_engine, emulator
from mlinfra.local_runtime import RuntimeStatus, status
from mlinfra.local_runtime._tasks import REASON_OOM

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _wait(check: Callable[[], Any], timeout_s: float, env: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s:.0f} s; status of {env}: {status(env)}")


def _serving_set(service: EmulatedService, desired: int) -> Callable[[], RuntimeStatus | None]:
    """A check: the status once ``desired`` tasks serve behind the proxy, else None."""

    def check() -> RuntimeStatus | None:
        now = status(service.env)
        return now if now.healthy and len(now.tasks) == desired else None

    return check


def _left_targets(env: str, address: str) -> Callable[[], bool]:
    """A check: ``address`` is no longer among the proxy's targets."""
    return lambda: address not in status(env).targets


def _get(address: str, path: str) -> None:
    # The task dies answering, as it should.
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"http://{address}{path}", timeout=10)


def test_a_killed_task_is_deregistered_and_replaced_under_a_request_stream(
    emulated_service: EmulatedService,
    docker_client: docker.DockerClient,
    app_images: dict[str, str],
) -> None:
    service = emulated_service
    second_instance = _add_instance(service)
    tolerant = service.register_revision(app_images["v1"], TOLERANT_HEALTH_CHECK, APP_VERSION="v1")
    service.deploy(tolerant, desired_count=2)
    before = _converge(service, free_port())
    assert before.healthy and len(before.tasks) == 2 and before.agent is not None
    victim = before.tasks[0]
    survivor = before.tasks[1]
    assert url_of(before)

    with RequestStream(url_of(before), limit_s=120) as stream:
        time.sleep(1.0)
        killed = time.monotonic()
        docker_client.containers.get(victim.container).kill()
        deregistered = _wait(
            lambda: (victim.instance_id, victim.host_port) not in service.registered(),
            30,
            service.env,
        )
        after = _wait(_serving_set(service, 2), 90, service.env)
        replaced_s = time.monotonic() - killed
        time.sleep(1.0)

    new = [t for t in after.tasks if t.container != survivor.container]
    assert deregistered
    assert len(new) == 1 and new[0].container != victim.container
    # Spread placement: the replacement goes where the killed task was.
    assert new[0].instance_id == victim.instance_id
    assert {victim.instance_id, survivor.instance_id} == {service.instance_id, second_instance}
    assert service.registered() == sorted(
        (t.instance_id or "", t.host_port or 0) for t in (survivor, new[0])
    )
    failed = sum(n for outcome, n in stream.outcomes.items() if outcome != "v1")
    total = sum(stream.outcomes.values())
    print(
        f"kill under load: replaced in {replaced_s:.1f} s, failed requests {failed} of {total} "
        f"{dict(stream.outcomes)}"
    )
    assert total > 50
    assert failed <= max(2, total // 100), stream.outcomes
    assert [t.stopped_reason for t in after.stopped] == [
        "Essential container in task exited (exit code 137)"
    ]


def _add_instance(service: EmulatedService) -> str:
    """A second EC2 container instance in the service's cluster; its id."""
    ec2 = emulator.boto3_session(service.endpoint).client("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]
    service.ecs.register_container_instance(
        cluster=service.cluster,
        instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]}),
    )
    return str(instance["InstanceId"])


def url_of(report: RuntimeStatus) -> str:
    assert report.url is not None
    return report.url


def test_an_oom_kill_is_a_stopped_task_with_ecs_s_reason(
    emulated_service: EmulatedService, app_images: dict[str, str]
) -> None:
    service = emulated_service
    service.deploy(
        service.register_revision(app_images["v1"], TOLERANT_HEALTH_CHECK, APP_VERSION="v1")
    )
    before = _converge(service, free_port())
    victim = before.tasks[0]
    assert victim.address is not None

    _get(victim.address, "/allocate?mib=512")  # the task's hard limit is 128 MiB

    after = _wait(
        lambda: (now := status(service.env)).stopped and now.healthy and now, 90, service.env
    )
    assert [(t.container, t.stopped_reason) for t in after.stopped] == [
        (victim.container, REASON_OOM)
    ]
    assert after.tasks[0].container != victim.container


def test_a_revision_that_keeps_failing_trips_the_breaker_and_rolls_back(
    emulated_service: EmulatedService, app_images: dict[str, str]
) -> None:
    service = emulated_service
    service.ecs.update_service(
        cluster=service.cluster,
        service=service.service,
        deploymentConfiguration={
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )
    port = free_port()
    first = service.register_revision(app_images["v1"], TOLERANT_HEALTH_CHECK, APP_VERSION="v1")
    service.deploy(first)
    _converge(service, port)
    second = service.register_revision(app_images["v2"], TOLERANT_HEALTH_CHECK, APP_VERSION="v2")
    service.deploy(second)
    on_second = _converge(service, port)
    assert [t.task_definition for t in on_second.tasks] == [second]

    # ECS's threshold for one desired task: min(max(ceil(0.5 * 1), 3), 200) = 3 failed tasks.
    started = time.monotonic()
    for _ in range(3):
        current = _wait(_serving_set(service, 1), 90, service.env)
        if current.tasks[0].task_definition != second:
            break
        address = current.tasks[0].address
        assert address is not None
        _get(address, "/crash")
        _wait(_left_targets(service.env, address), 30, service.env)

    # Back on the first revision and behind the proxy (a healthy task takes requests once the
    # load balancer lists it, as an ALB target leaves "initial").
    rolled = _wait(
        lambda: (
            (now := status(service.env)).healthy
            and now.tasks[0].task_definition == first
            and now.tasks[0].address in now.targets
            and now
        ),
        120,
        service.env,
    )
    took = time.monotonic() - started
    described = service.ecs.describe_services(cluster=service.cluster, services=[service.service])
    # The service itself went back, as ECS's rollback sets it (an ARN, or family:revision here).
    assert described["services"][0]["taskDefinition"].rsplit("/", 1)[-1] == first
    answer = httpx.get(url_of(rolled), timeout=5)
    assert answer.status_code == 200, (answer.status_code, answer.text, status(service.env))
    assert answer.json()["version"] == "v1"
    print(f"circuit breaker: 3 crashes of {second} rolled back to {first} in {took:.1f} s")


def test_a_field_the_runtime_cannot_honour_is_listed_in_status(
    emulated_service: EmulatedService, app_images: dict[str, str]
) -> None:
    service = emulated_service
    registered = service.ecs.register_task_definition(
        family=service.family,
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        taskRoleArn="arn:aws:iam::123456789012:role/app",
        containerDefinitions=[
            {
                "name": "app",
                "image": app_images["v1"],
                "essential": True,
                "memory": 128,
                "portMappings": [{"containerPort": APP_PORT, "hostPort": 0, "protocol": "tcp"}],
                "environment": [{"name": "APP_VERSION", "value": "v1"}],
                "ulimits": [{"name": "nofile", "softLimit": 1000, "hardLimit": 2000}],
                # awslogs is honoured (the agent ships the output); another driver is not.
                "logConfiguration": {
                    "logDriver": "fluentd",
                    "options": {"fluentd-address": "127.0.0.1:24224"},
                },
                "healthCheck": TOLERANT_HEALTH_CHECK,
            }
        ],
    )["taskDefinition"]
    service.deploy(f"{registered['family']}:{registered['revision']}")

    report = _converge(service, free_port())

    assert report.healthy
    assert "containerDefinitions[0].logConfiguration" in report.unhonoured
    assert "taskRoleArn" in report.unhonoured
    assert not any("ulimits" in field for field in report.unhonoured)
    print(f"unhonoured: {report.unhonoured}")
    attrs = docker_engine.client().containers.get(report.tasks[0].container).attrs
    assert attrs["HostConfig"]["Ulimits"] == [{"Name": "nofile", "Soft": 1000, "Hard": 2000}]
