from mlinfra.emulator.patches import autoscaling_unprotected_scale_in
from mlinfra.emulator.testing import in_process


def _drained_group(aws, endpoint):
    """What the aws provider does to destroy a protected group: capacity 0, then unprotect."""
    ec2, autoscaling = aws(endpoint, "ec2"), aws(endpoint, "autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    ec2.create_launch_template(
        LaunchTemplateName="ecs-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.small"},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="g",
        LaunchTemplate={"LaunchTemplateName": "ecs-lt", "Version": "$Latest"},
        MinSize=2,
        MaxSize=2,
        VPCZoneIdentifier=subnet,
        NewInstancesProtectedFromScaleIn=True,
    )
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="g", MinSize=0, MaxSize=0, DesiredCapacity=0
    )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])[
        "AutoScalingGroups"
    ][0]
    protected = [i["InstanceId"] for i in group["Instances"]]
    autoscaling.set_instance_protection(
        AutoScalingGroupName="g", InstanceIds=protected, ProtectedFromScaleIn=False
    )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])[
        "AutoScalingGroups"
    ][0]
    return protected, group["Instances"]


def test_moto_alone_keeps_instances_after_protection_is_lifted(aws):
    with in_process() as endpoint:
        protected, remaining = _drained_group(aws, endpoint)
    assert len(protected) == 2
    assert len(remaining) == 2


def test_unprotected_instances_above_capacity_are_terminated(aws):
    with in_process(autoscaling_unprotected_scale_in) as endpoint:
        protected, remaining = _drained_group(aws, endpoint)
    assert len(protected) == 2  # protection held them through the capacity change
    assert remaining == []
