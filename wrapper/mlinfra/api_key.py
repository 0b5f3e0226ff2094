"""The environment's API key in Secrets Manager: its ARN (a registry stack output), its current
version, and writing a new value. The value is never returned, logged or written to a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from mlinfra.errors import ConfigError, DeployError

if TYPE_CHECKING:
    from mlinfra.connection import Connection
    from mlinfra.plans import ApplyResult

SECRET_OUTPUT = "api_key_secret_arn"
VERSION_VARIABLE = "api_key_version_id"
SWITCH = "api_key_required"
# The serving app refuses shorter keys (serving/mlinfra_serving/auth.py's MIN_KEY_LENGTH).
MIN_API_KEY_LENGTH = 16
_CURRENT = "AWSCURRENT"


@dataclass(frozen=True)
class SecretResult:
    """Where an API key went: the secret and the new version (never the value)."""

    env: str
    secret_arn: str
    version_id: str
    rolled: ApplyResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "secret_arn": self.secret_arn,
            "version_id": self.version_id,
            "rolled": self.rolled.to_dict() if self.rolled else None,
        }


def check_api_key(value: str) -> None:
    if len(value) < MIN_API_KEY_LENGTH:
        # NOTE: the length only; the value is never echoed.
        raise ConfigError(
            f"The API key is {len(value)} characters long; it needs at least {MIN_API_KEY_LENGTH}.",
            "Give a longer key, or let `mlinfra secret rotate` make one.",
        )


def secret_arn(connection: Connection) -> str | None:
    """The registry stack's ``api_key_secret_arn`` output: None before its apply, or when the
    environment has no API key."""
    value = connection.stack("registry").outputs().get(SECRET_OUTPUT)
    return str(value) if value else None


def require_secret(connection: Connection) -> str:
    arn = secret_arn(connection)
    if arn is None:
        env = connection.env.name
        raise ConfigError(
            f"Environment {env!r} has no API key secret (the registry stack's "
            f"{SECRET_OUTPUT} output is null or not applied yet).",
            f"Turn it on with {SWITCH} = true (or TF_VAR_{SWITCH}=true), then "
            f"`mlinfra plan --env {env}` and `mlinfra apply --env {env}`.",
        )
    return arn


def _secrets_call(
    connection: Connection, doing: str, call: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    try:
        return call(connection.session().client("secretsmanager"))
    except (ClientError, BotoCoreError) as err:
        # NOTE: botocore's messages name the call and the secret, never a SecretString.
        env = connection.env.name
        raise DeployError(
            f"Secrets Manager refused to {doing} for {env!r}: {err}",
            "Check the AWS credentials' secretsmanager permissions and the registry stack "
            f"(`mlinfra outputs --env {env}`).",
        ) from err


def current_version(connection: Connection, arn: str) -> str:
    """The version id of the secret's AWSCURRENT value; a DeployError when it has none yet."""
    described = _secrets_call(
        connection, "describe the API key secret", lambda sm: sm.describe_secret(SecretId=arn)
    )
    for version_id, stages in (described.get("VersionIdsToStages") or {}).items():
        if _CURRENT in stages:
            return str(version_id)
    raise DeployError(
        f"The API key of {connection.env.name} is not set.",
        f"Run `mlinfra secret set --env {connection.env.name}`.",
    )


def put_value(connection: Connection, arn: str, value: str) -> str:
    """Store ``value`` as the secret's AWSCURRENT version; its version id."""
    put = _secrets_call(
        connection,
        "store the API key",
        lambda sm: sm.put_secret_value(SecretId=arn, SecretString=value),
    )
    return str(put["VersionId"])
