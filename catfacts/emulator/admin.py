"""The admin API under /__emulator__: tests steer the emulator and read what it saw.

It is not rate limited and not counted, so looking never changes what is being looked at.
"""

from __future__ import annotations

import logging

from aiohttp import web

from catfacts.emulator.state import STATE
from catfacts.errors import ConfigError

PREFIX = "/__emulator__"

log = logging.getLogger(__name__)


def add_admin_routes(app: web.Application) -> None:
    """Add the admin routes to the emulator `app`."""
    app.router.add_get(f"{PREFIX}/stats", _stats)
    app.router.add_get(f"{PREFIX}/arrivals", _arrivals)
    app.router.add_get(f"{PREFIX}/sizes", _sizes)
    app.router.add_post(f"{PREFIX}/reset", _reset)
    app.router.add_get(f"{PREFIX}/config", _get_config)
    app.router.add_put(f"{PREFIX}/config", _put_config)


async def _stats(request: web.Request) -> web.Response:
    """Answers to /fact, /v2/fact and /facts, counted by status, client, X-Request-ID and path."""
    return web.json_response(request.app[STATE].traffic.stats_json())


async def _arrivals(request: web.Request) -> web.Response:
    """`[time, status]` per request in arrival order, with the rates to check them against.

    "window" and "limit" are the first rate's, as when there could be only one, so callers that
    read them keep working; "policies" lists every rate as `[limit, window]`.

    Only the latest arrivals are kept (see `traffic`): "forgotten" says how many since the last
    reset are not listed. "peaks" count all of them: for each rate, the most arrivals ("all")
    and the most 200s ("ok") in any of its windows, and whether those counts are "exact".
    """
    state = request.app[STATE]
    traffic = state.traffic
    first = state.rates[0]
    peaks = {peak["window"]: peak for peak in traffic.peaks()}
    body = {
        "arrivals": traffic.arrivals_json(),
        "window": first.window,
        "limit": first.limit,
        "policies": [[rate.limit, rate.window] for rate in state.rates],
        "forgotten": traffic.forgotten,
        "peaks": [{"limit": rate.limit, **peaks[rate.window]} for rate in state.rates],
    }
    return web.json_response(body)


async def _sizes(request: web.Request) -> web.Response:
    """How many entries each structure that grows with traffic holds, and the bounds."""
    return web.json_response(request.app[STATE].sizes_json())


async def _reset(request: web.Request) -> web.Response:
    """Clear the counters, the arrivals and the rate windows; the settings stay."""
    request.app[STATE].reset()
    return web.json_response({"message": "Counters, arrivals and rate windows cleared."})


async def _get_config(request: web.Request) -> web.Response:
    """The current settings, so a test can see what it runs against."""
    return web.json_response(request.app[STATE].config_json())


async def _put_config(request: web.Request) -> web.Response:
    """Change any of the settings named in the JSON body; 400 and no change if one is bad."""
    state = request.app[STATE]
    try:
        changes = await request.json()
    except ValueError:
        changes = None
    if not isinstance(changes, dict):
        return _bad_request("the body must be a JSON object of settings")
    try:
        state.configure(changes)
    except ConfigError as error:
        return _bad_request(str(error))
    log.info("configured %s", changes)
    return web.json_response(state.config_json())


def _bad_request(message: str) -> web.Response:
    return web.json_response({"message": message}, status=400)
