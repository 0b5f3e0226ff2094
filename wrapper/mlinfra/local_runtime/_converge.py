"""Converge the local Docker engine to an ECS service: the ECS agent's and the ALB's job.

A roll follows ECS with minimumHealthyPercent 100 and maximumPercent 200: start the new tasks,
wait until Docker calls them healthy, register them and add them to the proxy, then deregister
the old ones, let them drain for the target group's deregistration delay, and stop them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from docker import DockerClient

from mlinfra import config, docker_engine
from mlinfra.errors import DeployError, RolledBackError
from mlinfra.local_runtime._agent_files import env_lock, read_revisions, record_steady
from mlinfra.local_runtime._aws import EmulatedAws, Listener, ServiceView, Target
from mlinfra.local_runtime._status import RuntimeStatus, status
from mlinfra.local_runtime._tasks import (
    NO_HEALTH_CHECK_DEADLINE_S,
    LocalTask,
    ensure_image,
    list_tasks,
    refreshed,
    start_task,
    stop_tasks,
    wait_settled,
    why_not_healthy,
)
from mlinfra.proxy import LocalProxy, Redirect, Route, Upstream, leaf_certificate

LOOPBACK = "127.0.0.1"
# Headroom over the health check's own deadline for Docker to start the container.
START_MARGIN_S = 15.0


def _target(task: LocalTask, view: ServiceView) -> Target | None:
    """The task as a target: its instance (or the loopback for IP targets) and host port."""
    group = view.target_group
    if group is None or task.host_port is None:
        return None
    target_id = LOOPBACK if group.target_type == "ip" else task.instance_id
    return Target(target_id, task.host_port) if target_id else None


def _targets(tasks: Sequence[LocalTask], view: ServiceView) -> list[Target]:
    return [t for t in (_target(task, view) for task in tasks) if t is not None]


def _upstream(task: LocalTask) -> Upstream | None:
    """Where the proxy reaches the task: its container's bridge address when Docker reports one
    (no docker-proxy in the data path), else its published host port."""
    if task.address is not None:
        host, _, port = task.address.rpartition(":")
        return Upstream(host, int(port))
    return Upstream(LOOPBACK, task.host_port) if task.host_port is not None else None


def _upstreams(tasks: Sequence[LocalTask]) -> list[Upstream]:
    return [u for u in (_upstream(t) for t in tasks) if u is not None]


def _local_redirect(listeners: Sequence[Listener], port: int, tls_port: int) -> Redirect | None:
    """The HTTP listener's redirect in local ports: the ALB's HTTPS port is the proxy's TLS
    port, its HTTP port the proxy's port ("#{port}" keeps the request's)."""
    for listener in listeners:
        if listener.protocol != "HTTP" or listener.redirect is None:
            continue
        status_code, protocol, _ = listener.redirect
        scheme = "HTTP" if protocol == "#{protocol}" else protocol.upper()
        local_port = tls_port if scheme == "HTTPS" else port
        return Redirect(status_code, scheme, local_port)
    return None


@dataclass
class _Converger:
    """One converge run; holds the clients so each step reads as the ECS documentation does."""

    aws: EmulatedAws
    view: ServiceView
    client: DockerClient
    proxy: LocalProxy
    env: str
    say: Callable[[str], None]
    # The agent keeps stopped tasks to show why they stopped (and prunes them itself).
    keep_stopped: bool = False
    # How many started tasks never became healthy (set before DeployError is raised).
    failed_starts: int = 0

    def run(self, auth_config: dict[str, str] | None) -> None:
        view = self.view
        tasks = list_tasks(self.client, self.env, view.cluster, view.service)
        # ECS replaces tasks that stopped or failed their health check; they serve nothing.
        failed = [t for t in tasks if t.failed and not (self.keep_stopped and t.stopped)]
        self._retire(failed, drain=False)
        live = [t for t in tasks if not t.failed]
        current = [t for t in live if t.family_revision == view.task.family_revision]
        old = [t for t in live if t.family_revision != view.task.family_revision]
        surplus = current[view.desired_count :]
        current = current[: view.desired_count]

        started = self._start(view.desired_count - len(current), current, auth_config)
        waiting = [t for t in current if not t.serving] + started
        if waiting:
            self._wait_healthy(waiting, ready=[t for t in current if t.serving])
        serving = [t for t in refreshed([*current, *started]) if t.serving]

        # New tasks take traffic before any old one leaves, as with minimumHealthyPercent 100.
        self._register(serving)
        route(self.proxy, view, _upstreams(serving + [t for t in old if t.serving]))
        self._retire(old + surplus, drain=True, keep=serving)
        self.aws.report_counts(view, running=len(serving), pending=0)
        if len(serving) >= view.desired_count:
            record_steady(self.env, view.service, view.task.family_revision)

    def _start(
        self, missing: int, current: Sequence[LocalTask], auth_config: dict[str, str] | None
    ) -> list[LocalTask]:
        if missing <= 0:
            return []
        view = self.view
        ensure_image(self.client, view.task.image, auth_config)
        running = sum(t.serving for t in current)
        self.aws.report_counts(view, running=running, pending=len(current) - running + missing)
        instances = self.aws.instance_ids(view.cluster) if view.target_group else []
        self.say(f"starting {missing} task(s) of {view.task.family_revision}")
        # Spread over the cluster's instances, as ECS's default placement does: each new task
        # goes to the instance with the fewest of the service's tasks.
        placed = Counter(t.instance_id for t in current if t.instance_id in instances)
        started = []
        for _ in range(missing):
            instance = min(instances, key=lambda i: (placed[i], instances.index(i)), default=None)
            if instance is not None:
                placed[instance] += 1
            started.append(
                start_task(
                    self.client,
                    view.task,
                    env=self.env,
                    cluster=view.cluster,
                    service=view.service,
                    instance_id=instance,
                )
            )
        return started

    def _wait_healthy(self, waiting: list[LocalTask], ready: list[LocalTask]) -> None:
        health = self.view.task.health
        timeout = health.deadline_s() + START_MARGIN_S if health else NO_HEALTH_CHECK_DEADLINE_S
        settled = wait_settled(waiting, timeout)
        bad = [t for t in settled if not t.serving]
        if not bad:
            return
        self.failed_starts = len(bad)
        reasons = "; ".join(f"{t.name}: {why_not_healthy(t)}" for t in bad)
        # Like the ECS deployment circuit breaker: the new tasks go, the old ones keep serving.
        stop_tasks(settled)
        self.aws.report_counts(self.view, running=len(ready), pending=0)
        raise DeployError(
            f"{len(bad)} task(s) of {self.view.task.family_revision} ({self.view.task.image}) did "
            f"not become healthy within {timeout:.0f} s: {reasons}",
            "The previous tasks keep serving. Fix the image or its health check "
            "(docker logs shows the app's output) and deploy again.",
        )

    def _register(self, serving: Sequence[LocalTask]) -> None:
        group = self.view.target_group
        if group is not None:
            self.aws.register_targets(group, _targets(serving, self.view))

    def _retire(
        self, tasks: Sequence[LocalTask], *, drain: bool, keep: Sequence[LocalTask] = ()
    ) -> None:
        if not tasks:
            return
        group = self.view.target_group
        if group is not None:
            self.aws.deregister_targets(group, _targets(tasks, self.view))
        if drain:
            route(self.proxy, self.view, _upstreams(keep))
            # NOTE: the reload already stops new requests to these tasks; the delay lets
            # in-flight ones finish, as the ALB's deregistration delay does.
            if group is not None and group.deregistration_delay_s:
                self.say(f"draining {len(tasks)} task(s) for {group.deregistration_delay_s} s")
                time.sleep(group.deregistration_delay_s)
        stop_tasks(tasks)
        # The emulator keys targets by instance id alone; re-registering the tasks kept
        # restores any the deregistration above took with it (a no-op on AWS).
        self._register(keep)


def pool_name(target_group_arn: str) -> str:
    """The proxy's pool of a target group: ``tg-<its name>`` (unique within a load balancer)."""
    return "tg-" + target_group_arn.rsplit(":", 1)[-1].split("/")[1]


def route(proxy: LocalProxy, view: ServiceView, upstreams: Sequence[Upstream]) -> bool:
    """Point the proxy's pool of the service's target group at ``upstreams``, with the shares
    the listener's forward gives every group and its path rules (as the ALB reads them on each
    request)."""
    group = view.target_group
    if group is None:
        return proxy.set_upstreams(upstreams)
    serving = next((item for item in view.listeners if item.forward or item.path_rules), None)
    forward = serving.forward if serving else ()
    weights = {pool_name(arn): weight for arn, weight in forward}
    routes = [
        Route(priority, pattern, pool_name(arn))
        for priority, pattern, arn in (serving.path_rules if serving else ())
    ]
    ours = pool_name(group.arn)
    if ours not in weights and all(r.pool != ours for r in routes):
        return proxy.set_upstreams(upstreams, pool=ours)
    return proxy.set_upstreams(upstreams, pool=ours, weights=weights, routes=routes)


def proxy_for(
    view: ServiceView,
    env: str,
    *,
    proxy_port: int | None,
    tls_port: int | None,
    client: DockerClient,
) -> LocalProxy:
    """The environment's proxy, running with the listeners the emulated ALB has: HTTPS with a
    certificate made for the rehearsal when one listener is HTTPS, the HTTP port's redirect."""
    proxy = LocalProxy(env, port=proxy_port, tls_port=tls_port, client=client)
    https = [item for item in view.listeners if item.protocol == "HTTPS"]
    certificate = None
    if https:
        domains = [d for item in https for d in item.certificate_domains]
        certificate = leaf_certificate(config.state_dir() / "tls", env, domains)
    redirect = _local_redirect(view.listeners, proxy.port, proxy.tls_port) if https else None
    proxy.ensure_running(certificate=certificate, redirect=redirect)
    return proxy


def converge(
    endpoint: str,
    *,
    env: str,
    cluster: str,
    service: str,
    auth_config: dict[str, str] | None = None,
    proxy_port: int | None = None,
    tls_port: int | None = None,
    client: DockerClient | None = None,
    say: Callable[[str], None] = lambda _: None,
    agent: bool = True,
) -> RuntimeStatus:
    """Run ``service`` of ``cluster`` (as declared in the emulator at ``endpoint``) on Docker.

    Idempotent: with nothing changed it starts and stops nothing. Raises
    :class:`~mlinfra.errors.DeployError` when new tasks never become healthy (the old ones keep
    serving), :class:`~mlinfra.errors.EmulatorError` when the emulator cannot be read.

    Args:
        auth_config: registry credentials for the pull (``{"username": ..., "password": ...}``).
        proxy_port: the proxy's port on 127.0.0.1 (default ``$MLINFRA_PROXY_PORT`` or 8080).
        tls_port: its HTTPS port when the ALB has an HTTPS listener (default
            ``$MLINFRA_PROXY_TLS_PORT`` or 8443).
        say: receives one line per step, for progress output.
        agent: leave the environment's agent running (started or reused) afterwards, which
            replaces tasks that fail as the ECS service scheduler does.
    """
    client = client or docker_engine.client()
    aws = EmulatedAws(endpoint)
    with env_lock(env):
        view = aws.read_service(cluster, service)
        proxy = proxy_for(view, env, proxy_port=proxy_port, tls_port=tls_port, client=client)
        converger = _Converger(aws, view, client, proxy, env, say)
        try:
            converger.run(auth_config)
        except DeployError as err:
            if converger.failed_starts:
                _roll_back_unhealthy(aws, view, env, err, say)
            raise
    if agent:
        from mlinfra.local_runtime._agent import ensure_agent

        ensure_agent(endpoint, env=env, cluster=cluster, service=service, auth_config=auth_config)
    return status(env, client=client)


def _roll_back_unhealthy(
    aws: EmulatedAws, view: ServiceView, env: str, err: DeployError, say: Callable[[str], None]
) -> None:
    """New tasks never became healthy and were stopped (the old ones kept serving): with the
    service's circuit breaker set to roll back, put the service back on the revision that was
    steady, as ECS's rollback does (UpdateService), and raise RolledBackError.

    NOTE: ECS retries up to its threshold (min(max(ceil(0.5 * desired), 3), 200) failed tasks)
    before it trips; here one failed start of every new task trips it, so a deploy's verdict
    is known in seconds rather than after three rounds of the health check.
    """
    steady = read_revisions(env, view.service).get("current")
    breaker = view.circuit_breaker
    if not (breaker.enable and breaker.rollback and steady) or steady == view.task.family_revision:
        return
    aws.ecs.update_service(cluster=view.cluster, service=view.service, taskDefinition=steady)
    say(f"circuit breaker: rolled back from {view.task.family_revision} to {steady}")
    raise RolledBackError(
        f"The rollout of {view.task.family_revision} failed and was rolled back to {steady} "
        f"(circuit breaker): {err.message}",
        err.hint,
    ) from err
