"""The service's HTTP face, and the only package that imports Flask, werkzeug or Flask-Limiter.

It stands on the engine below (the strategies, the limiter, the upstream clients, the timeline and
metrics, the settings and errors) and nothing below stands on it: the layers are import-linter
contracts in `pyproject.toml`, checked by `make lint`.
"""
