"""Every class of bad request gets a 4xx JSON body naming the problem, the field and the fix."""

import asyncio
import json
import re
from dataclasses import replace

import pytest
from falcon import testing

from mlinfra_serving.app import create_app, falcon_error_code
from mlinfra_serving.config import Settings
from mlinfra_serving.errors import ApiError, ErrorCode
from mlinfra_serving.predictor import Predictor

RECORD = {"bedrooms": 3, "bathrooms": 2, "sqft_living": 1500, "year_built": 2020}

# (case id, raw body, status, code, field)
BAD_BODIES = [
    ("malformed-json", b'{"features": [3, 2,', 400, "invalid_json", None),
    ("empty-body", b"", 400, "empty_body", None),
    ("not-utf8", b'{"features": [3, 2, 1500, "\xff"]}', 400, "invalid_encoding", None),
    ("top-level-list", b"[3, 2, 1500, 2020]", 422, "wrong_type", "$"),
    ("top-level-string", b'"hello"', 422, "wrong_type", "$"),
    ("no-known-field", b"{}", 422, "missing_field", "features"),
    ("extra-field", b'{"features": [3, 2, 1500, 2020], "x": 1}', 422, "unexpected_field", "x"),
    ("two-shapes", b'{"features": [3,2,1500,2020], "instances": []}', 422, "conflicting_fields", "instances"),
    ("features-not-list", b'{"features": {"a": 1}}', 422, "wrong_type", "features"),
    ("too-few-features", b'{"features": [3, 2, 1500]}', 422, "wrong_feature_count", "features"),
    ("too-many-features", b'{"features": [3, 2, 1500, 2020, 1]}', 422, "wrong_feature_count", "features"),
    ("string-value", b'{"features": [3, "2", 1500, 2020]}', 422, "wrong_type", "features[1]"),
    ("null-value", b'{"features": [3, 2, null, 2020]}', 422, "null_value", "features[2]"),
    ("boolean-value", b'{"features": [true, 2, 1500, 2020]}', 422, "wrong_type", "features[0]"),
    ("nested-list-value", b'{"features": [[3], 2, 1500, 2020]}', 422, "wrong_type", "features[0]"),
    ("nan-literal", b'{"features": [3, 2, NaN, 2020]}', 422, "non_finite_value", "features[2]"),
    ("infinity-literal", b'{"features": [3, 2, 1500, -Infinity]}', 422, "non_finite_value", "features[3]"),
    ("overflowing-float", b'{"features": [3, 2, 1e999, 2020]}', 422, "non_finite_value", "features[2]"),
    ("overflowing-int", b'{"features": [3, 2, 1' + b"0" * 400 + b", 2020]}", 422, "out_of_range", "features[2]"),
    ("negative-bedrooms", b'{"features": [-1, 2, 1500, 2020]}', 422, "out_of_range", "features[0]"),
    ("year-too-old", b'{"features": [3, 2, 1500, 1700]}', 422, "out_of_range", "features[3]"),
    ("instances-not-list", b'{"instances": 3}', 422, "wrong_type", "instances"),
    ("instances-empty", b'{"instances": []}', 422, "empty_batch", "instances"),
    ("instances-row-not-list", b'{"instances": [[3, 2, 1500, 2020], 7]}', 422, "wrong_type", "instances[1]"),
    ("instances-bad-value", b'{"instances": [[3, 2, 1500, 2020], [3, 2, "x", 2020]]}', 422, "wrong_type", "instances[1][2]"),
    ("batch-over-limit", json.dumps({"instances": [[3, 2, 1500, 2020]] * 6}).encode(), 413, "batch_too_large", "instances"),
    ("records-not-object", b'{"records": [[3, 2, 1500, 2020]]}', 422, "wrong_type", "records[0]"),
    ("records-missing-name", json.dumps({"records": [{k: v for k, v in RECORD.items() if k != "bathrooms"}]}).encode(), 422, "missing_feature", "records[0].bathrooms"),
    ("records-unknown-name", json.dumps({"records": [{**RECORD, "garage": 1}]}).encode(), 422, "unknown_feature", "records[0].garage"),
    ("records-bad-value", json.dumps({"records": [{**RECORD, "year_built": None}]}).encode(), 422, "null_value", "records[0].year_built"),
    ("body-over-limit", b'{"features": [3, 2, 1500, 2020]' + b" " * 3000 + b"}", 413, "body_too_large", None),
]  # fmt: skip


def _assert_error(result: testing.Result, status: int, code: str, field: str | None) -> None:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    assert body["status"] == "error"
    assert body["error"]["code"] == code
    assert body["error"]["field"] == field
    assert body["error"]["message"]
    assert body["error"]["expected"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_body_is_a_precise_4xx(
    client: testing.TestClient, body: bytes, status: int, code: str, field: str | None
) -> None:
    result = client.simulate_post("/predict", body=body, content_type="application/json")
    _assert_error(result, status, code, field)


def test_out_of_range_names_the_feature_and_its_range(client: testing.TestClient) -> None:
    result = client.simulate_post("/predict", json={"features": [3, 2, 50, 2020]})
    error = result.json["error"]
    assert "sqft_living" in error["message"] and "50" in error["message"]
    assert error["expected"] == "a finite number in [100, 30000]"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client: testing.TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    result = client.simulate_post(
        "/predict", body=b'{"features": [3, 2, 1500, 2020]}', headers=headers
    )
    _assert_error(result, 415, "unsupported_media_type", None)


def test_json_with_charset_is_accepted(client: testing.TestClient) -> None:
    result = client.simulate_post(
        "/predict",
        body=b'{"features": [3, 2, 1500, 2020]}',
        content_type="application/json; charset=utf-8",
    )
    assert result.status_code == 200


def test_declared_oversized_body_is_refused_before_reading(client: testing.TestClient) -> None:
    # NOTE: TestClient rewrites Content-Length to the body's real size; a raw ASGI call keeps
    # the declared one, as a server passes it on before the body has arrived.
    scope = testing.create_scope(
        path="/predict",
        method="POST",
        headers=[("Content-Type", "application/json"), ("Content-Length", "999999")],
    )
    sent = testing.ASGIResponseEventCollector()
    asyncio.run(client.app(scope, testing.ASGIRequestEventEmitter(body=b"{}"), sent))
    assert sent.status == 413
    body = json.loads(b"".join(sent.body_chunks))
    assert body["error"]["code"] == "body_too_large"
    assert "999999 bytes" in body["error"]["message"]


def test_unknown_route_is_json_404(client: testing.TestClient) -> None:
    result = client.simulate_get("/nope", headers={"Accept": "text/html"})
    _assert_error(result, 404, "not_found", None)
    assert "/nope" in result.json["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/predict"), ("POST", "/health"), ("DELETE", "/metadata")]
)
def test_wrong_method_is_json_405_naming_the_allowed_ones(
    client: testing.TestClient, method: str, path: str
) -> None:
    result = client.simulate_request(method, path)
    _assert_error(result, 405, "method_not_allowed", None)
    assert result.headers["allow"] in result.json["error"]["expected"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"features": [3, 2, ' + b"1" * 5000 + b", 2020]}",  # over Python's int-digit limit
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser recurses
    ],
    ids=["5000-digit-integer", "deep-nesting"],
)
def test_bodies_that_break_the_json_parser_are_400(predictor, body: bytes) -> None:
    client = testing.TestClient(create_app(predictor, Settings(max_body_bytes=1 << 20)))
    result = client.simulate_post("/predict", body=body, content_type="application/json")
    _assert_error(result, 400, "invalid_json", None)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# Inside {"features": [...]} a value nested 1,022 deep is 1,024 deep in all: orjson's limit.
@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b'{"features": [' + _nested(1000) + b", 2, 1500, 2020]}", 422, "wrong_type", "features[0]"),
        (b'{"features": [' + _nested(1022) + b", 2, 1500, 2020]}", 422, "wrong_type", "features[0]"),
        (b'{"instances": [[3, ' + _nested(1000) + b", 1500, 2020]]}", 422, "wrong_type", "instances[0][1]"),
        (b'{"records": [{"bedrooms": ' + _nested(1000) + b"}]}", 422, "missing_feature", "records[0].bathrooms"),
        (b'{"records": [{"bedrooms": ' + _nested(1000) + b', "bathrooms": 2, "sqft_living": 1500, "year_built": 2020}]}', 422, "wrong_type", "records[0].bedrooms"),
        (b'{"features": [' + _nested(1023) + b", 2, 1500, 2020]}", 400, "invalid_json", None),
        (b'{"features": [' + _nested(5000) + b", 2, 1500, 2020]}", 400, "invalid_json", None),
        (b'{"features": [3, 2, NaN, ' + _nested(1023) + b"]}", 400, "invalid_json", None),
    ],
    ids=["1000-deep", "orjson-limit", "in-instances", "in-records", "in-records-complete", "past-orjson-limit", "5000-deep", "past-limit-with-nan"],
)  # fmt: skip
def test_deeply_nested_values_are_a_bounded_4xx(
    predictor, body: bytes, status: int, code: str, field: str | None
) -> None:
    client = testing.TestClient(create_app(predictor, Settings(max_body_bytes=1 << 20)))
    result = client.simulate_post("/predict", body=body, content_type="application/json")
    _assert_error(result, status, code, field)
    assert len(result.content) < 1000


BIG_KEY = "k" * 400_000


@pytest.mark.parametrize(
    ("payload", "code", "field_start"),
    [
        ({"features": [3, 2, 1500, 2020], BIG_KEY: 1}, "unexpected_field", "kkk"),
        ({"records": [{**RECORD, BIG_KEY: 1}]}, "unknown_feature", "records[0].kkk"),
        ({"features": [3, BIG_KEY, 1500, 2020]}, "wrong_type", "features[1]"),
        (
            {"records": [{**RECORD, "bedrooms": {BIG_KEY: [BIG_KEY]}}]},
            "wrong_type",
            "records[0].bedrooms",
        ),
    ],
    ids=["unknown-top-level-key", "unknown-record-key", "long-string-value", "long-nested-value"],
)
def test_echoed_keys_and_values_are_cut_short(
    predictor, payload: dict, code: str, field_start: str
) -> None:
    client = testing.TestClient(create_app(predictor, Settings(max_body_bytes=1 << 20)))
    result = client.simulate_post("/predict", json=payload)
    assert result.status_code == 422
    error = result.json["error"]
    assert error["code"] == code and error["field"].startswith(field_start)
    assert len(result.content) < 1000, len(result.content)
    if BIG_KEY[:10] in error["field"]:
        assert error["field"].endswith("...[truncated]")


def test_a_long_path_is_not_echoed_whole(client: testing.TestClient) -> None:
    result = client.simulate_get("/" + "p" * 100_000)
    _assert_error(result, 404, "not_found", None)
    assert len(result.content) < 1000
    assert result.json["error"]["message"].endswith("...[truncated]")


MADE_UP_METHODS = [f"FOO{i}BAR" for i in range(40)] + ["QUERY", "PROPFIND", "X-Y"]


def test_made_up_methods_are_a_json_405_naming_the_route_s_methods(
    client: testing.TestClient,
) -> None:
    for method in MADE_UP_METHODS:
        result = client.simulate_request(method, "/predict")
        _assert_error(result, 405, "method_not_allowed", None)
        assert result.headers["allow"] == "POST, OPTIONS"
        assert method in result.json["error"]["message"]


def test_made_up_methods_share_one_metric_label(client: testing.TestClient) -> None:
    for method in MADE_UP_METHODS:
        assert 400 <= client.simulate_request(method, "/health").status_code < 500
    text = client.simulate_get("/metrics").text
    labels = set(re.findall(r'^mlinfra_http_requests_total\{method="([^"]*)"', text, re.M))
    assert "other" in labels
    assert labels <= {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "other"}, labels


def test_a_made_up_method_on_an_unknown_route_is_a_json_404(client: testing.TestClient) -> None:
    _assert_error(client.simulate_request("FOOBAR", "/nope"), 404, "not_found", None)


class _ChunkedBody:
    """An ASGI ``receive`` sending a body without Content-Length in 64 KiB chunks (``total``
    bytes, or without end when None), counting what the app read."""

    def __init__(self, total: int | None, chunk: bytes = b" " * (64 << 10)) -> None:
        self.total = total
        self.chunk = chunk
        self.sent = 0

    async def __call__(self) -> dict:
        if self.total is not None and self.sent >= self.total:
            await asyncio.sleep(3600)  # the app must not wait for more after the end
        await asyncio.sleep(0)  # a turn of the loop, so wait_for can stop a reader that never ends
        self.sent += len(self.chunk)
        more = self.total is None or self.sent < self.total
        return {"type": "http.request", "body": self.chunk, "more_body": more}


def _chunked_post(
    client: testing.TestClient, body: _ChunkedBody, content_type: str
) -> tuple[int, dict]:
    scope = testing.create_scope(
        path="/predict",
        method="POST",
        headers=[("Content-Type", content_type), ("Transfer-Encoding", "chunked")],
    )
    sent = testing.ASGIResponseEventCollector()
    asyncio.run(asyncio.wait_for(client.app(scope, body, sent), timeout=10))
    return sent.status, json.loads(b"".join(sent.body_chunks))


def test_an_endless_chunked_body_is_drained_only_so_far(client: testing.TestClient) -> None:
    endless = _ChunkedBody(None)
    status, answer = _chunked_post(client, endless, "text/plain")
    assert status == 415 and answer["error"]["code"] == "unsupported_media_type"
    assert endless.sent <= (8 << 20) + (64 << 10)


def test_a_chunked_body_over_the_limit_is_drained_before_the_413(
    client: testing.TestClient,
) -> None:
    # The client fixture allows 2048 bytes; gunicorn would reset the connection over the
    # 3 MiB left unread, and the client (through an ALB, a 502) would not see the 413.
    body = _ChunkedBody(3 << 20)
    status, answer = _chunked_post(client, body, "application/json")
    assert status == 413 and answer["error"]["code"] == "body_too_large"
    assert body.sent == 3 << 20


def test_the_openapi_error_schema_lists_every_code(client: testing.TestClient) -> None:
    document = client.simulate_get("/openapi.json").json
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    codes = error["properties"]["code"]["enum"]
    assert codes == [code.value for code in ErrorCode]
    assert {case[3] for case in BAD_BODIES} <= set(codes)


def test_field_and_expected_are_keyword_only() -> None:
    error = ApiError(422, ErrorCode.NULL_VALUE, "x is null.", field="x", expected="a number")
    assert error.to_json()["error"] == {
        "code": "null_value",
        "message": "x is null.",
        "field": "x",
        "expected": "a number",
    }
    with pytest.raises(TypeError):
        ApiError(422, ErrorCode.NULL_VALUE, "x is null.", "x", "a number")  # type: ignore[call-arg]


def test_a_fault_of_the_service_is_a_json_500_with_a_listed_code(predictor: Predictor) -> None:
    class Broken:
        name = "broken"
        num_feature = 4

        def predict(self, rows: object) -> object:
            raise RuntimeError("boom")

    app = create_app(replace(predictor, model=Broken()), Settings())
    result = testing.TestClient(app).simulate_post(
        "/predict", json={"features": [3, 2, 1500, 2020]}
    )
    assert result.status_code == 500
    assert result.json["error"]["code"] == ErrorCode.INTERNAL_ERROR == "internal_error"


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "bad_request"), (404, "not_found"), (405, "method_not_allowed"), (414, "bad_request"),
     (500, "internal_error"), (502, "internal_error")],
)  # fmt: skip
def test_falcon_s_own_errors_get_a_listed_code(status: int, code: str) -> None:
    assert falcon_error_code(status) == code
