"""AWS-managed IAM policies exist in every account.

Real AWS: ``arn:aws:iam::aws:policy/...`` policies (for example
``service-role/AmazonEC2ContainerServiceforEC2Role``) can be attached to any role.
moto 5.2.5: loads them only when asked (``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` or the
``iam.load_aws_managed_policies`` setting); otherwise AttachRolePolicy fails with NoSuchEntity.
Fix: turn the setting on in moto's in-process configuration (read when an account's IAM
backend is first made), so no environment variable has to travel with the server.
"""

from __future__ import annotations

from contextlib import ExitStack
from unittest import mock

from moto.core.config import default_user_config


def apply(stack: ExitStack) -> None:
    # NOTE: the dict moto.settings reads (it imports it from moto.core.config).
    iam_config = {**default_user_config.get("iam", {}), "load_aws_managed_policies": True}
    stack.enter_context(mock.patch.dict(default_user_config, {"iam": iam_config}))
