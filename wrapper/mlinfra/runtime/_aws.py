"""The runtime of an environment on AWS: boto3's credential chain, ECR, ECS runs the tasks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from mlinfra import config, registry
from mlinfra.errors import ConfigError, DeployError
from mlinfra.logs import LogEvent
from mlinfra.runtime._base import Reach, Runtime, Say, StackOf

STATE_BUCKET_VARIABLE = "MLINFRA_STATE_BUCKET"


class AwsRuntime(Runtime):
    def __init__(self, env: config.Environment, region: str, backend_bucket: str | None) -> None:
        self.env = env
        self.region = region
        self.backend_bucket = backend_bucket

    @classmethod
    def resolve(cls, env: config.Environment, stacks: Sequence[str]) -> AwsRuntime:
        """The region and state bucket from the variables and ``mlinfra.toml``."""
        # The stacks' backend.hcl name the bucket; the variable or mlinfra.toml overrides it (or
        # stands in for it).
        settings = config.environment_settings(env)
        bucket = os.environ.get(STATE_BUCKET_VARIABLE) or settings.get("state_bucket")
        if not bucket and not all((env.path / s / "backend.hcl").exists() for s in stacks):
            raise ConfigError(
                f"No Terraform state bucket for environment {env.name!r} (no backend.hcl).",
                f"Set {STATE_BUCKET_VARIABLE} (or state_bucket under [environments.{env.name}] in "
                f"{config.PROJECT_CONFIG}) to an S3 bucket you own; the state key is "
                f"{env.name}/<stack>.tfstate.",
            )
        return cls(env, config.aws_region(settings), bucket)

    @property
    def where(self) -> str:
        return "AWS"

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=self.region)

    def terraform_env(self) -> dict[str, str]:
        return {}

    def backend_values(self) -> dict[str, str]:
        return {}

    def require_credentials(self) -> None:
        """Fail before Terraform when there are no credentials at all.

        Terraform's own error for this is six lines about IMDS; boto3 resolves the same chain
        (variables, profiles, SSO, instance role) and returns None when it finds none.
        """
        if self.session().get_credentials() is None:
            raise ConfigError(
                f"No AWS credentials found for environment {self.env.name!r}.",
                "Set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY; check with `aws sts get-caller-identity`.",
            )

    def registry_login(
        self, repository_name: str, stack: StackOf
    ) -> tuple[str, registry.Credentials]:
        repository_url = stack("registry").outputs().get("repository_url")
        if not repository_url:
            raise DeployError(
                f"The registry stack of {self.env.name!r} has no repository_url output yet.",
                f"Apply it first: `mlinfra plan --env {self.env.name}` then `mlinfra apply`.",
            )
        ecr = self.session().client("ecr")
        return str(repository_url), registry.ecr_credentials(str(repository_url), ecr)

    def release_tags(self, repository: str, credentials: registry.Credentials) -> dict[str, str]:
        name = repository.split("/", 1)[1]
        try:
            return registry.ecr_release_tags(self.session().client("ecr"), name)
        except (ClientError, BotoCoreError) as err:
            raise DeployError(
                f"ECR did not list the images of {name}: {err}",
                "Check the AWS credentials' ecr:ListImages permission.",
            ) from err

    def image_exists(self, image: str, credentials: registry.Credentials) -> bool:
        repository, digest = image.split("@", 1)
        return registry.ecr_has_image(
            self.session().client("ecr"), repository.split("/", 1)[1], digest
        )

    def tag_image(self, image: str, tag: str, credentials: registry.Credentials) -> None:
        repository, digest = image.split("@", 1)
        registry.ecr_tag(self.session().client("ecr"), repository.split("/", 1)[1], digest, tag)

    def copy_image(
        self,
        source: str,
        source_credentials: registry.Credentials,
        repository: str,
        tag: str,
        credentials: registry.Credentials,
    ) -> str:
        """ECR to ECR, across accounts: pulled by digest with the source's login, pushed with
        this account's (ECR mounts blobs only within one registry)."""
        if self.image_exists(f"{repository}@{source.split('@', 1)[1]}", credentials):
            self.tag_image(f"{repository}@{source.split('@', 1)[1]}", tag, credentials)
            return source.split("@", 1)[1]
        return registry.copy_with_engine(source, source_credentials, repository, tag, credentials)

    def run_service(
        self, outputs: dict[str, Any], credentials: registry.Credentials, say: Say
    ) -> None:
        return None  # ECS starts the tasks of the applied task definition by itself

    def reach(self, outputs: dict[str, Any]) -> Reach:
        url = outputs.get("service_url")
        return Reach(str(url) if url else None)

    def stop_service(self, say: Say) -> None:
        return None  # the destroy removed the ECS service, and its tasks with it

    def down(self, say: Say) -> dict[str, Any]:
        raise ConfigError(
            f"`down` stops the local environment's processes; {self.env.name!r} runs on AWS.",
            f"To remove {self.env.name}'s infrastructure, run `mlinfra destroy --env {self.env.name}`.",
        )

    def service_logs(
        self, cloudwatch: list[LogEvent], start: datetime, limit: int
    ) -> list[LogEvent]:
        return cloudwatch
