"""The Terraform adapter against real Terraform, the real aws provider and a moto server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from mlinfra.errors import TerraformError
from mlinfra.terraform import Stack, StalePlanError, StateLockError

from .conftest import STATE_BUCKET, s3_client

pytestmark = [
    pytest.mark.integration,
    # python-terraform 0.10.1 logs with the deprecated Logger.warn.
    pytest.mark.filterwarnings("ignore:The .warn. method is deprecated:DeprecationWarning"),
]


def _stack(directory: Path, env: dict[str, str], cli_config: Path, key: str) -> Stack:
    return Stack(
        "ssm",
        directory,
        env=env,
        cli_config=cli_config,
        backend_config={
            "bucket": STATE_BUCKET,
            "key": key,
            "region": "us-east-1",
            "use_path_style": "true",
            "use_lockfile": "true",
        },
    )


def _var_file(path: Path, message: str) -> Path:
    path.write_text(json.dumps({"message": message}))
    return path


def test_plan_apply_outputs_replan_destroy(
    ssm_stack_dir: Path, emulator_env: dict[str, str], cli_config: Path, tmp_path: Path
) -> None:
    stack = _stack(ssm_stack_dir, emulator_env, cli_config, f"{uuid.uuid4().hex}.tfstate")
    assert stack.init() is True
    assert stack.init() is False, "a second init with nothing changed must be skipped"

    first = stack.plan(tmp_path / "a.tfplan", [_var_file(tmp_path / "a.json", "one")])
    assert first.by_type == {"aws_ssm_parameter": first.totals}
    assert (first.totals.add, first.totals.change, first.totals.destroy) == (1, 0, 0)
    lines: list[str] = []
    stack.apply(first.planfile, lines.append)
    assert any("aws_ssm_parameter.message: Creation complete" in line for line in lines)
    assert stack.outputs() == {"parameter_name": "/mlinfra-test/message", "message": "one"}

    again = stack.plan(tmp_path / "b.tfplan", [tmp_path / "a.json"])
    assert not again.has_changes

    changed = stack.plan(tmp_path / "c.tfplan", [_var_file(tmp_path / "c.json", "two")])
    assert (changed.totals.add, changed.totals.change, changed.totals.destroy) == (0, 1, 0)
    assert changed.changed_outputs == ("message",)

    removed = stack.destroy(tmp_path / "d.tfplan", [tmp_path / "a.json"])
    assert removed.destroy and removed.totals.destroy == 1
    assert stack.outputs() == {}


def test_a_stale_saved_plan_is_refused(
    ssm_stack_dir: Path, emulator_env: dict[str, str], cli_config: Path, tmp_path: Path
) -> None:
    stack = _stack(ssm_stack_dir, emulator_env, cli_config, f"{uuid.uuid4().hex}.tfstate")
    older = stack.plan(tmp_path / "old.tfplan", [_var_file(tmp_path / "old.json", "old")])
    newer = stack.plan(tmp_path / "new.tfplan", [_var_file(tmp_path / "new.json", "new")])
    stack.apply(newer.planfile)

    with pytest.raises(StalePlanError, match="stale") as caught:
        stack.apply(older.planfile, on_line=lambda _line: None)
    assert "mlinfra plan" in (caught.value.hint or "")
    assert stack.outputs()["message"] == "new"


def test_a_held_state_lock_names_the_force_unlock_command(
    ssm_stack_dir: Path, emulator_env: dict[str, str], cli_config: Path, tmp_path: Path
) -> None:
    key = f"{uuid.uuid4().hex}.tfstate"
    lock_id = str(uuid.uuid4())
    s3 = s3_client(emulator_env)
    # The lock object a crashed run leaves behind (Terraform's S3 lockfile format).
    s3.put_object(
        Bucket=STATE_BUCKET,
        Key=f"{key}.tflock",
        Body=json.dumps(
            {
                "ID": lock_id,
                "Operation": "OperationTypeApply",
                "Info": "",
                "Who": "crashed@ci",
                "Version": "1.11.4",
                "Created": "2026-01-01T00:00:00Z",
                "Path": f"{STATE_BUCKET}/{key}",
            }
        ),
    )
    stack = _stack(ssm_stack_dir, emulator_env, cli_config, key)
    with pytest.raises(StateLockError) as caught:
        stack.plan(tmp_path / "p.tfplan", [_var_file(tmp_path / "v.json", "x")])
    assert lock_id in caught.value.message
    unlock = f"AWS_ENDPOINT_URL={emulator_env['AWS_ENDPOINT_URL']} terraform -chdir={ssm_stack_dir} force-unlock -force {lock_id}"
    assert unlock in (caught.value.hint or "")


def test_a_configuration_error_carries_terraforms_diagnostic(
    ssm_stack_dir: Path, emulator_env: dict[str, str], cli_config: Path, tmp_path: Path
) -> None:
    (ssm_stack_dir / "broken.tf").write_text('output "x" {\n  value = var.nowhere\n}\n')
    stack = _stack(ssm_stack_dir, emulator_env, cli_config, f"{uuid.uuid4().hex}.tfstate")
    with pytest.raises(TerraformError) as caught:
        stack.plan(tmp_path / "p.tfplan", [_var_file(tmp_path / "v.json", "x")])
    assert "Error: Reference to undeclared input variable" in caught.value.message
    assert "terraform plan failed for the ssm stack" in caught.value.message


def test_validate_runs_offline_without_a_backend(
    ssm_stack_dir: Path, cli_config: Path, tmp_path: Path
) -> None:
    # No emulator, no backend configuration: validate must not need them.
    stack = Stack("ssm", ssm_stack_dir, cli_config=cli_config, data_dir=tmp_path / "data")
    stack.validate()
    (ssm_stack_dir / "broken.tf").write_text('output "x" {\n  value = var.nowhere\n}\n')
    with pytest.raises(TerraformError, match="Reference to undeclared input variable"):
        stack.validate()
