"""The operator's endpoints: `/metrics`, `/healthz`, `/readyz`, and the timing of every answer."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, jsonify, request

from catfacts.errors import ServiceUnavailable
from catfacts.observe import metrics
from catfacts.web import health
from catfacts.web.extension import current_services

bp = Blueprint("ops", __name__)


def register(app: Flask) -> None:
    metrics.start()
    app.register_blueprint(bp)
    app.after_request(_time_answer)


@bp.get("/metrics")
def metrics_page() -> Response:
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers: nothing else is checked, so a restart is never caused by others."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when the upstream, Redis (if configured) and the pump are; else 503 with why."""
    checks = health.readiness(current_services())
    detail = {check.name: check.reason or "ok" for check in checks}
    failed = [check.reason for check in checks if not check.ok]
    if failed:
        raise ServiceUnavailable("not ready: " + "; ".join(failed)).with_details(checks=detail)
    # Degraded is still ready: calls are served (on a fallback); the reasons say which and why.
    degraded = any(check.degraded for check in checks)
    return jsonify({"status": "degraded" if degraded else "ready", "checks": detail})


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _time_answer(response: Response) -> Response:
    started = g.get("started")
    if started is not None:
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        # A label takes bounded values only: any method a client makes up is "other".
        method = request.method if request.method in _METHODS else "other"
        metrics.answered(endpoint, method, response.status_code, time.perf_counter() - started)
    return response
