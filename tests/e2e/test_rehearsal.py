"""prod rehearsed on this machine (`--rehearse`): its own roots, byte for byte, against an
emulator of its own; beside the local environment, and destroyed without touching it.

One state folder holds both environments (e2e_support); the steps run in order on one
deployment of each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import docker
import httpx
import pytest
from e2e_support import GUIDE_FEATURES, LocalEnv, RequestStream, in_order, local_environment

from mlinfra.config import runtime_name
from mlinfra.emulator import boto3_session

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

TIMINGS: dict[str, float] = {}
PROD = ("--env", "prod", "--rehearse")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnv]:
    with local_environment(tmp_path_factory, TIMINGS) as made:
        try:
            yield made
        finally:
            made.mlinfra("destroy", *PROD, "--yes")
            made.mlinfra("down", *PROD)


@pytest.fixture(autouse=True)
def _in_order(request: pytest.FixtureRequest, local: LocalEnv) -> Iterator[None]:
    yield from in_order(request, local)


def _prod_status(local: LocalEnv) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(local.ok("status", *PROD, "--json").stdout)
    return status


def _prod_aws(local: LocalEnv, service: str) -> Any:
    ports = json.loads((local.state_dir / "prod-rehearsal" / "ports.json").read_text())
    return boto3_session(f"http://127.0.0.1:{ports['emulator']}").client(service)


def _api_key(local: LocalEnv) -> str:
    secret = _prod_aws(local, "secretsmanager").get_secret_value(SecretId="mlinfra/prod/api-key")
    value: str = secret["SecretString"]
    return value


def _containers(env_label: str) -> list[Any]:
    return docker.from_env().containers.list(all=True, filters={"label": [env_label]})


def test_prod_rehearsed_from_nothing_serves_https_with_its_api_key(local: LocalEnv) -> None:
    started = time.monotonic()
    local.ok("deploy", *PROD, "--yes", "--allow-dirty")
    TIMINGS["prod_first_deploy"] = time.monotonic() - started

    status = _prod_status(local)
    assert status["healthy"] is True, status
    assert status["rehearsed"] is True
    assert status["service"]["running"] == 2, "prod's desired count: two tasks"
    assert len([t for t in status["targets"] if t["state"] == "healthy"]) == 2
    url, ca_file = status["url"].rstrip("/"), status["ca_file"]
    assert url.startswith("https://127.0.0.1:"), "prod's listener serves HTTPS"
    key = _api_key(local)
    with httpx.Client(verify=ca_file, timeout=10) as client:
        refused = client.post(f"{url}/predict", json={"features": GUIDE_FEATURES})
        assert refused.status_code == 401, "prod requires its API key"
        answer = client.post(
            f"{url}/predict", json={"features": GUIDE_FEATURES}, headers={"X-API-Key": key}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "success"
    # Port 80's listener redirects to HTTPS, as prod's ALB does.
    http_port = json.loads((local.state_dir / "prod-rehearsal" / "ports.json").read_text())["http"]
    redirect = httpx.get(f"http://127.0.0.1:{http_port}/health?x=1", timeout=10)
    assert redirect.status_code in (301, 302)
    assert redirect.headers["location"] == f"{url}/health?x=1"
    # prod's own roots ran: its state is in the bucket its backend.hcl names.
    listed = _prod_aws(local, "s3").list_objects_v2(Bucket="mlinfra-tfstate-prod")
    assert {o["Key"] for o in listed.get("Contents", [])} >= {
        "prod/registry.tfstate",
        "prod/service.tfstate",
    }


def test_a_killed_task_is_replaced_under_a_request_stream(local: LocalEnv) -> None:
    status = _prod_status(local)
    url, ca_file = status["url"].rstrip("/"), status["ca_file"]
    prod_label = f"mlinfra.env={runtime_name('prod-rehearsal', local.state_dir)}"
    tasks = [c for c in _containers(prod_label) if c.labels.get("mlinfra.role") == "task"]
    assert len(tasks) == 2
    victim = tasks[0]
    headers = {"X-API-Key": _api_key(local)}
    with RequestStream(url, headers=headers, verify=ca_file) as stream:
        time.sleep(2)
        killed = time.monotonic()
        victim.kill()
        deadline = killed + 120
        while time.monotonic() < deadline:
            running = [
                c
                for c in _containers(prod_label)
                if c.labels.get("mlinfra.role") == "task" and c.status == "running"
            ]
            if len(running) == 2 and victim.id not in {c.id for c in running}:
                healthy = [t for t in _prod_status(local)["targets"] if t["state"] == "healthy"]
                if len(healthy) == 2:
                    break
            time.sleep(1)
        TIMINGS["prod_task_replaced"] = time.monotonic() - killed
        time.sleep(2)
    print(
        f"kill under a stream: {len(stream.failures)} failed of {stream.ok + len(stream.failures)}"
    )
    assert TIMINGS["prod_task_replaced"] < 120, "replaced, registered and healthy again"
    assert stream.ok > 0
    # Requests in flight on the killed task may fail; none after its replacement.
    assert len(stream.failures) <= 10, stream.failures[:5]


def test_local_runs_beside_the_rehearsal(local: LocalEnv) -> None:
    local.ok("deploy", "--env", "local", "--yes")
    local_url = local.status()["url"].rstrip("/")
    prod = _prod_status(local)
    prod_url = prod["url"].rstrip("/")
    assert local_url != prod_url
    assert httpx.get(f"{local_url}/health", timeout=5).status_code == 200
    assert httpx.get(f"{prod_url}/health", timeout=5, verify=prod["ca_file"]).status_code == 200


def test_destroying_the_rehearsal_leaves_local_serving(local: LocalEnv) -> None:
    started = time.monotonic()
    local.ok("destroy", *PROD, "--yes")
    TIMINGS["prod_destroy"] = time.monotonic() - started
    prod_label = f"mlinfra.env={runtime_name('prod-rehearsal', local.state_dir)}"
    assert _containers(prod_label) == [], "no task or proxy of the rehearsal is left"
    # A deleted cluster stays described as INACTIVE for a while, as in ECS.
    clusters = _prod_aws(local, "ecs").describe_clusters(clusters=["mlinfra-prod"])["clusters"]
    assert [c for c in clusters if c["status"] == "ACTIVE"] == []
    assert _prod_aws(local, "elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert (
        _prod_aws(local, "ec2").describe_vpcs(
            Filters=[{"Name": "tag:Environment", "Values": ["prod"]}]
        )["Vpcs"]
        == []
    )
    local_url = local.status()["url"].rstrip("/")
    assert httpx.get(f"{local_url}/health", timeout=5).status_code == 200

    local.ok("down", *PROD)
    assert not _prod_status_answers(local)


def _prod_status_answers(local: LocalEnv) -> bool:
    """Whether prod's emulator still answers (after `down` it is gone, with its state)."""
    try:
        _prod_aws(local, "s3").list_buckets()
    except Exception:  # botocore's connection errors: the emulator stopped
        return False
    return True
