"""The image as the task definition runs it: every capability dropped, no-new-privileges,
read-only root, tmpfs /tmp, an API key from the environment (as ECS hands a secret)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage
from tests.support.serving import GUIDE_BODY, serving, serving_container

pytestmark = pytest.mark.integration

KEY = "hardened-key-of-the-integration-tests"


@pytest.fixture(scope="module")
def hardened(serving_image: BuiltImage, run_id: str) -> Iterator[tuple[DockerContainer, str]]:
    container = serving_container(
        serving_image,
        f"mlinfra-it-{run_id}-hardened",
        hardened=True,
        GUNICORN_WORKERS="2",
        API_KEY=KEY,
    )
    with serving(container) as running:
        yield running


def test_the_container_runs_with_no_capability_and_no_new_privileges(
    hardened: tuple[DockerContainer, str],
) -> None:
    container, _ = hardened
    host_config = container.get_wrapped_container().attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert host_config["ReadonlyRootfs"] is True
    # What gunicorn (PID 1) and its workers actually hold, read from the kernel.
    status = container.exec(["python3", "-c", "print(open('/proc/1/status').read())"])
    fields = dict(
        line.split(":\t", 1) for line in status.output.decode().splitlines() if ":\t" in line
    )
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0
    assert int(fields["CapBnd"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Uid"].split()[0] != "0"


def test_health_and_the_guide_request_answer(hardened: tuple[DockerContainer, str]) -> None:
    _, url = hardened
    health = httpx.get(f"{url}/health")  # no key: the ALB's health check sends none
    assert health.status_code == 200
    assert {"status": "healthy", "service": "ML Prediction API"}.items() <= health.json().items()
    predicted = httpx.post(f"{url}/predict", json=GUIDE_BODY, headers={"X-API-Key": KEY})
    assert predicted.status_code == 200
    assert set(predicted.json()) == {"prediction", "status", "model_version"}
    assert predicted.json()["status"] == "success"


@pytest.mark.parametrize("path", ["/predict", "/metrics", "/metadata", "/openapi.json"])
def test_every_route_but_the_probes_needs_the_key(
    hardened: tuple[DockerContainer, str], path: str
) -> None:
    _, url = hardened
    method = "POST" if path == "/predict" else "GET"
    refused = httpx.request(method, f"{url}{path}", json=GUIDE_BODY)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    keyed = httpx.request(method, f"{url}{path}", json=GUIDE_BODY, headers={"X-API-Key": KEY})
    assert keyed.status_code == 200
    assert httpx.get(f"{url}/ready").status_code == 200
