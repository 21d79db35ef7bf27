"""/cat/<n>: one request after another, stopping with a clear error at the first failure."""

from __future__ import annotations

import time

from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess
from tests.support import AppFactory, closed_port_url


def test_it_returns_n_facts_from_n_upstream_requests(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    response = client.get("/cat/5", headers={"X-Request-ID": "one-by-one"})
    assert response.status_code == 200
    facts = response.json
    assert isinstance(facts, list)
    assert len(facts) == 5
    assert all(isinstance(fact, str) and fact for fact in facts)
    stats = emulator.control.stats()
    assert stats["statuses"] == {"200": 5}
    assert stats["by_request_id"]["one-by-one"] == {"200": 5}


def test_a_429_is_a_503_passing_on_retry_after_with_the_count_fetched(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="3 per 10 seconds")
    response = client.get("/cat/5")
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["fetched"] == 3
    assert response.json["requested"] == 5
    assert "429" in response.json["error"]
    retry_after = int(response.headers["Retry-After"])
    assert 8 <= retry_after <= 10
    assert response.json["retry_after"] == retry_after
    assert emulator.control.stats()["statuses"] == {"200": 3, "429": 1}


def test_a_server_error_is_a_502_with_the_count_fetched(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(plan=["ok", "ok", "error"])
    response = client.get("/cat/5")
    assert response.status_code == 502
    assert response.json is not None
    assert response.json["fetched"] == 2
    assert "500" in response.json["error"]
    assert emulator.control.stats()["total"] == 3


def test_a_malformed_body_is_a_502(client: FlaskClient, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["ok", "malformed"])
    response = client.get("/cat/3")
    assert response.status_code == 502
    assert response.json is not None
    assert response.json["fetched"] == 1


def test_a_body_without_a_fact_is_a_502(client: FlaskClient, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["missing_fact"])
    response = client.get("/cat/3")
    assert response.status_code == 502
    assert response.json is not None
    assert response.json["fetched"] == 0


def test_a_hanging_upstream_is_a_504_after_the_timeout_not_a_hang(
    make_app: AppFactory, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(plan=["ok", "slow"], slow_seconds=30)
    client = make_app(upstream_timeout=0.5).test_client()
    started = time.monotonic()
    response = client.get("/cat/3")
    assert response.status_code == 504
    assert response.json is not None
    assert response.json["fetched"] == 1
    assert time.monotonic() - started < 30


def test_an_unreachable_upstream_is_a_504(make_app: AppFactory) -> None:
    client = make_app(upstream_url=closed_port_url()).test_client()
    response = client.get("/cat/2")
    assert response.status_code == 504
    assert response.json is not None
    assert "cannot be reached" in response.json["error"]
    assert response.json["fetched"] == 0
