"""Streamed answers (`Accept: application/x-ndjson`): facts as they arrive, then a summary line.

Judged on real gunicorn (`python -m catfacts`) where the socket matters: the time of the first
line, a caller who goes away, SIGTERM mid-stream; and on the Flask test client for the format.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess
from catfacts.strategies import NDJSON
from tests.support import AppFactory, StartService, wait_until

STREAM = {"Accept": NDJSON}


def lines_of(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines()]


def open_stream(url: str, path: str, request_id: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", path, headers={**STREAM, "X-Request-ID": request_id})
    return connection


@pytest.mark.parametrize(
    "route", ["/cat/5", "/cat_async/5", "/cat_async_limited/5"], ids=lambda r: r.split("/")[1]
)
def test_every_strategy_streams_one_line_per_fact_then_a_summary(
    client: FlaskClient, route: str
) -> None:
    response = client.get(route, headers=STREAM)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == NDJSON
    lines = lines_of(response.data)
    facts, summary = lines[:-1], lines[-1]["summary"]
    assert sorted(line["index"] for line in facts) == [1, 2, 3, 4, 5]
    assert all(isinstance(line["fact"], str) for line in facts)
    assert summary["status"] == 200
    assert (summary["requested"], summary["returned"]) == (5, 5)
    assert summary["outcomes"]["ok"] == 5
    assert summary["total_ms"] > 0
    assert summary["ideal_ms"] > 0


def test_the_plain_json_array_stays_the_default(client: FlaskClient) -> None:
    for accept in (None, "*/*", "application/json", f"application/json, {NDJSON};q=0.5"):
        headers = {"Accept": accept} if accept else {}
        response = client.get("/cat_async_limited/2", headers=headers)
        assert response.headers["Content-Type"] == "application/json"
        assert isinstance(response.json, list)
        assert len(response.json) == 2


def test_with_trace_each_request_and_wait_is_a_line_and_the_last_line_has_the_trace(
    client: FlaskClient,
) -> None:
    response = client.get("/cat_async_limited/25?trace=1", headers=STREAM)
    lines = lines_of(response.data)
    requests = [line["request"] for line in lines if "request" in line]
    assert sum(request["outcome"] == "ok" for request in requests) == 25
    assert any("wait" in line for line in lines)  # 25 facts at 20/second: one window to wait
    last = lines[-1]
    assert last["summary"]["returned"] == 25
    assert len(last["trace"]["requests"]) == len(requests)


def test_an_error_midway_ends_the_stream_with_an_error_line(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(plan=["ok", "ok", "error"])
    response = client.get("/cat/5", headers=STREAM)
    assert response.status_code == 200  # sent with the first fact, before the error
    lines = lines_of(response.data)
    assert [line["index"] for line in lines[:-1]] == [1, 2]
    error = lines[-1]
    assert error["error"] == "the upstream answered 500"
    assert (error["status"], error["fetched"], error["requested"]) == (502, 2, 5)
    assert error["summary"]["outcomes"]["error"] == 1


def test_a_refusal_before_the_stream_keeps_its_status(make_app: AppFactory) -> None:
    client = make_app(max_facts=5, rate="1 per 10 seconds").test_client()
    assert client.get("/cat_async_limited/6", headers=STREAM).status_code == 400
    refused = client.get("/cat_async_limited/5?deadline=0.000001", headers=STREAM)
    assert refused.status_code == 503
    assert refused.json is not None
    assert "deadline" in refused.json["error"]


def test_a_stream_holds_its_admission_place_until_it_ends(make_app: AppFactory) -> None:
    client = make_app(max_calls=1).test_client()
    first = client.get("/cat_async_limited/30", headers=STREAM, buffered=False)
    second = client.get("/cat_async_limited/1", headers=STREAM)
    assert second.status_code == 503
    assert second.json is not None
    assert "CATFACTS_MAX_CALLS" in second.json["error"]
    assert lines_of(first.get_data())[-1]["summary"]["returned"] == 30
    first.close()
    assert client.get("/cat_async_limited/1", headers=STREAM).status_code == 200


def test_head_with_ndjson_spends_nothing(client: FlaskClient, emulator: EmulatorProcess) -> None:
    for route in ("/cat/5", "/cat_async/5", "/cat_async_limited/5"):
        response = client.head(route, headers=STREAM)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == NDJSON
    assert emulator.control.stats()["total"] == 0


def test_when_the_server_closes_the_body_the_remaining_requests_are_dropped(
    app: Flask, emulator: EmulatorProcess
) -> None:
    # What gunicorn does when a write fails because the caller is gone: it closes the body.
    emulator.control.configure(rate_limit="10/second")
    response = app.test_client().get(
        "/cat_async_limited/100", headers={**STREAM, "X-Request-ID": "closer"}, buffered=False
    )
    body = response.iter_encoded()
    facts = 0
    while facts < 5:
        facts += "fact" in json.loads(next(body))
    response.close()
    assert_only_the_first_window_was_spent(emulator, "closer", closed_at=time.monotonic())


def assert_only_the_first_window_was_spent(
    emulator: EmulatorProcess, request_id: str, closed_at: float
) -> None:
    """At 10 a second, the 5 facts read came in the first window's burst of 10; a call that
    went on would send 10 more every second. The emulator counts a request when it answers it,
    so what was in flight is judged by arrival times, on the clock the machine shares."""
    time.sleep(2.5)  # two more windows
    served = emulator.control.stats()["by_request_id"][request_id]
    assert sum(served.values()) <= 10
    arrivals = [at for at, _ in emulator.control.arrivals()]
    assert max(arrivals) < closed_at + 0.5  # the next window's burst would come a second later


def test_the_first_line_arrives_long_before_the_call_ends(
    running_service: StartService,
) -> None:
    url, _ = running_service()
    started = time.monotonic()
    connection = open_stream(url, "/cat_async_limited/50", "first-line")
    response = connection.getresponse()
    first = json.loads(response.readline())
    first_at = time.monotonic() - started
    lines = [json.loads(line) for line in response]
    ended_at = time.monotonic() - started
    connection.close()
    assert "fact" in first
    assert lines[-1]["summary"]["returned"] == 50
    assert ended_at > 2.0  # 50 facts at 20/second: at least two windows
    assert first_at < ended_at / 10


def test_a_caller_who_goes_away_after_5_of_100_facts_leaves_only_those_in_flight(
    running_service: StartService, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="10/second", latency=0.05)
    url, _ = running_service(CATFACTS_RATE_LIMIT="10/second")
    connection = open_stream(url, "/cat_async_limited/100", "goes-away")
    response = connection.getresponse()
    facts = 0
    while facts < 5:
        facts += "fact" in json.loads(response.readline())
    response.close()
    connection.close()
    assert_only_the_first_window_was_spent(emulator, "goes-away", closed_at=time.monotonic())


def test_sigterm_mid_stream_ends_it_with_an_error_line_not_a_reset(
    running_service: StartService, emulator: EmulatorProcess
) -> None:
    url, service = running_service(CATFACTS_SHUTDOWN_GRACE="1")
    connection = open_stream(url, "/cat_async_limited/1000", "drained")
    response = connection.getresponse()
    assert "fact" in json.loads(response.readline())
    wait_until(lambda: emulator.control.stats()["total"] >= 30)
    service.process.terminate()
    lines = [json.loads(line) for line in response]  # reads to the end of the chunked body
    connection.close()
    assert service.wait() == 0
    last = lines[-1]
    assert last["status"] == 503
    assert "shutting down" in last["error"]
    facts = 1 + sum("fact" in line for line in lines)
    assert last["fetched"] == facts < 1000
    assert "facts" not in last  # they came on their own lines
