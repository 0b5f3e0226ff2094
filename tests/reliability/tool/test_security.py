"""Security of the infrastructure code: checkov over environments/, and a canary
API key given as an ECS secret that never lands where Terraform writes (the image half of the
canary is tests/reliability/test_canary_secret.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mlinfra import emulator as emu
from mlinfra.bootstrap import terraform_cli_config
from mlinfra.emulator.testing import emulator_fixture
from mlinfra.terraform import Stack

# The modules' checkov harness, reused for the environments.
sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "terraform"))
from terraform_harness import PROJECT, Result, checkov_reports, checkov_scan, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The .warn. method is deprecated:DeprecationWarning"),
]

SECRET_STACK = Path(__file__).parent / "stacks" / "secret"
MODULE_SOURCE = '"../../../../../terraform/modules/'

emulator = emulator_fixture(scope="module")


def unjustified(result: Result) -> list[str]:
    """Failed checks, and skips whose reason is missing or too short to be one."""
    found = []
    for report in checkov_reports(result):
        for check in report["results"]["failed_checks"]:
            where = f"{check['repo_file_path']}:{check['file_line_range'][0]}"
            found.append(f"failed {check['check_id']} {check['resource']} ({where})")
        for check in report["results"]["skipped_checks"]:
            if len(check["check_result"].get("suppress_comment", "").strip()) < 10:
                found.append(f"skip without reason {check['check_id']} {check['resource']}")
    return found


# Findings that hold for some values only: the modules carry no skip for them (a user who turns
# HTTPS, WAF, access logs or deletion protection off must see the finding), and checkov cannot follow the values
# through the stack's object variables, so it reports them for every environment alike. What
# each environment really has is read back through the AWS API by
# tests/integration/environments (prod: on; local: off, as chosen).
INPUT_DEPENDENT = {
    "CKV_AWS_91": "access logs: test_load_balancer_protection_logs_and_waf",
    "CKV_AWS_150": "deletion protection: test_load_balancer_protection_logs_and_waf",
    "CKV2_AWS_28": "WAF: test_load_balancer_protection_logs_and_waf",
    "CKV_AWS_2": "HTTPS: test_https_only_with_a_validated_certificate",
    "CKV2_AWS_20": "80 -> 443 redirect: test_https_only_with_a_validated_certificate",
}


def test_checkov_over_environments_leaves_no_unjustified_finding() -> None:
    # terraform/ is scanned by tests/unit/terraform. The environments reach the shared stack
    # and the modules through their module calls, so this scan judges the code as composed.
    result = run(checkov_scan(PROJECT / "environments"), dict(os.environ))
    assert result.stdout.strip(), result.report()
    assert sum(r["summary"]["passed"] for r in checkov_reports(result)) > 0, result.report()
    findings = [
        finding
        for finding in unjustified(result)
        if finding.split()[:2] not in [["failed", check] for check in INPUT_DEPENDENT]
    ]
    assert not findings, (
        "checkov over environments/ (fix, or skip inline with #checkov:skip=CKV_...: <reason>):\n"
        + "\n".join(findings)
    )


def test_the_input_dependent_findings_are_reported_not_skipped() -> None:
    result = run(checkov_scan(PROJECT / "environments"), dict(os.environ))
    reports = checkov_reports(result)
    failed = {check["check_id"] for r in reports for check in r["results"]["failed_checks"]}
    skipped = {check["check_id"] for r in reports for check in r["results"]["skipped_checks"]}
    assert failed >= set(INPUT_DEPENDENT), "checkov evaluates them now: drop them from the list"
    assert not skipped & set(INPUT_DEPENDENT), "a skip would hide them when a value turns them off"


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
