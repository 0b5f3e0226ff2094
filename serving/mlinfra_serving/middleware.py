"""Per-request bookkeeping: the request id, one JSON log line, the request metrics."""

from __future__ import annotations

import random
import re
import time

import falcon
import falcon.asgi
import falcon.constants
import falcon.routing

from mlinfra_serving import metrics
from mlinfra_serving.logs import log_request
from mlinfra_serving.signals import PREDICT_ROUTE, Signals

REQUEST_ID_HEADERS = ("X-Request-ID", "X-Amzn-Trace-Id")
# NOTE: ids are echoed into headers and logs; refuse anything that could forge either.
SAFE_ID = re.compile(r"^[A-Za-z0-9._:;=+/@-]{1,200}$")
# NOTE: the metric label of a request's method is one of these or "other": a client sending
# made-up methods (FOOBAR, FOOBAZ, ...) would otherwise add a time series per method, each one
# kept for good in every worker's file on the metrics tmpfs.
KNOWN_METHODS = frozenset(falcon.constants.HTTP_METHODS)
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER_METHOD


def request_id_of(req: falcon.asgi.Request) -> str:
    for header in REQUEST_ID_HEADERS:
        value = req.get_header(header)
        if value and SAFE_ID.match(value):
            return value
    # PERF: uuid4 reads os.urandom, a system call per request; an id needs to be unique, not
    # secret. random reseeds itself in every forked worker.
    return f"{random.getrandbits(128):032x}"


class RequestLogMiddleware:
    """Gives every request an id (the caller's ``X-Request-ID`` / ``X-Amzn-Trace-Id`` or a new
    one), returns it as ``X-Request-ID``, and logs and counts the request when it ends (in
    ``signals`` too, for predictions, when the model has a reference)."""

    def __init__(self, signals: Signals | None = None) -> None:
        self._signals = signals

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.request_id = request_id_of(req)

    async def process_response(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        seconds = time.perf_counter() - req.context.started
        # NOTE: the route template, not the path, keeps metric labels few (no label per 404 URL).
        route = req.uri_template or "unmatched"
        status = resp.status_code
        resp.set_header("X-Request-ID", req.context.request_id)
        metrics.observe_request(method_label(req.method), route, status, seconds)
        if self._signals is not None and route == PREDICT_ROUTE:
            self._signals.request(status, seconds)
        log_request(
            method=req.method,
            path=req.path,
            route=route,
            status=status,
            latency_ms=round(seconds * 1000, 3),
            request_id=req.context.request_id,
        )


class UnknownMethodMiddleware:
    """Answers a method HTTP does not define (``FOOBAR /predict``) with the 405 a wrong method
    gets, naming the route's methods; Falcon's own answer was a bare 400 "Invalid HTTP method"."""

    async def process_resource(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        params: dict[str, object],
    ) -> None:
        if req.method in KNOWN_METHODS or resource is None:
            return
        implemented = falcon.routing.map_http_methods(resource)
        allowed = [m for m in falcon.constants.HTTP_METHODS if m in implemented]
        raise falcon.HTTPMethodNotAllowed([*allowed, "OPTIONS"])
