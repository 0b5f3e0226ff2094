"""Rich renderings of what the commands return (the same data ``--json`` prints as JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mlinfra.errors import MlinfraError
from mlinfra.terraform import PlanSummary

if TYPE_CHECKING:
    from mlinfra.api_key import SecretResult
    from mlinfra.canary import Judgement
    from mlinfra.doctor import Check
    from mlinfra.image import PrunePlan
    from mlinfra.loadtest import BenchReport
    from mlinfra.logs import LogEvent
    from mlinfra.plans import ApplyResult, PlanResult
    from mlinfra.status import StatusReport


def print_json(console: Console, data: Any) -> None:
    # NOTE: plain print, not rich's: `--json` output must parse with no markup or wrapping.
    console.file.write(json.dumps(data, indent=2, default=str) + "\n")


def error(console: Console, err: MlinfraError) -> None:
    """An MlinfraError as one or two lines: what went wrong, then how to fix it."""
    console.print(Text("error: ", style="bold red") + Text(err.message))
    if err.hint:
        console.print(Text("  fix: ", style="yellow") + Text(err.hint))


# ---------------------------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------------------------


def plan_table(summary: PlanSummary) -> Group:
    totals = summary.totals
    verb = "destroy plan" if summary.destroy else "plan"
    # NOTE: a headline of its own, not the table's title, which would wrap to the table's width.
    headline = Text.assemble(
        (f"{summary.stack} stack", "bold"),
        f" {verb}: {totals.add} to add, {totals.change} to change, {totals.destroy} to destroy",
    )
    table = Table(expand=False)
    table.add_column("resource type")
    table.add_column("add", justify="right", style="green")
    table.add_column("change", justify="right", style="yellow")
    table.add_column("destroy", justify="right", style="red")
    for resource_type, counts in sorted(summary.by_type.items()):
        table.add_row(
            resource_type, _count(counts.add), _count(counts.change), _count(counts.destroy)
        )
    lines: list[Any] = [headline, table]
    if summary.changed_outputs:
        lines.append(Text(f"outputs changing: {', '.join(summary.changed_outputs)}", style="dim"))
    return Group(*lines)


def _count(value: int) -> str:
    return str(value) if value else "·"


def plan_result(console: Console, result: PlanResult) -> None:
    for summary in result.plans:
        if summary.has_changes:
            console.print(plan_table(summary))
        else:
            console.print(f"[bold]{summary.stack} stack[/]: no changes.")
        console.print(f"  saved plan: {summary.planfile}", style="dim")
    for stack, reason in result.waiting.items():
        console.print(f"[bold]{stack} stack[/]: not planned, {reason}.")


# ---------------------------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------------------------


def status_panel(report: StatusReport) -> Panel:
    if not report.deployed:
        return Panel(
            f"Nothing deployed in [bold]{report.env}[/] (the service stack has no outputs).\n"
            f"Deploy with: mlinfra deploy --env {report.env}"
            + (" --rehearse" if report.rehearsed else ""),
            title=f"mlinfra status: {report.label}",
        )
    verdict = (
        Text("healthy", style="bold green")
        if report.healthy
        else Text("unhealthy", style="bold red")
    )
    head = Table.grid(padding=(0, 2))
    head.add_row("URL", Text(report.url or "none"))
    if report.ca_file:
        head.add_row("CA file", Text(f"{report.ca_file} (curl --cacert it)"))
    head.add_row("state", verdict)
    head.add_row("image", Text(report.image or "unknown"))
    if report.release is not None:
        head.add_row("release", Text(str(report.release)))
    service = report.service
    head.add_row(
        "service",
        Text(
            f"{service.get('name')} on {service.get('cluster')}: desired {service.get('desired')}, "
            f"running {service.get('running')}, pending {service.get('pending')}, "
            f"rollout {service.get('rollout_state') or 'unknown'} "
            f"({service.get('task_definition')})"
        ),
    )
    head.add_row(
        "listeners",
        Text(", ".join(f"{x['protocol']}:{x['port']}" for x in report.listeners) or "none"),
    )
    for name, model in report.models.items():
        service = model["service"]
        head.add_row(
            f"model {name}",
            Text.assemble(
                (
                    "healthy" if model["healthy"] else "unhealthy",
                    "green" if model["healthy"] else "bold red",
                ),
                f" at {model['url'] or 'none'}: {service.get('name')}, running "
                f"{service.get('running')} of {service.get('desired')} "
                f"({service.get('task_definition')}), image {model['image'] or 'unknown'}",
            ),
        )
    if report.unhonoured:
        head.add_row(
            "not honoured",
            Text(", ".join(report.unhonoured) + " (this machine's runtime does not apply them)"),
        )
    targets = Table("target", "port", "health", "reason", title="targets", title_justify="left")
    for item in report.targets:
        style = "green" if item["state"] == "healthy" else "yellow"
        targets.add_row(
            item["id"], str(item["port"]), Text(item["state"], style=style), item["reason"] or ""
        )
    probes = Table("probe", "status", "latency", title="live probes", title_justify="left")
    for probe in report.probes:
        probes.add_row(
            probe.path,
            Text(
                str(probe.status) if probe.status else probe.error or "failed",
                style="green" if probe.ok else "red",
            ),
            f"{probe.latency_ms:.1f} ms" if probe.latency_ms is not None else "-",
        )
    return Panel(Group(head, targets, probes), title=f"mlinfra status: {report.label}")


def try_it(url: str, ca_file: str | None = None) -> str:
    """The guide's two requests against ``url``, ready to paste."""
    url = url.rstrip("/")
    curl = f"curl --cacert {ca_file}" if ca_file else "curl"
    return (
        f"{curl} {url}/health\n"
        f"{curl} -X POST {url}/predict -H 'Content-Type: application/json' "
        """-d '{"features": [3, 2, 1500, 2020]}'"""
    )


def apply_result(console: Console, result: ApplyResult) -> None:
    console.print(f"applied: {', '.join(result.applied)} ({result.env})")
    if result.status is not None:
        console.print(status_panel(result.status))
        if result.status.url:
            console.print("Try it:")
            # NOTE: soft_wrap keeps each command on one line, so it pastes whole.
            console.print(
                try_it(result.status.url, result.status.ca_file),
                soft_wrap=True,
                markup=False,
                highlight=False,
            )


# ---------------------------------------------------------------------------------------------
# outputs, logs, doctor, destroy
# ---------------------------------------------------------------------------------------------


def outputs_table(outputs: Mapping[str, Mapping[str, Any]]) -> Table:
    table = Table("stack", "output")
    table.add_column("value", overflow="fold")  # ARNs and URLs are copied, so never cut them
    for stack, values in outputs.items():
        if not values:
            table.add_row(stack, Text("(none: not applied)", style="dim"), "")
        for name, value in sorted(values.items()):
            shown = value if isinstance(value, str) else json.dumps(value)
            table.add_row(stack, name, shown)
    return table


def log_lines(console: Console, events: Iterable[LogEvent]) -> None:
    for event in events:
        console.print(
            Text(event.timestamp.strftime("%H:%M:%S.%f")[:-3] + " ", style="dim")
            + Text(event.stream.rsplit("/", 1)[-1][-12:] + " ", style="cyan")
            + Text(event.message)
        )


def doctor_table(checks: Iterable[Check]) -> Table:
    table = Table("check", "", "detail", "fix")
    for check in checks:
        mark = Text("ok", style="green") if check.ok else Text("FAIL", style="bold red")
        table.add_row(check.name, mark, check.detail, check.fix or "")
    return table


def destroyed(console: Console, summaries: Iterable[PlanSummary]) -> None:
    shown = False
    for summary in summaries:
        console.print(f"{summary.stack} stack: destroyed {summary.totals.destroy} resource(s)")
        shown = True
    if not shown:
        console.print("nothing to destroy")


def prune_table(plan: PrunePlan) -> Table:
    """The repository's local images, newest first, each marked remove, keep or in use."""
    from mlinfra.image import created_order

    table = Table(title=f"local images of {plan.repository}")
    table.add_column("image", overflow="fold")  # references are copied: never cut them
    table.add_column("created")
    table.add_column("size", justify="right")
    table.add_column("")
    rows = (
        [(image, Text("remove", style="red")) for image in plan.remove]
        + [(image, Text("keep", style="green")) for image in plan.keep]
        + [(image, Text("in use", style="cyan")) for image in plan.in_use]
    )
    rows.sort(key=lambda row: created_order(row[0].created), reverse=True)
    for image, mark in rows:
        table.add_row(
            "\n".join(image.references), image.created[:19], f"{image.size / 1e6:.0f} MB", mark
        )
    if not rows:
        table.add_row(Text("(none)", style="dim"), "", "", "")
    return table


def secret_result(console: Console, result: SecretResult, verb: str) -> None:
    """Where the key went (never the key): the version, how to read it, the roll if any."""
    console.print(f"{verb} the API key of {result.env}: version {result.version_id}")
    if result.rolled is not None:
        apply_result(console, result.rolled)
    else:
        console.print(
            f"  the service uses it from its next deploy (`mlinfra secret rotate --env "
            f"{result.env}` makes a new key and rolls the tasks at once)",
            style="dim",
        )
    console.print(
        f"  read it with: aws secretsmanager get-secret-value --secret-id {result.secret_arn} "
        "--query SecretString --output text",
        style="dim",
    )


def monitor_tables(report: dict[str, Any]) -> list[Table]:
    """``mlinfra monitor``'s report (``MonitorReport.to_dict()``): a table per model version."""

    def number(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    tables = []
    threshold = report["drift_threshold"]
    for version in report["versions"]:
        share = version["status_5xx_percent"]
        title = (
            f"{version['model_version']}: {version['requests']} requests,"
            f" 5xx {version['status_5xx']} ({number(share, 2)}%), p99 {number(version['p99_ms'], 1)}"
            f" ms, prediction PSI {number(version['prediction_psi_last'])}"
        )
        table = Table(
            "feature",
            "PSI",
            "PSI max",
            "out of range %",
            "missing %",
            "",
            title=title,
            title_justify="left",
        )
        for feature in version["features"]:
            table.add_row(
                feature["feature"],
                number(feature["psi_last"]),
                number(feature["psi_max"]),
                number(feature["out_of_range_percent"], 1),
                number(feature["missing_percent"], 1),
                f"[red]drift > {threshold:g}[/red]" if feature["drifted"] else "",
            )
        tables.append(table)
    return tables


# ---------------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return f"{value:.2f} ms" if value is not None else "-"


def bench_panel(report: BenchReport) -> Panel:
    """The load's figures a phase a row, the cost, and the budget's verdict."""
    target = report.target
    head = Table.grid(padding=(0, 2))
    head.add_row("URL", Text(target.url))
    head.add_row(
        "runs on",
        Text(
            f"{target.tasks} task(s) of {target.task_cpu_units or '?'} CPU units /"
            f" {target.task_memory_mib or '?'} MiB on {target.instance_type or 'an unknown instance type'}"
        ),
    )
    phases = Table(
        "phase", "req/s", "rows/s", "p50", "p99", "p99.9", "errors", "service CPU/req",
        title=f"{report.single.generator}, {report.single.connections} connections, "
        f"{report.single.seconds:.1f} s a phase, from this machine",
        title_justify="left",
    )  # fmt: skip
    for phase in report.phases:
        errors = ", ".join(f"{kind} {count}" for kind, count in phase.errors.items()) or "0"
        phases.add_row(
            phase.name,
            f"{phase.requests_per_s:,.0f}",
            f"{phase.rows_per_s:,.0f}",
            _ms(phase.p("50")),
            _ms(phase.p("99")),
            _ms(phase.p("99.9")),
            Text(errors, style="red" if phase.error_count else "green"),
            f"{phase.cpu_us_per_request:.0f} us" if phase.cpu_us_per_request is not None else "-",
        )
    notes = [
        Text(f"{phase.name}: {phase.ceiling_note}", style="yellow")
        for phase in report.phases
        if phase.ceiling_note
    ]
    if report.single.cpu_us_per_request is None and report.single.cpu_note:
        notes.append(Text(f"service CPU per request {report.single.cpu_note}", style="dim"))
    cost = report.cost
    if cost is not None:
        rows = (
            f", {cost.per_million_rows:.4f} per million rows in batches"
            if cost.per_million_rows is not None
            else ""
        )
        per_request = (
            f"{cost.per_million_requests:.4f} {cost.currency} per million predictions"
            if cost.per_million_requests is not None
            else "no rate measured"
        )
        notes.append(
            Text(
                f"cost: {per_request}{rows} at the measured rates"
                f" ({cost.tasks} x {cost.task_share:.0%} of a {cost.instance_type} at"
                f" {cost.hourly} {cost.currency}/h; prices of {cost.prices_date}, {cost.prices_path})"
            )
        )
    elif report.cost_note:
        notes.append(Text(f"cost: {report.cost_note}", style="yellow"))
    if report.budget is not None:
        notes.append(
            Text(
                ("within budget: " if report.budget.ok else "OVER BUDGET: ")
                + report.budget.message,
                style="bold green" if report.budget.ok else "bold red",
            )
        )
    return Panel(Group(head, phases, *notes), title=f"mlinfra bench: {target.env}")


_VERDICT_STYLE = {
    "succeeded": "green",
    "rolled_back": "red",
    "failed": "red",
    "interrupted": "yellow",
    "in_progress": "yellow",
}


def releases_table(listed: Mapping[str, Any]) -> Table:
    """An environment's releases (``ReleaseList.to_dict()``), newest first, the running one
    marked with ``*``."""
    table = Table("", "release", "verdict", "kind", "model", "git", "digest", "who", "when")
    table.add_column("changes", overflow="fold")
    for row in listed["releases"]:
        git = row["git_sha"][:8] + ("-dirty" if row["dirty"] else "")
        kind = row["kind"] + (f" ({row['source']})" if row.get("source") else "")
        table.add_row(
            "*" if row["running"] else "",
            str(row["number"]),
            Text(row["verdict"], style=_VERDICT_STYLE.get(row["verdict"], "")),
            kind,
            row["model_version"],
            git,
            row["digest"][7:19],
            row["who"],
            row["started_at"],
            "; ".join(row["changes"]),
        )
    if not listed["releases"]:
        table.add_row("", Text("(none yet: every deploy records one)", style="dim"))
    return table


def canary_gates(judgement: Judgement) -> Table:
    """One row per gate of a canary's judgement: passed or failed, with the figures."""
    title = (
        f"canary {judgement.canary_version} ({judgement.canary_requests} requests) against "
        f"{judgement.stable_version} ({judgement.stable_requests})"
    )
    table = Table(title=title)
    table.add_column("gate")
    table.add_column("verdict")
    table.add_column("figures")
    for gate in judgement.gates:
        verdict = "[green]pass[/]" if gate.passed else "[bold red]fail[/]"
        table.add_row(gate.name, verdict, gate.detail)
    return table
