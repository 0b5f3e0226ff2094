"""A moto 5xx is answered as a non-retryable 400 MlinfraEmulatorGap naming the request."""

import botocore.exceptions
import botocore.session
import pytest
from botocore.parsers import create_parser

from mlinfra.emulator import read_gaps
from mlinfra.emulator.gaps import GAP_CODE, error_answer
from mlinfra.emulator.testing import in_process

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


def _counting_attempts(client):
    attempts = []
    client.meta.events.register("before-send.*.*", lambda **_: attempts.append(1))
    return attempts


def _gap_error(call):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value.response


def test_iam_value_error_is_an_immediate_gap_naming_the_request(aws):
    # moto alone (no iam_instance_profile_roles patch): the second remove raises ValueError.
    with in_process() as endpoint:
        iam = aws(endpoint, "iam")
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
        iam.create_instance_profile(InstanceProfileName="p")
        iam.add_role_to_instance_profile(InstanceProfileName="p", RoleName="r")
        iam.remove_role_from_instance_profile(InstanceProfileName="p", RoleName="r")
        attempts = _counting_attempts(iam)
        response = _gap_error(
            lambda: iam.remove_role_from_instance_profile(InstanceProfileName="p", RoleName="r")
        )
        listed = read_gaps(endpoint)

    assert len(attempts) == 1  # botocore did not retry it
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == GAP_CODE
    message = response["Error"]["Message"]
    assert "iam RemoveRoleFromInstanceProfile" in message
    assert "ValueError: list.remove(x): x not in list" in message
    assert listed["count"] == 1
    (gap,) = listed["gaps"]
    assert (gap["status"], gap["service"], gap["action"]) == (
        500,
        "iam",
        "RemoveRoleFromInstanceProfile",
    )
    assert gap["where"].startswith("moto/iam/models.py:")


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("wafv2", "get_mobile_sdk_release", "AWSWAF_20190729.GetMobileSdkRelease"),  # JSON
        ("sns", "get_data_protection_policy", "GetDataProtectionPolicy"),  # query
        ("ec2", "describe_capacity_block_offerings", "DescribeCapacityBlockOfferings"),  # EC2
    ],
)
def test_unimplemented_actions_are_gaps_in_each_protocol(aws, service, operation, action):
    arguments = {
        "get_mobile_sdk_release": {"Platform": "IOS", "ReleaseVersion": "1"},
        "get_data_protection_policy": {"ResourceArn": "arn:aws:sns:us-east-1:1:t"},
        "describe_capacity_block_offerings": {"CapacityDurationHours": 24},
    }[operation]
    with in_process() as endpoint:
        client = aws(endpoint, service)
        attempts = _counting_attempts(client)
        response = _gap_error(lambda: getattr(client, operation)(**arguments))
        listed = read_gaps(endpoint)

    assert len(attempts) == 1
    assert response["Error"]["Code"] == GAP_CODE
    assert f"{service} {action}" in response["Error"]["Message"]
    assert "NotImplementedError" in response["Error"]["Message"]
    assert [(g["service"], g["action"]) for g in listed["gaps"]] == [(service, action)]


def test_gap_is_one_log_line_keeping_the_5xx_status(aws, capsys):
    with in_process() as endpoint:
        _gap_error(
            lambda: aws(endpoint, "sns").get_data_protection_policy(
                ResourceArn="arn:aws:sns:us-east-1:1:t"
            )
        )
    lines = [line for line in capsys.readouterr().err.splitlines() if "mlinfra gap" in line]
    assert len(lines) == 1
    assert '"POST / HTTP/1.1" 500' in lines[0]
    assert "sns GetDataProtectionPolicy: NotImplementedError" in lines[0]


def test_gaps_since_lists_only_later_gaps(aws):
    with in_process() as endpoint:
        sns = aws(endpoint, "sns")
        for _ in range(3):
            _gap_error(lambda: sns.get_data_protection_policy(ResourceArn="arn:aws:sns:x"))
        everything, later = read_gaps(endpoint), read_gaps(endpoint, since=2)
    assert everything["count"] == later["count"] == 3
    assert [g["seq"] for g in everything["gaps"]] == [0, 1, 2]
    assert [g["seq"] for g in later["gaps"]] == [2]


def test_bad_since_is_a_400(aws):
    import httpx

    with in_process() as endpoint:
        answer = httpx.get(endpoint + "/_mlinfra/gaps", params={"since": "x"})
    assert answer.status_code == 400
    assert "since must be a non-negative integer" in answer.json()["error"]


@pytest.mark.parametrize(
    ("protocol", "service"),
    [
        ("json", "ecs"),
        ("rest-json", "lambda"),
        ("query", "iam"),
        ("ec2", "ec2"),
        ("s3", "s3"),
        ("rest-xml", "route53"),
    ],
)
def test_each_wire_format_parses_as_a_client_error_in_botocore(protocol, service):
    # botocore's own parser for a service of that protocol reads the code and the message.
    model = botocore.session.get_session().get_service_model(service)
    operation = model.operation_model(model.operation_names[0])
    body, headers = error_answer(protocol, GAP_CODE, "moto answered HTTP 500 to <x> & co")
    parsed = create_parser(model.metadata["protocol"]).parse(
        {"status_code": 400, "headers": dict(headers), "body": body}, operation.output_shape
    )
    assert parsed["Error"]["Code"] == GAP_CODE
    assert parsed["Error"]["Message"] == "moto answered HTTP 500 to <x> & co"


def test_a_5xx_status_moto_serialises_is_a_gap_too(aws, monkeypatch):
    # Not an escaping exception: moto's own InternalException, which it answers as HTTP 500.
    from moto.pipes.exceptions import InternalException
    from moto.pipes.models import EventBridgePipesBackend

    def internal_error(self, name):
        raise InternalException(f"pipe {name} is unwell")

    monkeypatch.setattr(EventBridgePipesBackend, "describe_pipe", internal_error)
    with in_process() as endpoint:
        pipes = aws(endpoint, "pipes")
        attempts = _counting_attempts(pipes)
        response = _gap_error(lambda: pipes.describe_pipe(Name="p"))
        (gap,) = read_gaps(endpoint)["gaps"]

    assert len(attempts) == 1
    assert response["Error"]["Code"] == GAP_CODE
    assert "pipe p is unwell" in response["Error"]["Message"]
    assert (gap["status"], gap["service"], gap["action"]) == (500, "pipes", "GET /v1/pipes/p")
