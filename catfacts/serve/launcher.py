"""Serve with gunicorn from this process: `catfacts serve`, `python -m catfacts`, `make run`.

The settings come from the environment, where the command line's flags are written first (so
flags win, and gunicorn's workers, forked from here, read the same). A bad setting or a taken port
stops it with one line, before gunicorn's banner.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication

from catfacts.serve.gunicorn_config import exit_if_taken, load_settings, options


class Launcher(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured by `gunicorn_config.options` rather than by a command line or a file."""

    def __init__(self, configured: Mapping[str, Any]) -> None:
        self._configured = configured
        super().__init__("%(prog)s [OPTIONS]", prog="catfacts")

    def load_config(self) -> None:
        for name, value in self._configured.items():
            self.cfg.set(name, value)
        # As the gunicorn command does, GUNICORN_CMD_ARGS last: an operator's word is final.
        from_env = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
        for name, value in vars(from_env).items():
            if value is not None and name not in ("args", "config"):
                self.cfg.set(name.lower(), value)

    def load(self) -> Any:
        """In each worker, after the fork: the app `wsgi_app` names (`catfacts:create_app()`)."""
        return util.import_app(self.cfg.wsgi_app)


def serve(flags: Mapping[str, str]) -> None:
    """Serve until stopped; `flags` are environment variables to set first (the flags given)."""
    os.environ.update(flags)
    settings = load_settings(os.environ)
    exit_if_taken(settings.host, settings.port)  # before gunicorn's banner: one line only
    Launcher(options(os.environ)).run()
