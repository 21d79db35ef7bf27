"""Per-client inbound limits on the fact endpoints (`CATFACTS_INBOUND_LIMIT`), with Flask-Limiter.

The client is the one `access` names (API key digest, else address), so one client's burst is
refused before it takes turns from the others. With Redis configured, the counts live there, so
every worker and host enforces one limit per client. A moving window, like the upstream limiter:
never more than the limit in any interval, not twice the limit across a window's edge.

Answers carry the IETF draft's structured fields, `RateLimit-Policy: "inbound";q=10;w=1` and
`RateLimit: "inbound";r=7;t=1`; a refusal is a JSON 429 with `Retry-After`. If the counts cannot
be reached (Redis down), calls go on unlimited here, and the log says so with the cause, once a
minute while it lasts; the limited strategy refuses them anyway. The counts use the Redis
`CATFACTS_REDIS_URL` names in any of its forms (`redis_connect.for_limits`): a Cluster through
any node, a master through its Sentinels, TLS.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import flask_limiter
from flask import Flask, Response, current_app, g, has_app_context, request
from flask_limiter import ApplicationLimit, RequestLimit

from catfacts import redis_connect
from catfacts.observe import metrics
from catfacts.settings import Settings
from catfacts.web import inbound_memory
from catfacts.web.views import FACT_ENDPOINTS

log = logging.getLogger(__name__)

POLICY = "inbound"
OFF = "catfacts.inbound.off"  # the app's `_Off`, when its counts live in Redis
WARN_EVERY = 60.0  # seconds between two warnings while the counts stay out of reach


def register(app: Flask, settings: Settings) -> None:
    if settings.inbound_limit is None:
        return
    storage_uri, storage_options = f"{inbound_memory.SCHEME}://", dict[str, Any]()
    if settings.redis_url:
        storage_uri, storage_options = redis_connect.for_limits(settings.redis_url)
        app.extensions[OFF] = _Off(settings.inbound_limit, redis_connect.parse(settings.redis_url))
    # Flask-Limiter's class, named in full: `catfacts.limiter.Limiter` is the upstream's budget.
    inbound = flask_limiter.Limiter(
        key_func=lambda: str(g.get("client", request.remote_addr)),
        app=app,
        # One limit per client over every fact endpoint together, not one per endpoint.
        application_limits=[
            ApplicationLimit(
                settings.inbound_limit,
                scope=POLICY,
                error_message=f"this client's limit of {settings.inbound_limit} calls is spent "
                "(CATFACTS_INBOUND_LIMIT); see Retry-After",
                exempt_when=lambda: request.endpoint not in FACT_ENDPOINTS,
            )
        ],
        strategy="moving-window",
        storage_uri=storage_uri,
        storage_options=storage_options,
        headers_enabled=False,  # its X-RateLimit-* set Retry-After on every answer; ours below
        swallow_errors=True,  # a call goes on unlimited; `_Told` makes it say so in our log
        on_breach=_breached,
    )
    if not any(isinstance(handler, _Told) for handler in inbound.logger.handlers):
        inbound.logger.addHandler(_Told())

    def stamp(response: Response) -> Response:
        current = inbound.current_limit
        if current is None:
            return response
        if (off := app.extensions.get(OFF)) is not None:
            off.counted()
        window = current.limit.get_expiry()
        try:
            reset_time = current.window.reset_time
        except Exception as error:  # the counts' storage (Redis) is gone: answer without them
            log.warning("no RateLimit fields: the inbound counts cannot be read (%r)", error)
            return response
        # Seconds until the oldest counted call leaves the window, at most the window.
        reset = min(max(math.ceil(reset_time - time.time()), 0), window)
        response.headers["RateLimit-Policy"] = f'"{POLICY}";q={current.limit.amount};w={window}'
        response.headers["RateLimit"] = f'"{POLICY}";r={current.remaining};t={reset}'
        if response.status_code == 429:
            response.headers["Retry-After"] = str(max(reset, 1))
        return response

    app.after_request(stamp)


def _breached(limit: RequestLimit) -> None:
    metrics.refused("inbound_limit")
    log.info("%s: the client's inbound limit (%s) is spent", request.path, limit.limit)


class _Off:
    """Whether an app's inbound limit is off because its counts cannot be reached, and since
    when it last said so."""

    def __init__(self, limit: str, form: redis_connect.RedisForm) -> None:
        self.limit, self.form = limit, form
        self._lock = threading.Lock()
        self._off = False
        self._warned = -WARN_EVERY

    def failed(self, error: BaseException | None) -> None:
        cause = redis_connect.explain(error, self.form) if error else "unknown error"
        with self._lock:
            now = time.monotonic()
            if now - self._warned < WARN_EVERY:
                return
            self._off, self._warned = True, now
        log.warning(
            "the inbound limit (%s) is OFF: calls go through unlimited until Redis answers: %s",
            self.limit,
            cause,
        )

    def counted(self) -> None:
        with self._lock:
            if not self._off:
                return
            self._off, self._warned = False, -WARN_EVERY
        log.warning("the inbound limit (%s) is on again: Redis answers", self.limit)


class _Told(logging.Handler):
    """flask-limiter logs a storage failure it swallows to its own logger, which nothing shows:
    tell ours, once a minute while it lasts, with the cause as `redis_connect` tells it."""

    def emit(self, record: logging.LogRecord) -> None:
        off = current_app.extensions.get(OFF) if has_app_context() else None
        if isinstance(off, _Off) and record.exc_info:
            off.failed(record.exc_info[1])
