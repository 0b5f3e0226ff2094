"""What the CLI's commands do: each function takes an environment, does the work and returns data.

Rendering (rich or ``--json``) is :mod:`mlinfra.reports`' job; nothing here prints. Progress
goes through ``say`` callbacks, so the same functions serve the CLI and the tests.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from mlinfra import config, docker_engine, registry, tfvars
from mlinfra.errors import ConfigError, DeployError, MlinfraError
from mlinfra.logs import LogEvent, docker_tail, tail
from mlinfra.probes import Probe, probe_all
from mlinfra.terraform import PlanSummary, Stack, StalePlanError, summarize_saved_plan

ENV_VARIABLE = "MLINFRA_ENV"
STATE_BUCKET_VARIABLE = "MLINFRA_STATE_BUCKET"
EMULATOR_PORT_VARIABLE = "MLINFRA_EMULATOR_PORT"
# Applied in this order (the registry must exist before a push); destroyed in reverse.
STACKS = ("registry", "service")
STABLE_TIMEOUT_S = 600.0
LAST_BUILD = "last-build.json"

Say = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# The environment and how to reach its AWS
# ---------------------------------------------------------------------------------------------


def select_environment(name: str | None) -> config.Environment:
    """``--env``, else ``$MLINFRA_ENV``; a ConfigError listing the valid names otherwise."""
    chosen = name or os.environ.get(ENV_VARIABLE)
    if not chosen:
        raise ConfigError(
            "No environment given.",
            f"Pass --env with one of: {', '.join(config.environment_names())} "
            f"(or set {ENV_VARIABLE}).",
        )
    return config.environment(chosen)


@dataclass
class Target:
    """One environment wired to its AWS: the real one, or the emulator for ``local``."""

    env: config.Environment
    aws_env: dict[str, str]
    backend_bucket: str | None
    region: str
    emulator_endpoint: str | None = None
    # Resolving AWS credentials can mean an SSO or instance-metadata call: once per Target.
    _credentials_checked: bool = field(default=False, init=False, repr=False)

    def session(self) -> boto3.Session:
        if self.emulator_endpoint is not None:
            from mlinfra.emulator import boto3_session

            return boto3_session(self.emulator_endpoint)
        return boto3.Session(region_name=self.region)

    def stack(self, name: str) -> Stack:
        from mlinfra.terraform import terraform_cli_config

        working_dir = self.env.path / name
        if not working_dir.is_dir():
            raise ConfigError(
                f"Environment {self.env.name!r} has no {name} stack ({working_dir}).",
                f"Every environment needs {' and '.join(STACKS)} folders (docs/team-contract.md).",
            )
        if not self._credentials_checked:
            require_credentials(self)
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
        values: dict[str, str] = {"region": self.region}
        if self.backend_bucket:
            values["bucket"] = self.backend_bucket
        if not has_file:
            values["key"] = f"{self.env.name}/{stack}.tfstate"
        if self.emulator_endpoint:
            values["use_path_style"] = "true"
        return values

    def planfile(self, stack: str) -> Path:
        return self.env.state_dir / f"{stack}.tfplan"

    def var_files(self, stack: str) -> list[Path]:
        """The environment's own ``*.tfvars`` beside the stack, the values mlinfra resolved for it
        (:func:`write_stack_tfvars`), plus the image for the service."""
        files = sorted((self.env.path / stack).glob("*.tfvars"))
        files.append(tfvars.stack_tfvars_path(self.env.state_dir, stack))
        if stack == "service":
            files.append(tfvars.image_tfvars_path(self.env.state_dir))
        return files


def _port_setting(variable: str, default: int) -> int:
    value = os.environ.get(variable, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(
            f"{variable}={value!r} is not a TCP port.", f"Set {variable} to a number 1-65535."
        )
    return int(value)


PROJECT_CONFIG = "mlinfra.toml"
_SETTINGS = ("state_bucket", "region")


def environment_settings(env: config.Environment) -> dict[str, str]:
    """The optional ``[environments.<name>]`` table of ``<project>/mlinfra.toml``."""
    path = config.project_dir() / PROJECT_CONFIG
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}.", "Fix the line it names.") from err
    section = data.get("environments", {}).get(env.name, {})
    unknown = sorted(set(section) - set(_SETTINGS))
    if unknown:
        raise ConfigError(
            f"{path} sets unknown keys {unknown} for environment {env.name!r}.",
            f"Use only {', '.join(_SETTINGS)} under [environments.{env.name}].",
        )
    return {key: str(value) for key, value in section.items()}


def connect(env: config.Environment, say: Say = _quiet) -> Target:
    """Reach the environment's AWS; for ``local`` start (or reuse) the emulator first."""
    if env.is_local:
        from mlinfra import emulator

        running = emulator.start(port=_port_setting(EMULATOR_PORT_VARIABLE, emulator.DEFAULT_PORT))
        if not running.reused:
            say(f"started the AWS emulator at {running.endpoint}")
        return Target(
            env,
            emulator.client_env(running.endpoint),
            emulator.STATE_BUCKET,
            emulator.REGION,
            running.endpoint,
        )
    # The stacks' backend.hcl name the bucket; the variable or mlinfra.toml overrides it (or
    # stands in for it).
    settings = environment_settings(env)
    bucket = os.environ.get(STATE_BUCKET_VARIABLE) or settings.get("state_bucket")
    if not bucket and not all((env.path / s / "backend.hcl").exists() for s in STACKS):
        raise ConfigError(
            f"No Terraform state bucket for environment {env.name!r} (no backend.hcl).",
            f"Set {STATE_BUCKET_VARIABLE} (or state_bucket under [environments.{env.name}] in "
            f"{PROJECT_CONFIG}) to an S3 bucket you own; the state key is {env.name}/<stack>.tfstate.",
        )
    region = (
        os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or settings.get("region")
        or "us-east-1"
    )
    return Target(env, {}, bucket, region)


def require_credentials(target: Target) -> None:
    """Fail before Terraform when an AWS environment has no credentials at all.

    Terraform's own error for this is six lines about IMDS; boto3 resolves the same chain
    (variables, profiles, SSO, instance role) and returns None when it finds none.
    """
    if target.emulator_endpoint is not None:
        return
    if target.session().get_credentials() is None:
        raise ConfigError(
            f"No AWS credentials found for environment {target.env.name!r}.",
            "Set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY; check with `aws sts get-caller-identity`.",
        )


# ---------------------------------------------------------------------------------------------
# train, build, push
# ---------------------------------------------------------------------------------------------


def train(
    retrain: bool = False, model_file: Path | None = None, features: Sequence[str] | None = None
) -> Any:
    """The model artifact: a user's model file imported, or the default model trained now when
    absent (or when ``retrain``)."""
    from mlinfra import model

    if model_file is not None:
        return model.import_model(model_file, model.default_model_dir(), features)
    if retrain:
        return model.train(model.default_model_dir())
    return model.ensure_model()


def repository_name(env: config.Environment) -> str:
    return f"mlinfra-{env.name}"


DIRTY_MARK = "-dirty-"


def refuse_dirty(env: config.Environment, dirty: bool, what: str, allow_dirty: bool) -> None:
    """Staging and prod take images of a commit only: a ``-dirty`` image (uncommitted changes)
    cannot be traced back to its code."""
    if dirty and env.asks_before_changes and not allow_dirty:
        raise ConfigError(
            f"{what} comes from a tree with uncommitted changes (-dirty); {env.name} takes only "
            "images built from a commit.",
            "Commit (or stash) the changes and build again, or pass --allow-dirty.",
        )


def build(env: config.Environment, say: Say = _quiet, allow_dirty: bool = False) -> Any:
    """Build the serving image for ``env`` from the trained model artifact."""
    from mlinfra import image, model

    if env.asks_before_changes and not allow_dirty:
        revision = image.git_revision(config.project_dir())
        refuse_dirty(env, revision.dirty, f"The image of commit {revision.short}", allow_dirty)
    docker_engine.client()  # no engine: say so before the model and wheel steps

    try:
        artifact = model.ModelArtifact.load(model.default_model_dir())
    except ConfigError as err:
        raise ConfigError(
            f"No usable model artifact in {model.default_model_dir()}: {err.message}",
            "Run `mlinfra train` first (or `mlinfra deploy`, which trains when needed).",
        ) from err
    built = image.build_image(artifact, repository_name(env), progress=say)
    tfvars.write_atomic_json(
        env.state_dir / LAST_BUILD,
        {"reference": built.reference, "tag": built.tag, "image_id": built.image_id},
    )
    return built


def last_build(env: config.Environment) -> dict[str, str]:
    path = env.state_dir / LAST_BUILD
    if not path.exists():
        raise ConfigError(
            f"No image was built for environment {env.name!r} yet.",
            f"Run `mlinfra build --env {env.name}` first.",
        )
    recorded: dict[str, str] = json.loads(path.read_text())
    return recorded


def registry_login(target: Target) -> tuple[str, registry.Credentials]:
    """The repository to push to and its credentials (the local registry, or ECR)."""
    if target.env.is_local:
        local = registry.LocalRegistry(
            config.state_dir() / "registry",
            port=_port_setting(registry.PORT_ENV, registry.DEFAULT_PORT),
        )
        local.start()
        return f"{local.address}/{repository_name(target.env)}", local.credentials()
    repository_url = target.stack("registry").outputs().get("repository_url")
    if not repository_url:
        raise DeployError(
            f"The registry stack of {target.env.name!r} has no repository_url output yet.",
            f"Apply it first: `mlinfra plan --env {target.env.name}` then `mlinfra apply`.",
        )
    session = target.session()
    return repository_url, registry.ecr_credentials(
        repository_url, {"region_name": session.region_name}
    )


def check_pushable(env: config.Environment, allow_dirty: bool = False) -> dict[str, str]:
    """The last build, when it may go to ``env``'s registry."""
    built = last_build(env)
    refuse_dirty(env, DIRTY_MARK in built["tag"], f"The image {built['reference']}", allow_dirty)
    return built


def push(
    target: Target,
    on_progress: Callable[[registry.LayerProgress], None] = lambda _: None,
    allow_dirty: bool = False,
) -> registry.PushResult:
    """Push the last built image and record its URI for the service stack's next plan."""
    built = check_pushable(target.env, allow_dirty)
    repository, credentials = registry_login(target)
    result = registry.push(built["reference"], repository, built["tag"], credentials, on_progress)
    existing = release_tags(target, repository, credentials)
    result = registry.add_release_tag(result, credentials, existing)
    tfvars.write_image_tfvars(target.env.state_dir, result.image)
    return result


def release_tags(
    target: Target, repository: str, credentials: registry.Credentials
) -> dict[str, str]:
    """The repository's ``release-<k>`` tags and their digests: the local registry's tag list,
    or ECR's ListImages."""
    host, name = repository.split("/", 1)
    if target.env.is_local:
        return registry.local_release_tags(host, name, credentials)
    try:
        return registry.ecr_release_tags(target.session().client("ecr"), name)
    except (ClientError, BotoCoreError) as err:
        raise DeployError(
            f"ECR did not list the images of {name}: {err}",
            "Check the AWS credentials' ecr:ListImages permission.",
        ) from err


# ---------------------------------------------------------------------------------------------
# The generated variables of each stack, and the API key
# ---------------------------------------------------------------------------------------------

API_KEY_SECRET_OUTPUT = "api_key_secret_arn"
API_KEY_VERSION_VARIABLE = "api_key_version_id"
API_KEY_SWITCH = "api_key_required"
# The serving app refuses shorter keys (serving/mlinfra_serving/auth.py's MIN_KEY_LENGTH).
MIN_API_KEY_LENGTH = 16
_CURRENT = "AWSCURRENT"


def write_stack_tfvars(target: Target, stack: str, for_destroy: bool = False) -> Path:
    """Write the values mlinfra resolves for ``stack``'s next plan: the region (one for the
    provider, the backend and boto3) and, for the service when the environment has an API key
    secret, its AWSCURRENT version id, so that a new key makes a new task definition revision.

    Never the key itself: only its version id reaches Terraform."""
    values: dict[str, Any] = {"region": target.region}
    if stack == "service" and not for_destroy:
        arn = api_key_secret_arn(target)
        if arn is not None:
            values[API_KEY_VERSION_VARIABLE] = current_api_key_version(target, arn)
    return tfvars.write_atomic_json(tfvars.stack_tfvars_path(target.env.state_dir, stack), values)


def api_key_secret_arn(target: Target) -> str | None:
    """The registry stack's ``api_key_secret_arn`` output: None before its apply, or when the
    environment has no API key."""
    value = target.stack("registry").outputs().get(API_KEY_SECRET_OUTPUT)
    return str(value) if value else None


def _secrets_call(target: Target, doing: str, call: Callable[[Any], dict[str, Any]]) -> Any:
    try:
        return call(target.session().client("secretsmanager"))
    except (ClientError, BotoCoreError) as err:
        # NOTE: botocore's messages name the call and the secret, never a SecretString.
        raise DeployError(
            f"Secrets Manager refused to {doing} for {target.env.name!r}: {err}",
            "Check the AWS credentials' secretsmanager permissions and the registry stack "
            f"(`mlinfra outputs --env {target.env.name}`).",
        ) from err


def current_api_key_version(target: Target, arn: str) -> str:
    """The version id of the secret's AWSCURRENT value; a DeployError when it has none yet."""
    described = _secrets_call(
        target, "describe the API key secret", lambda sm: sm.describe_secret(SecretId=arn)
    )
    for version_id, stages in (described.get("VersionIdsToStages") or {}).items():
        if _CURRENT in stages:
            return str(version_id)
    raise DeployError(
        f"The API key of {target.env.name} is not set.",
        f"Run `mlinfra secret set --env {target.env.name}`.",
    )


def require_api_key_secret(target: Target) -> str:
    arn = api_key_secret_arn(target)
    if arn is None:
        raise ConfigError(
            f"Environment {target.env.name!r} has no API key secret (the registry stack's "
            f"{API_KEY_SECRET_OUTPUT} output is null or not applied yet).",
            f"Turn it on with {API_KEY_SWITCH} = true (or TF_VAR_{API_KEY_SWITCH}=true), then "
            f"`mlinfra plan --env {target.env.name}` and `mlinfra apply --env {target.env.name}`.",
        )
    return arn


def check_api_key(value: str) -> None:
    if len(value) < MIN_API_KEY_LENGTH:
        # NOTE: the length only; the value is never echoed.
        raise ConfigError(
            f"The API key is {len(value)} characters long; it needs at least {MIN_API_KEY_LENGTH}.",
            "Give a longer key, or let `mlinfra secret rotate` make one.",
        )


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


def _put_api_key(target: Target, arn: str, value: str) -> str:
    put = _secrets_call(
        target,
        "store the API key",
        lambda sm: sm.put_secret_value(SecretId=arn, SecretString=value),
    )
    return str(put["VersionId"])


def set_api_key(target: Target, value: str) -> SecretResult:
    """Store ``value`` as the AWSCURRENT version of the environment's API key secret.

    The running tasks keep the key they started with until the next service apply (deploy,
    or ``secret rotate``), which pins the new version id.
    """
    check_api_key(value)
    arn = require_api_key_secret(target)
    return SecretResult(target.env.name, arn, _put_api_key(target, arn, value))


def rotate_api_key(target: Target, say: Say = _quiet) -> SecretResult:
    """Store a new random key, then plan and apply the service stack with its version id (a
    new task definition revision: Terraform rolls the tasks) and wait for the rollout."""
    arn = require_api_key_secret(target)
    deployed = bool(target.stack("service").outputs().get("service_name"))
    if deployed and tfvars.read_image_tfvars(target.env.state_dir) is None:
        raise ConfigError(
            f"No pushed image is recorded for {target.env.name!r}, so the service cannot be "
            "planned with the new key.",
            f"Run `mlinfra push --env {target.env.name}` (or `mlinfra deploy`) first.",
        )
    version_id = _put_api_key(target, arn, secrets.token_urlsafe(32))
    say(f"stored a new API key version {version_id}")
    if not deployed:
        return SecretResult(target.env.name, arn, version_id)
    plan(target, ["service"], say)
    say("applying the service stack")
    apply_stack(target, "service", say)
    wait_stable(target, say)
    rolled = ApplyResult(target.env.name, ("service",), status(target))
    return SecretResult(target.env.name, arn, version_id, rolled)


# ---------------------------------------------------------------------------------------------
# plan, apply
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanResult:
    """The saved plans of an environment's stacks; ``waiting`` names stacks not planned, and why."""

    env: str
    plans: tuple[PlanSummary, ...]
    waiting: dict[str, str] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return any(p.has_changes for p in self.plans)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "has_changes": self.has_changes,
            "plans": [p.to_dict() for p in self.plans],
            "waiting": self.waiting,
        }


def plan_stack(target: Target, stack: str, destroy: bool = False) -> PlanSummary:
    return target.stack(stack).plan(target.planfile(stack), target.var_files(stack), destroy)


def plan(target: Target, stacks: Sequence[str] = STACKS, say: Say = _quiet) -> PlanResult:
    """Plan each stack to its saved plan; the service waits until an image was pushed."""
    waiting: dict[str, str] = {}
    # Read before any plan: a bad image file must not leave the registry's plan half a set.
    image = tfvars.read_image_tfvars(target.env.state_dir) if "service" in stacks else None
    ready: list[str] = []
    generated = [tfvars.stack_tfvars_path(target.env.state_dir, s) for s in stacks]
    with tfvars.restored_on_failure(generated):
        for stack in stacks:
            if stack == "service" and image is None:
                target.planfile(stack).unlink(missing_ok=True)
                waiting[stack] = f"no image pushed yet: run `mlinfra push --env {target.env.name}`"
                continue
            # NOTE: init one at a time: Terraform's plugin cache is not safe for concurrent fills.
            target.stack(stack).init()
            write_stack_tfvars(target, stack)
            ready.append(stack)
        # PERF: the stacks have separate states, so their plans (each mostly Terraform starting
        # the provider and refreshing) run side by side.
        for stack in ready:
            say(f"planning the {stack} stack")
        with ThreadPoolExecutor(max_workers=max(1, len(ready))) as pool:
            plans = list(pool.map(lambda name: plan_stack(target, name), ready))
    return PlanResult(target.env.name, tuple(plans), waiting)


def _check_plan_image(target: Target, stack: Stack, planfile: Path) -> None:
    """Refuse a service plan made for another image than the last one pushed."""
    pushed = tfvars.read_image_tfvars(target.env.state_dir)
    planned = stack.show_json(planfile).get("variables", {}).get("container_image", {})
    if pushed and planned.get("value") not in (None, pushed):
        raise StalePlanError(
            f"The saved service plan deploys {planned['value']}, but the last push was {pushed}.",
            f"Make a new plan: `mlinfra plan --env {target.env.name}`.",
        )


# Terraform's lines worth showing while it applies (one per resource, and the slow ones' ticks).
_PROGRESS_LINE = re.compile(
    r": (Creation|Modifications|Destruction) complete|: Still (creating|modifying|destroying)"
)


def _terraform_progress(say: Say) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        if _PROGRESS_LINE.search(line):
            say(line)

    return on_line


def apply_stack(target: Target, stack_name: str, say: Say = _quiet) -> None:
    """Apply a stack's saved plan (only if still current), then retire the plan file."""
    stack = target.stack(stack_name)
    planfile = target.planfile(stack_name)
    if stack_name == "service" and planfile.exists():
        _check_plan_image(target, stack, planfile)
    stack.apply(planfile, _terraform_progress(say))
    # An applied plan is stale by definition; keeping it would only invite a second apply.
    planfile.unlink(missing_ok=True)


@dataclass(frozen=True)
class ApplyResult:
    env: str
    applied: tuple[str, ...]
    status: StatusReport | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "applied": list(self.applied),
            "status": self.status.to_dict() if self.status else None,
        }


def apply(target: Target, say: Say = _quiet) -> ApplyResult:
    """Apply the saved plans in stack order, then wait for the service to be stable."""
    pending = [s for s in STACKS if target.planfile(s).exists()]
    if not pending:
        raise ConfigError(
            f"No saved plan for environment {target.env.name!r}.",
            f"Run `mlinfra plan --env {target.env.name}` first.",
        )
    for stack in pending:
        say(f"applying the {stack} stack")
        apply_stack(target, stack, say)
    report = None
    if "service" in pending:
        wait_stable(target, say)
        report = status(target)
    return ApplyResult(target.env.name, tuple(pending), report)


# ---------------------------------------------------------------------------------------------
# Waiting for stability
# ---------------------------------------------------------------------------------------------


def _run_locally(target: Target, outputs: dict[str, Any], say: Say) -> None:
    """Hand the applied service to the local runtime (the emulator runs no containers)."""
    from mlinfra import local_runtime

    _repository, credentials = registry_login(target)
    local_runtime.converge(
        target.emulator_endpoint or "",
        env=target.env.runtime_name,
        cluster=outputs["cluster_name"],
        service=outputs["service_name"],
        auth_config=credentials.auth_config(),
        say=say,
    )


def applied_revision(target: Target, service_name: str) -> str | None:
    """The task definition the service stack's state gives ``service_name``: what the apply
    just asked ECS to run (None when the state holds no such service)."""
    for service in target.stack("service").resources("aws_ecs_service"):
        if service.get("name") == service_name and service.get("task_definition"):
            return str(service["task_definition"])
    return None


def wait_stable(target: Target, say: Say = _quiet, timeout_s: float = STABLE_TIMEOUT_S) -> None:
    """Wait until the ECS service runs its desired count of the task definition just applied
    (rollout COMPLETED); a DeployError with why the tasks stopped when it was rolled back."""
    outputs = target.stack("service").outputs()
    if target.env.is_local:
        _run_locally(target, outputs, say)
    session = target.session()
    wait_for_rollout(
        session.client("ecs"),
        outputs["cluster_name"],
        outputs["service_name"],
        target.env.name,
        say,
        timeout_s,
        task_definition=applied_revision(target, outputs["service_name"]),
        logs=session.client("logs"),
    )


def _revision(task_definition: str) -> str:
    """``family:revision`` of a task definition ARN (or of ``family:revision`` itself)."""
    return task_definition.rsplit("/", 1)[-1]


def wait_for_rollout(
    ecs: Any,
    cluster: str,
    service_name: str,
    env_name: str,
    say: Say = _quiet,
    timeout_s: float = STABLE_TIMEOUT_S,
    poll_s: float = 5.0,
    *,
    task_definition: str | None = None,
    logs: Any = None,
) -> None:
    """Poll DescribeServices until the rollout of ``task_definition`` is COMPLETED and the
    running tasks run it (and its image); DeployError when the rollout FAILED (the circuit
    breaker tripped), when the service was rolled back to another revision, or when
    ``timeout_s`` passes. ``task_definition`` None waits for whatever revision is primary.

    ``logs`` (a CloudWatch Logs client) adds the last log lines of the stopped tasks to a
    failure."""
    deadline = time.monotonic() + timeout_s
    expected = _describe_revision(ecs, task_definition) if task_definition else None
    seen = ""
    while True:
        service = _describe_service(ecs, cluster, service_name)
        primary = _primary_deployment(service)
        line = (
            f"service {service['serviceName']}: {service.get('runningCount', 0)}/"
            f"{service.get('desiredCount', 0)} running, {service.get('pendingCount', 0)} pending, "
            f"rollout {primary.get('rolloutState', 'unknown')}"
        )
        if line != seen:
            say(line)
            seen = line
        failure = _rollout_failure(service, expected)
        if failure is not None:
            raise _rollout_error(ecs, logs, cluster, service, failure, expected, env_name)
        if _is_stable(service) and _tasks_run(ecs, cluster, service, expected):
            return
        if time.monotonic() > deadline:
            raise DeployError(
                f"The service did not become stable within {timeout_s:.0f} s ({line}).",
                f"Look at `mlinfra status --env {env_name}` and `mlinfra logs`.",
            )
        time.sleep(poll_s)


def _describe_revision(ecs: Any, task_definition: str) -> dict[str, Any]:
    described: dict[str, Any] = ecs.describe_task_definition(taskDefinition=task_definition)[
        "taskDefinition"
    ]
    return described


def _rollout_failure(service: dict[str, Any], expected: dict[str, Any] | None) -> str | None:
    """Why the rollout cannot succeed any more, or None while it still can.

    NOTE: after the circuit breaker trips, ECS rolls back to the last completed deployment,
    which then completes: without these checks the wait would end "stable" on the old image.
    """
    deployments = service.get("deployments", [])
    failed = [d for d in deployments if d.get("rolloutState") == "FAILED"]
    if expected is not None:
        wanted = _revision(expected["taskDefinitionArn"])
        # An older revision's failed deployment may linger beside a new rollout.
        failed = [d for d in failed if _revision(d.get("taskDefinition", "")) == wanted]
    if failed:
        return (
            f"The rollout of {failed[0].get('taskDefinition', '?')} failed: "
            f"{failed[0].get('rolloutStateReason') or 'no reason given'}"
        )
    primary = _primary_deployment(service)
    if expected is not None and primary:
        running = _revision(primary.get("taskDefinition", ""))
        if running != _revision(expected["taskDefinitionArn"]):
            # The failed deployment may already be gone from the list (ECS drops it soon).
            return (
                f"The service's primary deployment runs {running}, not "
                f"{_revision(expected['taskDefinitionArn'])} just applied: it was rolled back "
                "(or changed by someone else)."
            )
    return None


def _task_image_ok(task: dict[str, Any], expected: dict[str, Any]) -> bool:
    wanted = {c["name"]: c.get("image") for c in expected.get("containerDefinitions", [])}
    return all(
        c.get("image") in (None, wanted.get(c.get("name"))) for c in task.get("containers", [])
    )


def _tasks_run(
    ecs: Any, cluster: str, service: dict[str, Any], expected: dict[str, Any] | None
) -> bool:
    """Whether every task ECS means to keep running for the service (desired RUNNING) runs
    ``expected`` and its image.

    The emulator runs no tasks (and reports none); its counts come from the local runtime,
    which runs only the service's current revision.
    """
    if expected is None:
        return True
    pages = ecs.get_paginator("list_tasks").paginate(
        cluster=cluster, serviceName=service["serviceName"], desiredStatus="RUNNING"
    )
    arns = [arn for page in pages for arn in page.get("taskArns", [])]
    if not arns:
        return True
    wanted = _revision(expected["taskDefinitionArn"])
    for chunk in range(0, len(arns), 100):
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[chunk : chunk + 100])["tasks"]
        for task in tasks:
            if task.get("desiredStatus", "RUNNING") != "RUNNING":
                continue  # being stopped: the roll replaced it
            if _revision(task.get("taskDefinitionArn", "")) != wanted:
                return False
            if not _task_image_ok(task, expected):
                return False
    return True


STOPPED_TASKS_SHOWN = 3
LOG_LINES_SHOWN = 5


def _rollout_error(
    ecs: Any,
    logs: Any,
    cluster: str,
    service: dict[str, Any],
    failure: str,
    expected: dict[str, Any] | None,
    env_name: str,
) -> DeployError:
    lines = [failure, *_stopped_tasks(ecs, logs, cluster, service, expected)]
    return DeployError(
        "\n".join(lines),
        "ECS's circuit breaker rolls the service back to the previous task definition; "
        f"read why the new tasks failed with `mlinfra logs --env {env_name}`, fix, and deploy "
        "again.",
    )


def _stopped_tasks(
    ecs: Any,
    logs: Any,
    cluster: str,
    service: dict[str, Any],
    expected: dict[str, Any] | None,
) -> list[str]:
    """Why the service's stopped tasks (of ``expected`` when given) stopped: ECS's reason, each
    container's exit code and reason, and the last lines of the task's awslogs stream."""
    try:
        arns = ecs.list_tasks(
            cluster=cluster, serviceName=service["serviceName"], desiredStatus="STOPPED"
        ).get("taskArns", [])
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"] if arns else []
    except (ClientError, BotoCoreError) as err:
        return [f"  (the stopped tasks could not be read: {err})"]
    if expected is not None:
        wanted = _revision(expected["taskDefinitionArn"])
        tasks = [t for t in tasks if _revision(t.get("taskDefinitionArn", "")) == wanted]
    tasks.sort(key=lambda t: str(t.get("stoppedAt") or ""), reverse=True)
    if not tasks:
        return ["  no stopped task of that revision is reported (ECS keeps them about an hour)"]
    lines: list[str] = []
    for task in tasks[:STOPPED_TASKS_SHOWN]:
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        lines.append(f"  task {task_id} stopped: {task.get('stoppedReason') or 'no reason given'}")
        for container in task.get("containers", []):
            code = container.get("exitCode")
            reason = f" ({container['reason']})" if container.get("reason") else ""
            lines.append(f"    container {container.get('name')}: exit code {code}{reason}")
        lines += [f"    | {m}" for m in _task_log_tail(logs, task, task_id, expected)]
    return lines


def _task_log_tail(
    logs: Any, task: dict[str, Any], task_id: str, expected: dict[str, Any] | None
) -> list[str]:
    """The last lines of the task's awslogs streams (``prefix/container/task-id``)."""
    if logs is None:
        return []
    definition = expected
    if definition is None or task.get("taskDefinitionArn") != definition["taskDefinitionArn"]:
        return []
    found: list[str] = []
    for container in definition.get("containerDefinitions", []):
        config_ = container.get("logConfiguration") or {}
        options = config_.get("options") or {}
        if config_.get("logDriver") != "awslogs" or "awslogs-group" not in options:
            continue
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{container['name']}/{task_id}" if prefix else task_id
        try:
            events = logs.get_log_events(
                logGroupName=options["awslogs-group"],
                logStreamName=stream,
                limit=LOG_LINES_SHOWN,
                startFromHead=False,
            )["events"]
        except (ClientError, BotoCoreError):
            continue  # no stream: the task never started its container
        found += [str(e["message"]).rstrip() for e in events]
    return found[-LOG_LINES_SHOWN:]


def _describe_service(ecs: Any, cluster: str, service: str) -> dict[str, Any]:
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not found:
        raise DeployError(
            f"ECS service {service!r} not found in cluster {cluster!r}.",
            "Apply the service stack (`mlinfra apply --env ENV`).",
        )
    described: dict[str, Any] = found[0]
    return described


def _primary_deployment(service: dict[str, Any]) -> dict[str, Any]:
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})


def _is_stable(service: dict[str, Any]) -> bool:
    # The same test as boto3's services_stable waiter, plus the rollout state AWS reports.
    deployments = service.get("deployments", [])
    return (
        len(deployments) == 1
        and service.get("runningCount") == service.get("desiredCount")
        and _primary_deployment(service).get("rolloutState", "COMPLETED") == "COMPLETED"
    )


# ---------------------------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusReport:
    """What runs where: the URL, the ALB, the ECS service, the image and live probes."""

    env: str
    deployed: bool
    url: str | None
    healthy: bool
    service: dict[str, Any] = field(default_factory=dict)
    listeners: tuple[dict[str, Any], ...] = ()
    targets: tuple[dict[str, Any], ...] = ()
    image: str | None = None
    probes: tuple[Probe, ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "deployed": self.deployed,
            "url": self.url,
            "healthy": self.healthy,
            "service": self.service,
            "listeners": list(self.listeners),
            "targets": list(self.targets),
            "image": self.image,
            "probes": [p.to_dict() for p in self.probes],
            "outputs": self.outputs,
        }


def _service_summary(ecs: Any, outputs: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    service = _describe_service(ecs, outputs["cluster_name"], outputs["service_name"])
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    containers = definition["taskDefinition"].get("containerDefinitions", [])
    summary = {
        "name": service["serviceName"],
        "cluster": outputs["cluster_name"],
        "desired": service.get("desiredCount", 0),
        "running": service.get("runningCount", 0),
        "pending": service.get("pendingCount", 0),
        "rollout_state": _primary_deployment(service).get("rolloutState"),
        "task_definition": service["taskDefinition"].rsplit("/", 1)[-1],
    }
    return summary, containers[0]["image"] if containers else None


def _load_balancing(
    elbv2: Any, target_group_arn: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    group = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"][0]
    listeners = [
        {"port": listener["Port"], "protocol": listener["Protocol"]}
        for arn in group.get("LoadBalancerArns", [])
        for listener in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
    ]
    health = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
    targets = [
        {
            "id": item["Target"]["Id"],
            "port": item["Target"].get("Port"),
            "state": item["TargetHealth"]["State"],
            "reason": item["TargetHealth"].get("Reason"),
        }
        for item in health["TargetHealthDescriptions"]
    ]
    return listeners, targets


def public_url(target: Target, outputs: dict[str, Any]) -> str | None:
    """A URL that answers from this machine: the local proxy, or the ALB's ``service_url``."""
    if target.env.is_local:
        from mlinfra import local_runtime

        return local_runtime.status(target.env.runtime_name).url
    return outputs.get("service_url")


def status(target: Target) -> StatusReport:
    """Read the service stack's outputs, the ECS service, the ALB, and probe the URL."""
    outputs = target.stack("service").outputs()
    if not outputs.get("service_name"):
        return StatusReport(target.env.name, deployed=False, url=None, healthy=False)
    session = target.session()
    service, image = _service_summary(session.client("ecs"), outputs)
    listeners, targets = _load_balancing(session.client("elbv2"), outputs["target_group_arn"])
    url = public_url(target, outputs)
    probes = tuple(probe_all(url)) if url else ()
    return StatusReport(
        env=target.env.name,
        deployed=True,
        url=url,
        healthy=bool(probes) and all(p.ok for p in probes),
        service=service,
        listeners=tuple(listeners),
        targets=tuple(targets),
        image=image,
        probes=probes,
        outputs=outputs,
    )


# ---------------------------------------------------------------------------------------------
# deploy, destroy, outputs, logs
# ---------------------------------------------------------------------------------------------


Confirm = Callable[[PlanResult, str], None]


def deploy(
    target: Target,
    say: Say = _quiet,
    on_layer: Callable[[registry.LayerProgress], None] = lambda _: None,
    confirm: Confirm | None = None,
    allow_dirty: bool = False,
) -> ApplyResult:
    """train if needed, build, registry stack, push, service stack, wait, status.

    ``confirm`` (staging and prod, without --yes) sees each saved plan before anything changes
    and raises to stop: the registry's when it has changes (the service can only be planned
    against an applied registry), then the service's, planned for the image about to be pushed
    and before the push.
    """
    artifact = train()
    say(f"model {artifact.version} (sha256 {artifact.sha8})")
    built = build(target.env, say, allow_dirty)
    say(f"image {built.reference}")
    registry_plan = plan(target, ["registry"], say)
    if confirm is not None and registry_plan.has_changes:
        confirm(registry_plan, "Apply the registry stack")
    say("applying the registry stack")
    apply_stack(target, "registry", say)
    if confirm is not None:
        _plan_for_the_next_push(target, say, confirm)
    pushed = push(target, on_layer, allow_dirty)
    say(f"pushed {pushed.image} ({pushed.digest})")
    if confirm is None:
        plan(target, ["service"], say)
    say("applying the service stack")
    apply_stack(target, "service", say)
    wait_stable(target, say)
    return ApplyResult(target.env.name, STACKS, status(target))


def _plan_for_the_next_push(target: Target, say: Say, confirm: Confirm) -> None:
    """Plan the service stack for the image the push will make (repository:tag are known
    before it) and show it to ``confirm`` before anything reaches the registry; the recorded
    image comes back as it was when the plan fails or is refused."""
    repository, _credentials = registry_login(target)
    try:
        with tfvars.restored_on_failure([tfvars.image_tfvars_path(target.env.state_dir)]):
            tag = last_build(target.env)["tag"]
            tfvars.write_image_tfvars(target.env.state_dir, f"{repository}:{tag}")
            confirm(plan(target, ["service"], say), "Push the image and apply the service stack")
    except BaseException:
        target.planfile("service").unlink(missing_ok=True)
        raise


def saved_plans(target: Target) -> PlanResult:
    """What the saved plans would do (``terraform show -json`` of each), for ``apply`` to show
    before it asks."""
    plans = tuple(
        summarize_saved_plan(target.stack(s).show_json(target.planfile(s)), s, target.planfile(s))
        for s in STACKS
        if target.planfile(s).exists()
    )
    return PlanResult(target.env.name, plans)


def destroy(target: Target, say: Say = _quiet) -> list[PlanSummary]:
    """Destroy the service stack, stop what runs locally, then destroy the registry stack."""
    removed: list[PlanSummary] = []
    for stack_name in reversed(STACKS):
        stack = target.stack(stack_name)
        if not stack.outputs():
            say(f"the {stack_name} stack holds nothing")
            continue
        write_stack_tfvars(target, stack_name, for_destroy=True)
        files = [f for f in target.var_files(stack_name) if f.exists()]
        if stack_name == "service" and tfvars.read_image_tfvars(target.env.state_dir) is None:
            files.append(_destroy_image_tfvars(target))
        say(f"destroying the {stack_name} stack")
        removed.append(stack.destroy(target.planfile(stack_name), files, _terraform_progress(say)))
        target.planfile(stack_name).unlink(missing_ok=True)
        if stack_name == "service" and target.env.is_local:
            _stop_local(target.env.runtime_name, say)
    return removed


def _destroy_image_tfvars(target: Target) -> Path:
    # The service stack requires container_image even to plan its destruction, which never
    # reads it; without a recorded push (state folder wiped, say) any tagged value will do.
    return tfvars.write_atomic_json(
        target.env.state_dir / "destroy.tfvars.json", {"container_image": "unknown:destroy"}
    )


def _stop_local(env: str, say: Say) -> None:
    from mlinfra import local_runtime

    say(f"removed {local_runtime.stop_all(env)} local container(s) (the tasks and the proxy)")


def down(env: config.Environment, say: Say = _quiet) -> dict[str, Any]:
    """Stop the local environment's processes: tasks, proxy, registry, emulator.

    The emulated AWS (and the Terraform state kept in it) goes with the emulator; the model,
    the registry's images and the build caches stay on disk.
    """
    if not env.is_local:
        raise ConfigError(
            f"`down` stops the local environment's processes; {env.name!r} runs on AWS.",
            f"To remove {env.name}'s infrastructure, run `mlinfra destroy --env {env.name}`.",
        )
    from mlinfra import emulator, local_runtime

    stopped = {
        "containers": local_runtime.stop_all(env.runtime_name),  # the tasks and the proxy
        "registry": registry.LocalRegistry(
            config.state_dir() / "registry",
            port=_port_setting(registry.PORT_ENV, registry.DEFAULT_PORT),
        ).stop(),
        "emulator": emulator.stop(),
    }
    for plan_file in env.state_dir.glob("*.tfplan"):
        # Their state lived in the emulator: they can never apply again.
        plan_file.unlink()
    say(f"stopped: {stopped}")
    return stopped


def prune_plan(env: config.Environment, keep: int) -> Any:
    """The environment's local images beyond the newest ``keep``; its last build always stays."""
    from mlinfra import image

    try:
        protect = [last_build(env)["image_id"]]
    except (ConfigError, KeyError):  # nothing built yet (or recorded before ids were)
        protect = []
    return image.plan_prune(repository_name(env), keep, protect)


def prune(plan: Any) -> int:
    """Remove what ``plan`` (from prune_plan) marks for removal; the bytes freed on disk."""
    from mlinfra import image

    return image.prune_images(plan)


def outputs(target: Target) -> dict[str, dict[str, Any]]:
    """Every stack's Terraform outputs."""
    return {stack: target.stack(stack).outputs() for stack in STACKS}


def logs(target: Target, since: timedelta, limit: int) -> list[LogEvent]:
    """The service's latest CloudWatch log events."""
    group = target.stack("service").outputs().get("log_group_name")
    if not group:
        raise MlinfraError(
            f"Environment {target.env.name!r} has no log group yet (no log_group_name output).",
            f"Deploy first: `mlinfra deploy --env {target.env.name}`.",
        )
    start = datetime.now(UTC) - since
    events = tail(target.session().client("logs"), group, start, limit)
    if target.env.is_local:
        from mlinfra import local_runtime

        tasks = [t.container for t in local_runtime.status(target.env.runtime_name).tasks]
        events = sorted([*events, *docker_tail(tasks, start, limit)], key=lambda e: e.timestamp)
        events = events[-limit:] if limit > 0 else events
    return events
