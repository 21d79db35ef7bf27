"""Timelines: every call records its upstream requests and waits; `?trace=1` returns them."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from flask.testing import FlaskClient

from catfacts.emulator.process import EmulatorProcess
from catfacts.observe.timeline import Timeline

ROUTES = {"one_by_one": "/cat", "all_at_once": "/cat_async", "limited": "/cat_async_limited"}


def traced(client: FlaskClient, path: str, request_id: str = "traced") -> tuple[int, Any]:
    response = client.get(f"{path}?trace=1", headers={"X-Request-ID": request_id})
    return response.status_code, response.json


@pytest.mark.parametrize("strategy", ROUTES)
def test_a_traced_call_has_each_request_queued_sent_and_answered_in_order(
    client: FlaskClient, emulator: EmulatorProcess, strategy: str
) -> None:
    status, body = traced(client, f"{ROUTES[strategy]}/12")
    assert status == 200
    assert len(body["facts"]) == 12
    trace = body["trace"]
    assert (trace["strategy"], trace["requested"], trace["request_id"]) == (strategy, 12, "traced")
    requests = trace["requests"]
    assert sorted(request["fact"] for request in requests) == list(range(1, 13))
    for request in requests:
        assert 0 <= request["queued_ms"] <= request["sent_ms"] <= request["answered_ms"]
        assert request["answered_ms"] <= trace["total_ms"]
        assert (request["status"], request["outcome"], request["attempt"]) == (200, "ok", 1)
    assert emulator.control.stats()["by_request_id"]["traced"] == {"200": 12}


def test_the_ideal_is_the_limits_windows_plus_one_round_trip(client: FlaskClient) -> None:
    _, body = traced(client, "/cat_async_limited/45")
    trace = body["trace"]
    assert trace["limit"] == {"requests": 20, "window_s": 1.0}
    windows = math.ceil(45 / 20) - 1
    assert trace["ideal_ms"] == pytest.approx(windows * 1000 + trace["round_trip_ms"], abs=0.02)
    assert trace["total_ms"] >= windows * 1000


def test_one_by_one_queues_every_fact_at_the_start_and_sends_each_after_the_last_answer(
    client: FlaskClient,
) -> None:
    _, body = traced(client, "/cat/5")
    requests = body["trace"]["requests"]
    assert {request["queued_ms"] for request in requests} == {0.0}
    for before, after in itertools.pairwise(requests):
        assert before["answered_ms"] <= after["sent_ms"]


def test_all_at_once_past_the_limit_shows_each_429_as_refused(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    status, body = traced(client, "/cat_async/30")
    assert status == 200
    trace = body["trace"]
    refused = [r for r in trace["requests"] if r["outcome"] == "refused"]
    assert all(request["status"] == 429 for request in refused)
    assert len(refused) == emulator.control.stats()["statuses"]["429"] == 10
    assert trace["outcomes"] == {
        "ok": 20,
        "refused": 10,
        "error": 0,
        "cancelled": 0,
        "in_flight": 0,
    }
    assert len(body["facts"]) == 20


def test_limited_shows_a_retried_request_and_its_next_attempt(
    client: FlaskClient, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(plan=["ok", "error", "ok"])
    status, body = traced(client, "/cat_async_limited/3")
    assert status == 200
    requests = body["trace"]["requests"]
    failed = next(r for r in requests if r["outcome"] == "error")
    assert (failed["status"], failed["retried"], failed["attempt"]) == (500, True, 1)
    again = next(r for r in requests if r["fact"] == failed["fact"] and r["attempt"] == 2)
    assert again["outcome"] == "ok"
    assert again["queued_ms"] >= failed["answered_ms"]


def test_limited_shows_the_limiters_waits(client: FlaskClient) -> None:
    _, body = traced(client, "/cat_async_limited/25")
    trace = body["trace"]
    waits = trace["waits"]
    assert any("window" in wait["reason"] for wait in waits)
    longest = max(wait["end_ms"] - wait["start_ms"] for wait in waits)
    assert longest > 500  # the 21st request waits for the next 1 s window
    for wait in waits:
        assert 0 <= wait["start_ms"] <= wait["end_ms"] <= trace["total_ms"]


def test_an_error_carries_the_trace_too(client: FlaskClient, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["ok", "error"])
    status, body = traced(client, "/cat/4")
    assert status == 502
    assert body["error"] == "the upstream answered 500"
    assert [r["status"] for r in body["trace"]["requests"]] == [200, 500]


def test_without_trace_the_answer_is_the_plain_array(client: FlaskClient) -> None:
    for query in ("", "?trace=0", "?trace=false"):
        response = client.get(f"/cat_async/2{query}")
        assert isinstance(response.json, list)


def test_a_bad_trace_value_is_a_400(client: FlaskClient) -> None:
    response = client.get("/cat/2?trace=maybe")
    assert response.status_code == 400
    assert response.json is not None
    assert "trace must be 1 or 0" in response.json["error"]


def test_a_wait_that_goes_on_for_the_same_reason_is_one_wait() -> None:
    timeline = Timeline("limited", 40, "waits", (20, 1.0))
    heard: list[tuple[float, float, str]] = []
    timeline.wait_listener = lambda start, end, reason: heard.append((start, end, reason))
    start = timeline.start
    timeline.waited(start + 0.010, start + 0.040, "credit")
    timeline.waited(start + 0.040, start + 0.060, "credit")  # woken by an answer, waits again
    timeline.waited(start + 0.060, start + 1.000, "window")
    timeline.waited(start + 1.500, start + 1.600, "window")  # later: another wait
    waits = [(w["start_ms"], w["end_ms"], w["reason"]) for w in timeline.to_json()["waits"]]
    assert waits == [(10.0, 60.0, "credit"), (60.0, 1000.0, "window"), (1500.0, 1600.0, "window")]
    assert heard[1] == (start + 0.010, start + 0.060, "credit")  # the longer wait, told again
