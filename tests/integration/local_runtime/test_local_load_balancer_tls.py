"""The local load balancer follows the emulated ALB's listeners: HTTPS with a certificate made
for the rehearsal (``curl --cacert`` trusts it) and the HTTP listener's redirect, on ports of
the environment's own."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from local_runtime_support import EmulatedService, free_port

from mlinfra import emulator
from mlinfra.local_runtime import converge

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
DOMAIN = "api.rehearsal.example"


def _alb_with_https(service: EmulatedService) -> None:
    """An ALB in front of the service's target group: HTTPS (an ACM certificate for DOMAIN)
    forwarding to it, and HTTP answering 301 to HTTPS, as environments/prod declares it."""
    session = emulator.boto3_session(service.endpoint)
    ec2, acm = session.client("ec2"), session.client("acm")
    group = service.elbv2.describe_target_groups(TargetGroupArns=[service.target_group_arn])
    vpc_id = group["TargetGroups"][0]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate(zones, start=1)
    ]
    balancer = service.elbv2.create_load_balancer(Name=service.env, Subnets=subnets)
    balancer_arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
    certificate = acm.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")
    service.elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate["CertificateArn"]}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": service.target_group_arn}],
    )
    service.elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )


def _curl(*args: str) -> str:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_https_with_the_local_ca_and_port_80_s_redirect(
    emulated_service: EmulatedService,
) -> None:
    _alb_with_https(emulated_service)
    port, tls_port = free_port(), free_port()

    report = converge(
        emulated_service.endpoint,
        env=emulated_service.env,
        cluster=emulated_service.cluster,
        service=emulated_service.service,
        proxy_port=port,
        tls_port=tls_port,
    )

    assert report.healthy
    assert report.https_url == f"https://127.0.0.1:{tls_port}"
    assert report.ca_file is not None and Path(report.ca_file).is_file()
    assert '"version": "v1"' in _curl("--cacert", report.ca_file, f"{report.https_url}/")
    by_name = _curl(
        "--cacert",
        report.ca_file,
        "--resolve",
        f"{DOMAIN}:{tls_port}:127.0.0.1",
        f"https://{DOMAIN}:{tls_port}/",
    )
    assert '"version": "v1"' in by_name
    redirect = _curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                     f"http://127.0.0.1:{port}/predict?x=1")  # fmt: skip
    assert redirect == f"301 https://127.0.0.1:{tls_port}/predict?x=1"
    # Without the CA, the certificate is not trusted: it is the rehearsal's own.
    untrusted = subprocess.run(
        ["curl", "-sS", "--max-time", "10", f"{report.https_url}/"], capture_output=True
    )
    assert untrusted.returncode == 60
