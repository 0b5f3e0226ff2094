"""ECS services in bridge or host network mode have no ``networkConfiguration``.

Real AWS: DescribeServices omits ``networkConfiguration`` for a service whose task definition
uses ``bridge`` or ``host`` mode (only ``awsvpc`` services carry one).
moto 5.2.5: returns ``"networkConfiguration": {}``; the aws provider 5.100.0 then dereferences
the missing ``awsvpcConfiguration`` and crashes while reading ``aws_ecs_service``.
Fix: a service created without a network configuration keeps none (``None``), so the field is
left out of the response.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from unittest import mock

from moto.ecs.models import Service

_original_init = Service.__init__


def _init_without_empty_network(self: Service, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    if not self.network_configuration:
        self.network_configuration = None  # type: ignore[assignment]


def apply(stack: ExitStack) -> None:
    stack.enter_context(mock.patch.object(Service, "__init__", _init_without_empty_network))
