"""Each emulator log line names the request: service, action, the SDK's attempt, error code."""

from __future__ import annotations

import logging
import re

import botocore.exceptions
import pytest

from mlinfra.emulator.request_log import error_code
from mlinfra.emulator.testing import in_process


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """werkzeug's log lines, without the colours it adds (the emulator log's handler drops them)."""
    messages = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    return [re.sub(r"\x1b\[[0-9;]*m", "", message) for message in messages]


def test_a_duplicate_route_is_logged_with_its_action_attempt_and_error_code(aws, caplog) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    with in_process() as endpoint:
        ec2 = aws(endpoint, "ec2")
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        route = {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": gateway}
        ec2.create_route(**route)
        with pytest.raises(botocore.exceptions.ClientError, match="RouteAlreadyExists"):
            ec2.create_route(**route)
    lines = [line for line in _lines(caplog) if "ec2 CreateRoute attempt" in line]
    assert len(lines) == 2, lines
    assert '"POST / HTTP/1.1" 200 - ec2 CreateRoute attempt=1' in lines[0]
    assert lines[1].endswith('"POST / HTTP/1.1" 400 - ec2 CreateRoute attempt=1 RouteAlreadyExists')


def test_the_sdk_attempt_of_a_retry_is_in_the_line(aws, caplog) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    with in_process() as endpoint:
        iam = aws(endpoint, "iam")

        def as_a_retry(request, **_):
            request.headers["amz-sdk-request"] = "attempt=3; max=25"

        iam.meta.events.register("before-send.iam.ListRoles", as_a_retry)
        iam.list_roles()
    (line,) = [line for line in _lines(caplog) if "ListRoles" in line]
    assert line.endswith('"POST / HTTP/1.1" 200 - iam ListRoles attempt=3')


def test_a_json_protocol_error_is_logged_with_its_code(aws, caplog) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    with in_process() as endpoint:
        ecs = aws(endpoint, "ecs")
        with pytest.raises(botocore.exceptions.ClientError):
            ecs.describe_services(cluster="none", services=["none"])
    (line,) = [line for line in _lines(caplog) if "DescribeServices" in line]
    assert (
        "ecs AmazonEC2ContainerServiceV20141113.DescribeServices attempt=1 ClusterNotFoundException"
        in line
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<Response><Errors><Error><Code>RouteAlreadyExists</Code>", "RouteAlreadyExists"),
        (b'{"__type": "com.amazonaws.ecs#ClusterNotFoundException"}', "ClusterNotFoundException"),
        (b'{"__type":"ResourceNotFoundException","message":"x"}', "ResourceNotFoundException"),
        (b"not an error body", ""),
    ],
)
def test_error_code_reads_each_wire_format(body: bytes, code: str) -> None:
    assert error_code(body) == code
