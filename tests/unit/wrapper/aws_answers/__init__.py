"""Recorded AWS answers (see README.md), and real boto3 clients that give them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

HERE = Path(__file__).parent


@cache
def _file(service: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((HERE / f"{service}.json").read_text())
    return loaded


def answer(service: str, name: str) -> dict[str, Any]:
    """A fresh copy of one recorded answer."""
    copied: dict[str, Any] = json.loads(json.dumps(_file(service)[name]))
    return copied


def stubbed(service: str) -> tuple[Any, Stubber]:
    """A boto3 client of ``service`` that answers only what its Stubber is given."""
    client = boto3.client(
        service,
        region_name="eu-west-1",
        aws_access_key_id="recorded",
        aws_secret_access_key="recorded",
    )
    return client, Stubber(client)
