"""A DNS-validated ACM certificate turns ISSUED within seconds of its request.

Real AWS: a certificate requested with DNS validation stays PENDING_VALIDATION until ACM finds
the validation CNAME in DNS (usually a few minutes once the record exists), then is ISSUED;
``aws_acm_certificate_validation`` waits for that.
moto 5.2.5: cannot look at DNS; it turns PENDING_VALIDATION into ISSUED once the certificate is
older than ``settings.ACM_VALIDATION_WAIT`` (``MOTO_ACM_VALIDATION_WAIT``, default 60 s), so
every stack that validates a certificate waits a minute or more per apply.
Fix: set that wait to :data:`VALIDATION_WAIT_S` in moto's in-process settings (read at each
DescribeCertificate), so no environment variable has to travel with the server.
"""

from __future__ import annotations

from contextlib import ExitStack
from unittest import mock

from moto import settings

VALIDATION_WAIT_S = 1


def apply(stack: ExitStack) -> None:
    stack.enter_context(mock.patch.object(settings, "ACM_VALIDATION_WAIT", VALIDATION_WAIT_S))
