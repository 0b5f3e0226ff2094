"""What differs between an environment on AWS and the local one, as one interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from mlinfra import config, registry
from mlinfra.logs import LogEvent
from mlinfra.terraform import Stack

Say = Callable[[str], None]
StackOf = Callable[[str], Stack]


@dataclass(frozen=True)
class Reach:
    """How this machine reaches a deployed service: its URL, the CA file that URL's certificate
    chains to when it is not in the system's trust (a rehearsal's local CA), and what of the
    task definition the runtime running it does not honour."""

    url: str | None
    ca_file: str | None = None
    unhonoured: tuple[str, ...] = ()


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
    def image_exists(self, image: str, credentials: registry.Credentials) -> bool:
        """Whether the registry still holds ``image`` (``repository@sha256:...``)."""

    @abstractmethod
    def tag_image(self, image: str, tag: str, credentials: registry.Credentials) -> None:
        """Give ``image`` (``repository@sha256:...``) the tag ``tag`` in its repository, through
        the registry's API (nothing is pulled or pushed)."""

    @abstractmethod
    def copy_image(
        self,
        source: str,
        source_credentials: registry.Credentials,
        repository: str,
        tag: str,
        credentials: registry.Credentials,
    ) -> str:
        """Copy ``source`` (``repository@sha256:...``, another environment's) into this
        environment's ``repository`` as ``tag``, keeping its digest; the digest."""

    @abstractmethod
    def run_service(
        self, outputs: dict[str, Any], credentials: registry.Credentials, say: Say
    ) -> None:
        """After an apply: make the service's tasks run (ECS does it by itself on AWS)."""

    @abstractmethod
    def reach(self, outputs: dict[str, Any]) -> Reach:
        """How the service answers from this machine (``outputs``: the service stack's)."""

    def api_key_when_unset(self) -> str | None:
        """A key to store when the environment's API key secret has no value yet: None (the
        user sets it: `mlinfra secret set`), but for a rehearsal, which makes one."""
        return None

    def prepare_destroy(self, say: Say) -> None:
        """Before the service stack's destroy (nothing on AWS: a protected load balancer
        refuses, as it should)."""
        return None

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
