"""The HTTP face of the service: a liveness check and the three strategies side by side.

Every fact endpoint (one per row of `strategies.table`) answers a JSON array of facts, with the
call's metadata in headers; every failure is raised as a `CatFactsError` and answered by the
handlers in `errors`. Two ways to see more: `?trace=1` adds the call's timeline (`{"facts": [...],
"trace": {...}}`, or a `trace` field in an error), and `Accept: application/x-ndjson` streams the
facts as they come (`streaming`). The views call every strategy the same way (`strategies.base`).
"""

from __future__ import annotations

import logging
import socket
import time
from contextlib import ExitStack

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.routing import IntegerConverter

from catfacts import logs
from catfacts.errors import BadRequest, CatFactsError, ClientGone, NotServed, shutting_down
from catfacts.observe.timeline import Timeline
from catfacts.services import Services
from catfacts.settings import positive_seconds
from catfacts.strategies import (
    JSON,
    LIMITED,
    NDJSON,
    STRATEGIES,
    Info,
    Order,
    Runner,
    Strategy,
)
from catfacts.web import hangup
from catfacts.web.extension import current_services
from catfacts.web.streaming import FactStream

log = logging.getLogger(__name__)


class AsciiInt(IntegerConverter):
    """`<int:n>` of ASCII digits only: werkzeug's takes any Unicode digit, which nobody means."""

    regex = r"[0-9]+"


bp = Blueprint("facts", __name__)
# The fact endpoints by their Flask names, for access and the inbound limits.
FACT_ENDPOINTS = frozenset(f"{bp.name}.{name}" for name in STRATEGIES)


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


def _fact_view(info: Info) -> None:
    """`GET <path>/<n>`: n facts by the strategy `info` names."""

    def view(n: int) -> Response:
        return _serve(info, n)

    view.__doc__ = info.description
    bp.add_url_rule(f"{info.path}/<int:n>", info.name, view, methods=["GET"])


for _info in STRATEGIES.values():
    _fact_view(_info)


def _serve(info: Info, n: int) -> Response:
    """Check the call, let it in (or refuse it at once), fetch, and answer."""
    services = current_services()
    strategy = services.strategies.get(info.name)
    if strategy is None:
        raise NotServed(
            f"{info.path}/<n> is not served here (CATFACTS_UNLIMITED_STRATEGIES=off): "
            f"{LIMITED.path}/{n} fetches all {n} within the upstream's limit"
        )
    deadline = _deadline(services.settings.call_deadline) if info.takes_deadline else None
    at_most(n, services.settings.max_facts)
    streamed = request.accept_mimetypes.best_match([JSON, NDJSON]) == NDJSON
    trace = _trace()
    if request.method == "HEAD":  # spends nothing
        return _facts_headers(Response(content_type=NDJSON if streamed else JSON), n)
    caller = hangup.client_socket(request.environ)
    order = _order(services, info, n, deadline, caller)
    runner = hangup.CallerLoop(services.loop, caller)
    if streamed:
        return _stream(strategy, order, runner, trace)
    with services.admission.admit():
        try:
            facts = strategy.collect(order, runner)
        except CatFactsError as error:
            order.timeline.close()
            raise error.with_details(trace=order.timeline.to_json()) if trace else error from None
    order.timeline.close()
    elapsed = (time.perf_counter() - g.started) * 1000
    log.info("%s: %d of %d facts in %.1f ms", request.path, len(facts), n, elapsed)
    body = {"facts": facts, "trace": order.timeline.to_json()} if trace else facts
    response = _facts_headers(jsonify(body), n, order)
    response.headers["X-Facts-Returned"] = str(len(facts))
    return response


def at_most(n: int, max_facts: int) -> None:
    """n within the cap a call may ask for (a fact path's n, `/budget`'s ?n=), or a 400."""
    if n > max_facts:
        raise BadRequest(f"n must be at most {max_facts} (CATFACTS_MAX_FACTS); got {n}")


def _order(
    services: Services, info: Info, n: int, deadline: float | None, caller: socket.socket | None
) -> Order:
    """The call as every strategy takes it; the rate in force is the dispatcher's (configured,
    or as the upstream announced it)."""
    closing = services.admission.closing

    def interrupted() -> CatFactsError | None:
        if closing.closed:
            return shutting_down()
        return ClientGone("the caller hung up") if hangup.hung_up(caller) else None

    timeline = Timeline(info.name, n, g.request_id, services.dispatcher.rate)
    client = g.get("client", "")  # set by `access`: whose turn the call takes
    return Order(n, timeline, deadline, client, interrupted)


def _stream(strategy: Strategy, order: Order, runner: Runner, trace: bool) -> Response:
    """Hold an admission place until the stream ends, however it ends."""
    held = ExitStack()
    held.enter_context(current_services().admission.admit())
    try:
        events = strategy.stream(order, runner, trace)
        body = FactStream(events, order.timeline, trace, held.close, order.estimate)
    except BaseException:
        held.close()
        raise
    response = _facts_headers(Response(body, content_type=NDJSON), order.n, order)
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each line on as it comes
    response.headers["Cache-Control"] = "no-store"
    return response


# Exactly these, as /openapi.json says: a description that fuzzing holds to what is served.
_TRUE, _FALSE = ("1", "true"), ("0", "false")


def _trace() -> bool:
    """`?trace=1` asks for the call's timeline with the facts."""
    raw = request.args.get("trace")
    if raw is None or raw in _FALSE:
        return False
    if raw in _TRUE:
        return True
    raise BadRequest(f"trace must be 1 or 0 (true or false); got {raw!r}")


def _deadline(default: float | None) -> float | None:
    """The caller's `?deadline=` in seconds, else the configured one, else none."""
    raw = request.args.get("deadline")
    if raw is None:
        return default
    try:
        return positive_seconds(raw)
    except ValueError:
        raise BadRequest(f"deadline must be a positive number of seconds; got {raw!r}") from None


def _facts_headers(response: Response, n: int, order: Order | None = None) -> Response:
    """The call's metadata; `X-Facts-Estimate`, the seconds it was expected to take when it was
    let in, where the strategy estimates (the limited one)."""
    response.headers["X-Facts-Requested"] = str(n)
    first = None if order is None else order.estimate.first
    if first is not None:
        response.headers["X-Facts-Estimate"] = f"{first:.2f}"
    response.headers["Vary"] = "Accept"
    return response
