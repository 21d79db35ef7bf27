"""The emulator's latency, faults, counters and admin API, over real sockets."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from catfacts.emulator import EmulatorConfig
from catfacts.emulator.facts import FACTS
from catfacts.emulator.faults import FaultInjector
from catfacts.emulator.process import (
    EmulatorControlError,
    EmulatorProcess,
    max_in_any_window,
)
from catfacts.errors import ConfigError
from tests.support import Api, wait_until

ROOMY = "1000/second"  # for tests that make more requests than the default limit allows


# --- Latency and faults ----------------------------------------------------------------------


def test_latency_delays_every_answer(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(latency=0.2)
    started = time.monotonic()
    assert api.get("/fact").status == 200
    assert time.monotonic() - started >= 0.2


def test_jitter_varies_the_wait_around_the_latency_and_never_below_zero() -> None:
    jittery = FaultInjector(EmulatorConfig(latency=0.1, jitter=0.05, seed=1))
    delays = [jittery.for_fact().delay for _ in range(500)]
    assert 0.05 <= min(delays) < 0.06
    assert 0.14 < max(delays) <= 0.15
    floored = FaultInjector(EmulatorConfig(latency=0.01, jitter=0.05, seed=1))
    assert min(floored.for_fact().delay for _ in range(500)) == 0.0


def test_the_plan_decides_each_fate_in_turn(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["error", "malformed", "missing_fact", "ok"])
    error, malformed, missing, ok = (api.get("/fact") for _ in range(4))
    assert (error.status, error.json()) == (500, {"message": "Server Error"})
    assert "X-RateLimit-Remaining" in error.headers
    assert malformed.status == 200
    with pytest.raises(ValueError):
        json.loads(malformed.data)
    assert missing.status == 200
    assert "fact" not in missing.json()
    assert ok.status == 200
    assert ok.json()["fact"] in FACTS
    assert emulator.control.config()["plan"] == []


def test_a_slow_fate_waits_then_answers_normally(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(plan=["slow"], slow_seconds=0.3)
    started = time.monotonic()
    response = api.get("/fact")
    assert time.monotonic() - started >= 0.3
    assert response.status == 200
    assert response.json()["fact"] in FACTS


def test_rate_based_faults_repeat_with_the_same_seed(api: Api, emulator: EmulatorProcess) -> None:
    def outcomes() -> list[tuple[int, str]]:
        emulator.control.configure(seed=42)
        responses = [api.get("/fact") for _ in range(30)]
        return [(response.status, response.headers["Content-Type"]) for response in responses]

    emulator.control.configure(rate_limit=ROOMY, error_rate=0.3, malformed_rate=0.2)
    first = outcomes()
    assert first == outcomes()
    assert {status for status, _ in first} == {200, 500}
    assert any(content_type.startswith("text/html") for _, content_type in first)


# --- Tagging, counting and arrivals ----------------------------------------------------------


def test_tagged_facts_tell_each_callers_answers_apart(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(tag_facts=True)
    callers = ["a", "b", "a", None, "b", "a"]
    bodies = [api.get_json("/fact", request_id=caller) for caller in callers]
    tags = [body["fact"].rsplit(" [", 1)[1] for body in bodies]
    assert tags == ["a #1]", "b #1]", "a #2]", "- #1]", "b #2]", "a #3]"]
    assert all(body["length"] == len(body["fact"]) for body in bodies)


def test_stats_count_answers_by_status_client_request_id_and_path(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="3/minute")
    for caller in ["x", "y", None, "x"]:
        api.get("/fact", request_id=caller)
    api.get("/facts")
    assert emulator.control.stats() == {
        "statuses": {"200": 3, "429": 2},
        "by_client": {"127.0.0.1": {"200": 3, "429": 2}},
        "by_request_id": {"x": {"200": 1, "429": 1}, "y": {"200": 1}},
        "by_path": {"/fact": {"200": 3, "429": 1}, "/facts": {"429": 1}},
        "total": 5,
    }


def test_arrivals_are_in_order_with_their_statuses(api: Api, emulator: EmulatorProcess) -> None:
    emulator.control.configure(rate_limit="3 per 10 seconds")
    before = time.monotonic()
    for _ in range(5):
        api.get("/fact")
    arrivals = emulator.control.arrivals()
    times = [t for t, _ in arrivals]
    assert [status for _, status in arrivals] == [200, 200, 200, 429, 429]
    assert times == sorted(times)
    assert before <= times[0] <= time.monotonic()  # one monotonic clock for the whole machine
    assert max_in_any_window(arrivals, 10.0, statuses={200}) == 3
    assert max_in_any_window(arrivals, 10.0) == 5
    raw = api.get_json("/__emulator__/arrivals")
    assert (raw["window"], raw["limit"], raw["policies"]) == (10.0, 3, [[3, 10.0]])


def test_arrivals_name_every_rate_and_the_first_one_as_before(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="2/second;1000/hour")
    assert emulator.control.rate_policies() == [(2, 1.0), (1000, 3600.0)]
    raw = api.get_json("/__emulator__/arrivals")
    assert (raw["window"], raw["limit"]) == (1.0, 2)
    assert raw["policies"] == [[2, 1.0], [1000, 3600.0]]


def test_max_in_any_window_uses_half_open_intervals() -> None:
    arrivals = [(0.0, 200), (1.0, 200), (1.5, 429), (2.0, 200), (2.5, 200)]
    assert max_in_any_window(arrivals, 1.0) == 2
    assert max_in_any_window(arrivals, 1.0, statuses={200}) == 2
    assert max_in_any_window(arrivals, 1.5, statuses={200}) == 2
    assert max_in_any_window(arrivals, 1.51) == 4
    assert max_in_any_window(arrivals, 100.0, statuses={429}) == 1
    assert max_in_any_window([], 1.0) == 0


def test_reset_clears_counts_arrivals_and_windows_but_not_settings(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(rate_limit="1/minute", latency=0.01)
    api.get("/fact")
    assert api.get("/fact").status == 429
    emulator.control.reset()
    assert emulator.control.stats()["total"] == 0
    assert emulator.control.arrivals() == []
    assert api.get("/fact").status == 200
    assert emulator.control.config()["latency"] == 0.01


def test_an_answer_still_owed_at_a_reset_is_not_counted_after_it(
    api: Api, emulator: EmulatorProcess
) -> None:
    emulator.control.configure(slow_rate=1.0, slow_seconds=0.5)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(api.get, "/fact", request_id="before-reset")
        wait_until(lambda: len(emulator.control.arrivals()) == 1)
        emulator.control.reset()
        assert slow.result().status == 200
    assert emulator.control.stats()["total"] == 0


# --- Admin configuration ---------------------------------------------------------------------


def test_put_config_returns_every_setting(emulator: EmulatorProcess) -> None:
    config = emulator.control.configure(latency=0.5, plan=["slow"], seed=3)
    assert config == {
        **EmulatorConfig(rate_limit="20/second").to_json(),
        "latency": 0.5,
        "plan": ["slow"],
        "seed": 3,
    }
    assert (config["burst"], config["redirect"]) == (0, None)
    assert emulator.control.config() == config


def test_the_new_settings_are_shown_as_set(emulator: EmulatorProcess) -> None:
    config = emulator.control.configure(
        rate_limit="20/second;1000/hour", dialect="proxy", burst=4, redirect="permanent"
    )
    assert {name: config[name] for name in ("rate_limit", "dialect", "burst", "redirect")} == {
        "rate_limit": "20/second;1000/hour",
        "dialect": "proxy",
        "burst": 4,
        "redirect": "permanent",
    }


def test_a_config_built_in_python_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="burst must be an integer >= 0"):
        EmulatorConfig(burst=-1)
    with pytest.raises(ConfigError, match="bad rate limit"):
        EmulatorConfig(rate_limit="20/second;0/hour")
    assert EmulatorConfig(rate_limit="20/second;1000/hour", burst=3).burst == 3


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"rate_limit": "lots"}, "bad rate limit"),
        ({"rate_limit": 5}, "rate_limit must be a string"),
        ({"rate_limit": "20/second;lots"}, "bad rate limit"),
        ({"burst": -1}, "burst must be an integer >= 0"),
        ({"burst": 1.5}, "burst must be an integer >= 0"),
        ({"burst": True}, "burst must be an integer >= 0"),
        ({"redirect": "always"}, "redirect must be null or one of temporary, permanent"),
        ({"redirect": 307}, "redirect must be null or one of temporary, permanent"),
        ({"dialect": "nginx"}, "dialect must be one of laravel, github, ietf, none, proxy"),
        ({"latency": -1}, "latency must be a number of seconds >= 0"),
        ({"jitter": "0.1"}, "jitter must be a number"),
        ({"error_rate": 1.5}, "error_rate must be a probability"),
        ({"error_rate": 0.6, "slow_rate": 0.6}, "fault rates add up to 1.2"),
        ({"plan": ["ok", "explode"]}, "plan must be a list of fates"),
        ({"plan": "ok"}, "plan must be a list of fates"),
        ({"seed": 1.5}, "seed must be an integer or null"),
        ({"tag_facts": "yes"}, "tag_facts must be true or false"),
        ({"colour": "tabby"}, "unknown setting(s): colour"),
    ],
)
def test_a_bad_setting_is_a_400_and_changes_nothing(
    emulator: EmulatorProcess, changes: dict[str, object], complaint: str
) -> None:
    with pytest.raises(EmulatorControlError) as refused:
        emulator.control.configure(slow_seconds=5, **changes)  # a good change among bad ones
    assert refused.value.status == 400
    assert complaint in refused.value.message
    assert emulator.control.config()["slow_seconds"] == 30


@pytest.mark.parametrize("body", ["not json", "[1, 2]", ""])
def test_a_config_body_that_is_not_a_json_object_is_a_400(api: Api, body: str) -> None:
    response = api.request("PUT", "/__emulator__/config", body=body)
    assert response.status == 400
    assert "JSON object" in response.json()["message"]
