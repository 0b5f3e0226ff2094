import threading

import botocore.exceptions
import pytest

from mlinfra.emulator.patches import iam_instance_profile_roles
from mlinfra.emulator.testing import in_process

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


def _profile_with_role(iam):
    iam.create_role(RoleName="ecs-instance", AssumeRolePolicyDocument=TRUST)
    iam.create_instance_profile(InstanceProfileName="ecs-instance")
    iam.add_role_to_instance_profile(InstanceProfileName="ecs-instance", RoleName="ecs-instance")


def _remove(iam):
    iam.remove_role_from_instance_profile(
        InstanceProfileName="ecs-instance", RoleName="ecs-instance"
    )


def test_moto_alone_fails_the_second_remove_with_a_server_error(aws):
    with in_process() as endpoint:
        iam = aws(endpoint, "iam")
        _profile_with_role(iam)
        _remove(iam)
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            _remove(iam)
    # moto's ValueError (HTTP 500), answered as the emulator's gap (test_server_gaps.py)
    assert raised.value.response["Error"]["Code"] == "MlinfraEmulatorGap"
    assert "ValueError: list.remove(x): x not in list" in raised.value.response["Error"]["Message"]


def test_the_second_remove_answers_no_such_entity(aws):
    with in_process(iam_instance_profile_roles) as endpoint:
        iam = aws(endpoint, "iam")
        _profile_with_role(iam)
        _remove(iam)
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            _remove(iam)
        roles = iam.get_instance_profile(InstanceProfileName="ecs-instance")["InstanceProfile"]
    assert raised.value.response["Error"]["Code"] == "NoSuchEntity"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert roles["Roles"] == []


def test_concurrent_removes_one_wins_the_other_gets_no_such_entity(aws):
    # What terraform destroy does: the role's and the instance profile's destroy both remove it.
    with in_process(iam_instance_profile_roles) as endpoint:
        iam = aws(endpoint, "iam")
        _profile_with_role(iam)
        codes: list[str] = []

        def remove() -> None:
            try:
                _remove(aws(endpoint, "iam"))
                codes.append("ok")
            except botocore.exceptions.ClientError as err:
                codes.append(err.response["Error"]["Code"])

        threads = [threading.Thread(target=remove) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        iam.delete_instance_profile(InstanceProfileName="ecs-instance")
        iam.delete_role(RoleName="ecs-instance")
    assert sorted(codes) == ["NoSuchEntity"] * 3 + ["ok"]


def test_unknown_role_and_profile_keep_no_such_entity(aws):
    with in_process(iam_instance_profile_roles) as endpoint:
        iam = aws(endpoint, "iam")
        _profile_with_role(iam)
        errors = []
        for profile, role in (("ecs-instance", "nobody"), ("nothing", "ecs-instance")):
            with pytest.raises(botocore.exceptions.ClientError) as raised:
                iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
            errors.append(raised.value.response["Error"]["Code"])
    assert errors == ["NoSuchEntity", "NoSuchEntity"]


def test_same_path_calls_answer_aws_client_errors(aws):
    # AddRoleToInstanceProfile twice, DeleteRole / DeleteInstanceProfile with the role attached:
    # moto already answers AWS's 4xx, no 500 (checked so the patch need not cover them).
    with in_process() as endpoint:
        iam = aws(endpoint, "iam")
        _profile_with_role(iam)
        codes = []
        for call in (
            lambda: iam.add_role_to_instance_profile(
                InstanceProfileName="ecs-instance", RoleName="ecs-instance"
            ),
            lambda: iam.delete_role(RoleName="ecs-instance"),
            lambda: iam.delete_instance_profile(InstanceProfileName="ecs-instance"),
        ):
            with pytest.raises(botocore.exceptions.ClientError) as raised:
                call()
            codes.append(
                (
                    raised.value.response["Error"]["Code"],
                    raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
                )
            )
    assert codes == [("LimitExceeded", 409), ("DeleteConflict", 409), ("DeleteConflict", 409)]
