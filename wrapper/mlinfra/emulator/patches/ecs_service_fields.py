"""ECS CreateService keeps every setting the caller gave.

Real AWS: DescribeServices returns what CreateService was given, among others
``capacityProviderStrategy``, ``placementStrategy``, ``placementConstraints``,
``healthCheckGracePeriodSeconds``, ``enableECSManagedTags``, ``enableExecuteCommand``,
``availabilityZoneRebalancing`` and ``deploymentConfiguration`` (circuit breaker, min/max
percent).
moto 5.2.5: CreateService drops them (UpdateService keeps them), so after an apply the aws
provider reads them back empty and the next plan wants to replace the service.
Fix: after moto creates the service, every request field that the ECS ``Service`` shape also
returns and that moto did not keep is stored on the service under its snake_case name (the
attribute moto's serializer reads).
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import cache
from typing import Any
from unittest import mock

import botocore.session
from botocore import xform_name
from botocore.model import StructureShape
from moto.ecs.models import EC2ContainerServiceBackend, Service
from moto.ecs.responses import EC2ContainerServiceResponse


@cache
def _returned_create_fields() -> frozenset[str]:
    """CreateService request members that DescribeServices also returns."""
    model = botocore.session.get_session().get_service_model("ecs")
    requested = model.operation_model("CreateService").input_shape
    returned = model.shape_for("Service")
    assert isinstance(requested, StructureShape) and isinstance(returned, StructureShape)
    return frozenset(set(requested.members) & set(returned.members))


def keep_dropped_fields(service: Service, request: dict[str, Any]) -> None:
    """Store on ``service`` each returned field of ``request`` that moto left unset."""
    for field in _returned_create_fields():
        attribute = xform_name(field)
        if field in request and getattr(service, attribute, None) is None:
            setattr(service, attribute, request[field])


_original_create = EC2ContainerServiceResponse.create_service


def _create_service_keeping_fields(self: EC2ContainerServiceResponse) -> Any:
    result = _original_create(self)
    backend: EC2ContainerServiceBackend = self.ecs_backend
    service = backend._get_service(
        self._get_param("cluster", "default"), self._get_param("serviceName")
    )
    keep_dropped_fields(service, self._get_params())
    return result


def apply(stack: ExitStack) -> None:
    stack.enter_context(
        mock.patch.object(
            EC2ContainerServiceResponse, "create_service", _create_service_keeping_fields
        )
    )
