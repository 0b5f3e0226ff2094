"""The checks every environment passes against the emulator: settings read back, a clean
re-plan, a clean destroy. A test module subclasses :class:`EnvironmentChecks` (pytest collects
the subclass) and provides the ``applied`` fixture made by :func:`applied_fixture`.

One apply per environment serves every check (an apply costs about 90 s, 60 s of it the
provider's fixed wait for the ALB); the checks run in class order, destroy last.
"""

from __future__ import annotations

import json
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
    https: bool = False
    deletion_protection: bool = False
    access_logs: bool = False
    waf: bool = False
    api_key: bool = False
    alarm_emails: tuple[str, ...] = ()
    scaling_metrics: frozenset[str] = frozenset(
        {"ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"}
    )


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
        },
        https=True,
        deletion_protection=True,
        access_logs=True,
        waf=True,
        api_key=True,
        alarm_emails=("ml-oncall@example.com",),
        scaling_metrics=frozenset(
            {
                "ECSServiceAverageCPUUtilization",
                "ECSServiceAverageMemoryUtilization",
                "ALBRequestCountPerTarget",
            }
        ),
    ),
}

# The shipped staging and prod roots name a domain in this public zone (marked "replace"); the
# account they are applied in must hold it, so the tests make it in the emulator first.
SHIPPED_ZONE = "example.com"
# Put into the API key secret before the service stack is planned: it must appear nowhere.
CANARY_API_KEY = "mlinfra-canary-api-key-7c1e9b2f5d"


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
        session = boto3_session(environment.endpoint)
        if expected.https:
            create_shipped_zone(session)
        environment.apply("registry")
        registry = environment.stack("registry").outputs()
        if expected.api_key:
            session.client("secretsmanager").put_secret_value(
                SecretId=registry["api_key_secret_arn"], SecretString=CANARY_API_KEY
            )
        environment.apply("service")
        return Applied(name, environment, environment.stack("service").outputs(), expected)

    return _applied


def create_shipped_zone(session: Any) -> None:
    route53 = session.client("route53")
    if not route53.list_hosted_zones_by_name(DNSName=SHIPPED_ZONE)["HostedZones"]:
        route53.create_hosted_zone(Name=SHIPPED_ZONE, CallerReference=SHIPPED_ZONE)


def _balancer(applied: Applied) -> dict[str, Any]:
    balancers = applied.client("elbv2").describe_load_balancers(Names=[f"mlinfra-{applied.name}"])
    return balancers["LoadBalancers"][0]


def _balancer_attributes(applied: Applied) -> dict[str, str]:
    attributes = applied.client("elbv2").describe_load_balancer_attributes(
        LoadBalancerArn=_balancer(applied)["LoadBalancerArn"]
    )["Attributes"]
    return {a["Key"]: a["Value"] for a in attributes}


def _container(applied: Applied) -> dict[str, Any]:
    ecs = applied.client("ecs")
    task = ecs.describe_task_definition(taskDefinition=_service(applied)["taskDefinition"])
    container: dict[str, Any] = task["taskDefinition"]["containerDefinitions"][0]
    return container


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
        by_port = {listener["Port"]: listener for listener in listeners}
        serving = by_port[443] if applied.expected.https else by_port[80]
        assert serving["DefaultActions"][0]["TargetGroupArn"] == group["TargetGroupArn"]
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
        metrics = {
            p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
                "PredefinedMetricType"
            ]
            for p in policies
        }
        assert metrics == applied.expected.scaling_metrics

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

    def test_every_alarm_notifies_the_environments_topic(self, applied):
        cloudwatch, sns = applied.client("cloudwatch"), applied.client("sns")
        described = cloudwatch.describe_alarms(AlarmNamePrefix=f"mlinfra-{applied.name}")
        alarms = described["MetricAlarms"] + described.get("CompositeAlarms", [])
        if not applied.expected.alarm_emails:
            assert alarms == []
            return
        topics = {alarm_topic for alarm in alarms for alarm_topic in alarm["AlarmActions"]}
        assert len(topics) == 1, topics
        topic = topics.pop()
        for alarm in alarms:
            assert alarm["AlarmActions"] == [topic], alarm["AlarmName"]
            assert alarm["OKActions"] == [topic], alarm["AlarmName"]
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert sorted((s["Protocol"], s["Endpoint"]) for s in subscriptions) == [
            ("email", address) for address in sorted(applied.expected.alarm_emails)
        ]

    def test_https_only_with_a_validated_certificate(self, applied):
        elbv2 = applied.client("elbv2")
        listeners = elbv2.describe_listeners(LoadBalancerArn=_balancer(applied)["LoadBalancerArn"])[
            "Listeners"
        ]
        by_port = {listener["Port"]: listener for listener in listeners}
        if not applied.expected.https:
            assert set(by_port) == {80}
            assert by_port[80]["DefaultActions"][0]["Type"] == "forward"
            return
        assert set(by_port) == {80, 443}
        redirect = by_port[80]["DefaultActions"][0]
        assert redirect["Type"] == "redirect"
        assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
        assert (redirect["RedirectConfig"]["Protocol"], redirect["RedirectConfig"]["Port"]) == (
            "HTTPS",
            "443",
        )
        https = by_port[443]
        assert https["Protocol"] == "HTTPS"
        assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
        certificate = applied.client("acm").describe_certificate(
            CertificateArn=https["Certificates"][0]["CertificateArn"]
        )["Certificate"]
        assert certificate["Status"] == "ISSUED"
        assert certificate["DomainName"].endswith(SHIPPED_ZONE)
        assert applied.outputs["service_url"].startswith("https://")

    def test_load_balancer_protection_logs_and_waf(self, applied):
        attributes = _balancer_attributes(applied)
        expected = applied.expected
        assert (
            attributes["deletion_protection.enabled"] == str(expected.deletion_protection).lower()
        )
        assert attributes["access_logs.s3.enabled"] == str(expected.access_logs).lower()
        if expected.access_logs:
            bucket = attributes["access_logs.s3.bucket"]
            s3 = applied.client("s3")
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
            assert all(block.values()), block
            encryption = s3.get_bucket_encryption(Bucket=bucket)
            rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
            assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
            expiry = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
            assert expiry["Expiration"]["Days"] == 90
            policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
            assert "logdelivery.elasticloadbalancing.amazonaws.com" in policy
        acl = (
            applied.client("wafv2")
            .get_web_acl_for_resource(ResourceArn=_balancer(applied)["LoadBalancerArn"])
            .get("WebACL")
        )
        if expected.waf:
            limits = [
                rule["Statement"]["RateBasedStatement"]["Limit"]
                for rule in acl["Rules"]
                if "RateBasedStatement" in rule["Statement"]
            ]
            assert limits == [2000], acl["Rules"]
        else:
            assert acl is None

    def test_container_drops_capabilities_and_reads_the_key_by_arn(self, applied):
        container = _container(applied)
        assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
        assert container["dockerSecurityOptions"] == ["no-new-privileges"]
        assert container["readonlyRootFilesystem"] is True
        if not applied.expected.api_key:
            assert container.get("secrets", []) == []
            return
        secret = applied.client("secretsmanager").describe_secret(
            SecretId=f"mlinfra/{applied.name}/api-key"
        )
        [api_key] = container["secrets"]
        assert api_key["name"] == "API_KEY"
        assert api_key["valueFrom"] == secret["ARN"]
        assert "API_KEY" not in {item["name"] for item in container.get("environment", [])}

    def test_the_api_key_is_in_no_plan_nor_state(self, applied):
        s3 = applied.client("s3")
        for stack in ("registry", "service"):
            backend = backend_config(
                applied.environment.root / "environments" / applied.name / stack
            )
            state = s3.get_object(Bucket=backend["bucket"], Key=backend["key"])["Body"].read()
            assert CANARY_API_KEY.encode() not in state, f"{stack} state holds the API key"
            planfile = applied.environment.root / f"{applied.name}-{stack}.tfplan"
            shown = json.dumps(applied.environment.stack(stack).show_json(planfile))
            assert CANARY_API_KEY not in shown, f"{stack} plan holds the API key"
            assert CANARY_API_KEY.encode() not in planfile.read_bytes()

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
        if applied.expected.deletion_protection:
            # What a user does to tear prod down on purpose: protection off, apply, destroy.
            lift_deletion_protection(applied)
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


def lift_deletion_protection(applied: Applied) -> None:
    root = applied.environment.root / "environments" / applied.name / "service" / "main.tf"
    source = root.read_text()
    assert "deletion_protection = true" in source
    root.write_text(source.replace("deletion_protection = true", "deletion_protection = false"))
    applied.environment.apply("service")
    assert _balancer_attributes(applied)["deletion_protection.enabled"] == "false"
