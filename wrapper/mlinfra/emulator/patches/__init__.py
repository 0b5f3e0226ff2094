"""mlinfra's compatibility patches for moto: each closes one gap between moto and real AWS.

A patch is a module with a docstring saying what real AWS does and an ``apply(stack)``
function that installs it on ``stack`` (a :class:`contextlib.ExitStack`), so the server applies
them for its lifetime and unit tests apply one at a time and undo it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType

from mlinfra.emulator.patches import (
    acm_validation_wait,
    appautoscaling_tags,
    autoscaling_unprotected_scale_in,
    cloudwatch_alarm_evaluation,
    ec2_launch_template_tags,
    ec2_security_group_lock,
    ecs_bridge_network_configuration,
    ecs_service_counts,
    ecs_service_fields,
    elbv2_deletion_protection,
    iam_instance_profile_roles,
    iam_managed_policies,
    logs_embedded_metrics,
)

PATCHES: tuple[ModuleType, ...] = (
    ecs_bridge_network_configuration,
    ecs_service_fields,
    ecs_service_counts,
    appautoscaling_tags,
    iam_managed_policies,
    iam_instance_profile_roles,
    autoscaling_unprotected_scale_in,
    ec2_launch_template_tags,
    ec2_security_group_lock,
    acm_validation_wait,
    elbv2_deletion_protection,
    logs_embedded_metrics,
    cloudwatch_alarm_evaluation,
)


def names() -> list[str]:
    return [patch.__name__.rsplit(".", 1)[-1] for patch in PATCHES]


@contextmanager
def applied(*patches: ModuleType) -> Iterator[None]:
    """Apply exactly ``patches`` (the server passes :data:`PATCHES`) until the block ends."""
    with ExitStack() as stack:
        for patch in patches:
            patch.apply(stack)
        yield
