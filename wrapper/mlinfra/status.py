"""``mlinfra status``: what runs where, read from the service stack's outputs, ECS and the ALB.

The summaries are pure functions of what AWS answers (tested on recorded answers in
tests/unit/wrapper/test_status.py); :func:`read` does the calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from mlinfra import rollout
from mlinfra.models import ROUTE_PREFIX
from mlinfra.probes import Probe, probe_all
from mlinfra.runtime import Reach

AwsDict = dict[str, Any]


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
    rehearsed: bool = False
    # Where the URL's certificate chains to when the system does not trust it (a rehearsal).
    ca_file: str | None = None
    # Fields of the task definition (and target group) the runtime running it does not honour.
    unhonoured: tuple[str, ...] = ()
    # The number of the release running (the environment's ledger), None before the first.
    release: int | None = None
    # The environment's other models by name: url, healthy, service, image, probes.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.env} (rehearsed)" if self.rehearsed else self.env

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
            "rehearsed": self.rehearsed,
            "ca_file": self.ca_file,
            "unhonoured": list(self.unhonoured),
            "release": self.release,
            "models": self.models,
        }


def service_summary(service: AwsDict, definition: AwsDict, cluster: str) -> AwsDict:
    """The ECS service's counts, rollout state and task definition (DescribeServices, and
    DescribeTaskDefinition's ``taskDefinition``)."""
    return {
        "name": service["serviceName"],
        "cluster": cluster,
        "desired": service.get("desiredCount", 0),
        "running": service.get("runningCount", 0),
        "pending": service.get("pendingCount", 0),
        "rollout_state": rollout.primary_deployment(service).get("rolloutState"),
        "task_definition": rollout.revision(service["taskDefinition"]),
    }


def service_image(definition: AwsDict) -> str | None:
    """The image of the task definition's first (the service's) container."""
    containers = definition.get("containerDefinitions", [])
    return str(containers[0]["image"]) if containers else None


def listener_summaries(listeners: list[AwsDict]) -> list[AwsDict]:
    """DescribeListeners' ``Listeners``, as port and protocol."""
    return [{"port": item["Port"], "protocol": item["Protocol"]} for item in listeners]


def target_summaries(health: AwsDict) -> list[AwsDict]:
    """DescribeTargetHealth's answer, one entry a target."""
    return [
        {
            "id": item["Target"]["Id"],
            "port": item["Target"].get("Port"),
            "state": item["TargetHealth"]["State"],
            "reason": item["TargetHealth"].get("Reason"),
        }
        for item in health["TargetHealthDescriptions"]
    ]


def _load_balancing(elbv2: Any, target_group_arn: str) -> tuple[list[AwsDict], list[AwsDict]]:
    group = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"][0]
    listeners = [
        summary
        for arn in group.get("LoadBalancerArns", [])
        for summary in listener_summaries(
            elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]
        )
    ]
    health = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
    return listeners, target_summaries(health)


def _model(
    ecs: Any,
    cluster: str,
    service_name: str,
    url: str | None,
    name: str,
    reach: Reach,
    probe: Callable[[str, str | None], list[Probe]],
) -> dict[str, Any]:
    """Another model of the environment: its service, image and probes under its prefix."""
    service = rollout.describe_service(ecs, cluster, service_name)
    definition = rollout.describe_task_definition(ecs, service["taskDefinition"])
    model_url = f"{url.rstrip('/')}{ROUTE_PREFIX.format(name=name)}" if url else None
    probes = probe(model_url, reach.ca_file) if model_url else []
    return {
        "url": model_url,
        "healthy": bool(probes) and all(p.ok for p in probes),
        "service": service_summary(service, definition, cluster),
        "image": service_image(definition),
        "probes": [p.to_dict() for p in probes],
    }


def not_deployed(env: str) -> StatusReport:
    return StatusReport(env, deployed=False, url=None, healthy=False)


def read(
    env: str,
    session: boto3.Session,
    outputs: dict[str, Any],
    reach: Reach,
    probe: Callable[[str, str | None], list[Probe]] = lambda url, ca: probe_all(url, ca_file=ca),
) -> StatusReport:
    """Read the ECS service and the ALB the service stack's ``outputs`` name; probe the URL
    ``reach`` gives."""
    url = reach.url
    if not outputs.get("service_name"):
        return not_deployed(env)
    ecs = session.client("ecs")
    service = rollout.describe_service(ecs, outputs["cluster_name"], outputs["service_name"])
    definition = rollout.describe_task_definition(ecs, service["taskDefinition"])
    listeners, targets = _load_balancing(session.client("elbv2"), outputs["target_group_arn"])
    probes = tuple(probe(url, reach.ca_file)) if url else ()
    others = {
        name: _model(ecs, outputs["cluster_name"], entry["service_name"], url, name, reach, probe)
        for name, entry in sorted((outputs.get("models") or {}).items())
    }
    return StatusReport(
        env=env,
        deployed=True,
        url=url,
        healthy=bool(probes)
        and all(p.ok for p in probes)
        and all(m["healthy"] for m in others.values()),
        models=others,
        service=service_summary(service, definition, outputs["cluster_name"]),
        listeners=tuple(listeners),
        targets=tuple(targets),
        image=service_image(definition),
        probes=probes,
        outputs=outputs,
        ca_file=reach.ca_file,
        unhonoured=reach.unhonoured,
    )
