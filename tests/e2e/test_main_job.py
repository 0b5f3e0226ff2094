"""The main job from nothing: `mlinfra deploy --env local`, the guide's requests, a no-change
deploy, a model roll under a request stream with zero failures, a second model beside the first
on its own route (`--model`), and a clean destroy.

Everything runs through the installed `mlinfra` console script in a local environment of the
test's own (e2e_support). The steps share one deployment (an apply costs about 100 s), so they
run in order as one test module; a failed step skips the rest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import LocalEnv, RequestStream, another_model, in_order, local_environment

from mlinfra.emulator import boto3_session
from tests.support.serving import GUIDE_FEATURES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnv]:
    with local_environment(tmp_path_factory, TIMINGS) as made:
        yield made


@pytest.fixture(autouse=True)
def _in_order(request: pytest.FixtureRequest, local: LocalEnv) -> Iterator[None]:
    yield from in_order(request, local)


def test_first_deploy_from_nothing_serves_the_guide_requests(local: LocalEnv) -> None:
    started = time.monotonic()
    result = local.ok("deploy", "--env", "local", "--yes")
    TIMINGS["first_deploy"] = time.monotonic() - started
    assert "curl" in result.stdout, "the report ends with the commands to try"

    status = local.status()
    assert status["healthy"] is True
    url = status["url"].rstrip("/")
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    answer = httpx.post(f"{url}/predict", json={"features": GUIDE_FEATURES}, timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "success"
    assert isinstance(body["prediction"], float)
    assert 50_000 < body["prediction"] < 1_000_000, "a plausible house price"
    assert body["model_version"]


def test_the_other_commands_read_the_live_deployment(local: LocalEnv) -> None:
    outputs = json.loads(local.ok("outputs", "--env", "local", "--json").stdout)
    assert outputs["registry"]["repository_url"]
    for name in ("alb_dns_name", "service_url", "cluster_name", "service_name"):
        assert outputs["service"][name], name
    for name in ("target_group_arn", "log_group_name"):
        assert outputs["service"][name], name

    # A request the service logs, then found by `logs` with the request id it was given.
    url = local.status()["url"].rstrip("/")
    request_id = f"e2e-{time.monotonic_ns()}"
    httpx.get(f"{url}/health", headers={"X-Request-ID": request_id}, timeout=5)
    deadline = time.monotonic() + 20
    while True:
        events = json.loads(local.ok("logs", "--env", "local", "--since", "5m", "--json").stdout)
        if any(request_id in event["message"] for event in events) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert any(request_id in event["message"] for event in events)

    checks = json.loads(local.ok("doctor", "--env", "local", "--json").stdout)
    assert checks and all(check["ok"] for check in checks), checks

    # Building and pushing again with nothing changed reuses the image and its digest.
    built = json.loads(local.ok("build", "--env", "local", "--json").stdout)
    assert built["reused"] is True
    pushed = json.loads(local.ok("push", "--env", "local", "--json").stdout)
    assert pushed["image"].endswith(built["image"].rpartition(":")[2])
    assert pushed["digest"].startswith("sha256:")


def test_bench_reports_the_live_deployment_with_a_plot_and_a_cost(
    local: LocalEnv, tmp_path: Path
) -> None:
    plot = tmp_path / "latency.png"
    args = ("bench", "--env", "local", "--duration", "3s", "--connections", "8")
    result = local.ok(*args, "--batch-rows", "50", "--plot", str(plot), "--json")
    report = json.loads(result.stdout)
    single, batch = report["phases"]
    assert single["requests"] > 100 and single["errors"] == {}
    assert batch["rows_per_request"] == 50 and batch["errors"] == {}
    assert 0 < single["percentiles_ms"]["50"] <= single["percentiles_ms"]["99.9"]
    assert single["cpu_us_per_request"] and single["cpu_us_per_request"] > 0
    # The local environment runs the dev sizes: a t3.small in the shipped price table.
    assert report["target"]["instance_type"] == "t3.small", report["target"]
    assert report["cost"]["per_million_requests"] > 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # The report itself, and a budget no service meets: exit 1, for CI to gate on.
    printed = local.ok("bench", "--env", "local", "--duration", "1s", "--batch-rows", "0")
    assert "p99.9" in printed.stdout and "per million predictions" in printed.stdout
    gated = local.mlinfra(*args[:4], "1s", "--batch-rows", "0", "--p99-budget", "1us")
    assert gated.returncode == 1 and "OVER BUDGET" in gated.stdout


def test_second_deploy_builds_nothing_and_changes_nothing(local: LocalEnv) -> None:
    before = local.task_containers()
    started = time.monotonic()
    again = local.ok("deploy", "--env", "local", "--yes")
    TIMINGS["no_change_deploy"] = time.monotonic() - started
    assert local.task_containers() == before, "no task was replaced"
    assert "registry stack: no changes" in again.stderr, again.stderr
    assert "applying the registry stack" not in again.stderr, "an unchanged stack is not applied"
    plan = local.mlinfra("plan", "--env", "local", "--detailed-exitcode")
    assert plan.returncode == 0, "a plan after the deploy shows no changes"


def test_model_change_rolls_with_zero_failed_requests(local: LocalEnv, tmp_path: Path) -> None:
    status = local.status()
    url = status["url"].rstrip("/")
    old_version = httpx.get(f"{url}/metadata", timeout=5).json()["model_version"]
    model_file = another_model(tmp_path / "model.txt")
    local.ok(
        "train",
        "--from-file",
        str(model_file),
        "--features",
        "bedrooms,bathrooms,sqft_living,year_built",
    )
    with RequestStream(url) as stream:
        started = time.monotonic()
        local.ok("deploy", "--env", "local", "--yes")
        TIMINGS["roll_deploy"] = time.monotonic() - started
        time.sleep(1)
    assert stream.failures == [], f"{len(stream.failures)} failed of {stream.ok}"
    assert stream.ok > 20
    new_version = httpx.get(f"{url}/metadata", timeout=5).json()["model_version"]
    assert new_version != old_version
    assert {old_version, new_version} >= stream.versions - {"None"}
    assert local.status()["healthy"] is True


def test_a_second_model_answers_on_its_own_route_through_the_same_url(
    local: LocalEnv, tmp_path: Path
) -> None:
    url = local.status()["url"].rstrip("/")
    own_version = httpx.get(f"{url}/metadata", timeout=5).json()["model_version"]
    own_releases = json.loads(local.ok("releases", "--env", "local", "--json").stdout)
    model_file = another_model(tmp_path / "model.txt", seed=11)
    features = "bedrooms,bathrooms,sqft_living,year_built"
    local.ok("train", "--model", "houses-b", "--from-file", str(model_file), "--features", features)

    started = time.monotonic()
    local.ok("deploy", "--env", "local", "--model", "houses-b", "--yes")
    TIMINGS["second_model_deploy"] = time.monotonic() - started

    own = httpx.post(f"{url}/predict", json={"features": GUIDE_FEATURES}, timeout=5)
    other = httpx.post(
        f"{url}/models/houses-b/predict", json={"features": GUIDE_FEATURES}, timeout=5
    )
    assert own.status_code == other.status_code == 200, (own.text, other.text)
    assert own.json()["model_version"] == own_version, "the environment's own model is untouched"
    assert other.json()["model_version"] not in (own_version, None)
    assert other.json()["prediction"] != own.json()["prediction"]
    assert httpx.get(f"{url}/models/houses-b/health", timeout=5).json()["status"] == "healthy"
    # Each model's requests reach only its own tasks: ten in a row, one version each.
    versions = {
        httpx.post(
            f"{url}/models/houses-b/predict", json={"features": GUIDE_FEATURES}, timeout=5
        ).json()["model_version"]
        for _ in range(10)
    }
    assert versions == {other.json()["model_version"]}

    status = local.status()
    assert status["healthy"] is True
    assert status["models"]["houses-b"]["url"] == f"{url}/models/houses-b"
    assert status["models"]["houses-b"]["healthy"] is True
    # Its own release ledger; the environment's own one gained nothing.
    listed = json.loads(
        local.ok("releases", "--env", "local", "--model", "houses-b", "--json").stdout
    )
    assert [r["verdict"] for r in listed["releases"]] == ["succeeded"]
    assert listed["running"] == listed["releases"][0]["number"]
    again = json.loads(local.ok("releases", "--env", "local", "--json").stdout)
    assert len(again["releases"]) == len(own_releases["releases"])
    plan = local.mlinfra("plan", "--env", "local", "--detailed-exitcode")
    assert plan.returncode == 0, "a plan after the deploy shows no changes"
    bad = local.mlinfra("deploy", "--env", "local", "--model", "Houses", "--yes")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "--model 'Houses' is not a model name" in bad.stderr


def test_destroy_leaves_no_tasks_and_no_emulated_resources(local: LocalEnv) -> None:
    started = time.monotonic()
    local.ok("destroy", "--env", "local", "--yes")
    TIMINGS["destroy"] = time.monotonic() - started
    assert local.task_containers() == []
    session = boto3_session(f"http://127.0.0.1:{local.emulator_port}")
    ecs = session.client("ecs")
    # As in AWS, a deleted cluster stays listed for a while, INACTIVE.
    arns = ecs.list_clusters()["clusterArns"]
    clusters = ecs.describe_clusters(clusters=arns)["clusters"] if arns else []
    assert [c["clusterName"] for c in clusters if c["status"] == "ACTIVE"] == []
    assert session.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert session.client("ecr").describe_repositories()["repositories"] == []
    assert session.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert session.client("logs").describe_log_groups()["logGroups"] == []
    # The registry's data and the user's model stay.
    assert (local.state_dir / "model" / "model.txt").exists()
