"""The models of an environment: its own (``mlinfra deploy``, answering at ``/predict``) and the
others it serves beside it by name (``mlinfra deploy --model NAME``, at ``/models/NAME/predict``).

Each model keeps its own artifact, image entry in the generated tfvars, release ledger and
release tags, so that deploying one never touches another's. :class:`Track` says where each of
those lives; the deploy code asks it instead of branching on the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlinfra import config, tfvars
from mlinfra.errors import ConfigError

__all__ = ["OWN", "ROUTE_PREFIX", "Track", "service_names", "track"]

# Where another model answers on the environment's URL (the service stack's path rule and the
# task's ROUTE_PREFIX say the same).
ROUTE_PREFIX = "/models/{name}"
# What the service stack's `models` variable accepts as a key (its validation says the same).
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


@dataclass(frozen=True)
class Track:
    """One model of an environment: ``name`` None for the environment's own."""

    name: str | None = None

    @property
    def label(self) -> str:
        return f"model {self.name!r}" if self.name else "the environment's model"

    @property
    def flag(self) -> str:
        """The CLI option that selects it (empty for the environment's own)."""
        return f" --model {self.name}" if self.name else ""

    def artifact_dir(self) -> Path:
        """``.mlinfra/model`` for the environment's own, ``.mlinfra/models/<name>`` else."""
        if self.name is None:
            return config.state_dir() / "model"
        return config.state_dir() / "models" / self.name

    def ledger_prefix(self, env: str) -> str:
        """Where its release records live in the state bucket (apart from the others')."""
        if self.name is None:
            return f"mlinfra/releases/{env}/"
        return f"mlinfra/model-releases/{env}/{self.name}/"

    @property
    def release_prefix(self) -> str:
        """Its release tags: ``release-<n>``, or ``release-<name>-<n>`` in the shared repository
        (the ECR lifecycle rule keeps every ``release-`` tag)."""
        return "release-" if self.name is None else f"release-{self.name}-"

    def record_image(self, state_dir: Path, image: str) -> Path:
        """Write its image into the generated tfvars for the next service plan."""
        if self.name is None:
            return tfvars.write_image_tfvars(state_dir, image)
        return tfvars.write_model_image(state_dir, self.name, image)

    def tfvars_path(self, state_dir: Path) -> Path:
        if self.name is None:
            return tfvars.image_tfvars_path(state_dir)
        return tfvars.models_tfvars_path(state_dir)

    def service_name(self, outputs: dict[str, Any]) -> str | None:
        """Its ECS service in the service stack's outputs (None: not deployed yet)."""
        if self.name is None:
            return outputs.get("service_name") or None
        entry = (outputs.get("models") or {}).get(self.name) or {}
        return entry.get("service_name") or None

    def url(self, outputs: dict[str, Any]) -> str | None:
        """Its base URL (its routes answer under it) on AWS."""
        if self.name is None:
            return outputs.get("service_url") or None
        entry = (outputs.get("models") or {}).get(self.name) or {}
        return entry.get("url") or None


OWN = Track()


def track(name: str | None) -> Track:
    """The track of ``--model name`` (None: the environment's own), the name checked."""
    if name is None:
        return OWN
    if not _NAME.fullmatch(name) or name == "canary":
        raise ConfigError(
            f"--model {name!r} is not a model name.",
            "Use 1-20 lowercase letters, digits or '-', starting with a letter (not 'canary'), "
            "e.g. --model churn; it names the route /models/<name>/predict.",
        )
    return Track(name)


def service_names(outputs: dict[str, Any]) -> list[str]:
    """Every ECS service the service stack runs: the environment's own, a canary's, then the
    other models' by name."""
    names = [str(outputs["service_name"])] if outputs.get("service_name") else []
    if outputs.get("canary_service_name"):
        names.append(str(outputs["canary_service_name"]))
    models = outputs.get("models") or {}
    names += [str(models[name]["service_name"]) for name in sorted(models)]
    return names
