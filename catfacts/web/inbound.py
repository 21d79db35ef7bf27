"""Per-client inbound limits on the fact endpoints (`CATFACTS_INBOUND_LIMIT`), with Flask-Limiter.

The client is the one `access` names (API key digest, else address), so one client's burst is
refused before it takes turns from the others. With Redis configured, the counts live there, so
every worker and host enforces one limit per client. A moving window, like the upstream limiter:
never more than the limit in any interval, not twice the limit across a window's edge.

Answers carry the IETF draft's structured fields, `RateLimit-Policy: "inbound";q=10;w=1` and
`RateLimit: "inbound";r=7;t=1`; a refusal is a JSON 429 with `Retry-After`. If the counts cannot
be reached (Redis down), calls go on unlimited here: the limited strategy refuses them anyway.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, g, request
from flask_limiter import ApplicationLimit, Limiter, RequestLimit

from catfacts.observe import metrics
from catfacts.settings import Settings
from catfacts.web.views import FACT_ENDPOINTS

log = logging.getLogger(__name__)

POLICY = "inbound"


def register(app: Flask, settings: Settings) -> None:
    if settings.inbound_limit is None:
        return
    limiter = Limiter(
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
        storage_uri=settings.redis_url or "memory://",
        storage_options={"socket_timeout": 1, "socket_connect_timeout": 1}
        if settings.redis_url
        else {},
        headers_enabled=False,  # its X-RateLimit-* set Retry-After on every answer; ours below
        swallow_errors=True,
        on_breach=_breached,
    )

    def stamp(response: Response) -> Response:
        current = limiter.current_limit
        if current is None:
            return response
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
