"""The OpenAPI 3.1 document of the service, built once from the model's features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlinfra_serving import SERVICE_NAME, __version__
from mlinfra_serving.artifact import FeatureSpec
from mlinfra_serving.auth import PROTECTED_ROUTES
from mlinfra_serving.errors import ErrorCode

ERROR_CODES = {
    "400": "Malformed body: invalid_json, invalid_encoding, empty_body.",
    "401": "unauthorized: the X-API-Key header is missing or wrong.",
    "413": "Too large: body_too_large, batch_too_large.",
    "415": "unsupported_media_type: the Content-Type is not application/json.",
    "422": (
        "The JSON does not fit the schema: wrong_type, missing_field, unexpected_field,"
        " conflicting_fields, wrong_feature_count, unknown_feature, missing_feature, null_value,"
        " non_finite_value, out_of_range, empty_batch."
    ),
    "503": "model_not_loaded or probe_failed.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _feature(spec: FeatureSpec) -> dict[str, Any]:
    """A feature's value with the range the service enforces, so generated clients (and
    fuzzers) know a valid request from one the service answers 422 out_of_range."""
    bounds = {"minimum": spec.minimum, "maximum": spec.maximum}
    return {"type": "number", **{k: v for k, v in bounds.items() if v is not None}}


def _schemas(features: Sequence[FeatureSpec], max_rows: int) -> dict[str, Any]:
    feature_names = [spec.name for spec in features]
    width = len(feature_names) or None
    row = {
        "type": "array",
        "prefixItems": [_feature(spec) for spec in features],
        "items": {"type": "number"},
        "description": f"Feature values in this order: {', '.join(feature_names)}.",
        **({"minItems": width, "maxItems": width} if width else {}),
    }
    record = {
        "type": "object",
        "properties": {spec.name: _feature(spec) for spec in features},
        "required": feature_names,
        "additionalProperties": False,
    }
    batch = {"minItems": 1, "maxItems": max_rows}
    return {
        "Row": row,
        "Record": record,
        "PredictRequest": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"features": _ref("Row")},
                    "required": ["features"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"instances": {"type": "array", "items": _ref("Row"), **batch}},
                    "required": ["instances"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"records": {"type": "array", "items": _ref("Record"), **batch}},
                    "required": ["records"],
                    "additionalProperties": False,
                },
            ]
        },
        "Prediction": {
            "type": "object",
            "properties": {
                "prediction": {"type": "number"},
                "status": {"const": "success"},
                "model_version": {"type": "string"},
            },
            "required": ["prediction", "status", "model_version"],
        },
        "BatchPrediction": {
            "type": "object",
            "properties": {
                "predictions": {"type": "array", "items": {"type": "number"}},
                "count": {"type": "integer"},
                "status": {"const": "success"},
                "model_version": {"type": "string"},
            },
            "required": ["predictions", "count", "status", "model_version"],
        },
        "Health": {
            "type": "object",
            "properties": {
                # The guide's two keys, then the service's own.
                "status": {"const": "healthy"},
                "service": {"const": SERVICE_NAME},
                "model_version": {"type": ["string", "null"]},
            },
            "required": ["status", "service", "model_version"],
        },
        "Error": {
            "type": "object",
            "properties": {
                "status": {"const": "error"},
                "error": {
                    "type": "object",
                    "properties": {
                        # Every code the service answers with, so a client can match on it.
                        "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "expected": {"type": ["string", "null"]},
                    },
                    "required": ["code", "message", "field", "expected"],
                },
            },
            "required": ["status", "error"],
        },
    }


def _errors(*statuses: str) -> dict[str, Any]:
    return {status: _json(_ref("Error"), ERROR_CODES[status]) for status in statuses}


def _operation(
    summary: str, responses: dict[str, Any], *, protected: bool, **rest: Any
) -> dict[str, Any]:
    """One operation; ``protected``: it requires ``X-API-Key`` and documents its 401."""
    if not protected:
        return {"summary": summary, **rest, "responses": responses}
    return {
        "summary": summary,
        **rest,
        "responses": {**responses, **_errors("401")},
        "security": [{"ApiKey": []}],
    }


def openapi_document(
    features: Sequence[FeatureSpec],
    max_rows: int,
    *,
    api_key_required: bool = False,
    route_prefix: str = "",
) -> dict[str, Any]:
    """``api_key_required``: the routes of ``PROTECTED_ROUTES`` carry the key's requirement.
    ``route_prefix`` (ROUTE_PREFIX) becomes the document's server: OpenAPI's paths are relative
    to it, so a client generated from the document calls ``<prefix>/predict``."""
    simple = {"type": "object", "properties": {"status": {"type": "string"}}}

    def operation(path: str, summary: str, responses: dict[str, Any], **rest: Any) -> Any:
        protected = api_key_required and path in PROTECTED_ROUTES
        return _operation(summary, responses, protected=protected, **rest)

    return {
        "openapi": "3.1.0",
        "info": {"title": "mlinfra model service", "version": __version__},
        **({"servers": [{"url": route_prefix}]} if route_prefix else {}),
        "paths": {
            "/predict": {
                "post": operation(
                    "/predict",
                    "Predict one row (features) or a batch (instances or records).",
                    {
                        "200": _json(
                            {"oneOf": [_ref("Prediction"), _ref("BatchPrediction")]},
                            "One prediction, or one per row in order.",
                        ),
                        **_errors("400", "413", "415", "422", "503"),
                    },
                    requestBody={
                        "required": True,
                        **_json(_ref("PredictRequest"), "Rows to predict."),
                    },
                )
            },
            "/health": {
                "get": operation(
                    "/health",
                    "Liveness: the process serves. Never needs the API key.",
                    {"200": _json(_ref("Health"), "Alive.")},
                )
            },
            "/ready": {
                "get": operation(
                    "/ready",
                    "Readiness: the model is loaded and answers a probe prediction."
                    " Never needs the API key.",
                    {"200": _json(simple, "Ready."), **_errors("503")},
                )
            },
            "/metadata": {
                "get": operation(
                    "/metadata",
                    "The model's metadata: features and ranges, version, sha256, metrics, provenance.",
                    {"200": _json({"type": "object"}, "Model metadata."), **_errors("503")},
                )
            },
            "/metrics": {
                "get": operation(
                    "/metrics",
                    "Prometheus metrics aggregated over every worker.",
                    {
                        "200": {
                            "description": "Prometheus text format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                )
            },
            "/openapi.json": {
                "get": operation(
                    "/openapi.json",
                    "This document.",
                    {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
                )
            },
        },
        "components": {
            "schemas": _schemas(features, max_rows),
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "responses": {
                "NotFound": _json(_ref("Error"), "No such route (code not_found)."),
                "MethodNotAllowed": _json(_ref("Error"), "Method not allowed on this route."),
            },
        },
    }
