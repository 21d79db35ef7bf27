"""Routing, input validation and response metadata, common to every strategy."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess
from tests.support import AppFactory

FACT_ROUTES = ["/cat", "/cat_async", "/cat_async_limited"]


def test_hello_answers_hello(client: FlaskClient) -> None:
    response = client.get("/hello/")
    assert response.status_code == 200
    assert response.text == "Hello"


@pytest.mark.parametrize("route", FACT_ROUTES)
def test_zero_facts_is_an_empty_list_without_upstream_requests(
    client: FlaskClient, route: str, emulator: EmulatorProcess
) -> None:
    response = client.get(f"{route}/0")
    assert response.status_code == 200
    assert response.json == []
    assert emulator.control.stats()["total"] == 0


@pytest.mark.parametrize("route", FACT_ROUTES)
def test_a_success_carries_the_call_metadata_in_headers(client: FlaskClient, route: str) -> None:
    response = client.get(f"{route}/3", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "trace-42"
    assert response.headers["X-Facts-Requested"] == "3"
    assert response.headers["X-Facts-Returned"] == "3"
    assert response.headers["Server-Timing"].startswith("total;dur=")


def test_a_request_id_is_made_up_when_the_caller_sends_none_and_junk_is_a_400(
    client: FlaskClient,
) -> None:
    made_up = client.get("/hello/").headers["X-Request-ID"]
    refused = client.get("/hello/", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(made_up) == 16
    assert refused.status_code == 400
    assert refused.headers["X-Request-ID"] not in ("", "bad id\twith spaces")


@pytest.mark.parametrize("route", FACT_ROUTES)
@pytest.mark.parametrize("n", [1001, 10**30])
def test_more_than_the_cap_is_a_400(client: FlaskClient, route: str, n: int) -> None:
    response = client.get(f"{route}/{n}")
    assert response.status_code == 400
    assert response.json is not None
    assert "at most 1000" in response.json["error"]


def test_the_cap_is_configurable(make_app: AppFactory) -> None:
    client = make_app(max_facts=2).test_client()
    assert client.get("/cat/2").status_code == 200
    assert client.get("/cat/3").status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/cat/abc",
        "/cat/-1",
        "/cat/1.5",
        "/cat/",
        "/cat_async/x",
        "/cat_async_limited/-3",
        "/nope",
        "/cat/1/2",
        "/cat/%D9%A3",  # an Arabic-Indic 3
        "/cat_async/%EF%BC%93",  # a full-width 3
    ],
)
def test_a_path_that_does_not_match_is_a_json_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json
    assert response.json is not None
    assert response.json["error"]


@pytest.mark.parametrize("path", ["/cat/1", "/cat_async/1", "/cat_async_limited/1", "/hello/"])
def test_a_wrong_method_is_a_json_405(client: FlaskClient, path: str) -> None:
    response = client.post(path)
    assert response.status_code == 405
    assert response.is_json
    assert response.headers["Allow"]
