"""The API key, given as an ECS secret would be (environment), appears in no log line, no
response and no layer of the image, whatever requests arrive."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from mlinfra import docker_engine
from mlinfra.image import BuiltImage
from tests.support.reliability import ServiceFactory, json_lines, wait_for_request_log
from tests.support.serving import GUIDE_BODY

pytestmark = pytest.mark.integration

CHUNK = 1 << 20


def _requests(url: str, canary: str) -> list[httpx.Response]:
    """Every route, with no key, a wrong key, a key that merely contains the canary, the key."""
    wrong = [None, "not-the-key-but-long-enough", canary[:-1], canary + "x"]
    with httpx.Client(base_url=url, timeout=10) as client:
        answers = [
            client.post("/predict", json=GUIDE_BODY, headers={"X-API-Key": k} if k else {})
            for k in wrong
        ]
        keyed = {"X-API-Key": canary}
        answers += [
            client.post("/predict", json=GUIDE_BODY, headers=keyed),
            client.post("/predict", content=b'{"features": [', headers=keyed),
            client.post("/predict", json={"features": [3, 2, 1500, 9999]}, headers=keyed),
            client.get("/predict", headers=keyed),
            client.get("/nowhere", headers=keyed),
        ]
        # The probes need no key; the documents need it (and answer 401 without).
        documents = ("/metadata", "/metrics", "/openapi.json")
        answers += [client.get(p) for p in ("/health", "/ready", *documents)]
        answers += [client.get(p, headers=keyed) for p in documents]
    return answers


def _found_in_image(reference: str, needles: tuple[bytes, ...]) -> set[bytes]:
    """Which ``needles`` occur in the image's metadata or anywhere in ``docker save`` of it."""
    image = docker_engine.client().images.get(reference)
    found = {n for n in needles if n in json.dumps([image.attrs, image.history()]).encode()}
    overlap = max(len(n) for n in needles)
    tail = b""
    for chunk in image.save(chunk_size=CHUNK):
        window = tail + chunk
        found |= {n for n in needles if n in window}
        tail = window[-overlap:]
    return found


def test_the_api_key_never_leaves_the_process(
    start: ServiceFactory, serving_image: BuiltImage
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    # debug: gunicorn logs its whole configuration at start; the key must not be in it either.
    container, url = start(
        "canary", GUNICORN_WORKERS="2", GUNICORN_LOGLEVEL="debug", API_KEY=canary
    )
    answers = _requests(url, canary)

    statuses = [r.status_code for r in answers]
    assert statuses[:5] == [401, 401, 401, 401, 200]
    for response in answers:
        assert canary not in response.text, response.request.url
        assert canary not in str(response.headers), response.request.url

    logs = container.get_wrapped_container().logs(stdout=True, stderr=True).decode()
    assert canary not in logs
    # The logs were there to search: one line per request, and gunicorn's debug lines.
    assert len(wait_for_request_log(container, len(answers))) >= len(answers)
    assert any(ln["level"] == "debug" for ln in json_lines(container, stdout=False, stderr=True))

    # The header name is in the image's code: the scan that finds it would find the key too.
    found = _found_in_image(serving_image.reference, (canary.encode(), b"X-API-Key"))
    assert found == {b"X-API-Key"}


def test_a_key_from_a_secret_file_guards_predict_only(
    start: ServiceFactory, tmp_path: Path
) -> None:
    key = f"file-key-{uuid.uuid4().hex}"
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o755)
    (secrets / "api-key").write_text(key + "\n")  # as `echo key > file` writes it
    _, url = start(
        "keyfile", volumes={str(secrets): "/run/mlinfra"}, API_KEY_FILE="/run/mlinfra/api-key"
    )
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.post("/predict", json=GUIDE_BODY).status_code == 401
        assert (
            client.post("/predict", json=GUIDE_BODY, headers={"X-API-Key": key}).status_code == 200
        )
        assert client.get("/ready").status_code == 200


def test_an_unusable_key_stops_the_start_without_printing_it(
    serving_image: BuiltImage, run_id: str
) -> None:
    short = f"c-{uuid.uuid4().hex[:10]}"
    container = docker_engine.client().containers.run(
        serving_image.reference,
        detach=True,
        name=f"mlinfra-rel-{run_id}-shortkey",
        environment={"API_KEY": short},
        read_only=True,
        tmpfs={"/tmp": ""},
    )
    try:
        assert container.wait(timeout=30)["StatusCode"] != 0
        logs = container.logs(stdout=True, stderr=True).decode()
        critical = [json.loads(ln) for ln in logs.splitlines() if '"critical"' in ln]
        assert len(critical) == 1 and "the API key is 12 characters long" in critical[0]["error"]
        assert "environment variable" in critical[0]["fix"]
        assert short not in logs
    finally:
        container.remove(force=True)
