"""Terraform's steps over a connection: the generated variables of each stack, saved plans
(planned side by side), applying a saved plan that is still current, and their results."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlinfra import api_key, tfvars
from mlinfra.connection import STACKS, Connection
from mlinfra.status import StatusReport
from mlinfra.terraform import PlanSummary, Stack, StalePlanError, summarize_saved_plan

Say = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


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


def write_stack_tfvars(connection: Connection, stack: str, for_destroy: bool = False) -> Path:
    """Write the values mlinfra resolves for ``stack``'s next plan: the region (one for the
    provider, the backend and boto3) and, for the service when the environment has an API key
    secret, its AWSCURRENT version id, so that a new key makes a new task definition revision.

    Never the key itself: only its version id reaches Terraform."""
    values: dict[str, Any] = {"region": connection.region}
    if stack == "service" and not for_destroy:
        arn = api_key.secret_arn(connection)
        if arn is not None:
            values[api_key.VERSION_VARIABLE] = api_key.current_version(connection, arn)
    path = tfvars.stack_tfvars_path(connection.env.state_dir, stack)
    return tfvars.write_atomic_json(path, values)


def plan_stack(connection: Connection, stack: str, destroy: bool = False) -> PlanSummary:
    return connection.stack(stack).plan(
        connection.planfile(stack), connection.var_files(stack), destroy
    )


def plan(connection: Connection, stacks: Sequence[str] = STACKS, say: Say = _quiet) -> PlanResult:
    """Plan each stack to its saved plan; the service waits until an image was pushed."""
    state = connection.env.state_dir
    waiting: dict[str, str] = {}
    # Read before any plan: a bad image file must not leave the registry's plan half a set.
    image = tfvars.read_image_tfvars(state) if "service" in stacks else None
    ready: list[str] = []
    generated = [tfvars.stack_tfvars_path(state, s) for s in stacks]
    with tfvars.restored_on_failure(generated):
        for stack in stacks:
            if stack == "service" and image is None:
                connection.planfile(stack).unlink(missing_ok=True)
                waiting[stack] = (
                    f"no image pushed yet: run `mlinfra push --env {connection.env.name}`"
                )
                continue
            # NOTE: init one at a time: Terraform's plugin cache is not safe for concurrent fills.
            connection.stack(stack).init()
            write_stack_tfvars(connection, stack)
            ready.append(stack)
        # PERF: the stacks have separate states, so their plans (each mostly Terraform starting
        # the provider and refreshing) run side by side.
        for stack in ready:
            say(f"planning the {stack} stack")
        with ThreadPoolExecutor(max_workers=max(1, len(ready))) as pool:
            plans = list(pool.map(lambda name: plan_stack(connection, name), ready))
    return PlanResult(connection.env.name, tuple(plans), waiting)


def saved_plans(connection: Connection) -> PlanResult:
    """What the saved plans would do (``terraform show -json`` of each), for ``apply`` to show
    before it asks."""
    plans = tuple(
        summarize_saved_plan(
            connection.stack(s).show_json(connection.planfile(s)), s, connection.planfile(s)
        )
        for s in STACKS
        if connection.planfile(s).exists()
    )
    return PlanResult(connection.env.name, plans)


def _check_plan_image(connection: Connection, stack: Stack, planfile: Path) -> None:
    """Refuse a service plan made for another image than the last one pushed."""
    pushed = tfvars.read_image_tfvars(connection.env.state_dir)
    planned = stack.show_json(planfile).get("variables", {}).get("container_image", {})
    if pushed and planned.get("value") not in (None, pushed):
        raise StalePlanError(
            f"The saved service plan deploys {planned['value']}, but the last push was {pushed}.",
            f"Make a new plan: `mlinfra plan --env {connection.env.name}`.",
        )


# Terraform's lines worth showing while it applies (one per resource, and the slow ones' ticks).
_PROGRESS_LINE = re.compile(
    r": (Creation|Modifications|Destruction) complete|: Still (creating|modifying|destroying)"
)


def terraform_progress(say: Say) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        if _PROGRESS_LINE.search(line):
            say(line)

    return on_line


def apply_stack(connection: Connection, stack_name: str, say: Say = _quiet) -> None:
    """Apply a stack's saved plan (only if still current), then retire the plan file."""
    stack = connection.stack(stack_name)
    planfile = connection.planfile(stack_name)
    if stack_name == "service" and planfile.exists():
        _check_plan_image(connection, stack, planfile)
    stack.apply(planfile, terraform_progress(say))
    # An applied plan is stale by definition; keeping it would only invite a second apply.
    planfile.unlink(missing_ok=True)


def destroy_stack(connection: Connection, stack_name: str, say: Say = _quiet) -> PlanSummary:
    """Destroy one stack with the variables it was planned with."""
    stack = connection.stack(stack_name)
    write_stack_tfvars(connection, stack_name, for_destroy=True)
    files = [f for f in connection.var_files(stack_name) if f.exists()]
    if stack_name == "service" and tfvars.read_image_tfvars(connection.env.state_dir) is None:
        files.append(_destroy_image_tfvars(connection))
    removed = stack.destroy(connection.planfile(stack_name), files, terraform_progress(say))
    connection.planfile(stack_name).unlink(missing_ok=True)
    return removed


def _destroy_image_tfvars(connection: Connection) -> Path:
    # The service stack requires container_image even to plan its destruction, which never
    # reads it; without a recorded push (state folder wiped, say) any tagged value will do.
    return tfvars.write_atomic_json(
        connection.env.state_dir / "destroy.tfvars.json", {"container_image": "unknown:destroy"}
    )
