"""Boto3 clients for the in-process emulator, each test in an account of its own.

moto keeps its backends per process, so giving every test a fresh account id (moto's
``x-moto-account-id`` header) keeps tests independent without resetting moto.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from mlinfra.emulator import boto3_session

AwsClient = Callable[[str, str], Any]


@pytest.fixture
def aws() -> AwsClient:
    """``aws(endpoint, service)`` -> a boto3 client in this test's own moto account."""
    account = f"{random.randrange(10**11, 10**12)}"

    def client(endpoint: str, service: str) -> Any:
        made = boto3_session(endpoint).client(service)
        made.meta.events.register(
            "before-sign.*.*",
            lambda request, **_: request.headers.add_header("x-moto-account-id", account),
        )
        return made

    return client


@pytest.fixture
def bridge_service() -> Callable[..., dict[str, Any]]:
    """``bridge_service(ecs, **settings)``: a cluster, a bridge-mode task definition and a
    service made with ``settings``; returns the service as CreateService answered."""
    return _bridge_service


def _bridge_service(ecs: Any, **settings: Any) -> dict[str, Any]:
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(
        family="app",
        networkMode="bridge",
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )
    return ecs.create_service(cluster="c", serviceName="s", taskDefinition="app", **settings)[
        "service"
    ]
