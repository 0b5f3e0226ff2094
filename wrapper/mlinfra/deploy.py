"""What the CLI's commands do: each function takes an environment (or its connection), does the
work and returns data.

Rendering (rich or ``--json``) is :mod:`mlinfra.reports`' job; nothing here prints. Progress
goes through ``say`` callbacks, so the same functions serve the CLI and the tests. The steps
live in their own modules: settings in :mod:`mlinfra.config`, the AWS connection in
:mod:`mlinfra.connection`, what differs locally in :mod:`mlinfra.runtime`, Terraform's steps in
:mod:`mlinfra.plans`, the rollout wait in :mod:`mlinfra.rollout`, ``status`` in
:mod:`mlinfra.status`.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlinfra import api_key, builds, config, docker_engine, plans, registry, rollout, tfvars
from mlinfra import status as status_
from mlinfra.api_key import SecretResult
from mlinfra.connection import STACKS, Connection, connect, repository_name
from mlinfra.errors import ConfigError, MlinfraError
from mlinfra.loadtest import Target
from mlinfra.logs import LogEvent, tail
from mlinfra.plans import ApplyResult, PlanResult
from mlinfra.status import StatusReport
from mlinfra.terraform import PlanSummary

__all__ = [
    "STACKS",
    "ApplyResult",
    "Confirm",
    "Connection",
    "PlanResult",
    "SecretResult",
    "StatusReport",
    "apply",
    "bench_target",
    "build",
    "connect",
    "deploy",
    "destroy",
    "down",
    "logs",
    "outputs",
    "plan",
    "prune",
    "prune_plan",
    "push",
    "rotate_api_key",
    "saved_plans",
    "set_api_key",
    "status",
    "train",
    "wait_stable",
]

Say = Callable[[str], None]
Confirm = Callable[[PlanResult, str], None]


def _quiet(_line: str) -> None:
    pass


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


def build(env: config.Environment, say: Say = _quiet, allow_dirty: bool = False) -> Any:
    """Build the serving image for ``env`` from the trained model artifact."""
    from mlinfra import image, model

    if env.asks_before_changes and not allow_dirty:
        revision = image.git_revision(config.project_dir())
        builds.refuse_dirty(
            env, revision.dirty, f"The image of commit {revision.short}", allow_dirty
        )
    docker_engine.client()  # no engine: say so before the model and wheel steps

    try:
        artifact = model.load_artifact(model.default_model_dir())
    except ConfigError as err:
        raise ConfigError(
            f"No usable model artifact in {model.default_model_dir()}: {err.message}",
            "Run `mlinfra train` first (or `mlinfra deploy`, which trains when needed).",
        ) from err
    built = image.build_image(artifact, repository_name(env), progress=say)
    builds.record(env, built)
    return built


def push(
    connection: Connection,
    on_progress: Callable[[registry.LayerProgress], None] = lambda _: None,
    allow_dirty: bool = False,
) -> registry.PushResult:
    """Push the last built image and record its URI for the service stack's next plan."""
    built = builds.check_pushable(connection.env, allow_dirty)
    repository, credentials = connection.registry_login()
    result = registry.push(built["reference"], repository, built["tag"], credentials, on_progress)
    existing = connection.release_tags(repository, credentials)
    result = registry.add_release_tag(result, credentials, existing)
    tfvars.write_image_tfvars(connection.env.state_dir, result.image)
    return result


# ---------------------------------------------------------------------------------------------
# plan, apply, and the wait for a stable service
# ---------------------------------------------------------------------------------------------


def plan(connection: Connection, stacks: Sequence[str] = STACKS, say: Say = _quiet) -> PlanResult:
    """Plan each stack to its saved plan; the service waits until an image was pushed."""
    return plans.plan(connection, stacks, say)


def saved_plans(connection: Connection) -> PlanResult:
    return plans.saved_plans(connection)


def apply(connection: Connection, say: Say = _quiet) -> ApplyResult:
    """Apply the saved plans in stack order, then wait for the service to be stable."""
    pending = [s for s in STACKS if connection.planfile(s).exists()]
    if not pending:
        raise ConfigError(
            f"No saved plan for environment {connection.env.name!r}.",
            f"Run `mlinfra plan {connection.env.flags}` first.",
        )
    for stack in pending:
        say(f"applying the {stack} stack")
        plans.apply_stack(connection, stack, say)
    report = None
    if "service" in pending:
        wait_stable(connection, say)
        report = status(connection)
    return ApplyResult(connection.env.name, tuple(pending), report)


def applied_revision(connection: Connection, service_name: str) -> str | None:
    """The task definition the service stack's state gives ``service_name``: what the apply
    just asked ECS to run (None when the state holds no such service)."""
    for service in connection.stack("service").resources("aws_ecs_service"):
        if service.get("name") == service_name and service.get("task_definition"):
            return str(service["task_definition"])
    return None


def wait_stable(
    connection: Connection, say: Say = _quiet, timeout_s: float = rollout.STABLE_TIMEOUT_S
) -> None:
    """Wait until the ECS service runs its desired count of the task definition just applied
    (rollout COMPLETED); a DeployError with why the tasks stopped when it was rolled back."""
    outputs = connection.stack("service").outputs()
    _repository, credentials = connection.registry_login()
    connection.runtime.run_service(outputs, credentials, say)
    session = connection.session()
    rollout.wait_for_rollout(
        session.client("ecs"),
        outputs["cluster_name"],
        outputs["service_name"],
        connection.env.name,
        say,
        timeout_s,
        task_definition=applied_revision(connection, outputs["service_name"]),
        logs=session.client("logs"),
    )


def status(connection: Connection) -> StatusReport:
    """Read the service stack's outputs, the ECS service, the ALB, and probe the URL."""
    env = connection.env
    outputs = connection.stack("service").outputs()
    if not outputs.get("service_name"):
        return dataclasses.replace(status_.not_deployed(env.name), rehearsed=env.rehearsed)
    reach = connection.runtime.reach(outputs)
    report = status_.read(env.name, connection.session(), outputs, reach)
    return dataclasses.replace(report, rehearsed=env.rehearsed)


API_KEY_ENV = "MLINFRA_API_KEY"


def _bench_api_key(connection: Connection) -> str | None:
    """``$MLINFRA_API_KEY``, else the environment's secret in Secrets Manager (None when the
    environment has none). Never from argv."""
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV]
    arn = api_key.secret_arn(connection)
    if arn is None:
        return None
    try:
        value = connection.session().client("secretsmanager").get_secret_value(SecretId=arn)
    except Exception:
        # NOTE: no key readable here (permissions, not set yet): the preflight says 401 if needed.
        return None
    secret = value.get("SecretString")
    return str(secret) if secret else None


def _instance_type(session: Any, cluster: str) -> str | None:
    """The cluster's container instance type: its capacity provider's Auto Scaling group's launch
    template. None where any link of that chain is missing."""
    try:
        ecs = session.client("ecs")
        found = ecs.describe_clusters(clusters=[cluster]).get("clusters", [])
        providers = found[0].get("capacityProviders", []) if found else []
        if not providers:
            return None
        described = ecs.describe_capacity_providers(capacityProviders=providers)
        arn = described["capacityProviders"][0]["autoScalingGroupProvider"]["autoScalingGroupArn"]
        group_name = arn.split("autoScalingGroupName/")[-1]
        groups = session.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[group_name]
        )["AutoScalingGroups"]
        template = groups[0].get("LaunchTemplate") or (
            groups[0]
            .get("MixedInstancesPolicy", {})
            .get("LaunchTemplate", {})
            .get("LaunchTemplateSpecification", {})
        )
        versions = session.client("ec2").describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"],
            Versions=[str(template.get("Version", "$Default"))],
        )["LaunchTemplateVersions"]
        kind = versions[0]["LaunchTemplateData"].get("InstanceType")
        return str(kind) if kind else None
    except Exception:
        return None


def bench_target(connection: Connection) -> Target:
    """What ``mlinfra bench`` loads: the URL and CA as ``status`` reaches them, the API key, and
    the task count, task size and instance type for the cost."""
    env = connection.env
    outputs = connection.stack("service").outputs()
    if not outputs.get("service_name"):
        raise ConfigError(
            f"Environment {env.name!r} has no service deployed.",
            f"Deploy it first: `mlinfra deploy {env.flags}`.",
        )
    reach = connection.runtime.reach(outputs)
    if not reach.url:
        raise ConfigError(
            f"Environment {env.name!r} has no URL this machine can reach.",
            f"See `mlinfra status {env.flags}`.",
        )
    session = connection.session()
    ecs = session.client("ecs")
    service = rollout.describe_service(ecs, outputs["cluster_name"], outputs["service_name"])
    definition = rollout.describe_task_definition(ecs, service["taskDefinition"])
    containers = definition.get("containerDefinitions", [])

    def size(key: str) -> int | None:
        value = definition.get(key) or sum(int(c.get(key) or 0) for c in containers)
        return int(value) if value else None

    return Target(
        env=env.name,
        url=reach.url.rstrip("/"),
        ca_file=reach.ca_file,
        api_key=_bench_api_key(connection),
        tasks=int(service.get("desiredCount") or 1),
        instance_type=_instance_type(session, outputs["cluster_name"]),
        task_cpu_units=size("cpu"),
        task_memory_mib=size("memory"),
    )


def deploy(
    connection: Connection,
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
    built = build(connection.env, say, allow_dirty)
    say(f"image {built.reference}")
    registry_plan = plan(connection, ["registry"], say)
    if confirm is not None and registry_plan.has_changes:
        confirm(registry_plan, "Apply the registry stack")
    say("applying the registry stack")
    plans.apply_stack(connection, "registry", say)
    if confirm is not None:
        _plan_for_the_next_push(connection, say, confirm)
    pushed = push(connection, on_layer, allow_dirty)
    say(f"pushed {pushed.image} ({pushed.digest})")
    if confirm is None:
        plan(connection, ["service"], say)
    say("applying the service stack")
    plans.apply_stack(connection, "service", say)
    wait_stable(connection, say)
    return ApplyResult(connection.env.name, STACKS, status(connection))


def _plan_for_the_next_push(connection: Connection, say: Say, confirm: Confirm) -> None:
    """Plan the service stack for the image the push will make (repository:tag are known
    before it) and show it to ``confirm`` before anything reaches the registry; the recorded
    image comes back as it was when the plan fails or is refused."""
    repository, _credentials = connection.registry_login()
    state = connection.env.state_dir
    try:
        with tfvars.restored_on_failure([tfvars.image_tfvars_path(state)]):
            tag = builds.last_build(connection.env)["tag"]
            tfvars.write_image_tfvars(state, f"{repository}:{tag}")
            confirm(
                plan(connection, ["service"], say), "Push the image and apply the service stack"
            )
    except BaseException:
        connection.planfile("service").unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# The API key
# ---------------------------------------------------------------------------------------------


def set_api_key(connection: Connection, value: str) -> SecretResult:
    """Store ``value`` as the AWSCURRENT version of the environment's API key secret.

    The running tasks keep the key they started with until the next service apply (deploy,
    or ``secret rotate``), which pins the new version id.
    """
    api_key.check_api_key(value)
    arn = api_key.require_secret(connection)
    return SecretResult(connection.env.name, arn, api_key.put_value(connection, arn, value))


def rotate_api_key(connection: Connection, say: Say = _quiet) -> SecretResult:
    """Store a new random key, then plan and apply the service stack with its version id (a
    new task definition revision: Terraform rolls the tasks) and wait for the rollout."""
    env = connection.env
    arn = api_key.require_secret(connection)
    deployed = bool(connection.stack("service").outputs().get("service_name"))
    if deployed and tfvars.read_image_tfvars(env.state_dir) is None:
        raise ConfigError(
            f"No pushed image is recorded for {env.name!r}, so the service cannot be "
            "planned with the new key.",
            f"Run `mlinfra push {env.flags}` (or `mlinfra deploy`) first.",
        )
    version_id = api_key.put_value(connection, arn, secrets.token_urlsafe(32))
    say(f"stored a new API key version {version_id}")
    if not deployed:
        return SecretResult(env.name, arn, version_id)
    plan(connection, ["service"], say)
    say("applying the service stack")
    plans.apply_stack(connection, "service", say)
    wait_stable(connection, say)
    rolled = ApplyResult(env.name, ("service",), status(connection))
    return SecretResult(env.name, arn, version_id, rolled)


# ---------------------------------------------------------------------------------------------
# destroy, down, prune, outputs, logs
# ---------------------------------------------------------------------------------------------


def destroy(connection: Connection, say: Say = _quiet) -> list[PlanSummary]:
    """Destroy the service stack, stop what still runs its tasks, then destroy the registry."""
    removed: list[PlanSummary] = []
    for stack_name in reversed(STACKS):
        if not connection.stack(stack_name).outputs():
            say(f"the {stack_name} stack holds nothing")
            continue
        say(f"destroying the {stack_name} stack")
        if stack_name == "service":
            connection.runtime.prepare_destroy(say)
        removed.append(plans.destroy_stack(connection, stack_name, say))
        if stack_name == "service":
            connection.runtime.stop_service(say)
    return removed


def down(env: config.Environment, say: Say = _quiet) -> dict[str, Any]:
    """Stop the environment's own processes (the local one's tasks, proxy, registry and
    emulator); a ConfigError for an environment on AWS."""
    from mlinfra import runtime

    return runtime.runtime_for(env, offline=True).down(say)


def prune_plan(env: config.Environment, keep: int) -> Any:
    """The environment's local images beyond the newest ``keep``; its last build always stays."""
    from mlinfra import image

    try:
        protect = [builds.last_build(env)["image_id"]]
    except (ConfigError, KeyError):  # nothing built yet (or recorded before ids were)
        protect = []
    return image.plan_prune(repository_name(env), keep, protect)


def prune(plan: Any) -> int:
    """Remove what ``plan`` (from prune_plan) marks for removal; the bytes freed on disk."""
    from mlinfra import image

    return image.prune_images(plan)


def outputs(connection: Connection) -> dict[str, dict[str, Any]]:
    """Every stack's Terraform outputs."""
    return {stack: connection.stack(stack).outputs() for stack in STACKS}


def logs(connection: Connection, since: timedelta, limit: int) -> list[LogEvent]:
    """The service's latest log events (CloudWatch's, and locally the containers' own)."""
    group = connection.stack("service").outputs().get("log_group_name")
    if not group:
        raise MlinfraError(
            f"Environment {connection.env.name!r} has no log group yet (no log_group_name output).",
            f"Deploy first: `mlinfra deploy {connection.env.flags}`.",
        )
    start = datetime.now(UTC) - since
    events = tail(connection.session().client("logs"), group, start, limit)
    return connection.runtime.service_logs(events, start, limit)
