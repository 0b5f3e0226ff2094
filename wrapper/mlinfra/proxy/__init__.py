"""The local environment's load balancer: nginx playing the ALB at a fixed URL.

Its upstreams are the services' registered targets, one pool per target group split by the
listener's weights (a canary beside the stable service), and one route per listener rule (the
other models of the environment, by path); every change is a graceful ``nginx -s
reload``, so in-flight requests finish on the old workers and a roll drops none.
"""

from mlinfra.proxy._container import (
    DEFAULT_PORT,
    DEFAULT_TLS_PORT,
    PORT_ENV,
    TLS_PORT_ENV,
    LocalProxy,
    ProxyView,
    default_port,
    default_tls_port,
)
from mlinfra.proxy._image import ensure_proxy_image, proxy_image_tag
from mlinfra.proxy._nginx import (
    DEFAULT_POOL,
    Pool,
    Redirect,
    Route,
    Upstream,
    read_pools,
    read_routes,
    render_nginx_conf,
)
from mlinfra.proxy._tls import LeafCertificate, leaf_certificate

__all__ = [
    "DEFAULT_POOL",
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "PORT_ENV",
    "TLS_PORT_ENV",
    "LeafCertificate",
    "LocalProxy",
    "Pool",
    "ProxyView",
    "Redirect",
    "Route",
    "Upstream",
    "default_port",
    "default_tls_port",
    "ensure_proxy_image",
    "leaf_certificate",
    "proxy_image_tag",
    "read_pools",
    "read_routes",
    "render_nginx_conf",
]
