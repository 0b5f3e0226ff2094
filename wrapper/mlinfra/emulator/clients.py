"""How Terraform, boto3 and the local runtime reach the emulator."""

from __future__ import annotations

from typing import Any

import boto3
import httpx

from mlinfra.emulator.control import GAPS_PATH, SERVICE_COUNTS_PATH
from mlinfra.errors import EmulatorError

REGION = "us-east-1"
# moto accepts any credentials; fixed dummy ones keep real keys from ever reaching it.
DUMMY_ACCESS_KEY = "mlinfra-local"
DUMMY_SECRET_KEY = "mlinfra-local-secret"


def client_env(endpoint: str) -> dict[str, str]:
    """Environment variables that point the aws provider, its S3 backend and boto3 at ``endpoint``.

    ``AWS_ENDPOINT_URL`` is honoured by every SDK service client, so the environment code needs
    no ``endpoints {}`` block; the profile and session token are blanked so that a user's real
    AWS configuration cannot leak into a local run.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
        "AWS_SESSION_TOKEN": "",
        "AWS_PROFILE": "",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def boto3_session(endpoint: str) -> boto3.Session:
    """A boto3 session whose clients talk to the emulator at ``endpoint``.

    Pass ``endpoint_url=endpoint`` only where a client ignores the session default; the session
    below carries the dummy credentials and region, and ``client()`` below sets the endpoint.
    """
    return _EmulatorSession(endpoint)


class _EmulatorSession(boto3.Session):
    def __init__(self, endpoint: str) -> None:
        super().__init__(
            aws_access_key_id=DUMMY_ACCESS_KEY,
            aws_secret_access_key=DUMMY_SECRET_KEY,
            region_name=REGION,
        )
        self.endpoint = endpoint

    def client(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("endpoint_url", self.endpoint)
        return super().client(*args, **kwargs)

    def resource(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("endpoint_url", self.endpoint)
        return super().resource(*args, **kwargs)


def _control_request(method: str, endpoint: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return httpx.request(method, endpoint.rstrip("/") + path, timeout=10, **kwargs)
    except httpx.HTTPError as err:
        raise EmulatorError(
            f"The AWS emulator at {endpoint} did not answer ({err}).",
            "Start it with `mlinfra.emulator.start()` (or `mlinfra deploy --env local`).",
        ) from err


def set_service_counts(
    endpoint: str, cluster: str, service: str, running: int, pending: int
) -> dict[str, Any]:
    """Tell the emulator how many tasks of ``service`` run and start (the local runtime's report).

    ``running``/``pending`` count the tasks of the service's current task definition; the
    primary deployment turns COMPLETED once ``running`` equals the desired count with nothing
    pending. Returns the service's counts and rollout state as the emulator now reports them.
    """
    body = {
        "cluster": cluster,
        "service": service,
        "runningCount": running,
        "pendingCount": pending,
    }
    response = _control_request("POST", endpoint, SERVICE_COUNTS_PATH, json=body)
    if response.status_code != 200:
        raise EmulatorError(
            f"The emulator refused service counts {body}: HTTP {response.status_code} {response.text}",
            "Check the cluster and service names (or ARNs) against `aws ecs list-services`.",
        )
    counts: dict[str, Any] = response.json()
    return counts


def read_gaps(endpoint: str, since: int = 0) -> dict[str, Any]:
    """The requests the emulator's moto answered with a 5xx (each one a gap to close).

    Returns ``{"count": N, "gaps": [...]}``: ``count`` gaps met so far, and those numbered
    ``since`` or later, each with ``seq``, ``status``, ``service``, ``action``, ``exception``,
    ``where`` (moto's file:line) and ``request_line``. Pass the ``count`` of an earlier call as
    ``since`` to read only the gaps met after it.
    """
    response = _control_request("GET", endpoint, GAPS_PATH, params={"since": since})
    if response.status_code != 200:
        raise EmulatorError(
            f"The emulator refused to list its gaps: HTTP {response.status_code} {response.text}",
            "Is it an mlinfra emulator (python -m mlinfra.emulator.server), not moto alone?",
        )
    answer: dict[str, Any] = response.json()
    return answer
