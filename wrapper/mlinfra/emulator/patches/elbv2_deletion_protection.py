"""A load balancer with deletion protection on cannot be deleted.

Real AWS: DeleteLoadBalancer on a load balancer whose ``deletion_protection.enabled``
attribute is ``true`` fails with ``OperationNotPermitted`` (HTTP 400, "Load balancer '<arn>'
cannot be deleted because deletion protection is enabled"); ``terraform destroy`` of an
``aws_lb`` with ``enable_deletion_protection = true`` fails until an apply turns it off.
moto 5.2.5: stores the attribute but deletes the load balancer anyway, so a destroy that would
fail on AWS passes on the emulator and deletion protection is never really tested.
Fix: DeleteLoadBalancer refuses while the attribute is ``true``.
"""

from __future__ import annotations

from contextlib import ExitStack
from unittest import mock

from moto.elbv2.exceptions import ELBClientError
from moto.elbv2.models import ELBv2Backend

_original_delete = ELBv2Backend.delete_load_balancer


class OperationNotPermitted(ELBClientError):
    code = "OperationNotPermitted"


def _delete_unless_protected(self: ELBv2Backend, arn: str) -> None:
    load_balancer = self.load_balancers.get(arn)
    if load_balancer is not None and (
        str(load_balancer.attrs.get("deletion_protection.enabled", "false")).lower() == "true"
    ):
        raise OperationNotPermitted(
            f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
        )
    _original_delete(self, arn)


def apply(stack: ExitStack) -> None:
    stack.enter_context(
        mock.patch.object(ELBv2Backend, "delete_load_balancer", _delete_unless_protected)
    )
