"""Pure parts of the Terraform adapter: plan summaries and Terraform's diagnostics."""

from __future__ import annotations

import json
from pathlib import Path

from mlinfra.terraform import (
    ResourceCounts,
    StalePlanError,
    StateLockError,
    diagnostic,
    diagnostics_text,
    error_from_output,
    json_messages,
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


def _change(resource_type: str, action: str, index: int = 0) -> str:
    """One planned_change line as `terraform plan -json` prints it (Terraform 1.11)."""
    address = f"{resource_type}.this[{index}]"
    resource = {"addr": address, "resource_type": resource_type, "resource_key": index}
    return json.dumps(
        {"type": "planned_change", "change": {"resource": resource, "action": action}}
    )


PLAN_STREAM = "\n".join(
    [
        '{"@level":"info","@message":"Terraform 1.11.4","type":"version","terraform":"1.11.4","ui":"1.2"}',
        _change("aws_ecs_service", "update"),
        _change("aws_ecs_task_definition", "replace"),
        _change("aws_security_group_rule", "create", 0),
        _change("aws_security_group_rule", "create", 1),
        _change("aws_iam_policy_document", "read"),
        _change("aws_lb", "move"),
        '{"type":"change_summary","changes":{"add":3,"change":1,"import":0,"remove":1,"operation":"plan"}}',
        '{"type":"outputs","outputs":{"service_url":{"sensitive":false,"action":"noop"},'
        '"image":{"sensitive":false,"action":"update"}}}',
        "not json: a line some provider printed",
    ]
)


def test_summary_counts_replacements_as_an_add_and_a_destroy() -> None:
    summary = summarize_plan(json_messages(PLAN_STREAM), "service", Path("service.tfplan"))
    assert summary.by_type == {
        "aws_ecs_service": ResourceCounts(change=1),
        "aws_ecs_task_definition": ResourceCounts(add=1, destroy=1),
        "aws_security_group_rule": ResourceCounts(add=2),
    }
    # The same totals as Terraform's own change_summary line.
    assert summary.totals == ResourceCounts(add=3, change=1, destroy=1)
    assert summary.changed_outputs == ("image",)
    assert summary.to_dict()["by_type"]["aws_security_group_rule"] == {
        "add": 2,
        "change": 0,
        "destroy": 0,
    }


def test_an_empty_plan_has_no_changes() -> None:
    stream = '{"type":"outputs","outputs":{"url":{"sensitive":false,"action":"noop"}}}'
    summary = summarize_plan(json_messages(stream), "s", Path("p"))
    assert not summary.has_changes


def test_json_diagnostics_keep_the_file_and_line() -> None:
    message = {
        "type": "diagnostic",
        "diagnostic": {
            "severity": "error",
            "summary": "Reference to undeclared input variable",
            "detail": 'An input variable with the name "nowhere" has not been declared.',
            "range": {"filename": "broken.tf", "start": {"line": 2, "column": 11}},
            "snippet": {"context": 'output "x"', "code": "  value = var.nowhere"},
        },
    }
    text = diagnostic(diagnostics_text([message]))
    assert text.splitlines() == [
        "Error: Reference to undeclared input variable",
        '  on broken.tf line 2, in output "x":',
        'An input variable with the name "nowhere" has not been declared.',
    ]


def test_json_diagnostics_read_like_terraforms_text() -> None:
    detail = LOCKED.split("Error: Error acquiring the state lock\n\n", 1)[1]
    stream = "\n".join(
        [
            json.dumps(
                {"type": "diagnostic", "diagnostic": {"severity": "warning", "summary": "W"}}
            ),
            json.dumps(
                {
                    "type": "diagnostic",
                    "@message": "Error: Error acquiring the state lock",
                    "diagnostic": {
                        "severity": "error",
                        "summary": "Error acquiring the state lock",
                        "detail": detail,
                    },
                }
            ),
        ]
    )
    text = diagnostics_text(json_messages(stream))
    assert text.startswith("Error: Error acquiring the state lock")
    assert "W" not in text.splitlines()[0]
    err = error_from_output("plan", "service", Path("environments/local/service"), text)
    assert isinstance(err, StateLockError)
    assert (err.hint or "").endswith("4f1c2a7e-2b7e-4a57-9d3e-7c1f0c2d9a11")


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
