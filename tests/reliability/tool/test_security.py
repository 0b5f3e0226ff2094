"""Security of the infrastructure code: a canary API key given as an ECS secret never lands
where Terraform writes (the image half of the canary is tests/reliability/test_canary_secret.py).
checkov judges each environment root with its own values in tests/unit/terraform."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mlinfra import emulator as emu
from mlinfra.emulator.testing import emulator_fixture
from mlinfra.terraform import Stack, terraform_cli_config

PROJECT = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The .warn. method is deprecated:DeprecationWarning"),
]

SECRET_STACK = Path(__file__).parent / "stacks" / "secret"
MODULE_SOURCE = '"../../../../../terraform/modules/'

emulator = emulator_fixture(scope="module")


@pytest.fixture(scope="module")
def canary_plan(emulator: emu.Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The secret stack planned against the emulator, with a canary key in an SSM parameter."""
    tmp = tmp_path_factory.mktemp("canary")
    folder = tmp / "secret"
    shutil.copytree(SECRET_STACK, folder)
    main = folder / "main.tf"
    main.write_text(main.read_text().replace(MODULE_SOURCE, f'"{PROJECT}/terraform/modules/'))

    canary = f"canary-{uuid.uuid4().hex}"
    ssm = emu.boto3_session(emulator.endpoint).client("ssm")
    name = f"/mlinfra-canary/{uuid.uuid4().hex[:8]}/api-key"
    ssm.put_parameter(Name=name, Value=canary, Type="SecureString")
    arn = ssm.get_parameter(Name=name)["Parameter"]["ARN"]

    var_file = tmp / "canary.tfvars.json"
    image = "127.0.0.1:5000/mlinfra-canary:abc1234-0123abcd"
    var_file.write_text(json.dumps({"api_key_arn": arn, "container_image": image}))
    stack = Stack(
        "secret",
        folder,
        env=emu.client_env(emulator.endpoint),
        cli_config=terraform_cli_config(tmp),
        backend_config={
            "bucket": emu.STATE_BUCKET,
            "key": f"canary/{uuid.uuid4().hex}.tfstate",
            "region": emu.REGION,
            "use_path_style": "true",
            "use_lockfile": "true",
        },
    )
    summary = stack.plan(tmp / "secret.tfplan", [var_file])
    shown = subprocess.run(
        ["terraform", "show", "-no-color", str(summary.planfile)],
        cwd=folder,
        env=os.environ | stack.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    with zipfile.ZipFile(summary.planfile) as plan_zip:
        plan_bytes = b"".join(plan_zip.read(member) for member in plan_zip.namelist())
    return {
        "canary": canary,
        "arn": arn,
        "places": {
            "tfvars": var_file.read_text(),
            "plan output": shown,
            "terraform show -json": json.dumps(stack.show_json(summary.planfile)),
            "saved plan (every member)": plan_bytes.decode(errors="replace"),
            "mlinfra's plan summary": json.dumps(summary.to_dict()),
            "emulator log": emulator.log_path.read_text(errors="replace"),
        },
        "plan": stack.show_json(summary.planfile),
    }


def test_the_canary_key_lands_nowhere_terraform_writes(canary_plan: dict[str, Any]) -> None:
    places = canary_plan["places"]
    leaked = [where for where, text in places.items() if canary_plan["canary"] in text]
    assert not leaked, f"the canary key is in: {leaked}"
    # The scan looks where a value would be: the container's secret reference is there.
    assert canary_plan["arn"] in places["terraform show -json"]
    assert canary_plan["arn"] in places["plan output"]


def test_the_circuit_breaker_rolls_back(canary_plan: dict[str, Any]) -> None:
    services = [
        change["change"]["after"]
        for change in canary_plan["plan"]["resource_changes"]
        if change["type"] == "aws_ecs_service"
    ]
    assert services, "the task_definition module planned no ECS service"
    for service in services:
        assert service["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
