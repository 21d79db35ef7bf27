"""gunicorn settings and hooks: the supported way to serve catfacts, with one worker or many.

The master validates the settings (one clear line and exit when one is bad), checks the port,
and starts the embedded upstream before forking, so all workers share it. Threads serve calls
that wait on the background loop; gthread workers heartbeat from their main loop, so a long
limited call is not killed by the worker timeout.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from typing import Any

from catfacts import embedded, logs
from catfacts.settings import ConfigError, Settings

__all__ = [
    "bind",
    "control_socket_disable",
    "graceful_timeout",
    "on_exit",
    "on_starting",
    "threads",
    "timeout",
    "when_ready",
    "worker_class",
    "wsgi_app",
]

log = logging.getLogger("catfacts.server")

try:
    _settings = Settings.load(os.environ)
except ConfigError as _error:
    sys.exit(f"catfacts: {_error}")

wsgi_app = "catfacts:create_app()"
bind = [f"{_settings.host}:{_settings.port}"]
worker_class = "gthread"
threads = 8
timeout = 120
graceful_timeout = 15
# gunicorn's control socket lives at one path per user: two services would fight over it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """In the master, before any worker: check the port, then start the embedded upstream."""
    logs.configure_logging(_settings.log_level)
    for address in server.cfg.address:
        if isinstance(address, tuple):  # a unix socket: gunicorn reports its own errors
            exit_if_taken(*address)
    if _settings.upstream_url is None:
        embedded.start(_settings)


def when_ready(server: Any) -> None:
    for host, port in (a for a in server.cfg.address if isinstance(a, tuple)):
        log.info("catfacts serving on http://%s:%d (try /cat_async_limited/10)", host, port)


def on_exit(server: Any) -> None:
    embedded.stop()


def exit_if_taken(host: str, port: int) -> None:
    """Stop with one clear line when the port cannot be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "is already in use" if error.errno == errno.EADDRINUSE else error.strerror
            sys.exit(f"catfacts: CATFACTS_PORT={port}: cannot listen on {host}:{port}: {reason}")
