"""The emulator as the CLI runs it: a process of its own, found again through its state folder."""

import os
import signal
import socket
import time

import pytest

from mlinfra import emulator
from mlinfra.emulator.testing import free_port
from mlinfra.errors import EmulatorError

pytestmark = pytest.mark.integration


@pytest.fixture
def state_dir(tmp_path):
    yield tmp_path
    emulator.stop(tmp_path)


def test_start_reuse_stop(state_dir):
    port = free_port()
    first = emulator.start(port=port, state_dir=state_dir)
    again = emulator.start(port=port, state_dir=state_dir)
    buckets = emulator.boto3_session(first.endpoint).client("s3").list_buckets()["Buckets"]

    assert (first.reused, again.reused) == (False, True)
    assert again.pid == first.pid
    assert emulator.STATE_BUCKET in [b["Name"] for b in buckets]
    assert emulator.stop(state_dir) is True
    assert emulator.stop(state_dir) is False
    assert not (state_dir / "pid").exists()


def test_patches_are_active_in_the_process(state_dir):
    running = emulator.start(port=free_port(), state_dir=state_dir)
    ecs = emulator.boto3_session(running.endpoint).client("ecs")
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(
        family="app",
        networkMode="bridge",
        containerDefinitions=[{"name": "a", "image": "a", "memory": 64}],
    )
    ecs.create_service(cluster="c", serviceName="s", taskDefinition="app", desiredCount=1)
    emulator.set_service_counts(running.endpoint, "c", "s", running=1, pending=0)
    service = ecs.describe_services(cluster="c", services=["s"])["services"][0]

    assert "networkConfiguration" not in service
    assert service["runningCount"] == 1
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"


def test_port_taken_by_another_program_is_refused(state_dir):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(EmulatorError, match=f"Port {other.getsockname()[1]}"):
            emulator.start(port=other.getsockname()[1], state_dir=state_dir)


def test_stop_ends_an_emulator_too_busy_to_answer(state_dir):
    running = emulator.start(port=free_port(), state_dir=state_dir)
    os.kill(running.pid, signal.SIGSTOP)  # frozen: it cannot answer any more
    assert emulator.stop(state_dir, timeout_s=1) is True
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.waitpid(running.pid, os.WNOHANG)
            os.kill(running.pid, 0)
        except (ChildProcessError, ProcessLookupError):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"emulator process {running.pid} still runs after stop()")


def test_a_moto_500_is_one_log_line_and_a_listed_gap(state_dir):
    running = emulator.start(port=free_port(), state_dir=state_dir)
    sns = emulator.boto3_session(running.endpoint).client("sns")
    with pytest.raises(sns.exceptions.ClientError) as raised:
        sns.get_data_protection_policy(ResourceArn="arn:aws:sns:us-east-1:1:t")
    gaps = emulator.read_gaps(running.endpoint)
    emulator.stop(state_dir)
    lines = running.log_path.read_text().splitlines()

    assert raised.value.response["Error"]["Code"] == "MlinfraEmulatorGap"
    assert [g["action"] for g in gaps["gaps"]] == ["GetDataProtectionPolicy"]
    # the before-stop hook greps 'HTTP/1.1" 5': the original status stays in the log
    (gap_line,) = [line for line in lines if 'HTTP/1.1" 5' in line]
    assert "sns GetDataProtectionPolicy: NotImplementedError" in gap_line
