"""What of a task definition, a target group and a listener the local runtime applies, and what
it lists as not honoured (pure functions; the containers are checked by the integration tests)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from cryptography import x509
from test_task_spec import LOAD_BALANCER, TASK_DEFINITION

from mlinfra.local_runtime import task_spec
from mlinfra.local_runtime._agent import failed_task_threshold
from mlinfra.local_runtime._aws import Listener, TargetHealthCheck
from mlinfra.local_runtime._converge import _local_redirect
from mlinfra.local_runtime._spec import unhonoured_fields
from mlinfra.local_runtime._tasks import REASON_OOM, read_task
from mlinfra.proxy import Redirect, Upstream, leaf_certificate, render_nginx_conf

SECRETS = {"/mlinfra/api-key": "s3cr3t"}


def _definition(**container_changes: Any) -> dict[str, Any]:
    definition = copy.deepcopy(TASK_DEFINITION)
    definition["containerDefinitions"][0].update(container_changes)
    return definition


def test_a_task_definition_the_runtime_reads_whole_lists_nothing() -> None:
    spec = task_spec(TASK_DEFINITION, LOAD_BALANCER, SECRETS)

    assert spec.unhonoured == ()


def test_fields_it_cannot_apply_are_listed_by_path_never_dropped() -> None:
    definition = _definition(
        logConfiguration={"logDriver": "splunk", "options": {"splunk-url": "https://x"}},
        dependsOn=[{"containerName": "x", "condition": "START"}],
        mountPoints=[],  # empty: nothing to honour
        portMappings=[
            {"containerPort": 8080, "hostPort": 0, "protocol": "tcp"},
            {"containerPort": 5353, "hostPort": 0, "protocol": "udp"},
        ],
    )
    definition["containerDefinitions"][0]["linuxParameters"]["sharedMemorySize"] = 64
    definition |= {
        "taskRoleArn": "arn:aws:iam::1:role/task",
        "executionRoleArn": "arn:aws:iam::1:role/exec",
        "placementConstraints": [],
        "taskDefinitionArn": "arn:aws:ecs:...:task-definition/x:7",
        "status": "ACTIVE",
    }

    assert unhonoured_fields(definition) == (
        "containerDefinitions[0].dependsOn",
        "containerDefinitions[0].linuxParameters.sharedMemorySize",
        "containerDefinitions[0].logConfiguration",
        "containerDefinitions[0].portMappings[1].protocol",
        "taskRoleArn",
    )
    assert task_spec(definition, LOAD_BALANCER, SECRETS).unhonoured == unhonoured_fields(definition)


def test_ulimits_reach_docker_as_ecs_passes_them() -> None:
    spec = task_spec(
        _definition(ulimits=[{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}]),
        LOAD_BALANCER,
        SECRETS,
    )

    assert spec.run_kwargs(name="t", labels={})["ulimits"] == [
        {"Name": "nofile", "Soft": 1024, "Hard": 4096}
    ]
    assert "ulimits" not in task_spec(TASK_DEFINITION, LOAD_BALANCER, SECRETS).run_kwargs(
        name="t", labels={}
    )


def _container(state: dict[str, Any]) -> MagicMock:
    container = MagicMock()
    container.labels = {"mlinfra.task-definition": "f:1", "mlinfra.container-port": "8080"}
    container.attrs = {
        "State": state,
        "NetworkSettings": {"IPAddress": "172.17.0.9", "Ports": {}},
    }
    return container


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"Status": "exited", "OOMKilled": True, "ExitCode": 137}, REASON_OOM),
        (
            {"Status": "exited", "OOMKilled": False, "ExitCode": 3},
            "Essential container in task exited (exit code 3)",
        ),
        (
            {"Status": "running", "Health": {"Status": "unhealthy"}},
            "Task failed container health checks",
        ),
        ({"Status": "running", "Health": {"Status": "healthy"}}, None),
    ],
)
def test_a_stopped_task_says_why_in_ecs_words(state: dict[str, Any], reason: str | None) -> None:
    assert read_task(_container(state)).stopped_reason == reason


def test_a_running_task_is_reached_on_its_bridge_address() -> None:
    running = read_task(_container({"Status": "running"}))
    exited = read_task(_container({"Status": "exited"}))

    assert (running.address, exited.address) == ("172.17.0.9:8080", None)


@pytest.mark.parametrize(
    ("matcher", "code", "passes"),
    [("200", 200, True), ("200", 204, False), ("200,204", 204, True), ("200-299", 299, True),
     ("200-299", 302, False), ("200", 0, False)],
)  # fmt: skip
def test_the_target_group_matcher_reads_as_elb_does(matcher: str, code: int, passes: bool) -> None:
    assert TargetHealthCheck(matcher=matcher).passes(code) is passes


@pytest.mark.parametrize(("desired", "threshold"), [(1, 3), (2, 3), (7, 4), (10, 5), (1000, 200)])
def test_the_circuit_breaker_threshold_is_ecs_s(desired: int, threshold: int) -> None:
    assert failed_task_threshold(desired) == threshold


def test_an_http_listener_s_redirect_goes_to_the_local_tls_port() -> None:
    listeners = (
        Listener(80, "HTTP", redirect=(301, "HTTPS", "443")),
        Listener(443, "HTTPS", certificate_domains=("api.example.com",)),
    )

    assert _local_redirect(listeners, 18080, 18443) == Redirect(301, "HTTPS", 18443)
    assert _local_redirect(listeners[1:], 18080, 18443) is None


def test_https_and_the_redirect_render_as_two_servers() -> None:
    text = render_nginx_conf(
        [Upstream("172.17.0.2", 8080)],
        host="127.0.0.1",
        port=18080,
        tls_port=18443,
        redirect=Redirect(302, "HTTPS", 18443),
    )

    assert "listen 127.0.0.1:18080;" in text
    assert "return 302 https://$host:18443$request_uri;" in text
    assert "listen 127.0.0.1:18443 ssl;" in text
    assert "ssl_certificate /etc/nginx/tls/cert.pem;" in text
    assert text.count("proxy_pass http://service;") == 1  # only the HTTPS port forwards


def test_the_leaf_names_the_listener_s_domain_and_this_machine(tmp_path: Path) -> None:
    leaf = leaf_certificate(tmp_path, "prod", ["api.example.com"])
    first = leaf.cert_file.read_bytes()
    again = leaf_certificate(tmp_path, "prod", ["api.example.com"])

    cert = x509.load_pem_x509_certificate(first)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ca = x509.load_pem_x509_certificate(leaf.ca_file.read_bytes())
    assert sans.get_values_for_type(x509.DNSName) == ["api.example.com", "localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert cert.issuer == ca.subject
    assert leaf.ca_file == tmp_path / "ca.pem"
    assert again.cert_file.read_bytes() == first  # reused
    other = leaf_certificate(tmp_path, "prod", ["www.example.com"])
    assert other.cert_file.read_bytes() != first  # remade for a new domain
    assert (tmp_path / "ca.key").stat().st_mode & 0o077 == 0
