"""Optional API-key auth: loading the key, the 401s on every route but the probes, the OpenAPI
document."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
from falcon import testing

from mlinfra_serving import auth
from mlinfra_serving.app import create_app
from mlinfra_serving.auth import ApiKey, load_api_key
from mlinfra_serving.config import Settings, SettingsError
from mlinfra_serving.predictor import Predictor

KEY = "k3y-0f-the-unit-tests-5f1c2a"
GUIDE_BODY = {"features": [3, 2, 1500, 2020]}


@pytest.fixture
def guarded(predictor: Predictor, model_dir: Path) -> testing.TestClient:
    settings = Settings(model_dir=model_dir)
    return testing.TestClient(create_app(predictor, settings, ApiKey.of(KEY)))


def test_no_variable_means_no_auth() -> None:
    assert load_api_key({}) is None
    assert load_api_key({"API_KEY": "", "API_KEY_FILE": ""}) is None


def test_key_from_the_variable_or_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "api-key"
    secret.write_text(KEY + "\n")
    from_env = load_api_key({"API_KEY": KEY})
    from_file = load_api_key({"API_KEY_FILE": str(secret)})
    assert from_env is not None and from_file == from_env
    assert from_env.matches(KEY)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"API_KEY": "short"}, "5 characters long"),
        ({"API_KEY": KEY, "API_KEY_FILE": "/run/key"}, "set only one"),
        ({"API_KEY_FILE": "/nowhere/key"}, "'/nowhere/key' cannot be read"),
    ],
    ids=["too-short", "both", "missing-file"],
)
def test_unusable_settings_are_refused_with_the_fix(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says) as caught:
        load_api_key(env)
    assert KEY not in str(caught.value) and "short" not in str(caught.value)


def test_the_key_is_kept_only_as_a_digest() -> None:
    key = ApiKey.of(KEY)
    assert KEY not in repr(key)
    assert KEY.encode() not in key.digest


def test_the_compare_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording)
    key = ApiKey.of(KEY)
    assert key.matches(KEY) and not key.matches(KEY[:-1]) and not key.matches("")
    # Equal-length digests whatever was presented: the time depends on neither key's length.
    assert len(calls) == 3 and {len(a) for a, _ in calls} == {32}


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": "wrong-key-of-some-length"}, {"X-API-Key": KEY.upper()}]
)
def test_predict_without_the_right_key_is_401_json(
    guarded: testing.TestClient, headers: dict[str, str]
) -> None:
    result = guarded.simulate_post("/predict", json=GUIDE_BODY, headers=headers)
    assert result.status_code == 401
    assert result.json["error"]["code"] == "unauthorized"
    assert result.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    presented = headers.get("X-API-Key")
    assert presented is None or presented not in result.text


def test_predict_with_the_key_answers(guarded: testing.TestClient) -> None:
    result = guarded.simulate_post("/predict", json=GUIDE_BODY, headers={"X-API-Key": KEY})
    assert result.status_code == 200
    assert result.json["status"] == "success"


PROTECTED = ("/metrics", "/metadata", "/openapi.json")


@pytest.mark.parametrize("path", [*PROTECTED, "/metrics/", "/metadata?x=1", "/openapi.json/"])
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key-of-some-length"}])
def test_documents_need_the_key_too(
    guarded: testing.TestClient, path: str, headers: dict[str, str]
) -> None:
    route, _, query = path.partition("?")
    result = guarded.simulate_get(route, query_string=query or None, headers=headers)
    assert result.status_code == 401, result.text
    assert result.json["error"]["code"] == "unauthorized"
    assert "model_version" not in result.text and "mlinfra_http" not in result.text


@pytest.mark.parametrize("path", PROTECTED)
def test_documents_answer_with_the_key(guarded: testing.TestClient, path: str) -> None:
    assert guarded.simulate_get(path, headers={"X-API-Key": KEY}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key-of-some-length"}])
def test_probes_never_need_the_key(guarded: testing.TestClient, headers: dict[str, str]) -> None:
    # The ALB's and ECS's health checks send no key (and a wrong one changes nothing).
    for path in ("/health", "/ready"):
        assert guarded.simulate_get(path, headers=headers).status_code == 200, path


def test_without_a_key_configured_every_route_is_open(client: testing.TestClient) -> None:
    for path in ("/health", "/ready", *PROTECTED):
        assert client.simulate_get(path).status_code == 200, path


def test_openapi_documents_the_key_only_when_enforced(
    guarded: testing.TestClient, client: testing.TestClient
) -> None:
    document = guarded.simulate_get("/openapi.json", headers={"X-API-Key": KEY}).json
    operations = {path: next(iter(ops.values())) for path, ops in document["paths"].items()}
    for path in ("/predict", *PROTECTED):
        assert operations[path]["security"] == [{"ApiKey": []}], path
        assert "401" in operations[path]["responses"], path
    for path in ("/health", "/ready"):
        assert "security" not in operations[path] and "401" not in operations[path]["responses"]
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-API-Key"}

    for ops in client.simulate_get("/openapi.json").json["paths"].values():
        operation = next(iter(ops.values()))
        assert "security" not in operation and "401" not in operation["responses"]
