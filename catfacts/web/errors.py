"""The one place that turns errors into JSON answers, with the right status and headers.

Every `CatFactsError` is answered with its status and body; Flask's own 404/405, and anything
unexpected, get a JSON body with an `error` field too.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from catfacts.errors import CatFactsError

log = logging.getLogger(__name__)


def register_error_handlers(app: Flask) -> None:
    """Answer every error with JSON: ours, Flask's routing errors, and the unexpected."""
    app.register_error_handler(CatFactsError, _catfacts_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)


def _catfacts_error(error: CatFactsError) -> Response:
    log.warning("%d: %s", error.status, error.message)
    response = _json(error.body(), error.status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    response.headers.update(error.headers)
    return response


def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    response = _json({"error": (error.description or error.name), "status": status}, status)
    if status == 405 and error.response is None:
        allow = getattr(error, "valid_methods", None)
        if allow:
            response.headers["Allow"] = ", ".join(allow)
    return response


def _unexpected(error: Exception) -> Response:
    log.error("unexpected error", exc_info=error)
    return _json({"error": "internal error; see the service log", "status": 500}, 500)


def _json(body: dict[str, Any], status: int) -> Response:
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    response = jsonify(body)
    response.status_code = status
    return response
