"""The emulator's control routes (``/_mlinfra/...``): what only mlinfra's tools call.

The local runtime plays the ECS agent; it reports here how many tasks it runs so that
DescribeServices tells the truth. ``GET /_mlinfra/gaps?since=N`` lists the requests moto
answered with a 5xx (see :mod:`mlinfra.emulator.gaps`). Everything else goes to moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from moto.core.exceptions import ServiceException
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from mlinfra.emulator import patches
from mlinfra.emulator.gaps import GapLog
from mlinfra.emulator.patches import ecs_service_counts

PREFIX = "/_mlinfra/"
HEALTH_PATH = "/_mlinfra/health"
SERVICE_COUNTS_PATH = "/_mlinfra/ecs/service-counts"
GAPS_PATH = "/_mlinfra/gaps"
DEFAULT_REGION = "us-east-1"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BadRequest(ValueError):
    """The control request is malformed; the message names the field."""


def _region_and_account(cluster: str) -> tuple[str, str]:
    # arn:aws:ecs:<region>:<account>:cluster/<name>; a bare name means the default account.
    parts = cluster.split(":")
    if cluster.startswith("arn:") and len(parts) >= 6:
        return parts[3], parts[4]
    return DEFAULT_REGION, DEFAULT_ACCOUNT_ID


def _count(payload: dict[str, Any], field: str) -> int:
    value = payload.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{field} must be a non-negative integer, got {value!r}")
    return value


def service_counts(payload: dict[str, Any]) -> dict[str, Any]:
    """Apply a ``service-counts`` request; return the service's new state."""
    cluster, service = payload.get("cluster"), payload.get("service")
    if not isinstance(cluster, str) or not isinstance(service, str):
        raise BadRequest(f"cluster and service must be names or ARNs, got {cluster!r}, {service!r}")
    region, account = _region_and_account(cluster)
    backend = ecs_backends[account][region]
    updated = ecs_service_counts.report_counts(
        backend, cluster, service, _count(payload, "runningCount"), _count(payload, "pendingCount")
    )
    return {
        "serviceArn": updated.arn,
        "desiredCount": updated.desired_count,
        "runningCount": updated.running_count,
        "pendingCount": updated.pending_count,
        "rolloutState": updated.deployments[0]["rolloutState"] if updated.deployments else None,
    }


def _answer(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _since(environ: dict[str, Any]) -> int:
    value = parse_qs(environ.get("QUERY_STRING", "")).get("since", ["0"])[0]
    if not value.isdigit():
        raise BadRequest(f"since must be a non-negative integer, got {value!r}")
    return int(value)


def with_control_routes(moto_app: WsgiApp, gaps: GapLog | None = None) -> WsgiApp:
    """Wrap moto's WSGI app: ``/_mlinfra/...`` answered here, the rest by moto.

    ``gaps`` is what ``GET /_mlinfra/gaps`` lists (none recorded when not given).
    """
    gap_log = gaps or GapLog()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return moto_app(environ, start_response)
        if path == HEALTH_PATH:
            return _answer(
                start_response, "200 OK", {"emulator": "mlinfra", "patches": patches.names()}
            )
        if path == GAPS_PATH and environ.get("REQUEST_METHOD") == "GET":
            try:
                return _answer(start_response, "200 OK", gap_log.since(_since(environ)))
            except BadRequest as err:
                return _answer(start_response, "400 Bad Request", {"error": str(err)})
        if path != SERVICE_COUNTS_PATH or environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, "404 Not Found", {"error": f"no control route {path}"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            payload = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(payload, dict):
                raise BadRequest(f"the body must be a JSON object, got {payload!r}")
            return _answer(start_response, "200 OK", service_counts(payload))
        except (BadRequest, json.JSONDecodeError) as err:
            return _answer(start_response, "400 Bad Request", {"error": str(err)})
        except ServiceException as err:  # moto's ClusterNotFound / ServiceNotFound
            return _answer(start_response, "404 Not Found", {"error": f"{err.code}: {err.message}"})

    return app
