"""RuntimeStatus: the counts and the verdict ``status --json`` shows."""

from __future__ import annotations

from mlinfra.local_runtime import RuntimeStatus, TaskStatus


def _task(port: int, health: str = "healthy", state: str = "running") -> TaskStatus:
    return TaskStatus(f"task-{port}", "mlinfra-local:3", "c", "s", state, health, port, "i-1")


def test_healthy_when_every_task_is_healthy_and_behind_the_proxy() -> None:
    report = RuntimeStatus(
        "local", "http://127.0.0.1:8080", (_task(1), _task(2)), ("127.0.0.1:1", "127.0.0.1:2")
    )

    assert (report.running, report.pending, report.healthy) == (2, 0, True)
    assert report.to_dict()["tasks"][0]["host_port"] == 1


def test_not_healthy_while_a_task_starts_or_the_proxy_lags() -> None:
    starting = RuntimeStatus(
        "local", "u", (_task(1), _task(2, "starting")), ("127.0.0.1:1", "127.0.0.1:2")
    )
    lagging = RuntimeStatus("local", "u", (_task(1), _task(2)), ("127.0.0.1:1",))
    empty = RuntimeStatus("local", None, (), ())

    assert (starting.running, starting.pending, starting.healthy) == (1, 1, False)
    assert lagging.healthy is False
    assert empty.to_dict() == {
        "env": "local",
        "url": None,
        "tasks": (),
        "targets": (),
        "running": 0,
        "pending": 0,
        "healthy": False,
        "https_url": None,
        "ca_file": None,
        "stopped": (),
        "unhonoured": (),
        "agent": None,
    }


def test_the_proxy_may_reach_tasks_on_their_bridge_address() -> None:
    task = TaskStatus("t", "f:1", "c", "s", "running", "healthy", 32768, "i-1", "172.17.0.5:8080")
    report = RuntimeStatus("local", "u", (task,), ("172.17.0.5:8080",))

    assert task.upstream == "172.17.0.5:8080"
    assert report.healthy
