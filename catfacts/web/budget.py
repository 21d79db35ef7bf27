"""`GET /budget?n=`: the budget as it stands, seen without spending any of it.

A thin view over the engine's peek (`strategies.limited.budget`): it checks n as the fact paths
do, and asks the dispatcher on its loop. Nothing is sent upstream and no slot is taken. With API
keys configured it asks for one like the fact endpoints (`access`): it names the clients with
calls in flight and says what a call of this client's would wait, so it is theirs to see.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, jsonify, request

from catfacts.errors import BadRequest
from catfacts.web.extension import current_services
from catfacts.web.views import at_most

bp = Blueprint("budget", __name__)

PEEK_TIMEOUT = 5.0  # seconds: a look at the limiter is one Redis round trip at most
_DIGITS = re.compile(r"[0-9]{1,7}")


@bp.get("/budget")
def budget() -> Response:
    """The rate in force and why, who is using it, and how long a call of n would take now."""
    services = current_services()
    n = _n(services.settings.max_facts)
    client = g.get("client", "")  # set by `access`, as for a fact call
    seen = services.loop.run(services.dispatcher.budget(client, n), PEEK_TIMEOUT)
    response = jsonify(seen.to_json())
    response.headers["Cache-Control"] = "no-store"
    return response


def _n(max_facts: int) -> int:
    """`?n=` as the fact paths take n: a whole number up to CATFACTS_MAX_FACTS; 1 if absent."""
    raw = request.args.get("n")
    if raw is None:
        return 1
    if not _DIGITS.fullmatch(raw):
        raise BadRequest(f"n must be a whole number from 0 to {max_facts}; got {raw[:20]!r}")
    n = int(raw)
    at_most(n, max_facts)
    return n
