"""mlinfra_serving.http1: the C parser's tail limit holds one whole request under gunicorn's limits.

The image's behaviour (keep-alive clients sending 1 MiB bodies back to back, every one answered)
is tested against the container: tests/integration/serving/test_serving_container.py and
tests/reliability/test_resource_bounds.py.
"""

from __future__ import annotations

import importlib.util

from gunicorn.config import Config

from mlinfra_serving import http1


def test_the_limit_is_a_whole_request_at_gunicorns_limits() -> None:
    cfg = Config()
    limit = http1.request_bytes_limit(1 << 20, cfg)
    headers = cfg.limit_request_line + cfg.limit_request_fields * (cfg.limit_request_field_size + 4)
    assert limit == (1 << 20) + headers + 4
    assert limit > 64 * 1024, "the parser's own default, which cut 1 MiB requests"


def test_an_unlimited_request_line_counts_as_the_c_parsers_one_mib() -> None:
    cfg = Config()
    cfg.set("limit_request_line", 0)
    assert http1.request_bytes_limit(0, cfg) > 1 << 20


def test_without_the_c_parser_nothing_changes() -> None:
    from gunicorn.asgi.protocol import ASGIProtocol

    before = ASGIProtocol._h1c_protocol_class
    applied = http1.keep_whole_next_requests(1 << 20, Config())
    assert applied == (importlib.util.find_spec("gunicorn_h1c") is not None)
    if not applied:
        assert ASGIProtocol._h1c_protocol_class is before
