"""/openapi.json describes the live service truly: schemathesis calls every operation against
real gunicorn (two workers, the real emulator), with valid and invalid input, and every answer
must match the description, with no 500 anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
import schemathesis
import urllib3
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catfacts.emulator.process import EmulatorProcess
from tests.support import AppFactory, start_gunicorn

RATE = "1000/second"  # fuzzing is about answers, not about the budget
MAX_FACTS = 5
EXAMPLES = 50  # per operation and mode


def no_internal_error(ctx: Any, response: Any, case: Any) -> None:
    """Documented 502/503/504 answers are part of the description; a 500 never is."""
    assert response.status_code != 500, response.text


# Invalid input may also be too long for gunicorn: its 414 and 431 are refusals too.
REJECTED = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "414", "431"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}
)


class Live(NamedTuple):
    url: str
    headers: dict[str, str]  # the API key, when the service has keys


CHECKS = [
    no_internal_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


KEY = "schemathesis-key-0123"


@pytest.fixture(scope="module", params=["open", "keys and inbound limits"])
def live(request: pytest.FixtureRequest, emulator_process: EmulatorProcess) -> Iterator[Live]:
    """The service as documented, open, or with API keys and a small inbound limit (429s)."""
    emulator_process.control.configure(rate_limit=RATE)
    env = {
        "CATFACTS_UPSTREAM_URL": emulator_process.url,
        "CATFACTS_RATE_LIMIT": RATE,
        "CATFACTS_MAX_FACTS": str(MAX_FACTS),
    }
    headers = {}
    if request.param != "open":
        env |= {"CATFACTS_API_KEYS": KEY, "CATFACTS_INBOUND_LIMIT": "40/minute"}
        headers = {"X-API-Key": KEY}
    process, url = start_gunicorn(2, env)
    yield Live(url, headers)
    process.stop()


@pytest.mark.parametrize("mode", list(GenerationMode))
def test_every_answer_matches_the_description(live: Live, mode: GenerationMode) -> None:
    # schemathesis' own pytest plugin does not run under pytest 9; its strategies do.
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=CONFIG)
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the description itself is valid
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_described(case: Any) -> None:
            case.call_and_validate(base_url=live.url, headers=live.headers, checks=CHECKS)

        answers_as_described()


def test_the_description_names_every_route_of_the_app(client: FlaskClient) -> None:
    described = set(client.get("/openapi.json").json["paths"])  # type: ignore[index]
    served = {
        rule.rule.replace("<int:n>", "{n}")
        for rule in client.application.url_map.iter_rules()
        if rule.endpoint != "static"
    }
    assert described == served


def test_the_docs_page_lists_every_operation(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    assert "/openapi.json" in page.text
    assert page.text.count("<tr>") == 1 + 11


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/cat/1?deadline=" + "9" * 5000, {}, 414),
        ("/cat/1", {"X-Request-ID": "r" * 9000}, 431),
        ("/cat/1", {f"X-Many-{i}": "1" for i in range(120)}, 431),
    ],
)
def test_what_gunicorn_refuses_before_the_app_is_json_too(
    live: Live, path: str, headers: dict[str, str], status: int
) -> None:
    response = urllib3.request(
        "GET", f"{live.url}{path}", headers={**live.headers, **headers}, retries=False
    )
    assert response.status == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == status
    assert response.json()["error"]


KEY = "openapi-test-key"


@pytest.mark.parametrize("overrides", [{}, {"api_keys": KEY, "inbound_limit": "100/minute"}])
def test_the_description_is_valid_openapi_3_1_and_every_operation_is_described(
    make_app: AppFactory, overrides: dict[str, str]
) -> None:
    """openapi-spec-validator accepts the served document, as `make lint`'s Spectral does; every
    operation says what it is for, under which tag and with which id (Spectral's warnings)."""
    client = make_app(**overrides).test_client()
    document = client.get("/openapi.json", headers={"X-API-Key": KEY}).json
    assert isinstance(document, dict)
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []
    assert document["servers"]
    tags = {tag["name"] for tag in document["tags"]}
    ids = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            assert operation["summary"] and operation["description"], where
            assert operation["tags"] and set(operation["tags"]) <= tags, where
            ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))
