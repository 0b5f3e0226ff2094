"""Client errors the API answers with a JSON body naming the problem, the field and what was expected."""

from __future__ import annotations

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


class ApiError(Exception):
    """A request the service refuses. Rendered as ``{"status": "error", "error": {...}}``.

    Args:
        status: HTTP status code (400, 401, 404, 405, 413, 415, 422, 503).
        code: a stable machine-readable name, e.g. ``out_of_range``.
        message: what was wrong, naming the value seen.
        field: JSON path of the offending field (``features[2]``), or None.
        expected: what would have been accepted.

    Every text is cut to ``MAX_TEXT_CHARS``, so an answer stays small whatever was sent.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
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
                "code": self.code,
                "message": self.message,
                "field": self.field,
                "expected": self.expected,
            },
        }
