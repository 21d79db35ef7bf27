"""catfacts: fetch N facts from a rate-limited upstream, three ways side by side.

`create_app()` is the one entry point: it reads the settings, starts the embedded Cat Facts API
when no upstream is configured, and registers the routes, the page at `/` and the JSON error
handlers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service; `test_config` overrides settings by name (`{"max_facts": 5}`).

    Everything is imported here, not at the package's import: `import catfacts.rates` or
    `catfacts.limiter` from an asyncio program loads no Flask.
    """
    from flask import Flask

    from catfacts import logs
    from catfacts.errors import register_error_handlers
    from catfacts.serve import embedded
    from catfacts.services import EXTENSION, Services
    from catfacts.settings import Settings
    from catfacts.web import access, inbound, openapi, operator, page, views

    settings = Settings.load(os.environ, test_config)
    logs.configure_logging(settings.log_level)
    upstream_url = settings.upstream_url or embedded.start(settings)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Services(settings, upstream_url)
    app.url_map.converters["int"] = views.AsciiInt  # before any route is added
    app.register_blueprint(views.bp)
    app.register_blueprint(page.bp)
    access.register(app)
    inbound.register(app, settings)
    operator.register(app)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
    return app
