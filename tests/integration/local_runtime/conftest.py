"""Fixtures for the local runtime's tests: a real emulator, real Docker, a small real image.

The app image is this folder's ``app/`` on mlinfra's base image (not the serving image, which
is built elsewhere), tagged twice so that a new revision can point at a new image.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import docker
import pytest
from local_runtime_support import APP_DIR, APP_PORT, EmulatedService, free_port

from mlinfra import docker_engine, emulator
from mlinfra.bootstrap import base_image
from mlinfra.local_runtime import stop_all


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker_engine.client()


@pytest.fixture(scope="session")
def app_images(docker_client: docker.DockerClient) -> Iterator[dict[str, str]]:
    """``{"v1": tag, "v2": tag}``: the same app under two tags, removed afterwards."""
    repository = f"mlinfra-lrt-{secrets.token_hex(3)}/app"
    image = docker_engine.build(
        docker_client, str(APP_DIR), f"{repository}:v1", buildargs={"BASE_IMAGE": base_image()}
    )
    image.tag(repository, "v2")
    yield {"v1": f"{repository}:v1", "v2": f"{repository}:v2"}
    for version in ("v1", "v2"):
        docker_client.images.remove(f"{repository}:{version}", force=True)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("emulator")
    running = emulator.start(port=free_port(), state_dir=state)
    yield running.endpoint
    emulator.stop(state_dir=state)


@pytest.fixture
def emulated_service(
    endpoint: str, app_images: dict[str, str], docker_client: docker.DockerClient
) -> Iterator[EmulatedService]:
    """Cluster, one EC2 container instance, target group (2 s deregistration delay), service
    on revision 1 (app v1), all in the emulator; nothing runs yet. Its containers go after."""
    session = emulator.boto3_session(endpoint)
    ecs, ec2, elbv2 = session.client("ecs"), session.client("ec2"), session.client("elbv2")
    name = f"lrt{secrets.token_hex(3)}"
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    ecs.create_cluster(clusterName=name)
    ecs.register_container_instance(
        cluster=name, instanceIdentityDocument=json.dumps({"instanceId": instance_id})
    )
    group_arn = elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=APP_PORT, VpcId=vpc_id, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=group_arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}],
    )
    session.client("ssm").put_parameter(Name=f"/{name}/secret", Value="s3cr3t", Type="SecureString")
    parameter_arn = session.client("ssm").get_parameter(Name=f"/{name}/secret")["Parameter"]["ARN"]
    service = EmulatedService(
        endpoint,
        name,
        name,
        f"{name}-svc",
        f"{name}-task",
        group_arn,
        instance_id,
        parameter_arn,
        ecs,
        elbv2,
    )
    first = service.register_revision(app_images["v1"], APP_VERSION="v1")
    ecs.create_service(
        cluster=name,
        serviceName=service.service,
        taskDefinition=first,
        desiredCount=1,
        launchType="EC2",
        loadBalancers=[
            {"targetGroupArn": group_arn, "containerName": "app", "containerPort": APP_PORT}
        ],
        deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
    )
    yield service
    stop_all(name, client=docker_client)
