"""Pure parts of the Terraform adapter: plan summaries and Terraform's diagnostics."""

from __future__ import annotations

from pathlib import Path

from mlinfra.terraform import (
    ResourceCounts,
    StalePlanError,
    StateLockError,
    diagnostic,
    error_from_output,
    summarize_plan,
)

# Terraform 1.11's own wording (-no-color), as printed for these failures.
UNDECLARED = """
Error: Reference to undeclared input variable

  on broken.tf line 2, in output "x":
   2:   value = var.nowhere

An input variable with the name "nowhere" has not been declared. This variable
can be declared with a variable "nowhere" {} block.
"""

LOCKED = """
Error: Error acquiring the state lock

Error message: operation error S3: PutObject, https response error StatusCode:
412, api error PreconditionFailed: At least one of the pre-conditions you
specified did not hold
Lock Info:
  ID:        4f1c2a7e-2b7e-4a57-9d3e-7c1f0c2d9a11
  Path:      mlinfra-local-tfstate/local/service.tfstate
  Operation: OperationTypePlan
  Who:       root@ci
  Version:   1.11.4
  Created:   2026-01-01 00:00:00 +0000 UTC
  Info:

Terraform acquires a state lock to protect the state from being written
by multiple users at the same time.
"""


def _change(resource_type: str, *actions: str) -> dict:
    return {"type": resource_type, "change": {"actions": list(actions)}}


def test_summary_counts_replacements_as_an_add_and_a_destroy() -> None:
    plan = {
        "resource_changes": [
            _change("aws_ecs_service", "update"),
            _change("aws_ecs_task_definition", "delete", "create"),
            _change("aws_lb", "no-op"),
            _change("aws_security_group_rule", "create"),
            _change("aws_security_group_rule", "create"),
        ],
        "output_changes": {"service_url": {"actions": ["no-op"]}, "image": {"actions": ["update"]}},
    }
    summary = summarize_plan(plan, "service", Path("service.tfplan"))
    assert summary.by_type == {
        "aws_ecs_service": ResourceCounts(change=1),
        "aws_ecs_task_definition": ResourceCounts(add=1, destroy=1),
        "aws_security_group_rule": ResourceCounts(add=2),
    }
    assert summary.totals == ResourceCounts(add=3, change=1, destroy=1)
    assert summary.changed_outputs == ("image",)
    assert summary.to_dict()["by_type"]["aws_security_group_rule"] == {
        "add": 2,
        "change": 0,
        "destroy": 0,
    }


def test_an_empty_plan_has_no_changes() -> None:
    summary = summarize_plan({"resource_changes": [_change("aws_lb", "no-op")]}, "s", Path("p"))
    assert not summary.has_changes


def test_diagnostic_keeps_terraforms_words_and_drops_source_excerpts() -> None:
    text = diagnostic(UNDECLARED)
    assert text.splitlines()[0] == "Error: Reference to undeclared input variable"
    assert "var.nowhere" not in text
    assert 'on broken.tf line 2, in output "x":' in text


def test_a_stale_plan_error_says_to_plan_again() -> None:
    err = error_from_output(
        "apply", "service", Path("environments/local/service"), "Error: Saved plan is stale\n",
        Path("/s/service.tfplan"),
    )  # fmt: skip
    assert isinstance(err, StalePlanError)
    assert "/s/service.tfplan" in err.message
    assert "mlinfra plan" in (err.hint or "")


def test_a_lock_error_gives_the_exact_force_unlock_command() -> None:
    err = error_from_output(
        "plan", "service", Path("environments/local/service"), LOCKED,
        env={"TF_DATA_DIR": "/s/tf", "AWS_SECRET_ACCESS_KEY": "never-shown"},
    )  # fmt: skip
    assert isinstance(err, StateLockError)
    assert err.hint is not None
    assert err.hint.endswith(
        "TF_DATA_DIR=/s/tf terraform -chdir=environments/local/service force-unlock -force "
        "4f1c2a7e-2b7e-4a57-9d3e-7c1f0c2d9a11"
    )
    assert "never-shown" not in str(err)
