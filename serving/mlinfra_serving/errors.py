"""Client errors the API answers with a JSON body naming the problem, the field and what was expected."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

# NOTE: a message echoes what the client sent (a key, a path, a method); a 400 kB key must not
# come back twice in an 800 kB answer. Each text of an answer is cut to this many characters.
MAX_TEXT_CHARS = 500
TRUNCATED = "...[truncated]"


def clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text``, or its first characters and a marker when it is longer than ``limit``."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATED))] + TRUNCATED


class ErrorCode(StrEnum):
    """The stable machine-readable names of the errors the API answers with, by HTTP status.

    The OpenAPI document lists them as the ``enum`` of the error's ``code``; a value is part of
    the API: rename a member, never its value.
    """

    # 400: the body is not JSON.
    INVALID_JSON = "invalid_json"
    INVALID_ENCODING = "invalid_encoding"
    EMPTY_BODY = "empty_body"
    BAD_REQUEST = "bad_request"
    # 401
    UNAUTHORIZED = "unauthorized"
    # 404, 405: routing (Falcon's own errors, in the same shape).
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # 413
    BODY_TOO_LARGE = "body_too_large"
    BATCH_TOO_LARGE = "batch_too_large"
    # 415
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # 422: the JSON does not fit the schema.
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    UNEXPECTED_FIELD = "unexpected_field"
    CONFLICTING_FIELDS = "conflicting_fields"
    WRONG_FEATURE_COUNT = "wrong_feature_count"
    UNKNOWN_FEATURE = "unknown_feature"
    MISSING_FEATURE = "missing_feature"
    NULL_VALUE = "null_value"
    NON_FINITE_VALUE = "non_finite_value"
    OUT_OF_RANGE = "out_of_range"
    EMPTY_BATCH = "empty_batch"
    # 500: a fault of the service (Falcon answers an unhandled exception so).
    INTERNAL_ERROR = "internal_error"
    # 503
    MODEL_NOT_LOADED = "model_not_loaded"
    PROBE_FAILED = "probe_failed"


class ApiError(Exception):
    """A request the service refuses. Rendered as ``{"status": "error", "error": {...}}``.

    Args:
        status: HTTP status code (400, 401, 404, 405, 413, 415, 422, 500, 503).
        code: the stable machine-readable name, e.g. ``ErrorCode.OUT_OF_RANGE``.
        message: what was wrong, naming the value seen.
        field: keyword only; JSON path of the offending field (``features[2]``), or None.
        expected: keyword only; what would have been accepted.

    Every text is cut to ``MAX_TEXT_CHARS``, so an answer stays small whatever was sent.
    """

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        message = clip(message)
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = None if field is None else clip(field)
        self.expected = None if expected is None else clip(expected)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "error",
            "error": {
                "code": self.code.value,
                "message": self.message,
                "field": self.field,
                "expected": self.expected,
            },
        }
