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
"""

_FORWARD = """\
        location / {
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
        }
"""

_NO_TARGETS = """\
        default_type text/plain;
        # What an ALB answers when its target group has no healthy target.
        return 503 "mlinfra local load balancer: no registered targets\\n";
"""

# Where the proxy container holds the rehearsal's certificate and key (copied in, not mounted).
TLS_DIR = "/etc/nginx/tls"


@dataclass(frozen=True)
class Redirect:
    """An HTTP listener's redirect action, in the local ports: ``status`` 301 or 302 to
    ``protocol``://host:``port`` with the path and query kept (ALB's #{path}?#{query})."""

    status: int
    protocol: str
    port: int


def _server(listen: str, body: str) -> str:
    return f"    server {{\n        listen {listen};\n{body}    }}\n"


def render_nginx_conf(
    upstreams: Sequence[Upstream],
    *,
    host: str,
    port: int,
    tls_port: int | None = None,
    redirect: Redirect | None = None,
) -> str:
    """The whole nginx.conf: listen on ``host:port`` and spread requests over ``upstreams``.

    With ``tls_port``, HTTPS on ``host:tls_port`` too, with the certificate in :data:`TLS_DIR`;
    with ``redirect``, the HTTP port answers that redirect instead of forwarding (an ALB's HTTP
    listener whose default action redirects to its HTTPS one).

    Passive health (``max_fails``) takes a target that refuses connections out of rotation for
    ten seconds, as an ALB does after failed health checks.
    """
    head = _HEAD.format()
    if upstreams:
        servers = "\n".join(
            f"        server {upstream} max_fails=2 fail_timeout=10s;"
            for upstream in sorted(set(upstreams))
        )
        head += _UPSTREAM.format(servers=servers)
    serve = _FORWARD if upstreams else _NO_TARGETS
    if redirect is not None:
        # $host is the request's host without its port; the listener names the port.
        target = f"{redirect.protocol.lower()}://$host:{redirect.port}$request_uri"
        http = _server(f"{host}:{port}", f"        return {redirect.status} {target};\n")
    else:
        http = _server(f"{host}:{port}", serve)
    servers_text = http
    if tls_port is not None:
        tls = (
            f"        ssl_certificate {TLS_DIR}/cert.pem;\n"
            f"        ssl_certificate_key {TLS_DIR}/key.pem;\n"
            "        ssl_protocols TLSv1.2 TLSv1.3;\n" + serve
        )
        servers_text += _server(f"{host}:{tls_port} ssl", tls)
    return head + servers_text + "}\n"
