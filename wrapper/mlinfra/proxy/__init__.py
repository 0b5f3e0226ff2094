"""The local environment's load balancer: nginx playing the ALB at a fixed URL.

Its upstreams are the service's registered targets; every change is a graceful ``nginx -s
reload``, so in-flight requests finish on the old workers and a roll drops none.
"""

from mlinfra.proxy._container import DEFAULT_PORT, PORT_ENV, LocalProxy, default_port
from mlinfra.proxy._image import ensure_proxy_image, proxy_image_tag
from mlinfra.proxy._nginx import Upstream, render_nginx_conf

__all__ = [
    "DEFAULT_PORT",
    "PORT_ENV",
    "LocalProxy",
    "Upstream",
    "default_port",
    "ensure_proxy_image",
    "proxy_image_tag",
    "render_nginx_conf",
]
