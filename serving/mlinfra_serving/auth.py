"""Optional API-key auth for every route but the probes.

The key comes from the environment the way ECS hands a secret to a container: ``API_KEY``
(a task definition ``secrets`` entry resolved from Secrets Manager or SSM), or ``API_KEY_FILE``
(a path to a file holding it). Neither set: auth is off. Clients send the key as ``X-API-Key``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import falcon.asgi

from mlinfra_serving.config import SettingsError
from mlinfra_serving.errors import ApiError, ErrorCode

API_KEY_ENV = "API_KEY"
API_KEY_FILE_ENV = "API_KEY_FILE"
API_KEY_HEADER = "X-API-Key"
# With a key configured, everything but the probes needs it: the ALB's and ECS's health checks
# send no key, and the documents tell a stranger the model, its ranges and the traffic.
PROTECTED_ROUTES = frozenset({"/predict", "/metrics", "/metadata", "/openapi.json"})
# Shorter keys are guessable; 16 characters is what `openssl rand -hex 8` gives.
MIN_KEY_LENGTH = 16


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


@dataclass(frozen=True)
class ApiKey:
    """The expected key, kept only as its sha256 so that comparing digests in constant time
    reveals neither the key's bytes nor its length."""

    digest: bytes = field(repr=False)

    @classmethod
    def of(cls, key: str) -> ApiKey:
        if len(key) < MIN_KEY_LENGTH:
            # NOTE: the message gives the length only; a key never enters a log line.
            raise SettingsError(
                f"the API key is {len(key)} characters long; use at least {MIN_KEY_LENGTH}"
                " (e.g. `openssl rand -hex 32`)."
            )
        return cls(_digest(key.encode()))

    def matches(self, presented: str | None) -> bool:
        if presented is None:
            return False
        return hmac.compare_digest(_digest(presented.encode()), self.digest)


def load_api_key(env: Mapping[str, str] = os.environ) -> ApiKey | None:
    """The key from ``API_KEY`` or the file ``API_KEY_FILE`` names; None when neither is set."""
    value = env.get(API_KEY_ENV) or None
    path = env.get(API_KEY_FILE_ENV) or None
    if value is not None and path is not None:
        raise SettingsError(
            f"both {API_KEY_ENV} and {API_KEY_FILE_ENV}={path!r} are set; set only one of them."
        )
    if path is not None:
        try:
            # A trailing newline is what `echo key > file` and most secret mounts add.
            value = Path(path).read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise SettingsError(
                f"{API_KEY_FILE_ENV}={path!r} cannot be read ({type(err).__name__});"
                " mount the secret file there or unset the variable."
            ) from err
    return ApiKey.of(value) if value is not None else None


class ApiKeyMiddleware:
    """Answers 401 to a request for a protected route (``PROTECTED_ROUTES``) that lacks the
    right ``X-API-Key``. Probes (``/health``, ``/ready``) stay open: the ALB and ECS health
    checks send no key."""

    def __init__(self, key: ApiKey, routes: Collection[str] = PROTECTED_ROUTES) -> None:
        self._key = key
        self._routes = frozenset(routes)

    async def process_resource(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: Any,
        params: dict[str, Any],
    ) -> None:
        if req.uri_template not in self._routes:
            return
        presented = req.get_header(API_KEY_HEADER)
        if self._key.matches(presented):
            return
        resp.set_header("WWW-Authenticate", f'ApiKey header="{API_KEY_HEADER}"')
        # NOTE: unlike other errors, this one never echoes the value seen: it may be a real key.
        reason = "no" if presented is None else "a wrong"
        raise ApiError(
            401,
            ErrorCode.UNAUTHORIZED,
            f"The request carries {reason} {API_KEY_HEADER} header.",
            field=f"header {API_KEY_HEADER}",
            expected="the service's API key",
        )
