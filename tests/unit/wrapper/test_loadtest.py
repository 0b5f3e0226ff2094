"""The pure parts of `mlinfra bench`: percentiles, the metrics text, budgets, the batch body,
the cost and the price table (mlinfra.loadtest, mlinfra.pricing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlinfra import loadtest, pricing
from mlinfra.errors import ConfigError
from mlinfra.loadtest import PhaseResult, ServiceCounters, Target


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert loadtest.percentile(values, 50) == 50
    assert loadtest.percentile(values, 99) == 99
    assert loadtest.percentile(values, 99.9) == 100
    assert loadtest.percentile(values, 100) == 100
    assert loadtest.percentile(values, 0.5) == 1
    assert loadtest.percentile([7.0], 99.9) == 7.0


@pytest.mark.parametrize("bad", [0, -1, 100.1])
def test_percentile_refuses_outside_0_100(bad: float) -> None:
    with pytest.raises(ValueError):
        loadtest.percentile([1.0, 2.0], bad)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        loadtest.percentile([], 50)


@pytest.mark.parametrize(
    ("text", "ms"), [("20ms", 20.0), ("1.5s", 1500.0), ("500us", 0.5), ("2m", 120_000.0)]
)
def test_budgets_read_with_their_unit(text: str, ms: float) -> None:
    assert loadtest.parse_milliseconds(text, "--p99-budget") == ms


@pytest.mark.parametrize("text", ["20", "fast", "-3ms", "0ms", "20 minutes"])
def test_a_budget_without_a_unit_is_one_line_saying_so(text: str) -> None:
    with pytest.raises(ConfigError, match="not understood"):
        loadtest.parse_milliseconds(text, "--p99-budget")


def test_budget_verdict() -> None:
    assert loadtest.budget_verdict(12.0, None) is None
    within = loadtest.budget_verdict(12.0, 20.0)
    assert within is not None and within.ok and "within" in within.message
    over = loadtest.budget_verdict(20.01, 20.0)
    assert over is not None and not over.ok and "exceeds" in over.message
    exact = loadtest.budget_verdict(20.0, 20.0)
    assert exact is not None and exact.ok
    nothing = loadtest.budget_verdict(None, 20.0)
    assert nothing is not None and not nothing.ok


def test_batch_body_is_the_same_every_time_and_has_the_guide_shape() -> None:
    body = loadtest.batch_body(250)
    assert body == loadtest.batch_body(250)
    assert len(body["instances"]) == 250
    assert {len(row) for row in body["instances"]} == {4}
    assert len({tuple(row) for row in body["instances"]}) > 50, "not one row repeated"


METRICS = """\
# HELP mlinfra_http_requests_total HTTP requests answered.
# TYPE mlinfra_http_requests_total counter
mlinfra_http_requests_total{method="POST",route="/predict",status="200"} 1500.0
mlinfra_http_requests_total{method="POST",route="/predict",status="422"} 20.0
mlinfra_http_requests_total{method="GET",route="/metrics",status="200"} 3.0
# HELP mlinfra_container_cpu_seconds_total CPU seconds used by every process of the container.
# TYPE mlinfra_container_cpu_seconds_total counter
mlinfra_container_cpu_seconds_total 12.5
"""


def test_service_counters_read_from_the_metrics_text() -> None:
    counters = loadtest.service_counters(METRICS)
    assert counters == ServiceCounters(predict_requests=1520.0, cpu_seconds=12.5)
    assert loadtest.metric_sum(METRICS, "mlinfra_http_requests_total", status="200") == 1503.0
    assert loadtest.metric_sum(METRICS, "absent_total") is None


def test_cpu_per_request_between_two_reads() -> None:
    before = ServiceCounters(predict_requests=1000.0, cpu_seconds=10.0)
    after = ServiceCounters(predict_requests=11000.0, cpu_seconds=10.9)
    assert loadtest.cpu_us_per_request(before, after) == pytest.approx(90.0)
    assert loadtest.cpu_us_per_request(before, before) is None, "no request in between"
    unreadable = ServiceCounters(predict_requests=1000.0, cpu_seconds=None)
    assert loadtest.cpu_us_per_request(unreadable, after) is None


def _shipped() -> pricing.PriceTable:
    return pricing.load_prices(pricing.SHIPPED_PRICES)


def test_shipped_price_table_has_a_date_and_the_environments_instance_types() -> None:
    table = _shipped()
    assert table.date and table.currency == "USD"
    for environment in Path("environments").iterdir():
        main = (environment / "service" / "main.tf").read_text()
        kind = main.split('instance_type = "', 1)[1].split('"', 1)[0]
        assert table.price_of(kind) is not None, f"{environment.name} runs {kind}"


def test_price_table_override_by_file_and_by_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "prices.json"
    mine.write_text(
        json.dumps(
            {
                "date": "2030-01-01",
                "currency": "EUR",
                "instances": {"x.big": {"hourly": 2, "vcpu": 8, "memory_gib": 32}},
            }
        )
    )
    assert pricing.load_prices(mine).date == "2030-01-01"
    monkeypatch.setenv(pricing.PRICES_ENV, str(mine))
    table = pricing.load_prices()
    assert table.currency == "EUR" and table.price_of("x.big") == pricing.InstancePrice(2, 8, 32)
    assert table.price_of("t3.small") is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{", "not JSON"),
        ('{"date": "2026-01-01"}', "no 'instances'"),
        ('{"instances": {}}', "no 'date'"),
        ('{"date": "d", "instances": {"t3.small": {"hourly": "cheap"}}}', "needs numbers"),
        ('{"date": "d", "instances": {"t3.small": {"hourly": -1, "vcpu": 2, "memory_gib": 2}}}',
         "negative"),
    ],
)  # fmt: skip
def test_a_bad_price_table_is_one_line_saying_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        pricing.parse_prices(text, "mine.json")


def test_a_missing_price_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the price table"):
        pricing.load_prices(tmp_path / "absent.json")


def test_task_share_is_the_larger_of_cpu_and_memory() -> None:
    small = pricing.InstancePrice(hourly=0.0208, vcpu=2, memory_gib=2)
    assert pricing.task_share(small, 512, 1024) == 0.5  # memory: 1 of 2 GiB
    assert pricing.task_share(small, 1024, 512) == 0.5  # CPU: 1 of 2 vCPU
    assert pricing.task_share(small, 4096, 8192) == 1.0, "at most the whole instance"


def test_cost_of_a_million_predictions() -> None:
    table = _shipped()
    # t3.small at 0.0208/h, a 512-unit / 1024-MiB task takes half of it; two tasks: 0.0208/h.
    cost = pricing.cost(table, "t3.small", 512, 1024, 2, requests_per_s=1000, rows_per_s=50_000)
    assert cost is not None
    assert cost.service_hourly == pytest.approx(0.0208)
    # 1,000 req/s is 3.6M an hour: a million costs 0.0208 / 3.6.
    assert cost.per_million_requests == pytest.approx(0.0208 / 3.6)
    assert cost.per_million_rows == pytest.approx(0.0208 / 180)
    assert pricing.cost(table, "z9.huge", 512, 1024, 1, 1000, None) is None
    assert pricing.per_million(1.0, 0) is None


def _phase(p99: float, requests: int = 3000, rows: int = 1, errors: int = 0) -> PhaseResult:
    return PhaseResult(
        name="single row" if rows == 1 else f"batch of {rows}",
        rows_per_request=rows,
        generator="wrk",
        connections=8,
        seconds=3.0,
        requests=requests,
        errors={"timeout": errors} if errors else {},
        percentiles_ms={"50": 1.0, "99": p99, "99.9": p99 * 2},
        max_ms=p99 * 3,
    )


def test_bench_report_costs_and_budget() -> None:
    target = Target(
        "local", "http://127.0.0.1:1", None, "a-secret-key-value", 1, "t3.small", 512, 1024
    )
    report = loadtest.bench_report(
        target, [_phase(4.0), _phase(9.0, requests=300, rows=100)], _shipped(), 5.0
    )
    assert report.budget is not None and report.budget.ok
    assert report.cost is not None
    assert report.cost.per_million_requests == pytest.approx(0.0104 / (1000 * 3600) * 1e6)
    assert report.cost.per_million_rows == pytest.approx(0.0104 / (10_000 * 3600) * 1e6)
    data = report.to_dict()
    assert data["budget_ok"] is True and data["phases"][1]["rows_per_s"] == 10_000
    assert "a-secret-key-value" not in json.dumps(data) + repr(report), "the key never shows"
    over = loadtest.bench_report(target, [_phase(6.0)], _shipped(), 5.0)
    assert over.budget is not None and not over.budget.ok


def test_bench_report_says_why_there_is_no_cost() -> None:
    unknown = Target("local", "http://127.0.0.1:1", instance_type=None, task_cpu_units=512)
    report = loadtest.bench_report(unknown, [_phase(4.0)], _shipped(), None)
    assert report.cost is None and report.cost_note and "instance type" in report.cost_note
    unpriced = Target("local", "u", instance_type="z9.huge", task_cpu_units=1, task_memory_mib=1)
    note = loadtest.bench_report(unpriced, [_phase(4.0)], _shipped(), None).cost_note
    assert note and "z9.huge" in note and "--prices" in note
