"""The emulated Cat Facts API: /fact and /facts behind Laravel's throttle, as on catfact.ninja.

Its rate-limit headers are Laravel's too, unless another dialect is chosen (`dialects`); the
`proxy` dialect puts nginx's `limit_req` in front instead of the throttle. With `redirect` set,
/fact sends its callers to /v2/fact, and each hop is limited and counted on its own.

The middlewares run in Laravel's order: routing errors become JSON, then the rate limiter decides
before any latency or fault, so a request that passed it counts even when a fault follows.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import re
import time
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from catfacts.emulator.admin import add_admin_routes
from catfacts.emulator.config import EmulatorConfig, Fate, Redirect
from catfacts.emulator.dialects import Dialect, rate_headers
from catfacts.emulator.pagination import paginate
from catfacts.emulator.state import STATE, EmulatorState
from catfacts.emulator.throttle import Clock

THROTTLED_ROUTES = frozenset({"fact", "fact_v2", "facts"})
# Where /fact redirects to when `redirect` is set; it does not exist otherwise, as on the real API.
FACT_V2_PATH = "/v2/fact"
DEFAULT_PER_PAGE = 10
# The status the traffic log records for a dropped request, which gets no answer at all: nginx's
# 444 "Connection Closed Without Response", the code of a server that closes the connection instead.
DROPPED_STATUS = 444

# nginx's page for a 429 (`limit_req_status 429;`): its error page and its tail, byte for byte.
NGINX_429_PAGE = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
# The page of Symfony's RedirectResponse, which Laravel's redirects send.
REDIRECT_PAGE = """<!DOCTYPE html>
<html>
    <head>
        <meta charset="UTF-8" />
        <meta http-equiv="refresh" content="0;url='{url}'" />

        <title>Redirecting to {url}</title>
    </head>
    <body>
        Redirecting to <a href="{url}">{url}</a>.
    </body>
</html>"""

# Laravel sends compact JSON, without spaces after separators.
_compact_json = functools.partial(json.dumps, separators=(",", ":"))


def create_emulator_app(
    config: EmulatorConfig, *, clock: Clock = time.monotonic
) -> web.Application:
    """Build the emulator; `clock` times the rate windows and the arrivals."""
    app = web.Application(middlewares=[_json_errors, _unmoved, _throttle])
    app[STATE] = EmulatorState(config, clock=clock)
    app.router.add_get("/fact", _fact, name="fact")
    app.router.add_get(FACT_V2_PATH, _get_fact, name="fact_v2")
    app.router.add_get("/facts", _list_facts, name="facts")
    add_admin_routes(app)
    return app


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer routing errors in JSON, as a Laravel API does, rather than in aiohttp's plain text."""
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed as error:
        allowed = ", ".join(sorted(error.allowed_methods))
        route = request.path.lstrip("/")
        message = f"The {request.method} method is not supported for route {route}. "
        message += f"Supported methods: {allowed}."
        return _json({"message": message}, status=405, headers={"Allow": allowed})
    except web.HTTPNotFound:
        return _json({"message": "Not Found"}, status=404)


@web.middleware
async def _unmoved(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keep /v2/fact unknown, with any method, unless /fact redirects to it."""
    if request.path == FACT_V2_PATH and request.app[STATE].config.redirect is None:
        raise web.HTTPNotFound()
    return await handler(request)


@web.middleware
async def _throttle(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate-limit /fact, /v2/fact and /facts per client IP; record every request and its answer."""
    if request.match_info.route.name not in THROTTLED_ROUTES:
        return await handler(request)
    state = request.app[STATE]
    arrival = state.traffic.arrive(state.clock())
    client = request.remote or "unknown"
    dialect = state.config.dialect
    if dialect is Dialect.PROXY:
        response = await _behind_nginx(state, client, request, handler)
    else:
        response = await _behind_laravel(state, dialect, client, request, handler)
    request_id = request.headers.get("X-Request-ID")
    state.traffic.answered(arrival, response.status, client, request_id, path=request.path)
    return response


async def _behind_laravel(
    state: EmulatorState, dialect: Dialect, client: str, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Laravel's throttle: its JSON 429, and the dialect's rate-limit headers on every answer."""
    decision = state.throttle.hit(client)
    response = await handler(request) if decision.allowed else _too_many_attempts()
    response.headers.update(rate_headers(dialect, decision))
    return response


async def _behind_nginx(
    state: EmulatorState, client: str, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """nginx's `limit_req` in front: it says nothing of its limits, even when it refuses."""
    if state.bucket.hit(client):
        return await handler(request)
    # Bytes, so that the type is nginx's bare "text/html", without aiohttp's charset.
    return web.Response(status=429, body=NGINX_429_PAGE.encode(), content_type="text/html")


def _too_many_attempts() -> web.Response:
    return _json({"message": "Too Many Attempts."}, status=429)


async def _fact(request: web.Request) -> web.Response:
    """/fact: a fact, or a redirect to /v2/fact when the route has moved."""
    state = request.app[STATE]
    redirect = state.config.redirect
    if redirect is None:
        return await _get_fact(request)
    await _wait(state.faults.for_redirect().delay)
    return _moved(request, redirect)


def _moved(request: web.Request, redirect: Redirect) -> web.Response:
    """A 307 or 308 to /v2/fact with the same query, as Laravel's redirect sends it."""
    query = request.rel_url.raw_query_string
    location = f"{FACT_V2_PATH}?{query}" if query else FACT_V2_PATH
    return web.Response(
        status=redirect.status,
        text=REDIRECT_PAGE.format(url=html.escape(location)),
        content_type="text/html",
        headers={"Location": location},
    )


async def _get_fact(request: web.Request) -> web.Response:
    """A random fact, unless the fault injector decided this request fails."""
    state = request.app[STATE]
    outcome = state.faults.for_fact()
    await _wait(outcome.delay)
    if outcome.fate in (Fate.OK, Fate.SLOW):
        return _random_fact(state, request)
    if outcome.fate is Fate.DROP:
        return _drop(request)
    return _fault(outcome.fate)


def _random_fact(state: EmulatorState, request: web.Request) -> web.Response:
    fact = state.catalog.pick(_max_length(request))
    if fact is None:
        return _json({"message": "Fact not found"}, status=404)
    fact = state.tag(fact, request.headers.get("X-Request-ID"))
    return _json({"fact": fact, "length": len(fact)})


def _drop(request: web.Request) -> web.Response:
    """Close the connection unanswered, as a server or proxy that counted the request might.

    The response returned only tells `_throttle` what to record: with the transport closed,
    aiohttp fails to write it, takes that as the client gone, and drops the connection quietly.
    """
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=DROPPED_STATUS, reason="Connection Closed Without Response")


def _fault(fate: Fate) -> web.Response:
    if fate is Fate.ERROR:
        return _json({"message": "Server Error"}, status=500)
    if fate is Fate.MALFORMED:
        return web.Response(text="<html>oops", content_type="text/html")
    return _json({"length": 0})  # Fate.MISSING_FACT


async def _list_facts(request: web.Request) -> web.Response:
    """A page of facts in Laravel's paginated envelope, with URLs on the host the client used."""
    state = request.app[STATE]
    await _wait(state.faults.for_listing().delay)
    facts = state.catalog.listing(_max_length(request))
    body = paginate(
        [{"fact": fact, "length": len(fact)} for fact in facts],
        page=_positive_int(request, "page", default=1),
        per_page=_positive_int(request, "limit", default=DEFAULT_PER_PAGE),
        path=f"{request.scheme}://{request.host}{request.path}",
    )
    return _json(body)


async def _wait(delay: float) -> None:
    if delay > 0:
        await asyncio.sleep(delay)


# Up to 18 digits: any such value fits the 64-bit column the real API compares it with.
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def _max_length(request: web.Request) -> int | None:
    """`max_length` from the query; None when absent.

    A value that is not an integer compares as 0, as MySQL casts it under Laravel, so no fact
    fits: /fact answers 404 and /facts an empty page.
    """
    raw = request.query.get("max_length")
    if raw is None:
        return None
    return int(raw) if _INTEGER.fullmatch(raw) else 0


def _positive_int(request: web.Request, name: str, *, default: int) -> int:
    """A query value that must be an integer >= 1, or else is `default`, as Laravel reads `page`."""
    raw = request.query.get(name, "")
    value = int(raw) if _INTEGER.fullmatch(raw) else default
    return value if value >= 1 else default


def _json(
    body: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_compact_json)
