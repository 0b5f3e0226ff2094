"""ECS task definition -> docker run arguments."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlinfra.errors import ConfigError, DeployError
from mlinfra.local_runtime import task_spec
from mlinfra.local_runtime._aws import SecretReference, secrets_manager_reference

# Shaped as describe_task_definition()["taskDefinition"] returns it.
TASK_DEFINITION: dict[str, Any] = {
    "family": "mlinfra-local",
    "revision": 7,
    "networkMode": "bridge",
    "cpu": "512",
    "memory": "1024",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "127.0.0.1:5000/mlinfra-local:abc1234-0123abcd",
            "cpu": 256,
            "memory": 512,
            "memoryReservation": 256,
            "essential": True,
            "readonlyRootFilesystem": True,
            "stopTimeout": 20,
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
            "environment": [{"name": "OMP_NUM_THREADS", "value": "1"}],
            "secrets": [{"name": "API_KEY", "valueFrom": "/mlinfra/api-key"}],
            "dockerLabels": {"team": "ml"},
            "linuxParameters": {
                "initProcessEnabled": True,
                "tmpfs": [
                    {"containerPath": "/tmp", "size": 64, "mountOptions": ["nosuid", "noexec"]}
                ],
            },
            "healthCheck": {
                "command": ["CMD-SHELL", "curl -f http://127.0.0.1:8080/health || exit 1"],
                "interval": 10,
                "timeout": 3,
                "retries": 2,
                "startPeriod": 5,
            },
        }
    ],
}
LOAD_BALANCER = {"targetGroupArn": "arn:tg", "containerName": "app", "containerPort": 8080}


def _definition(**container_changes: Any) -> dict[str, Any]:
    definition = copy.deepcopy(TASK_DEFINITION)
    definition["containerDefinitions"][0].update(container_changes)
    return definition


def test_the_task_definition_becomes_docker_run_arguments() -> None:
    spec = task_spec(TASK_DEFINITION, LOAD_BALANCER, {"/mlinfra/api-key": "s3cr3t"})
    kwargs = spec.run_kwargs(name="task-1", labels={"mlinfra.env": "local"})

    assert spec.family_revision == "mlinfra-local:7"
    assert spec.container_port == 8080
    assert kwargs["image"] == "127.0.0.1:5000/mlinfra-local:abc1234-0123abcd"
    assert kwargs["ports"] == {"8080/tcp": ("127.0.0.1", None)}
    assert kwargs["environment"] == {"OMP_NUM_THREADS": "1", "API_KEY": "s3cr3t"}
    assert kwargs["labels"] == {"team": "ml", "mlinfra.env": "local"}
    assert kwargs["init"] is True
    assert kwargs["tmpfs"] == {"/tmp": "size=64m,nosuid,noexec"}
    assert kwargs["healthcheck"] == {
        "test": ["CMD-SHELL", "curl -f http://127.0.0.1:8080/health || exit 1"],
        "interval": 10_000_000_000,
        "timeout": 3_000_000_000,
        "retries": 2,
        "start_period": 5_000_000_000,
    }
    assert (kwargs["mem_limit"], kwargs["mem_reservation"]) == ("512m", "256m")
    assert (kwargs["cpu_shares"], kwargs["nano_cpus"]) == (256, 500_000_000)
    assert kwargs["read_only"] is True
    assert spec.stop_timeout_s == 20
    assert "command" not in kwargs


def test_absent_fields_take_the_ecs_defaults() -> None:
    definition = _definition(healthCheck={"command": ["CMD", "true"]}, memory=None, cpu=None)
    for absent in ("stopTimeout", "secrets", "linuxParameters"):
        del definition["containerDefinitions"][0][absent]
    spec = task_spec(definition, None)

    assert spec.health is not None
    assert (spec.health.interval_s, spec.health.timeout_s, spec.health.retries) == (30, 5, 3)
    assert spec.health.deadline_s() == 4 * 35
    assert spec.memory_mib == 1024  # the task's memory when the container sets none
    assert spec.cpu_shares is None
    assert spec.stop_timeout_s == 30
    assert spec.container_port is None
    assert (spec.init, spec.tmpfs) == (False, {})


def test_a_fixed_host_port_is_kept() -> None:
    definition = _definition(portMappings=[{"containerPort": 8080, "hostPort": 9000}], secrets=[])
    spec = task_spec(definition, None)
    assert spec.run_kwargs(name="t", labels={})["ports"] == {"8080/tcp": ("127.0.0.1", 9000)}


@pytest.mark.parametrize(
    ("definition", "balancer", "message"),
    [
        ({**TASK_DEFINITION, "networkMode": "awsvpc"}, None, "networkMode 'awsvpc'"),
        (
            {
                **TASK_DEFINITION,
                "containerDefinitions": TASK_DEFINITION["containerDefinitions"] * 2,
            },
            None,
            "has 2 containers",
        ),
        (TASK_DEFINITION, {**LOAD_BALANCER, "containerName": "web"}, "container 'web'"),
        (TASK_DEFINITION, {**LOAD_BALANCER, "containerPort": 9090}, "targets port 9090"),
        (TASK_DEFINITION, LOAD_BALANCER, "Secret API_KEY .* was not resolved"),
        (
            _definition(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}]),
            LOAD_BALANCER,
            "mounts volumes",
        ),
    ],
)
def test_what_the_runtime_cannot_run_is_refused_with_the_fix(
    definition: dict[str, Any], balancer: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        task_spec(definition, balancer)
    assert raised.value.hint


def test_capabilities_and_security_options_reach_docker_as_ecs_passes_them() -> None:
    linux = {
        "initProcessEnabled": True,
        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
    }
    spec = task_spec(
        _definition(linuxParameters=linux, dockerSecurityOptions=["no-new-privileges"]),
        LOAD_BALANCER,
        {"/mlinfra/api-key": "s3cr3t"},
    )
    kwargs = spec.run_kwargs(name="task-1", labels={})
    assert kwargs["cap_drop"] == ["ALL"]
    assert kwargs["cap_add"] == ["NET_BIND_SERVICE"]
    assert kwargs["security_opt"] == ["no-new-privileges"]


def test_no_capabilities_or_options_leave_dockers_defaults() -> None:
    kwargs = task_spec(TASK_DEFINITION, LOAD_BALANCER, {"/mlinfra/api-key": "s"}).run_kwargs(
        name="task-1", labels={}
    )
    assert not {"cap_add", "cap_drop", "security_opt"} & set(kwargs)


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlinfra/prod/api-key-AbCdEf"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        (SECRET_ARN, SecretReference(SECRET_ARN)),
        (f"{SECRET_ARN}:::v-1234", SecretReference(SECRET_ARN, version_id="v-1234")),
        (f"{SECRET_ARN}::AWSPREVIOUS:", SecretReference(SECRET_ARN, version_stage="AWSPREVIOUS")),
        (f"{SECRET_ARN}:api_key::", SecretReference(SECRET_ARN, json_key="api_key")),
        (f"{SECRET_ARN}:api_key", SecretReference(SECRET_ARN, json_key="api_key")),
        (
            f"{SECRET_ARN}:api_key:AWSCURRENT:v-9",
            SecretReference(SECRET_ARN, "api_key", "AWSCURRENT", "v-9"),
        ),
    ],
)
def test_a_secrets_manager_value_from_is_taken_apart_as_ecs_does(
    value_from: str, expected: SecretReference
) -> None:
    assert secrets_manager_reference(value_from) == expected


@pytest.mark.parametrize(
    "value_from",
    [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret",
        f"{SECRET_ARN}:a:b:c:d",
        "arn:aws:ssm:us-east-1:123456789012:parameter/x:y:z",
    ],
)
def test_a_malformed_value_from_is_named(value_from: str) -> None:
    with pytest.raises(DeployError, match="is not a Secrets Manager valueFrom"):
        secrets_manager_reference(value_from)
