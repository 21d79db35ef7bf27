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
from catfacts.strategies import STRATEGIES
from catfacts.web.extension import current_services
from catfacts.web.openapi_schemas import ERROR, TAGS, budget_operation, facts_operation, plain

bp = Blueprint("openapi", __name__)

_HTML_TEXT = {"text/html": {"schema": {"type": "string"}}}
_HEALTH = {
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
_BAD_ID = {"400": "a hostile X-Request-ID"}


def _operator_paths() -> dict[str, Any]:
    """The operator's endpoints, each a plain GET (and the seed's greeting among them)."""
    return {
        "/hello/": plain(
            "hello",
            "operations",
            "a greeting (as Flask answers a string)",
            "The seed's greeting, kept as it was: a plain string served as HTML.",
            _HTML_TEXT,
            errors=_BAD_ID,
        ),
        "/healthz": plain(
            "healthz",
            "operations",
            "the process answers",
            "Liveness: 200 while the process can answer at all; it checks nothing else.",
            _HEALTH,
            errors=_BAD_ID,
        ),
        "/readyz": plain(
            "readyz",
            "operations",
            "the upstream, Redis and the pump are reachable",
            "Readiness: 200 when the upstream, Redis (when configured) and the pump answer; "
            "503 with the failing checks otherwise.",
            _HEALTH,
            errors={**_BAD_ID, "503": "not ready, with the reason"},
        ),
        "/metrics": plain(
            "metrics",
            "operations",
            "Prometheus' text format",
            "The service's counters and histograms, for Prometheus to scrape.",
            {"text/plain": {"schema": {"type": "string"}}},
            errors=_BAD_ID,
        ),
        "/openapi.json": plain(
            "openapi",
            "operations",
            "this description",
            "This OpenAPI 3.1 document, made from the running settings.",
            {"application/json": {"schema": {"type": "object"}}},
            errors=_BAD_ID,
        ),
    }


def describe(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for a service running with `settings`."""
    paths: dict[str, Any] = {
        f"{info.path}/{{n}}": {"get": facts_operation(info, settings)}
        for info in STRATEGIES.values()
    }
    paths["/budget"] = budget_operation(settings)
    paths |= {
        "/": plain(
            "waterfall",
            "page",
            "the waterfall page: run the strategies, watch their requests",
            "An HTML page that runs one strategy or all three for n facts and draws each "
            "upstream request as a bar, from the service's own timelines.",
            _HTML_TEXT,
            errors=_BAD_ID,
        ),
        **_operator_paths(),
        "/docs": plain(
            "docs",
            "page",
            "this description, to read",
            "This description as an HTML page that needs nothing from the network.",
            {"text/html": {"schema": {"type": "string"}}},
            errors=_BAD_ID,
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
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
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
