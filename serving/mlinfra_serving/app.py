"""The application factory: a Falcon ASGI app (gunicorn's asyncio ``asgi`` worker serves it).

PERF: an event loop per worker, not a thread pool: the gthread worker handed every request
between its poller and its threads (and the GIL between them), which cost both throughput and
the latency tail (docs/performance.md). The handlers never wait on I/O besides the body, and a
1,000-row prediction takes about a millisecond, so running them on the loop is fine.
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi
import falcon.media
import orjson

from mlinfra_serving import resources
from mlinfra_serving.auth import PROTECTED_ROUTES, ApiKey, ApiKeyMiddleware
from mlinfra_serving.config import Settings
from mlinfra_serving.errors import ApiError, ErrorCode
from mlinfra_serving.middleware import RequestLogMiddleware, UnknownMethodMiddleware
from mlinfra_serving.openapi import openapi_document
from mlinfra_serving.predictor import Predictor
from mlinfra_serving.signals import Signals

# Falcon's own errors by status. Any other 4xx is a bad_request; a 5xx is a fault of the
# service (in practice Falcon's 500 for an unhandled exception).
ERROR_CODES = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
}


def falcon_error_code(status: int) -> ErrorCode:
    """The code of a Falcon error answered with ``status``: always one the OpenAPI document lists."""
    fallback = ErrorCode.BAD_REQUEST if status < 500 else ErrorCode.INTERNAL_ERROR
    return ERROR_CODES.get(status, fallback)


async def _render_api_error(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, err: ApiError, _: dict[str, Any]
) -> None:
    resp.status = err.status
    resp.media = err.to_json()


def _serialize_http_error(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, err: falcon.HTTPError
) -> None:
    """Falcon's own errors (404, 405, ...) in the same JSON shape as ours, whatever Accept says."""
    resp.content_type = falcon.MEDIA_JSON
    code = falcon_error_code(err.status_code)
    field = None
    if isinstance(err, falcon.HTTPMethodNotAllowed):
        allowed = dict(err.headers or ()).get("Allow", "")
        expected = f"one of the methods: {allowed}"
        message = f"{req.method} is not allowed on {req.path}."
    elif isinstance(err, falcon.HTTPNotFound):
        expected = "one of the routes in /openapi.json"
        message = f"No route matches {req.path}."
    else:
        expected = None
        message = err.description or err.title or "error"
    resp.media = ApiError(err.status_code, code, message, field=field, expected=expected).to_json()


def create_app(
    predictor: Predictor | None,
    settings: Settings | None = None,
    api_key: ApiKey | None = None,
    signals: Signals | None = None,
) -> falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response]:
    """The service. ``predictor`` None serves liveness but answers 503 to readiness and predictions.
    ``api_key`` set: every route of ``auth.PROTECTED_ROUTES`` requires it in ``X-API-Key``.
    ``signals`` set: predictions feed it (EMF lines, ``signals.py``)."""
    settings = settings or Settings()
    # NOTE: Any: falcon types its middleware protocols only in its private falcon._typing.
    middleware: list[Any] = [RequestLogMiddleware(signals)]
    prefix = settings.route_prefix
    if api_key is not None:
        middleware.append(ApiKeyMiddleware(api_key, {prefix + r for r in PROTECTED_ROUTES}))
    # After the key: a protected route answers 401 to any method without it.
    middleware.append(UnknownMethodMiddleware())
    app = falcon.asgi.App(middleware=middleware)
    # PERF: orjson writes a 1,000-prediction answer in 0.02 ms against json's 0.38 ms.
    json_handler = falcon.media.JSONHandler(dumps=orjson.dumps, loads=orjson.loads)
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    app.req_options.strip_url_path_trailing_slash = True
    health, ready = resources.HealthResource(predictor), resources.ReadyResource(predictor)
    app.add_route(f"{prefix}/predict", resources.PredictResource(predictor, settings, signals))
    app.add_route(f"{prefix}/health", health)
    app.add_route(f"{prefix}/ready", ready)
    if prefix:
        # The probes stay at the root too: the target group and the container health check
        # reach the task directly, not through the ALB's path rule.
        app.add_route("/health", health)
        app.add_route("/ready", ready)
    app.add_route(f"{prefix}/metadata", resources.MetadataResource(predictor))
    app.add_route(f"{prefix}/metrics", resources.MetricsResource())
    features = predictor.features if predictor else ()
    app.add_route(
        f"{prefix}/openapi.json",
        resources.OpenApiResource(
            openapi_document(
                features,
                settings.max_batch_rows,
                api_key_required=api_key is not None,
                route_prefix=prefix,
            )
        ),
    )
    app.add_error_handler(ApiError, _render_api_error)
    app.set_error_serializer(_serialize_http_error)
    return app
