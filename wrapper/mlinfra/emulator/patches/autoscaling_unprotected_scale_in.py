"""An Auto Scaling group above its desired capacity terminates instances once they lose protection.

Real AWS: the group keeps converging on its desired capacity; an instance protected from
scale-in is kept, and when SetInstanceProtection lifts the protection the group terminates it
if the group is above capacity. The aws provider relies on this to destroy a group with
``protect_from_scale_in``: it sets min/max/desired to 0, lifts the protection, and waits for
the instances to go.
moto 5.2.5: removes instances only while handling a capacity change, so instances that were
protected at that moment stay forever and ``terraform destroy`` waits until it times out.
Fix: after SetInstanceProtection, the group converges on its desired capacity again.
"""

from __future__ import annotations

from contextlib import ExitStack
from unittest import mock

from moto.autoscaling.models import AutoScalingBackend

_original_set_protection = AutoScalingBackend.set_instance_protection


def _set_protection_then_converge(
    self: AutoScalingBackend,
    group_name: str,
    instance_ids: list[str],
    protected_from_scale_in: bool | None,
) -> None:
    _original_set_protection(self, group_name, instance_ids, protected_from_scale_in)
    group = self.autoscaling_groups[group_name]
    if not protected_from_scale_in and len(group.active_instances()) > (
        group.desired_capacity or 0
    ):
        group.set_desired_capacity(group.desired_capacity)


def apply(stack: ExitStack) -> None:
    stack.enter_context(
        mock.patch.object(
            AutoScalingBackend, "set_instance_protection", _set_protection_then_converge
        )
    )
