"""The local environment with the API key on (as staging and prod have it), through the local
ALB's URL: a deploy refuses until the key is set, then no key and a wrong key get 401 and the
right key 200; `mlinfra secret rotate` rolls the tasks onto a new key without losing a request.

The key is the environment's real Secrets Manager secret (in the emulator), handed to the
container by the task definition's ``secrets`` as ECS does, resolved by the local runtime.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from e2e_support import LocalEnv, RequestStream, in_order, local_environment

from tests.support.serving import GUIDE_FEATURES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

TIMINGS: dict[str, float] = {}
FIRST_KEY = "e2e-first-api-key-3f9a1c7d"
SECRET = "mlinfra/local/api-key"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnv]:
    # Both local roots read it: the registry makes the secret, the service hands it to the task.
    with local_environment(tmp_path_factory, TIMINGS, TF_VAR_api_key_required="true") as made:
        yield made


@pytest.fixture(autouse=True)
def _in_order(request: pytest.FixtureRequest, local: LocalEnv) -> Iterator[None]:
    yield from in_order(request, local)


def _predict(url: str, key: str | None) -> httpx.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    return httpx.post(
        f"{url}/predict", json={"features": GUIDE_FEATURES}, headers=headers, timeout=10
    )


def _url(local: LocalEnv) -> str:
    return str(local.status()["url"]).rstrip("/")


def test_deploy_without_a_key_set_says_how_to_set_it(local: LocalEnv) -> None:
    refused = local.mlinfra("deploy", "--env", "local", "--yes")
    assert refused.returncode != 0
    assert "mlinfra secret set --env local" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_secret_set_from_stdin_then_deploy(local: LocalEnv) -> None:
    result = local.ok("secret", "set", "--env", "local", "--json", stdin=FIRST_KEY + "\n")
    assert FIRST_KEY not in result.stdout + result.stderr
    value = local.aws("secretsmanager").get_secret_value(SecretId=SECRET)["SecretString"]
    assert value == FIRST_KEY
    started = time.monotonic()
    local.ok("deploy", "--env", "local", "--yes")
    TIMINGS["deploy_with_key"] = time.monotonic() - started
    assert local.status()["healthy"] is True


def test_only_the_right_key_predicts(local: LocalEnv) -> None:
    url = _url(local)
    missing, wrong, right = (
        _predict(url, None),
        _predict(url, "x" * 32),
        _predict(url, FIRST_KEY),
    )
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.json()["error"]["code"] == "unauthorized"
    assert right.json()["status"] == "success"
    assert isinstance(right.json()["prediction"], float)
    # The probes the ALB and ECS send carry no key.
    health = httpx.get(f"{url}/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["status"] == "healthy"
    # The documents are not for the internet either.
    assert httpx.get(f"{url}/metadata", timeout=5).status_code == 401
    assert httpx.get(f"{url}/metadata", headers={"X-API-Key": FIRST_KEY}, timeout=5).is_success


def test_rotate_rolls_onto_a_new_key_losing_no_request(local: LocalEnv) -> None:
    url = _url(local)
    before = local.task_containers()
    # The old key is answered 200 by the old task and 401 by the new one: answered, not lost.
    with RequestStream(
        url, headers={"X-API-Key": FIRST_KEY}, accepted=frozenset({200, 401})
    ) as stream:
        started = time.monotonic()
        rotated = local.ok("secret", "rotate", "--env", "local", "--yes", "--json")
        TIMINGS["rotate_roll"] = time.monotonic() - started
        time.sleep(1)
    assert stream.failures == [], f"{len(stream.failures)} failed, answers {stream.statuses}"
    assert stream.statuses.get(200, 0) > 10, stream.statuses
    new_key = local.aws("secretsmanager").get_secret_value(SecretId=SECRET)["SecretString"]
    assert new_key != FIRST_KEY
    assert new_key not in rotated.stdout + rotated.stderr
    assert json.loads(rotated.stdout)["version_id"]
    assert local.task_containers() != before, "the tasks were replaced"
    assert _predict(url, new_key).status_code == 200
    assert _predict(url, FIRST_KEY).status_code == 401


def test_destroy(local: LocalEnv) -> None:
    local.ok("destroy", "--env", "local", "--yes")
    assert local.task_containers() == []
