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
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlinfra import (
    api_key,
    builds,
    canary,
    config,
    docker_engine,
    models,
    plans,
    registry,
    releases,
    rollout,
    tfvars,
)
from mlinfra import status as status_
from mlinfra.api_key import SecretResult
from mlinfra.canary import CanaryState, Judgement, Thresholds
from mlinfra.connection import STACKS, Connection, connect, repository_name
from mlinfra.errors import CanaryAbortedError, ConfigError, MlinfraError
from mlinfra.loadtest import Target
from mlinfra.logs import LogEvent, tail
from mlinfra.models import OWN, Track
from mlinfra.plans import ApplyResult, PlanResult
from mlinfra.releases import Release
from mlinfra.status import StatusReport
from mlinfra.terraform import PlanSummary
from mlinfra_serving.reference import REFERENCE_KEY

__all__ = [
    "STACKS",
    "ApplyResult",
    "CanaryResult",
    "Confirm",
    "Connection",
    "PlanResult",
    "ReleaseList",
    "RolloutResult",
    "SecretResult",
    "StatusReport",
    "apply",
    "bench_target",
    "build",
    "canary_status",
    "connect",
    "deploy",
    "deploy_canary",
    "destroy",
    "down",
    "end_canary",
    "list_releases",
    "logs",
    "outputs",
    "plan",
    "promote",
    "promotion",
    "promotion_summary",
    "prune",
    "prune_plan",
    "push",
    "rollback",
    "rollback_target",
    "rotate_api_key",
    "saved_plans",
    "set_api_key",
    "status",
    "train",
    "wait_stable",
]

Say = Callable[[str], None]
Confirm = Callable[[PlanResult, str], None]


@dataclasses.dataclass(frozen=True)
class ReleaseList:
    """An environment's releases, newest first, and the number of the one running."""

    env: str
    releases: tuple[Release, ...]
    running: int | None

    def by_number(self, number: int | None) -> Release | None:
        return next((r for r in self.releases if r.number == number), None)

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for index, release in enumerate(self.releases):
            previous = self.releases[index + 1] if index + 1 < len(self.releases) else None
            rows.append(
                {
                    **release.to_dict(),
                    "running": release.number == self.running,
                    "changes": releases.changes(release, previous),
                }
            )
        return {"env": self.env, "running": self.running, "releases": rows}


@dataclasses.dataclass(frozen=True)
class RolloutResult:
    """A rollback or a promotion: the release it made, the one it replaced, the status."""

    env: str
    release: Release
    previous: Release | None
    status: StatusReport

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "release": self.release.to_dict(),
            "previous": self.previous.number if self.previous else None,
            "status": self.status.to_dict(),
        }


def _quiet(_line: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# train, build, push
# ---------------------------------------------------------------------------------------------


def train(
    retrain: bool = False,
    model_file: Path | None = None,
    features: Sequence[str] | None = None,
    track: Track = OWN,
) -> Any:
    """The model artifact of ``track``: a user's model file imported, or the default model
    trained now when absent (or when ``retrain``)."""
    from mlinfra import model

    if model_file is not None:
        return model.import_model(model_file, track.artifact_dir(), features)
    if retrain:
        return model.train(track.artifact_dir())
    return model.ensure_model(track.artifact_dir())


def build(
    env: config.Environment, say: Say = _quiet, allow_dirty: bool = False, track: Track = OWN
) -> Any:
    """Build the serving image for ``env`` from ``track``'s trained model artifact."""
    from mlinfra import image, model

    if env.asks_before_changes and not allow_dirty:
        revision = image.git_revision(config.project_dir())
        builds.refuse_dirty(
            env, revision.dirty, f"The image of commit {revision.short}", allow_dirty
        )
    docker_engine.client()  # no engine: say so before the model and wheel steps

    try:
        artifact = model.load_artifact(track.artifact_dir())
    except ConfigError as err:
        raise ConfigError(
            f"No usable model artifact in {track.artifact_dir()}: {err.message}",
            f"Run `mlinfra train{track.flag}` first (or `mlinfra deploy{track.flag}`, which "
            "trains when needed).",
        ) from err
    built = image.build_image(artifact, repository_name(env), progress=say)
    builds.record(env, built)
    return built


def push(
    connection: Connection,
    on_progress: Callable[[registry.LayerProgress], None] = lambda _: None,
    allow_dirty: bool = False,
    release_tag: bool = True,
    record: bool = True,
    track: Track = OWN,
) -> registry.PushResult:
    """Push the last built image and record its URI for the service stack's next plan.

    ``release_tag``: give it the tag ``release-<n>`` of the registry's next number (a deploy
    passes False: it tags the number its ledger record takes). ``record`` False leaves the
    stable service's image as it was (a canary's image goes to its own variable); ``track``
    names the model whose image it records."""
    built = builds.check_pushable(connection.env, allow_dirty)
    repository, credentials = connection.registry_login()
    result = registry.push(built["reference"], repository, built["tag"], credentials, on_progress)
    if release_tag:
        existing = connection.release_tags(repository, credentials)
        result = registry.add_release_tag(result, credentials, existing)
    if record:
        track.record_image(connection.env.state_dir, result.image)
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
    """Wait until the ECS service (and a canary's and the other models' beside it) runs its desired count of the
    task definition just applied (rollout COMPLETED); a DeployError with why the tasks stopped
    when it was rolled back."""
    outputs = connection.stack("service").outputs()
    _repository, credentials = connection.registry_login()
    connection.runtime.run_service(outputs, credentials, say)
    session = connection.session()
    for service in models.service_names(outputs):
        rollout.wait_for_rollout(
            session.client("ecs"),
            outputs["cluster_name"],
            service,
            connection.env.name,
            say,
            timeout_s,
            task_definition=applied_revision(connection, service),
            logs=session.client("logs"),
        )


def status(connection: Connection, with_release: bool = True) -> StatusReport:
    """Read the service stack's outputs, the ECS service, the ALB, and probe the URL; with
    the number of the release running (from the ledger)."""
    env = connection.env
    outputs = connection.stack("service").outputs()
    if not outputs.get("service_name"):
        return dataclasses.replace(status_.not_deployed(env.name), rehearsed=env.rehearsed)
    reach = connection.runtime.reach(outputs)
    report = status_.read(env.name, connection.session(), outputs, reach)
    report = dataclasses.replace(report, rehearsed=env.rehearsed)
    if with_release:
        current = releases.running(connection.ledger().releases(), report.image)
        report = dataclasses.replace(report, release=current.number if current else None)
    return report


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
    track: Track = OWN,
) -> ApplyResult:
    """train if needed, build, registry stack, push, service stack, wait, status.

    ``track``: which of the environment's models (``--model NAME``; default its own) gets the
    new image; the others keep theirs, and the release goes to that model's ledger.

    ``confirm`` (staging and prod, without --yes) sees each saved plan before anything changes
    and raises to stop: the registry's when it has changes (the service can only be planned
    against an applied registry), then the service's, planned for the image about to be pushed
    and before the push.
    """
    artifact, built = _build_for(connection, say, confirm, allow_dirty, track)
    service_plan = None
    if confirm is not None:
        service_plan = _plan_for_the_next_push(connection, say, confirm, track)
    ledger = connection.ledger(track)
    ledger.settle_dead(say)
    pushed = push(connection, on_layer, allow_dirty, release_tag=False, track=track)
    say(f"pushed {pushed.image} ({pushed.digest})")
    draft = _draft_release(pushed, artifact, built, number=_next_release_tag(connection, track))
    with releases.recording(ledger, draft, say) as record:
        _tag_release(connection, record.release, track)
        if service_plan is None:
            service_plan = plan(connection, ["service"], say)
        record.planned(_service_plan_counts(service_plan))
        say("applying the service stack")
        plans.apply_stack(connection, "service", say)
        wait_stable(connection, say)
    return ApplyResult(connection.env.name, STACKS, status(connection))


def _draft_release(
    pushed: registry.PushResult,
    artifact: Any,
    built: Any,
    number: int,
    kind: str = "deploy",
    source: str | None = None,
) -> Release:
    """The ledger's record of a pushed build, pinned by digest, before its rollout."""
    repository = pushed.image.rsplit(":", 1)[0]
    return Release(
        number=number,
        image=f"{repository}@{pushed.digest}",
        digest=pushed.digest,
        model_version=artifact.version,
        model_sha256=artifact.sha256,
        git_sha=built.tag.split("-", 1)[0],
        dirty=builds.DIRTY_MARK in built.tag,
        kind=kind,
        source=source,
        tag=built.tag,
    )


def _build_for(
    connection: Connection,
    say: Say,
    confirm: Confirm | None,
    allow_dirty: bool,
    track: Track = OWN,
) -> tuple[Any, Any]:
    """Train if needed, build, and apply the registry stack (asking first when it changes)."""
    artifact = train(track=track)
    say(f"{track.label}: {artifact.version} (sha256 {artifact.sha8})")
    built = build(connection.env, say, allow_dirty, track)
    say(f"image {built.reference}")
    _converge_registry(connection, say, confirm)
    return artifact, built


def _converge_registry(connection: Connection, say: Say, confirm: Confirm | None) -> None:
    """Plan the registry stack and apply it when it changes (asking first, on staging and
    prod); most deploys find it as it was and skip the apply, a Terraform run of its own."""
    registry_plan = plan(connection, ["registry"], say)
    if not registry_plan.has_changes:
        connection.planfile("registry").unlink(missing_ok=True)
        say("registry stack: no changes")
        return
    if confirm is not None:
        confirm(registry_plan, "Apply the registry stack")
    say("applying the registry stack")
    plans.apply_stack(connection, "registry", say)


# ---------------------------------------------------------------------------------------------
# Canary: the new image as a second service behind the same listener, by weight; the bake
# judges it against the stable one on CloudWatch's signals, then promotes or aborts
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CanaryResult:
    """How a canary went: ``outcome`` promoted, aborted or baking (left for a person)."""

    env: str
    outcome: str
    state: CanaryState | None
    judgement: Judgement | None
    release: Release | None
    status: StatusReport
    timings: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "outcome": self.outcome,
            "canary": self.state.to_dict() if self.state else None,
            "judgement": self.judgement.to_dict() if self.judgement else None,
            "release": self.release.to_dict() if self.release else None,
            "status": self.status.to_dict(),
            "timings_s": {k: round(v, 1) for k, v in self.timings.items()},
        }


def _apply_service(connection: Connection, say: Say, what: str) -> None:
    say(f"applying the service stack: {what}")
    plan(connection, ["service"], say)
    plans.apply_stack(connection, "service", say)
    wait_stable(connection, say)


def _require_no_canary(connection: Connection) -> None:
    running = canary.read(connection.env.state_dir)
    if running is not None:
        raise ConfigError(
            f"A canary already runs in {connection.env.name!r} ({running.weight}% on "
            f"{running.release.model_version}).",
            f"End it first: `mlinfra canary promote {connection.env.flags}` or "
            f"`mlinfra canary abort {connection.env.flags}`.",
        )


def deploy_canary(
    connection: Connection,
    weight: int,
    bake_s: float,
    say: Say = _quiet,
    on_layer: Callable[[registry.LayerProgress], None] = lambda _: None,
    confirm: Confirm | None = None,
    allow_dirty: bool = False,
    limits: Thresholds | None = None,
    poll_s: float = 15.0,
) -> CanaryResult:
    """Build and push the new image, run it as the canary service beside the stable one (first
    at weight 0 until it is healthy, then at ``weight`` percent), bake for ``bake_s`` judging it
    on CloudWatch's signals, then promote it or abort it (CanaryAbortedError naming the gate).
    ``bake_s`` 0: leave it running for `mlinfra canary status|promote|abort`."""
    _require_no_canary(connection)
    limits = limits or Thresholds.from_env()
    started = time.monotonic()
    artifact, built = _build_for(connection, say, confirm, allow_dirty)
    listed = list_releases(connection)
    stable = listed.by_number(listed.running)
    if stable is None:
        raise ConfigError(
            f"Nothing serves in {connection.env.name!r} to compare a canary with.",
            f"Deploy a first release without --canary: `mlinfra deploy {connection.env.flags}`.",
        )
    if not artifact.metadata.get(REFERENCE_KEY):
        raise ConfigError(
            f"Model {artifact.version} has no training reference (an imported model file): its "
            "service writes no signals, so no gate could judge it.",
            "Train it with `mlinfra train` (which records the reference), or deploy without "
            "--canary.",
        )
    if stable.model_version == artifact.version:
        raise ConfigError(
            f"The canary would serve model {artifact.version}, the model release "
            f"{stable.number} serves: the gates compare the two model versions' signals.",
            "Train or import the new model first (`mlinfra train`), or deploy without --canary.",
        )
    pushed = push(connection, on_layer, allow_dirty, release_tag=False, record=False)
    draft = _draft_release(
        pushed,
        artifact,
        built,
        number=0,
        kind="canary",
        source=f"canary {weight}% beside release {stable.number}",
    )
    state = CanaryState(draft.image, 0, draft, stable.model_version, stable.image)
    files = [tfvars.canary_tfvars_path(connection.env.state_dir)]
    files.append(connection.env.state_dir / canary.CANARY_STATE)
    with tfvars.restored_on_failure(files):
        canary.write(connection.env.state_dir, state)
        planned = plan(connection, ["service"], say)
        if confirm is not None:
            confirm(planned, f"Start the canary ({artifact.version}) at 0%, then {weight}%")
    say("applying the service stack: the canary's service, no traffic yet")
    plans.apply_stack(connection, "service", say)
    wait_stable(connection, say)
    state = dataclasses.replace(state, weight=weight)
    canary.write(connection.env.state_dir, state)
    _apply_service(connection, say, f"{weight}% of the requests to the canary")
    timings = {"canary_start": time.monotonic() - started}
    if bake_s <= 0:
        return CanaryResult(
            connection.env.name, "baking", state, None, None, status(connection), timings
        )
    judgement = bake(connection, state, bake_s, limits, say, poll_s)
    timings["bake"] = time.monotonic() - started - timings["canary_start"]
    ending = time.monotonic()
    try:
        result = end_canary(connection, not judgement.failed, judgement, say)
    finally:
        timings["canary_end"] = time.monotonic() - ending
    return dataclasses.replace(result, timings=timings)


def _judge_now(connection: Connection, state: CanaryState, limits: Thresholds) -> Judgement:
    from mlinfra import monitor

    since = datetime.now(UTC) - datetime.fromisoformat(state.release.started_at)
    report = monitor.read(
        connection.session().client("cloudwatch"),
        connection.env.name,
        max(since, timedelta(seconds=monitor.PERIOD_SECONDS)),
    )
    return canary.judge(report, state.release.model_version, state.stable_version, limits)


def bake(
    connection: Connection,
    state: CanaryState,
    bake_s: float,
    limits: Thresholds,
    say: Say = _quiet,
    poll_s: float = 15.0,
) -> Judgement:
    """Judge the canary every ``poll_s`` for ``bake_s``: the first decided failure (enough
    requests) ends the bake early; else the judgement at its end."""
    started = time.monotonic()
    while True:
        time.sleep(min(poll_s, max(0.0, bake_s - (time.monotonic() - started))) or 0.01)
        judgement = _judge_now(connection, state, limits)
        elapsed = time.monotonic() - started
        say(
            f"bake {elapsed:.0f}/{bake_s:.0f} s: {judgement.canary_requests} canary and "
            f"{judgement.stable_requests} stable requests; {judgement.summary()}"
        )
        if judgement.enough and judgement.failed:
            return judgement
        if elapsed >= bake_s:
            return judgement


def canary_status(connection: Connection, limits: Thresholds | None = None) -> CanaryResult:
    """The canary running in the environment and the gates over its signals so far."""
    state = _running_canary(connection)
    judgement = _judge_now(connection, state, limits or Thresholds.from_env())
    return CanaryResult(
        connection.env.name, "baking", state, judgement, None, status(connection), {}
    )


def _running_canary(connection: Connection) -> CanaryState:
    state = canary.read(connection.env.state_dir)
    if state is None:
        raise ConfigError(
            f"No canary runs in {connection.env.name!r}.",
            f"Start one with `mlinfra deploy {connection.env.flags} --canary 10`.",
        )
    return state


def end_canary(
    connection: Connection,
    promote: bool,
    judgement: Judgement | None = None,
    say: Say = _quiet,
) -> CanaryResult:
    """Promote (the stable service takes the canary's image, then the canary's weight goes to 0
    and its service away) or abort (weight 0, service away; CanaryAbortedError). Recorded in
    the ledger as a release of kind canary: succeeded, or rolled_back with the gate's figures."""
    state = _running_canary(connection)
    env = connection.env
    ledger = connection.ledger()
    ledger.settle_dead(say)
    draft = dataclasses.replace(state.release, number=_next_release_tag(connection))
    with releases.recording(ledger, draft, say) as record:
        _tag_release(connection, record.release)
        if promote:
            tfvars.write_image_tfvars(env.state_dir, state.image)
            _apply_service(connection, say, "the stable service takes the canary's image")
        canary.write(env.state_dir, dataclasses.replace(state, weight=0))
        _apply_service(connection, say, "no request to the canary")
        canary.clear(env.state_dir)
        _apply_service(connection, say, "the canary's service goes")
        if not promote:
            why = judgement.summary() if judgement else f"aborted by {releases.who()}"
            raise CanaryAbortedError(
                f"Canary {state.release.model_version} aborted: {why}.",
                f"Model {state.stable_version} keeps serving; "
                f"see `mlinfra monitor {env.flags}` and `mlinfra releases {env.flags}`.",
            )
    return CanaryResult(
        env.name, "promoted", None, judgement, record.release, status(connection), {}
    )


# ---------------------------------------------------------------------------------------------
# Releases: the ledger, rollback and promote (no build: an image already in a registry, by
# digest, through the same tfvars and Terraform path as a deploy)
# ---------------------------------------------------------------------------------------------


def _next_release_tag(connection: Connection, track: Track = OWN) -> int:
    """The lowest number the registry's release tags of ``track`` leave free (a plain ``push``
    tags by the registry alone): the ledger never takes a number an image already carries."""
    repository, credentials = connection.registry_login()
    tags = connection.release_tags(repository, credentials)
    return registry.next_release(tags, track.release_prefix)


def _tag_release(connection: Connection, release: Release, track: Track = OWN) -> None:
    _repository, credentials = connection.registry_login()
    tag = f"{track.release_prefix}{release.number}"
    connection.runtime.tag_image(release.image, tag, credentials)


def _service_plan_counts(planned: PlanResult) -> dict[str, int]:
    for summary in planned.plans:
        if summary.stack == "service":
            totals = summary.totals
            return {"add": totals.add, "change": totals.change, "destroy": totals.destroy}
    return {}


def list_releases(connection: Connection, track: Track = OWN) -> ReleaseList:
    """The releases of one of the environment's models (default its own), newest first, and
    the one running."""
    history = connection.ledger(track).releases()
    image = _running_image(connection, track) if history else None
    current = releases.running(history, image)
    return ReleaseList(connection.env.name, tuple(history), current.number if current else None)


def _running_image(connection: Connection, track: Track = OWN) -> str | None:
    """The image of the task definition ``track``'s ECS service runs (None when not deployed)."""
    outputs = connection.stack("service").outputs()
    service_name = track.service_name(outputs)
    if not service_name:
        return None
    ecs = connection.session().client("ecs")
    service = rollout.describe_service(ecs, outputs["cluster_name"], service_name)
    # After the circuit breaker's rollback, the primary deployment is the revision serving.
    revision = rollout.primary_deployment(service).get("taskDefinition")
    definition = rollout.describe_task_definition(ecs, revision or service["taskDefinition"])
    return status_.service_image(definition)


def rollback_target(connection: Connection, to: int | None) -> tuple[ReleaseList, Release]:
    """The release to roll back to (``to``, else the last good one before the running one),
    refused in one line when its image is gone from the registry."""
    env = connection.env
    listed = list_releases(connection)
    if to is not None:
        target = connection.ledger().get(to)
    else:
        below = (
            listed.running
            if listed.running is not None
            else 1 + max((r.number for r in listed.releases), default=0)
        )
        found = releases.last_good_before(list(listed.releases), below)
        if found is None:
            raise ConfigError(
                f"Environment {env.name!r} has no good release before release {below} to roll "
                "back to.",
                f"List them with `mlinfra releases {env.flags}` and pass --to N.",
            )
        target = found
    _require_image(connection, target)
    return listed, target


def _require_image(connection: Connection, release: Release) -> None:
    """A ConfigError naming ``release`` when its image is gone from the registry."""
    _repository, credentials = connection.registry_login()
    if not connection.runtime.image_exists(release.image, credentials):
        raise ConfigError(
            f"Release {release.number} of {connection.env.name!r}: its image {release.image} is "
            "no longer in the registry (pruned).",
            f"Pick another release (`mlinfra releases {connection.env.flags}`), or deploy again.",
        )


def rollback(
    connection: Connection,
    to: int | None = None,
    say: Say = _quiet,
    confirm: Confirm | None = None,
) -> RolloutResult:
    """Deploy release ``to``'s image (default: the last good release before the running one)
    by digest through the image tfvars and a service plan and apply; no build, no push."""
    listed, target = rollback_target(connection, to)
    draft = releases.draft_from(target, "rollback", f"release {target.number}")
    return _roll_out(
        connection, draft, listed, say, confirm, f"Roll back to release {target.number}"
    )


def _roll_out(
    connection: Connection,
    draft: Release,
    listed: ReleaseList,
    say: Say,
    confirm: Confirm | None,
    action: str,
) -> RolloutResult:
    """Plan the service for ``draft.image``, ask, then record the release around its apply."""
    ledger = connection.ledger()
    ledger.settle_dead(say)
    state = connection.env.state_dir
    with tfvars.restored_on_failure([tfvars.image_tfvars_path(state)]):
        tfvars.write_image_tfvars(state, draft.image)
        try:
            service_plan = plan(connection, ["service"], say)
            if confirm is not None:
                confirm(service_plan, action)
        except BaseException:
            connection.planfile("service").unlink(missing_ok=True)
            raise
    draft = dataclasses.replace(draft, number=_next_release_tag(connection))
    with releases.recording(ledger, draft, say) as record:
        _tag_release(connection, record.release)
        record.planned(_service_plan_counts(service_plan))
        say("applying the service stack")
        plans.apply_stack(connection, "service", say)
        wait_stable(connection, say)
    previous = listed.by_number(listed.running)
    return RolloutResult(connection.env.name, record.release, previous, status(connection))


def promotion(
    source: Connection, target: Connection, number: int | None
) -> tuple[Release, ReleaseList]:
    """The source's release to promote (``number``, else the one running there) and the
    target's releases; a dirty image, or one gone from the source's registry, is refused."""
    listed = list_releases(source)
    if number is None and listed.running is None:
        raise ConfigError(
            f"Environment {source.env.name!r} runs no release to promote.",
            f"Deploy it first, or pass --release N (`mlinfra releases {source.env.flags}`).",
        )
    release = source.ledger().get(number if number is not None else int(listed.running or 0))
    if release.dirty:
        raise ConfigError(
            f"Release {release.number} of {source.env.name!r} ({release.tag}) was built from "
            "uncommitted changes (-dirty); only images of a commit are promoted.",
            "Commit, deploy that commit to the source environment, and promote that release.",
        )
    _require_image(source, release)
    return release, list_releases(target)


def promotion_summary(release: Release, source: str, target: ReleaseList) -> str:
    """What a promotion changes in the target, for its confirmation."""
    current = target.by_number(target.running)
    upcoming = 1 + max((r.number for r in target.releases), default=0)
    if current is None:
        was = "nothing running"
    else:
        was = f"release {current.number} (model {current.model_version}, git {current.git_sha[:8]})"
    return (
        f"Promote {source} release {release.number} to {target.env}: {was} -> release "
        f"{upcoming} (model {release.model_version}, git {release.git_sha[:8]}, "
        f"{release.digest[:19]})"
    )


def promote(
    source: Connection,
    target: Connection,
    number: int | None = None,
    say: Say = _quiet,
    confirm: Confirm | None = None,
) -> RolloutResult:
    """Copy the source's release image, by digest, into the target's registry repository, and
    deploy it there through the target's tfvars and Terraform (no build)."""
    release, listed = promotion(source, target, number)
    _converge_registry(target, say, confirm)
    repository, credentials = target.registry_login()
    _source_repository, source_credentials = source.registry_login()
    say(f"copying {release.image} to {repository}")
    copied = target.runtime.copy_image(
        release.image, source_credentials, repository, release.tag or "promoted", credentials
    )
    if copied != release.digest:
        raise MlinfraError(
            f"The copy of {release.image} in {repository} has digest {copied}.",
            "The registries rewrote the manifest; promote needs the same bytes.",
        )
    draft = releases.draft_from(
        release,
        "promote",
        f"{source.env.name} release {release.number}",
        image=f"{repository}@{release.digest}",
    )
    action = promotion_summary(release, source.env.name, listed)
    return _roll_out(target, draft, listed, say, confirm, action)


def _plan_for_the_next_push(
    connection: Connection, say: Say, confirm: Confirm, track: Track = OWN
) -> PlanResult:
    """Plan the service stack for the image the push will make (repository:tag are known
    before it) and show it to ``confirm`` before anything reaches the registry; the recorded
    image comes back as it was when the plan fails or is refused."""
    repository, _credentials = connection.registry_login()
    state = connection.env.state_dir
    try:
        with tfvars.restored_on_failure([track.tfvars_path(state)]):
            tag = builds.last_build(connection.env)["tag"]
            track.record_image(state, f"{repository}:{tag}")
            planned = plan(connection, ["service"], say)
            confirm(planned, "Push the image and apply the service stack")
            return planned
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
            canary.clear(connection.env.state_dir)  # its service went with the stack
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
