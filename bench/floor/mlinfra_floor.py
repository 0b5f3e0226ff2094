"""Two apps that do nothing, served by the project's image as it serves the model (bench/floor.py):
what the HTTP server and the framework cost a request on this machine, before any of the
service's own work (validation, the model, logs, metrics, signals)."""

from __future__ import annotations

from typing import Any

import falcon.asgi

ANSWER = {"prediction": 240521.8, "status": "success", "model_version": "floor"}


class NoWork:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await req.get_media()
        resp.media = ANSWER


class Ready:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"status": "ready"}


# The same Falcon ASGI app type as the service, no middleware.
falcon_app = falcon.asgi.App()
falcon_app.add_route("/predict", NoWork())
falcon_app.add_route("/ready", Ready())

BODY = b'{"prediction":240521.8,"status":"success","model_version":"floor"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The least an ASGI app can do: take the body, answer a constant."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
