"""bench/floor.py's no-op apps answer the guide's request as the service's shape, doing nothing else
(the benchmark itself runs them in the project's image: python -m bench.floor)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from typing import Any

from falcon import testing

from bench import floor
from tests.support.serving import GUIDE_BODY


def _floor_module() -> Any:
    spec = importlib.util.spec_from_file_location("mlinfra_floor", floor.FLOOR_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_falcon_floor_answers_the_guide_request_and_ready() -> None:
    client = testing.TestClient(_floor_module().falcon_app)
    answer = client.simulate_post("/predict", json=GUIDE_BODY)
    assert answer.status_code == 200
    assert set(answer.json) == {"prediction", "status", "model_version"}
    assert client.simulate_get("/ready").status_code == 200


def test_the_asgi_floor_reads_the_whole_body_then_answers_a_constant() -> None:
    module = _floor_module()
    body = json.dumps(GUIDE_BODY).encode()
    chunks = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(module.asgi_app({"type": "http"}, receive, send))
    assert chunks == []
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["status"] == "success"


def test_the_service_runs_the_images_own_app_and_the_floors_their_modules() -> None:
    assert floor.APPS["service"] is None
    assert {app.split(":")[0] for name, app in floor.APPS.items() if app} == {"mlinfra_floor"}
    assert floor.FLOOR_MODULE.is_file()
