"""Fixtures for the CLI's integration tests: an AWS emulator on a free port, a Terraform stack."""

from __future__ import annotations

import io
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from mlinfra import docker_engine
from mlinfra.terraform import terraform_cli_config

STACKS = Path(__file__).parent / "stacks"
STATE_BUCKET = "mlinfra-test-state"
PREFIX = "mlinfra-test-registry"


def s3_client(env: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


@pytest.fixture(scope="module")
def emulator_env() -> Iterator[dict[str, str]]:
    """A moto server on a random port of 127.0.0.1, with a state bucket; the env that reaches it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    s3_client(env).create_bucket(Bucket=STATE_BUCKET)
    yield env
    server.stop()


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mlinfra's Terraform CLI config (provider mirror when the machine has one)."""
    return terraform_cli_config(tmp_path_factory.mktemp("tfcli"))


@pytest.fixture()
def ssm_stack_dir(tmp_path: Path) -> Path:
    """A private copy of the small SSM stack, so `.terraform/` lands outside the tree."""
    target = tmp_path / "ssm"
    shutil.copytree(STACKS / "ssm", target)
    return target


def import_tiny_image(client: Any, reference: str) -> str:
    """A one-file image of unique content as ``reference``, made with `docker import` (nothing
    can be pulled here); its id."""
    payload = uuid.uuid4().hex.encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    repository, tag = reference.rsplit(":", 1)
    client.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)
    image_id: str = client.images.get(reference).id
    return image_id


@pytest.fixture()
def tiny_image() -> Iterator[str]:
    """A one-file image with unique content."""
    name = f"{PREFIX}-{uuid.uuid4().hex[:8]}:src"
    client = docker_engine.client()
    import_tiny_image(client, name)
    yield name
    for image in client.images.list(filters={"reference": f"*{PREFIX}*"}):
        for ref in image.tags:
            if PREFIX in ref:
                client.images.remove(ref, force=True)
