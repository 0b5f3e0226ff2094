"""The one adapter over Terraform (through python-terraform): init, plan, apply, outputs, destroy,
and the CLI config every run gets (where providers come from: a filesystem mirror, a setting).

No other mlinfra module runs terraform. python-terraform 0.10.1 has known limits on Terraform
1.x, handled here once: it is always given ``working_dir`` and never a positional directory
(upstream #103), ``apply`` is only ever given a saved plan (so its ``-auto-approve`` default
never applies unplanned changes), and variables are passed as files we own, never as ``var=``
dicts (which it writes to temporary files, #85).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from mlinfra.errors import MlinfraError, TerraformError, ToolMissingError

# `terraform plan -detailed-exitcode`: 0 no changes, 1 error, 2 changes present.
_PLAN_HAS_CHANGES = 2
_MAX_DIAGNOSTIC_LINES = 8
_LOCK_ID = re.compile(r"^\s*ID:\s+(\S+)", re.MULTILINE)
# Source excerpts in diagnostics ("  12:   foo = 1") say little once the file name is shown.
_SOURCE_LINE = re.compile(r"^\s+\d+:\s")


class StalePlanError(TerraformError):
    """A saved plan no longer matches the state it was made against."""


class StateLockError(TerraformError):
    """The state is locked by another run (or by a crashed one)."""


# ---------------------------------------------------------------------------------------------
# Plan summaries (pure: built from the messages of `terraform plan -json`)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceCounts:
    """How many resources of one type a plan adds, changes in place and destroys."""

    add: int = 0
    change: int = 0
    destroy: int = 0

    def __add__(self, other: ResourceCounts) -> ResourceCounts:
        return ResourceCounts(
            self.add + other.add, self.change + other.change, self.destroy + other.destroy
        )


@dataclass(frozen=True)
class PlanSummary:
    """What a saved plan will do, by resource type; ``planfile`` is what ``apply`` takes."""

    stack: str
    planfile: Path
    by_type: dict[str, ResourceCounts] = field(default_factory=dict)
    changed_outputs: tuple[str, ...] = ()
    destroy: bool = False

    @property
    def totals(self) -> ResourceCounts:
        return sum(self.by_type.values(), ResourceCounts())

    @property
    def has_changes(self) -> bool:
        return bool(self.by_type) or bool(self.changed_outputs)

    def to_dict(self) -> dict[str, Any]:
        totals = self.totals
        return {
            "stack": self.stack,
            "planfile": str(self.planfile),
            "destroy": self.destroy,
            "add": totals.add,
            "change": totals.change,
            "destroy_count": totals.destroy,
            "by_type": {t: vars(c) for t, c in sorted(self.by_type.items())},
            "changed_outputs": list(self.changed_outputs),
        }


# A planned_change's action as counts; a replacement is one add and one destroy, as Terraform
# counts it. Reads, moves, imports and forgets change no resource and are left out.
_ACTION_COUNTS = {
    "create": ResourceCounts(add=1),
    "update": ResourceCounts(change=1),
    "delete": ResourceCounts(destroy=1),
    "replace": ResourceCounts(add=1, destroy=1),
}


def json_messages(stream: str) -> list[dict[str, Any]]:
    """The messages of a ``-json`` run (one JSON object per line); other lines are skipped."""
    messages = []
    for line in stream.splitlines():
        if line.startswith("{"):
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return messages


def summarize_plan(
    messages: Sequence[Mapping[str, Any]], stack: str, planfile: Path, destroy: bool = False
) -> PlanSummary:
    """Count a plan's resource changes by resource type, from ``terraform plan -json`` messages.

    PERF: the plan's own messages instead of ``terraform show -json`` on the saved plan, which
    loads the providers again: about 2 s of each stack's 5 s plan (docs/performance.md).
    """
    by_type: dict[str, ResourceCounts] = {}
    changed_outputs: set[str] = set()
    for message in messages:
        if message.get("type") == "planned_change":
            change = message["change"]
            counts = _ACTION_COUNTS.get(change["action"])
            if counts is not None:
                kind = change["resource"]["resource_type"]
                by_type[kind] = by_type.get(kind, ResourceCounts()) + counts
        elif message.get("type") == "outputs":
            changed_outputs |= {
                name
                for name, output in message["outputs"].items()
                if output.get("action", "noop") != "noop"
            }
    return PlanSummary(stack, planfile, by_type, tuple(sorted(changed_outputs)), destroy)


def summarize_saved_plan(shown: Mapping[str, Any], stack: str, planfile: Path) -> PlanSummary:
    """The same summary from ``terraform show -json`` of a saved plan (``apply`` shows it)."""
    by_type: dict[str, ResourceCounts] = {}
    for change in shown.get("resource_changes", []):
        actions = change.get("change", {}).get("actions", [])
        action = "replace" if sorted(actions) == ["create", "delete"] else "-".join(actions)
        counts = _ACTION_COUNTS.get(action)
        if counts is not None:
            by_type[change["type"]] = by_type.get(change["type"], ResourceCounts()) + counts
    changed_outputs = tuple(
        sorted(
            name
            for name, output in (shown.get("output_changes") or {}).items()
            if output.get("actions") not in (["no-op"], None)
        )
    )
    # NOTE: `mlinfra plan` saves no destroy plans (destroy plans and applies at once).
    return PlanSummary(stack, planfile, by_type, changed_outputs)


def diagnostics_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """A ``-json`` run's error diagnostics, worded as Terraform prints them without ``-json``."""
    blocks = []
    for message in messages:
        found = message.get("diagnostic") if message.get("type") == "diagnostic" else None
        if found and found.get("severity") == "error":
            lines = [f"Error: {found.get('summary', '')}", ""]
            if where := found.get("range"):
                context = (found.get("snippet") or {}).get("context")
                inside = f", in {context}" if context else ""
                lines += [f"  on {where['filename']} line {where['start']['line']}{inside}:", ""]
            blocks.append("\n".join([*lines, found.get("detail", "")]))
    return "\n\n".join(blocks)


# ---------------------------------------------------------------------------------------------
# Terraform's diagnostics -> mlinfra errors
# ---------------------------------------------------------------------------------------------


def diagnostic(text: str) -> str:
    """Terraform's own error lines (from the first ``Error:``), without source excerpts."""
    lines = text.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Error:")), 0)
    kept = [
        line.rstrip()
        for line in lines[start:]
        if line.strip() and not _SOURCE_LINE.match(line) and not line.startswith("╷")
    ]
    return "\n".join(kept[:_MAX_DIAGNOSTIC_LINES])


# The variables a hand-run terraform needs to find the same state (never credentials).
_LOCATING_VARIABLES = ("TF_DATA_DIR", "AWS_ENDPOINT_URL")


def error_from_output(
    command: str,
    stack: str,
    working_dir: Path,
    text: str,
    planfile: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> TerraformError:
    """The most specific TerraformError for a failed run, carrying Terraform's diagnostic."""
    detail = diagnostic(text)
    if "Saved plan is stale" in text:
        return StalePlanError(
            f"The saved plan {planfile} of the {stack} stack is stale: the state changed after "
            "it was made, so it was not applied.",
            "Make a new plan (`mlinfra plan --env ENV`), review it, then apply.",
        )
    if "Error acquiring the state lock" in text:
        found = _LOCK_ID.search(text)
        lock_id = found.group(1) if found else "<LOCK ID>"
        prefix = "".join(
            f"{key}={(env or {})[key]} " for key in _LOCATING_VARIABLES if (env or {}).get(key)
        )
        return StateLockError(
            f"The {stack} stack's state is locked (lock ID {lock_id}); "
            f"terraform {command} did not run.\n{detail}",
            "If no other terraform run is in progress, release the stale lock with: "
            f"{prefix}terraform -chdir={working_dir} force-unlock -force {lock_id}",
        )
    return TerraformError(
        f"terraform {command} failed for the {stack} stack ({working_dir}):\n{detail}",
        "Fix the error Terraform names above, then run the command again.",
    )


# ---------------------------------------------------------------------------------------------
# The CLI config (.mlinfra/terraformrc): the provider mirror when there is one, else a cache
# ---------------------------------------------------------------------------------------------

PLUGIN_DIR_ENV = "MLINFRA_TF_PLUGIN_DIR"
CLI_CONFIG_FILE = "terraformrc"  # in the state folder; scripts/bootstrap.sh exports its path
# Where machines without registry access keep providers (Terraform's implied local mirrors and
# the one this project's CI machines ship).
KNOWN_PLUGIN_DIRS = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)


def provider_mirror() -> Path | None:
    """The filesystem mirror holding hashicorp/aws: ``$MLINFRA_TF_PLUGIN_DIR`` or a known place.

    None means Terraform downloads providers from the registry, as it does for most users.
    """
    explicit = os.environ.get(PLUGIN_DIR_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not any(path.glob("*/hashicorp/aws/*")):
            raise MlinfraError(
                f"{PLUGIN_DIR_ENV}={explicit} holds no <host>/hashicorp/aws/<version> folder.",
                f"Point {PLUGIN_DIR_ENV} at a Terraform filesystem mirror, or unset it to download providers.",
            )
        return path
    for candidate in KNOWN_PLUGIN_DIRS:
        path = Path(candidate).expanduser()
        if any(path.glob("*/hashicorp/aws/*")):
            return path
    return None


def _is_unpacked(mirror: Path) -> bool:
    """True when the mirror holds provider folders (<host>/<ns>/<type>/<version>/<os_arch>/)."""
    return any(p.is_dir() for p in mirror.glob("*/hashicorp/aws/*/*"))


def terraform_cli_config(state_dir: Path) -> Path:
    """Write mlinfra's Terraform CLI config: the mirror when there is one, else a plugin cache.

    An unpacked mirror needs no cache: Terraform links each folder's provider to the mirror.
    A cache would even hurt there: every init without a lock file re-creates the cache entry,
    and a folder running ``terraform test`` meanwhile finds its provider link dangling.
    """
    mirror = provider_mirror()
    lines: list[str] = []
    if mirror is None or not _is_unpacked(mirror):
        cache_dir = state_dir / "plugin-cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        lines.append(f'plugin_cache_dir = "{cache_dir}"')
    if mirror is not None:
        lines += [
            "provider_installation {",
            f'  filesystem_mirror {{ path = "{mirror}" }}',
            "}",
        ]
    text = "\n".join(lines) + "\n"
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / CLI_CONFIG_FILE
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# A stack: one Terraform root module with its own state
# ---------------------------------------------------------------------------------------------


def _interrupt(process: subprocess.Popen[str], on_line: Callable[[str], None]) -> None:
    """Stop a running terraform the way Terraform wants: one SIGINT, then wait for it.

    On one SIGINT Terraform finishes the operations in flight, saves the state and releases
    the lock; a second SIGINT, or its output pipe closed by mlinfra exiting, stops it at once
    and leaves the lock behind (and created resources out of the state).
    """
    process.send_signal(signal.SIGINT)
    for line in process.stdout or ():
        if line.strip():
            on_line(line.rstrip())
    process.wait()


def require_terraform() -> str:
    path = shutil.which("terraform")
    if path is None:
        raise ToolMissingError(
            "terraform is not installed (not found on PATH).",
            "Install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install) "
            "and check `terraform version`.",
        )
    return path


class Stack:
    """One Terraform root module (``environments/<env>/<stack>/``) with its own state.

    Args:
        name: the stack's short name for messages (``registry``, ``service``).
        working_dir: the root module's folder.
        env: variables every terraform run gets (emulator endpoint and credentials, for example).
        cli_config: Terraform CLI config (``.mlinfra/terraformrc``: provider mirror, plugin cache).
        backend_config: ``-backend-config`` values (bucket, key, region...) for ``init``.
        backend_files: ``-backend-config`` files (the environments' ``backend.hcl``), given
            before ``backend_config`` so that values passed here win.
        data_dir: Terraform's data folder (``TF_DATA_DIR``); default ``<working_dir>/.terraform``.
            mlinfra keeps it under ``.mlinfra/<env>/`` so that two state folders (a user's and a
            test's) never share one backend configuration.
    """

    def __init__(
        self,
        name: str,
        working_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        cli_config: Path | None = None,
        backend_config: Mapping[str, str] | None = None,
        backend_files: Sequence[Path] = (),
        data_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.working_dir = working_dir
        self.backend_config = dict(backend_config or {})
        self.backend_files = tuple(backend_files)
        self.data_dir = data_dir or working_dir / ".terraform"
        self.stamp_file = self.data_dir / "mlinfra-init-stamp"
        self.env = dict(env or {})
        if data_dir is not None:
            self.env["TF_DATA_DIR"] = str(data_dir)
        if cli_config is not None:
            self.env["TF_CLI_CONFIG_FILE"] = str(cli_config)
        self.env.setdefault("TF_IN_AUTOMATION", "1")
        self._terraform = Terraform(working_dir=str(working_dir), terraform_bin_path=None)

    # -- running terraform ------------------------------------------------------------------

    def _run(
        self,
        command: str,
        *args: str,
        planfile: Path | None = None,
        on_line: Callable[[str], None] | None = None,
        **options: Any,
    ) -> str:
        """Run one terraform command; stdout on success, the matching TerraformError otherwise.

        With ``on_line``, each line of Terraform's output is passed on as it comes (progress).
        """
        require_terraform()
        # NOTE: python-terraform builds the command line; mlinfra starts the process itself,
        # because python-terraform's cmd() takes its environment from os.environ (no env
        # parameter), which would make two stacks run at once see each other's TF_DATA_DIR.
        command_line = self._terraform.generate_cmd_string(command, *args, **options)
        if on_line is None:
            done = subprocess.run(
                command_line,
                cwd=self.working_dir,
                env=self._process_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            code, out, err = done.returncode, done.stdout, done.stderr
        else:
            code, out, err = self._stream(command_line, on_line)
        succeeded = code == 0 or (command == "plan" and code == _PLAN_HAS_CHANGES)
        if not succeeded:
            # With -json, Terraform's diagnostics are messages on stdout, not text on stderr.
            text = diagnostics_text(json_messages(out)) if options.get("json") else ""
            raise error_from_output(
                command, self.name, self.working_dir, text or err or out, planfile, self.env
            )
        return str(out)

    def _process_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def _stream(
        self, command_line: Sequence[str], on_line: Callable[[str], None]
    ) -> tuple[int, str, str]:
        with subprocess.Popen(
            command_line,
            cwd=self.working_dir,
            env=self._process_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C reaches mlinfra only; _interrupt passes exactly one SIGINT on.
            start_new_session=True,
        ) as process:
            lines: list[str] = []
            try:
                for line in process.stdout or ():
                    lines.append(line)
                    if line.strip():
                        on_line(line.rstrip())
            except KeyboardInterrupt:
                _interrupt(process, on_line)
                raise
            # Terraform writes its diagnostics at the end, so stderr cannot fill up meanwhile.
            err = process.stderr.read() if process.stderr else ""
            code = process.wait()
        return code, "".join(lines), err

    # -- init, only when needed -------------------------------------------------------------

    def _init_fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.working_dir.glob("*.tf")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        for path in self.backend_files:
            digest.update(path.read_bytes())
        digest.update(json.dumps(self.backend_config, sort_keys=True).encode())
        digest.update(self.env.get("TF_CLI_CONFIG_FILE", "").encode())
        return digest.hexdigest()

    def needs_init(self) -> bool:
        if not self.data_dir.is_dir():
            return True
        if not (self.working_dir / ".terraform.lock.hcl").exists():
            return True
        stamp = self.stamp_file.read_text() if self.stamp_file.exists() else ""
        return stamp != self._init_fingerprint()

    def init(self, force: bool = False) -> bool:
        """``terraform init`` when the configuration, backend or CLI config changed; True if it ran."""
        if not force and not self.needs_init():
            return False
        # A list makes python-terraform repeat -backend-config once per item (file or key=value).
        backend = [str(p.resolve()) for p in self.backend_files] + [
            f"{key}={value}" for key, value in self.backend_config.items()
        ]
        self._run(
            "init",
            backend_config=backend or None,
            reconfigure=IsFlagged,
            input=False,
            no_color=IsFlagged,
        )
        self.stamp_file.parent.mkdir(parents=True, exist_ok=True)
        self.stamp_file.write_text(self._init_fingerprint())
        return True

    def validate(self) -> None:
        """Check the configuration offline: modules and providers installed, no backend touched."""
        if not (self.working_dir / ".terraform.lock.hcl").exists() or not self.data_dir.is_dir():
            # No stamp written: the backend stays unconfigured, so a later init() still runs.
            self._run("init", backend=False, input=False, no_color=IsFlagged)
        self._run("validate", no_color=IsFlagged)

    # -- plan, apply, destroy ---------------------------------------------------------------

    def plan(self, out: Path, var_files: Sequence[Path] = (), destroy: bool = False) -> PlanSummary:
        """Plan to the saved plan file ``out`` and summarise it from the plan's JSON messages."""
        self.init()
        out.parent.mkdir(parents=True, exist_ok=True)
        for var_file in var_files:
            if not var_file.exists():
                raise TerraformError(
                    f"The variables file {var_file} for the {self.name} stack does not exist.",
                    "Run `mlinfra build` and `mlinfra push` first: they write it.",
                )
        stream = self._run(
            "plan",
            out=str(out.resolve()),
            var_file=[str(p.resolve()) for p in var_files],
            destroy=IsFlagged if destroy else None,
            detailed_exitcode=IsFlagged,
            input=False,
            no_color=IsFlagged,
            json=IsFlagged,
        )
        return summarize_plan(json_messages(stream), self.name, out, destroy)

    def show_json(self, planfile: Path) -> dict[str, Any]:
        """The machine-readable form of a saved plan."""
        out = self._run("show", str(planfile.resolve()), json=IsFlagged, no_color=IsFlagged)
        plan: dict[str, Any] = json.loads(out)
        return plan

    def apply(self, planfile: Path, on_line: Callable[[str], None] | None = None) -> None:
        """Apply a saved plan, and only it; a stale plan raises StalePlanError and changes nothing.

        ``on_line`` receives Terraform's progress lines as they come.
        """
        if not planfile.exists():
            raise TerraformError(
                f"No saved plan {planfile} for the {self.name} stack.",
                "Run `mlinfra plan --env ENV` first.",
            )
        self.init()
        self._run(
            "apply",
            str(planfile.resolve()),
            planfile=planfile,
            on_line=on_line,
            input=False,
            no_color=IsFlagged,
        )

    def destroy(
        self,
        out: Path,
        var_files: Sequence[Path] = (),
        on_line: Callable[[str], None] | None = None,
    ) -> PlanSummary:
        """Destroy everything in the stack through a saved destroy plan; returns what it removed."""
        summary = self.plan(out, var_files, destroy=True)
        self.apply(out, on_line)
        return summary

    # -- reading ----------------------------------------------------------------------------

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        """The attribute values of every ``resource_type`` in the state, child modules included
        (``terraform show -json``; empty before the first apply)."""
        self.init()
        state = json.loads(self._run("show", json=IsFlagged, no_color=IsFlagged) or "{}")
        found: list[dict[str, Any]] = []
        modules = [state.get("values", {}).get("root_module", {})]
        while modules:
            module = modules.pop()
            found += [
                r.get("values", {})
                for r in module.get("resources", [])
                if r.get("type") == resource_type and r.get("mode") == "managed"
            ]
            modules += module.get("child_modules", [])
        return found

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs as plain values (empty before the first apply)."""
        self.init()
        out = self._run("output", json=IsFlagged, no_color=IsFlagged)
        return {name: item["value"] for name, item in json.loads(out or "{}").items()}
