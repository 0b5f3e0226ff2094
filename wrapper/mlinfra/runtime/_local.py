"""The runtime of an environment run on this machine: the local environment, or any other one
rehearsed (``--rehearse``). The emulated AWS (moto server with mlinfra's patches), the local
registry, and the local ECS agent and ALB on Docker (:mod:`mlinfra.local_runtime`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import boto3

from mlinfra import config, models, registry
from mlinfra.errors import RegistryError
from mlinfra.logs import LogEvent, docker_tail
from mlinfra.runtime import _rehearsal
from mlinfra.runtime._base import Reach, Runtime, Say, StackOf
from mlinfra.runtime._places import LocalPlaces, places


def local_registry() -> registry.LocalRegistry:
    """The one local registry, shared by the local environment and every rehearsal (a
    promotion copies between its repositories)."""
    return registry.LocalRegistry(
        config.state_dir() / "registry",
        port=config.port_setting(registry.PORT_ENV, registry.DEFAULT_PORT),
    )


class LocalRuntime(Runtime):
    def __init__(
        self, env: config.Environment, endpoint: str | None, where: LocalPlaces | None = None
    ) -> None:
        from mlinfra import emulator

        self.env = env
        self._endpoint = endpoint
        self.places = where or places(env)
        self.region = emulator.REGION
        # A rehearsal's state lives in the buckets its backend.hcl name (made in its emulator).
        self.backend_bucket = None if env.rehearsed else emulator.STATE_BUCKET

    @classmethod
    def start(cls, env: config.Environment, stacks: Sequence[str], say: Say) -> LocalRuntime:
        """Start (or reuse) the environment's emulator; for a rehearsal, make in it what the
        roots expect the account to hold."""
        from mlinfra import emulator

        where = places(env)
        running = emulator.start(port=where.emulator_port, state_dir=where.emulator_dir)
        if not running.reused:
            say(f"started the AWS emulator of {env.label} at {running.endpoint}")
        runtime = cls(env, running.endpoint, where)
        if env.rehearsed:
            made = _rehearsal.prepare_account(
                runtime.session(),
                _rehearsal.state_buckets(env, stacks),
                _rehearsal.public_zones(env, stacks),
            )
            for thing in made:
                say(f"made the {thing} that {env.name}'s roots expect in its AWS account")
        return runtime

    @property
    def endpoint(self) -> str:
        """The emulator's URL (a runtime made offline, for ``down``, has none)."""
        if self._endpoint is None:
            raise RuntimeError("this LocalRuntime was made offline: it has no emulator endpoint")
        return self._endpoint

    @property
    def where(self) -> str:
        return f"emulator {self.endpoint}"

    def session(self) -> boto3.Session:
        from mlinfra.emulator import boto3_session

        return boto3_session(self.endpoint)

    def terraform_env(self) -> dict[str, str]:
        from mlinfra.emulator import client_env

        return client_env(self.endpoint)

    def backend_values(self) -> dict[str, str]:
        return {"use_path_style": "true"}

    def require_credentials(self) -> None:
        return None  # the emulator takes its own fixed keys

    def registry_login(
        self, repository_name: str, stack: StackOf
    ) -> tuple[str, registry.Credentials]:
        local = local_registry()
        local.start()
        return f"{local.address}/{repository_name}", local.credentials()

    def release_tags(self, repository: str, credentials: registry.Credentials) -> dict[str, str]:
        host, name = repository.split("/", 1)
        return registry.local_release_tags(host, name, credentials)

    def image_exists(self, image: str, credentials: registry.Credentials) -> bool:
        repository, digest = image.split("@", 1)
        host, name = repository.split("/", 1)
        return registry.local_manifest(host, name, digest, credentials) is not None

    def tag_image(self, image: str, tag: str, credentials: registry.Credentials) -> None:
        repository, digest = image.split("@", 1)
        host, name = repository.split("/", 1)
        manifest = registry.local_manifest(host, name, digest, credentials)
        if manifest is None:
            raise RegistryError(f"The local registry holds no {image}.")
        registry.local_put_manifest(host, name, tag, manifest, credentials)

    def copy_image(
        self,
        source: str,
        source_credentials: registry.Credentials,
        repository: str,
        tag: str,
        credentials: registry.Credentials,
    ) -> str:
        """Between repositories of the one local registry (every rehearsal shares it): the
        blobs mounted, the manifest stored as it is."""
        source_repository, digest = source.split("@", 1)
        host, source_name = source_repository.split("/", 1)
        target_host, name = repository.split("/", 1)
        if host != target_host:
            return registry.copy_with_engine(
                source, source_credentials, repository, tag, credentials
            )
        return registry.local_copy(host, source_name, name, digest, tag, credentials)

    def run_service(
        self, outputs: dict[str, Any], credentials: registry.Credentials, say: Say
    ) -> None:
        """Hand the applied services (the stable one, a canary's, the other models') to the
        local ECS agent (the emulator runs no containers); the tasks of a service the apply
        deleted go."""
        from mlinfra import local_runtime

        services = models.service_names(outputs)
        for service in services:
            local_runtime.converge(
                self.endpoint,
                env=self.env.runtime_name,
                cluster=outputs["cluster_name"],
                service=service,
                auth_config=credentials.auth_config(),
                proxy_port=self.places.proxy_port,
                tls_port=self.places.tls_port,
                say=say,
            )
        removed = local_runtime.stop_services_but(self.env.runtime_name, set(services))
        if removed:
            say(f"removed {removed} task(s) of a deleted service")

    def reach(self, outputs: dict[str, Any]) -> Reach:
        """The local load balancer: its HTTPS URL and local CA when the ALB has an HTTPS
        listener (its HTTP port then redirects, as the listener says), else its HTTP URL."""
        from mlinfra import local_runtime

        running = local_runtime.status(self.env.runtime_name)
        return Reach(running.https_url or running.url, running.ca_file, running.unhonoured)

    def api_key_when_unset(self) -> str | None:
        """A rehearsal runs its environment from nothing: it makes the key the user would set
        (`mlinfra secret set --rehearse` replaces it); the local environment asks for it."""
        if not self.env.rehearsed:
            return None
        import secrets

        return secrets.token_urlsafe(32)

    def prepare_destroy(self, say: Say) -> None:
        """Turn off the emulated load balancers' deletion protection (prod has it on): the step
        a person takes in the console before destroying a protected load balancer."""
        for name in _rehearsal.lift_deletion_protection(self.session()):
            say(f"turned off the deletion protection of load balancer {name} (rehearsal)")

    def stop_service(self, say: Say) -> None:
        from mlinfra import local_runtime

        stopped = local_runtime.stop_all(self.env.runtime_name)
        say(f"removed {stopped} local container(s) (the tasks and the proxy)")

    def down(self, say: Say) -> dict[str, Any]:
        """Stop the environment's tasks, proxy and emulator (and, for the local environment,
        the registry).

        The emulated AWS (and the Terraform state kept in it) goes with the emulator; the model,
        the registry's images and the build caches stay on disk. A rehearsal leaves the shared
        registry running for the others.
        """
        from mlinfra import emulator, local_runtime

        stopped: dict[str, Any] = {
            "containers": local_runtime.stop_all(self.env.runtime_name),  # tasks and the proxy
        }
        if not self.env.rehearsed:
            stopped["registry"] = local_registry().stop()
        stopped["emulator"] = emulator.stop(self.places.emulator_dir)
        for plan_file in self.env.state_dir.glob("*.tfplan"):
            # Their state lived in the emulator: they can never apply again.
            plan_file.unlink()
        say(f"stopped: {stopped}")
        return stopped

    def service_logs(
        self, cloudwatch: list[LogEvent], start: datetime, limit: int
    ) -> list[LogEvent]:
        """CloudWatch's events and the task containers' own output, in time order."""
        from mlinfra import local_runtime

        tasks = [t.container for t in local_runtime.status(self.env.runtime_name).tasks]
        events = sorted([*cloudwatch, *docker_tail(tasks, start, limit)], key=lambda e: e.timestamp)
        return events[-limit:] if limit > 0 else events
