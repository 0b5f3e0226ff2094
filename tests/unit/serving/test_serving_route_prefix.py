"""ROUTE_PREFIX: the service under a path of its own, for an ALB's path rules."""

from pathlib import Path

import pytest
from falcon import testing

from mlinfra_serving.app import create_app
from mlinfra_serving.auth import ApiKey
from mlinfra_serving.config import Settings, SettingsError
from mlinfra_serving.predictor import Predictor

BODY = {"features": [3, 2, 1500, 2020]}
KEY = "0123456789abcdef0123456789abcdef"


def _client(
    predictor: Predictor, model_dir: Path, prefix: str, key: ApiKey | None = None
) -> testing.TestClient:
    settings = Settings(model_dir=model_dir, route_prefix=prefix)
    return testing.TestClient(create_app(predictor, settings, api_key=key))


def test_prefixed_routes_answer_and_the_bare_predict_does_not(
    predictor: Predictor, model_dir: Path
) -> None:
    client = _client(predictor, model_dir, "/models/houses")
    prefixed = client.simulate_post("/models/houses/predict", json=BODY)
    assert prefixed.status_code == 200
    assert prefixed.json["status"] == "success"
    assert client.simulate_post("/predict", json=BODY).status_code == 404
    assert client.simulate_get("/models/houses/metadata").status_code == 200
    # Probes answer at the root as well: health checks reach the task, not the ALB rule.
    assert client.simulate_get("/health").status_code == 200
    assert client.simulate_get("/models/houses/ready").status_code == 200


def test_no_prefix_keeps_predict(predictor: Predictor, model_dir: Path) -> None:
    client = _client(predictor, model_dir, "")
    assert client.simulate_post("/predict", json=BODY).status_code == 200
    assert "servers" not in client.simulate_get("/openapi.json").json


def test_the_openapi_document_is_served_under_the_prefix_and_names_it(
    predictor: Predictor, model_dir: Path
) -> None:
    """Its paths are relative to its server, so a generated client calls the prefixed routes."""
    client = _client(predictor, model_dir, "/models/houses")
    document = client.simulate_get("/models/houses/openapi.json").json
    assert document["servers"] == [{"url": "/models/houses"}]
    for path in document["paths"]:
        served = client.simulate_get(document["servers"][0]["url"] + path)
        assert served.status_code != 404, path


def test_prefixed_routes_stay_protected_by_the_key(predictor: Predictor, model_dir: Path) -> None:
    client = _client(predictor, model_dir, "/models/houses", ApiKey.of(KEY))
    assert client.simulate_post("/models/houses/predict", json=BODY).status_code == 401
    headers = {"X-API-Key": KEY}
    assert (
        client.simulate_post("/models/houses/predict", json=BODY, headers=headers).status_code
        == 200
    )


@pytest.mark.parametrize(("raw", "expected"), [("", ""), ("/models/a/", "/models/a"), ("/m", "/m")])
def test_route_prefix_is_read_and_normalised(raw: str, expected: str) -> None:
    assert Settings.from_env({"ROUTE_PREFIX": raw}).route_prefix == expected


@pytest.mark.parametrize("raw", ["models/a", "/models a", "/models/../x?y"])
def test_bad_route_prefix_names_the_fix(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"ROUTE_PREFIX=.*e\.g\. /models/houses"):
        Settings.from_env({"ROUTE_PREFIX": raw})
