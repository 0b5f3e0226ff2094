"""The generated per-deploy Terraform variables: ``.mlinfra/<env>/image.auto.tfvars.json`` (the
pushed image), ``models.auto.tfvars.json`` (the images of the environment's other models, by
name), ``canary.auto.tfvars.json`` (the canary beside it, while one runs) and
``.mlinfra/<env>/<stack>.auto.tfvars.json`` (the region, and for the service the API key's secret
version id).

It lives outside the tracked tree (a generated file inside it would mark every later build
``-dirty``) and is written atomically, so a plan never reads half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlinfra.errors import ConfigError

IMAGE_TFVARS = "image.auto.tfvars.json"
CANARY_TFVARS = "canary.auto.tfvars.json"
MODELS_TFVARS = "models.auto.tfvars.json"
STACK_TFVARS = "{stack}.auto.tfvars.json"


def image_tfvars_path(state_dir: Path) -> Path:
    """Where the image variables of one environment live (``state_dir`` is ``.mlinfra/<env>``)."""
    return state_dir / IMAGE_TFVARS


def models_tfvars_path(state_dir: Path) -> Path:
    """Where the service stack's ``models`` variable lives (absent: the environment's own model
    only)."""
    return state_dir / MODELS_TFVARS


def canary_tfvars_path(state_dir: Path) -> Path:
    """Where the service stack's ``canary`` variable lives while a canary runs
    (:mod:`mlinfra.canary`); absent: no canary."""
    return state_dir / CANARY_TFVARS


def stack_tfvars_path(state_dir: Path, stack: str) -> Path:
    """Where the values mlinfra resolves for one stack's plans live (region, secret version)."""
    return state_dir / STACK_TFVARS.format(stack=stack)


def write_atomic_json(path: Path, values: Mapping[str, Any]) -> Path:
    """Write ``values`` as JSON to ``path`` through a temporary file and a rename."""
    text = json.dumps(dict(values), indent=2, sort_keys=True) + "\n"
    write_atomic_bytes(path, text.encode())
    return path


def write_atomic_bytes(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file, an fsync and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _require_reference(container_image: str) -> None:
    if ":" not in container_image.rsplit("/", 1)[-1] and "@" not in container_image:
        raise ConfigError(
            f"Image {container_image!r} has no tag or digest.",
            "Pass a full image URI such as 127.0.0.1:5000/mlinfra-local:<tag>.",
        )


def write_image_tfvars(state_dir: Path, container_image: str) -> Path:
    """Record the image URI (``repository:tag`` or ``repository@sha256:...``) for the next plan."""
    _require_reference(container_image)
    return write_atomic_json(image_tfvars_path(state_dir), {"container_image": container_image})


def read_models_tfvars(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The other models' entries (``{name: {"image": ...}}``) the last deploys recorded."""
    path = models_tfvars_path(state_dir)
    if not path.exists():
        return {}
    try:
        models = json.loads(path.read_text())["models"]
        if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
            raise TypeError("models is not an object of objects")
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ConfigError(
            f"{path} is not a JSON object with models: {err}.",
            f"Delete {path} and run `mlinfra deploy --model NAME` for each model again.",
        ) from err
    return {str(name): dict(entry) for name, entry in models.items()}


def write_model_image(state_dir: Path, model: str, container_image: str) -> Path:
    """Record ``model``'s image for the next plan, keeping the other models' entries."""
    _require_reference(container_image)
    models = read_models_tfvars(state_dir)
    models[model] = {**models.get(model, {}), "image": container_image}
    return write_atomic_json(models_tfvars_path(state_dir), {"models": models})


def read_image_tfvars(state_dir: Path) -> str | None:
    """The image URI the last push recorded, or None when there is none yet."""
    path = image_tfvars_path(state_dir)
    if not path.exists():
        return None
    try:
        image: str | None = json.loads(path.read_text()).get("container_image")
    except (json.JSONDecodeError, AttributeError) as err:
        # Written atomically by mlinfra, so a bad file was edited by hand or by another tool.
        raise ConfigError(
            f"{path} is not a JSON object with container_image: {err}.",
            f"Delete {path} and run `mlinfra push` again: it rewrites the file.",
        ) from err
    return image


@contextmanager
def restored_on_failure(paths: Iterable[Path]) -> Iterator[None]:
    """Put ``paths`` back as they were (absent, or their bytes) when the block raises: a failed
    or refused command leaves no generated file behind."""
    before = {path: path.read_bytes() if path.exists() else None for path in paths}
    try:
        yield
    except BaseException:
        for path, content in before.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic_bytes(path, content)
        raise
