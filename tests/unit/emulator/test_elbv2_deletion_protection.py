import botocore.exceptions
import pytest

from mlinfra.emulator.patches import elbv2_deletion_protection
from mlinfra.emulator.testing import in_process


def _protected_load_balancer(aws, endpoint):
    ec2, elbv2 = aws(endpoint, "ec2"), aws(endpoint, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in ((1, "us-east-1a"), (2, "us-east-1b"))
    ]
    arn = elbv2.create_load_balancer(Name="alb", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    return elbv2, arn


def _count(elbv2):
    return len(elbv2.describe_load_balancers()["LoadBalancers"])


def test_moto_alone_deletes_a_protected_load_balancer(aws):
    with in_process() as endpoint:
        elbv2, arn = _protected_load_balancer(aws, endpoint)
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
        assert _count(elbv2) == 0


def test_protected_load_balancer_is_refused_until_protection_is_off(aws):
    with in_process(elbv2_deletion_protection) as endpoint:
        elbv2, arn = _protected_load_balancer(aws, endpoint)
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            elbv2.delete_load_balancer(LoadBalancerArn=arn)
        kept = _count(elbv2)
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=arn,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
        )
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
        left = _count(elbv2)
    assert raised.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "deletion protection is enabled" in raised.value.response["Error"]["Message"]
    assert (kept, left) == (1, 0)
