"""The container CPU counter of /metrics (mlinfra_serving.metrics): cgroup v2, then v1."""

from __future__ import annotations

from pathlib import Path

from mlinfra_serving import metrics


def test_cgroup_v2_cpu_stat(tmp_path: Path) -> None:
    stat = tmp_path / "cpu.stat"
    stat.write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    assert metrics.cgroup_cpu_seconds(((stat, 1e-6),)) == 2.5


def test_cgroup_v1_cpuacct_usage_after_a_missing_v2(tmp_path: Path) -> None:
    usage = tmp_path / "cpuacct.usage"
    usage.write_text("1500000000\n")
    files = ((tmp_path / "cpu.stat", 1e-6), (usage, 1e-9))
    assert metrics.cgroup_cpu_seconds(files) == 1.5


def test_no_counter_no_metric(tmp_path: Path) -> None:
    assert metrics.cgroup_cpu_seconds(((tmp_path / "cpu.stat", 1e-6),)) is None
