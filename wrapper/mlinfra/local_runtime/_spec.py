"""What to run: an ECS task definition translated into Docker's terms (pure functions).

Only the fields an ECS agent applies to a bridge-mode container on EC2 are translated; the
awslogs log driver is played by the agent (``_logs``), which ships what Docker keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlinfra.errors import ConfigError
from mlinfra.local_runtime._logs import AwsLogs, aws_logs

LABEL_ENV = "mlinfra.env"
LABEL_ROLE = "mlinfra.role"
LABEL_CLUSTER = "mlinfra.cluster"
LABEL_SERVICE = "mlinfra.service"
LABEL_TASK_DEFINITION = "mlinfra.task-definition"
# The task definition's fields the runtime could not honour, comma-separated, on each task.
LABEL_UNHONOURED = "mlinfra.unhonoured"

# ECS defaults when a field is absent (Amazon ECS developer guide, task definition parameters).
ECS_DEFAULT_STOP_TIMEOUT_S = 30
ECS_HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
_NS = 1_000_000_000

# What the runtime reads of a task definition. Any other field with a value is listed in
# ``TaskSpec.unhonoured`` (and so in ``status``), never silently dropped. The metadata ECS adds
# (ARN, status, registeredAt, ...) describes the registration, not the task, and is not listed.
# NOTE: executionRoleArn is honoured in what it grants (the runtime pulls and reads the secrets
# for the task); its policy is not evaluated, the emulator's keys read everything.
_TASK_FIELDS_READ = frozenset(
    {"family", "revision", "containerDefinitions", "networkMode", "cpu", "memory",
     "requiresCompatibilities", "executionRoleArn"}
)  # fmt: skip
_TASK_METADATA = frozenset(
    {"taskDefinitionArn", "status", "compatibilities", "requiresAttributes", "registeredAt",
     "registeredBy", "deregisteredAt", "tags"}
)  # fmt: skip
_CONTAINER_FIELDS_READ = frozenset(
    {"name", "image", "essential", "command", "entryPoint", "workingDirectory", "user",
     "portMappings", "environment", "secrets", "stopTimeout", "readonlyRootFilesystem",
     "healthCheck", "dockerSecurityOptions", "linuxParameters", "memory", "memoryReservation",
     "cpu", "dockerLabels", "ulimits"}
)  # fmt: skip
_LINUX_PARAMETERS_READ = frozenset({"initProcessEnabled", "tmpfs", "capabilities"})


@dataclass(frozen=True)
class HealthCheck:
    """A container health check in ECS units (seconds)."""

    command: list[str]
    interval_s: int
    timeout_s: int
    retries: int
    start_period_s: int

    def docker(self) -> dict[str, Any]:
        """Docker's healthcheck dict (nanoseconds); ``CMD``/``CMD-SHELL`` mean the same in both."""
        return {
            "test": self.command,
            "interval": self.interval_s * _NS,
            "timeout": self.timeout_s * _NS,
            "retries": self.retries,
            "start_period": self.start_period_s * _NS,
        }

    def deadline_s(self) -> float:
        """How long Docker needs at most to call a container ``healthy`` or ``unhealthy``."""
        return self.start_period_s + (self.retries + 1) * (self.interval_s + self.timeout_s)


@dataclass(frozen=True)
class TaskSpec:
    """One task of a service, ready to hand to ``docker run``.

    ``container_port`` is the port the load balancer targets (``None``: the task is not behind
    a target group); ``host_port`` 0 lets Docker choose, as ECS does for dynamic host ports.
    """

    family_revision: str
    container_name: str
    image: str
    environment: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    working_dir: str | None = None
    user: str | None = None
    ports: dict[int, int] = field(default_factory=dict)
    container_port: int | None = None
    health: HealthCheck | None = None
    memory_mib: int | None = None
    memory_reservation_mib: int | None = None
    cpu_shares: int | None = None
    task_cpu_units: int | None = None
    read_only: bool = False
    stop_timeout_s: int = ECS_DEFAULT_STOP_TIMEOUT_S
    init: bool = False
    tmpfs: dict[str, str] = field(default_factory=dict)
    docker_labels: dict[str, str] = field(default_factory=dict)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    # ECS ulimits as Docker's: [{"Name": "nofile", "Soft": 1024, "Hard": 4096}, ...]
    ulimits: list[dict[str, Any]] = field(default_factory=list)
    # Where the agent ships the container's output (the awslogs driver), or None.
    logs: AwsLogs | None = None
    # Field paths of the task definition the runtime does not honour ("containerDefinitions[0].
    # logConfiguration", "taskRoleArn", ...), sorted.
    unhonoured: tuple[str, ...] = ()

    def run_kwargs(self, *, name: str, labels: dict[str, str]) -> dict[str, Any]:
        """Keyword arguments of ``DockerClient.containers.run`` for one task."""
        kwargs: dict[str, Any] = {
            "image": self.image,
            "name": name,
            "labels": {**self.docker_labels, **labels},
            "environment": self.environment,
            "detach": True,
            # NOTE: ports only on the loopback, like a task behind a security group that admits
            # nothing but the load balancer; None asks Docker for a free port (hostPort 0).
            "ports": {
                f"{cport}/tcp": ("127.0.0.1", hport or None) for cport, hport in self.ports.items()
            },
            "read_only": self.read_only,
            "init": self.init,
        }
        optional = {
            "command": self.command,
            "entrypoint": self.entrypoint,
            "working_dir": self.working_dir,
            "user": self.user,
            "healthcheck": self.health.docker() if self.health else None,
            "mem_limit": f"{self.memory_mib}m" if self.memory_mib else None,
            "mem_reservation": f"{self.memory_reservation_mib}m"
            if self.memory_reservation_mib
            else None,
            # ECS maps a container's cpu units to CPU shares and the task's cpu to a hard cap.
            "cpu_shares": max(self.cpu_shares, 2) if self.cpu_shares else None,
            "nano_cpus": self.task_cpu_units * _NS // 1024 if self.task_cpu_units else None,
            "tmpfs": self.tmpfs or None,
            "cap_add": self.cap_add or None,
            "cap_drop": self.cap_drop or None,
            "security_opt": self.security_opt or None,
            "ulimits": [
                {"Name": u["Name"], "Soft": u["Soft"], "Hard": u["Hard"]} for u in self.ulimits
            ]
            or None,
        }
        kwargs.update({key: value for key, value in optional.items() if value is not None})
        return kwargs


def _health(definition: dict[str, Any]) -> HealthCheck | None:
    check = definition.get("healthCheck")
    if not check or not check.get("command"):
        return None
    values = {**ECS_HEALTH_DEFAULTS, **{k: v for k, v in check.items() if v is not None}}
    return HealthCheck(
        command=list(check["command"]),
        interval_s=int(values["interval"]),
        timeout_s=int(values["timeout"]),
        retries=int(values["retries"]),
        start_period_s=int(values["startPeriod"]),
    )


def _tmpfs(definition: dict[str, Any]) -> dict[str, str]:
    """ECS ``linuxParameters.tmpfs`` (size in MiB) as Docker's ``{path: "size=..,options"}``."""
    mounts = (definition.get("linuxParameters") or {}).get("tmpfs") or []
    return {
        m["containerPath"]: ",".join([f"size={int(m['size'])}m", *m.get("mountOptions", [])])
        for m in mounts
    }


def _capabilities(definition: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``linuxParameters.capabilities`` (add, drop) as the ECS agent hands them to Docker:
    names as given (``ALL``, ``NET_BIND_SERVICE``; Docker takes them with or without CAP_)."""
    capabilities = (definition.get("linuxParameters") or {}).get("capabilities") or {}
    return list(capabilities.get("add") or []), list(capabilities.get("drop") or [])


def _ulimits(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """ECS ``ulimits`` ({name, softLimit, hardLimit}) as Docker's HostConfig.Ulimits."""
    return [
        {"Name": u["name"], "Soft": int(u["softLimit"]), "Hard": int(u["hardLimit"])}
        for u in definition.get("ulimits") or []
    ]


def _has_value(value: Any) -> bool:
    return value not in (None, "", [], {})


def unhonoured_fields(task_definition: dict[str, Any]) -> tuple[str, ...]:
    """The field paths of ``task_definition`` that carry a value the runtime does not apply."""
    found = [
        key
        for key, value in task_definition.items()
        if key not in _TASK_FIELDS_READ | _TASK_METADATA and _has_value(value)
    ]
    for index, container in enumerate(task_definition.get("containerDefinitions", [])):
        prefix = f"containerDefinitions[{index}]"
        # awslogs is honoured (the agent ships the output); any other driver is not.
        read = _CONTAINER_FIELDS_READ | ({"logConfiguration"} if aws_logs(container) else set())
        found += [
            f"{prefix}.{key}"
            for key, value in container.items()
            if key not in read and _has_value(value)
        ]
        linux = container.get("linuxParameters") or {}
        found += [
            f"{prefix}.linuxParameters.{key}"
            for key, value in linux.items()
            if key not in _LINUX_PARAMETERS_READ and _has_value(value)
        ]
        found += [
            f"{prefix}.portMappings[{i}].protocol"
            for i, mapping in enumerate(container.get("portMappings") or [])
            if mapping.get("protocol", "tcp") != "tcp"
        ]
    return tuple(sorted(found))


def _environment(
    definition: dict[str, Any], secret_values: Mapping[str, str], family_revision: str
) -> dict[str, str]:
    """Plain variables plus ``secrets`` (resolved by the caller), as the ECS agent injects them."""
    environment = {e["name"]: e["value"] for e in definition.get("environment", [])}
    for secret in definition.get("secrets", []):
        if secret["valueFrom"] not in secret_values:
            raise ConfigError(
                f"Secret {secret['name']} of {family_revision} ({secret['valueFrom']}) was not resolved.",
                "Create the SSM parameter or Secrets Manager secret in the emulator first.",
            )
        environment[secret["name"]] = secret_values[secret["valueFrom"]]
    return environment


def _int_or_none(value: Any) -> int | None:
    return int(value) if value not in (None, "", 0, "0") else None


def task_spec(
    task_definition: dict[str, Any],
    load_balancer: dict[str, Any] | None,
    secret_values: Mapping[str, str] | None = None,
) -> TaskSpec:
    """The :class:`TaskSpec` of an ECS ``describe_task_definition()["taskDefinition"]``.

    ``load_balancer`` is the service's ``loadBalancers`` entry (container name and port the
    target group points at), or None; ``secret_values`` maps each secret's ``valueFrom`` to its
    value.
    """
    family_revision = f"{task_definition['family']}:{task_definition['revision']}"
    definitions = task_definition.get("containerDefinitions", [])
    if len(definitions) != 1:
        names = [d.get("name") for d in definitions]
        raise ConfigError(
            f"Task definition {family_revision} has {len(definitions)} containers {names}; the "
            "local runtime runs tasks of exactly one container.",
            "Keep one container per task in the local environment (sidecars are not supported).",
        )
    definition = definitions[0]
    network_mode = task_definition.get("networkMode", "bridge")
    if network_mode != "bridge":
        raise ConfigError(
            f"Task definition {family_revision} uses networkMode {network_mode!r}.",
            "The local runtime plays ECS on EC2 with bridge networking and dynamic host ports; "
            'set network_mode = "bridge" in the local environment.',
        )
    if definition.get("mountPoints") or definition.get("volumesFrom"):
        raise ConfigError(
            f"Task definition {family_revision} mounts volumes; the local runtime runs none.",
            "Use linuxParameters.tmpfs (tmpfs_mounts) for scratch space in the local environment.",
        )
    ports = {
        int(m["containerPort"]): int(m.get("hostPort") or 0)
        for m in definition.get("portMappings", [])
        if m.get("protocol", "tcp") == "tcp"
    }
    container_port = None
    if load_balancer is not None:
        if load_balancer.get("containerName") != definition["name"]:
            raise ConfigError(
                f"The service's load balancer targets container {load_balancer.get('containerName')!r}, "
                f"but task definition {family_revision} has only {definition['name']!r}.",
                "Make the service's load_balancer container_name match the container definition.",
            )
        container_port = int(load_balancer["containerPort"])
        if container_port not in ports:
            raise ConfigError(
                f"The load balancer targets port {container_port} of {definition['name']!r}, which "
                f"maps only {sorted(ports)} in {family_revision}.",
                "Add a portMappings entry for that containerPort (hostPort 0).",
            )
    cap_add, cap_drop = _capabilities(definition)
    return TaskSpec(
        family_revision=family_revision,
        container_name=definition["name"],
        image=definition["image"],
        environment=_environment(definition, secret_values or {}, family_revision),
        command=definition.get("command") or None,
        entrypoint=definition.get("entryPoint") or None,
        working_dir=definition.get("workingDirectory") or None,
        user=definition.get("user") or None,
        ports=ports,
        container_port=container_port,
        health=_health(definition),
        memory_mib=_int_or_none(definition.get("memory"))
        or _int_or_none(task_definition.get("memory")),
        memory_reservation_mib=_int_or_none(definition.get("memoryReservation")),
        cpu_shares=_int_or_none(definition.get("cpu")),
        task_cpu_units=_int_or_none(task_definition.get("cpu")),
        read_only=bool(definition.get("readonlyRootFilesystem", False)),
        stop_timeout_s=int(definition.get("stopTimeout") or ECS_DEFAULT_STOP_TIMEOUT_S),
        init=bool((definition.get("linuxParameters") or {}).get("initProcessEnabled", False)),
        tmpfs=_tmpfs(definition),
        docker_labels=dict(definition.get("dockerLabels") or {}),
        cap_add=cap_add,
        cap_drop=cap_drop,
        # ECS passes dockerSecurityOptions ("no-new-privileges", "apparmor:...", "label:...")
        # to Docker's SecurityOpt unchanged.
        security_opt=list(definition.get("dockerSecurityOptions") or []),
        ulimits=_ulimits(definition),
        logs=aws_logs(definition),
        unhonoured=unhonoured_fields(task_definition),
    )
