"""The CLI end to end on a small environment, against a real emulator process and real Terraform.

The `dev` environment of ``stacks/project`` is a small stand-in for a real one (ECR; an ECS
service of desired count 0; a target group; a log group); the emulator plays AWS through
``AWS_ENDPOINT_URL``, exactly as it does for the `local` environment, and a local HTTP server
plays the ALB for the probes.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlinfra import config, docker_engine, emulator, tfvars
from mlinfra.cli import app
from mlinfra.emulator.testing import free_port
from mlinfra.registry import LocalRegistry
from mlinfra.terraform import terraform_cli_config

from .conftest import STACKS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The .warn. method is deprecated:DeprecationWarning"),
]
runner = CliRunner()
BUCKET = "mlinfra-cli-test-state"


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path in ("/health", "/ready") else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def alb() -> Iterator[ThreadingHTTPServer]:
    """An HTTP server answering /health and /ready with 200, standing in for the ALB."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, alb: ThreadingHTTPServer) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("cli") / "project"
    shutil.copytree(STACKS / "project", root)
    (root / "environments/dev/service/dev.tfvars").write_text(
        f'service_url = "http://127.0.0.1:{alb.server_address[1]}"\n'
    )
    state = root.parent / "state"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(config.PROJECT_DIR_ENV, str(root))
        patch.setenv(config.STATE_DIR_ENV, str(state))
        config.project_dir.cache_clear()
        running = emulator.start(port=free_port(), state_dir=state / "emulator")
        # `local` commands reuse this emulator: same state folder, same port.
        patch.setenv("MLINFRA_EMULATOR_PORT", str(running.port))
        for key, value in emulator.client_env(running.endpoint).items():
            # An empty AWS_PROFILE is fine for terraform but makes boto3 look up a profile "".
            if value:
                patch.setenv(key, value)
            else:
                patch.delenv(key, raising=False)
        patch.setenv("MLINFRA_STATE_BUCKET", BUCKET)
        emulator.boto3_session(running.endpoint).client("s3").create_bucket(Bucket=BUCKET)
        terraform_cli_config(state)
        try:
            yield root
        finally:
            emulator.stop(state / "emulator")
            config.project_dir.cache_clear()


def _cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _json(result: Any) -> Any:
    assert result.exit_code in (0, 2), result.output
    return json.loads(result.stdout)


def test_plan_apply_status_outputs_logs_destroy(project: Path) -> None:
    env_state = config.state_dir() / "dev"

    waiting = _json(_cli("plan", "--env", "dev", "--json", "--detailed-exitcode"))
    assert [p["stack"] for p in waiting["plans"]] == ["registry"]
    assert "mlinfra push --env dev" in waiting["waiting"]["service"]

    tfvars.write_image_tfvars(env_state, "127.0.0.1:5000/mlinfra-dev:abc1234-0123abcd")
    planned = _cli("plan", "--env", "dev", "--json", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    service_plan = _json(planned)["plans"][1]
    assert service_plan["by_type"]["aws_ecs_service"] == {"add": 1, "change": 0, "destroy": 0}

    applied = _cli("apply", "--env", "dev", "--json")
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)["status"]
    assert report["healthy"] is True
    assert report["image"] == "127.0.0.1:5000/mlinfra-dev:abc1234-0123abcd"
    assert report["service"]["desired"] == 0
    assert [p["path"] for p in report["probes"]] == ["/health", "/ready"]

    again = _cli("plan", "--env", "dev", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "registry stack: no changes." in again.stdout

    outputs = _json(_cli("outputs", "--env", "dev", "--json"))
    assert outputs["registry"]["repository_url"].endswith("/mlinfra-cli-test")
    assert outputs["service"]["log_group_name"] == "/mlinfra/cli-test"

    logs = emulator.boto3_session(os.environ["AWS_ENDPOINT_URL"]).client("logs")
    logs.create_log_stream(logGroupName="/mlinfra/cli-test", logStreamName="model/model/task1")
    logs.put_log_events(
        logGroupName="/mlinfra/cli-test",
        logStreamName="model/model/task1",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "GET /health 200"}],
    )
    events = _json(_cli("logs", "--env", "dev", "--since", "5m", "--json"))
    assert [e["message"] for e in events] == ["GET /health 200"]

    rendered = _cli("status", "--env", "dev")
    assert rendered.exit_code == 0, rendered.output
    assert "healthy" in rendered.stdout and "/ready" in rendered.stdout

    checks = _cli("doctor", "--env", "dev", "--json")
    assert checks.exit_code == 1, "no model in this state folder, and ECR's host is not reachable"
    by_name = {c["name"]: c for c in json.loads(checks.stdout)}
    assert by_name["terraform"]["ok"] and by_name["docker"]["ok"]
    assert (
        by_name["aws credentials"]["ok"] and "emulator" not in by_name["aws credentials"]["detail"]
    )
    assert (
        not by_name["model artifact"]["ok"] and "mlinfra train" in by_name["model artifact"]["fix"]
    )
    assert not by_name["registry login"]["ok"] and by_name["registry login"]["fix"]

    # A wiped state folder loses the recorded image; destroy must not need it.
    tfvars.image_tfvars_path(env_state).unlink()
    removed = _json(_cli("destroy", "--env", "dev", "--yes", "--json"))
    assert [s["stack"] for s in removed] == ["service", "registry"]
    assert _json(_cli("outputs", "--env", "dev", "--json")) == {"registry": {}, "service": {}}
    gone = _json(_cli("status", "--env", "dev", "--json"))
    assert gone["healthy"] is False and gone["url"] is None


def test_a_plan_for_an_older_image_is_refused(project: Path) -> None:
    env_state = config.state_dir() / "dev"
    tfvars.write_image_tfvars(env_state, "127.0.0.1:5000/mlinfra-dev:old")
    assert _cli("plan", "--env", "dev").exit_code == 0
    tfvars.write_image_tfvars(env_state, "127.0.0.1:5000/mlinfra-dev:new")

    refused = _cli("apply", "--env", "dev")
    assert refused.exit_code == 1
    assert "The saved service plan deploys 127.0.0.1:5000/mlinfra-dev:old" in refused.output
    assert "mlinfra plan --env dev" in refused.output
    # The registry plan went through before the refusal; clean up what it made.
    assert _cli("destroy", "--env", "dev", "--yes").exit_code == 0


def test_push_to_the_local_registry_records_the_image(
    project: Path, tiny_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("MLINFRA_REGISTRY_PORT", str(port))
    env_state = config.state_dir() / "local"
    tfvars.write_atomic_json(
        env_state / "last-build.json", {"reference": tiny_image, "tag": "cli-v1"}
    )
    local = LocalRegistry(config.state_dir() / "registry")
    try:
        pushed = _json(_cli("push", "--env", "local", "--json"))
        assert pushed["image"] == f"127.0.0.1:{port}/mlinfra-local:cli-v1"
        assert pushed["digest"].startswith("sha256:")
        assert pushed["release"] == "release-1"
        assert tfvars.read_image_tfvars(env_state) == pushed["image"]
    finally:
        local.stop()
        docker_engine.client().images.remove(f"127.0.0.1:{port}/mlinfra-local:cli-v1", force=True)


def test_down_is_for_the_local_environment_only(project: Path) -> None:
    result = _cli("down", "--env", "dev")
    assert result.exit_code == 2
    assert "run `mlinfra destroy --env dev`" in result.output
