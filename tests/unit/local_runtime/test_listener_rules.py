"""Which listener rules the local load balancer follows, read from DescribeRules' answer."""

from __future__ import annotations

from typing import Any

from mlinfra.local_runtime._aws import _path_rules

TG_A = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mlinfra-local-a/1"
TG_B = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mlinfra-local-b/2"


def _rule(
    priority: str, conditions: list[dict[str, Any]], actions: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"Priority": priority, "Conditions": conditions, "Actions": actions, "IsDefault": False}


def _forward(arn: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": arn}]


def _paths(*values: str) -> dict[str, Any]:
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(values)}}


def test_path_rules_to_one_group_are_followed_in_priority_order() -> None:
    rules = [
        _rule("101", [_paths("/models/b", "/models/b/*")], _forward(TG_B)),
        _rule("100", [_paths("/models/a/*")], _forward(TG_A)),
        {"Priority": "default", "IsDefault": True, "Conditions": [], "Actions": _forward(TG_A)},
    ]

    assert _path_rules(rules) == (
        (100, "/models/a/*", TG_A),
        (101, "/models/b", TG_B),
        (101, "/models/b/*", TG_B),
    )


def test_rules_on_hosts_or_with_weighted_groups_are_not_followed() -> None:
    host = {"Field": "host-header", "HostHeaderConfig": {"Values": ["a.example.com"]}}
    weighted = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": TG_A, "Weight": 50},
                    {"TargetGroupArn": TG_B, "Weight": 50},
                ]
            },
        }
    ]
    rules = [
        _rule("100", [host, _paths("/models/a/*")], _forward(TG_A)),
        _rule("101", [_paths("/x/*")], weighted),
        _rule("102", [_paths("/y/*")], [{"Type": "fixed-response"}]),
    ]

    assert _path_rules(rules) == ()
