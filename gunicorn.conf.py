"""Read by `gunicorn` when started from this folder: catfacts' settings and hooks.

gunicorn reads this file's names as its settings; they come from the environment, checked, when
gunicorn starts (`catfacts.serve.gunicorn_config.options`).
"""

from catfacts.serve.gunicorn_config import options

globals().update(options())
