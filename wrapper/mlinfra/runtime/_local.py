"""The runtime of the local environment: the emulated AWS (moto server with mlinfra's patches),
the local registry, and the local ECS agent and ALB on Docker (:mod:`mlinfra.local_runtime`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3

from mlinfra import config, registry
from mlinfra.logs import LogEvent, docker_tail
from mlinfra.runtime._base import Runtime, Say, StackOf

EMULATOR_PORT_VARIABLE = "MLINFRA_EMULATOR_PORT"


def local_registry() -> registry.LocalRegistry:
    return registry.LocalRegistry(
        config.state_dir() / "registry",
        port=config.port_setting(registry.PORT_ENV, registry.DEFAULT_PORT),
    )


class LocalRuntime(Runtime):
    def __init__(self, env: config.Environment, endpoint: str | None) -> None:
        from mlinfra import emulator

        self.env = env
        self._endpoint = endpoint
        self.region = emulator.REGION
        self.backend_bucket = emulator.STATE_BUCKET

    @classmethod
    def start(cls, env: config.Environment, say: Say) -> LocalRuntime:
        """Start (or reuse) the emulator."""
        from mlinfra import emulator

        port = config.port_setting(EMULATOR_PORT_VARIABLE, emulator.DEFAULT_PORT)
        running = emulator.start(port=port)
        if not running.reused:
            say(f"started the AWS emulator at {running.endpoint}")
        return cls(env, running.endpoint)

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

    def run_service(
        self, outputs: dict[str, Any], credentials: registry.Credentials, say: Say
    ) -> None:
        """Hand the applied service to the local ECS agent (the emulator runs no containers)."""
        from mlinfra import local_runtime

        local_runtime.converge(
            self.endpoint,
            env=self.env.runtime_name,
            cluster=outputs["cluster_name"],
            service=outputs["service_name"],
            auth_config=credentials.auth_config(),
            say=say,
        )

    def public_url(self, outputs: dict[str, Any]) -> str | None:
        from mlinfra import local_runtime

        return local_runtime.status(self.env.runtime_name).url

    def stop_service(self, say: Say) -> None:
        from mlinfra import local_runtime

        stopped = local_runtime.stop_all(self.env.runtime_name)
        say(f"removed {stopped} local container(s) (the tasks and the proxy)")

    def down(self, say: Say) -> dict[str, Any]:
        """Stop the tasks, the proxy, the registry and the emulator.

        The emulated AWS (and the Terraform state kept in it) goes with the emulator; the model,
        the registry's images and the build caches stay on disk.
        """
        from mlinfra import emulator, local_runtime

        stopped = {
            "containers": local_runtime.stop_all(self.env.runtime_name),  # tasks and the proxy
            "registry": local_registry().stop(),
            "emulator": emulator.stop(),
        }
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
