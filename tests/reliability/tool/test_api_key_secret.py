"""`mlinfra secret set` and `secret rotate` on a small staging environment (the shape of issue 12's
contract) against the emulator, through the real console script: the key goes in by stdin,
reaches the task definition only as the secret's ARN and version id, and a canary key appears
in no tfvars, saved plan, `terraform show -json`, state object, CLI output or emulator log.

The emulator runs no tasks; where a rollout must finish, the test reports the service's task
counts to the emulator as the local runtime does (``set_service_counts``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tool_support import MLINFRA, clean_env, files_under, run_cli

from mlinfra import docker_engine, tfvars
from mlinfra import emulator as emu
from mlinfra.emulator.testing import emulator_fixture
from mlinfra.terraform import terraform_cli_config

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).parent / "stacks" / "apikey"
CHECKOUT = Path(__file__).resolve().parents[3]
SERVING = CHECKOUT / "serving"
BASE_IMAGE_RECORD = CHECKOUT / ".mlinfra" / "base-image"
BUCKET = "mlinfra-apikey-test-state"
SECRET_NAME = "mlinfra/staging/api-key"
CLUSTER = SERVICE = "mlinfra-apikey-test"
IMAGE = "127.0.0.1:5000/mlinfra-staging:abc1234-0123abcd"

emulator = emulator_fixture(scope="module")


class Env:
    """The copied project, its state folder and the variables that point the CLI at them."""

    def __init__(self, root: Path, state: Path, variables: dict[str, str], em: emu.Emulator):
        self.root, self.state, self.variables, self.emulator = root, state, variables, em
        self.outputs: list[str] = []  # every CLI run's stdout and stderr

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = _run(self.variables, args, stdin)
        self.outputs += [result.stdout, result.stderr]
        return result

    def session(self) -> Any:
        return emu.boto3_session(self.emulator.endpoint)


def _run(
    variables: dict[str, str], args: tuple[str, ...], stdin: str | None
) -> subprocess.CompletedProcess[str]:
    if stdin is None:
        return run_cli(variables, *args, timeout=300)
    return subprocess.run(
        [MLINFRA, *args],
        env=variables,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def env(emulator: emu.Emulator, tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("apikey") / "project"
    shutil.copytree(PROJECT, root)
    state = root.parent / "state"
    terraform_cli_config(state)
    emu.boto3_session(emulator.endpoint).client("s3").create_bucket(Bucket=BUCKET)
    aws = {k: v for k, v in emu.client_env(emulator.endpoint).items() if v}
    variables = clean_env(state, MLINFRA_PROJECT_DIR=str(root), MLINFRA_STATE_BUCKET=BUCKET, **aws)
    return Env(root, state, variables, emulator)


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode in (0, 2), result.stdout + result.stderr
    return json.loads(result.stdout)


def _value_from(env: Env) -> str:
    ecs = env.session().client("ecs")
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    secrets = definition["taskDefinition"]["containerDefinitions"][0]["secrets"]
    assert [s["name"] for s in secrets] == ["API_KEY"]
    value_from: str = secrets[0]["valueFrom"]
    return value_from


def _saved_plans(env: Env) -> dict[str, str]:
    """Every member of each saved plan, and `terraform show -json` of it, as text."""
    found: dict[str, str] = {}
    for planfile in sorted((env.state / "staging").glob("*.tfplan")):
        with zipfile.ZipFile(planfile) as plan_zip:
            found[f"{planfile.name} (members)"] = b"".join(
                plan_zip.read(m) for m in plan_zip.namelist()
            ).decode(errors="replace")
        stack = planfile.stem
        shown = subprocess.run(
            ["terraform", "show", "-json", str(planfile)],
            cwd=env.root / "environments" / "staging" / stack,
            env={
                **env.variables,
                "TF_DATA_DIR": str(env.state / "staging" / stack / "terraform-data"),
                "TF_CLI_CONFIG_FILE": str(env.state / "terraformrc"),
            },
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        found[f"terraform show -json {planfile.name}"] = shown.stdout
    return found


def _state_objects(env: Env) -> dict[str, str]:
    s3 = env.session().client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert any(k.endswith("service.tfstate") for k in keys), keys
    return {
        f"s3://{BUCKET}/{key}": s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        for key in keys
    }


def _leaks(env: Env, value: str, places: dict[str, str]) -> list[str]:
    everywhere = {
        **places,
        **{
            f"state folder {k}": v.decode(errors="replace")
            for k, v in files_under(env.state).items()
        },
        **_state_objects(env),
        "CLI output": "\n".join(env.outputs),
        "emulator log": env.emulator.log_path.read_text(errors="replace"),
    }
    return [where for where, text in everywhere.items() if value in text]


def _secret(env: Env) -> dict[str, Any]:
    described: dict[str, Any] = (
        env.session().client("secretsmanager").describe_secret(SecretId=SECRET_NAME)
    )
    return described


def _current_value(env: Env) -> str:
    got = env.session().client("secretsmanager").get_secret_value(SecretId=SECRET_NAME)
    value: str = got["SecretString"]
    return value


# The tests below run in order on one environment (module scope): registry, set, plan, apply,
# rotate.


def test_set_before_the_registry_stack_names_the_variable(env: Env) -> None:
    result = env.cli("secret", "set", "--env", "staging", "--yes", stdin="k" * 32 + "\n")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "has no API key secret" in result.stderr
    assert "api_key_required = true" in result.stderr
    assert "TF_VAR_api_key_required=true" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_registry_stack_makes_an_empty_secret(env: Env) -> None:
    planned = _json(env.cli("plan", "--env", "staging", "--json"))
    assert [p["stack"] for p in planned["plans"]] == ["registry"]
    applied = env.cli("apply", "--env", "staging", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert _secret(env).get("VersionIdsToStages", {}) == {}
    # The generated variables carry the region for both stacks (one region everywhere).
    generated = json.loads(tfvars.stack_tfvars_path(env.state / "staging", "registry").read_text())
    assert generated == {"region": emu.REGION}


def test_a_service_plan_without_a_key_set_fails_in_one_line(env: Env) -> None:
    tfvars.write_image_tfvars(env.state / "staging", IMAGE)
    result = env.cli("plan", "--env", "staging")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "The API key of staging is not set." in result.stderr
    assert "mlinfra secret set --env staging" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_short_key_an_argument_and_an_unconfirmed_set_store_nothing(env: Env) -> None:
    short = env.cli("secret", "set", "--env", "staging", "--yes", stdin="too-short\n")
    assert short.returncode == 2 and "at least 16" in short.stderr, short.stderr
    assert "too-short" not in short.stdout + short.stderr

    argument = env.cli("secret", "set", "--env", "staging", "--yes", "k" * 32, stdin="")
    assert argument.returncode == 2, argument.stderr  # no argument takes a key

    # Staging asks; stdin holds the key and then no answer, so the question aborts.
    unconfirmed = env.cli("secret", "set", "--env", "staging", stdin="k" * 32 + "\n")
    assert unconfirmed.returncode == 1, unconfirmed.stdout + unconfirmed.stderr
    assert "Replace the API key in staging?" in unconfirmed.stdout + unconfirmed.stderr
    assert _secret(env).get("VersionIdsToStages", {}) == {}


def test_set_plan_apply_pin_the_version_and_the_canary_lands_nowhere(env: Env) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    stored = _json(
        env.cli("secret", "set", "--env", "staging", "--yes", "--json", stdin=canary + "\n")
    )
    arn = _secret(env)["ARN"]
    assert stored["secret_arn"] == arn
    version = stored["version_id"]
    assert _secret(env)["VersionIdsToStages"] == {version: ["AWSCURRENT"]}
    assert _current_value(env) == canary  # the trailing newline is not part of the key

    planned = _json(env.cli("plan", "--env", "staging", "--json"))
    assert [p["stack"] for p in planned["plans"]] == ["registry", "service"]
    service_vars = json.loads(
        tfvars.stack_tfvars_path(env.state / "staging", "service").read_text()
    )
    assert service_vars == {"region": emu.REGION, "api_key_version_id": version}
    plans = _saved_plans(env)
    assert any(f"{arn}:::{version}" in text for text in plans.values())

    # Staging shows what the saved plans do, then asks; a no applies nothing.
    refused = env.cli("apply", "--env", "staging", stdin="n\n")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    said = refused.stdout + refused.stderr
    assert "registry stack: no changes." in said
    summary, question = "service stack plan: 6 to add", "Apply the saved plans in staging? [y/N]"
    assert summary in said and question in said, said
    assert said.index(summary) < said.index(question), said
    assert (env.state / "staging" / "service.tfplan").exists()

    applied = env.cli("apply", "--env", "staging", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert _value_from(env) == f"{arn}:::{version}"

    leaked = _leaks(env, canary, plans)
    assert not leaked, f"the canary key is in: {leaked}"
    # The scan looks where a value would be: the version id is in the tfvars, plans and state.
    seen = _leaks(env, version, plans)
    assert any("tfplan" in w for w in seen) and any(w.startswith("s3://") for w in seen), seen


def _play_the_agent(env: Env, stop: threading.Event) -> None:
    """Report the (zero) tasks of each new deployment running, as the local runtime would."""
    ecs = env.session().client("ecs")
    while not stop.is_set():
        service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
        if len(service.get("deployments", [])) > 1:
            emu.set_service_counts(env.emulator.endpoint, CLUSTER, SERVICE, 0, 0)
        time.sleep(0.3)


@pytest.fixture()
def agent(env: Env) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=_play_the_agent, args=(env, stop), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def test_rotate_rolls_a_new_revision_and_prints_no_key(env: Env, agent: None) -> None:
    before = _value_from(env)
    old_value = _current_value(env)

    rotated = _json(env.cli("secret", "rotate", "--env", "staging", "--yes", "--json"))
    arn = _secret(env)["ARN"]
    new_version = rotated["version_id"]
    assert rotated["secret_arn"] == arn
    assert f"{arn}:::{new_version}" != before
    assert _secret(env)["VersionIdsToStages"][new_version] == ["AWSCURRENT"]
    new_value = _current_value(env)
    assert new_value != old_value and len(new_value) >= 32
    # Terraform made a new revision with the new version id, and the rollout completed on it.
    assert _value_from(env) == f"{arn}:::{new_version}"
    assert rotated["rolled"]["applied"] == ["service"]
    assert "value" not in json.dumps(rotated).lower().replace("valuefrom", "")

    leaked = _leaks(env, new_value, {})
    assert not leaked, f"the rotated key is in: {leaked}"


def _commit_everything(root: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "fixture")


def _remove_the_build(env: Env) -> None:
    """The image the deploy built (its tag names the fixture's own commit)."""
    import docker

    record = env.state / "staging" / "last-build.json"
    if record.exists():
        reference = json.loads(record.read_text())["reference"]
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_engine.client().images.remove(reference, force=True)


def test_deploy_in_staging_shows_the_service_plan_before_pushing(env: Env) -> None:
    # The real serving image of a committed tree (staging refuses a -dirty one).
    shutil.rmtree(env.root / "serving")
    shutil.copytree(
        SERVING, env.root / "serving", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    _commit_everything(env.root)
    before = tfvars.image_tfvars_path(env.state / "staging").read_text()
    revision = _value_from(env)
    variables = dict(env.variables)
    if BASE_IMAGE_RECORD.is_file():  # the checkout's base image: no base build in the test
        variables["MLINFRA_BASE_IMAGE"] = BASE_IMAGE_RECORD.read_text().strip()

    try:
        refused = _run(variables, ("deploy", "--env", "staging"), "n\n")
    finally:
        _remove_the_build(env)
    said = refused.stdout + refused.stderr
    assert refused.returncode == 1, said
    summary = "service stack plan:"
    question = "Push the image and apply the service stack in staging? [y/N]"
    assert summary in said and question in said, said
    assert said.index(summary) < said.index(question)
    assert "Aborted" in said
    # Nothing changed: no image in ECR, the recorded image and the service as they were.
    ecr = env.session().client("ecr")
    assert ecr.list_images(repositoryName="mlinfra-apikey-test")["imageIds"] == []
    assert tfvars.image_tfvars_path(env.state / "staging").read_text() == before
    assert not (env.state / "staging" / "service.tfplan").exists()
    assert _value_from(env) == revision
