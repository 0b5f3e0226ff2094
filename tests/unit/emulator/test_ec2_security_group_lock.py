import threading
from contextlib import ExitStack
from types import SimpleNamespace

import pytest
from moto.ec2.models import ec2_backends
from moto.ec2.models import security_groups as moto_security_groups

from mlinfra.emulator.patches import ec2_security_group_lock


@pytest.fixture
def backend():
    # An account of this test's own: moto keeps backends per process.
    made = ec2_backends["210987654321"]["eu-west-1"]
    vpc = made.create_vpc("10.0.0.0/16").id
    for index in range(3):
        made.create_security_group(f"group-{index}", "a group with its default egress rule", vpc)
    return made, vpc


def _walk_while_a_group_is_created(backend, vpc, monkeypatch: pytest.MonkeyPatch):
    """DescribeSecurityGroupRules with another request's CreateSecurityGroup let in while it
    copies the first rule, as the threaded server interleaves them; returns that request."""
    real_copy = moto_security_groups.copy.copy
    other: list[threading.Thread] = []
    ours = {group.id for group in backend.groups[vpc].values()}

    def copy_and_let_another_request_in(rule):
        # Inside the walk of this VPC's groups (the default VPC's may come first).
        if not other and rule.group_id in ours:
            create = threading.Thread(
                target=backend.create_security_group, args=("late", "made meanwhile", vpc)
            )
            other.append(create)
            create.start()
            create.join(timeout=0.5)  # it finishes at once unless something holds it back
        return real_copy(rule)

    monkeypatch.setattr(
        moto_security_groups, "copy", SimpleNamespace(copy=copy_and_let_another_request_in)
    )
    try:
        return backend.describe_security_group_rules([], {}), other[0]
    finally:
        monkeypatch.undo()


def test_moto_alone_fails_a_rules_walk_that_a_creation_overlaps(backend, monkeypatch) -> None:
    made, vpc = backend
    with pytest.raises(RuntimeError, match="dictionary changed size during iteration"):
        _walk_while_a_group_is_created(made, vpc, monkeypatch)


def test_the_walk_finishes_first_and_the_creation_then_goes_through(backend, monkeypatch) -> None:
    made, vpc = backend
    with ExitStack() as stack:
        ec2_security_group_lock.apply(stack)
        rules, creation = _walk_while_a_group_is_created(made, vpc, monkeypatch)
        creation.join(timeout=5)

        assert len(rules) >= 3, "every group's default egress rule, from one consistent view"
        names = {group.name for group in made.describe_security_groups(filters={"vpc-id": [vpc]})}
        assert {"group-0", "group-1", "group-2", "late"} <= names


def test_every_method_of_the_backend_is_locked() -> None:
    assert {"create_security_group", "describe_security_group_rules"} <= set(
        ec2_security_group_lock.methods()
    )
    assert "_delete_security_group" in ec2_security_group_lock.methods()
