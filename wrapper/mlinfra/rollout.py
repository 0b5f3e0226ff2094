"""Waiting for an ECS rollout: a poller over DescribeServices and pure judgements of what ECS
answers (is it stable, did the circuit breaker roll it back, do the tasks run the new image).

The judgements take the dictionaries boto3 returns and nothing else, so they are tested on
recorded answers (tests/unit/wrapper/test_rollout.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlinfra.errors import DeployError, RolledBackError

STABLE_TIMEOUT_S = 600.0
STOPPED_TASKS_SHOWN = 3
LOG_LINES_SHOWN = 5

Say = Callable[[str], None]
AwsDict = dict[str, Any]


def _quiet(_line: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# Judgements of what ECS answers
# ---------------------------------------------------------------------------------------------


def revision(task_definition: str) -> str:
    """``family:revision`` of a task definition ARN (or of ``family:revision`` itself)."""
    return task_definition.rsplit("/", 1)[-1]


def primary_deployment(service: AwsDict) -> AwsDict:
    found: AwsDict = next(
        (d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {}
    )
    return found


def is_stable(service: AwsDict) -> bool:
    """The same test as boto3's services_stable waiter, plus the rollout state AWS reports."""
    deployments = service.get("deployments", [])
    return (
        len(deployments) == 1
        and service.get("runningCount") == service.get("desiredCount")
        and primary_deployment(service).get("rolloutState", "COMPLETED") == "COMPLETED"
    )


def progress_line(service: AwsDict) -> str:
    return (
        f"service {service['serviceName']}: {service.get('runningCount', 0)}/"
        f"{service.get('desiredCount', 0)} running, {service.get('pendingCount', 0)} pending, "
        f"rollout {primary_deployment(service).get('rolloutState', 'unknown')}"
    )


def rollout_failure(service: AwsDict, expected: AwsDict | None) -> str | None:
    """Why the rollout of ``expected`` (a task definition) cannot succeed any more, or None
    while it still can.

    NOTE: after the circuit breaker trips, ECS rolls back to the last completed deployment,
    which then completes: without these checks the wait would end "stable" on the old image.
    """
    deployments = service.get("deployments", [])
    failed = [d for d in deployments if d.get("rolloutState") == "FAILED"]
    if expected is not None:
        wanted = revision(expected["taskDefinitionArn"])
        # An older revision's failed deployment may linger beside a new rollout.
        failed = [d for d in failed if revision(d.get("taskDefinition", "")) == wanted]
    if failed:
        return (
            f"The rollout of {failed[0].get('taskDefinition', '?')} failed: "
            f"{failed[0].get('rolloutStateReason') or 'no reason given'}"
        )
    primary = primary_deployment(service)
    if expected is not None and primary:
        running = revision(primary.get("taskDefinition", ""))
        if running != revision(expected["taskDefinitionArn"]):
            # The failed deployment may already be gone from the list (ECS drops it soon).
            return (
                f"The service's primary deployment runs {running}, not "
                f"{revision(expected['taskDefinitionArn'])} just applied: it was rolled back "
                "(or changed by someone else)."
            )
    return None


def task_runs(task: AwsDict, expected: AwsDict) -> bool:
    """Whether a task ECS keeps running (desired RUNNING) runs ``expected`` and its images; a
    task being stopped (the roll replaced it) counts as done."""
    if task.get("desiredStatus", "RUNNING") != "RUNNING":
        return True
    if revision(task.get("taskDefinitionArn", "")) != revision(expected["taskDefinitionArn"]):
        return False
    wanted = {c["name"]: c.get("image") for c in expected.get("containerDefinitions", [])}
    return all(
        c.get("image") in (None, wanted.get(c.get("name"))) for c in task.get("containers", [])
    )


def stopped_task_lines(
    tasks: Sequence[AwsDict],
    expected: AwsDict | None,
    log_tail: Callable[[AwsDict, str], list[str]] = lambda _task, _id: [],
) -> list[str]:
    """Why the newest stopped tasks of ``expected``'s revision stopped: reason, exit codes and
    (from ``log_tail``) their last log lines."""
    if expected is not None:
        wanted = revision(expected["taskDefinitionArn"])
        tasks = [t for t in tasks if revision(t.get("taskDefinitionArn", "")) == wanted]
    ordered = sorted(tasks, key=lambda t: str(t.get("stoppedAt") or ""), reverse=True)
    if not ordered:
        return ["  no stopped task of that revision is reported (ECS keeps them about an hour)"]
    lines: list[str] = []
    for task in ordered[:STOPPED_TASKS_SHOWN]:
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        lines.append(f"  task {task_id} stopped: {task.get('stoppedReason') or 'no reason given'}")
        for container in task.get("containers", []):
            code = container.get("exitCode")
            reason = f" ({container['reason']})" if container.get("reason") else ""
            lines.append(f"    container {container.get('name')}: exit code {code}{reason}")
        lines += [f"    | {m}" for m in log_tail(task, task_id)]
    return lines


def log_streams(task_id: str, definition: AwsDict) -> list[tuple[str, str]]:
    """The awslogs (group, stream) of each container of a task: ``prefix/container/task-id``."""
    streams: list[tuple[str, str]] = []
    for container in definition.get("containerDefinitions", []):
        log_config = container.get("logConfiguration") or {}
        options = log_config.get("options") or {}
        if log_config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
            continue
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{container['name']}/{task_id}" if prefix else task_id
        streams.append((options["awslogs-group"], stream))
    return streams


# ---------------------------------------------------------------------------------------------
# Reading ECS and CloudWatch Logs
# ---------------------------------------------------------------------------------------------


def describe_service(ecs: Any, cluster: str, service: str) -> AwsDict:
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not found:
        raise DeployError(
            f"ECS service {service!r} not found in cluster {cluster!r}.",
            "Apply the service stack (`mlinfra apply --env ENV`).",
        )
    described: AwsDict = found[0]
    return described


def describe_task_definition(ecs: Any, task_definition: str) -> AwsDict:
    described: AwsDict = ecs.describe_task_definition(taskDefinition=task_definition)[
        "taskDefinition"
    ]
    return described


def _tasks_run(ecs: Any, cluster: str, service: AwsDict, expected: AwsDict | None) -> bool:
    """Whether every task ECS means to keep running for the service runs ``expected``.

    The emulator runs no tasks (and reports none); its counts come from the local runtime,
    which runs only the service's current revision.
    """
    if expected is None:
        return True
    pages = ecs.get_paginator("list_tasks").paginate(
        cluster=cluster, serviceName=service["serviceName"], desiredStatus="RUNNING"
    )
    arns = [arn for page in pages for arn in page.get("taskArns", [])]
    for chunk in range(0, len(arns), 100):
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[chunk : chunk + 100])["tasks"]
        if not all(task_runs(task, expected) for task in tasks):
            return False
    return True


def _log_tail(logs: Any, expected: AwsDict | None) -> Callable[[AwsDict, str], list[str]]:
    def tail(task: AwsDict, task_id: str) -> list[str]:
        if logs is None or expected is None:
            return []
        if task.get("taskDefinitionArn") != expected["taskDefinitionArn"]:
            return []
        found: list[str] = []
        for group, stream in log_streams(task_id, expected):
            try:
                events = logs.get_log_events(
                    logGroupName=group,
                    logStreamName=stream,
                    limit=LOG_LINES_SHOWN,
                    startFromHead=False,
                )["events"]
            except (ClientError, BotoCoreError):
                continue  # no stream: the task never started its container
            found += [str(e["message"]).rstrip() for e in events]
        return found[-LOG_LINES_SHOWN:]

    return tail


def _stopped_tasks(
    ecs: Any, logs: Any, cluster: str, service: AwsDict, expected: AwsDict | None
) -> list[str]:
    try:
        arns = ecs.list_tasks(
            cluster=cluster, serviceName=service["serviceName"], desiredStatus="STOPPED"
        ).get("taskArns", [])
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"] if arns else []
    except (ClientError, BotoCoreError) as err:
        return [f"  (the stopped tasks could not be read: {err})"]
    return stopped_task_lines(tasks, expected, _log_tail(logs, expected))


def rollout_error(failure: str, stopped: list[str], env_name: str) -> DeployError:
    return RolledBackError(
        "\n".join([failure, *stopped]),
        "ECS's circuit breaker rolls the service back to the previous task definition; "
        f"read why the new tasks failed with `mlinfra logs --env {env_name}`, fix, and deploy "
        "again.",
    )


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
    expected = describe_task_definition(ecs, task_definition) if task_definition else None
    seen = ""
    while True:
        service = describe_service(ecs, cluster, service_name)
        line = progress_line(service)
        if line != seen:
            say(line)
            seen = line
        failure = rollout_failure(service, expected)
        if failure is not None:
            stopped = _stopped_tasks(ecs, logs, cluster, service, expected)
            raise rollout_error(failure, stopped, env_name)
        if is_stable(service) and _tasks_run(ecs, cluster, service, expected):
            return
        if time.monotonic() > deadline:
            raise DeployError(
                f"The service did not become stable within {timeout_s:.0f} s ({line}).",
                f"Look at `mlinfra status --env {env_name}` and `mlinfra logs`.",
            )
        time.sleep(poll_s)
