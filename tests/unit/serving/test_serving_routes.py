"""Every route of the service, in process."""

import json
import math
import re

from falcon import testing

from mlinfra_serving.app import create_app

GUIDE_BODY = {"features": [3, 2, 1500, 2020]}


def test_guide_request_answers_exactly_the_guide_shape(client: testing.TestClient) -> None:
    result = client.simulate_post("/predict", json=GUIDE_BODY)
    assert result.status_code == 200
    assert set(result.json) == {"prediction", "status", "model_version"}
    assert result.json["status"] == "success"
    assert result.json["model_version"].startswith("grinnell-houses-")
    # Grinnell, Iowa prices: a 3-bed, 1500 sq ft new house is well inside this band.
    assert 50_000 < result.json["prediction"] < 500_000


def test_instances_batch_predicts_each_row_in_order(client: testing.TestClient) -> None:
    rows = [[3, 2, 1500, 2020], [2, 1, 800, 1920], [5, 3, 3500, 2005]]
    result = client.simulate_post("/predict", json={"instances": rows})
    assert result.status_code == 200
    assert result.json["count"] == 3
    singles = [
        client.simulate_post("/predict", json={"features": row}).json["prediction"] for row in rows
    ]
    assert result.json["predictions"] == singles


def test_records_batch_matches_instances(client: testing.TestClient) -> None:
    record = {"bedrooms": 3, "bathrooms": 2, "sqft_living": 1500, "year_built": 2020}
    by_name = client.simulate_post("/predict", json={"records": [record]})
    by_position = client.simulate_post("/predict", json={"instances": [[3, 2, 1500, 2020]]})
    assert by_name.status_code == 200
    assert by_name.json["predictions"] == by_position.json["predictions"]


def test_bigger_house_is_predicted_dearer(client: testing.TestClient) -> None:
    small = client.simulate_post("/predict", json={"features": [2, 1, 700, 1950]}).json
    large = client.simulate_post("/predict", json={"features": [5, 3, 3500, 2005]}).json
    assert large["prediction"] > small["prediction"]


def test_health_and_ready(client: testing.TestClient) -> None:
    # The guide's keys first, so a monitor written for the guide keeps matching.
    health = client.simulate_get("/health").json
    assert health == {
        "status": "healthy",
        "service": "ML Prediction API",
        "model_version": client.simulate_get("/metadata").json["model_version"],
    }
    ready = client.simulate_get("/ready")
    assert ready.status_code == 200
    assert ready.json["status"] == "ready"


def test_without_a_model_liveness_holds_but_readiness_and_predict_are_503() -> None:
    client = testing.TestClient(create_app(None))
    health = client.simulate_get("/health")
    assert health.status_code == 200
    assert health.json == {
        "status": "healthy",
        "service": "ML Prediction API",
        "model_version": None,
    }
    for result in (
        client.simulate_get("/ready"),
        client.simulate_get("/metadata"),
        client.simulate_post("/predict", json=GUIDE_BODY),
    ):
        assert result.status_code == 503
        assert result.json["error"]["code"] == "model_not_loaded"


def test_metadata_serves_the_artifact_metadata(client: testing.TestClient) -> None:
    metadata = client.simulate_get("/metadata").json
    assert [f["name"] for f in metadata["features"]] == [
        "bedrooms",
        "bathrooms",
        "sqft_living",
        "year_built",
    ]
    assert re.fullmatch(r"[0-9a-f]{64}", metadata["sha256"])
    assert metadata["backend"] == "lightgbm"
    assert {"holdout_mae", "holdout_r2"} <= set(metadata["metrics"])
    assert metadata["provenance"]["dataset"] == "GrinnellHouses"


def _sample(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{name}\{{{labels}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_requests_by_route_and_status_and_predicted_rows(
    client: testing.TestClient,
) -> None:
    before = client.simulate_get("/metrics").text
    client.simulate_post("/predict", json=GUIDE_BODY)
    client.simulate_post("/predict", json={"instances": [[3, 2, 1500, 2020]] * 2})
    client.simulate_post("/predict", json={"features": [1]})
    after = client.simulate_get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    ok = 'method="POST",route="/predict",status="200"'
    bad = 'method="POST",route="/predict",status="422"'
    assert (
        _sample(after.text, "mlinfra_http_requests_total", ok)
        - _sample(before, "mlinfra_http_requests_total", ok)
        == 2
    )
    assert (
        _sample(after.text, "mlinfra_http_requests_total", bad)
        - _sample(before, "mlinfra_http_requests_total", bad)
        == 1
    )
    assert (
        _sample(after.text, "mlinfra_predictions_total", 'kind="batch"')
        - _sample(before, "mlinfra_predictions_total", 'kind="batch"')
        == 2
    )
    assert "mlinfra_http_request_duration_seconds_bucket" in after.text


def test_openapi_describes_every_route_and_the_error_schema(client: testing.TestClient) -> None:
    document = client.simulate_get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/predict",
        "/health",
        "/ready",
        "/metadata",
        "/metrics",
        "/openapi.json",
    }
    predict = document["paths"]["/predict"]["post"]
    assert {"200", "400", "413", "415", "422", "503"} <= set(predict["responses"])
    record = document["components"]["schemas"]["Record"]
    assert record["required"] == ["bedrooms", "bathrooms", "sqft_living", "year_built"]


def test_request_id_is_honoured_and_echoed(client: testing.TestClient, capsys) -> None:
    result = client.simulate_get("/health", headers={"X-Request-ID": "abc-123"})
    assert result.headers["x-request-id"] == "abc-123"
    trace = "Root=1-67891233-abcdef012345678912345678"
    result = client.simulate_get("/health", headers={"X-Amzn-Trace-Id": trace})
    assert result.headers["x-request-id"] == trace
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["request_id"] for line in lines[-2:]] == ["abc-123", trace]


def test_an_unsafe_request_id_is_replaced(client: testing.TestClient) -> None:
    result = client.simulate_get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", result.headers["x-request-id"])


def test_each_request_logs_one_json_line(client: testing.TestClient, capsys) -> None:
    capsys.readouterr()
    client.simulate_post("/predict", json=GUIDE_BODY)
    (line,) = [json.loads(raw) for raw in capsys.readouterr().out.splitlines()]
    assert line["method"] == "POST"
    assert line["route"] == "/predict"
    assert line["status"] == 200
    assert math.isfinite(line["latency_ms"])
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
