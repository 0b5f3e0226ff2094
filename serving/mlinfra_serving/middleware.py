"""Per-request bookkeeping: the request id, one JSON log line, the request metrics."""

from __future__ import annotations

import random
import re
import time

import falcon.asgi

from mlinfra_serving import metrics
from mlinfra_serving.logs import log_request

REQUEST_ID_HEADERS = ("X-Request-ID", "X-Amzn-Trace-Id")
# NOTE: ids are echoed into headers and logs; refuse anything that could forge either.
SAFE_ID = re.compile(r"^[A-Za-z0-9._:;=+/@-]{1,200}$")


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
    one), returns it as ``X-Request-ID``, and logs and counts the request when it ends."""

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
        metrics.observe_request(req.method, route, status, seconds)
        log_request(
            method=req.method,
            path=req.path,
            route=route,
            status=status,
            latency_ms=round(seconds * 1000, 3),
            request_id=req.context.request_id,
        )
