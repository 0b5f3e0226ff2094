"""The HTTP resources: prediction, probes, metadata, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import falcon.asgi

from mlinfra_serving import SERVICE_NAME, metrics
from mlinfra_serving.config import Settings
from mlinfra_serving.errors import ApiError, ErrorCode
from mlinfra_serving.predictor import Predictor
from mlinfra_serving.signals import Signals, field_feature
from mlinfra_serving.validation import (
    check_body_size,
    check_content_type,
    decode_json,
    parse_rows,
)

# gunicorn drains at most 64 KiB of a body the app left unread, then resets the connection; the
# reset can reach a client still sending (through an ALB: a 502) before the 4xx does. Bodies up
# to this size are read and dropped before a refusal, so the client gets the answer.
DISCARD_MAX_BYTES = 8 << 20
DISCARD_CHUNK_BYTES = 64 << 10


async def _discard_unread_body(req: falcon.asgi.Request) -> None:
    """Read and drop what is left of the body, at most ``DISCARD_MAX_BYTES`` in all.

    NOTE: a chunked body has no Content-Length to judge by; without the cap an endless one
    would be read for ever.
    """
    if (req.content_length or 0) > DISCARD_MAX_BYTES:
        return
    left = DISCARD_MAX_BYTES
    while left > 0:
        chunk = await req.stream.read(min(left, DISCARD_CHUNK_BYTES))
        if not chunk:
            return
        left -= len(chunk)


def _not_ready() -> ApiError:
    return ApiError(
        503, ErrorCode.MODEL_NOT_LOADED, "No model is loaded.", expected="a loaded model"
    )


# The refusals that say a feature was not given: they count in its MissingRate.
MISSING_CODES = (ErrorCode.MISSING_FEATURE, ErrorCode.NULL_VALUE)


class PredictResource:
    def __init__(
        self, predictor: Predictor | None, settings: Settings, signals: Signals | None = None
    ) -> None:
        self._predictor = predictor
        self._settings = settings
        self._signals = signals

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        limit = self._settings.max_body_bytes
        try:
            check_content_type(req.content_type)
            check_body_size(req.content_length, limit)
        except ApiError:
            await _discard_unread_body(req)
            raise
        # NOTE: read one byte past the limit so a chunked body without Content-Length is caught too.
        body = await req.stream.read(limit + 1)
        if len(body) > limit:
            # A chunked body over the limit: drop the rest too, so the 413 reaches the client.
            await _discard_unread_body(req)
        payload = decode_json(body, limit)
        if self._predictor is None:
            raise _not_ready()
        try:
            parsed = parse_rows(payload, self._predictor.features, self._settings.max_batch_rows)
        except ApiError as err:
            if self._signals is not None and err.code in MISSING_CODES:
                feature = field_feature(err.field, self._signals.feature_names)
                if feature is not None:
                    self._signals.missing(feature)
            raise
        values = self._predictor.predict(parsed.rows)
        metrics.observe_predictions(len(values), parsed.batch)
        if self._signals is not None:
            self._signals.predicted(parsed.rows, values)
        result: dict[str, Any] = (
            {"predictions": values, "count": len(values)}
            if parsed.batch
            else {"prediction": values[0]}
        )
        result.update(status="success", model_version=self._predictor.version)
        resp.media = result


class HealthResource:
    """Liveness: the process answers HTTP. The body keeps the guide's keys (``status``,
    ``service``) and adds the model's version (null before a model is loaded)."""

    def __init__(self, predictor: Predictor | None) -> None:
        self._media = {
            "status": "healthy",
            "service": SERVICE_NAME,
            "model_version": predictor.version if predictor else None,
        }

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = self._media


class ReadyResource:
    """Readiness: a model is loaded and answers a probe prediction."""

    def __init__(self, predictor: Predictor | None) -> None:
        self._predictor = predictor

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if self._predictor is None:
            raise _not_ready()
        if not self._predictor.probe():
            raise ApiError(
                503, ErrorCode.PROBE_FAILED, "The probe prediction was not a finite number."
            )
        resp.media = {"status": "ready", "model_version": self._predictor.version}


class MetadataResource:
    def __init__(self, predictor: Predictor | None) -> None:
        self._predictor = predictor

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if self._predictor is None:
            raise _not_ready()
        resp.media = {**self._predictor.metadata, **self._predictor.backend_fields()}


class MetricsResource:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.data, resp.content_type = metrics.render()


class OpenApiResource:
    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = self._document
