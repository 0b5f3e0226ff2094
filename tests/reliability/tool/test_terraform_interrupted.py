"""Terraform interrupted mid-apply, through mlinfra.terraform, against the emulator with the
state in its S3 (``use_lockfile``): Ctrl-C lets Terraform stop cleanly and a re-run converges
with no duplicate; a SIGKILL leaves a stale lock whose unlock command mlinfra prints, and works.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlinfra import emulator as emu
from mlinfra.emulator.testing import emulator_fixture
from mlinfra.terraform import Stack, StateLockError, terraform_cli_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(300),
    # python-terraform 0.10.1 logs with the deprecated Logger.warn.
    pytest.mark.filterwarnings("ignore:The .warn. method is deprecated:DeprecationWarning"),
]

STACK = Path(__file__).parent / "stacks" / "interrupt"
VPCS = 4  # twice the stack's default vpc_count

emulator = emulator_fixture(scope="module")


def stack_settings(endpoint: str, cli_config: Path, key: str) -> dict[str, Any]:
    return {
        "env": emu.client_env(endpoint),
        "cli_config": cli_config,
        "backend_config": {
            "bucket": emu.STATE_BUCKET,
            "key": key,
            "region": emu.REGION,
            "use_path_style": "true",
            "use_lockfile": "true",
        },
    }


@pytest.fixture()
def run(emulator: emu.Emulator, tmp_path: Path) -> dict[str, Any]:
    """One run: a private copy of the stack, its own state key and run tag, and its var file."""
    folder = tmp_path / "interrupt"
    shutil.copytree(STACK, folder)
    run_id = uuid.uuid4().hex[:12]
    var_file = tmp_path / "run.tfvars.json"
    var_file.write_text(json.dumps({"run_id": run_id}))
    settings = stack_settings(
        emulator.endpoint, terraform_cli_config(tmp_path), f"interrupt/{run_id}.tfstate"
    )
    return {"folder": folder, "run_id": run_id, "var_file": var_file, "settings": settings}


def make_stack(run: dict[str, Any]) -> Stack:
    return Stack("interrupt", run["folder"], **run["settings"])


def vpcs_tagged(endpoint: str, run_id: str) -> int:
    ec2 = emu.boto3_session(endpoint).client("ec2")
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:run", "Values": [run_id]}])["Vpcs"]
    return len(found)


def lock_objects(endpoint: str, run_id: str) -> list[str]:
    s3 = emu.boto3_session(endpoint).client("s3")
    listed = s3.list_objects_v2(Bucket=emu.STATE_BUCKET, Prefix=f"interrupt/{run_id}")
    return [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".tflock")]


def converge(stack: Stack, run: dict[str, Any], tmp_path: Path) -> None:
    """Plan and apply again, then check that a further plan has nothing to do."""
    stack.apply(stack.plan(tmp_path / "again.tfplan", [run["var_file"]]).planfile)
    assert not stack.plan(tmp_path / "check.tfplan", [run["var_file"]]).has_changes


def children(parent: int, name_prefix: str = "") -> list[int]:
    """Pids of the processes whose parent is ``parent`` and name starts so (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
            ppid = int(fields[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if name.startswith(name_prefix) and ppid == parent:
            found.append(int(stat.parent.name))
    return found


# Stack.apply in its own process, as `mlinfra apply` runs it; it prints Terraform's lines.
APPLY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from mlinfra.terraform import Stack

    settings = json.loads(sys.argv[1])
    settings["cli_config"] = Path(settings["cli_config"])
    stack = Stack("interrupt", Path(sys.argv[2]), **settings)
    stack.apply(Path(sys.argv[3]), lambda line: print(line, flush=True))
    """
)


def test_ctrl_c_mid_apply_stops_cleanly_and_a_rerun_converges(
    run: dict[str, Any], emulator: emu.Emulator, tmp_path: Path
) -> None:
    stack = make_stack(run)
    planned = stack.plan(tmp_path / "first.tfplan", [run["var_file"]])
    assert planned.totals.add == VPCS + 2
    settings = json.dumps(run["settings"] | {"cli_config": str(run["settings"]["cli_config"])})
    # A session of its own: Ctrl-C in a terminal signals the whole foreground process group
    # (mlinfra and terraform), which killpg does here.
    with subprocess.Popen(
        [sys.executable, "-c", APPLY_SCRIPT, settings, str(run["folder"]), str(planned.planfile)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as applying:
        assert applying.stdout is not None
        seen = []
        for line in applying.stdout:
            seen.append(line)
            if "terraform_data.between: Provisioning" in line:
                os.killpg(applying.pid, signal.SIGINT)
                break
        rest, _ = applying.communicate(timeout=120)
    output = "".join(seen) + rest
    assert applying.returncode != 0, output

    created = vpcs_tagged(emulator.endpoint, run["run_id"])
    assert created == VPCS // 2, f"the apply was not cut at the pause ({created} VPCs)\n{output}"
    assert lock_objects(emulator.endpoint, run["run_id"]) == [], "Ctrl-C left the state locked"

    converge(stack, run, tmp_path)
    assert vpcs_tagged(emulator.endpoint, run["run_id"]) == VPCS, "a VPC was created twice"


def test_sigkill_leaves_a_lock_that_the_printed_command_releases(
    run: dict[str, Any], emulator: emu.Emulator, tmp_path: Path
) -> None:
    stack = make_stack(run)
    planned = stack.plan(tmp_path / "first.tfplan", [run["var_file"]])
    started = threading.Event()
    failures: list[BaseException] = []

    def on_line(line: str) -> None:
        if "terraform_data.before: Provisioning" in line:
            started.set()

    def apply() -> None:
        try:
            stack.apply(planned.planfile, on_line)
        except BaseException as err:  # handed to the test's thread
            failures.append(err)

    worker = threading.Thread(target=apply)
    worker.start()
    assert started.wait(120), "terraform never started applying"
    (pid,) = children(os.getpid(), "terraform")
    plugins = children(pid)  # the aws provider: it outlives a killed terraform
    os.kill(pid, signal.SIGKILL)
    worker.join(60)
    for plugin in plugins:
        with contextlib.suppress(ProcessLookupError):
            os.kill(plugin, signal.SIGTERM)
    assert failures, "the killed apply reported success"
    assert lock_objects(emulator.endpoint, run["run_id"]), "no lock left behind"

    with pytest.raises(StateLockError) as locked:
        stack.plan(tmp_path / "second.tfplan", [run["var_file"]])
    hint = locked.value.hint or ""
    command = hint.split("with: ", 1)[1]
    assert "force-unlock -force" in command and str(run["folder"]) in command, hint

    # The printed command, run by hand: the user's shell has the credentials, not the hint.
    env = (
        os.environ
        | emu.client_env(emulator.endpoint)
        | {"TF_CLI_CONFIG_FILE": str(stack.env["TF_CLI_CONFIG_FILE"])}
    )
    unlock = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
    )
    assert unlock.returncode == 0, unlock.stdout + unlock.stderr
    assert lock_objects(emulator.endpoint, run["run_id"]) == []

    converge(stack, run, tmp_path)
    assert vpcs_tagged(emulator.endpoint, run["run_id"]) == VPCS
