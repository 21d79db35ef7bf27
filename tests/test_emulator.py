"""The emulator's /fact, its routing errors and its rate limit, over real sockets."""

from __future__ import annotations

import time

import pytest

from catfacts.emulator.facts import FACTS
from catfacts.emulator.process import (
    EmulatorProcess,
)
from tests.support import Api

ROOMY = "1000/second"  # for tests that make more requests than the default limit allows


# --- GET /fact -------------------------------------------------------------------------------


def test_the_facts_are_many_distinct_and_of_varied_length() -> None:
    assert len(FACTS) >= 160
    assert len(set(FACTS)) == len(FACTS)
    assert min(map(len, FACTS)) <= 30
    assert 200 <= max(map(len, FACTS)) <= 250


def test_a_fact_comes_with_its_length(api: Api) -> None:
    body = api.get_json("/fact")
    assert set(body) == {"fact", "length"}
    assert body["fact"] in FACTS
    assert body["length"] == len(body["fact"])


def test_max_length_only_picks_facts_that_short(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit=ROOMY)
    lengths = [api.get_json("/fact?max_length=60")["length"] for _ in range(30)]
    assert max(lengths) <= 60


def test_a_max_length_equal_to_the_shortest_fact_picks_it(api: Api) -> None:
    shortest = min(FACTS, key=len)
    assert api.get_json(f"/fact?max_length={len(shortest)}")["fact"] == shortest


@pytest.mark.parametrize("max_length", [str(min(map(len, FACTS)) - 1), "0", "-5", "abc", "1.5"])
def test_when_no_fact_is_short_enough_it_is_a_404(api: Api, max_length: str) -> None:
    response = api.get(f"/fact?max_length={max_length}")
    assert response.status == 404
    assert response.json() == {"message": "Fact not found"}
    assert response.headers["X-RateLimit-Limit"] == "20"


# --- Routing errors --------------------------------------------------------------------------


def test_an_unknown_path_is_a_json_404_and_not_counted(api: Api, emulator: EmulatorProcess) -> None:
    response = api.get("/nothing/here")
    assert response.status == 404
    assert response.json() == {"message": "Not Found"}
    assert "X-RateLimit-Limit" not in response.headers
    assert emulator.control.stats()["total"] == 0


def test_a_wrong_method_is_a_json_405(api: Api) -> None:
    response = api.request("POST", "/fact")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json() == {
        "message": "The POST method is not supported for route fact. Supported methods: GET, HEAD."
    }


# --- Rate limit ------------------------------------------------------------------------------


def test_the_fixed_window_over_real_sockets(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="5/second")
    first = api.get("/fact")
    window_ends_by = time.monotonic() + 1.0  # the window opened before `first` came back
    rest = [api.get("/fact") for _ in range(6)]
    passed, rejected = [first, *rest[:4]], rest[4:]
    assert [r.status for r in passed] == [200] * 5
    assert [r.headers["X-RateLimit-Remaining"] for r in passed] == ["4", "3", "2", "1", "0"]
    for response in rejected:
        assert response.status == 429
        assert response.json() == {"message": "Too Many Attempts."}
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert response.headers["Retry-After"] == "0"  # under a second left, rounded down
        assert abs(int(response.headers["X-RateLimit-Reset"]) - time.time()) <= 1  # second + 0
    time.sleep(max(0.0, window_ends_by - time.monotonic()))  # the window's own length
    after = api.get("/fact")
    assert after.status == 200
    assert after.headers["X-RateLimit-Remaining"] == "4"  # the rejected hits were not counted


def test_the_limit_applies_before_faults_and_rejections_keep_the_plan(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="1/minute", plan=["error", "ok"])
    failed = api.get("/fact")
    assert failed.status == 500
    assert failed.headers["X-RateLimit-Remaining"] == "0"  # the failed request counted
    assert api.get("/fact").status == 429
    assert emulator.control.config()["plan"] == ["ok"]


def test_facts_is_rate_limited_too(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="1/minute")
    assert api.get("/facts").status == 200
    assert api.get("/fact").status == 429


def test_a_new_rate_limit_starts_every_client_afresh(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="1/minute")
    api.get("/fact")
    assert api.get("/fact").status == 429
    emulator.control.configure(rate_limit="1/minute")
    assert api.get("/fact").status == 200
