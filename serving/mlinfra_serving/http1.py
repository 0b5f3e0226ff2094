"""gunicorn's C HTTP/1.1 parser (gunicorn_h1c, ``http_parser = "fast"``), given the one limit
gunicorn leaves at the parser's default. The only module that knows gunicorn's parser internals.

Why: after a response, gunicorn's connection loop resets the parser one event-loop turn later.
A keep-alive client (the ALB, httpx) sends its next request as soon as it has read the
response, so the request's first bytes can reach the finished parser, which keeps them as the
"tail" to replay after the reset, but only up to ``limit_remaining`` (64 KiB by default) and
then gunicorn closes the connection instead of replaying a cut tail. A next request with a body
over 64 KiB then lost its connection ("Server disconnected without sending a response"), in
about one of five requests of 1 MiB under load (tests/reliability/test_resource_bounds.py).
gunicorn's Python parser keeps any tail, so a limit as large as one whole request gives the
same answers; the tail is still bounded, by that.
"""

from __future__ import annotations

from typing import Any

# Bytes a request line and its headers can take under gunicorn's limits, per header: the
# field's limit, ": " and CRLF.
_HEADER_OVERHEAD = 4


def request_bytes_limit(max_body_bytes: int, cfg: Any) -> int:
    """The most bytes one request gunicorn accepts can take: request line, headers, body."""
    line = int(cfg.limit_request_line) or (1 << 20)
    fields = int(cfg.limit_request_fields) * (int(cfg.limit_request_field_size) + _HEADER_OVERHEAD)
    return max_body_bytes + line + fields + _HEADER_OVERHEAD


def keep_whole_next_requests(max_body_bytes: int, cfg: Any) -> bool:
    """Make the C parser gunicorn builds for each connection keep a next request whole.

    Returns False (and changes nothing) where gunicorn_h1c is not installed: the Python parser
    needs no such limit. Run in each worker before it serves (gunicorn's ``post_worker_init``).
    """
    # NOTE: gunicorn ships no type information; its ASGI protocol picks the parser class from
    # these class attributes for every new connection.
    from gunicorn.asgi.protocol import ASGIProtocol  # type: ignore[import-untyped]

    if not ASGIProtocol._check_h1c_protocol_available():
        return False
    parser = ASGIProtocol._h1c_protocol_class
    if getattr(parser, "keeps_whole_requests", False):
        return True
    limit = request_bytes_limit(max_body_bytes, cfg)

    def parser_keeping_whole_requests(**kwargs: Any) -> Any:
        return parser(limit_remaining=limit, **kwargs)

    parser_keeping_whole_requests.keeps_whole_requests = True  # type: ignore[attr-defined]
    ASGIProtocol._h1c_protocol_class = parser_keeping_whole_requests
    return True
