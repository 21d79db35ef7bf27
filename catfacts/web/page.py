"""The page at `/`: run the strategies and watch each one's waterfall.

One template and a small script, no build step: the page reads the same streamed answers with
timelines (`Accept: application/x-ndjson`, `?trace=1`) that any caller can ask for, so what it
draws is what the service recorded, whichever worker answered. The budget strip above the lanes
reads `GET /budget` as any caller can, and the ETA marker each streamed line's `eta`.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from catfacts.strategies import STRATEGIES
from catfacts.web.extension import current_services

bp = Blueprint("page", __name__)


@bp.get("/")
def waterfall() -> str:
    services = current_services()
    limit, window = services.dispatcher.rate  # as learned, when CATFACTS_RATE_LIMIT=auto
    return render_template(
        "waterfall.html",
        strategies={name: (info.label, info.path) for name, info in STRATEGIES.items()},
        max_facts=services.settings.max_facts,
        limit=limit,
        per_window=per_window(window),
        window=window,
    )


def per_window(seconds: float) -> str:
    """The limit as people say it: "a second", "a minute", or "per 30 seconds"."""
    named = {1.0: "a second", 60.0: "a minute", 3600.0: "an hour"}
    return named.get(seconds) or f"per {seconds:g} seconds"
