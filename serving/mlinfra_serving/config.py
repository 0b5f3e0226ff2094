"""The service's settings, read once from the environment at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL_DIR = Path("/opt/mlinfra/model")
MODEL_BACKENDS = ("lleaves", "lightgbm")


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} is not a positive integer; set it to e.g. {default}.")
    return value


def _backend(env: Mapping[str, str]) -> str | None:
    raw = env.get("MODEL_BACKEND", "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw not in MODEL_BACKENDS:
        raise SettingsError(
            f"MODEL_BACKEND={env['MODEL_BACKEND']!r} is unknown; set one of"
            f" {', '.join(MODEL_BACKENDS)}, or unset it to prefer the compiled model."
        )
    return raw


def _route_prefix(env: Mapping[str, str]) -> str:
    raw = env.get("ROUTE_PREFIX", "").strip()
    prefix = raw.rstrip("/")
    if prefix and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
        raise SettingsError(
            f"ROUTE_PREFIX={raw!r} is not a URL path; set it to e.g. /models/houses"
            " (segments of letters, digits, '.', '_', '~', '-'), or unset it to serve /predict."
        )
    return prefix


@dataclass(frozen=True)
class Settings:
    """``MODEL_DIR``: the artifact folder; ``MAX_BATCH_ROWS``: rows per request;
    ``MAX_BODY_BYTES``: request body limit; ``MODEL_BACKEND``: ``lleaves`` or ``lightgbm``
    (None: lleaves when the image has the compiled model, else lightgbm); ``ROUTE_PREFIX``:
    a path every route answers under (``/models/a`` serves ``/models/a/predict``), so an ALB
    can route by path to several models; empty serves ``/predict``."""

    model_dir: Path = DEFAULT_MODEL_DIR
    max_batch_rows: int = 1000
    max_body_bytes: int = 1 << 20
    model_backend: str | None = None
    route_prefix: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            model_dir=Path(env.get("MODEL_DIR") or DEFAULT_MODEL_DIR),
            max_batch_rows=_positive_int(env, "MAX_BATCH_ROWS", cls.max_batch_rows),
            max_body_bytes=_positive_int(env, "MAX_BODY_BYTES", cls.max_body_bytes),
            model_backend=_backend(env),
            route_prefix=_route_prefix(env),
        )
