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
_NDJSON_LINES = (
    "With Accept: application/x-ndjson, one JSON object a line: "
    '{"index": 3, "fact": "..."} per fact as it arrives, {"progress": {...}} during a long '
    'wait, and last {"summary": {...}}, or {"error": "...", "status": 503} when the call '
    "failed midway."
)
# The groups the operations are listed under (`tags`), in the order people meet them.
_TAGS = [
    {"name": "facts", "description": "n cat facts, fetched three ways from a rate-limited API"},
    {"name": "page", "description": "pages for people: the waterfall and these docs"},
    {"name": "operations", "description": "health, readiness, metrics and this description"},
]


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
        "tags": ["facts"],
        "summary": info.description,
        "description": f"{info.label}: {info.description}. The answer is a JSON array of the "
        "facts (with ?trace=1, the facts and the call's timeline). " + _NDJSON_LINES,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "the facts",
                "headers": fact_headers,
                "content": {
                    "application/json": {"schema": {"oneOf": [_FACTS, _TRACED]}},
                    # A media type object has no `description` in OpenAPI 3.1: its schema does.
                    NDJSON: {"schema": {"type": "string", "description": _NDJSON_LINES}},
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


def _plain(
    operation_id: str,
    tag: str,
    summary: str,
    description: str,
    content: dict[str, Any],
    *,
    errors: dict[str, str],
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": summary, "headers": _ANSWER_HEADERS, "content": content}
    }
    responses.update({status: _error(why) for status, why in errors.items()})
    responses.update(_refused_by_server())
    operation = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "parameters": [_REQUEST_ID],
        "responses": responses,
    }
    return {"get": operation}


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
            "waterfall",
            "page",
            "the waterfall page: run the strategies, watch their requests",
            "An HTML page that runs one strategy or all three for n facts and draws each "
            "upstream request as a bar, from the service's own timelines.",
            html_text,
            errors=bad_id,
        ),
        "/hello/": _plain(
            "hello",
            "operations",
            "a greeting (as Flask answers a string)",
            "The seed's greeting, kept as it was: a plain string served as HTML.",
            html_text,
            errors=bad_id,
        ),
        "/healthz": _plain(
            "healthz",
            "operations",
            "the process answers",
            "Liveness: 200 while the process can answer at all; it checks nothing else.",
            health,
            errors=bad_id,
        ),
        "/readyz": _plain(
            "readyz",
            "operations",
            "the upstream, Redis and the pump are reachable",
            "Readiness: 200 when the upstream, Redis (when configured) and the pump answer; "
            "503 with the failing checks otherwise.",
            health,
            errors={**bad_id, "503": "not ready, with the reason"},
        ),
        "/metrics": _plain(
            "metrics",
            "operations",
            "Prometheus' text format",
            "The service's counters and histograms, for Prometheus to scrape.",
            {"text/plain": {"schema": {"type": "string"}}},
            errors=bad_id,
        ),
        "/openapi.json": _plain(
            "openapi",
            "operations",
            "this description",
            "This OpenAPI 3.1 document, made from the running settings.",
            {"application/json": {"schema": {"type": "object"}}},
            errors=bad_id,
        ),
        "/docs": _plain(
            "docs",
            "page",
            "this description, to read",
            "This description as an HTML page that needs nothing from the network.",
            {"text/html": {"schema": {"type": "string"}}},
            errors=bad_id,
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "catfacts",
            "version": "0.1.0",
            "description": "Fetch n facts from a rate-limited upstream, three ways side by side.",
            "contact": {"name": "the catfacts maintainers (see the README)"},
        },
        "servers": [{"url": "/", "description": "this service, wherever it answers"}],
        "tags": _TAGS,
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
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>catfacts API</title><link rel='icon' href='data:,'></head>"
        "<body><main><h1>catfacts API</h1><p>The machine-readable description is at "
        "<a href='/openapi.json'>/openapi.json</a>. Every error is JSON with an "
        "<code>error</code> field.</p><table border='1' cellpadding='4'>"
        "<caption>Every operation, its parameters and the statuses it answers</caption>"
        "<tr><th scope='col'>operation</th><th scope='col'>what</th>"
        "<th scope='col'>parameters</th><th scope='col'>statuses</th></tr>"
        + "".join(rows)
        + "</table></main></body></html>"
    )
    return Response(page, content_type="text/html; charset=utf-8")
