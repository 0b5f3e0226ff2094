"""The checks every environment passes against the emulator: settings read back, a clean
re-plan, a clean destroy. A test module subclasses :class:`EnvironmentChecks` (pytest collects
the subclass) and provides the ``applied`` fixture made by :func:`applied_fixture`.

One apply per environment serves every check (an apply costs about 90 s, 60 s of it the
provider's fixed wait for the ALB); the checks run in class order, destroy last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from environment_tree import backend_config

from mlinfra.emulator import boto3_session

SERVICE_OUTPUTS = {
    "alb_dns_name",
    "service_url",
    "cluster_name",
    "service_name",
    "target_group_arn",
    "log_group_name",
}


@dataclass(frozen=True)
class Expected:
    """What each environment's values (environments/<env>/service/main.tf) must produce."""

    desired_count: int
    min_tasks: int
    max_tasks: int
    log_retention_days: int
    alarms: bool
    instance_type: str
    private_instances: bool
    deregistration_delay_s: int
    variables: dict[str, Any]


EXPECTED = {
    "local": Expected(
        desired_count=1,
        min_tasks=1,
        max_tasks=2,
        log_retention_days=7,
        alarms=False,
        instance_type="t3.small",
        private_instances=False,
        deregistration_delay_s=5,
        variables={"container_image": "127.0.0.1:5000/mlinfra-local:abc1234-0123abcd"},
    ),
    "prod": Expected(
        desired_count=2,
        min_tasks=2,
        max_tasks=10,
        log_retention_days=90,
        alarms=True,
        instance_type="t3.medium",
        private_instances=True,
        deregistration_delay_s=30,
        variables={
            "container_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlinfra-prod:abc1234-0123abcd",
            # prod keeps the ALB's deletion protection on; lifted here so the test can destroy.
            "alb_deletion_protection": False,
        },
    ),
}


@dataclass
class Applied:
    name: str
    environment: Any
    outputs: dict[str, Any]
    expected: Expected

    def client(self, service: str) -> Any:
        return boto3_session(self.environment.endpoint).client(service)


def applied_fixture(name: str) -> Any:
    """A module-scoped ``applied`` fixture: registry then service stack of ``name`` applied."""

    @pytest.fixture(scope="module", name="applied")
    def _applied(make_environment) -> Applied:
        expected = EXPECTED[name]
        environment = make_environment(name, **expected.variables)
        environment.apply("registry")
        environment.apply("service")
        return Applied(name, environment, environment.stack("service").outputs(), expected)

    return _applied


def _group(applied: Applied) -> dict[str, Any]:
    """The cluster's Auto Scaling group."""
    groups = applied.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    return next(
        g for g in groups if g["AutoScalingGroupName"].startswith(applied.outputs["cluster_name"])
    )


def _launch_data(applied: Applied) -> dict[str, Any]:
    template = _group(applied)["LaunchTemplate"]
    versions = applied.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"], Versions=[template["Version"]]
    )
    return versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]


def _service(applied: Applied) -> dict[str, Any]:
    ecs = applied.client("ecs")
    cluster, service = applied.outputs["cluster_name"], applied.outputs["service_name"]
    return ecs.describe_services(cluster=cluster, services=[service])["services"][0]


class EnvironmentChecks:
    """Every check of issue 5, for the environment the ``applied`` fixture made."""

    def test_outputs_the_cli_relies_on(self, applied):
        assert set(applied.outputs) >= SERVICE_OUTPUTS
        assert applied.outputs["service_url"].startswith("http")
        registry = applied.environment.stack("registry").outputs()
        assert registry["repository_url"].endswith(f"/mlinfra-{applied.name}")

    def test_repository_is_immutable_and_scanned(self, applied):
        repository = applied.client("ecr").describe_repositories(
            repositoryNames=[f"mlinfra-{applied.name}"]
        )["repositories"][0]
        assert repository["imageTagMutability"] == "IMMUTABLE"
        assert repository["imageScanningConfiguration"] == {"scanOnPush": True}

    def test_service_runs_the_image_behind_the_load_balancer(self, applied):
        service = _service(applied)
        ecs = applied.client("ecs")
        task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])[
            "taskDefinition"
        ]
        assert service["desiredCount"] == applied.expected.desired_count
        assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
            "enable": True,
            "rollback": True,
        }
        assert [lb["targetGroupArn"] for lb in service["loadBalancers"]] == [
            applied.outputs["target_group_arn"]
        ]
        assert task["networkMode"] == "bridge"
        assert (
            task["containerDefinitions"][0]["image"]
            == applied.expected.variables["container_image"]
        )
        assert task["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 0

    def test_target_group_health_check_and_listener(self, applied):
        elbv2 = applied.client("elbv2")
        group = elbv2.describe_target_groups(TargetGroupArns=[applied.outputs["target_group_arn"]])[
            "TargetGroups"
        ][0]
        balancer = elbv2.describe_load_balancers(LoadBalancerArns=group["LoadBalancerArns"])[
            "LoadBalancers"
        ][0]
        listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Listeners"
        ]
        assert group["TargetType"] == "instance"
        assert group["HealthCheckPath"] == "/health"
        assert group["Matcher"] == {"HttpCode": "200"}
        assert balancer["DNSName"] == applied.outputs["alb_dns_name"]
        assert len({zone["ZoneName"] for zone in balancer["AvailabilityZones"]}) == 2
        http = [listener for listener in listeners if listener["Port"] == 80]
        assert http[0]["DefaultActions"][0]["TargetGroupArn"] == group["TargetGroupArn"]
        attributes = elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])
        delay = {a["Key"]: a["Value"] for a in attributes["Attributes"]}[
            "deregistration_delay.timeout_seconds"
        ]
        assert int(delay) == applied.expected.deregistration_delay_s

    def test_scaling_target_and_cpu_policy(self, applied):
        scaling = applied.client("application-autoscaling")
        resource = f"service/{applied.outputs['cluster_name']}/{applied.outputs['service_name']}"
        target = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])[
            "ScalableTargets"
        ][0]
        policies = scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)[
            "ScalingPolicies"
        ]
        cpu = [
            p["TargetTrackingScalingPolicyConfiguration"]
            for p in policies
            if p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
                "PredefinedMetricType"
            ]
            == "ECSServiceAverageCPUUtilization"
        ]
        assert (target["MinCapacity"], target["MaxCapacity"]) == (
            applied.expected.min_tasks,
            applied.expected.max_tasks,
        )
        assert cpu[0]["TargetValue"] == 70

    def test_alarms_and_log_retention(self, applied):
        logs = applied.client("logs")
        group = logs.describe_log_groups(logGroupNamePrefix=applied.outputs["log_group_name"])[
            "logGroups"
        ][0]
        alarms = applied.client("cloudwatch").describe_alarms(
            AlarmNamePrefix=f"mlinfra-{applied.name}"
        )["MetricAlarms"]
        by_metric = {alarm.get("MetricName"): alarm for alarm in alarms}
        assert group["retentionInDays"] == applied.expected.log_retention_days
        if applied.expected.alarms:
            assert by_metric["CPUUtilization"]["Threshold"] == 85
            assert by_metric["HTTPCode_ELB_5XX_Count"]["Threshold"] == 10
        else:
            assert alarms == []

    def test_instances_require_imdsv2(self, applied):
        data = _launch_data(applied)
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        assert data["InstanceType"] == applied.expected.instance_type

    def test_instances_span_two_azs_in_the_right_subnets(self, applied):
        ec2 = applied.client("ec2")
        subnet_ids = _group(applied)["VPCZoneIdentifier"].split(",")
        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
        vpc = subnets[0]["VpcId"]
        gateways = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
            "NatGateways"
        ]
        assert len({subnet["AvailabilityZone"] for subnet in subnets}) == 2
        public = [subnet["MapPublicIpOnLaunch"] for subnet in subnets]
        assert public == [not applied.expected.private_instances] * 2
        assert len(gateways) == (1 if applied.expected.private_instances else 0)

    def test_state_is_kept_in_the_emulators_s3(self, applied):
        s3 = applied.client("s3")
        for stack in ("registry", "service"):
            backend = backend_config(
                applied.environment.root / "environments" / applied.name / stack
            )
            listed = s3.list_objects_v2(Bucket=backend["bucket"], Prefix=backend["key"])
            # The state object is there and no lock file is left behind.
            assert [item["Key"] for item in listed.get("Contents", [])] == [backend["key"]]

    def test_second_plan_has_no_changes(self, applied):
        for stack in ("registry", "service"):
            summary = applied.environment.plan(stack)
            assert not summary.has_changes, f"{applied.name}/{stack}: {summary.to_dict()}"

    def test_destroy_leaves_nothing(self, applied):
        applied.environment.apply("service", destroy=True)
        applied.environment.apply("registry", destroy=True)
        name = f"mlinfra-{applied.name}"
        ecs, elbv2 = applied.client("ecs"), applied.client("elbv2")
        clusters = ecs.describe_clusters(clusters=[name])["clusters"]
        assert [c for c in clusters if c["status"] == "ACTIVE"] == []
        assert [
            b
            for b in elbv2.describe_load_balancers()["LoadBalancers"]
            if b["LoadBalancerName"] == name
        ] == []
        assert [
            g
            for g in elbv2.describe_target_groups()["TargetGroups"]
            if g["TargetGroupName"].startswith(name)
        ] == []
        groups = applied.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        assert [g for g in groups if g["AutoScalingGroupName"].startswith(name)] == []
        vpcs = applied.client("ec2").describe_vpcs(
            Filters=[{"Name": "tag:Environment", "Values": [applied.name]}]
        )
        assert vpcs["Vpcs"] == []
        assert (
            applied.client("logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{name}")[
                "logGroups"
            ]
            == []
        )
        assert (
            applied.client("cloudwatch").describe_alarms(AlarmNamePrefix=name)["MetricAlarms"] == []
        )
        assert applied.client("ecr").describe_repositories()["repositories"] == []
        roles = applied.client("iam").list_roles()["Roles"]
        assert [r["RoleName"] for r in roles if r["RoleName"].startswith(name)] == []
