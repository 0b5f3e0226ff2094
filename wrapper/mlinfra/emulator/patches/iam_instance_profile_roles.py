"""RemoveRoleFromInstanceProfile answers NoSuchEntity when the role is not in the profile.

Real AWS: the role is matched by name; when the profile does not hold it the call fails with
``NoSuchEntity`` (HTTP 404), which the aws provider treats as "already removed". Both its
``aws_iam_role`` destroy (through ListInstanceProfilesForRole) and its
``aws_iam_instance_profile`` destroy remove the role, often at the same moment.
moto 5.2.5: ``profile.roles.remove(role)`` raises ``ValueError: list.remove(x): x not in list``
for the second caller, an HTTP 500 that the provider retries with back-off for many minutes
(CI's ``test_destroy_leaves_nothing`` hung 600 s on it).
Fix: look the role up by name among the profile's roles, under a lock so that two concurrent
removes cannot both find it; the loser gets NoSuchEntity. Unknown roles and profiles keep
moto's own NoSuchEntity. (AddRoleToInstanceProfile, DeleteInstanceProfile and DeleteRole were
checked on the same path: they compare by name or count and answer AWS's 4xx already.)
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from unittest import mock

from moto.iam.exceptions import NotFoundException
from moto.iam.models import IAMBackend

_lock = threading.Lock()


def _remove_role_by_name(self: IAMBackend, profile_name: str, role_name: str) -> None:
    profile = self.get_instance_profile(profile_name)
    self.get_role(role_name)  # an unknown role: moto's (and AWS's) NoSuchEntity
    with _lock:
        kept = [role for role in profile.roles if role.name != role_name]
        if len(kept) == len(profile.roles):
            raise NotFoundException(
                f"The role with name {role_name} is not in instance profile {profile_name}."
            )
        profile.roles[:] = kept


def apply(stack: ExitStack) -> None:
    stack.enter_context(
        mock.patch.object(IAMBackend, "remove_role_from_instance_profile", _remove_role_by_name)
    )
