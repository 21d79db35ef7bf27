"""`python -m catfacts` (and `make run`): serve with gunicorn, flags over the environment."""

from __future__ import annotations

import argparse
import os
import sys

from catfacts.errors import ConfigError
from catfacts.settings import Settings

# Flag -> environment variable; flags win because they are written into the environment.
_FLAGS = {
    "host": "CATFACTS_HOST",
    "port": "CATFACTS_PORT",
    "upstream_url": "CATFACTS_UPSTREAM_URL",
    "rate_limit": "CATFACTS_RATE_LIMIT",
    "upstream_timeout": "CATFACTS_UPSTREAM_TIMEOUT",
    "max_facts": "CATFACTS_MAX_FACTS",
    "log_level": "CATFACTS_LOG_LEVEL",
    "emulator_dialect": "CATFACTS_EMULATOR_DIALECT",
    "workers": "WEB_CONCURRENCY",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="catfacts",
        description="Serve catfacts. With no upstream URL, an embedded Cat Facts API starts too.",
    )
    parser.add_argument("--host", help="address to listen on (CATFACTS_HOST, 127.0.0.1)")
    parser.add_argument("--port", help="port to listen on (CATFACTS_PORT, 5000)")
    parser.add_argument("--upstream-url", help="the Cat Facts API (CATFACTS_UPSTREAM_URL)")
    parser.add_argument(
        "--rate-limit", help="upstream limit, or auto (CATFACTS_RATE_LIMIT, 100/minute)"
    )
    parser.add_argument("--upstream-timeout", help="seconds (CATFACTS_UPSTREAM_TIMEOUT, 5)")
    parser.add_argument("--max-facts", help="largest n accepted (CATFACTS_MAX_FACTS, 1000)")
    parser.add_argument("--log-level", help="DEBUG, INFO, ... (CATFACTS_LOG_LEVEL, INFO)")
    parser.add_argument("--workers", help="worker processes (WEB_CONCURRENCY, 1)")
    parser.add_argument(
        "--emulator-dialect",
        help="rate-limit headers of the embedded upstream: laravel, github, ietf, none or proxy "
        "(CATFACTS_EMULATOR_DIALECT, laravel)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for name, variable in _FLAGS.items():
        value = getattr(args, name)
        if value is not None:
            os.environ[variable] = value
    try:
        settings = Settings.load(os.environ)
    except ConfigError as error:
        sys.exit(f"catfacts: {error}")
    from gunicorn.app.wsgiapp import WSGIApplication

    from catfacts.serve.gunicorn_config import exit_if_taken

    exit_if_taken(settings.host, settings.port)  # before gunicorn's banner: one line only

    sys.argv = ["catfacts", "--config", "python:catfacts.serve.gunicorn_config"]
    WSGIApplication("%(prog)s [OPTIONS]").run()
