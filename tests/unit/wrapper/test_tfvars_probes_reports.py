"""The generated tfvars, the HTTP probes (against a real local server) and the rich renderings."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mlinfra import reports, tfvars
from mlinfra.errors import ConfigError, MlinfraError
from mlinfra.probes import probe, probe_all
from mlinfra.status import StatusReport
from mlinfra.terraform import PlanSummary, ResourceCounts

# --- tfvars ---------------------------------------------------------------------------------


def test_image_tfvars_round_trip(tmp_path: Path) -> None:
    path = tfvars.write_image_tfvars(tmp_path, "127.0.0.1:5000/mlinfra-local:abc-123")
    assert path == tmp_path / "image.auto.tfvars.json"
    assert json.loads(path.read_text()) == {
        "container_image": "127.0.0.1:5000/mlinfra-local:abc-123"
    }
    assert tfvars.read_image_tfvars(tmp_path) == "127.0.0.1:5000/mlinfra-local:abc-123"
    assert os.listdir(tmp_path) == ["image.auto.tfvars.json"], "no temporary file left behind"


def test_an_image_without_tag_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no tag or digest"):
        tfvars.write_image_tfvars(tmp_path, "127.0.0.1:5000/mlinfra-local")
    assert tfvars.read_image_tfvars(tmp_path) is None


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    tfvars.write_image_tfvars(tmp_path, "repo:one")
    with pytest.raises(TypeError):
        tfvars.write_atomic_json(tfvars.image_tfvars_path(tmp_path), {"x": object()})
    assert tfvars.read_image_tfvars(tmp_path) == "repo:one"
    assert len(os.listdir(tmp_path)) == 1


# --- probes ---------------------------------------------------------------------------------


class _Service(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response({"/health": 200, "/ready": 503}.get(self.path, 404))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture()
def service_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_probes_report_status_and_latency(service_url: str) -> None:
    health, ready = probe_all(service_url)
    assert (health.path, health.ok, health.status) == ("/health", True, 200)
    assert health.latency_ms is not None and health.latency_ms > 0
    assert (ready.ok, ready.status) == (False, 503)


def test_a_refused_connection_is_a_failed_probe(service_url: str) -> None:
    closed = probe("http://127.0.0.1:9", "/health", timeout_s=1)
    assert not closed.ok and closed.status is None
    assert closed.error and "ConnectError" in closed.error


# --- reports --------------------------------------------------------------------------------


def _render(renderable: Any) -> str:
    console = Console(record=True, width=120)
    console.print(renderable)
    return console.export_text()


def test_plan_table_lists_types_and_totals() -> None:
    summary = PlanSummary(
        "service",
        Path("service.tfplan"),
        {"aws_ecs_service": ResourceCounts(change=1), "aws_lb": ResourceCounts(add=1)},
        ("service_url",),
    )
    text = _render(reports.plan_table(summary))
    assert "service stack plan: 1 to add, 1 to change, 0 to destroy" in text
    assert "aws_ecs_service" in text and "aws_lb" in text
    assert "outputs changing: service_url" in text


def test_status_panel_shows_url_counts_targets_and_probes(service_url: str) -> None:
    report = StatusReport(
        env="local",
        deployed=True,
        url=service_url,
        healthy=False,
        service={
            "name": "mlinfra-local",
            "cluster": "mlinfra-local",
            "desired": 2,
            "running": 1,
            "pending": 1,
            "rollout_state": "IN_PROGRESS",
            "task_definition": "mlinfra-local:3",
        },
        listeners=({"port": 80, "protocol": "HTTP"},),
        targets=({"id": "i-1", "port": 32768, "state": "healthy", "reason": None},),
        image="127.0.0.1:5000/mlinfra-local:abc",
        probes=tuple(probe_all(service_url)),
    )
    text = _render(reports.status_panel(report))
    for expected in (
        service_url, "unhealthy", "desired 2, running 1, pending 1, rollout IN_PROGRESS",
        "HTTP:80", "i-1", "32768", "/health", "/ready", "503", " ms",
    ):  # fmt: skip
        assert expected in text
    assert json.loads(json.dumps(report.to_dict()))["url"] == service_url


def test_nothing_deployed_says_how_to_deploy() -> None:
    text = _render(reports.status_panel(StatusReport("dev", False, None, False)))
    assert "Nothing deployed in dev" in text and "mlinfra deploy --env dev" in text


def test_an_error_is_one_or_two_lines() -> None:
    console = Console(record=True, width=200)
    reports.error(console, MlinfraError("Port 5000 is taken.", "Set MLINFRA_REGISTRY_PORT."))
    assert console.export_text().splitlines() == [
        "error: Port 5000 is taken.",
        "  fix: Set MLINFRA_REGISTRY_PORT.",
    ]


def test_the_deploy_report_ends_with_the_guide_requests_to_try() -> None:
    console = Console(record=True, width=60)
    report = StatusReport("local", deployed=True, url="http://127.0.0.1:8080/", healthy=True)
    reports.apply_result(console, reports_apply_result(report))
    text = console.export_text()
    lines = text.strip().splitlines()
    assert lines[-2] == "curl http://127.0.0.1:8080/health"
    assert lines[-1] == (
        "curl -X POST http://127.0.0.1:8080/predict -H 'Content-Type: application/json' "
        """-d '{"features": [3, 2, 1500, 2020]}'"""
    )


def reports_apply_result(report: StatusReport) -> Any:
    from mlinfra.plans import ApplyResult

    return ApplyResult("local", ("registry", "service"), report)
