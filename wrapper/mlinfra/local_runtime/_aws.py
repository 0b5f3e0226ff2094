"""The emulated AWS as the local runtime sees it: the service to run, its targets, its counts.

Everything goes through boto3 against the emulator endpoint (``mlinfra.emulator``), the same
calls an ECS agent and the ALB controller make against AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from mlinfra.emulator import boto3_session, set_service_counts
from mlinfra.errors import DeployError, EmulatorError
from mlinfra.local_runtime._spec import TaskSpec, task_spec

T = TypeVar("T")
# The ELB default; the local environment sets its own on the target group.
DEFAULT_DEREGISTRATION_DELAY_S = 300
# Target group attributes the local load balancer does not apply, with the value that changes
# nothing (any other value is listed as unhonoured).
_GROUP_ATTRIBUTE_DEFAULTS = {
    "stickiness.enabled": "false",
    "slow_start.duration_seconds": "0",
    "load_balancing.algorithm.type": "round_robin",
}


@dataclass(frozen=True)
class TargetHealthCheck:
    """The target group's health check, in ELB's terms (the ALB's defaults when absent)."""

    path: str = "/"
    interval_s: int = 30
    timeout_s: int = 5
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200"

    def passes(self, code: int) -> bool:
        """Whether HTTP status ``code`` is healthy under the matcher ("200", "200,204", "200-299")."""
        for part in self.matcher.split(","):
            low, _, high = part.strip().partition("-")
            if int(low) <= code <= int(high or low):
                return True
        return False


@dataclass(frozen=True)
class TargetGroup:
    arn: str
    target_type: str
    deregistration_delay_s: int
    health_check: TargetHealthCheck | None = None
    load_balancer_arns: tuple[str, ...] = ()
    # Settings of the group the local load balancer does not apply, as field paths.
    unhonoured: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listener:
    """One listener of the ALB in front of the target group."""

    port: int
    protocol: str  # HTTP or HTTPS
    # (status code, protocol, port) of a redirect default action; None for a forward.
    redirect: tuple[int, str, str] | None = None
    certificate_domains: tuple[str, ...] = ()
    # (target group ARN, weight) of a forward default action: one group at weight 1, or the
    # weighted groups of a ForwardConfig (a canary beside the stable service).
    forward: tuple[tuple[str, int], ...] = ()
    # (priority, path pattern, target group ARN) of each rule that forwards by path alone to
    # one group (the other models of the environment); rules on hosts or headers are not here.
    path_rules: tuple[tuple[int, str, str], ...] = ()


@dataclass(frozen=True)
class CircuitBreaker:
    """The service's deployment circuit breaker (``deploymentCircuitBreaker``)."""

    enable: bool = False
    rollback: bool = False


@dataclass(frozen=True)
class Target:
    """A registered target: an EC2 instance id (or an IP) and the task's host port."""

    id: str
    port: int


@dataclass(frozen=True)
class ServiceView:
    """An ECS service as declared: what the runtime converges the local Docker engine to."""

    cluster: str
    service: str
    desired_count: int
    task: TaskSpec
    target_group: TargetGroup | None
    listeners: tuple[Listener, ...] = ()
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    # ECS ignores the target group's verdict on a task this long after it started.
    health_check_grace_period_s: int = 0


def _path_rules(rules: list[dict[str, Any]]) -> tuple[tuple[int, str, str], ...]:
    """The rules of a listener the local load balancer follows: path conditions only, one
    target group forwarded to."""
    found = []
    for rule in rules:
        if rule.get("IsDefault") or not str(rule.get("Priority", "")).isdigit():
            continue
        conditions = rule.get("Conditions") or []
        if any(c.get("Field") != "path-pattern" for c in conditions):
            continue
        groups = _forward_weights(rule.get("Actions") or [])
        if len(groups) != 1:
            continue
        for condition in conditions:
            values = (condition.get("PathPatternConfig") or {}).get("Values") or condition.get(
                "Values", []
            )
            found += [(int(rule["Priority"]), str(v), groups[0][0]) for v in values]
    return tuple(sorted(found))


def _forward_weights(actions: list[dict[str, Any]]) -> tuple[tuple[str, int], ...]:
    """The target groups a listener's forward action sends requests to, with their weights."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return tuple((g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups)
        if action.get("TargetGroupArn"):
            return ((action["TargetGroupArn"], 1),)
    return ()


@contextmanager
def _translated(endpoint: str, doing: str) -> Iterator[None]:
    """Raise boto3's failures as EmulatorError naming the call and the endpoint."""
    try:
        yield
    except ClientError as err:
        raise EmulatorError(
            f"The emulator at {endpoint} refused to {doing}: {err}",
            "Check that `mlinfra apply --env local` created the service stack in this emulator.",
        ) from err
    except BotoCoreError as err:
        raise EmulatorError(
            f"The emulator at {endpoint} did not answer while trying to {doing}: {err}",
            "Start it with `mlinfra.emulator.start()` (or `mlinfra deploy --env local`).",
        ) from err


@dataclass(frozen=True)
class SecretReference:
    """A Secrets Manager ``valueFrom`` of a task definition, taken apart."""

    arn: str
    json_key: str = ""
    version_stage: str = ""
    version_id: str = ""


# arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>: seven colon-separated parts.
_SECRET_ARN_PARTS = 7


def secrets_manager_reference(value_from: str) -> SecretReference:
    """``arn:...:secret:NAME-xxxxxx[:json-key[:version-stage[:version-id]]]`` (ECS's format)."""
    parts = value_from.split(":")
    extra = parts[_SECRET_ARN_PARTS:]
    if len(parts) < _SECRET_ARN_PARTS or len(extra) > 3 or parts[5] != "secret":
        raise DeployError(
            f"{value_from!r} is not a Secrets Manager valueFrom.",
            "Use the secret's ARN, optionally followed by :json-key:version-stage:version-id.",
        )
    # With both a stage and an id, GetSecretValue checks that they name the same version.
    json_key, stage, version = (*extra, "", "", "")[:3]
    return SecretReference(":".join(parts[:_SECRET_ARN_PARTS]), json_key, stage, version)


def _pages(
    call: Callable[..., Any],
    key: str,
    *,
    marker: tuple[str, str] = ("nextToken", "nextToken"),
    **kwargs: Any,
) -> list[Any]:
    """Every page's ``key`` items; ``marker`` names the request's and the answer's paging
    fields (ECS: nextToken, ELB: Marker and NextMarker)."""
    sent, answered = marker
    items: list[Any] = []
    token: str | None = None
    while True:
        page = call(**kwargs, **({sent: token} if token else {}))
        items += page.get(key, [])
        token = page.get(answered)
        if not token:
            return items


class EmulatedAws:
    """ECS, ELBv2, Auto Scaling, SSM and CloudWatch Logs clients on one emulator endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.session = boto3_session(endpoint)
        self.ecs = self.session.client("ecs")
        self.ssm = self.session.client("ssm")
        self.elbv2 = self.session.client("elbv2")
        self.autoscaling = self.session.client("autoscaling")
        self.logs = self.session.client("logs")

    def read_service(
        self, cluster: str, service: str, task_definition: str | None = None
    ) -> ServiceView:
        """The service, its current task definition (or ``task_definition``, a family:revision
        of its family) and its target group."""
        with _translated(self.endpoint, f"describe ECS service {service} of cluster {cluster}"):
            found = self.ecs.describe_services(cluster=cluster, services=[service])["services"]
            found = [s for s in found if s.get("status") == "ACTIVE"]
            if not found:
                raise DeployError(
                    f"No active ECS service {service!r} in cluster {cluster!r} at {self.endpoint}.",
                    "Apply the local environment first: mlinfra apply --env local.",
                )
            described = found[0]
            # Plain dicts from here: the runtime reads them as the documented JSON.
            definition: dict[str, Any] = dict(
                self.ecs.describe_task_definition(
                    taskDefinition=task_definition or described["taskDefinition"]
                )["taskDefinition"]
            )
            secret_values = self._secret_values(definition)
            balancers = described.get("loadBalancers") or []
            balancer: dict[str, Any] | None = dict(balancers[0]) if balancers else None
            target_group = self._target_group(balancer["targetGroupArn"]) if balancer else None
            listeners = self._listeners(target_group) if target_group else ()
        spec = task_spec(definition, balancer, secret_values)
        elsewhere = [*(target_group.unhonoured if target_group else ())]
        elsewhere += [
            f"listener[{item.port}].SslPolicy" for item in listeners if item.protocol == "HTTPS"
        ]
        configuration: dict[str, Any] = dict(described.get("deploymentConfiguration") or {})
        breaker: dict[str, Any] = configuration.get("deploymentCircuitBreaker") or {}
        return ServiceView(
            cluster=described["clusterArn"].rsplit("/", 1)[-1],
            service=described["serviceName"],
            desired_count=int(described.get("desiredCount", 0)),
            task=replace(spec, unhonoured=tuple(sorted({*spec.unhonoured, *elsewhere}))),
            target_group=target_group,
            listeners=listeners,
            health_check_grace_period_s=int(described.get("healthCheckGracePeriodSeconds") or 0),
            circuit_breaker=CircuitBreaker(
                bool(breaker.get("enable")), bool(breaker.get("rollback"))
            ),
        )

    def _listeners(self, group: TargetGroup) -> tuple[Listener, ...]:
        """The listeners of the load balancers that forward to ``group`` (or redirect to one)."""
        found = []
        for arn in group.load_balancer_arns:
            for listener in _pages(
                self.elbv2.describe_listeners,
                "Listeners",
                marker=("Marker", "NextMarker"),
                LoadBalancerArn=arn,
            ):
                redirect = next(
                    (
                        a.get("RedirectConfig") or {}
                        for a in listener.get("DefaultActions", [])
                        if a.get("Type") == "redirect"
                    ),
                    None,
                )
                found.append(
                    Listener(
                        port=int(listener["Port"]),
                        protocol=listener.get("Protocol", "HTTP"),
                        redirect=(
                            int(str(redirect.get("StatusCode", "HTTP_301")).removeprefix("HTTP_")),
                            str(redirect.get("Protocol", "#{protocol}")),
                            str(redirect.get("Port", "#{port}")),
                        )
                        if redirect is not None
                        else None,
                        certificate_domains=self._certificate_domains(listener),
                        forward=_forward_weights(listener.get("DefaultActions", [])),
                        path_rules=self._path_rules(listener["ListenerArn"]),
                    )
                )
        return tuple(sorted(found, key=lambda item: item.port))

    def _path_rules(self, listener_arn: str) -> tuple[tuple[int, str, str], ...]:
        rules = self.elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]
        return _path_rules([dict(rule) for rule in rules])

    def _certificate_domains(self, listener: dict[str, Any]) -> tuple[str, ...]:
        """The domain and SANs of the listener's ACM certificates (none when ACM has none)."""
        domains: list[str] = []
        acm = self.session.client("acm")
        for certificate in listener.get("Certificates") or []:
            try:
                described = acm.describe_certificate(CertificateArn=certificate["CertificateArn"])
            except ClientError:
                continue  # an IAM server certificate, or one the emulator does not hold
            cert = described["Certificate"]
            domains += [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])]
        return tuple(dict.fromkeys(d for d in domains if d))

    def _secret_values(self, task_definition: dict[str, Any]) -> dict[str, str]:
        """The values of the containers' ``secrets``, read as the ECS agent does: SSM parameters
        (name or ARN) and Secrets Manager secrets (ARN)."""
        sources = {
            secret["valueFrom"]
            for container in task_definition.get("containerDefinitions", [])
            for secret in container.get("secrets", [])
        }
        values = {}
        for source in sorted(sources):
            if source.startswith("arn:") and ":secretsmanager:" in source:
                values[source] = self._secrets_manager_value(source)
            else:
                # GetParameter takes the parameter's name or its ARN, as valueFrom does.
                parameter = self.ssm.get_parameter(Name=source, WithDecryption=True)
                values[source] = parameter["Parameter"]["Value"]
        return values

    def _secrets_manager_value(self, value_from: str) -> str:
        """A Secrets Manager ``valueFrom``, read as the ECS agent does: the secret's ARN, then
        optionally ``:json-key:version-stage:version-id`` (each may be empty)."""
        reference = secrets_manager_reference(value_from)
        request: dict[str, str] = {"SecretId": reference.arn}
        if reference.version_id:
            request["VersionId"] = reference.version_id
        if reference.version_stage:
            request["VersionStage"] = reference.version_stage
        value: str = self.session.client("secretsmanager").get_secret_value(**request)[
            "SecretString"
        ]
        if not reference.json_key:
            return value
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            document = None
        if not isinstance(document, dict) or reference.json_key not in document:
            # NOTE: names the key and the secret, never the value.
            raise DeployError(
                f"Secret {reference.arn} has no JSON key {reference.json_key!r} (valueFrom "
                f"{value_from}).",
                "Store a JSON object with that key in the secret, or drop the json-key part.",
            )
        return str(document[reference.json_key])

    def _target_group(self, arn: str) -> TargetGroup:
        group = self.elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        attributes = self.elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        delay = next(
            (
                int(a["Value"])
                for a in attributes
                if a["Key"] == "deregistration_delay.timeout_seconds"
            ),
            DEFAULT_DEREGISTRATION_DELAY_S,
        )
        values = {a["Key"]: a["Value"] for a in attributes}
        check = None
        if group.get("HealthCheckEnabled", True):
            check = TargetHealthCheck(
                path=group.get("HealthCheckPath") or "/",
                interval_s=int(group.get("HealthCheckIntervalSeconds") or 30),
                timeout_s=int(group.get("HealthCheckTimeoutSeconds") or 5),
                healthy_threshold=int(group.get("HealthyThresholdCount") or 5),
                unhealthy_threshold=int(group.get("UnhealthyThresholdCount") or 2),
                matcher=(group.get("Matcher") or {}).get("HttpCode") or "200",
            )
        unhonoured = [
            # NOTE: a new target takes traffic once its container health check passes; the
            # local balancer does not wait for this many passes of its own check first.
            "targetGroup.HealthyThresholdCount",
            *(
                f"targetGroup.attributes.{key}"
                for key, default in _GROUP_ATTRIBUTE_DEFAULTS.items()
                if values.get(key, default) != default
            ),
        ]
        if group.get("HealthCheckPort") not in (None, "traffic-port"):
            unhonoured.append("targetGroup.HealthCheckPort")
        return TargetGroup(
            arn=arn,
            target_type=group.get("TargetType", "instance"),
            deregistration_delay_s=delay,
            health_check=check,
            load_balancer_arns=tuple(group.get("LoadBalancerArns") or ()),
            unhonoured=tuple(unhonoured),
        )

    def instance_ids(self, cluster: str) -> list[str]:
        """The cluster's EC2 instances: its registered container instances, else the instances
        of its capacity providers' Auto Scaling groups (the emulator runs no ECS agent that would
        register them)."""
        with _translated(self.endpoint, f"list the EC2 instances of cluster {cluster}"):
            arns = _pages(
                self.ecs.list_container_instances, "containerInstanceArns", cluster=cluster
            )
            if arns:
                described = self.ecs.describe_container_instances(
                    cluster=cluster, containerInstances=arns
                )
                return sorted(i["ec2InstanceId"] for i in described["containerInstances"])
            clusters = self.ecs.describe_clusters(clusters=[cluster])["clusters"]
            providers = clusters[0].get("capacityProviders", []) if clusters else []
            if not providers:
                return []
            capacity = self.ecs.describe_capacity_providers(capacityProviders=providers)
            group_names = [
                p["autoScalingGroupProvider"]["autoScalingGroupArn"].rsplit("/", 1)[-1]
                for p in capacity["capacityProviders"]
                if p.get("autoScalingGroupProvider")
            ]
            if not group_names:
                return []
            groups = self.autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=group_names
            )
            return sorted(
                i["InstanceId"]
                for g in groups["AutoScalingGroups"]
                for i in g.get("Instances", [])
                if i.get("LifecycleState") == "InService"
            )

    def register_targets(self, target_group: TargetGroup, targets: Sequence[Target]) -> None:
        if targets:
            with _translated(self.endpoint, f"register {list(targets)} in {target_group.arn}"):
                self.elbv2.register_targets(
                    TargetGroupArn=target_group.arn,
                    Targets=[{"Id": t.id, "Port": t.port} for t in targets],
                )

    def deregister_targets(self, target_group: TargetGroup, targets: Sequence[Target]) -> None:
        with _translated(self.endpoint, f"deregister {list(targets)} from {target_group.arn}"):
            registered = set(self.registered_targets(target_group))
            gone = [t for t in targets if t in registered]
            if gone:
                self.elbv2.deregister_targets(
                    TargetGroupArn=target_group.arn,
                    Targets=[{"Id": t.id, "Port": t.port} for t in gone],
                )

    def registered_targets(self, target_group: TargetGroup) -> list[Target]:
        with _translated(self.endpoint, f"describe the targets of {target_group.arn}"):
            health = self.elbv2.describe_target_health(TargetGroupArn=target_group.arn)
        return [
            Target(d["Target"]["Id"], int(d["Target"]["Port"]))
            for d in health["TargetHealthDescriptions"]
            if d.get("TargetHealth", {}).get("State") != "draining"
        ]

    def report_counts(self, view: ServiceView, running: int, pending: int) -> None:
        set_service_counts(self.endpoint, view.cluster, view.service, running, pending)
