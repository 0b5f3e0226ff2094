"""One environment wired to its AWS: the stacks' Terraform, the boto3 session and the registry.

A :class:`Connection` is what every orchestration in :mod:`mlinfra.deploy` takes. It knows the
environment's folders and generated files; what differs between AWS and the local environment
(credentials, the emulator, the registry, who runs the tasks) it asks its
:class:`~mlinfra.runtime.Runtime`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from mlinfra import config, registry, releases, tfvars
from mlinfra.errors import ConfigError
from mlinfra.models import OWN, Track
from mlinfra.runtime import Runtime, runtime_for, state_buckets
from mlinfra.terraform import Stack

# Applied in this order (the registry must exist before a push); destroyed in reverse.
STACKS = ("registry", "service")

Say = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def repository_name(env: config.Environment) -> str:
    return f"mlinfra-{env.name}"


@dataclass
class Connection:
    """An environment, its runtime (AWS or the local one) and the Terraform stacks reaching it."""

    env: config.Environment
    runtime: Runtime
    # Resolving AWS credentials can mean an SSO or instance-metadata call: once per Connection.
    _credentials_checked: bool = field(default=False, init=False, repr=False)

    @property
    def region(self) -> str:
        return self.runtime.region

    @property
    def backend_bucket(self) -> str | None:
        return self.runtime.backend_bucket

    @property
    def aws_env(self) -> dict[str, str]:
        """The variables Terraform runs with (the emulator's endpoint and keys; none on AWS)."""
        return self.runtime.terraform_env()

    def session(self) -> boto3.Session:
        return self.runtime.session()

    def stack(self, name: str) -> Stack:
        from mlinfra.terraform import terraform_cli_config

        working_dir = self.env.path / name
        if not working_dir.is_dir():
            raise ConfigError(
                f"Environment {self.env.name!r} has no {name} stack ({working_dir}).",
                f"Every environment needs {' and '.join(STACKS)} folders (docs/team-contract.md).",
            )
        if not self._credentials_checked:
            self.runtime.require_credentials()
            self._credentials_checked = True
        backend_file = working_dir / "backend.hcl"
        return Stack(
            name,
            working_dir,
            env=self.aws_env,
            cli_config=terraform_cli_config(config.state_dir()),
            backend_files=[backend_file] if backend_file.exists() else [],
            backend_config=self._backend_overrides(name, backend_file.exists()),
            data_dir=self.env.state_dir / name / "terraform-data",
        )

    def _backend_overrides(self, stack: str, has_file: bool) -> dict[str, str]:
        """Backend values beyond the stack's ``backend.hcl``: all of them when it has none."""
        # One region for the provider, the backend and boto3: the resolved one wins over a
        # backend.hcl's (issue 12: the provider hard-coded us-east-1 while the CLI read
        # AWS_REGION).
        values: dict[str, str] = {"region": self.region, **self.runtime.backend_values()}
        if self.backend_bucket:
            values["bucket"] = self.backend_bucket
        if not has_file:
            values["key"] = f"{self.env.name}/{stack}.tfstate"
        return values

    def planfile(self, stack: str) -> Path:
        return self.env.state_dir / f"{stack}.tfplan"

    def var_files(self, stack: str) -> list[Path]:
        """The environment's own ``*.tfvars`` beside the stack, the values mlinfra resolved for it
        (``mlinfra.plans.write_stack_tfvars``), plus for the service the image, the other models'
        images and a running canary's."""
        files = sorted((self.env.path / stack).glob("*.tfvars"))
        files.append(tfvars.stack_tfvars_path(self.env.state_dir, stack))
        if stack == "service":
            files.append(tfvars.image_tfvars_path(self.env.state_dir))
            optional = [tfvars.models_tfvars_path, tfvars.canary_tfvars_path]
            files += [path for path in (f(self.env.state_dir) for f in optional) if path.exists()]
        return files

    def registry_login(self) -> tuple[str, registry.Credentials]:
        """The repository to push to and its credentials (the local registry, or ECR)."""
        return self.runtime.registry_login(repository_name(self.env), self.stack)

    def state_bucket(self) -> str:
        """The bucket the stacks' Terraform state lives in: the setting, else the registry
        stack's ``backend.hcl``."""
        bucket = self.backend_bucket or next(iter(state_buckets(self.env, STACKS)), None)
        if not bucket:
            raise ConfigError(
                f"No Terraform state bucket for environment {self.env.name!r}, so no release "
                "ledger.",
                "Name one in the stacks' backend.hcl, or set MLINFRA_STATE_BUCKET.",
            )
        return bucket

    def ledger(self, track: Track = OWN) -> releases.Ledger:
        """The release ledger of one of the environment's models (default: its own), beside
        its Terraform state."""
        s3 = self.session().client("s3")
        return releases.Ledger(
            s3, self.state_bucket(), self.env.name, track.ledger_prefix(self.env.name)
        )

    def release_tags(self, repository: str, credentials: registry.Credentials) -> dict[str, str]:
        """The repository's ``release-<k>`` tags and their digests."""
        return self.runtime.release_tags(repository, credentials)


def connect(env: config.Environment, say: Say = _quiet) -> Connection:
    """Reach the environment's AWS; for ``local`` start (or reuse) the emulator first."""
    return Connection(env, runtime_for(env, STACKS, say))
