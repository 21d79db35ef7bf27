"""Read by `gunicorn` when started from this folder: catfacts' settings and hooks."""

from catfacts.serve.gunicorn_config import *  # noqa: F403
