import botocore.exceptions
import pytest

from mlinfra.emulator.patches import iam_managed_policies
from mlinfra.emulator.testing import in_process

POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


def _attach(iam):
    iam.create_role(RoleName="ecs-instance", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="ecs-instance", PolicyArn=POLICY)
    return iam.list_attached_role_policies(RoleName="ecs-instance")["AttachedPolicies"]


def test_moto_alone_has_no_aws_managed_policies(aws, monkeypatch):
    monkeypatch.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES", raising=False)
    with in_process() as endpoint, pytest.raises(botocore.exceptions.ClientError) as raised:
        _attach(aws(endpoint, "iam"))
    assert raised.value.response["Error"]["Code"] == "NoSuchEntity"


def test_aws_managed_policy_can_be_attached(aws, monkeypatch):
    monkeypatch.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES", raising=False)
    with in_process(iam_managed_policies) as endpoint:
        attached = _attach(aws(endpoint, "iam"))
    assert [p["PolicyArn"] for p in attached] == [POLICY]
