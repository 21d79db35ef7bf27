"""The HTTP face of the service: a liveness check and the three strategies side by side.

Every fact endpoint answers a JSON array of facts, with the call's metadata in headers; every
failure is raised as a `CatFactsError` and answered by the handlers in `errors`. Two ways to see
more: `?trace=1` adds the call's timeline (`{"facts": [...], "trace": {...}}`, or a `trace` field
in an error), and `Accept: application/x-ndjson` streams the facts as they come (`streaming`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.routing import IntegerConverter

from catfacts import logs
from catfacts.errors import BadRequest, CatFactsError, ClientGone, ServiceUnavailable
from catfacts.observe.timeline import Timeline
from catfacts.settings import positive_seconds
from catfacts.strategies.all_at_once import fetch_all_at_once
from catfacts.strategies.base import OnFact
from catfacts.strategies.one_by_one import one_by_one
from catfacts.web import hangup
from catfacts.web.extension import current_services
from catfacts.web.streaming import NDJSON, FactStream, OnLoop, in_thread

log = logging.getLogger(__name__)
T = TypeVar("T")


class AsciiInt(IntegerConverter):
    """`<int:n>` of ASCII digits only: werkzeug's takes any Unicode digit, which nobody means."""

    regex = r"[0-9]+"


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

    def facts(timeline: Timeline) -> Iterator[str]:
        return one_by_one(services.sync_upstream, n, timeline, interrupted)

    return _serve(Run(n, "one_by_one", _rate(), in_thread=facts))


@bp.get("/cat_async/<int:n>")
def cat_async(n: int) -> Response:
    """n requests at once; refused ones are dropped, so fewer facts may come back."""
    upstream = current_services().async_upstream

    def work(timeline: Timeline, on_fact: OnFact | None) -> Coroutine[Any, Any, list[str]]:
        return fetch_all_at_once(upstream, n, timeline, on_fact)

    # n requests go out `connections` at a time, each within the upstream time-out.
    rounds = max(math.ceil(n / upstream.connections), 1)
    return _serve(Run(n, "all_at_once", _rate(), on_loop=work, timeout=rounds * upstream.timeout))


@bp.get("/cat_async_limited/<int:n>")
def cat_async_limited(n: int) -> Response:
    """Exactly n facts, as fast as the upstream limit allows and never faster."""
    services = current_services()
    deadline = _deadline(services.settings.call_deadline)
    dispatcher = services.dispatcher
    client = g.get("client", "")  # set by `access`: whose turn the call takes

    def work(timeline: Timeline, on_fact: OnFact | None) -> Coroutine[Any, Any, list[str]]:
        return dispatcher.fetch(n, deadline, timeline, on_fact, client)

    def admit() -> Coroutine[Any, Any, None]:
        return dispatcher.admit(n, deadline, client)

    return _serve(Run(n, "limited", dispatcher.rate, on_loop=work, admit=admit))


class Run:
    """One fact call as a view runs it: its strategy, in this thread or on the background loop."""

    def __init__(
        self,
        n: int,
        strategy: str,
        rate: tuple[int, float],
        *,
        in_thread: Callable[[Timeline], Iterator[str]] | None = None,
        on_loop: Callable[[Timeline, OnFact | None], Coroutine[Any, Any, list[str]]] | None = None,
        timeout: float | None = None,
        admit: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.n = n
        self.timeline = Timeline(strategy, n, g.request_id, rate)
        self.in_thread = in_thread
        self.on_loop = on_loop
        self.timeout = timeout
        self.admit = admit

    def collect(self) -> list[str]:
        """All the facts, in this thread; the caller hanging up cancels work on the loop."""
        if self.in_thread is not None:
            return list(self.in_thread(self.timeline))
        assert self.on_loop is not None
        return _on_loop(self.on_loop(self.timeline, None), self.timeout)

    def stream(self, trace: bool, on_close: Callable[[], None]) -> FactStream:
        if self.in_thread is not None:
            events = in_thread(self.in_thread(self.timeline), self.timeline, trace)
            return FactStream(events, self.timeline, trace, on_close)
        assert self.on_loop is not None
        if self.admit is not None:  # a refusal is still a 503, before the 200 goes out
            _on_loop(self.admit())
        on_loop = self.on_loop
        timeline = self.timeline
        source = OnLoop(
            current_services().loop,
            lambda on_fact: on_loop(timeline, on_fact),
            timeline,
            hangup.client_socket(request.environ),
            trace,
        )

        def close() -> None:
            source.close()
            on_close()

        return FactStream(source.events(), timeline, trace, close)


def _serve(call: Run) -> Response:
    """Check n, let the call in (or refuse it at once), fetch, and answer."""
    services, n = current_services(), call.n
    if n > services.settings.max_facts:
        raise BadRequest(
            f"n must be at most {services.settings.max_facts} (CATFACTS_MAX_FACTS); got {n}"
        )
    streamed = request.accept_mimetypes.best_match(["application/json", NDJSON]) == NDJSON
    trace = _trace()
    if request.method == "HEAD":  # spends nothing
        return _facts_headers(Response(content_type=NDJSON if streamed else "application/json"), n)
    if streamed:
        return _stream(call, trace)
    with services.admission.admit():
        try:
            facts = call.collect()
        except CatFactsError as error:
            call.timeline.close()
            raise error.detail(trace=call.timeline.to_json()) if trace else error from None
    call.timeline.close()
    elapsed = (time.perf_counter() - g.started) * 1000
    log.info("%s: %d of %d facts in %.1f ms", request.path, len(facts), n, elapsed)
    body = {"facts": facts, "trace": call.timeline.to_json()} if trace else facts
    response = _facts_headers(jsonify(body), n)
    response.headers["X-Facts-Returned"] = str(len(facts))
    return response


def _stream(call: Run, trace: bool) -> Response:
    """Hold an admission place until the stream ends, however it ends."""
    held = ExitStack()
    held.enter_context(current_services().admission.admit())
    try:
        body = call.stream(trace, held.close)
    except BaseException:
        held.close()
        raise
    response = _facts_headers(Response(body, content_type=NDJSON), call.n)
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each line on as it comes
    response.headers["Cache-Control"] = "no-store"
    return response


def _on_loop(work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run `work` on the background loop; the caller hanging up cancels it."""
    caller = hangup.client_socket(request.environ)
    bound = None if timeout is None else timeout + _LOOP_GRACE
    return current_services().loop.run(hangup.cancel_on_hangup(work, caller), bound)


def _rate() -> tuple[int, float]:
    """The rate in force: configured, or as the upstream announced it."""
    return current_services().dispatcher.rate


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


def _facts_headers(response: Response, n: int) -> Response:
    response.headers["X-Facts-Requested"] = str(n)
    response.headers["Vary"] = "Accept"
    return response
