"""Security group calls see a consistent set of groups while other requests change it.

Real AWS: DescribeSecurityGroupRules, DescribeSecurityGroups and the rule calls answer from a
consistent view however many other requests create or delete groups at the same time.
moto 5.2.5: the server answers requests on threads, and ``SecurityGroupBackend`` walks its
``groups`` dicts (``describe_security_group_rules``, the lookups by name or id) while another
request's CreateSecurityGroup or DeleteSecurityGroup adds or removes a key, so the walk raises
``RuntimeError: dictionary changed size during iteration`` (seen under six parallel applies on
one emulator, answered as an ``MlinfraEmulatorGap``). The aws provider reads a new
``aws_security_group_rule`` back through those calls after its Authorize: when that read fails,
the rule exists but never reaches the state, and the next apply of the stack fails with
``InvalidPermission.Duplicate``.
Fix: every method of ``SecurityGroupBackend`` runs under one re-entrant lock, so no walk
overlaps a change.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any
from unittest import mock

from moto.ec2.models.security_groups import SecurityGroupBackend

_LOCK = threading.RLock()


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return run


def methods() -> list[str]:
    """The backend's own methods (every walk and every change of ``groups``)."""
    return sorted(
        name
        for name, value in vars(SecurityGroupBackend).items()
        if callable(value) and name != "__init__"
    )


def apply(stack: ExitStack) -> None:
    for name in methods():
        original = getattr(SecurityGroupBackend, name)
        stack.enter_context(mock.patch.object(SecurityGroupBackend, name, _locked(original)))
