"""``mlinfra doctor``: check what a deploy needs and say how to fix each missing piece."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mlinfra import config
from mlinfra.errors import MlinfraError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _run_check(name: str, probe: Callable[[], str]) -> Check:
    """Run one check: its detail on success, the error's message and hint on failure."""
    try:
        return Check(name, True, probe())
    except MlinfraError as err:
        return Check(name, False, err.message, err.hint)


def _terraform() -> str:
    from mlinfra.terraform import require_terraform

    path = require_terraform()
    first = subprocess.run(
        [path, "version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout.splitlines()
    return first[0] if first else path


def _docker() -> str:
    from mlinfra import docker_engine

    version = docker_engine.client().version()
    return f"engine {version.get('Version', '?')}"


def _model() -> str:
    from mlinfra import model

    artifact = model.load_artifact(model.default_model_dir())
    return f"{artifact.version} (sha256 {artifact.sha8})"


def _credentials(env: config.Environment) -> Callable[[], str]:
    def check() -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        from mlinfra.connection import connect

        target = connect(env)
        try:
            identity = target.session().client("sts").get_caller_identity()
        except (BotoCoreError, ClientError) as err:
            raise MlinfraError(
                f"AWS refused the credentials: {err}",
                "Configure credentials (AWS_PROFILE or `aws configure`) for this account.",
            ) from err
        return f"account {identity['Account']} ({target.runtime.where})"

    return check


def _registry_login(env: config.Environment) -> Callable[[], str]:
    def check() -> str:
        from mlinfra.connection import connect
        from mlinfra.registry import login

        repository, credentials = connect(env).registry_login()
        login(credentials)
        return f"logged in to {credentials.server} ({repository})"

    return check


def run(env: config.Environment) -> list[Check]:
    """Every check, in the order a deploy needs them; each says how to fix itself."""
    return [
        _run_check("terraform", _terraform),
        _run_check("docker", _docker),
        _run_check("model artifact", _model),
        _run_check("aws credentials", _credentials(env)),
        _run_check("registry login", _registry_login(env)),
    ]
