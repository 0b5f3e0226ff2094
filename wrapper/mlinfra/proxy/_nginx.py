"""nginx.conf for the local load balancer: a pure function of the listen address and the targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Upstream:
    """One target the proxy forwards to: a task's host port on this machine."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


# NOTE: old workers finish their in-flight requests after a reload; the cap keeps a stuck client
# from holding a draining worker (and the old upstreams) forever.
_HEAD = """\
worker_processes 1;
pid /run/nginx.pid;
error_log stderr warn;
worker_shutdown_timeout 30s;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    server_tokens off;
    # NOTE: no keep-alive towards clients. A reload makes the old workers close their idle
    # client connections, and a request sent on one at that instant is reset (measured: 3 of
    # 560 requests over 20 reloads). Without keep-alive, waiting connections sit in the shared
    # listen queue and the new workers accept them. Costs one loopback handshake per request.
    keepalive_timeout 0;
"""

_UPSTREAM = """\
    upstream service {{
{servers}
        # Idle connections kept open to the tasks: no TCP handshake per request.
        keepalive 16;
        keepalive_timeout 50s;
    }}

    server {{
        listen {listen};
        location / {{
            proxy_pass http://service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # NOTE: an ALB sets no body limit and streams the body to the target, so the
            # service's own JSON 413 (MAX_BODY_BYTES) is what a client sees; nginx's default
            # limit of 1 MiB answered its HTML 413 page instead. Unbuffered, nothing is written
            # to the proxy's disk, and nginx still retries a target that refuses the connection
            # (the body is sent only once one accepted it).
            client_max_body_size 0;
            proxy_request_buffering off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            # A refused or reset connection is retried on the next target. nginx never retries
            # a POST once it was sent, so only connection errors of POSTs are retried.
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
        }}
    }}
}}
"""

_NO_TARGETS = """\
    server {{
        listen {listen};
        default_type text/plain;
        # What an ALB answers when its target group has no healthy target.
        return 503 "mlinfra local load balancer: no registered targets\\n";
    }}
}}
"""


def render_nginx_conf(upstreams: Sequence[Upstream], *, host: str, port: int) -> str:
    """The whole nginx.conf: listen on ``host:port`` and spread requests over ``upstreams``.

    Passive health (``max_fails``) takes a target that refuses connections out of rotation for
    ten seconds, as an ALB does after failed health checks.
    """
    listen = f"{host}:{port}"
    head = _HEAD.format()
    if not upstreams:
        return head + _NO_TARGETS.format(listen=listen)
    servers = "\n".join(
        f"        server {upstream} max_fails=2 fail_timeout=10s;"
        for upstream in sorted(set(upstreams))
    )
    return head + _UPSTREAM.format(servers=servers, listen=listen)
