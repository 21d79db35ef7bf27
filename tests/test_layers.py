"""The engine is a library: importing it loads no Flask, no emulator, nothing that serves it.

import-linter holds the layers statically (`make lint`); this holds them as Python runs them, in a
fresh interpreter per module, so an import made at run time cannot slip through.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

ENGINE = [
    "catfacts.strategies",
    "catfacts.strategies.one_by_one",
    "catfacts.strategies.all_at_once",
    "catfacts.strategies.limited",
    "catfacts.strategies.limited.strategy",
    "catfacts.services",
    "catfacts.limiter.redis",
    "catfacts.upstream.client",
    "catfacts.errors",
    "catfacts.settings",
    "catfacts.service_client",
]
SERVING = ("flask", "werkzeug", "flask_limiter", "gunicorn", "catfacts.web", "catfacts.emulator")


@pytest.mark.parametrize("module", ENGINE)
def test_importing_the_engine_loads_nothing_that_serves_it(module: str) -> None:
    check = (
        f"import sys, {module}; print(sorted(n for n in sys.modules if n.startswith({SERVING!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
