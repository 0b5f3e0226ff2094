"""What a rehearsed environment's roots expect of the AWS account they are applied in, made in
its emulator before Terraform runs: the state buckets their ``backend.hcl`` name, and the public
Route 53 zones their values name (``zone_name``), which a real account must already hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlinfra import config
from mlinfra.errors import ConfigError


def _hcl(path: Path) -> dict[str, Any]:
    from hcl2.api import load

    try:
        with path.open() as handle:
            loaded: dict[str, Any] = load(handle)
            return loaded
    except Exception as err:  # the parser raises lark's errors, of many classes
        raise ConfigError(
            f"{path} could not be read as HCL: {err}",
            "Fix it (`terraform validate` names the line).",
        ) from err


def _scalar(value: Any) -> Any:
    """The parser gives each attribute as a list of its one value."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def state_buckets(env: config.Environment, stacks: Sequence[str]) -> list[str]:
    """The buckets of the stacks' ``backend.hcl``."""
    found: list[str] = []
    for stack in stacks:
        path = env.path / stack / "backend.hcl"
        if path.exists():
            bucket = _scalar(_hcl(path).get("bucket"))
            if isinstance(bucket, str) and bucket not in found:
                found.append(bucket)
    return found


def _zone_names(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            name = _scalar(item)
            if key == "zone_name" and isinstance(name, str) and "${" not in name:
                yield name.rstrip(".")
            else:
                yield from _zone_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _zone_names(item)


def public_zones(env: config.Environment, stacks: Sequence[str]) -> list[str]:
    """The Route 53 zones the stacks' ``.tf`` values name (``zone_name = "example.com"``)."""
    zones: list[str] = []
    for stack in stacks:
        for path in sorted((env.path / stack).glob("*.tf")):
            for zone in _zone_names(_hcl(path)):
                if zone not in zones:
                    zones.append(zone)
    return zones


def prepare_account(session: Any, buckets: Sequence[str], zones: Sequence[str]) -> list[str]:
    """Create in the emulator what is missing of ``buckets`` and ``zones``; what it made."""
    made: list[str] = []
    s3 = session.client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in buckets:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            made.append(f"state bucket {bucket}")
    route53 = session.client("route53")
    for zone in zones:
        listed = route53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"]
        if not any(z["Name"].rstrip(".") == zone for z in listed):
            route53.create_hosted_zone(Name=zone, CallerReference=f"mlinfra-rehearsal-{zone}")
            made.append(f"public zone {zone}")
    return made


def lift_deletion_protection(session: Any) -> list[str]:
    """Turn off deletion protection on the emulated load balancers, as a person does in the
    console before destroying a protected one; the names of those it turned off."""
    elbv2 = session.client("elbv2")
    lifted: list[str] = []
    for balancer in elbv2.describe_load_balancers().get("LoadBalancers", []):
        arn = balancer["LoadBalancerArn"]
        attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
        if {"Key": "deletion_protection.enabled", "Value": "true"} in attributes:
            elbv2.modify_load_balancer_attributes(
                LoadBalancerArn=arn,
                Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
            )
            lifted.append(str(balancer["LoadBalancerName"]))
    return lifted
