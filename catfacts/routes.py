"""The HTTP face of the service: a liveness check and the three strategies side by side.

Every fact endpoint answers a JSON array of facts, with the call's metadata in headers; every
failure is raised as a `CatFactsError` and answered by the handlers in `errors`.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, g, jsonify, request

from catfacts import logs
from catfacts.errors import BadRequest
from catfacts.services import current_services
from catfacts.strategies.all_at_once import fetch_all_at_once
from catfacts.strategies.one_by_one import fetch_one_by_one

log = logging.getLogger(__name__)
bp = Blueprint("facts", __name__)

# Waiting for the background loop a little longer than the upstream timeout turns a loop that is
# somehow stuck into a clear error rather than a hung request.
_LOOP_GRACE = 5.0


@bp.before_app_request
def _start_call() -> None:
    g.request_id = logs.choose_request_id(request.headers.get("X-Request-ID"))
    g.started = time.perf_counter()
    logs.request_id.set(g.request_id)


@bp.after_app_request
def _stamp_call(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    response.headers["Server-Timing"] = f"total;dur={elapsed:.1f}"
    return response


@bp.get("/hello/", strict_slashes=False)
def hello() -> str:
    return "Hello"


@bp.get("/cat/<int:n>")
def cat(n: int) -> Response:
    """n facts, one request after another."""
    services = current_services()
    _check_count(n, services.settings.max_facts)
    return _facts_response(n, fetch_one_by_one(services.sync_upstream, n))


@bp.get("/cat_async/<int:n>")
def cat_async(n: int) -> Response:
    """n requests at once; refused ones are dropped, so fewer facts may come back."""
    services = current_services()
    _check_count(n, services.settings.max_facts)
    upstream = services.async_upstream
    facts = services.loop.run(fetch_all_at_once(upstream, n), upstream.timeout + _LOOP_GRACE)
    return _facts_response(n, facts)


@bp.get("/cat_async_limited/<int:n>")
def cat_async_limited(n: int) -> Response:
    """Exactly n facts, as fast as the upstream limit allows and never faster."""
    services = current_services()
    _check_count(n, services.settings.max_facts)
    # The dispatcher holds each call to its deadline (configured, or derived from the queue).
    facts = services.loop.run(services.dispatcher.fetch(n, services.settings.call_deadline))
    return _facts_response(n, facts)


def _check_count(n: int, cap: int) -> None:
    if n > cap:
        raise BadRequest(f"n must be at most {cap} (CATFACTS_MAX_FACTS); got {n}")


def _facts_response(n: int, facts: list[str]) -> Response:
    elapsed = (time.perf_counter() - g.started) * 1000
    log.info("%s: %d of %d facts in %.1f ms", request.path, len(facts), n, elapsed)
    response = jsonify(facts)
    response.headers["X-Facts-Requested"] = str(n)
    response.headers["X-Facts-Returned"] = str(len(facts))
    return response
