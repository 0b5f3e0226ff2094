"""Every module under terraform/modules/: layout, fmt, validate, terraform test, README, checkov.

Offline: Terraform runs against mocked providers; checkov reads the code. New modules are
picked up by their folder alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
from conftest import Consumer
from terraform_harness import (
    MODULES_DIR,
    PROJECT,
    Jobs,
    checkov_reports,
    example_dirs,
    failure,
    module_dirs,
    module_docs,
)

MODULES = module_dirs()
MODULE_IDS = [m.name for m in MODULES]
EXAMPLES = [e for m in MODULES for e in example_dirs(m)]
EXAMPLE_IDS = [f"{e.parent.parent.name}/{e.name}" for e in EXAMPLES]
REQUIRED_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
BANNER = re.compile(r"^#{20,}\n# (.+)\n#{20,}$", re.MULTILINE)

pytestmark = pytest.mark.timeout(900)


def test_every_module_is_found() -> None:
    assert len(MODULES) >= 1, f"no module (folder with variables.tf) under {MODULES_DIR}"


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_layout(module: Path) -> None:
    missing = [name for name in REQUIRED_FILES if not (module / name).is_file()]
    assert not missing, f"{module.name} lacks {missing}"
    assert (module / "examples" / "basic").is_dir(), f"{module.name} lacks examples/basic/"
    runs = sum(
        len(re.findall(r'^run "', p.read_text(), re.M)) for p in module.glob("tests/*.tftest.hcl")
    )
    assert runs >= 3, f"{module.name}/tests/*.tftest.hcl hold {runs} runs; write at least 3"


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_versions_pin_terraform_and_aws_only(module: Path) -> None:
    terraform = hcl2.loads((module / "versions.tf").read_text())["terraform"][0]
    assert terraform["required_version"] == [">= 1.6"]
    (providers,) = terraform["required_providers"]
    assert providers == {"aws": [{"source": "hashicorp/aws", "version": ">= 5.60, < 7.0"}]}


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_inputs_have_descriptions_and_name_and_tags(module: Path) -> None:
    inputs = {i.name: i for i in module_docs.read_inputs(module)}
    assert {"name", "tags"} <= inputs.keys(), f"{module.name} needs `name` and `tags` inputs"
    undocumented = [name for name, i in inputs.items() if not i.description]
    assert not undocumented, f"{module.name}: inputs without a description: {undocumented}"


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_main_and_variables_share_banners(module: Path) -> None:
    in_main = BANNER.findall((module / "main.tf").read_text())
    in_variables = BANNER.findall((module / "variables.tf").read_text())
    assert in_main, f"{module.name}/main.tf has no banner comments dividing it"
    unmatched = [b for b in in_variables if b != "Common" and b not in in_main]
    assert not unmatched, (
        f"{module.name}/variables.tf banners with no section in main.tf: {unmatched}"
    )


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_nothing_hard_codes_region_account_or_ami(module: Path) -> None:
    # Descriptions, validation messages and comments may show examples; values may not.
    prose = re.compile(r"^\s*(#|//|description\s*=|error_message\s*=)")
    code = [
        (path.name, number, line)
        for path in sorted(module.glob("*.tf"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if not prose.match(line)
    ]
    pinned = re.compile(
        r"ami-[0-9a-f]{8,17}|\b[0-9]{12}\b|\b(?:us|eu|ap|sa|ca|me|af)-[a-z]+-[0-9]\b"
    )
    found = [
        f"{name}:{number}: {line.strip()}" for name, number, line in code if pinned.search(line)
    ]
    assert not found, f"{module.name} hard-codes a region, account or AMI:\n" + "\n".join(found)


def test_fmt(jobs: Jobs) -> None:
    report = failure(jobs.results("fmt"), 1)
    assert report is None, report


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_module_validates_and_terraform_test_passes_offline(jobs: Jobs, module: Path) -> None:
    report = failure(jobs.results(f"module:{module.name}"), 2)
    assert report is None, report


@pytest.mark.parametrize("example", EXAMPLES, ids=EXAMPLE_IDS)
def test_example_validates(jobs: Jobs, example: Path) -> None:
    report = failure(jobs.results(f"example:{example.parent.parent.name}/{example.name}"), 2)
    assert report is None, report


def test_consumer_root_module_plans(jobs: Jobs, consumer: Consumer) -> None:
    """Someone else's root module, sourcing each module by path with its required inputs only."""
    assert not consumer.missing, (
        f"add sample values for {consumer.missing} to SAMPLE_INPUTS in tests/unit/terraform/conftest.py"
    )
    report = failure(jobs.results("consumer"), 2)
    assert report is None, report


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_readme_tables_match_the_code(module: Path) -> None:
    readme = (module / "README.md").read_text()
    assert readme == module_docs.rendered_readme(module), (
        f"{module.name}/README.md's inputs/outputs tables differ from the code; "
        "run `python scripts/module_docs.py`"
    )


def test_checkov_finds_nothing_and_every_skip_is_justified(jobs: Jobs) -> None:
    (result,) = jobs.results("checkov")
    assert result.stdout.strip(), result.report()
    reports = checkov_reports(result)
    failed = [
        f"{c['check_id']} {c['resource']} ({c['repo_file_path']}:{c['file_line_range'][0]})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert not failed, (
        "checkov failed checks (fix them, or skip inline with a reason):\n" + "\n".join(failed)
    )
    unjustified = [
        f"{c['check_id']} {c['resource']} ({c['repo_file_path']})"
        for r in reports
        for c in r["results"]["skipped_checks"]
        if len(c["check_result"].get("suppress_comment", "").strip()) < 10
    ]
    assert not unjustified, (
        "skips without a reason (#checkov:skip=CKV_...: <reason>):\n" + "\n".join(unjustified)
    )
    assert sum(r["summary"]["passed"] for r in reports) > 0, result.report()


def test_checkov_config_skips_nothing() -> None:
    """Skips live beside their resource, not in the config where no reviewer sees them."""
    config = (PROJECT / ".checkov.yaml").read_text()
    assert not re.search(r"^\s*(skip-check|skip-path|soft-fail)", config, re.M), config
