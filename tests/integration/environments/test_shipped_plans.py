"""staging and prod as shipped: planned against the emulator with only the image given, every
production setting is in the plan; prod without a certificate refuses to plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from environment_checks import CANARY_API_KEY, create_shipped_zone

from mlinfra.emulator import boto3_session
from mlinfra.terraform import TerraformError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlinfra-{env}:abc1234-0123abcd"


def _resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _resources(child)


def _by_type(plan: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in _resources(plan["planned_values"]["root_module"]):
        if resource["mode"] == "managed":
            found.setdefault(resource["type"], []).append(resource.get("values", {}))
    return found


@pytest.fixture(scope="module", params=["staging", "prod"])
def planned(request, make_environment) -> tuple[Any, ...]:
    name = request.param
    environment = make_environment(name, container_image=IMAGE.format(env=name))
    session = boto3_session(environment.endpoint)
    create_shipped_zone(session)
    environment.apply("registry")
    secret_arn = environment.stack("registry").outputs()["api_key_secret_arn"]
    session.client("secretsmanager").put_secret_value(
        SecretId=secret_arn, SecretString=CANARY_API_KEY
    )
    environment.plan("service")
    planfile = environment.root / f"{name}-service.tfplan"
    plan = environment.stack("service").show_json(planfile)
    assert CANARY_API_KEY not in json.dumps(plan)
    return name, environment, _by_type(plan), secret_arn, plan


def test_https_only_with_a_requested_certificate(planned):
    _, _, resources, _, _ = planned
    listeners = {listener["port"]: listener for listener in resources["aws_lb_listener"]}
    assert set(listeners) == {80, 443}
    [redirect] = listeners[80]["default_action"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"][0]["status_code"] == "HTTP_301"
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    [certificate] = resources["aws_acm_certificate"]
    assert certificate["validation_method"] == "DNS"
    assert certificate["domain_name"].endswith(".example.com")
    assert len(resources["aws_acm_certificate_validation"]) == 1


def test_the_api_key_reaches_the_task_by_arn(planned):
    _, _, resources, secret_arn, _ = planned
    [task] = resources["aws_ecs_task_definition"]
    [container] = json.loads(task["container_definitions"])
    assert container["secrets"] == [{"name": "API_KEY", "valueFrom": secret_arn}]
    assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
    assert container["dockerSecurityOptions"] == ["no-new-privileges"]


def test_alarms_reach_someone(planned):
    _, _, resources, _, plan = planned
    [subscription] = resources["aws_sns_topic_subscription"]
    assert subscription["protocol"] == "email"
    assert "@" in subscription["endpoint"]
    alarms = [
        change
        for change in plan["resource_changes"]
        if change["type"] == "aws_cloudwatch_metric_alarm"
    ]
    assert len(alarms) >= 5
    # The new topic's ARN is known only after apply: each alarm's actions wait for it.
    for alarm in alarms:
        for actions in ("alarm_actions", "ok_actions"):
            assert alarm["change"]["after_unknown"].get(actions), (alarm["address"], actions)


def test_load_balancer_protection_logs_waf_and_scaling(planned):
    name, _, resources, _, _ = planned
    [balancer] = resources["aws_lb"]
    assert balancer["enable_deletion_protection"] is (name == "prod")
    assert balancer["access_logs"][0]["enabled"] is True
    assert len(resources["aws_s3_bucket_public_access_block"]) == 1
    assert len(resources["aws_s3_bucket_lifecycle_configuration"]) == 1
    assert len(resources.get("aws_wafv2_web_acl_association", [])) == (1 if name == "prod" else 0)
    metrics = {
        policy["target_tracking_scaling_policy_configuration"][0][
            "predefined_metric_specification"
        ][0]["predefined_metric_type"]
        for policy in resources["aws_appautoscaling_policy"]
    }
    assert metrics == {
        "ECSServiceAverageCPUUtilization",
        "ECSServiceAverageMemoryUtilization",
        "ALBRequestCountPerTarget",
    }


def test_without_a_certificate_it_refuses_to_plan(planned):
    name, environment, _, _, _ = planned
    root = environment.root / "environments" / name / "service" / "main.tf"
    shipped = root.read_text()
    https_line = next(line for line in shipped.splitlines() if line.strip().startswith("https "))
    root.write_text(shipped.replace(https_line, ""))
    try:
        with pytest.raises(TerraformError) as refused:
            environment.plan("service")
    finally:
        root.write_text(shipped)
    assert f"load_balancer.https is required in {name}" in str(refused.value)
