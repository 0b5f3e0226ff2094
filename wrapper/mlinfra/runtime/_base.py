"""What differs between an environment on AWS and the local one, as one interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3

from mlinfra import config, registry
from mlinfra.logs import LogEvent
from mlinfra.terraform import Stack

Say = Callable[[str], None]
StackOf = Callable[[str], Stack]


class Runtime(ABC):
    """Where an environment's AWS answers and who runs its tasks.

    ``AwsRuntime``: AWS itself (ECS runs the tasks, the ALB serves them). ``LocalRuntime``: the
    emulated AWS, the local registry, and the local ECS agent and ALB on Docker. Nothing outside
    :mod:`mlinfra.runtime` asks which one it has.
    """

    env: config.Environment
    region: str
    backend_bucket: str | None

    @property
    @abstractmethod
    def where(self) -> str:
        """A few words for reports: ``AWS`` or ``emulator http://...``."""

    @abstractmethod
    def session(self) -> boto3.Session: ...

    @abstractmethod
    def terraform_env(self) -> dict[str, str]:
        """Variables Terraform and its subprocesses run with."""

    @abstractmethod
    def backend_values(self) -> dict[str, str]:
        """S3 backend settings beyond the bucket, key and region."""

    @abstractmethod
    def require_credentials(self) -> None:
        """A ConfigError naming the fix when there are no AWS credentials at all."""

    @abstractmethod
    def registry_login(
        self, repository_name: str, stack: StackOf
    ) -> tuple[str, registry.Credentials]:
        """The repository ``repository_name`` to push to, and its credentials."""

    @abstractmethod
    def release_tags(self, repository: str, credentials: registry.Credentials) -> dict[str, str]:
        """The repository's ``release-<k>`` tags and their digests."""

    @abstractmethod
    def run_service(
        self, outputs: dict[str, Any], credentials: registry.Credentials, say: Say
    ) -> None:
        """After an apply: make the service's tasks run (ECS does it by itself on AWS)."""

    @abstractmethod
    def public_url(self, outputs: dict[str, Any]) -> str | None:
        """A URL of the service that answers from this machine."""

    @abstractmethod
    def stop_service(self, say: Say) -> None:
        """After the service stack's destroy: stop what still runs its tasks."""

    @abstractmethod
    def down(self, say: Say) -> dict[str, Any]:
        """Stop the environment's own processes (a ConfigError where it has none)."""

    @abstractmethod
    def service_logs(
        self, cloudwatch: list[LogEvent], start: datetime, limit: int
    ) -> list[LogEvent]:
        """The service's log events: CloudWatch's, plus any this runtime holds elsewhere."""
