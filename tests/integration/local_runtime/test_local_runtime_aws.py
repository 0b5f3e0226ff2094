"""Where the runtime finds the cluster's EC2 instances in the emulator (no Docker involved)."""

from __future__ import annotations

import json
import secrets

import pytest

from mlinfra import emulator
from mlinfra.local_runtime._aws import EmulatedAws

pytestmark = pytest.mark.integration


def test_instances_come_from_the_capacity_providers_auto_scaling_group(endpoint: str) -> None:
    session = emulator.boto3_session(endpoint)
    ec2, ecs, autoscaling = (
        session.client("ec2"),
        session.client("ecs"),
        session.client("autoscaling"),
    )
    name = f"lrt{secrets.token_hex(3)}"
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.small"}
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=2,
        MaxSize=2,
        AvailabilityZones=["us-east-1a"],
    )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    launched = sorted(i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"])
    ecs.create_capacity_provider(
        name=name,
        autoScalingGroupProvider={
            "autoScalingGroupArn": group["AutoScalingGroups"][0]["AutoScalingGroupARN"]
        },
    )
    ecs.create_cluster(clusterName=name)
    # As aws_ecs_cluster_capacity_providers does it.
    ecs.put_cluster_capacity_providers(
        cluster=name, capacityProviders=[name], defaultCapacityProviderStrategy=[]
    )

    assert len(launched) == 2
    assert EmulatedAws(endpoint).instance_ids(name) == launched


def test_registered_container_instances_come_first(endpoint: str) -> None:
    session = emulator.boto3_session(endpoint)
    ec2, ecs = session.client("ec2"), session.client("ecs")
    name = f"lrt{secrets.token_hex(3)}"
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ecs.create_cluster(clusterName=name)
    assert EmulatedAws(endpoint).instance_ids(name) == []

    ecs.register_container_instance(
        cluster=name, instanceIdentityDocument=json.dumps({"instanceId": instance})
    )

    assert EmulatedAws(endpoint).instance_ids(name) == [instance]
