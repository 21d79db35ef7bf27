"""The pieces /openapi.json is made of: the error schema, the shared headers and parameters, and
the operations (a strategy's facts, and the plain pages and operator's endpoints).

`catfacts.web.openapi` puts them together into the document, from the running settings.
"""

from __future__ import annotations

from typing import Any

from catfacts.settings import Settings
from catfacts.strategies import NDJSON, Info

ERROR = {
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
    "failed midway. The limited strategy adds eta, seconds until the last fact, to every line "
    '(0 on the last), and while the call waits, waiting: {"for": "window", "reason": "...", '
    '"seconds": 3.4}; and X-Facts-Estimate, the estimate when it was let in, to the answer.'
)
# The groups the operations are listed under (`tags`), in the order people meet them.
TAGS = [
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


def _facts_parameters(info: Info, settings: Settings) -> list[dict[str, Any]]:
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
    return parameters


def _facts_responses() -> dict[str, Any]:
    limit_headers = {
        "RateLimit-Policy": {"schema": {"type": "string"}, "description": _INBOUND},
        "RateLimit": {"schema": {"type": "string"}, "description": _INBOUND},
    }
    fact_headers = {
        **_ANSWER_HEADERS,
        **limit_headers,
        "X-Facts-Requested": {"schema": {"type": "integer"}},
        "X-Facts-Returned": {"schema": {"type": "integer"}},
        "X-Facts-Estimate": {
            "schema": {"type": "string", "pattern": "^[0-9]+[.][0-9]{2}$"},
            "description": "the limited strategy: seconds the call was expected to take, "
            "estimated when it was let in",
        },
    }
    refused = _error("this client's inbound limit is spent (CATFACTS_INBOUND_LIMIT)")
    refused["headers"] = {**refused["headers"], **limit_headers, "Retry-After": _RETRY_AFTER}
    return {
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
            "n above CATFACTS_MAX_FACTS, a bad deadline or trace, a hostile header; all at once: "
            "n above twice the limit in force"
        ),
        "401": _error("API keys are configured and none valid was sent"),
        "404": _error(
            "n is not a whole number; one by one or all at once when only the limited strategy "
            "is served (CATFACTS_UNLIMITED_STRATEGIES=off)"
        ),
        "406": _error("Accept allows neither JSON nor NDJSON"),
        "429": refused,
        **_refused_by_server(),
        "502": _error("the upstream answered, but not with a fact"),
        "503": _error(
            "upstream 429, busy, deadline, shutting down, Redis unreachable; all at once: it "
            "would overdraw the shared budget by more than one window's limit (Retry-After)"
        ),
        "504": _error("the upstream timed out, could not be reached, or gave nothing"),
    }


def facts_operation(info: Info, settings: Settings) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": info.name,
        "tags": ["facts"],
        "summary": info.description,
        "description": f"{info.label}: {info.description}. The answer is a JSON array of the "
        "facts (with ?trace=1, the facts and the call's timeline). " + _NDJSON_LINES,
        "parameters": _facts_parameters(info, settings),
        "responses": _facts_responses(),
    }
    if settings.keys:
        operation["security"] = [{"ApiKey": []}, {"Bearer": []}]
    return operation


def plain(
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


_SECONDS = {"type": "number", "minimum": 0}
_MAYBE_SECONDS = {"type": ["number", "null"], "minimum": 0}
_BUDGET = {
    "type": "object",
    "required": [
        "limit",
        "window",
        "source",
        "rates",
        "remaining",
        "reset",
        "paused_for",
        "slots_in_use",
        "in_flight",
        "shared",
        "calls",
        "n",
        "wait",
        "worker",
    ],
    "properties": {
        "limit": {"type": "integer", "minimum": 1, "description": "the tightest limit in force"},
        "window": {**_SECONDS, "description": "its window, in seconds"},
        "source": {"type": "string", "enum": ["configured", "announced", "learned"]},
        "rates": {"type": "string", "description": "every limit in force, in words"},
        "remaining": {
            "type": ["integer", "null"],
            "description": "what the upstream last said remains in its window",
        },
        "reset": {**_MAYBE_SECONDS, "description": "seconds until that window ends"},
        "paused_for": {**_SECONDS, "description": "seconds left of a pause after a 429"},
        "slots_in_use": {"type": "integer", "minimum": 0},
        "in_flight": {"type": "integer", "minimum": 0},
        "shared": {"type": "boolean", "description": "one budget for every worker (Redis)"},
        "calls": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["client", "calls", "queued", "you"],
                "properties": {
                    "client": {"type": "string"},
                    "calls": {"type": "integer", "minimum": 0},
                    "queued": {"type": "integer", "minimum": 0},
                    "you": {"type": "boolean"},
                },
            },
        },
        "n": {"type": "integer", "minimum": 0},
        "wait": {**_SECONDS, "description": "seconds until the last fact of a call for n now"},
        "worker": {"type": "integer", "description": "the process that answered"},
    },
}


def budget_operation(settings: Settings) -> dict[str, Any]:
    """`GET /budget`: the peek that spends nothing."""
    operation = plain(
        "budget",
        "facts",
        "the budget as it stands, spending none of it",
        "The rate in force and where it came from, what the upstream last said remains and "
        "when its window resets, any pause, the slots in use, the calls in flight per client "
        "(across workers with Redis), and how long a call for n would take now. Nothing is "
        "sent upstream and no slot is taken.",
        {"application/json": {"schema": _BUDGET}},
        errors={
            "400": "n is not a whole number up to CATFACTS_MAX_FACTS, or a hostile header",
            "401": "API keys are configured and none valid was sent",
        },
    )["get"]
    operation["parameters"] = [
        {
            "name": "n",
            "in": "query",
            "required": False,
            "description": "the facts a call would ask for (1 if absent)",
            "schema": {"type": "integer", "minimum": 0, "maximum": settings.max_facts},
        },
        _REQUEST_ID,
    ]
    if settings.keys:
        operation["security"] = [{"ApiKey": []}, {"Bearer": []}]
    return {"get": operation}
