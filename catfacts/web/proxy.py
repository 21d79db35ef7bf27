"""What the service believes of the proxy in front of it (`deploy/nginx/catfacts.conf`).

Behind a proxy, every request comes from the proxy's address, so every caller would be one
client to the fair shares and the inbound limit. With `CATFACTS_TRUSTED_PROXIES`, a request whose
peer is one of those addresses is taken to come from the address its `X-Forwarded-For` ends with
(the shipped nginx configuration sets that header to the client's address, replacing any the
client sent); a request from any other peer keeps its own address, whatever it says. Streamed
answers tell nginx not to hold them back (`X-Accel-Buffering: no`), so each fact line leaves as it
comes while whole answers stay buffered by the proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from catfacts.settings import IPNetwork

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def register(app: Flask, trusted: tuple[IPNetwork, ...]) -> None:
    if trusted:
        app.wsgi_app = TrustedProxies(app.wsgi_app, trusted)  # type: ignore[method-assign]


class TrustedProxies:
    """werkzeug's `ProxyFix` for one proxy hop, applied only when the peer is a trusted proxy."""

    def __init__(self, app: WSGIApplication, trusted: tuple[IPNetwork, ...]) -> None:
        self._app = app
        self._fixed = ProxyFix(app, x_for=1, x_proto=0, x_host=0, x_port=0, x_prefix=0)
        self._trusted = trusted

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if _within(environ.get("REMOTE_ADDR", ""), self._trusted):
            return self._fixed(environ, start_response)
        return self._app(environ, start_response)


def _within(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:  # a unix socket's peer has no address
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped  # ::ffff:127.0.0.1 from a server bound to [::] is 127.0.0.1
    return any(peer in network for network in networks)
