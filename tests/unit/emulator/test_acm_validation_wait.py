import time

from mlinfra.emulator.patches import acm_validation_wait
from mlinfra.emulator.testing import in_process


def _status_after(acm, seconds: float) -> str:
    arn = acm.request_certificate(DomainName="ml.example.com", ValidationMethod="DNS")[
        "CertificateArn"
    ]
    time.sleep(seconds)
    return acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]


def test_moto_alone_keeps_the_certificate_pending_for_a_minute(aws, monkeypatch):
    monkeypatch.delenv("MOTO_ACM_VALIDATION_WAIT", raising=False)
    with in_process() as endpoint:
        status = _status_after(aws(endpoint, "acm"), acm_validation_wait.VALIDATION_WAIT_S + 1)
    assert status == "PENDING_VALIDATION"


def test_certificate_is_issued_within_seconds(aws):
    with in_process(acm_validation_wait) as endpoint:
        acm = aws(endpoint, "acm")
        status = _status_after(acm, acm_validation_wait.VALIDATION_WAIT_S + 1)
    assert status == "ISSUED"
