"""Every module under terraform/modules/: layout, fmt, validate, terraform test, README, checkov.

Offline: Terraform runs against mocked providers; checkov reads the code. New modules are
picked up by their folder alone.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import hcl2
import pytest
from conftest import SAMPLE_INPUTS, Consumer
from terraform_harness import (
    MODULES_DIR,
    PROJECT,
    Jobs,
    checkov_reports,
    checkov_roots,
    checkov_scan,
    example_dirs,
    failure,
    module_dirs,
    module_docs,
    run,
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


# The Terraform release that first understood each construct (its changelog). Matched against
# the code, comments excluded; a construct missing here is one to add when a module first uses it.
FEATURE_VERSIONS: tuple[tuple[str, tuple[int, int], re.Pattern[str]], ...] = (
    ("nullable", (1, 1), re.compile(r"^\s*nullable\s*=", re.M)),
    ("moved blocks", (1, 1), re.compile(r"^\s*moved\s*\{", re.M)),
    ("preconditions and postconditions", (1, 2), re.compile(r"^\s*(pre|post)condition\s*\{", re.M)),
    ("optional() object attributes", (1, 3), re.compile(r"\boptional\(")),
    ("startswith() / endswith()", (1, 3), re.compile(r"\b(startswith|endswith)\(")),
    ("terraform_data", (1, 4), re.compile(r"\bterraform_data\b")),
    ("strcontains()", (1, 5), re.compile(r"\bstrcontains\(")),
    ("plantimestamp()", (1, 5), re.compile(r"\bplantimestamp\(")),
    ("check and import blocks", (1, 5), re.compile(r"^\s*(check\s+\"|import\s*\{)", re.M)),
    ("removed blocks", (1, 7), re.compile(r"^\s*removed\s*\{", re.M)),
    ("provider-defined functions", (1, 8), re.compile(r"\bprovider::")),
    ("issensitive()", (1, 8), re.compile(r"\bissensitive\(")),
    ("templatestring()", (1, 9), re.compile(r"\btemplatestring\(")),
    ("ephemeral values", (1, 10), re.compile(r"^\s*ephemeral\s+\"|\bephemeralasnull\(", re.M)),
    ("the S3 backend's use_lockfile", (1, 10), re.compile(r"^\s*use_lockfile\s*=", re.M)),
)
# Whole-line comments only: "#" and "//" also occur inside strings (regexes, URLs).
COMMENT = re.compile(r"^\s*(#|//).*$", re.M)


def interpolations(text: str) -> list[str]:
    """The ${...} expressions of a string as hcl2 renders it, nested braces included."""
    found, i = [], 0
    while (i := text.find("${", i)) >= 0:
        depth, j = 1, i + 2
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        found.append(text[i + 2 : j - 1])
        i = j
    return found


def cross_variable_validations(folder: Path) -> list[str]:
    """Variables whose validation reads anything but themselves (Terraform >= 1.9)."""
    found = []
    for path in sorted(folder.glob("*.tf")):
        for entry in hcl2.loads(path.read_text()).get("variable", []):
            ((name, body),) = entry.items()
            # The condition and the error message's ${...}; the message's prose may name anything.
            text = " ".join(
                expression
                for validation in body.get("validation", [])
                for key in ("condition", "error_message")
                for value in validation.get(key, [])
                for expression in interpolations(str(value))
            )
            others = set(re.findall(r"\b(?:var\.(\w+)|(local|data|module)\.)", text))
            if any(var != name or kind for var, kind in others):
                found.append(name)
    return found


def needed_terraform(folder: Path) -> tuple[tuple[int, int], list[str]]:
    """The newest release the folder's code needs, and the constructs that need it."""
    code = "\n".join(COMMENT.sub("", p.read_text()) for p in sorted(folder.glob("*.tf")))
    uses = [(version, name) for name, version, pattern in FEATURE_VERSIONS if pattern.search(code)]
    if cross := cross_variable_validations(folder):
        uses.append(((1, 9), f"validations reading other values ({', '.join(cross)})"))
    newest = max((version for version, _ in uses), default=(1, 0))
    return newest, sorted(name for version, name in uses if version == newest)


def required_version(folder: Path) -> str:
    terraform = hcl2.loads((folder / "versions.tf").read_text())["terraform"][0]
    return str(terraform["required_version"][0])


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_versions_pin_terraform_and_aws_only(module: Path) -> None:
    terraform = hcl2.loads((module / "versions.tf").read_text())["terraform"][0]
    (providers,) = terraform["required_providers"]
    assert providers == {"aws": [{"source": "hashicorp/aws", "version": ">= 5.60, < 7.0"}]}


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_required_version_says_what_the_code_needs(module: Path) -> None:
    (major, minor), why = needed_terraform(module)
    expected = f">= {major}.{minor}"
    assert required_version(module) == expected, (
        f"{module.name}/versions.tf says required_version = {required_version(module)!r}; "
        f"its code needs {expected!r} ({', '.join(why)}): write that"
    )
    for example in example_dirs(module):
        (e_major, e_minor), _ = needed_terraform(example)
        needs = f">= {max((major, minor), (e_major, e_minor))[0]}.{max((major, minor), (e_major, e_minor))[1]}"
        assert required_version(example) == needs, (
            f"{module.name}/examples/{example.name}/versions.tf says {required_version(example)!r}; "
            f"it and the module it calls need {needs!r}"
        )


def test_the_version_finder_sees_cross_variable_validations(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "a" {\n  type = number\n  default = 1\n\n'
        "  validation {\n    condition     = var.a <= var.b\n"
        '    error_message = "a must not exceed b."\n  }\n}\n\n'
        'variable "b" {\n  type = number\n  default = 2\n  nullable = false\n}\n'
    )
    assert needed_terraform(tmp_path) == ((1, 9), ["validations reading other values (a)"])
    (tmp_path / "variables.tf").write_text(
        'variable "b" {\n  type = number\n  # strcontains( in a comment\n  nullable = false\n}\n'
    )
    assert needed_terraform(tmp_path) == ((1, 1), ["nullable"])


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
    report = failure(jobs.results(f"example:{example.parent.parent.name}/{example.name}")[:2], 2)
    assert report is None, report


@pytest.mark.parametrize("example", EXAMPLES, ids=EXAMPLE_IDS)
def test_example_plans_as_it_is(jobs: Jobs, example: Path) -> None:
    """A copied example plans with no -var: it makes what it needs (network, cluster...) itself."""
    report = failure(jobs.results(f"example:{example.parent.parent.name}/{example.name}"), 3)
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


CHECKOV_ROOTS = checkov_roots()


def test_checkov_judges_the_examples_and_the_environments() -> None:
    relative = {r.relative_to(PROJECT).as_posix() for r in CHECKOV_ROOTS}
    judged = {
        "terraform/modules/alb/examples/basic",
        "examples/multi-model",
        "environments/prod/service",
    }
    assert judged <= relative, relative


@pytest.mark.parametrize(
    "root", CHECKOV_ROOTS, ids=[r.relative_to(PROJECT).as_posix() for r in CHECKOV_ROOTS]
)
def test_checkov_finds_nothing_and_every_skip_is_justified(jobs: Jobs, root: Path) -> None:
    """Each root alone, with its own values: a root that turns HTTPS (WAF, logs...) off sees it."""
    (result,) = jobs.results(f"checkov:{root.relative_to(PROJECT)}")
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


# Two callers of the alb module: everything an input decides off, then on.
ALB_INPUTS: dict[str, dict[str, object]] = {
    "off": {"enable_deletion_protection": False},
    "on": {
        "certificate_arn": "arn:aws:acm:us-east-1:111122223333:certificate/abcd-1234",
        "create_https_listener": True,
        "access_logs": {"bucket": "alb-logs"},
        "waf": {"enable": True},
    },
}


def alb_call(name: str, inputs: dict[str, object]) -> str:
    required = {key: SAMPLE_INPUTS[key] for key in ("vpc_id", "subnet_ids", "ingress_cidr_blocks")}
    lines = "".join(
        f"  {k} = {json.dumps(v)}\n" for k, v in {"name": name, **required, **inputs}.items()
    )
    # JSON objects are HCL values once their keys are not quoted.
    lines = re.sub(r'"(\w+)": ', r"\1 = ", lines)
    return f'module "{name}" {{\n  source = "{MODULES_DIR / "alb"}"\n{lines}}}\n'


def test_checkov_shows_a_caller_what_it_turned_off(tmp_path: Path) -> None:
    """The alb module skips nothing that an input decides: checkov judges each call by its values."""
    (tmp_path / "main.tf").write_text("\n".join(alb_call(n, i) for n, i in ALB_INPUTS.items()))
    result = run(checkov_scan(tmp_path), dict(os.environ))
    found = {
        (c["resource"].split(".")[1], c["check_id"], outcome)
        for r in checkov_reports(result)
        for outcome in ("passed", "failed")
        for c in r["results"][f"{outcome}_checks"]
        if c["resource"].startswith("module.")
    }
    off = {"CKV_AWS_150", "CKV2_AWS_28", "CKV_AWS_91", "CKV_AWS_2", "CKV2_AWS_20"}
    assert {("off", check, "failed") for check in off} <= found, result.report()
    # Exactly evaluated when on. checkov 3.3.30 does not evaluate the conditional redirect nor
    # the optional access_logs block: their findings stay, and a caller skips them (README).
    on = {"CKV_AWS_150", "CKV2_AWS_28", "CKV2_AWS_76"}
    assert {("on", check, "passed") for check in on} <= found, result.report()


ALARM_TYPES = ("aws_cloudwatch_metric_alarm", "aws_cloudwatch_composite_alarm")


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_every_alarm_resource_sets_alarm_and_ok_actions(module: Path) -> None:
    """An alarm that notifies nobody is how alarms went silent; the modules' tests assert the values."""
    silent = [
        f"{path.name}: {kind}.{name} lacks {missing}"
        for path in sorted(module.glob("*.tf"))
        for resource in hcl2.loads(path.read_text()).get("resource", [])
        for kind, named in resource.items()
        if kind in ALARM_TYPES
        for name, body in named.items()
        if (missing := [key for key in ("alarm_actions", "ok_actions") if key not in body])
    ]
    assert not silent, "\n".join(silent)


def test_checkov_config_skips_nothing() -> None:
    """Skips live beside their resource, not in the config where no reviewer sees them."""
    config = (PROJECT / ".checkov.yaml").read_text()
    assert not re.search(r"^\s*(skip-check|skip-path|soft-fail)", config, re.M), config
