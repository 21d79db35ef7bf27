"""/cat_async/<n>: n requests at once; 429s are dropped, outages are errors."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess
from tests.support import AppFactory, closed_port_url


def test_under_the_limit_every_fact_comes_back(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    response = client.get("/cat_async/15")
    assert response.status_code == 200
    assert response.json is not None
    assert len(response.json) == 15
    assert emulator.control.stats()["statuses"] == {"200": 15}


def test_past_the_limit_429s_are_dropped_and_the_rest_returned(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="20 per 10 seconds")
    response = client.get("/cat_async/30")
    assert response.status_code == 200
    facts = response.json
    assert isinstance(facts, list)
    statuses = emulator.control.stats()["statuses"]
    assert statuses == {"200": 20, "429": 10}
    assert len(facts) == 20
    assert response.headers["X-Facts-Returned"] == "20"


def test_when_every_request_is_refused_the_answer_is_empty(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="2 per 10 seconds")
    assert client.get("/cat_async/2").json is not None
    response = client.get("/cat_async/4")
    assert response.status_code == 200
    assert response.json == []


def test_some_failures_among_successes_are_dropped(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(plan=["ok", "error", "ok", "malformed"])
    response = client.get("/cat_async/4")
    assert response.status_code == 200
    assert response.json is not None
    assert len(response.json) == 2


@pytest.mark.parametrize(
    ("fault", "status"), [("error_rate", 502), ("malformed_rate", 502), ("missing_fact_rate", 502)]
)
def test_an_upstream_that_only_fails_is_an_error_not_an_empty_success(
    client: FlaskClient, emulator: EmulatorProcess, fault: str, status: int
) -> None:
    emulator.control.configure(**{fault: 1.0})
    response = client.get("/cat_async/5")
    assert response.status_code == status
    assert response.json is not None
    assert response.json["fetched"] == 0
    assert response.json["requested"] == 5


def test_a_hanging_upstream_is_a_504_within_the_timeout(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(slow_rate=1.0, slow_seconds=30)
    client = make_app(upstream_timeout=0.5).test_client()
    started = time.monotonic()
    response = client.get("/cat_async/10")
    assert response.status_code == 504
    assert response.json is not None
    assert "0.5 s" in response.json["error"]
    assert time.monotonic() - started < 30


def test_an_unreachable_upstream_is_a_504(make_app: AppFactory) -> None:
    client = make_app(upstream_url=closed_port_url()).test_client()
    response = client.get("/cat_async/3")
    assert response.status_code == 504
    assert response.json is not None
    assert "cannot be reached" in response.json["error"]
