"""The HTTP face of the service: a liveness check and the three strategies side by side.

Every fact endpoint answers a JSON array of facts, with the call's metadata in headers; every
failure is raised as a `CatFactsError` and answered by the handlers in `errors`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from catfacts import hangup, logs
from catfacts.errors import BadRequest, CatFactsError, ClientGone, ServiceUnavailable
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
    caller = hangup.client_socket(request.environ)

    def interrupted() -> CatFactsError | None:
        if services.admission.closing:
            return ServiceUnavailable("the service is shutting down")
        return ClientGone("the caller hung up") if hangup.hung_up(caller) else None

    return _serve(n, lambda: fetch_one_by_one(services.sync_upstream, n, interrupted))


@bp.get("/cat_async/<int:n>")
def cat_async(n: int) -> Response:
    """n requests at once; refused ones are dropped, so fewer facts may come back."""
    upstream = current_services().async_upstream
    return _serve(n, lambda: _on_loop(fetch_all_at_once(upstream, n), upstream.timeout))


@bp.get("/cat_async_limited/<int:n>")
def cat_async_limited(n: int) -> Response:
    """Exactly n facts, as fast as the upstream limit allows and never faster."""
    services = current_services()
    deadline = _deadline(services.settings.call_deadline)
    client = g.get("client", "")  # set by `access`: whose turn the call takes
    return _serve(n, lambda: _on_loop(services.dispatcher.fetch(n, deadline, client)))


def _serve(n: int, fetch: Callable[[], list[str]]) -> Response:
    """Check n, let the call in (or refuse it at once), fetch, and answer."""
    services = current_services()
    if n > services.settings.max_facts:
        raise BadRequest(
            f"n must be at most {services.settings.max_facts} (CATFACTS_MAX_FACTS); got {n}"
        )
    if request.method == "HEAD":
        return _facts_headers(Response(content_type="application/json"), n)  # spends nothing
    with services.admission.admit():
        facts = fetch()
    elapsed = (time.perf_counter() - g.started) * 1000
    log.info("%s: %d of %d facts in %.1f ms", request.path, len(facts), n, elapsed)
    response = _facts_headers(jsonify(facts), n)
    response.headers["X-Facts-Returned"] = str(len(facts))
    return response


def _on_loop(work: Coroutine[Any, Any, list[str]], timeout: float | None = None) -> list[str]:
    """Run `work` on the background loop; the caller hanging up cancels it."""
    caller = hangup.client_socket(request.environ)
    bound = None if timeout is None else timeout + _LOOP_GRACE
    return current_services().loop.run(hangup.cancel_on_hangup(work, caller), bound)


def _deadline(default: float | None) -> float | None:
    """The caller's `?deadline=` in seconds, else the configured one, else none."""
    raw = request.args.get("deadline")
    if raw is None:
        return default
    try:
        deadline = float(raw)
    except ValueError:
        deadline = math.nan
    if not 0 < deadline < math.inf:
        raise BadRequest(f"deadline must be a positive number of seconds; got {raw!r}")
    return deadline


def _facts_headers(response: Response, n: int) -> Response:
    response.headers["X-Facts-Requested"] = str(n)
    return response
