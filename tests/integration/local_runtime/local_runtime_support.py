"""Helpers of the local runtime's integration tests (imported by conftest and the tests)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APP_DIR = Path(__file__).parent / "app"
APP_PORT = 8080
HEALTH_CHECK = {
    "command": [
        "CMD",
        "python3",
        "-c",
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{APP_PORT}/health', timeout=3)",
    ],
    # ECS's smallest interval; Docker 20.10 runs the first check one interval after start.
    "interval": 5,
    # NOTE: a python3 start alone took over 2 s with the shared machine's load at 15.
    "timeout": 4,
    "retries": 2,
    "startPeriod": 0,
}


# For the fault tests, where a spurious failure would count toward the circuit breaker: the
# same check, tolerant of a loaded machine (load 14 on 2 cores timed a 4 s check out).
TOLERANT_HEALTH_CHECK = {**HEALTH_CHECK, "timeout": 5, "retries": 5}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmulatedService:
    """An ECS service behind a target group in the emulator, created with boto3 directly."""

    endpoint: str
    env: str
    cluster: str
    service: str
    family: str
    target_group_arn: str
    instance_id: str
    secret_parameter: str
    ecs: Any
    elbv2: Any

    def register_revision(
        self, image: str, health_check: dict[str, Any] | None = None, **environment: str
    ) -> str:
        """A new task definition revision of the family (``health_check`` by default
        :data:`HEALTH_CHECK`); returns its family:revision."""
        definition = self.ecs.register_task_definition(
            family=self.family,
            networkMode="bridge",
            requiresCompatibilities=["EC2"],
            containerDefinitions=[
                {
                    "name": "app",
                    "image": image,
                    "essential": True,
                    "memory": 128,
                    "cpu": 128,
                    "readonlyRootFilesystem": True,
                    "stopTimeout": 5,
                    "portMappings": [{"containerPort": APP_PORT, "hostPort": 0, "protocol": "tcp"}],
                    "environment": [{"name": k, "value": v} for k, v in environment.items()],
                    "secrets": [{"name": "APP_SECRET", "valueFrom": self.secret_parameter}],
                    "linuxParameters": {
                        "initProcessEnabled": True,
                        "tmpfs": [{"containerPath": "/tmp", "size": 16}],
                    },
                    "healthCheck": health_check or HEALTH_CHECK,
                }
            ],
        )["taskDefinition"]
        return f"{definition['family']}:{definition['revision']}"

    def deploy(self, family_revision: str, desired_count: int = 1) -> None:
        """UpdateService, as ``terraform apply`` does for a new image."""
        self.ecs.update_service(
            cluster=self.cluster,
            service=self.service,
            taskDefinition=family_revision,
            desiredCount=desired_count,
        )

    def registered(self) -> list[tuple[str, int]]:
        health = self.elbv2.describe_target_health(TargetGroupArn=self.target_group_arn)
        return sorted(
            (d["Target"]["Id"], d["Target"]["Port"]) for d in health["TargetHealthDescriptions"]
        )

    def counts(self) -> tuple[int, int]:
        described = self.ecs.describe_services(cluster=self.cluster, services=[self.service])
        service = described["services"][0]
        return service["runningCount"], service["pendingCount"]
