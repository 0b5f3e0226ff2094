from mlinfra.emulator.patches import ecs_bridge_network_configuration
from mlinfra.emulator.testing import in_process


def test_moto_alone_returns_an_empty_network_configuration(aws, bridge_service):
    # The gap the patch closes; when moto fixes it this fails and the patch can go.
    with in_process() as endpoint:
        ecs = aws(endpoint, "ecs")
        bridge_service(ecs, desiredCount=1)
        described = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert described["networkConfiguration"] == {}


def test_bridge_service_has_no_network_configuration(aws, bridge_service):
    with in_process(ecs_bridge_network_configuration) as endpoint:
        ecs = aws(endpoint, "ecs")
        created = bridge_service(ecs, desiredCount=1)
        described = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert "networkConfiguration" not in created
    assert "networkConfiguration" not in described


def test_awsvpc_service_keeps_its_network_configuration(aws):
    with in_process(ecs_bridge_network_configuration) as endpoint:
        ec2, ecs = aws(endpoint, "ec2"), aws(endpoint, "ecs")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
        ecs.create_cluster(clusterName="c")
        ecs.register_task_definition(
            family="app",
            networkMode="awsvpc",
            containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
        )
        network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
        ecs.create_service(
            cluster="c",
            serviceName="s",
            taskDefinition="app",
            desiredCount=1,
            networkConfiguration=network,
        )
        described = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert described["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [subnet]
