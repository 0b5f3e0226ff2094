"""examples/multi-model applied on the emulator: two models behind one HTTPS ALB, routed by host
and path, a fixed 404 otherwise; then a clean re-plan and a clean destroy."""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest

from mlinfra import emulator as emu
from mlinfra.config import project_dir, state_dir
from mlinfra.emulator import boto3_session
from mlinfra.emulator.testing import emulator_fixture
from mlinfra.terraform import Stack, terraform_cli_config

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

emulator = emulator_fixture(scope="module")
MODELS = ("houses", "prices")


def _no_gaps(endpoint: str) -> None:
    found = emu.read_gaps(endpoint, since=0)
    listed = [
        f"HTTP {g['status']} {g['service']} {g['action']}: {g['exception']}" for g in found["gaps"]
    ]
    assert not listed, (
        f"the emulator answered 5xx (close the gap in wrapper/mlinfra/emulator/patches/): {listed}"
    )


@pytest.fixture(scope="module")
def example(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    root = tmp_path_factory.mktemp("multi-model")
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfplan")
    for part in ("examples", "terraform"):
        shutil.copytree(project_dir() / part, root / part, ignore=ignore)
    return Stack(
        "multi-model",
        root / "examples" / "multi-model",
        env=emu.client_env(emulator.endpoint),
        cli_config=terraform_cli_config(state_dir()),
    )


@pytest.fixture(scope="module")
def applied(example: Stack, emulator: Any) -> dict[str, Any]:
    started = time.monotonic()
    plan = example.plan(example.working_dir / "apply.tfplan")
    example.apply(plan.planfile)
    print(
        f"\nmulti-model: {plan.totals.add} resources applied in {time.monotonic() - started:.0f} s"
    )
    _no_gaps(emulator.endpoint)
    return example.outputs()


def _rules(emulator: Any, dns_name: str) -> list[dict[str, Any]]:
    elbv2 = boto3_session(emulator.endpoint).client("elbv2")
    balancer = next(
        b for b in elbv2.describe_load_balancers()["LoadBalancers"] if b["DNSName"] == dns_name
    )
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    https = next(item for item in listeners if item["Protocol"] == "HTTPS")
    assert https["DefaultActions"][0]["Type"] == "fixed-response"
    assert https["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    return elbv2.describe_rules(ListenerArn=https["ListenerArn"])["Rules"]


def _values(condition: dict[str, Any]) -> list[str]:
    # Terraform writes HostHeaderConfig / PathPatternConfig; the legacy Values may be absent.
    config = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig"}
    return list(condition.get(config[condition["Field"]], {}).get("Values") or condition["Values"])


def test_each_model_has_a_host_rule_and_a_path_rule_to_its_own_group(
    applied: dict[str, Any], emulator: Any
) -> None:
    rules = [r for r in _rules(emulator, applied["alb_dns_name"]) if not r["IsDefault"]]
    conditions: dict[str, list[tuple[str, list[str]]]] = {}
    for rule in rules:
        target = rule["Actions"][0]["TargetGroupArn"]
        conditions.setdefault(target, []).extend(
            (c["Field"], _values(c)) for c in rule["Conditions"]
        )
    groups = applied["target_group_arns"]
    assert set(conditions) == {groups[m] for m in MODELS}
    for model in MODELS:
        assert sorted(conditions[groups[model]]) == [
            ("host-header", ["api.multi-model.example.com"]),
            ("host-header", [f"{model}.multi-model.example.com"]),
            ("path-pattern", [f"/models/{model}/*"]),
        ]
    assert sorted(int(r["Priority"]) for r in rules) == [10, 11, 20, 21]


def test_services_run_under_their_prefix_and_alarms_share_one_topic(
    applied: dict[str, Any], emulator: Any
) -> None:
    session = boto3_session(emulator.endpoint)
    ecs = session.client("ecs")
    for model in MODELS:
        service = ecs.describe_services(
            cluster="mlinfra-multi", services=[applied["service_names"][model]]
        )["services"][0]
        assert service["loadBalancers"][0]["targetGroupArn"] == applied["target_group_arns"][model]
        task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])[
            "taskDefinition"
        ]
        environment = {
            e["name"]: e["value"] for e in task["containerDefinitions"][0]["environment"]
        }
        assert environment["ROUTE_PREFIX"] == f"/models/{model}"
    # The cloudwatch modules' alarms (target tracking makes its own, named TargetTracking-...).
    alarms = [
        a
        for a in session.client("cloudwatch").describe_alarms()["MetricAlarms"]
        if a["AlarmName"].startswith("mlinfra-multi-")
    ]
    assert {
        m for m in MODELS for a in alarms if a["AlarmName"].startswith(f"mlinfra-multi-{m}-")
    } == set(MODELS)
    assert {action for a in alarms for action in a["AlarmActions"]} == {applied["alarm_topic_arn"]}
    # The ALB-wide 5xx alarm once for the shared load balancer, not once per model.
    assert len([a for a in alarms if a.get("MetricName") == "HTTPCode_ELB_5XX_Count"]) == 1


def test_replans_clean(applied: dict[str, Any], example: Stack, emulator: Any) -> None:
    plan = example.plan(example.working_dir / "replan.tfplan")
    assert plan.totals.add == plan.totals.change == plan.totals.destroy == 0, plan.by_type
    _no_gaps(emulator.endpoint)


def test_destroys_clean(applied: dict[str, Any], example: Stack, emulator: Any) -> None:
    plan = example.plan(example.working_dir / "destroy.tfplan", destroy=True)
    example.apply(plan.planfile)
    assert example.outputs() == {} or plan.totals.destroy > 0
    elbv2 = boto3_session(emulator.endpoint).client("elbv2")
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    _no_gaps(emulator.endpoint)
