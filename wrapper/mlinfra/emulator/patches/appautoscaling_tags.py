"""Application Auto Scaling tags on scalable targets.

Real AWS: RegisterScalableTarget accepts ``Tags``; ListTagsForResource, TagResource and
UntagResource work on a scalable target's ARN and answer ResourceNotFoundException for an
unknown one.
moto 5.2.5: ignores ``Tags`` and implements none of the three calls (HTTP 500), so the aws
provider hangs retrying while it creates ``aws_appautoscaling_target``, and every later refresh
(plan, destroy) fails.
Fix: tags live on the scalable target (so deregistering it drops them) and the three calls are
added to moto's Application Auto Scaling responses.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from unittest import mock

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeScalableTarget
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.exceptions import JsonRESTError


class ResourceNotFoundError(JsonRESTError):
    def __init__(self, arn: str) -> None:
        super().__init__("ResourceNotFoundException", f"No scalable target found for ARN {arn}")


def _tags_of(target: FakeScalableTarget) -> dict[str, str]:
    if not hasattr(target, "tags"):
        target.tags = {}  # type: ignore[attr-defined]
    tags: dict[str, str] = target.tags  # type: ignore[attr-defined]
    return tags


def _target_by_arn(backend: ApplicationAutoscalingBackend, arn: str) -> FakeScalableTarget:
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return target
    raise ResourceNotFoundError(arn)


_original_register = ApplicationAutoScalingResponse.register_scalable_target


def _register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
    result = _original_register(self)
    tags = self._get_param("Tags")
    if tags:
        arn = json.loads(result)["ScalableTargetARN"]
        _tags_of(_target_by_arn(self.applicationautoscaling_backend, arn)).update(tags)
    return result


def _list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    return json.dumps({"Tags": _tags_of(target)})


def _tag_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    _tags_of(target).update(self._get_param("Tags") or {})
    return "{}"


def _untag_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    tags = _tags_of(target)
    for key in self._get_param("TagKeys") or []:
        tags.pop(key, None)
    return "{}"


def apply(stack: ExitStack) -> None:
    response = ApplicationAutoScalingResponse
    stack.enter_context(
        mock.patch.object(response, "register_scalable_target", _register_scalable_target)
    )
    for name, method in (
        ("list_tags_for_resource", _list_tags_for_resource),
        ("tag_resource", _tag_resource),
        ("untag_resource", _untag_resource),
    ):
        stack.enter_context(mock.patch.object(response, name, method, create=True))
