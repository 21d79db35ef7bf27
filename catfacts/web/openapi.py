"""The service described in OpenAPI 3.1, from the running settings, with a docs page to read it.

Kept beside the routes rather than inferred from them: Flask's routes do not say what a success
or an error looks like. `tests/test_openapi.py` holds the two together: schemathesis calls every
operation on a live service, and every answer must match this description.
"""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, jsonify

from catfacts.settings import Settings
from catfacts.strategies import NDJSON, STRATEGIES, Info
from catfacts.web.extension import current_services

bp = Blueprint("openapi", __name__)

_ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {
        "error": {"type": "string", "description": "what went wrong, in one sentence"},
        "status": {"type": "integer"},
        "request_id": {"type": "string"},
        "fetched": {"type": "integer", "description": "facts fetched before the failure"},
        "requested": {"type": "integer"},
        "retry_after": {"type": "integer", "description": "seconds, as in Retry-After"},
        "estimate": {"type": "number", "description": "seconds the call would have taken"},
        "deadline": {"type": "number"},
        "facts": {"type": "array", "items": {"type": "string"}},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_REQUEST_ID = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "the caller's id for this call, echoed and logged; one is made up when it is "
    "absent or empty",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:@/+=-]{0,128}$"},
}
_ANSWER_HEADERS = {
    "X-Request-ID": {"schema": {"type": "string"}},
    "Server-Timing": {"schema": {"type": "string"}, "description": "total;dur=<ms>"},
}
_INBOUND = "with CATFACTS_INBOUND_LIMIT: the IETF draft's structured field"
_RETRY_AFTER = {"schema": {"type": "integer"}, "description": "seconds"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _ANSWER_HEADERS,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _refused_by_server() -> dict[str, Any]:
    """What gunicorn itself refuses before the app sees it (`server_errors`), on every path."""
    return {
        "414": _error("the request line is longer than 4094 bytes"),
        "431": _error("too many headers, or one longer than 8190 bytes"),
    }


_FACTS = {"type": "array", "items": {"type": "string"}}
_TRACED = {
    "type": "object",
    "required": ["facts", "trace"],
    "properties": {"facts": _FACTS, "trace": {"type": "object"}},
}


def _facts_operation(info: Info, settings: Settings) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": "n",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": settings.max_facts},
        },
        _REQUEST_ID,
        {
            "name": "trace",
            "in": "query",
            "required": False,
            "description": "1 adds the call's timeline: the JSON answer becomes "
            '{"facts": [...], "trace": {...}}, and an error carries its trace too',
            "schema": {"type": "string", "enum": ["1", "0", "true", "false"]},
        },
    ]
    if info.takes_deadline:
        parameters.append(
            {
                "name": "deadline",
                "in": "query",
                "required": False,
                "description": "seconds the caller will wait; refused at once if the queue "
                "cannot serve the call in time",
                "schema": {"type": "number", "exclusiveMinimum": 0},
            }
        )
    limit_headers = {
        "RateLimit-Policy": {"schema": {"type": "string"}, "description": _INBOUND},
        "RateLimit": {"schema": {"type": "string"}, "description": _INBOUND},
    }
    fact_headers = {
        **_ANSWER_HEADERS,
        **limit_headers,
        "X-Facts-Requested": {"schema": {"type": "integer"}},
        "X-Facts-Returned": {"schema": {"type": "integer"}},
    }
    refused = _error("this client's inbound limit is spent (CATFACTS_INBOUND_LIMIT)")
    refused["headers"] = {**refused["headers"], **limit_headers, "Retry-After": _RETRY_AFTER}
    operation: dict[str, Any] = {
        "operationId": info.name,
        "summary": info.description,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "the facts",
                "headers": fact_headers,
                "content": {
                    "application/json": {"schema": {"oneOf": [_FACTS, _TRACED]}},
                    NDJSON: {
                        "schema": {"type": "string"},
                        "description": "with Accept: application/x-ndjson, one JSON object a "
                        'line: {"index": 3, "fact": "..."} per fact as it arrives, '
                        '{"progress": {...}} during a long wait, and last {"summary": {...}}, '
                        'or {"error": "...", "status": 503} when the call failed midway',
                    },
                },
            },
            "400": _error(
                "n above CATFACTS_MAX_FACTS, a bad deadline or trace, or a hostile header"
            ),
            "401": _error("API keys are configured and none valid was sent"),
            "404": _error("n is not a whole number"),
            "406": _error("Accept allows neither JSON nor NDJSON"),
            "429": refused,
            **_refused_by_server(),
            "502": _error("the upstream answered, but not with a fact"),
            "503": _error("upstream 429, busy, deadline, shutting down, or Redis unreachable"),
            "504": _error("the upstream timed out, could not be reached, or gave nothing"),
        },
    }
    if settings.keys:
        operation["security"] = [{"ApiKey": []}, {"Bearer": []}]
    return operation


def _plain(summary: str, content: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": summary, "headers": _ANSWER_HEADERS, "content": content}
    }
    responses.update({status: _error(why) for status, why in errors.items()})
    responses.update(_refused_by_server())
    return {"get": {"summary": summary, "parameters": [_REQUEST_ID], "responses": responses}}


def describe(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for a service running with `settings`."""
    html_text = {"text/html": {"schema": {"type": "string"}}}
    health = {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": {"type": "string"},
                    "checks": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }
        }
    }
    bad_id = {"400": "a hostile X-Request-ID"}
    paths: dict[str, Any] = {
        f"{info.path}/{{n}}": {"get": _facts_operation(info, settings)}
        for info in STRATEGIES.values()
    }
    paths |= {
        "/": _plain(
            "the waterfall page: run the strategies, watch their requests", html_text, bad_id
        ),
        "/hello/": _plain("a greeting (as Flask answers a string)", html_text, bad_id),
        "/healthz": _plain("the process answers", health, bad_id),
        "/readyz": _plain(
            "the upstream, Redis and the pump are reachable",
            health,
            {**bad_id, "503": "not ready, with the reason"},
        ),
        "/metrics": _plain(
            "Prometheus' text format",
            {"text/plain": {"schema": {"type": "string"}}},
            bad_id,
        ),
        "/openapi.json": _plain(
            "this description", {"application/json": {"schema": {"type": "object"}}}, bad_id
        ),
        "/docs": _plain("this description, to read", {"text/html": {"schema": {}}}, bad_id),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "catfacts",
            "version": "0.1.0",
            "description": "Fetch n facts from a rate-limited upstream, three ways side by side.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(describe(current_services().settings))


@bp.get("/docs")
def docs() -> Response:
    """A page rendered here, from the same description, so it works offline (no CDN)."""
    spec = describe(current_services().settings)
    rows = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            params = ", ".join(p["name"] for p in operation.get("parameters", []))
            statuses = ", ".join(operation["responses"])
            rows.append(
                f"<tr><td><code>{method.upper()} {html.escape(path)}</code></td>"
                f"<td>{html.escape(operation['summary'])}</td><td>{html.escape(params)}</td>"
                f"<td>{statuses}</td></tr>"
            )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>catfacts API</title></head>"
        "<body><h1>catfacts API</h1><p>The machine-readable description is at "
        "<a href='/openapi.json'>/openapi.json</a>. Every error is JSON with an "
        "<code>error</code> field.</p><table border='1' cellpadding='4'>"
        "<tr><th>operation</th><th>what</th><th>parameters</th><th>statuses</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    return Response(page, content_type="text/html; charset=utf-8")
