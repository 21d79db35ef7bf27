"""The embedded Cat Facts API, started when no upstream is configured, so the service runs offline.

It runs as one separate process per service, started by whoever starts first: gunicorn's master
(see `gunicorn_config`) or `catfacts.create_app` itself. Its address is put in
`CATFACTS_UPSTREAM_URL`, so every worker forked or started afterwards shares that one upstream and
its one rate limit, as workers behind one egress address share the real API's.
"""

from __future__ import annotations

import atexit
import logging
import os

from catfacts.emulator.dialects import Dialect
from catfacts.emulator.process import EmulatorProcess
from catfacts.errors import ConfigError
from catfacts.settings import REAL_API_RATE, Settings

log = logging.getLogger(__name__)

# A little latency, like the real API's, so the strategies' differences show in `make run`.
LATENCY = 0.05
JITTER = 0.02

# One per process by nature: the process that started the upstream is the one to stop it.
_process: EmulatorProcess | None = None


def check(settings: Settings) -> Settings:
    """`settings`, if the embedded upstream can speak the dialect they ask of it.

    Checked here, where the emulator is known, at every start (so a bad value stops start-up with
    one line as any other would); the settings themselves know nothing of the emulator.
    """
    if settings.emulator_dialect not in tuple(Dialect):
        raise ConfigError(
            f"CATFACTS_EMULATOR_DIALECT={settings.emulator_dialect!r}: "
            f"not one of {', '.join(Dialect)}"
        )
    return settings


def start(settings: Settings) -> str:
    """Start the embedded upstream (once per process tree) and return its URL."""
    global _process  # noqa: PLW0603
    if _process is None:
        rate = settings.rate or REAL_API_RATE
        _process = EmulatorProcess.start(
            rate_limit=rate.text,
            latency=LATENCY,
            jitter=JITTER,
            extra_args=["--dialect", settings.emulator_dialect],
        )
        atexit.register(stop)
        os.environ["CATFACTS_UPSTREAM_URL"] = _process.url
        log.info(
            "embedded Cat Facts API listening on %s (%s, %d ms latency, %s headers)",
            _process.url,
            rate.text,
            LATENCY * 1000,
            settings.emulator_dialect,
        )
    return _process.url


def stop() -> None:
    """Stop the embedded upstream if this process started it."""
    global _process  # noqa: PLW0603
    if _process is not None:
        _process.stop()
        _process = None
        os.environ.pop("CATFACTS_UPSTREAM_URL", None)
