"""The local runtime applies a task definition's Linux capabilities, Docker security options and
Secrets Manager references (version id, version stage, JSON key) as the ECS agent does, on
the real engine against the real emulator."""

from __future__ import annotations

import json

import docker
import pytest
from local_runtime_support import APP_PORT, HEALTH_CHECK, EmulatedService, free_port

from mlinfra import emulator
from mlinfra.local_runtime import converge

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _secret_versions(endpoint: str, name: str) -> tuple[str, str, str]:
    """A JSON secret with two versions; its ARN and both version ids (the second is current)."""
    secretsmanager = emulator.boto3_session(endpoint).client("secretsmanager")
    created = secretsmanager.create_secret(Name=name, SecretString=json.dumps({"api_key": "k-v1"}))
    second = secretsmanager.put_secret_value(
        SecretId=created["ARN"], SecretString=json.dumps({"api_key": "k-v2"})
    )
    return created["ARN"], created["VersionId"], second["VersionId"]


def test_capabilities_security_options_and_versioned_secrets(
    emulated_service: EmulatedService,
    app_images: dict[str, str],
    docker_client: docker.DockerClient,
) -> None:
    service = emulated_service
    arn, first_id, second_id = _secret_versions(service.endpoint, f"{service.family}/api-key")
    revision = service.ecs.register_task_definition(
        family=service.family,
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[
            {
                "name": "app",
                "image": app_images["v1"],
                "essential": True,
                "memory": 128,
                "readonlyRootFilesystem": True,
                "stopTimeout": 5,
                "portMappings": [{"containerPort": APP_PORT, "hostPort": 0, "protocol": "tcp"}],
                "environment": [{"name": "APP_VERSION", "value": "v1"}],
                "secrets": [
                    {"name": "PINNED", "valueFrom": f"{arn}:api_key::{first_id}"},
                    {"name": "CURRENT", "valueFrom": f"{arn}:api_key:AWSCURRENT:"},
                    {"name": "WHOLE", "valueFrom": f"{arn}:::{first_id}"},
                ],
                "linuxParameters": {
                    "initProcessEnabled": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "dockerSecurityOptions": ["no-new-privileges"],
                "healthCheck": HEALTH_CHECK,
            }
        ],
    )["taskDefinition"]
    service.deploy(f"{revision['family']}:{revision['revision']}")

    ran = converge(
        service.endpoint,
        env=service.env,
        cluster=service.cluster,
        service=service.service,
        proxy_port=free_port(),
    )
    assert [t.health for t in ran.tasks] == ["healthy"]
    container = docker_client.containers.get(ran.tasks[0].container)
    host_config = container.attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    environment = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    assert environment["PINNED"] == "k-v1"  # the version id, not the current value
    assert environment["CURRENT"] == "k-v2"
    assert json.loads(environment["WHOLE"]) == {"api_key": "k-v1"}
    assert second_id != first_id
    # What the process itself holds: no effective capability, and no way to gain one.
    status = container.exec_run(["cat", "/proc/1/status"]).output.decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
