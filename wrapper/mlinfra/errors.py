"""The exceptions mlinfra raises: each says what went wrong and how to fix it.

The CLI renders an :class:`MlinfraError` as one or two lines (``message`` then ``hint``) and
exits non-zero; any other exception is a bug and shows a traceback only with ``--debug``.
"""

from __future__ import annotations


class MlinfraError(Exception):
    """Base class: a failure the user can act on.

    Args:
        message: what went wrong, naming the value seen.
        hint: how to fix it (a command to run, a setting to change).
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class ConfigError(MlinfraError):
    """Bad input: an unknown environment, a malformed settings file, a missing file."""

    exit_code = 2


class ToolMissingError(MlinfraError):
    """A program mlinfra drives (terraform, docker) is not installed or not running."""


class DockerError(MlinfraError):
    """The Docker engine refused or failed a build, a push or a container."""


class RegistryError(MlinfraError):
    """A container registry refused a login or a push."""


class TerraformError(MlinfraError):
    """Terraform failed; the message carries Terraform's own diagnostic."""


class EmulatorError(MlinfraError):
    """The local AWS emulator could not be started or reached."""


class EnvironmentBusyError(MlinfraError):
    """Another mlinfra run is changing the same environment."""


class DeployError(MlinfraError):
    """A rollout did not reach a healthy, stable service."""


class RolledBackError(DeployError):
    """ECS's circuit breaker rolled the rollout back: the previous task definition serves."""


class CanaryAbortedError(RolledBackError):
    """A canary was aborted (a gate failed, or a person): the stable service kept serving."""
