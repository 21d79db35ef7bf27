"""The Flask app over the engine: the views, the page, the operator's endpoints, the JSON errors.

`build_app` is given what it serves (the settings, the upstream's URL): where they come from, and
the embedded upstream's start, are for whoever serves it (`catfacts.create_app`).
"""

from __future__ import annotations

from flask import Flask

from catfacts.services import Services
from catfacts.settings import Settings
from catfacts.web import access, budget, inbound, openapi, operator, page, proxy, views
from catfacts.web.errors import register_error_handlers
from catfacts.web.extension import EXTENSION


def build_app(settings: Settings, upstream_url: str) -> Flask:
    """The service as a WSGI app, with its own clients, limiter, dispatcher and loop."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Services(settings, upstream_url)
    app.url_map.converters["int"] = views.AsciiInt  # before any route is added
    app.register_blueprint(views.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(budget.bp)
    access.register(app)
    inbound.register(app, settings)
    operator.register(app)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
    proxy.register(app, settings.trusted_proxies)
    return app
