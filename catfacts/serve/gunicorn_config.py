"""gunicorn settings and hooks: the supported way to serve catfacts, with one worker or many.

`options()` gives them to gunicorn when serving starts: `gunicorn.conf.py` (the `gunicorn`
command, from this folder) and the launcher (`python -m catfacts`) both read it; importing this
module does nothing. The master validates the settings (one clear line and exit when one is
bad), checks the port, and starts the embedded upstream before forking, so all workers share it.
Threads serve calls that wait on the background loop; gthread workers heartbeat from their main
loop, so a long limited call is not killed by the worker timeout.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Mapping
from types import FrameType
from typing import Any

from catfacts import logs, redis_connect
from catfacts.errors import ConfigError
from catfacts.observe import metrics
from catfacts.serve import embedded
from catfacts.services import Services
from catfacts.settings import Settings
from catfacts.strategies import LIMITED
from catfacts.web import server_errors
from catfacts.web.extension import EXTENSION

log = logging.getLogger("catfacts.server")

# Each fact call in flight holds a thread while it waits on the background loop (a waiting thread
# costs memory, not CPU; see the README's load figures). Admission refuses calls past
# CATFACTS_MAX_CALLS, so the spare threads always answer /hello/ and the refusals at once.
SPARE_THREADS = 16


def load_settings(environ: Mapping[str, str]) -> Settings:
    """The settings to serve with; one clear line and exit when one is bad, or when Redis
    refuses us for good (a password, the URL's form, a certificate): waiting cannot fix that."""
    try:
        settings = embedded.check(Settings.load(environ))
    except ConfigError as error:
        sys.exit(f"catfacts: {error}")
    verdict = redis_connect.check(settings.redis_url) if settings.redis_url else None
    if verdict is not None and verdict.lasting:
        sys.exit(f"catfacts: CATFACTS_REDIS_URL: {verdict}")
    return settings


def options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """gunicorn's settings and hooks for catfacts, from the environment, by gunicorn's names.

    Read when serving starts (`gunicorn.conf.py`, the launcher), never at import.
    """
    settings = load_settings(os.environ if environ is None else environ)
    hooks = _Hooks(settings)
    return {
        "wsgi_app": "catfacts:create_app()",
        "bind": [f"{settings.host}:{settings.port}"],
        "worker_class": "gthread",
        "threads": settings.max_calls + SPARE_THREADS,
        "workers": settings.workers,  # WEB_CONCURRENCY, checked like every other setting
        "timeout": 120,
        "graceful_timeout": 15,
        # gunicorn's control socket lives at one path per user: two services would fight over it.
        "control_socket_disable": True,
        "on_starting": hooks.on_starting,
        "post_worker_init": hooks.post_worker_init,
        "when_ready": when_ready,
        "child_exit": child_exit,
        "on_exit": on_exit,
    }


class _Hooks:
    """The hooks that need the settings they were started with."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def on_starting(self, server: Any) -> None:
        """In the master, before any worker: check the port, then start the embedded upstream."""
        logs.configure_logging(self.settings.log_level)
        if self.settings.redis_url and (verdict := redis_connect.check(self.settings.redis_url)):
            log.warning(
                "CATFACTS_REDIS_URL: %s (starting; /readyz says not ready until it is)", verdict
            )
        server_errors.install()  # the workers, forked from here, answer gunicorn's refusals in JSON
        for address in server.cfg.address:
            if isinstance(address, tuple):  # a unix socket: gunicorn reports its own errors
                exit_if_taken(*address)
        if self.settings.upstream_url is None:
            embedded.start(self.settings)
        _fresh_metrics_dir()

    def post_worker_init(self, worker: Any) -> None:
        """On SIGTERM (a stop or a reload), drain before gunicorn stops the worker.

        gunicorn then waits for busy threads up to its graceful timeout and kills the worker; the
        drain ends every call within CATFACTS_SHUTDOWN_GRACE with a JSON 503, well before that.
        """
        services = getattr(worker.wsgi, "extensions", {}).get(EXTENSION)
        if not isinstance(services, Services):
            return
        stop_worker = signal.getsignal(signal.SIGTERM)

        def drain_then_stop(signum: int, frame: FrameType | None) -> None:
            grace = self.settings.shutdown_grace
            log.info("SIGTERM: refusing new calls, ending the others within %g s", grace)
            services.drain()
            if callable(stop_worker):
                stop_worker(signum, frame)

        signal.signal(signal.SIGTERM, drain_then_stop)


def _fresh_metrics_dir() -> None:
    """Workers write their metrics under one directory, summed at each scrape; a fresh one per
    start, so a previous run's counts never add up with this one's. An operator's own is kept."""
    if not os.environ.get(metrics.MULTIPROC_DIR):
        os.environ[metrics.MULTIPROC_DIR] = tempfile.mkdtemp(prefix="catfacts-metrics-")
        os.environ[_OWN_DIR] = os.environ[metrics.MULTIPROC_DIR]


_OWN_DIR = "CATFACTS_METRICS_DIR_OWNED"


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its live gauges (calls and slots in flight) stop counting."""
    metrics.worker_gone(worker.pid)


def when_ready(server: Any) -> None:
    for host, port in (a for a in server.cfg.address if isinstance(a, tuple)):
        log.info("catfacts serving on http://%s:%d (try %s/10)", host, port, LIMITED.path)


def on_exit(server: Any) -> None:
    embedded.stop()
    owned = os.environ.pop(_OWN_DIR, None)
    if owned is not None:
        shutil.rmtree(owned, ignore_errors=True)


def exit_if_taken(host: str, port: int) -> None:
    """Stop with one clear line when the port cannot be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "is already in use" if error.errno == errno.EADDRINUSE else error.strerror
            sys.exit(f"catfacts: CATFACTS_PORT={port}: cannot listen on {host}:{port}: {reason}")
