"""Turn a request body into a float matrix for the model, or raise the precise ApiError.

Kept free of Falcon so the rules are testable as plain functions. Three shapes are accepted:
``{"features": [..]}`` (one row), ``{"instances": [[..], ..]}`` and
``{"records": [{"name": value, ..}, ..]}`` (batches).

Written by hand rather than with jsonschema: one pass per row on the hot path, no extra
dependency in the image, and every message names the feature, the value seen and its range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mlinfra_serving.artifact import FeatureSpec
from mlinfra_serving.errors import ApiError, ErrorCode, clip

# orjson's limit: it refuses a body nested deeper with "depth limit exceeded".
MAX_JSON_DEPTH = 1024
BODY_KEYS = ("features", "instances", "records")
JSON_TYPES = {"application/json"}


@dataclass(frozen=True)
class ParsedRows:
    rows: np.ndarray
    batch: bool


SHORT_CHARS = 40
# A key the model does not know is echoed in the message and the field: its start suffices.
KEY_CHARS = 60
_END = object()


class _Text(str):
    """JSON punctuation queued between the values of a container."""


def _items(value: list[Any] | dict[Any, Any]) -> Iterator[Any]:
    """The members of a list or object, with the punctuation between them and the closer."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if i:
                yield _Text(", ")
            yield item
        yield _Text("]")
    else:
        for i, (key, item) in enumerate(value.items()):
            yield _Text((", " if i else "") + _scalar(key) + ": ")
            yield item
        yield _Text("}")


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        # Only the start of a long string can be shown; encoding all of it is wasted work.
        return json.dumps(value[: SHORT_CHARS + 1])
    return json.dumps(value)


def _short(value: Any, limit: int = SHORT_CHARS) -> str:
    """The start of ``value`` as JSON, at most ``limit`` characters.

    NOTE: a loop over a stack of iterators, not json.dumps: a list nested 1,000 deep made
    json.dumps raise RecursionError (a 500), and the loop stops once ``limit`` is reached.
    """
    parts: list[str] = []
    size = 0
    pending: list[Iterator[Any]] = [iter((value,))]
    while pending and size <= limit:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
            continue
        if isinstance(item, _Text):
            piece = str(item)
        elif isinstance(item, list | dict):
            piece = "[" if isinstance(item, list) else "{"
            pending.append(_items(item))
        else:
            piece = _scalar(item)
        parts.append(piece)
        size += len(piece)
    text = "".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _key(key: str) -> str:
    return clip(key, KEY_CHARS)


def check_content_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES and not media_type.endswith("+json"):
        raise ApiError(
            415,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {content_type or '(none)'!r} is not JSON.",
            expected="Content-Type: application/json",
        )


def check_body_size(content_length: int | None, max_bytes: int) -> None:
    if content_length is not None and content_length > max_bytes:
        raise ApiError(
            413,
            ErrorCode.BODY_TOO_LARGE,
            f"The body has {content_length} bytes, more than the limit of {max_bytes}.",
            expected=f"at most {max_bytes} bytes; split the batch",
        )


def decode_json(body: bytes, max_bytes: int) -> Any:
    """Parse ``body``; NaN/Infinity literals become floats so the row check names their field."""
    check_body_size(len(body), max_bytes)
    if not body.strip():
        raise ApiError(
            400, ErrorCode.EMPTY_BODY, "The request body is empty.", expected="a JSON object"
        )
    try:
        # PERF: orjson parses a 1,000-row body in 0.09 ms against json's 0.21 ms. It refuses
        # what json accepts here on purpose (NaN literals, integers past 64 bits) and its
        # messages differ, so every body it refuses takes json's path below.
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        # NOTE: past orjson's depth limit json would recurse as deep as the thread's stack
        # allows; one answer for every such body, whatever the thread.
        if str(err).startswith("depth limit exceeded"):
            raise ApiError(
                400,
                ErrorCode.INVALID_JSON,
                f"The body is nested deeper than {MAX_JSON_DEPTH} levels.",
                expected="a JSON object of numbers and lists",
            ) from None
    try:
        return json.loads(body, parse_constant=float)
    except UnicodeDecodeError as err:
        raise ApiError(
            400,
            ErrorCode.INVALID_ENCODING,
            f"The body is not UTF-8 ({err.reason}).",
            expected="UTF-8 JSON",
        ) from err
    except (ValueError, RecursionError) as err:
        # NOTE: besides JSONDecodeError, Python refuses integers over 4300 digits with a bare
        # ValueError and deep nesting with RecursionError: all are the client's body, not a 500.
        detail = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ApiError(
            400,
            ErrorCode.INVALID_JSON,
            f"The body is not valid JSON: {detail}.",
            expected="a JSON object",
        ) from err


def _number(value: Any, spec: FeatureSpec, field: str) -> float:
    if value is None:
        raise ApiError(
            422, ErrorCode.NULL_VALUE, f"{field} is null.", field=field, expected=spec.expected()
        )
    # NOTE: bool is a subclass of int in Python; true/false are not house sizes.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(
            422,
            ErrorCode.WRONG_TYPE,
            f"{field} is {type(value).__name__} {_short(value)}, not a number.",
            field=field,
            expected=spec.expected(),
        )
    try:
        number = float(value)
    except OverflowError:
        # An integer beyond float range: finite, so out of any range rather than "not finite".
        raise ApiError(
            422,
            ErrorCode.OUT_OF_RANGE,
            f"{field} ({spec.name}) is an integer of {len(str(value))} digits.",
            field=field,
            expected=spec.expected(),
        ) from None
    if not math.isfinite(number):
        raise ApiError(
            422,
            ErrorCode.NON_FINITE_VALUE,
            f"{field} is {_short(value)}, not a finite number.",
            field=field,
            expected=spec.expected(),
        )
    if not spec.accepts(number):
        raise ApiError(
            422,
            ErrorCode.OUT_OF_RANGE,
            f"{field} ({spec.name}) is {_short(value)}, outside the valid range.",
            field=field,
            expected=spec.expected(),
        )
    return number


def _plain_number(value: Any, spec: FeatureSpec) -> float | None:
    """``value`` as a float when it is a plain in-range number, else None."""
    if type(value) is not float and type(value) is not int:
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if spec.accepts(number) else None


def _row_from_list(values: Any, features: tuple[FeatureSpec, ...], field: str) -> list[float]:
    if not isinstance(values, list) or len(values) != len(features):
        names = ", ".join(spec.name for spec in features)
        expected = f"a list of {len(features)} numbers: {names}"
        if not isinstance(values, list):
            raise ApiError(
                422,
                ErrorCode.WRONG_TYPE,
                f"{field} is {type(values).__name__}, not a list.",
                field=field,
                expected=expected,
            )
        raise ApiError(
            422,
            ErrorCode.WRONG_FEATURE_COUNT,
            f"{field} has {len(values)} values, the model takes {len(features)}.",
            field=field,
            expected=expected,
        )
    row = []
    for i, (value, spec) in enumerate(zip(values, features, strict=True)):
        # PERF: the common case builds no field name or message; _number names the problem.
        number = _plain_number(value, spec)
        row.append(number if number is not None else _number(value, spec, f"{field}[{i}]"))
    return row


def _row_from_record(record: Any, features: tuple[FeatureSpec, ...], field: str) -> list[float]:
    names = [spec.name for spec in features]
    expected = f"an object with exactly the keys {', '.join(names)}"
    if not isinstance(record, dict):
        raise ApiError(
            422,
            ErrorCode.WRONG_TYPE,
            f"{field} is {type(record).__name__}, not an object.",
            field=field,
            expected=expected,
        )
    unknown = [key for key in record if key not in names]
    if unknown:
        raise ApiError(
            422,
            ErrorCode.UNKNOWN_FEATURE,
            f"{field} has the unknown key {_key(unknown[0])!r}.",
            field=f"{field}.{_key(unknown[0])}",
            expected=expected,
        )
    missing = [name for name in names if name not in record]
    if missing:
        raise ApiError(
            422,
            ErrorCode.MISSING_FEATURE,
            f"{field} lacks {missing[0]!r}.",
            field=f"{field}.{missing[0]}",
            expected=expected,
        )
    return [_number(record[spec.name], spec, f"{field}.{spec.name}") for spec in features]


def _batch(items: Any, field: str, max_rows: int) -> list[Any]:
    expected = f"a non-empty list of at most {max_rows} rows"
    if not isinstance(items, list):
        raise ApiError(
            422,
            ErrorCode.WRONG_TYPE,
            f"{field} is {type(items).__name__}, not a list.",
            field=field,
            expected=expected,
        )
    if not items:
        raise ApiError(
            422, ErrorCode.EMPTY_BATCH, f"{field} is empty.", field=field, expected=expected
        )
    if len(items) > max_rows:
        raise ApiError(
            413,
            ErrorCode.BATCH_TOO_LARGE,
            f"{field} has {len(items)} rows, more than the limit of {max_rows}.",
            field=field,
            expected=expected,
        )
    return items


def _fast_matrix(items: list[Any], features: tuple[FeatureSpec, ...]) -> np.ndarray | None:
    """``items`` as a float matrix when every row is a list of plain numbers in range, else None
    (the per-value checks then find and name the problem).

    PERF: a 1,000-row batch checked value by value costs more than the model; exact ``type``
    tests (bool is not int here) and numpy's column-wise range check keep the same rules.
    """
    width = len(features)
    for row in items:
        if type(row) is not list or len(row) != width:
            return None
        for value in row:
            if type(value) is not float and type(value) is not int:
                return None
    try:
        matrix = np.asarray(items, dtype=np.float64)
    except OverflowError:
        return None
    low = np.array([-np.inf if f.minimum is None else f.minimum for f in features])
    high = np.array([np.inf if f.maximum is None else f.maximum for f in features])
    if not (np.isfinite(matrix).all() and (matrix >= low).all() and (matrix <= high).all()):
        return None
    return matrix


def parse_rows(payload: Any, features: tuple[FeatureSpec, ...], max_rows: int) -> ParsedRows:
    """The rows of a decoded body, checked against the model's features."""
    shape = "an object with exactly one of: features, instances, records"
    if not isinstance(payload, dict):
        raise ApiError(
            422,
            ErrorCode.WRONG_TYPE,
            f"The body is a JSON {type(payload).__name__}, not an object.",
            field="$",
            expected=shape,
        )
    unknown = [key for key in payload if key not in BODY_KEYS]
    if unknown:
        key = _key(unknown[0])
        raise ApiError(
            422, ErrorCode.UNEXPECTED_FIELD, f"Unknown field {key!r}.", field=key, expected=shape
        )
    given = [key for key in BODY_KEYS if key in payload]
    if not given:
        raise ApiError(
            422,
            ErrorCode.MISSING_FIELD,
            "The body has none of features, instances, records.",
            field="features",
            expected=shape,
        )
    if len(given) > 1:
        raise ApiError(
            422,
            ErrorCode.CONFLICTING_FIELDS,
            f"The body has both {given[0]!r} and {given[1]!r}.",
            field=given[1],
            expected=shape,
        )

    key = given[0]
    if key == "features":
        rows = [_row_from_list(payload[key], features, "features")]
    elif key == "instances":
        items = _batch(payload[key], key, max_rows)
        matrix = _fast_matrix(items, features)
        if matrix is not None:
            return ParsedRows(matrix, batch=True)
        rows = [_row_from_list(row, features, f"instances[{i}]") for i, row in enumerate(items)]
    else:
        items = _batch(payload[key], key, max_rows)
        rows = [_row_from_record(rec, features, f"records[{i}]") for i, rec in enumerate(items)]
    return ParsedRows(np.asarray(rows, dtype=np.float64), batch=key != "features")
