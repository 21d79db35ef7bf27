"""catfacts: fetch N facts from a rate-limited upstream, three ways side by side.

`create_app()` is the one entry point of the service: it reads the settings, starts the embedded
Cat Facts API when no upstream is configured, and builds the web app (`catfacts.web`). The engine
below it (`catfacts.strategies` and what they stand on) is a library too: importing it loads no
Flask.
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
    from catfacts import logs
    from catfacts.serve import embedded
    from catfacts.settings import Settings
    from catfacts.web.app import build_app

    settings = embedded.check(Settings.load(os.environ, test_config))
    logs.configure_logging(settings.log_level)
    upstream_url = settings.upstream_url or embedded.start(settings)
    return build_app(settings, upstream_url)
