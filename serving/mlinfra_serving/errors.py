"""Client errors the API answers with a JSON body naming the problem, the field and what was expected."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request the service refuses. Rendered as ``{"status": "error", "error": {...}}``.

    Args:
        status: HTTP status code (400, 404, 405, 413, 415, 422, 503).
        code: a stable machine-readable name, e.g. ``out_of_range``.
        message: what was wrong, naming the value seen.
        field: JSON path of the offending field (``features[2]``), or None.
        expected: what would have been accepted.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.expected = expected

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
