"""Who is calling, and whether the call may go on: API keys, and headers the service will not take.

Runs before every view. Hostile or oversized headers are refused with a clear 4xx before they
reach a log line; their value is never echoed. The caller's identity (`g.client`) is its API key
when keys are configured (as a digest, so no key is ever logged), else its address: the fair
shares (`strategies/limited/turns.py`) and the inbound limits (`inbound.py`) are per client.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, g, request

from catfacts import logs
from catfacts.errors import BadRequest, NotAcceptable, Unauthorized
from catfacts.observe import metrics
from catfacts.strategies import JSON, NDJSON
from catfacts.web.extension import current_services
from catfacts.web.views import FACT_ENDPOINTS

# What a fact endpoint can answer: a JSON array, or (in time) an NDJSON stream.
ANSWER_TYPES = (JSON, NDJSON)
# Who calls matters here: the fact endpoints, and the peek at the budget (which names clients).
KEYED_ENDPOINTS = FACT_ENDPOINTS | {"budget.budget"}
MAX_KEY = 256


def register(app: Flask) -> None:
    app.before_request(_check)


def _check() -> None:
    raw_id = request.headers.get("X-Request-ID")
    if raw_id and logs.choose_request_id(raw_id) != raw_id:
        raise BadRequest("X-Request-ID must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ / + = -")
    if request.endpoint not in KEYED_ENDPOINTS:
        return
    if (
        request.endpoint in FACT_ENDPOINTS
        and request.headers.get("Accept")
        and not any(request.accept_mimetypes[kind] for kind in ANSWER_TYPES)
    ):
        raise NotAcceptable(f"this endpoint answers {' or '.join(ANSWER_TYPES)}")
    g.client = _client()


def _client() -> str:
    """The caller's key digest when keys are configured (a 401 without a valid one), else its
    address."""
    keys = current_services().settings.keys
    if not keys:
        return request.remote_addr or "-"
    key = _presented_key()
    if key is None or not any(hmac.compare_digest(key, valid) for valid in keys):
        metrics.refused("unauthorized")
        raise Unauthorized(
            "a valid API key is required: send it as 'X-API-Key: <key>' "
            "or 'Authorization: Bearer <key>'"
        )
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _presented_key() -> str | None:
    key = request.headers.get("X-API-Key")
    if key is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    if key is not None and (len(key) > MAX_KEY or not key.isascii() or not key.isprintable()):
        raise BadRequest(f"the API key must be at most {MAX_KEY} printable ASCII characters")
    return key or None
