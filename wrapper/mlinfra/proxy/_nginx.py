"""nginx.conf for the local load balancer: a pure function of the listen address and the targets."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Upstream:
    """One target the proxy forwards to: a task's host port on this machine."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, order=True)
class Pool:
    """One target group behind the listener: its upstream's name in nginx.conf, the share of
    requests the listener's weights give it, and its targets."""

    name: str
    weight: int
    upstreams: tuple[Upstream, ...] = ()


@dataclass(frozen=True, order=True)
class Route:
    """A listener rule the proxy follows: requests whose path matches ``pattern`` (an ALB path
    pattern: ``*`` any characters, ``?`` one) go to ``pool``, in ``priority`` order."""

    priority: int
    pattern: str
    pool: str

    def location(self) -> str:
        """The nginx location of the pattern: exact, a prefix (``/a/*``), or a regex."""
        body = self.pattern[:-1] if self.pattern.endswith("*") else self.pattern
        if "*" not in body and "?" not in body:
            return f"= {body}" if body == self.pattern else body
        regex = "".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in self.pattern
        )
        return f'~ "^{regex}$"'


# The one upstream of a listener forwarding to a single group, as the proxy always had it.
DEFAULT_POOL = "service"
# What a weighted split picks for a group with no target: the ALB answers 503 for it.
_EMPTY_POOL = "none"
_POOL_MARK = "# pool"
_ROUTE_MARK = "# route"


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
    upstream {name} {{
{servers}
        # Idle connections kept open to the tasks: no TCP handshake per request.
        keepalive 16;
        keepalive_timeout 50s;
    }}
"""

_FORWARD = """\
        location {location} {{
{guard}            proxy_pass http://{target};
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
"""

_NO_TARGETS = """\
        location {location} {{
            default_type text/plain;
            # What an ALB answers when its target group has no healthy target.
            return 503 "mlinfra local load balancer: no registered targets\\n";
        }}
"""
# Inside the location of a weighted split: the group picked has no target.
_EMPTY_GUARD = """\
            if ($mlinfra_pool = none) {
                return 503 "mlinfra local load balancer: no registered targets\\n";
            }
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


def _split(live: Sequence[Pool]) -> str:
    """split_clients over the request id: each pool's share of the requests at random, as the
    ALB's weighted forward picks a target group per request."""
    total = sum(p.weight for p in live)
    lines = []
    for pool in live[:-1]:
        share = math.floor(10000 * pool.weight / total) / 100
        lines.append(f"        {share:.2f}% {pool.name if pool.upstreams else _EMPTY_POOL};")
    last = live[-1]
    lines.append(f"        * {last.name if last.upstreams else _EMPTY_POOL};")
    return '    split_clients "${request_id}" $mlinfra_pool {\n' + "\n".join(lines) + "\n    }\n"


def render_nginx_conf(
    upstreams: Sequence[Upstream],
    *,
    host: str,
    port: int,
    tls_port: int | None = None,
    redirect: Redirect | None = None,
    pools: Sequence[Pool] | None = None,
    routes: Sequence[Route] = (),
) -> str:
    """The whole nginx.conf: listen on ``host:port`` and spread requests over ``upstreams``.

    With ``pools`` (then ``upstreams`` is ignored), the listener forwards to several target
    groups by weight: each request goes to one pool at random in proportion to the weights (a
    pool of weight 0 takes none; one with no target answers 503, as an ALB's empty group).
    With ``tls_port``, HTTPS on ``host:tls_port`` too, with the certificate in :data:`TLS_DIR`;
    with ``redirect``, the HTTP port answers that redirect instead of forwarding (an ALB's HTTP
    listener whose default action redirects to its HTTPS one).

    With ``routes`` (of pools among ``pools``), a request whose path matches a route goes to
    its pool instead, as an ALB's listener rules come before its default action.

    Passive health (``max_fails``) takes a target that refuses connections out of rotation for
    ten seconds, as an ALB does after failed health checks.
    """
    marked = pools is not None
    if pools is None:
        pools = [Pool(DEFAULT_POOL, 1, tuple(upstreams))]
    head = _HEAD.format()
    for pool in sorted(pools, key=lambda p: p.name):
        if marked:
            head += f"    {_POOL_MARK} {pool.name} weight {pool.weight}\n"
    for route in sorted(routes):
        head += f"    {_ROUTE_MARK} {route.priority} {route.pool} {route.pattern}\n"
    for pool in sorted(pools, key=lambda p: p.name):
        if pool.upstreams:
            servers = "\n".join(
                f"        server {upstream} max_fails=2 fail_timeout=10s;"
                for upstream in sorted(set(pool.upstreams))
            )
            head += _UPSTREAM.format(name=pool.name, servers=servers)
    live = sorted((p for p in pools if p.weight > 0), key=lambda p: (p.weight, p.name))
    if len(live) > 1 and any(p.upstreams for p in live):
        head += _split(live)
        serve = _FORWARD.format(location="/", guard=_EMPTY_GUARD, target="$mlinfra_pool")
    elif live and live[0].upstreams:
        serve = _FORWARD.format(location="/", guard="", target=live[0].name)
    else:
        serve = _NO_TARGETS.format(location="/")
    by_name = {pool.name: pool for pool in pools}
    # nginx picks exact, then regex in order, then the longest prefix: for the disjoint
    # prefixes of one rule per model this is the ALB's priority order. One location per
    # pattern: the rule of the lowest priority wins it, as on the ALB.
    first = {r.location(): r for r in sorted(routes, reverse=True)}
    for route in sorted(first.values(), reverse=True):
        routed = by_name.get(route.pool)
        block = (
            _FORWARD.format(location=route.location(), guard="", target=route.pool)
            if routed is not None and routed.upstreams
            else _NO_TARGETS.format(location=route.location())
        )
        serve = block + serve
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


def read_routes(text: str) -> list[Route]:
    """The routes of a configuration :func:`render_nginx_conf` wrote."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if line.strip().startswith(_ROUTE_MARK) and len(words) == 5:
            found.append(Route(int(words[2]), words[4], words[3]))
    return sorted(found)


def read_pools(text: str) -> list[Pool]:
    """The pools of a configuration :func:`render_nginx_conf` wrote (one ``service`` pool of
    weight 1 for one written without ``pools``)."""
    weights: dict[str, int] = {}
    servers: dict[str, list[Upstream]] = {}
    current: str | None = None
    for line in text.splitlines():
        words = line.split()
        if line.strip().startswith(_POOL_MARK) and len(words) == 5:
            weights[words[2]] = int(words[4])
        elif len(words) == 3 and words[0] == "upstream" and words[2] == "{":
            current = words[1]
            servers.setdefault(current, [])
        elif current is not None and words == ["}"]:
            current = None
        elif current is not None and len(words) >= 2 and words[0] == "server":
            host, _, port = words[1].rpartition(":")
            servers[current].append(Upstream(host, int(port)))
    if not weights:
        return [Pool(name, 1, tuple(found)) for name, found in servers.items()]
    return [Pool(name, weight, tuple(servers.get(name, []))) for name, weight in weights.items()]
