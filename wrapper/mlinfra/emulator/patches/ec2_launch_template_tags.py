"""A launch template's own tags are not part of its launch data.

Real AWS: CreateLaunchTemplate's top-level ``TagSpecifications`` (resource type
``launch-template``) tag the template itself; DescribeLaunchTemplateVersions returns only the
``LaunchTemplateData.TagSpecifications`` the caller put in the data (instance, volume, ...).
moto 5.2.5: copies the top-level tag specifications into every version's data, so the aws
provider reads a ``tag_specifications { resource_type = "launch-template" }`` block that the
configuration never had, and every plan wants to update the launch template (and its group).
Fix: a version's data drops tag specifications of resource type ``launch-template``, which
launch data cannot carry in AWS.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from unittest import mock

from moto.ec2.models.launch_templates import LaunchTemplateVersion

_original_init = LaunchTemplateVersion.__init__


def _init_without_template_tags(
    self: LaunchTemplateVersion, template: Any, number: int, data: dict[str, Any], description: str
) -> None:
    specs = [
        s for s in data.get("TagSpecifications", []) if s.get("ResourceType") != "launch-template"
    ]
    data = {key: value for key, value in data.items() if key != "TagSpecifications"}
    if specs:
        data["TagSpecifications"] = specs
    _original_init(self, template, number, data, description)


def apply(stack: ExitStack) -> None:
    stack.enter_context(
        mock.patch.object(LaunchTemplateVersion, "__init__", _init_without_template_tags)
    )
