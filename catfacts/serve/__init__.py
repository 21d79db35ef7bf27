"""Serving catfacts: gunicorn's settings and hooks, the embedded upstream's start, the launcher.

Nothing here runs at import: each way to start serving calls in when it starts.
"""
