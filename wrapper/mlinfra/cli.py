"""The mlinfra command line: thin commands that parse arguments, call :mod:`mlinfra.deploy` and
render what it returns with :mod:`mlinfra.reports` (or as JSON with ``--json``)."""

from __future__ import annotations

import inspect
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from mlinfra import api_key, builds, config, deploy, envlock, models, reports
from mlinfra.errors import ConfigError, MlinfraError

app = typer.Typer(
    help="mlinfra: a LightGBM model to production on AWS ECS behind an ALB, with Terraform.\n\n"
    "Every command takes --env (local, dev, staging, prod; default $MLINFRA_ENV). "
    "`local` runs the same environment code against an emulated AWS on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

T = TypeVar("T")
EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env", "-e", help="Environment (a folder of environments/); default $MLINFRA_ENV."
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of a report.")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
RehearseOption = Annotated[
    bool,
    typer.Option(
        "--rehearse",
        envvar="MLINFRA_REHEARSE",
        help="Run the environment's own roots against the embedded AWS on this machine "
        "(its own emulator, state, containers and URL).",
    ),
]
AllowDirtyOption = Annotated[
    bool,
    typer.Option(
        "--allow-dirty",
        help="Let an image built from uncommitted changes (-dirty) go to staging or prod.",
    ),
]

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Which of the environment's models: a name serves at /models/NAME/predict beside "
        "the environment's own model (the default, at /predict).",
    ),
]

_options: dict[str, bool] = {"debug": False}


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show Python tracebacks on errors.")
    ] = False,
) -> None:
    _options["debug"] = debug


@contextmanager
def _handled(error_exit_code: int | None = None) -> Iterator[None]:
    """MlinfraError -> one or two lines and its exit code; anything else -> one line, unless --debug.

    ``error_exit_code`` replaces the error's own code where exit codes carry a meaning
    (``plan --detailed-exitcode``: 2 means changes, so every error must exit 1).
    """
    try:
        yield
    except MlinfraError as err:
        if _options["debug"]:
            raise
        reports.error(_err(), err)
        raise typer.Exit(error_exit_code or err.exit_code) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as err:
        if _options["debug"]:
            raise
        _err().print(f"[bold red]internal error:[/] {err.__class__.__name__}: {err}")
        _err().print("  run again with `mlinfra --debug ...` for the traceback, and report it.")
        raise typer.Exit(error_exit_code or 70) from None


# The spinner of the running _step: a question asked in the middle of a step pauses it.
_spinners: list[Any] = []


def _step(message: str, work: Callable[[Callable[[str], None]], T]) -> T:
    """Run a long step under a spinner whose text follows the step's progress lines."""
    console = _err()
    with console.status(message) as spinner:

        def say(line: str) -> None:
            spinner.update(f"{message}: {line}")
            console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {line}")

        _spinners.append(spinner)
        try:
            return work(say)
        finally:
            _spinners.pop()


@contextmanager
def _exclusive(
    env: str | None, command: str, rehearse: bool = False
) -> Iterator[config.Environment]:
    """The selected environment, its run lock held for a command that changes it
    (see mlinfra.envlock)."""
    selected = config.select_environment(env, rehearse)
    with envlock.exclusive(selected, command):
        yield selected


def _connection(env: str | None, rehearse: bool = False) -> deploy.Connection:
    return _terraform_connection(config.select_environment(env, rehearse))


def _terraform_connection(selected: config.Environment) -> deploy.Connection:
    from mlinfra.terraform import require_terraform

    require_terraform()
    return _connect(selected)


def _connect(selected: config.Environment) -> deploy.Connection:
    return _step(f"connecting to {selected.name}", lambda say: deploy.connect(selected, say))


def _confirm(env: config.Environment, yes: bool, action: str) -> None:
    """Ask before a change to staging or prod, unless --yes."""
    if env.asks_before_changes and not yes:
        typer.confirm(f"{action} in {env.label}?", abort=True)


def _plans_then_ask(
    env: config.Environment, yes: bool, json_: bool
) -> Callable[[deploy.PlanResult, str], None] | None:
    """For staging and prod without --yes: show a saved plan's summary, then ask (a no aborts
    before anything changed). None where nothing is asked."""
    if not env.asks_before_changes or yes:
        return None

    def confirm(planned: deploy.PlanResult, action: str) -> None:
        spinner = _spinners[-1] if _spinners else None
        if spinner is not None:
            spinner.stop()
        # With --json, stdout is the one JSON object: the summary goes to stderr.
        reports.plan_result(_err() if json_ else _out(), planned)
        _confirm(env, yes, action)
        if spinner is not None:
            spinner.start()

    return confirm


def _layer_progress() -> tuple[Progress, Callable[[Any], None]]:
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=_err()
    )
    tasks: dict[str, Any] = {}

    def on_layer(event: Any) -> None:
        if event.layer not in tasks:
            tasks[event.layer] = progress.add_task(event.layer, total=None)
        progress.update(
            tasks[event.layer],
            description=f"{event.layer} {event.status}",
            completed=event.current or 0,
            total=event.total,
        )

    return progress, on_layer


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


@app.command()
def train(
    retrain: Annotated[bool, typer.Option(help="Train again even if a model exists.")] = False,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            help="Use your own LightGBM model file (Booster.save_model) instead of training.",
        ),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(
            help="With --from-file: the input names in column order, comma-separated "
            "(default: the names stored in the model file)."
        ),
    ] = None,
    model: ModelOption = None,
    json_: JsonOption = False,
) -> None:
    """Train the default house-price model into .mlinfra/model (skipped when one exists), or
    take your own model with --from-file; with --model NAME into .mlinfra/models/NAME."""
    names = [name.strip() for name in features.split(",")] if features else None
    with _handled():
        track = models.track(model)
        artifact = _step(
            "training", lambda _say: deploy.train(retrain, from_file, names, track=track)
        )
        data = {
            "model_dir": str(artifact.dir),
            "version": artifact.version,
            "sha256": artifact.sha256,
        }
        if json_:
            reports.print_json(_out(), data)
        else:
            _out().print(f"model {artifact.version} in {artifact.dir} (sha256 {artifact.sha8})")


@app.command()
def build(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    allow_dirty: AllowDirtyOption = False,
    json_: JsonOption = False,
) -> None:
    """Build the serving image with the model; tag <git sha>[-dirty]-<model sha8>.

    Staging and prod refuse a -dirty build unless --allow-dirty.
    """
    with _handled():
        selected = config.select_environment(env, rehearse)
        built = _step("building the image", lambda say: deploy.build(selected, say, allow_dirty))
        data = {"image": built.reference, "image_id": built.image_id, "reused": built.reused}
        if json_:
            reports.print_json(_out(), data)
        else:
            _out().print(f"{'reused' if built.reused else 'built'} {built.reference}")


@app.command()
def push(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    allow_dirty: AllowDirtyOption = False,
    json_: JsonOption = False,
) -> None:
    """Log in to the registry (ECR, or the local one) and push the last built image.

    Staging and prod refuse a -dirty image unless --allow-dirty.
    """
    with _handled(), _exclusive(env, "push", rehearse) as selected:
        # Fail before starting anything when there is nothing (or nothing allowed) to push.
        builds.check_pushable(selected, allow_dirty)
        connection = _connect(selected)
        progress, on_layer = _layer_progress()
        with progress:
            result = deploy.push(connection, on_layer, allow_dirty)
        data = {
            "image": result.image,
            "digest": result.digest,
            "size": result.size,
            "release": result.release,
        }
        if json_:
            reports.print_json(_out(), data)
        else:
            _out().print(
                f"pushed {result.image}\n  digest {result.digest}\n  release tag {result.release}"
            )


@app.command()
def plan(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0 no changes, 2 changes, 1 error.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Plan the registry, then the service stack, to saved plans in .mlinfra/<env>/."""
    with _handled(1 if detailed_exitcode else None), _exclusive(env, "plan", rehearse) as selected:
        connection = _terraform_connection(selected)
        result = _step("planning", lambda say: deploy.plan(connection, say=say))
        if json_:
            reports.print_json(_out(), result.to_dict())
        else:
            reports.plan_result(_out(), result)
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(2)


@app.command()
def apply(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Apply the saved plans (refused when stale), then wait for the service to be stable."""
    with _handled(), _exclusive(env, "apply", rehearse) as selected:
        connection = _terraform_connection(selected)
        confirm = _plans_then_ask(connection.env, yes, json_)
        if confirm is not None:
            planned = _step("reading the saved plans", lambda _say: deploy.saved_plans(connection))
            if planned.plans:  # none: apply says how to make them
                confirm(planned, "Apply the saved plans")
        result = _step("applying", lambda say: deploy.apply(connection, say))
        if json_:
            reports.print_json(_out(), result.to_dict())
        else:
            reports.apply_result(_out(), result)


@app.command(name="deploy")
def deploy_command(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    yes: YesOption = False,
    allow_dirty: AllowDirtyOption = False,
    json_: JsonOption = False,
    canary_percent: Annotated[
        str | None,
        typer.Option(
            "--canary",
            help="Run the new image as a canary beside the stable service with this percent "
            "of the requests (1-99), judge it during --bake, then promote or abort it.",
        ),
    ] = None,
    bake: Annotated[
        str,
        typer.Option(
            "--bake",
            help="With --canary: how long to judge it (30s, 10m, 1h); 0 leaves it running for "
            "`mlinfra canary status|promote|abort`.",
        ),
    ] = "10m",
    model: ModelOption = None,
) -> None:
    """Train if needed, build, push, plan, apply, then report the status.

    With --model NAME, the environment's model NAME gets the new image (its own service, at
    /models/NAME/predict on the same URL); the others keep theirs.

    In staging and prod each stack's plan is shown before it is applied (the service's before
    the push), and a question asked; --yes skips it. With --canary, the new image serves that
    share beside the stable one; the bake compares their 5xx, p99 and drift (CloudWatch), then
    promotes it or aborts it (exit 1, naming the gate).
    """
    from mlinfra import canary as canary_
    from mlinfra import monitor as monitor_

    with _handled():
        track = models.track(model)
        weight = bake_s = None
        if track.name is not None and canary_percent is not None:
            raise ConfigError(
                f"--canary runs beside the environment's own model, not --model {track.name}.",
                f"Deploy {track.name} without --canary, or canary the environment's own model.",
            )
        if canary_percent is not None:
            try:
                weight = canary_.parse_weight(canary_percent)
                bake_s = 0.0 if bake.strip() == "0" else monitor_.parse_since(bake).total_seconds()
            except ValueError as err:
                raise ConfigError(str(err).replace("--since", "--bake")) from None
    with _handled(), _exclusive(env, "deploy", rehearse) as selected:
        connection = _terraform_connection(selected)
        confirm = _plans_then_ask(connection.env, yes, json_)

        def on_layer_of(say: Callable[[str], None]) -> Callable[[Any], None]:
            # One live display at a time: under the spinner, layers report as lines.
            def on_layer(event: Any) -> None:
                if event.status in ("Pushed", "Layer already exists"):
                    say(f"layer {event.layer}: {event.status.lower()}")

            return on_layer

        if weight is not None and bake_s is not None:
            limits = canary_.Thresholds.from_env()
            outcome = _step(
                f"deploying a canary at {weight}%",
                lambda say: deploy.deploy_canary(
                    connection, weight, bake_s, say, on_layer_of(say), confirm, allow_dirty, limits
                ),
            )
            _canary_report(outcome, json_)
            return

        def work(say: Callable[[str], None]) -> deploy.ApplyResult:
            return deploy.deploy(connection, say, on_layer_of(say), confirm, allow_dirty, track)

        result = _step(f"deploying{track.flag}", work)
        if json_:
            reports.print_json(_out(), result.to_dict())
        else:
            reports.apply_result(_out(), result)


def _canary_report(result: deploy.CanaryResult, json_: bool) -> None:
    if json_:
        reports.print_json(_out(), result.to_dict())
        return
    if result.state is not None:
        _out().print(
            f"canary {result.state.release.model_version} takes {result.state.weight}% of "
            f"{result.env}'s requests beside {result.state.stable_version}"
        )
    if result.judgement is not None:
        _out().print(reports.canary_gates(result.judgement))
    if result.release is not None:
        _out().print(
            f"promoted: release {result.release.number} runs {result.release.image} "
            f"(model {result.release.model_version})"
        )
    _out().print(reports.status_panel(result.status))


canary_app = typer.Typer(
    help="The canary beside the stable service (`mlinfra deploy --canary N`): its gates now, "
    "or promote or abort it by hand.",
    no_args_is_help=True,
)
app.add_typer(canary_app, name="canary")


@canary_app.command("status")
def canary_status(
    env: EnvOption = None, rehearse: RehearseOption = False, json_: JsonOption = False
) -> None:
    """The running canary's share and its gates against the stable model so far."""
    with _handled():
        connection = _connection(env, rehearse)
        result = _step(
            "reading the canary's signals", lambda _say: deploy.canary_status(connection)
        )
        _canary_report(result, json_)


def _end_canary(env: str | None, rehearse: bool, yes: bool, json_: bool, promote: bool) -> None:
    verb = "promote" if promote else "abort"
    with _handled(), _exclusive(env, f"canary {verb}", rehearse) as selected:
        connection = _terraform_connection(selected)
        _confirm(connection.env, yes, f"{verb.capitalize()} the canary")
        result = _step(
            f"{verb[:-1] if verb.endswith('e') else verb}ing the canary",
            lambda say: deploy.end_canary(connection, promote, None, say),
        )
        _canary_report(result, json_)


@canary_app.command("promote")
def canary_promote(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """The stable service takes the canary's image; then the canary gets no request and goes."""
    _end_canary(env, rehearse, yes, json_, promote=True)


@canary_app.command("abort")
def canary_abort(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """The canary gets no request and goes; the stable service keeps serving (exit 1, recorded
    as rolled back)."""
    _end_canary(env, rehearse, yes, json_, promote=False)


def _rolled_out(result: deploy.RolloutResult, json_: bool, verb: str) -> None:
    if json_:
        reports.print_json(_out(), result.to_dict())
        return
    was = f" (was release {result.previous.number})" if result.previous else ""
    _out().print(
        f"{verb} {result.env}: release {result.release.number} runs {result.release.image}"
        f"{was}; model {result.release.model_version}, git {result.release.git_sha[:8]}"
    )
    _out().print(reports.status_panel(result.status))


@app.command(name="releases")
def releases_command(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    model: ModelOption = None,
    json_: JsonOption = False,
) -> None:
    """The environment's releases from its ledger (beside the Terraform state), newest first:
    the running one marked, each with its verdict and what changed from the one before; with
    --model NAME, that model's."""
    with _handled():
        track = models.track(model)
        connection = _connection(env, rehearse)
        listed = _step(
            "reading the release ledger", lambda _say: deploy.list_releases(connection, track)
        )
        if json_:
            reports.print_json(_out(), listed.to_dict())
        else:
            _out().print(reports.releases_table(listed.to_dict()))


@app.command()
def rollback(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    to: Annotated[
        int | None,
        typer.Option(
            "--to", help="The release number (default: the last good one before the running one)."
        ),
    ] = None,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Deploy an earlier release's image by digest through Terraform: no build, no push.

    The release is recorded like a deploy, with its verdict; a rollout the circuit breaker
    rolled back exits 1.
    """
    with _handled(), _exclusive(env, "rollback", rehearse) as selected:
        connection = _terraform_connection(selected)
        confirm = _plans_then_ask(connection.env, yes, json_)
        result = _step("rolling back", lambda say: deploy.rollback(connection, to, say, confirm))
        _rolled_out(result, json_, "rolled back")


@app.command()
def promote(
    from_: Annotated[str, typer.Option("--from", help="The environment whose release to promote.")],
    to: Annotated[str, typer.Option("--to", help="The environment to deploy it to.")],
    release: Annotated[
        int | None,
        typer.Option("--release", help="The source's release number (default: its running one)."),
    ] = None,
    rehearse: RehearseOption = False,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Copy a release's exact image (by digest) into another environment's registry and deploy
    it there: no build. Dirty images are refused; staging and prod show what changes and ask.

    With --rehearse the target is rehearsed (its own emulator); a source other than `local` is
    rehearsed too.
    """
    with _handled():
        source_env = config.select_environment(from_, rehearse and from_ != "local")
        with _exclusive(to, "promote", rehearse) as target_env:
            if target_env.name == source_env.name and target_env.rehearsed == source_env.rehearsed:
                raise ConfigError(
                    f"--from and --to are both {target_env.label}.",
                    "Promote from one environment to another (e.g. --from staging --to prod).",
                )
            source = _terraform_connection(source_env)
            target = _connect(target_env)
            confirm = _plans_then_ask(target.env, yes, json_)
            result = _step(
                f"promoting to {target_env.label}",
                lambda say: deploy.promote(source, target, release, say, confirm),
            )
            _rolled_out(result, json_, "promoted to")


@app.command()
def status(
    env: EnvOption = None, rehearse: RehearseOption = False, json_: JsonOption = False
) -> None:
    """The URL, targets' health, service counts, the image, and live /health and /ready probes."""
    with _handled():
        connection = _connection(env, rehearse)
        report = _step("reading the service", lambda _say: deploy.status(connection))
        if json_:
            reports.print_json(_out(), report.to_dict())
        else:
            _out().print(reports.status_panel(report))


@app.command()
def monitor(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    since: Annotated[
        str, typer.Option("--since", help="How far back to read: 30m, 1h, 2d.")
    ] = "1h",
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw the signals into this PNG.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """The model's signals from CloudWatch: per version requests, 5xx and p99, the prediction's
    PSI against training, and per feature PSI, out-of-range and missing rates."""
    from mlinfra import monitor as monitor_

    with _handled():
        try:
            window = monitor_.parse_since(since)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        connection = _connection(env, rehearse)
        cloudwatch = connection.session().client("cloudwatch")
        report = _step(
            "reading CloudWatch",
            lambda _say: monitor_.read(cloudwatch, connection.env.name, window),
        )
        if plot is not None:
            try:
                monitor_.plot(report, plot)
            except ImportError:
                raise MlinfraError(
                    "--plot needs matplotlib, which is not installed.",
                    hint="pip install matplotlib (or mlinfra[dev]), then run monitor again",
                ) from None
        summary = report.to_dict()
        if json_:
            reports.print_json(_out(), summary | {"plot": None if plot is None else str(plot)})
            return
        if not summary["versions"]:
            _out().print(
                f"No signals in {connection.env.label} in the last {since}: the service writes"
                " them every 10 s while it serves predictions of a model trained with a reference."
            )
        for table in reports.monitor_tables(summary):
            _out().print(table)
        if plot is not None:
            _out().print(f"plot: {plot}")


@app.command()
def destroy(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Destroy the service stack, then the registry stack (through saved destroy plans)."""
    with _handled(), _exclusive(env, "destroy", rehearse) as selected:
        connection = _terraform_connection(selected)
        if not yes:
            typer.confirm(f"Destroy everything in {connection.env.label}?", abort=True)
        removed = _step("destroying", lambda say: deploy.destroy(connection, say))
        if json_:
            reports.print_json(_out(), [s.to_dict() for s in removed])
        else:
            reports.destroyed(_out(), removed)


@app.command()
def down(
    env: EnvOption = None, rehearse: RehearseOption = False, json_: JsonOption = False
) -> None:
    """Stop the local environment (tasks, proxy, registry, emulator); keeps the model and images."""
    with _handled(), _exclusive(env, "down", rehearse) as selected:
        stopped = deploy.down(selected)
        if json_:
            reports.print_json(_out(), stopped)
        else:
            for part, count in stopped.items():
                _out().print(f"{part}: {'stopped' if count else 'not running'}")


@app.command()
def prune(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    keep: Annotated[
        int, typer.Option("--keep", help="How many of the newest images to keep.", min=0)
    ] = 3,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go; remove nothing.")
    ] = False,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Remove the environment's older serving images from the local Docker engine.

    Keeps the newest --keep, the last build and every image a container uses; the registry's
    copies (ECR, or the local registry) stay.
    """
    with _handled(), _exclusive(env, "prune", rehearse) as selected:
        plan = deploy.prune_plan(selected, keep)
        if not json_:
            _out().print(reports.prune_table(plan))
        freed = 0
        if plan.remove and not dry_run:
            if not yes:
                typer.confirm(f"Remove {len(plan.remove)} image(s)?", abort=True)
            freed = deploy.prune(plan)
        if json_:
            reports.print_json(_out(), {**plan.to_dict(), "dry_run": dry_run, "freed_bytes": freed})
        elif plan.remove and not dry_run:
            _out().print(f"removed {len(plan.remove)} image(s); {freed / 1e6:.1f} MB freed")


@app.command()
def outputs(
    env: EnvOption = None, rehearse: RehearseOption = False, json_: JsonOption = False
) -> None:
    """Terraform outputs of the registry and service stacks."""
    with _handled():
        connection = _connection(env, rehearse)
        values = deploy.outputs(connection)
        if json_:
            reports.print_json(_out(), values)
        else:
            _out().print(reports.outputs_table(values))


secret_app = typer.Typer(
    help="The environment's API key, kept in Secrets Manager (the registry stack's "
    "api_key_secret_arn); the tasks receive it through the task definition's secrets.",
    no_args_is_help=True,
)
app.add_typer(secret_app, name="secret")


def _read_api_key() -> str:
    """The key from stdin when it is not a terminal (a pipe, a file), else a hidden prompt.

    Never an argument: argv is visible to every user of the machine (ps, /proc) and lands in
    shell history.
    """
    if not sys.stdin.isatty():
        # One line: a trailing newline from `echo` or a file is not part of the key.
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt(
        "API key", hide_input=True, confirmation_prompt=True, err=True, show_default=False
    )
    return value


@secret_app.command("set")
def secret_set(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Store the API key read from stdin (or a hidden prompt) as the secret's current value.

    The running tasks pick it up at the next deploy; `mlinfra secret rotate` rolls them at once.
    """
    with _handled(), _exclusive(env, "secret set", rehearse) as selected:
        value = _read_api_key()
        api_key.check_api_key(value)  # before connecting: a short key fails at once
        connection = _terraform_connection(selected)
        _confirm(connection.env, yes, "Replace the API key")
        result = deploy.set_api_key(connection, value)
        del value
        if json_:
            reports.print_json(_out(), result.to_dict())
        else:
            reports.secret_result(_out(), result, "stored")


@secret_app.command("rotate")
def secret_rotate(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    yes: YesOption = False,
    json_: JsonOption = False,
) -> None:
    """Make a new random API key, store it, and roll the service's tasks onto it through
    Terraform (a new task definition revision); waits for the rollout.

    The key is printed nowhere: read it with `aws secretsmanager get-secret-value`.
    """
    with _handled(), _exclusive(env, "secret rotate", rehearse) as selected:
        connection = _terraform_connection(selected)
        _confirm(connection.env, yes, "Rotate the API key and roll the service")
        result = _step("rotating the API key", lambda say: deploy.rotate_api_key(connection, say))
        if json_:
            reports.print_json(_out(), result.to_dict())
        else:
            reports.secret_result(_out(), result, "rotated")


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    found = _DURATION.match(text.strip())
    if not found:
        raise ConfigError(
            f"Duration {text!r} is not understood.", "Use a number and a unit: 30s, 10m, 2h, 1d."
        )
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


@app.command()
def logs(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    since: Annotated[str, typer.Option(help="How far back: 30s, 10m, 2h, 1d.")] = "10m",
    limit: Annotated[int, typer.Option(help="At most this many of the latest lines.")] = 200,
    json_: JsonOption = False,
) -> None:
    """Tail the service's CloudWatch log group."""
    with _handled():
        window = parse_duration(since)
        connection = _connection(env, rehearse)
        events = deploy.logs(connection, window, limit)
        if json_:
            reports.print_json(_out(), [e.to_dict() for e in events])
        else:
            reports.log_lines(_out(), events)


@app.command()
def bench(
    env: EnvOption = None,
    rehearse: RehearseOption = False,
    duration: Annotated[str, typer.Option(help="How long each phase loads: 30s, 2m.")] = "30s",
    connections: Annotated[
        int, typer.Option(min=1, max=10000, help="Open keep-alive connections.")
    ] = 64,
    batch_rows: Annotated[
        int, typer.Option(min=0, help="Rows per request of the batch phase; 0 or 1: no batches.")
    ] = 100,
    p99_budget: Annotated[
        str | None,
        typer.Option(help="Exit 1 when the single-row p99 exceeds it: 20ms, 0.5s."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the latency plot (PNG) here (mlinfra[plot]).")
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option(help="A price table (JSON) instead of the shipped one ($MLINFRA_PRICES)."),
    ] = None,
    generator: Annotated[
        str, typer.Option(help="Load generator: auto (wrk when on PATH), wrk or python.")
    ] = "auto",
    json_: JsonOption = False,
) -> None:
    """Load the environment's URL from this machine with the guide's request, then with batches:
    req/s, rows/s, p50/p99/p99.9, errors by kind, the service's CPU per request, and what a
    million predictions cost on its instance type at the measured rate.

    The API key, where the service requires one, comes from $MLINFRA_API_KEY or the
    environment's secret, never from the command line. --p99-budget makes it a gate for CI."""
    from mlinfra import latency_plot, loadtest, pricing

    with _handled():
        seconds = int(parse_duration(duration).total_seconds())
        if seconds < 1:
            raise ConfigError(f"--duration {duration} is too short.", "Give at least 1s.")
        if generator not in ("auto", "wrk", "python"):
            raise ConfigError(
                f"--generator {generator!r} is not one of auto, wrk, python.",
                "Use --generator auto (wrk when installed, else python).",
            )
        budget_ms = loadtest.parse_milliseconds(p99_budget, "--p99-budget") if p99_budget else None
        table = pricing.load_prices(prices)
        chosen = loadtest.choose_generator(generator)
        if plot is not None:
            # Before the load, not after it: a missing matplotlib should not cost the run.
            latency_plot.require_matplotlib()
        connection = _connection(env, rehearse)
        target = _step("finding the service", lambda _say: deploy.bench_target(connection))
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            console=_err(), transient=True,
        )  # fmt: skip
        with progress:
            task = progress.add_task("load", total=1.0)

            def on_progress(fraction: float, text: str) -> None:
                progress.update(task, completed=fraction, description=text)

            phases = loadtest.run_bench(
                target,
                seconds=seconds,
                connections=connections,
                batch_rows=batch_rows,
                generator=chosen,
                progress=on_progress,
            )
        report = loadtest.bench_report(target, phases, table, budget_ms)
        if plot is not None:
            latency_plot.latency_plot(report, plot)
        if json_:
            reports.print_json(_out(), report.to_dict() | {"plot": str(plot) if plot else None})
        else:
            _out().print(reports.bench_panel(report))
            if plot is not None:
                _out().print(f"latency plot: {plot}")
    if report.budget is not None and not report.budget.ok:
        raise typer.Exit(1)


@app.command()
def doctor(
    env: EnvOption = None, rehearse: RehearseOption = False, json_: JsonOption = False
) -> None:
    """Check Terraform, Docker, the model, AWS credentials and the registry login; say how to fix each."""
    from mlinfra import doctor as checks

    with _handled():
        selected = config.select_environment(env, rehearse)
        results = _step("checking", lambda _say: checks.run(selected))
        if json_:
            reports.print_json(_out(), [c.to_dict() for c in results])
        else:
            _out().print(reports.doctor_table(results))
    if not all(c.ok for c in results):
        raise typer.Exit(1)


@app.command()
def version() -> None:
    """Print mlinfra's version."""
    from mlinfra import __version__

    _out().print(__version__)


def _reflowed(doc: str) -> str:
    """A docstring's paragraphs each on one line: Typer keeps a paragraph's line breaks, and the
    terminal then wraps the already-broken lines a second time."""
    return "\n\n".join(" ".join(part.split()) for part in inspect.cleandoc(doc).split("\n\n"))


for _command in [*app.registered_commands, *secret_app.registered_commands]:
    if _command.help is None and _command.callback is not None and _command.callback.__doc__:
        _command.help = _reflowed(_command.callback.__doc__)


def main() -> None:
    app()
